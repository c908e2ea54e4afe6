"""`societas new-scenario`: the package it writes installs, passes its own tests, runs, reports.

As a researcher would: generate the package, install it (offline: no index, no build
isolation, into a folder of its own put on PYTHONPATH, so this environment is left as it was),
run its tests, find it through the `societas.scenarios` entry point, run it with `societas run`
and render its report, each in a fresh process as a user's shell would.
"""

from __future__ import annotations

import ast
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from sim.cli import main
from sim.cli.scaffold import placeholders
from sim.runs.export import export_run

NAME = "stag-hunt"
PACKAGE = "stag_hunt"
#: What a scenario package may import from the engine: the public API only.
PUBLIC_MODULES = {"sim", "sim.testing"}


def societas() -> list[str]:
    script = Path(sys.executable).with_name("societas")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "sim.cli"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The generated package, installed into a folder of its own, and the env that sees it."""
    root = tmp_path_factory.mktemp("new-scenario")
    assert main(["new-scenario", NAME, "--dir", str(root)]) == 0
    package_dir = root / NAME
    written = sorted(str(p.relative_to(package_dir)) for p in package_dir.rglob("*")
                     if p.is_file())  # before pip's build leaves its files beside them
    site = root / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(site), str(package_dir)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    # the prompts folder is declared, so setuptools has nothing to warn a user about
    assert "absent from the `packages` configuration" not in install.stderr, install.stderr
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "LITELLM_OFFLINE_MODE": "true",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    return {"root": root, "package_dir": package_dir, "site": site, "env": env,
            "written": written}


def run(command: list[str], env: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_the_package_has_every_part_and_uses_only_the_public_api(installed: dict) -> None:
    package_dir: Path = installed["package_dir"]
    assert installed["written"] == sorted([
        "README.md", "pyproject.toml", "tests/test_stag_hunt.py",
        *(f"{PACKAGE}/{name}" for name in ("__init__.py", "config.py", "model.py",
                                           "report.py", "rules.py", "tasks.py",
                                           "prompts/hunt.txt", "prompts/rules.txt",
                                           "prompts/strategy_first.txt",
                                           "prompts/strategy_inherit.txt")),
    ])
    pyproject = (package_dir / "pyproject.toml").read_text()
    assert '[project.entry-points."societas.scenarios"]' in pyproject
    assert f'{NAME} = "{PACKAGE}:SCENARIO"' in pyproject
    for name in installed["written"]:
        assert "{{" not in (package_dir / name).read_text(), name  # every placeholder filled
    for path in [package_dir / name for name in installed["written"] if name.endswith(".py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                       else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for module in modules:
                if module.split(".")[0] == "sim":
                    assert module in PUBLIC_MODULES, f"{path.name} imports {module}"
    assert (installed["site"] / PACKAGE / "prompts" / "hunt.txt").is_file()  # package data


def test_its_own_tests_pass_as_generated(installed: dict) -> None:
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                 installed["env"], installed["package_dir"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed" in result.stdout


@pytest.fixture(scope="module")
def used(installed: dict) -> dict[str, object]:
    """`societas run` and `report` of the installed package, each a fresh process (the run
    finds the scenario through its entry point, as `societas list` does)."""
    env, root = installed["env"], installed["root"]
    ran = run([*societas(), "run", NAME, "--set", "generations=2", "--set", "agents=4",
               "--out", str(root / "runs"), "--quiet"], env, root)
    assert ran.returncode == 0, ran.stderr
    (run_dir,) = (root / "runs").iterdir()
    reported = run([*societas(), "report", str(run_dir)], env, root)
    return {"ran": ran, "run_dir": run_dir, "reported": reported}


def test_it_is_found_through_its_entry_point_and_runs_offline(used: dict) -> None:
    run_dir: Path = used["run_dir"]
    assert "generation  stag share  mean catch" in used["ran"].stdout
    assert (run_dir / "figures" / "stag_share.png").is_file()
    export_run(run_dir, tables=["hunts"])  # needs no scenario: run in this process
    lines = (run_dir / "export" / "hunts.csv").read_text().splitlines()
    assert lines[0] == "step,generation,round,agent_id,partner,choice,payoff,source"
    assert len(lines) == 1 + 2 * 6 * 4  # generations x rounds x hunters


def test_its_generations_turn_over_by_wright_fisher_or_moran_by_config_alone(
        installed: dict) -> None:
    env, root = installed["env"], installed["root"]
    ran = run([*societas(), "sweep", NAME, "--grid", "reproduction=wright_fisher,moran",
               "--set", "generations=3", "--set", "agents=4", "--out", str(root / "schemes"),
               "--executor", "inline", "--quiet"], env, root)
    assert ran.returncode == 0, ran.stderr
    for reproduction in ("wright_fisher", "moran"):
        store = root / "schemes" / f"reproduction-{reproduction}__seed-0" / "run.sqlite"
        with closing(sqlite3.connect(store)) as db:
            born = db.execute("SELECT generation, parents FROM agents WHERE generation > 0"
                              ).fetchall()
            kept = db.execute("SELECT generation, SUM(survived) FROM generation_scores "
                              "WHERE survived IS NOT NULL GROUP BY generation").fetchall()
        assert all(len(json.loads(parents)) == 1 for _, parents in born)  # its own parent
        if reproduction == "moran":  # one death and one birth per generation
            assert kept == [(0, 3), (1, 3)] and [g for g, _ in born] == [1, 2]
        else:  # the whole generation is replaced
            assert kept == [(0, 0), (1, 0)] and len(born) == 2 * 4


def test_its_report_is_written(used: dict) -> None:
    reported = used["reported"]
    assert reported.returncode == 0, reported.stderr
    assert (used["run_dir"] / "report.html").is_file()


def test_its_report_shows_its_headline_and_figure(used: dict) -> None:
    html = (used["run_dir"] / "report.html").read_text()
    assert "share of hunters hunting the stag" in html  # its headline series, by its label
    assert 'alt="share of stag hunts per round' in html  # its figure, embedded
    assert f"figure: {used['run_dir'] / 'figures' / 'stag_share.png'}" in \
        used["reported"].stdout


@pytest.mark.parametrize("name", ["Stag", "1game", "stag hunt", "stag--hunt", "stag-", "class",
                                  "donor-game", "json", "x" * 41])
def test_a_bad_name_is_one_line_and_writes_nothing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["new-scenario", name, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("societas: error:") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_target_is_refused(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / NAME).mkdir()
    (tmp_path / NAME / "mine.txt").write_text("keep me")
    assert main(["new-scenario", NAME, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"societas: error: {tmp_path / NAME} already exists; choose another name " \
        "or --dir (nothing was written)\n"
    assert [p.name for p in (tmp_path / NAME).iterdir()] == ["mine.txt"]


def test_placeholders_follow_the_name() -> None:
    assert placeholders("public_goods-2") == {
        "{{name}}": "public_goods-2", "{{package}}": "public_goods_2",
        "{{model_class}}": "PublicGoods2", "{{title}}": "Public goods 2",
    }
