"""A scripted Donor Game player for `sim.scripted_llm.ScriptedLLMServer`.

It answers the scenario's prompts the way real models do — JSON, fenced JSON, chain of thought
ending in an answer, bare numbers — chosen by a hash of the prompt, so the same prompt always
gets the same reply whatever order requests arrive in. Tests and benchmarks use it to drive the
whole LLM path (HTTP, litellm, parsing, logging) offline and deterministically.
"""

from __future__ import annotations

import hashlib
import json

from sim.scripted_llm import ChatRequest

STRATEGY_MARKER = 'one key, "strategy"'


def prompt_digest(request: ChatRequest) -> int:
    """A stable integer from the request's messages (not its arrival order)."""
    text = json.dumps(request.messages, sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def is_strategy_request(request: ChatRequest) -> bool:
    return STRATEGY_MARKER in request.messages[-1]["content"]


def scripted_player(request: ChatRequest) -> str:
    """Reply to a Donor Game prompt in one of several realistic formats."""
    digest = prompt_digest(request)
    if is_strategy_request(request):
        share = 20 + digest % 60
        return json.dumps({
            "strategy": f"I give about {share}% to players whose trace shows generosity, "
            "and little to those who gave nothing."
        })
    percent = digest % 101
    style = (digest >> 8) % 4
    if style == 0:
        return json.dumps({"reasoning": "They gave before; I reciprocate.", "percent": percent})
    if style == 1:
        return f'```json\n{{"reasoning": "Cautious.", "percent": {percent}}}\n```'
    if style == 2:
        return f"Thinking about their record, generosity pays off.\nAnswer: {percent}%"
    return str(percent)
