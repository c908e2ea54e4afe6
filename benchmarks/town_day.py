"""How much batching saves a generative town: wall time of one simulated day of 25 LLM
residents against the sum of its call latencies made one at a time.

The Generative Agents code makes its calls one after another (13,705 calls, about 13 hours for
25 agents over 10 game hours). Here every resident is a SimPy process and the world hands every
decision pending at one simulated instant to the gateway together, so the calls of residents
who think at the same minute overlap. A loopback scripted server (TCP_NODELAY) answers each call
after a fixed delay; the baseline is what those same calls would take one at a time:
calls x delay. The last line is that baseline / the measured wall time (target: >= 10).
The default delay, 1 s, is a modest hosted-model latency (the paper's run averaged about 3.4 s
a call: 13 hours for 13,705 calls); at shorter delays the client's own work per call, which
batching cannot hide, weighs more (docs/benchmarks.md has both).

The run has no response cache (every call is real; the user's cache gets nothing). A warm-up
run of two residents pays litellm's import and first-call setup, which are once per process.
The residents are generated (a town of 25 with a café, a park and a library) and the scripted
model plans the day on hour and quarter-hour boundaries, as the rule residents do.

    python benchmarks/town_day.py [--residents 25] [--delay 1.0] [--max-concurrency 25]
                                  [--architecture paper|lean]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.testing import ChatRequest, ScriptedLLMServer

PLACES = [("cafe", "cafe", 0, 0), ("park", "park", 6, 0), ("library", "library", 0, 6)]
HOMES = 5


def town_file(path: Path, residents: int) -> Path:
    lines = ['[town]\nid = "bench"\nminutes_per_unit = 1.0\n',
             '[[places]]\nid = "centre"\n']
    for place, kind, x, y in PLACES:
        lines.append(f'[[places]]\nid = "{place}"\nparent = "centre"\nkind = "{kind}"\n'
                     f'x = {x}\ny = {y}\nobjects = ["table", "bench"]\n')
    for h in range(HOMES):
        lines.append(f'[[places]]\nid = "home{h}"\nparent = "centre"\nkind = "home"\n'
                     f'x = {2 + h}\ny = {3 + h % 2}\nobjects = ["bed"]\n')
    for i in range(residents):
        work = PLACES[i % len(PLACES)][0]
        lines.append(f'[[residents]]\nid = "p{i:02d}"\nname = "Person {i}"\n'
                     f'occupation = "worker"\nhome = "home{i % HOMES}"\nwork = "{work}"\n'
                     f'wake = "07:00"\nbedtime = "22:00"\npersona = "Person {i} lives here."\n')
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


_HOME = re.compile(r'your home is "(\w+)"')
_PRESENT = re.compile(r"^- (\w+): ", re.MULTILINE)
_COUNT = re.compile(r"these (\d+) memories")
_WHO = re.compile(r"You are Person (\d+)")


def resident_model(request: ChatRequest) -> str:
    """Wake at 07:00, work 09:00-17:00 at one of three places (a third each), home otherwise;
    quarter-hour actions; talk to whoever is new; three-turn conversations that mention the
    party; a short summary of oneself, of the other person and of each conversation."""
    prompt = request.messages[-1]["content"]
    who = _WHO.search(request.messages[0]["content"])
    place = PLACES[int(who.group(1)) % len(PLACES)][0] if who else "cafe"
    if "as they are this morning" in prompt:
        return json.dumps({"core": "hard-working", "occupation": "works all day",
                           "progress": "content", "currently": "working",
                           "carry_over": "nothing"})
    if "summarise what" in prompt:
        return json.dumps({"summary": "A colleague I see most days."})
    if "sum up the conversation" in prompt:
        return json.dumps({"summary": "We talked about the party.", "importance": 4,
                           "planning_thought": "Maybe go to the party.",
                           "memo": "They know about the party."})
    if "Plan your day in broad strokes" in prompt:
        return json.dumps({"wake": "07:00",
                           "plan": [{"start": "07:00", "end": "09:00", "description": "home"},
                                    {"start": "09:00", "end": "17:00", "description": "work"},
                                    {"start": "17:00", "end": "22:00", "description": "home"}]})
    if "into blocks of about one hour" in prompt:
        home = _HOME.search(prompt).group(1)  # type: ignore[union-attr]
        return json.dumps({"blocks": [
            {"start": "07:00", "end": "09:00", "activity": "home", "place": home},
            {"start": "09:00", "end": "17:00", "activity": "work", "place": place},
            {"start": "17:00", "end": "22:00", "activity": "home", "place": home}]})
    if "Break this into actions" in prompt:
        return json.dumps({"actions": [{"minutes": 15, "description": "working"}] * 4})
    count = _COUNT.search(prompt)
    if count:
        return json.dumps({"ratings": [3] * int(count.group(1))})
    if "Rate it from 1 to 10" in prompt:
        return '{"importance": 4}'
    if "Do you carry on" in prompt:
        free = _PRESENT.findall(prompt.split("free to talk")[1])
        return json.dumps({"action": "talk", "talk_to": free[0]} if free
                          else {"action": "continue"})
    if "Say the next thing" in prompt:
        turns = prompt.split("The conversation so far")[1].count("<agent_text author=")
        return json.dumps({"utterance": "Have you heard about the party?",
                           "end_conversation": turns >= 2})
    if "Will you go?" in prompt:
        return '{"attend": false}'
    if "whether you know of it (true or false)" in prompt:  # the day's end interview
        knows = "party" in prompt.split("What comes to your mind", 1)[1]
        return json.dumps({"answer": "the party" if knows else "no", "knows": knows})
    if "do you know of this person?" in prompt:
        return json.dumps({i: True for i in _PRESENT.findall(prompt)})
    if "insight" in prompt.lower():
        return '{"insights": [{"insight": "Work is busy", "evidence": [1]}]}'
    if "question" in prompt.lower():
        return '{"questions": ["What happened at work?"]}'
    return "{}"


def run(residents: int, delay: float, concurrency: int, tmp: Path, name: str,
        architecture: str = "paper") -> tuple:
    scenario = get_scenario("town")
    with ScriptedLLMServer(resident_model, delay=delay) as server:
        config = load_config(scenario.config_type, values={
            "model": "openai/scripted", "api_base": server.url, "days": 1,
            "town_file": str(town_file(tmp / f"{name}.toml", residents)),
            "max_concurrency": concurrency, "architecture": {"preset": architecture},
            "intentions": [{"agent": "p00", "topic": "party", "kind": "announcement",
                            "description": "is planning a party"}]})
        options = RunOptions(use_cache=False, progress=False, figures=False)
        started = time.perf_counter()
        result = run_scenario(scenario, config, run_dir=tmp / name, options=options)
        wall = time.perf_counter() - started
    assert result.status == "finished", result.status
    assert result.stats.calls > 0 and result.stats.cache_hits == 0, "every call must be real"
    return result, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=25)
    parser.add_argument("--delay", type=float, default=1.0, help="server latency per call (s)")
    parser.add_argument("--max-concurrency", type=int, help="calls in flight (default: one "
                        "per resident)")
    parser.add_argument("--architecture", choices=("paper", "lean"), default="paper",
                        help="the residents' architecture preset (lean: the town before it)")
    args = parser.parse_args()
    concurrency = args.max_concurrency or args.residents
    with tempfile.TemporaryDirectory() as tmp:
        run(2, 0.0, concurrency, Path(tmp), "warm")
        result, wall = run(args.residents, args.delay, concurrency, Path(tmp), "day",
                           args.architecture)
    stats = result.stats
    one_at_a_time = stats.calls * args.delay
    print(f"residents={args.residents} delay={args.delay}s max_concurrency={concurrency} "
          f"architecture={args.architecture} calls={stats.calls} "
          f"({stats.calls / args.residents:.1f} per resident-day; sum of measured latencies "
          f"{stats.call_seconds:.1f} s)")
    print(f"one simulated day: {wall:.1f} s wall; the same calls one at a time: "
          f"{one_at_a_time:.1f} s")
    print(f"town_day_speedup {one_at_a_time / wall:.1f}")


if __name__ == "__main__":
    main()
