"""A scheme, fitness mapping or mutation operator of a user's own that breaks its contract.

As `docs/evolution.md` tells a researcher to write them, with the plausible mistakes: more
parents than a newcomer takes, an index that is no member or no candidate, fitness of the wrong
length or sign, a mutant that is not a rule. Each is one `societas: error:` line and exit
status 2, never a traceback nor a run with a silently wrong lineage; those the config's probe
can see are refused before a run directory exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scenarios.public_goods.config import PublicGoodsConfig
from scenarios.public_goods.game import PublicGoodsGame
from sim import Pool, register_fitness, register_mutation, register_reproduction
from sim.cli import main
from sim.evolution.checks import EvolutionError
from sim.registry import BUILTIN_SCENARIOS


class TwoParents:
    """Everyone is replaced; each newcomer gets two parents, whatever `count` says."""

    turnover_text = "At the end of a generation all the $players are replaced. $advice"

    def survivors(self, pool: Pool) -> list[int]:
        return []

    def parents(self, pool: Pool, candidates: Any, count: int) -> list[int]:
        return list(candidates[:2])


class Unspoken:
    """Keeps its contract, but has no words for the members' rules."""

    def survivors(self, pool: Pool) -> list[int]:
        return []

    def parents(self, pool: Pool, candidates: Any, count: int) -> list[int]:
        return [candidates[0]]


class KeepsAStranger(TwoParents):
    def survivors(self, pool: Pool) -> list[int]:
        return [pool.size]  # one past the last member


class AdoptsAStranger(TwoParents):
    def parents(self, pool: Pool, candidates: Any, count: int) -> list[int]:
        return [pool.size + 3]


register_reproduction("qa_two_parents", TwoParents())
register_reproduction("qa_unspoken", Unspoken())
register_reproduction("qa_keeps_a_stranger", KeepsAStranger())
register_reproduction("qa_adopts_a_stranger", AdoptsAStranger())
register_fitness("qa_one_value", lambda scores, config: np.ones(1))
register_fitness("qa_negative", lambda scores, config: -np.ones_like(scores))
register_mutation("qa_not_a_rule", lambda policy, rng, config, families: "cooperate")


@pytest.mark.parametrize(("setting", "message"), [
    ("reproduction=qa_two_parents",
     "reproduction scheme 'qa_two_parents': parents(pool, candidates, count) returned 2 "
     "parents [0, 1] for a newcomer that takes at most 1 (count)"),
    ("reproduction=qa_keeps_a_stranger",
     "reproduction scheme 'qa_keeps_a_stranger': survivors(pool) returned 8, which is not a "
     "member index (0 to 7)"),
    ("reproduction=qa_adopts_a_stranger",
     "reproduction scheme 'qa_adopts_a_stranger': parents(pool, candidates, count) returned "
     "11, which is not among the candidates it was given (the members that can fill this "
     "place)"),
    ("reproduction=qa_unspoken",
     "reproduction scheme 'qa_unspoken' has no words for the prompts: add "
     "turnover_qa_unspoken.txt to prompts_dir or give the scheme a turnover_text"),
    ("fitness=qa_one_value",
     "fitness mapping 'qa_one_value' returned 1 values for 8 scores (one fitness per member)"),
    ("fitness=qa_negative",
     "fitness mapping 'qa_negative' returned -1: fitness must be finite and non-negative"),
])
def test_a_broken_scheme_or_fitness_is_refused_in_one_line_before_a_run_starts(
    setting: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "runs"
    code = main(["run", "public-goods", "--set", setting, "--set", "agents=8",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert (code, err) == (2, f"societas: error: {message}\n")
    assert not out.exists()  # nothing written


def test_a_mutant_that_is_not_a_rule_stops_the_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = PublicGoodsConfig(agents=4, generations=2, rounds=1, mutation="qa_not_a_rule")
    with pytest.raises(EvolutionError, match="mutation operator 'qa_not_a_rule' returned "
                       "'cooperate', not a rule policy"):
        PublicGoodsGame(config).run_model()
    code = main(["run", "public-goods", "--set", "agents=4", "--set", "generations=2",
                 "--set", "rounds=1", "--set", "mutation=qa_not_a_rule",
                 "--out", str(tmp_path / "runs"), "--quiet", "--no-figures"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("societas: error: mutation operator 'qa_not_a_rule'")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_scheme_that_keeps_its_contract_runs_with_the_lineage_it_draws() -> None:
    class Elitist:
        turnover_text = "Only the best of the $players stays. $advice"

        def survivors(self, pool: Pool) -> list[int]:
            return [pool.ranking[0]]

        def parents(self, pool: Pool, candidates: Any, count: int) -> list[int]:
            return [min(candidates, key=list(pool.ranking).index)]

    register_reproduction("qa_elitist", Elitist())
    model = PublicGoodsGame(PublicGoodsConfig(agents=4, generations=3, rounds=2,
                                              reproduction="qa_elitist", mutation="none"))
    model.run_model()
    newcomers = [a for a in model.members if a.generation_born == 2]
    assert len(newcomers) == 3 and all(len(a.parents) == 1 for a in newcomers)


@pytest.mark.parametrize(("registration", "message"), [
    ('register_reproduction("Elitist", Keeper())',
     "reproduction scheme name 'Elitist' must be lower-case letters, digits and '_', starting "
     "with a letter"),
    ('register_reproduction("moran", Keeper())',
     "'moran' is a built-in reproduction scheme; register yours under another name"),
    ('register_mutation("creep", 0.5)',
     "a mutation operator is a function (policy, rng, config, families) -> policy"),
])
def test_a_registration_a_scenario_package_gets_wrong_is_one_line(
    registration: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    package = tmp_path / "qa_misregistered"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from sim import ScenarioSpec, register_mutation, register_reproduction\n\n\n"
        "class Keeper:\n"
        "    def survivors(self, pool):\n        return []\n\n"
        "    def parents(self, pool, candidates, count):\n        return [candidates[0]]\n\n\n"
        f"{registration}\n"
        "SCENARIO = ScenarioSpec(name='qa-misregistered', summary='-', "
        "config_type='scenarios.public_goods.config:PublicGoodsConfig', "
        "model='scenarios.public_goods.game:PublicGoodsGame')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(BUILTIN_SCENARIOS, "qa-misregistered", "qa_misregistered:SCENARIO")
    code = main(["run", "qa-misregistered", "--out", str(tmp_path / "runs"), "--quiet"])
    assert (code, capsys.readouterr().err) == (2, f"societas: error: {message}\n")
    assert not (tmp_path / "runs").exists()


def test_the_probe_asks_for_llm_parents_only_where_the_mix_has_llm_places() -> None:
    class OneTooManyForLLMs(TwoParents):
        def parents(self, pool: Pool, candidates: Any, count: int) -> list[int]:
            return list(candidates[:count + 1]) if count > 1 else [candidates[0]]

    register_reproduction("qa_one_too_many_for_llms", OneTooManyForLLMs())
    PublicGoodsConfig(reproduction="qa_one_too_many_for_llms", llm_parents=2)  # rule brains
    with pytest.raises(ValueError, match=r"returned 3 parents .* takes at most 2"):
        PublicGoodsConfig(reproduction="qa_one_too_many_for_llms", llm_parents=2,
                          model="openai/scripted", api_base="http://127.0.0.1:9/v1")
