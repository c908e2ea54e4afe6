"""Test doubles for the LLM path: a scripted OpenAI-compatible model server on loopback.

Tests, benchmarks and dry runs exercise the real path (litellm, HTTP, retries, parsing) against
`ScriptedLLMServer`, whose replies, latency and faults are scripted. `python -m sim.testing`
runs it by hand (see `--help`), e.g. to point `societas run --api-base` at it.
"""

from sim.testing.scripted_server import (
    ChatRequest,
    Fault,
    Reply,
    Responder,
    ScriptedLLMServer,
    failing_long_prompts,
    failing_structured_output,
)

__all__ = ["ChatRequest", "Fault", "Reply", "Responder", "ScriptedLLMServer",
           "failing_long_prompts", "failing_structured_output"]
