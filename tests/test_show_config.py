"""`societas show-config`: every key a user can set, with its type, default and meaning.

The reference is read from the scenario's pydantic config, so these tests check that it stays
complete (every field, nested ones as dotted keys), that what it prints can be typed back (each
`key = value` line works as `--set`), and that the TOML file it writes is accepted as is and
means the defaults, presets included.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from scenarios.donor_game.config import DonorGameConfig
from sim.cli import main
from sim.cli.config_docs import config_keys
from sim.config import load_config


def dotted_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += dotted_fields(annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


def show(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["show-config", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_every_key_is_listed_once_with_a_meaning_grouped_engine_population_scenario() -> None:
    keys = config_keys(DonorGameConfig, "donor-game")
    assert [k.name for k in keys] == dotted_fields(DonorGameConfig)
    assert all(k.description.strip() for k in keys), [k.name for k in keys if not k.description]
    groups = list(dict.fromkeys(k.group for k in keys))
    assert len(groups) == 3 and groups[0].startswith("Engine") and groups[1].startswith(
        "Population") and groups[2].startswith("donor-game")
    by_name = {k.name: k for k in keys}
    assert by_name["seed"].group == groups[0] and by_name["agents"].group == groups[1]
    assert by_name["memory_settings.preset"].group == groups[2]
    # the default of a nested setting is the scenario's, not the nested model's own
    assert by_name["memory_settings.inheritance"].default == "strategy"
    assert by_name["temperature"].type == "float ≥ 0, ≤ 2"
    assert by_name["pairing"].type == '"round_robin" | "round_robin_alternating" | "random"'
    assert by_name["model"].default is None and "optional" in by_name["model"].type


def test_keys_a_preset_sets_are_found_by_trying_the_preset() -> None:
    by_name = {k.name: k for k in config_keys(DonorGameConfig, "donor-game")}
    assert by_name["pairing"].preset_by == "protocol"
    assert by_name["strategy_format"].preset_by == "protocol"
    assert by_name["memory_settings.recency_weight"].preset_by == "memory_settings.preset"
    assert by_name["endowment"].preset_by is None and by_name["protocol"].preset_by is None


def test_reference_prints_every_key_and_each_line_works_as_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = show(capsys, "donor-game")
    assert status == 0 and err == ""
    for name in dotted_fields(DonorGameConfig):
        assert f"\n  {name}" in out, name
    assert "Engine keys" in out and "Population keys" in out and "donor-game keys" in out
    assert "Rounds per game." in out  # the meaning, from the field's description
    settable = [line.strip() for line in out.splitlines()
                if line.startswith("  ") and not line.startswith("   ") and " = " in line]
    assert len(settable) > 40
    config = load_config(DonorGameConfig, overrides=settable)
    assert config == DonorGameConfig()  # every printed default, typed back, is the default


def test_toml_file_is_accepted_as_is_means_the_defaults_and_keeps_presets_live(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    status, out, _ = show(capsys, "donor-game", "--format", "toml")
    assert status == 0
    path = tmp_path / "donor.toml"
    path.write_text(out)
    written = tomllib.loads(out)
    assert written["memory_settings"]["preset"] == "paper"  # dotted keys, no tables
    assert "pairing" not in written  # set by protocol: commented out, not frozen
    assert '# pairing = "round_robin"' in out and "# model = ..." in out
    assert load_config(DonorGameConfig, path=path) == DonorGameConfig()
    legacy = load_config(DonorGameConfig, path=path, overrides=['protocol="legacy"'])
    assert legacy == DonorGameConfig(protocol="legacy")
    # and the CLI runs it as is
    status = main(["run", "donor-game", "--config", str(path), "--set", "generations=1",
                   "--set", "agents=2", "--set", "games=1", "--set", "rounds=1",
                   "--out", str(tmp_path / "runs"), "--quiet", "--no-figures"])
    assert status == 0


def test_unknown_scenario_is_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = show(capsys, "no-such-game")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("societas: error: unknown scenario")
    status, _, err = show(capsys, "donor-game", "--format", "yaml")
    assert status == 2 and err.startswith("societas: error:") and err.count("\n") == 1


def test_a_default_a_validator_works_out_is_shown_as_a_run_gets_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    by_name = {k.name: k for k in config_keys(DonorGameConfig, "donor-game")}
    assert by_name["brains"].default == {"rule": 1.0} and by_name["brains"].computed
    assert not by_name["agents"].computed and not by_name["pairing"].computed  # a preset's
    _, out, _ = show(capsys, "public-goods")
    assert "\n  brains = { rule = 1.0 }\n" in out and "worked out from other keys" in out
    _, toml_text, _ = show(capsys, "public-goods", "--format", "toml")
    assert "\n# brains = { rule = 1.0 }\n" in toml_text  # left to work out, even with --model


def test_names_registered_for_the_turnover_are_listed_with_their_keys() -> None:
    from sim import register_fitness

    register_fitness("qa_listed_rank", lambda scores, config: scores * 0 + 1)
    by_name = {k.name: k for k in config_keys(DonorGameConfig, "donor-game")}
    listed = by_name["fitness"].description.split(" Registered now: ")
    assert len(listed) == 2 and "'qa_listed_rank'" in listed[1]
    assert "qa_listed_rank" not in by_name["mutation"].description
