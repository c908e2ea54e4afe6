"""Whether litellm can route a model string at all, and whether the key a config names is
set: both asked before anything is written.

A model string without a provider litellm knows (`--model nope`, `--model claude-3-5-sonnet`
without `anthropic/`) fails on the run's first call with "LLM Provider NOT provided", by which
time the run directory exists and holds a failed run. litellm can answer the question without
sending anything (`get_llm_provider` reads only the string), so the runner and the sweep ask it
first. It costs litellm's import, which a run with a model pays anyway.
"""

from __future__ import annotations

import sim._offline  # noqa: F401  (litellm's offline environment; cheap, unlike litellm)
from sim.errors import UserError

__all__ = ["check_key_set", "check_model_routable"]

#: Models served by Societas itself (`sim.llm.local_model`), which litellm never sees as such.
_OWN_PREFIXES = ("local/",)


def check_model_routable(model: str, api_base: str | None = None) -> None:
    """Refuse (UserError) a model string litellm cannot route to any provider."""
    provider, slash, name = model.partition("/")
    if slash and not name.strip():  # litellm routes "openai/" and fails at the first call
        raise UserError(f"model {model!r} names a provider but no model after the '/'; write "
                        f"it as {provider}/MODEL, e.g. openai/gpt-4o-mini")
    if model.startswith(_OWN_PREFIXES):
        return
    import litellm

    litellm.suppress_debug_info = True  # its "Provider List" banner goes to stdout
    try:
        litellm.get_llm_provider(model=model, api_base=api_base)
    except Exception:  # litellm raises its BadRequestError; any failure means "cannot route"
        raise UserError(
            f"model {model!r} names no provider litellm knows; write it as PROVIDER/MODEL, "
            "e.g. openai/gpt-4o-mini, anthropic/claude-3-5-sonnet-20241022, ollama/llama3.1, "
            "or openai/NAME with api_base for any OpenAI-compatible server "
            "(https://docs.litellm.ai/docs/providers)"
        ) from None


def check_key_set(api_key_env: str | None) -> None:
    """Refuse (UserError) a config whose `api_key_env` names a variable this environment lacks.

    The first call would fail for want of it, by which time the run directory exists (and a
    resume would fail the same way): the variable's absence is known without asking anyone."""
    import os

    if api_key_env is not None and not os.environ.get(api_key_env):
        raise UserError(f"api_key_env names {api_key_env}, which is not set here; set it "
                        f"(export {api_key_env}=...) and run the same command again")
