"""SmolLM2 through Societas against llama.cpp alone: what the project's path costs.

A small Donor Game runs with `local/smollm2` brains at temperature 0, so decoding is greedy and a
prompt always gets the same reply. Every model call it made (decisions and repairs, in the order
the server answered them) is then replayed straight into llama-cpp-python in this process: the
same messages, response format, token limit and thread count, with no server, litellm, gateway,
parsing, simulation or store. Both paths write the same tokens, so the ratio of their decisions
per second is the project's overhead and nothing else. The raw generation rate (tokens/s with a
short prompt, no grammar) is printed too, as the machine's yardstick.

`--in-process` runs the model inside this process behind litellm's custom-provider interface
instead of the server: the alternative weighed in docs/design.md ("Local models").

The last line is SmolLM2's decisions per second through Societas and its ratio to llama.cpp.

    python benchmarks/local_llm.py [--agents 4] [--generations 2] [--rounds 2] [--in-process]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import sim.llm.local_model as local_model
from sim.config import load_config
from sim.llm.client import LLMClient, _load_litellm
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario

MODEL = "local/smollm2"
RAW_TOKENS = 128
#: llama-cpp-python's server samples with this by default; its Python API with 1.0.
SERVER_REPEAT_PENALTY = 1.1


def load_llama(spec: local_model.LocalModel, threads: int) -> Any:
    """llama-cpp-python's model object, built as the server builds it."""
    from llama_cpp import Llama

    return Llama(
        model_path=str(local_model.weights_path(spec)),
        n_ctx=spec.n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        seed=0,
        verbose=False,
    )


def in_process_endpoint(llama: Any) -> local_model.Endpoint:
    """An endpoint served by `llama` in this process through litellm's custom providers."""
    litellm = _load_litellm()

    class InProcess(litellm.CustomLLM):
        async def acompletion(self, model, messages, api_base, custom_prompt_dict,
                              model_response, print_verbose, encoding, api_key, logging_obj,
                              optional_params, *args: Any, **kwargs: Any) -> Any:
            keys = ("temperature", "max_tokens", "response_format")
            params = {key: optional_params[key] for key in keys if key in optional_params}
            params["repeat_penalty"] = SERVER_REPEAT_PENALTY  # sample as the server does
            reply = await asyncio.to_thread(
                llama.create_chat_completion, messages=messages, **params
            )
            return litellm.ModelResponse(**reply)

    handler = {"provider": "societas-inprocess", "custom_handler": InProcess()}
    litellm.custom_provider_map = [handler]
    return local_model.Endpoint(
        model="societas-inprocess/smollm2",
        api_base=None,
        api_key="unused",
        max_concurrency=1,
        adapt_response_format=local_model.for_llama_cpp,
    )


def record_calls(calls: list[tuple[list[dict], dict | None, str | None]]) -> None:
    """Make every `LLMClient.complete` append (messages, response format, reply) once done."""
    original = LLMClient.complete

    async def recording(self: LLMClient, messages: list[dict], *,
                        response_format: dict | None = None) -> Any:
        completion = await original(self, messages, response_format=response_format)
        calls.append((messages, response_format, completion.text))
        return completion

    LLMClient.complete = recording  # type: ignore[method-assign]


def raw_rates(llama: Any) -> tuple[float, float]:
    """llama.cpp's own speed here: tokens per second reading a 400-token prompt, and writing
    RAW_TOKENS after a one-line prompt without a grammar."""
    tokens = llama.tokenize(b" cooperation among strangers" * 100)[:400]
    llama.reset()
    started = time.perf_counter()
    llama.eval(tokens)
    reading = len(tokens) / (time.perf_counter() - started)
    llama.reset()
    started = time.perf_counter()
    out = llama.create_completion("Once upon a time", max_tokens=RAW_TOKENS, temperature=0.0)
    writing = out["usage"]["completion_tokens"] / (time.perf_counter() - started)
    return reading, writing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--in-process", action="store_true",
                        help="model inside this process behind litellm, not a server")
    args = parser.parse_args()

    spec = local_model.lookup(MODEL)
    threads = local_model.default_threads()
    scenario = get_scenario("donor-game")
    config = load_config(scenario.config_type, values={
        "model": MODEL, "temperature": 0.0, "agents": args.agents,
        "generations": args.generations, "rounds": args.rounds, "games": 1, "seed": args.seed,
        "reasoning_format": "json",  # SmolLM2 needs a schema (docs/local_llm.md)
    })
    _load_litellm()  # its ~3 s import is paid once per process, not per decision

    started = time.perf_counter()
    if args.in_process:
        llama = load_llama(spec, threads)
        endpoint = in_process_endpoint(llama)
        local_model.open_endpoint = lambda model: endpoint  # what LLMClient will be given
        how = "in-process (litellm custom provider)"
    else:
        endpoint = local_model.open_endpoint(MODEL)  # the run shares this server
        how = "llama.cpp server subprocess"
    startup = time.perf_counter() - started

    calls: list[tuple[list[dict], dict | None, str | None]] = []
    record_calls(calls)
    with tempfile.TemporaryDirectory() as tmp:
        options = RunOptions(use_cache=False, progress=False, figures=False)  # ask the model
        result = run_scenario(scenario, config, run_dir=Path(tmp) / "run", options=options)
    endpoint.close()
    stats = result.stats
    decisions = sum(stats.decisions.values())
    project_rate = decisions / result.wall_s

    if not args.in_process:
        llama = load_llama(spec, threads)  # after the server stopped: no competition for cores
    llama.reset()
    raw_seconds, raw_tokens, same = 0.0, 0, 0
    for messages, response_format, reply in calls:
        begun = time.perf_counter()
        out = llama.create_chat_completion(
            messages=messages, temperature=0.0, max_tokens=config.max_tokens,
            response_format=local_model.for_llama_cpp(response_format),
            repeat_penalty=SERVER_REPEAT_PENALTY,
        )
        raw_seconds += time.perf_counter() - begun
        raw_tokens += out["usage"]["completion_tokens"]
        same += out["choices"][0]["message"]["content"] == reply
    raw_rate = decisions / raw_seconds
    reading, generation = raw_rates(llama)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{MODEL} via {how}; {threads} threads; load average {load:.1f}")
    print(f"startup: {startup:.2f} s")
    print(f"project: {decisions} decisions ({dict(sorted(stats.decisions.items()))}), "
          f"{stats.calls} calls, {stats.prompt_tokens} prompt + {stats.completion_tokens} "
          f"completion tokens in {result.wall_s:.1f} s")
    print(f"llama.cpp alone, same {len(calls)} calls: {raw_seconds:.1f} s, {raw_tokens} "
          f"completion tokens, replies identical to the run's: {same}/{len(calls)}")
    print(f"llama.cpp raw rates: prompt reading {reading:.0f} tok/s, "
          f"generation {generation:.0f} tok/s")
    print(f"SmolLM2 through Societas: {project_rate:.3f} decisions/s = "
          f"{project_rate / raw_rate:.2f} x llama.cpp alone ({raw_rate:.3f} decisions/s, "
          f"raw generation {generation:.0f} tok/s)")


if __name__ == "__main__":
    main()
