"""A scripted Donor Game player for `sim.testing.scripted_server.ScriptedLLMServer`.

It answers the scenario's prompts the way real models do — JSON, fenced JSON, chain of thought
ending in an answer, bare numbers; for prompts that ask for reasoning in prose and a final
"Answer:" line (`reasoning_format = "text"`), several lines of reasoning and then that line in a
few shapes, or JSON regardless — chosen by a hash of the prompt, so the same prompt always gets
the same reply whatever order requests arrive in. Tests and benchmarks use it to drive the whole
LLM path (HTTP, litellm, parsing, logging) offline and deterministically.
"""

from __future__ import annotations

import hashlib
import json
import re

from sim.testing.scripted_server import ChatRequest

DONOR_MARKER = "you are the donor"
#: What a prompt asking for a prose answer ends with (`answers.answer_line`).
TEXT_ANSWER_MARKER = '"Answer: '
#: Instructions only strategy prompts carry, in prose and JSON formats alike.
_STRATEGY_WORDS = ('"strategy"', "My strategy will be", "Describe your strategy")
_HELD_RE = re.compile(r"You currently have (\d+(?:\.\d+)?) units")


def prompt_digest(request: ChatRequest) -> int:
    """A stable integer from the request's messages (not its arrival order)."""
    text = json.dumps(request.messages, sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def is_donation_request(request: ChatRequest) -> bool:
    return DONOR_MARKER in request.messages[-1]["content"]


def is_strategy_request(request: ChatRequest) -> bool:
    content = request.messages[-1]["content"]
    return DONOR_MARKER not in content and any(word in content for word in _STRATEGY_WORDS)


def scripted_player(request: ChatRequest) -> str:
    """Reply to a Donor Game prompt in one of several realistic formats.

    Strategy prompts get a strategy (with step-by-step reasoning when the prompt asks for it);
    donation prompts get an amount in the unit the prompt asks for (units up to the donor's
    resources, or a percentage).
    """
    digest = prompt_digest(request)
    content = request.messages[-1]["content"]
    if is_strategy_request(request):
        share = 20 + digest % 60
        strategy = (f"I give about {share}% to players whose trace shows generosity, and "
                    "little to those who gave nothing.")
        if '"reasoning"' in content:
            return json.dumps({
                "reasoning": "Gifts are doubled, so helping helpers pays; defectors must not "
                "profit.",
                "strategy": f"My strategy will be: {strategy}",
            })
        if '"strategy"' in content:
            return json.dumps({"strategy": strategy})
        if "My strategy will be" in content:
            return ("Step 1: gifts are doubled, so helping helpers pays.\n"
                    "Step 2: defectors must not profit from it.\n\n"
                    f"My strategy will be: {strategy}")
        return strategy
    if TEXT_ANSWER_MARKER in content:
        return _prose_donation(content, digest)
    percent = digest % 101
    key, value = "percent", f"{percent}"
    held = _HELD_RE.search(content)
    if '"units"' in content and held is not None:
        key, value = "units", f"{percent * float(held.group(1)) / 100:.2f}"
    style = (digest >> 8) % 4
    if style == 0:
        return f'{{"reasoning": "They gave before; I reciprocate.", "{key}": {value}}}'
    if style == 1:
        return f'```json\n{{"reasoning": "Cautious.", "{key}": {value}}}\n```'
    if style == 2:
        unit = "%" if key == "percent" else ""
        return f"Thinking about their record, generosity pays off.\nAnswer: {value}{unit}"
    return value


def _prose_donation(content: str, digest: int) -> str:
    """Reasoning in prose and a final answer line, in the shapes models write it."""
    share = digest % 101
    held = _HELD_RE.search(content)
    if "whole number from 0 to 100" in content or held is None:
        value = f"{share}"
    else:
        value = f"{share * float(held.group(1)) / 100:.2f}"
    verb = "donate " if '"Answer: donate' in content else ""
    style = (digest >> 8) % 4
    if style == 0:
        return ("Justification:\nTheir record shows what they gave last time.\n"
                f"My strategy says to answer generosity in kind.\n\nAnswer: {verb}{value}")
    if style == 1:
        return f"Thinking it through, giving {share}% fits my plan.\n**Answer:** {verb}{value}"
    if style == 2:
        return f"They gave before, so I reciprocate.\nFinal answer:\n{verb}{value}"
    key = "percent" if "whole number from 0 to 100" in content else "units"
    return f'{{"reasoning": "Cautious.", "{key}": {value}}}'  # JSON, the format aside
