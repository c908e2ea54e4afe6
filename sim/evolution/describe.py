"""The turnover of generations in words, for the rules an LLM-brained member is told.

A member's prompt must say truthfully how generations are replaced, whatever scheme the run
uses. `turnover_rule` renders it from the templates in `sim/evolution/prompts/`
(`turnover_<scheme>.txt`; for truncation `turnover_<method>.txt`, and the advice sentence
`advice_*.txt`), which a run's `prompts_dir` overrides like a scenario's own prompts. A scheme
of your own supplies its sentence as `turnover_<name>.txt` in `prompts_dir` or as a
`turnover_text` attribute (a template with the same placeholders).

Placeholders: `$players` (what the scenario calls its members), `$score` (what they are ranked
on), `$chance` (how fitness turns the score into a probability), `$survivor_percent`,
`$tournament_size` and `$advice` (what a newcomer reads before it plays).
"""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path
from typing import Any

from sim.evolution.schemes import REPRODUCTION
from sim.prompting import PromptError, PromptLibrary

#: Schemes after which nobody keeps a place, so newcomers can only read their parents.
_EVERYONE_REPLACED = ("wright_fisher", "tournament")


def turnover_rule(config: Any, *, players: str, score: str, method: str = "top") -> str:
    """One or two sentences saying how a generation is replaced under `config`'s reproduction
    scheme, fitness and advice: e.g. `players="players", score="total payoffs"`."""
    prompts = PromptLibrary("sim.evolution", config.prompts_dir)
    name = config.reproduction
    template = f"turnover_{method if name == 'truncation' else name}.txt"
    if config.advice == "survivors" and name not in _EVERYONE_REPLACED:
        advice = prompts.render("advice_survivors.txt")
    elif config.llm_parents == 1:
        advice = prompts.render("advice_parent.txt")
    else:
        advice = prompts.render("advice_parents.txt", parents=config.llm_parents)
    chance = {"payoff": f"proportional to their {score}",
              "exponential": f"that grows exponentially with their {score}"}.get(
                  config.fitness, f"that depends on their {score}")
    values = {"players": players, "score": score, "chance": chance, "advice": advice,
              "survivor_percent": f"{100 * config.survivors / config.agents:g}",
              "tournament_size": config.tournament_size}
    if _exists(prompts, template):
        return prompts.render(template, **values)
    own = getattr(REPRODUCTION.get(name), "turnover_text", None)
    if own is None:
        raise PromptError(f"reproduction scheme {name!r} has no words for the prompts: add "
                          f"{template} to prompts_dir or give the scheme a turnover_text")
    try:
        return string.Template(own).substitute(values).strip()
    except (KeyError, ValueError) as error:
        raise PromptError(f"turnover_text of reproduction scheme {name!r}: {error}") from None


def _exists(prompts: PromptLibrary, name: str) -> bool:
    if prompts.override_dir is not None and (Path(prompts.override_dir) / name).is_file():
        return True
    return resources.files(prompts.package).joinpath("prompts", name).is_file()
