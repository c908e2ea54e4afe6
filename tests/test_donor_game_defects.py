"""Defects found while checking the Donor Game against the study (issue 21), each as the user
met it: a selection rule that was listed but crashed, a bound that disagreed with the number
shown, a stop that gave no way on, descriptions and docs that said what is not so, and prompt
files that were silently ignored. (The fine recorded beyond the floor at 0 is checked in
tests/test_donor_game.py with the rest of the punishment arithmetic.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from run_helpers import quiet

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.scripted_player import scripted_player
from scenarios.donor_game.strategies import Donation
from scenarios.donor_game.tasks import Donate, GameContext
from sim.cli import main
from sim.config import ConfigError, RunConfig, load_config
from sim.registry import get_scenario
from sim.runs.runner import resume_run, run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ChatRequest, Fault, ScriptedLLMServer

DOCS = Path(__file__).resolve().parents[1] / "docs"
RULE_RUN = ["--set", "generations=2", "--set", "agents=4", "--set", "rounds=2", "--quiet",
            "--no-figures"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("societas: error:")]
    assert len(errors) == 1, err
    return errors[0]


def test_proportional_selection_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`show-config` lists it; it used to die with a KeyError traceback in every run."""
    assert main(["run", "donor-game", *RULE_RUN, "--set", "selection=proportional",
                 "--out", str(tmp_path)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    context = GameContext.from_config(DonorGameConfig(selection="proportional",
                                                      tell_selection_rule="always"))
    assert "in proportion to their units" in context.system_message()["content"]


@pytest.mark.parametrize(("fmt", "everything"), [("text", "Reasoning.\nAnswer: 14.52"),
                                                 ("json", '{"reasoning": "all", "units": 14.52}')])
def test_a_donor_may_give_the_units_it_is_shown(fmt: str, everything: str) -> None:
    """Shown 14.52 units (holding 14.516), the donor may answer 14.52: everything."""
    config = DonorGameConfig(agents=4, reasoning_format=fmt)
    facts = {"generation": 0, "game": 0, "round": 1, "donor": "g0-a01", "recipient": "g0-a02",
             "donor_resources": 14.516, "recipient_resources": 9.0, "trace": []}
    task = Donate(GameContext.from_config(config), facts, "give all")
    prompt = task.messages()[1]["content"]
    assert "You currently have 14.52 units." in prompt and "0 to 14.52 (inclusive)" in prompt
    assert "14.516" not in prompt
    assert task.parse(everything) == Donation("donate", 1.0, units=14.52)
    if fmt == "json":
        schema = task.response_format()["json_schema"]["schema"]
        assert schema["properties"]["units"]["maximum"] == 14.52


def revoked_after_the_first_generation(request: ChatRequest) -> str | Fault:
    if any("Your name is g1-" in str(m.get("content")) for m in request.messages):
        return Fault("status", status=401, message="invalid api key: revoked")
    return scripted_player(request)


def test_a_stop_for_a_revoked_key_says_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = ["--model", "openai/scripted", "--set", "agents=4", "--set", "generations=2",
              "--set", "rounds=2", "--set", "games=1", "--set", "timeout_s=5.0", "--seed", "3",
              "--quiet", "--no-figures"]
    with ScriptedLLMServer(scripted_player) as server:
        reference = run_scenario(
            get_scenario("donor-game"),
            load_config(get_scenario("donor-game").config_type, values={
                "model": "openai/scripted", "api_base": server.url, "agents": 4,
                "generations": 2, "rounds": 2, "games": 1, "timeout_s": 5.0, "seed": 3}),
            run_dir=tmp_path / "reference", options=quiet(use_cache=False))
    with ScriptedLLMServer(revoked_after_the_first_generation) as server:
        status = main(["run", "donor-game", *values, "--set", f'api_base="{server.url}"',
                       "--out", str(tmp_path / "runs")])
        line = one_error_line(capsys)
        (run_dir,) = (tmp_path / "runs").iterdir()
        assert status == 2
        assert "model unreachable" in line and "401" in line
        assert line.endswith(f"continue with: societas resume {run_dir}")
        server._state.responder = scripted_player  # a new key: the provider answers again
        resumed = resume_run(run_dir, quiet())
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    assert snapshot(resumed.run_dir / "run.sqlite")["donations"] == \
        snapshot(reference.run_dir / "run.sqlite")["donations"]


def test_sampling_descriptions_say_whose_values_they_are() -> None:
    """The study set temperature 0.8 for one vendor only and made 3 attempts per call."""
    fields = RunConfig.model_fields
    temperature, retries = fields["temperature"].description, fields["max_retries"].description
    assert "paper" not in temperature.lower() and "paper" not in retries.lower()
    assert "Anthropic model only" in temperature and "3 attempts" in retries


def test_the_donor_game_docs_no_longer_say_what_is_not_so() -> None:
    text = (DOCS / "donor_game.md").read_text()
    flat = " ".join(text.split())
    for wrong in ("agents are not told which round it is",
                  "dispatches a reputation selection it never defines",
                  "not runnable as committed", "the notebook's version is not runnable"):
        assert wrong not in flat
    assert "image-score selection" in flat.lower() or "image score selection" in flat.lower()
    assert "It is now round N" in flat or "it is now round N" in flat


def test_the_docs_table_has_a_row_for_each_prompt_item() -> None:
    """docs/donor_game.md: study / vh2024 / legacy / key, for each of the eleven items."""
    text = (DOCS / "donor_game.md").read_text()
    section = text.split("## What agents are told", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\| P\d+ \|", line)]
    assert len(rows) == 11
    keys = ("framing", "trace_explanation", "tell_successors", "first_round_note",
            "survivor_order", "reasoning_format", "donation_question", "trace_format",
            "tell_selection_rule", "sanction_framing")
    for key in keys:
        assert any(f"`{key}`" in row for row in rows), key
    assert all(row.count("|") >= 6 for row in rows)  # #, study, vh2024, legacy, key


# -- prompts_dir --------------------------------------------------------------------------------


def test_a_prompt_file_that_replaces_nothing_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts"
    (prompts / "parts").mkdir(parents=True)
    (prompts / "parts" / "question_units.txt").write_text("How much? $resources")  # renamed
    out = tmp_path / "runs"
    assert main(["run", "donor-game", *RULE_RUN, "--set", f'prompts_dir="{prompts}"',
                 "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert "parts/question_units.txt replaces no prompt template" in line
    assert "did you mean parts/" in line
    assert not out.exists()  # refused before any run directory was made
    (prompts / "parts" / "question_units.txt").unlink()
    (prompts / "rules.md").write_text("x")
    with pytest.raises(ConfigError, match=r"rules\.md replaces no prompt template"):
        load_config(DonorGameConfig, values={"prompts_dir": str(prompts)})


def test_a_prompt_file_of_the_right_name_replaces_that_template(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    (prompts / "parts").mkdir(parents=True)
    (prompts / "parts" / "framing_neutral.txt").write_text(
        "You are a game-playing agent. Your assistance helps a study.\n")
    (prompts / ".notes.swp").write_text("an editor's file")  # hidden files are left alone
    config = load_config(DonorGameConfig, values={"prompts_dir": str(prompts)})
    system = GameContext.from_config(config).system_message()["content"]
    assert system.startswith("You are a game-playing agent. Your assistance helps a study.")
    # one directory for the town's templates and the memory stream's alike
    town = tmp_path / "town"
    town.mkdir()
    (town / "importance.txt").write_text("$memory")
    (town / "plan_day.txt").write_text("$name")
    town_config = load_config(get_scenario("town").config_type,
                              values={"prompts_dir": str(town)})
    assert town_config.prompts_dir == str(town)
