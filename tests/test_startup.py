"""Commands that make no model call never import litellm (seconds of startup, and most of a
rule-brain run's), and `societas list` imports no scenario's model (Mesa, pandas, SciPy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from run_helpers import quiet

from scenarios.donor_game.scripted_player import scripted_player
from sim import get_scenario, load_config
from sim.runs.runner import run_scenario
from sim.testing import ScriptedLLMServer

COMMANDS = """
import json, sys
from sim.cli import main
out, llm_run = sys.argv[1], sys.argv[2]
seen = {}
def check(name, argv):
    status = main(argv)
    seen[name] = [status, "litellm" in sys.modules]
check("list", ["list"])
seen["mesa after list"] = "mesa" in sys.modules
check("show-config", ["show-config", "donor-game"])
check("run", ["run", "donor-game", "--set", "agents=4", "--set", "generations=2",
              "--out", out, "--quiet"])
run_dir = next(p for p in __import__("pathlib").Path(out).iterdir())
check("report", ["report", str(run_dir)])
check("inspect", ["inspect", str(run_dir), "--agent", "g0-a00"])
check("export", ["export", str(run_dir)])
check("replay", ["replay", str(run_dir)])
check("replay of an LLM run", ["replay", llm_run])
print(json.dumps(seen))
"""


def test_commands_without_model_calls_never_import_litellm(tmp_path: Path) -> None:
    scenario = get_scenario("donor-game")
    with ScriptedLLMServer(scripted_player) as server:
        config = load_config(scenario.config_type, values={
            "model": "openai/scripted", "api_base": server.url, "agents": 2,
            "generations": 1, "rounds": 1})
        llm_run = run_scenario(scenario, config, run_dir=tmp_path / "llm",
                               options=quiet()).run_dir
    (tmp_path / "runs").mkdir()
    done = subprocess.run([sys.executable, "-c", COMMANDS, str(tmp_path / "runs"),
                           str(llm_run)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen.pop("mesa after list") is False
    assert seen == {name: [0, False] for name in (
        "list", "show-config", "run", "report", "inspect", "export", "replay",
        "replay of an LLM run")}


RULE_RUN = """
import sys
from sim.cli import main
status = main(["run", "donor-game", "--set", "agents=4", "--set", "generations=2", "--out",
               sys.argv[1], "--quiet", "--no-figures"])
heavy = sorted(m for m in ("pandas", "scipy", "networkx", "matplotlib", "sklearn")
               if m in sys.modules)
import mesa
from mesa.discrete_space import Network
import pandas
assert sys.modules["mesa.agent"].pd.Series is pandas.Series, "mesa.agent's pandas"
assert mesa.discrete_space.Network is Network and mesa.space.ContinuousSpace is not None
print(status, heavy)
"""


def test_a_rule_run_imports_none_of_what_only_mesas_optional_parts_need(tmp_path: Path) -> None:
    """Mesa's spaces and pandas wait for their first use (`sim.lean_mesa`), and then are the
    real modules, seen alike through Mesa's own names and a later import."""
    done = subprocess.run([sys.executable, "-c", RULE_RUN, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "0 []"
