"""The iterated prisoner's dilemma tournament: its classic strategies and tournament totals
against the Axelrod library (the reference implementation), config errors, determinism by seed
with noise and chance, LLM players through the scripted server, the Moran process, figures and
the report section.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from run_helpers import query, quiet

from scenarios.ipd import SCENARIO
from scenarios.ipd.config import CLASSICS, IPDConfig
from scenarios.ipd.figures import MORAN_FIGURES, TOURNAMENT_FIGURES
from scenarios.ipd.game import IPDTournament
from scenarios.ipd.tasks import GameRules, Move
from sim import ConfigError, ParseError, get_scenario, load_config, snapshot
from sim.cli import main
from sim.runs.replay import replay_run
from sim.runs.runner import RunOptions, run_scenario
from sim.testing import ChatRequest, ScriptedLLMServer

GARBAGE = "🙂 lovely weather today"
#: Our names of the deterministic classics -> the Axelrod library's classes.
AXELROD_NAMES = {
    "tit_for_tat": "TitForTat", "grudger": "Grudger", "alternator": "Alternator",
    "cooperator": "Cooperator", "defector": "Defector", "tit_for_two_tats": "TitFor2Tats",
    "suspicious_tit_for_tat": "SuspiciousTitForTat", "win_stay_lose_shift": "WinStayLoseShift",
}
DETERMINISTIC = [name for name in CLASSICS if name != "random"]


@pytest.fixture(scope="module")
def axl() -> ModuleType:
    """The Axelrod library. Its import classifies every strategy by reading its source, calling
    `inspect.getsource` on the same objects thousands of times (about 40 s on Python 3.12);
    memoising it for the import alone brings that to a few seconds and changes no result."""
    original = inspect.getsource
    inspect.getsource = functools.cache(original)
    try:
        import axelrod
    finally:
        inspect.getsource = original
    return axelrod


def config(**values: object) -> IPDConfig:
    return load_config(IPDConfig, values=values)  # type: ignore[return-value]


def played(run_dir: Path) -> dict[int, tuple[str, str]]:
    """Each match's moves as played, seat 0 and seat 1, as strings ("CCD...")."""
    moves: dict[int, list[str]] = {}
    for match_id, seat, move in query(run_dir, "SELECT match_id, seat, move FROM moves "
                                               "ORDER BY match_id, turn, seat"):
        moves.setdefault(match_id, ["", ""])[seat] += move
    return {k: (v[0], v[1]) for k, v in moves.items()}


# -- the reference: the Axelrod library ----------------------------------------------------------
@pytest.mark.parametrize("payoffs", [{}, {"R": 4, "S": -1, "T": 6, "P": 0.5}])
def test_matches_equal_axelrod_turn_by_turn_and_tournament_totals(
        axl: ModuleType, tmp_path: Path, payoffs: dict) -> None:
    turns, repetitions = 40, 2
    result = run_scenario(SCENARIO, config(strategies=DETERMINISTIC, turns=turns,
                                           repetitions=repetitions, payoffs=payoffs),
                          run_dir=tmp_path / "r", options=quiet())
    run_dir = result.run_dir
    game = axl.Game(**{k.lower(): v for k, v in IPDConfig().payoffs.model_copy(
        update=payoffs).model_dump().items()})
    moves = played(run_dir)
    matches = query(run_dir, "SELECT match_id, repetition, player, opponent, score, "
                             "opponent_score FROM matches ORDER BY match_id")
    n = len(DETERMINISTIC)
    assert len(matches) == repetitions * n * (n + 1) // 2  # every pair and every self-play
    for match_id, _, player, opponent, score, opponent_score in matches:
        pair = (getattr(axl, AXELROD_NAMES[player])(), getattr(axl, AXELROD_NAMES[opponent])())
        reference = axl.Match(pair, turns=turns, game=game)
        actions = reference.play()
        assert moves[match_id] == ("".join(str(a) for a, _ in actions),
                                   "".join(str(b) for _, b in actions)), (player, opponent)
        assert (score, opponent_score) == tuple(float(s) for s in reference.final_score())
    if payoffs:
        return  # one tournament against the library's is enough; its matches are checked above
    tournament = axl.Tournament([getattr(axl, AXELROD_NAMES[s])() for s in DETERMINISTIC],
                                turns=turns, repetitions=repetitions, game=game)
    expected = tournament.play(progress_bar=False, processes=None)
    ours = {player: (score, wins) for player, score, wins in query(
        run_dir, "SELECT player, score, wins FROM ranking")}
    for i, name in enumerate(DETERMINISTIC):
        assert ours[name] == (sum(expected.scores[i]), sum(expected.wins[i])), name
    # totals per repetition, from our own match rows (self-play left out, as the library does)
    for r in range(repetitions):
        totals: Counter[str] = Counter()
        for _, rep, player, opponent, score, opponent_score in matches:
            if rep == r and player != opponent:
                totals[player] += score
                totals[opponent] += opponent_score
        assert [totals[s] for s in DETERMINISTIC] == [expected.scores[i][r] for i in range(n)]


# -- config errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("values, message", [
    ({"payoffs": {"T": 2.5}}, "T > R > P > S"),
    ({"payoffs": {"T": 7}}, "2R > T + S"),
    ({"strategies": ["tit_for_tat", "tit_for_3_tats"]}, "unknown strategy"),
    ({"strategies": ["tit_for_tat"]}, "at least 2 players"),
    ({"strategies": ["tit_for_tat", "llm"]}, "no model is set"),
    ({"noise": 1.5}, "noise"),
    ({"evolution": "moran", "generations": 0}, "generations"),
])
def test_config_errors_are_one_clear_line(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")) as error:
        config(**values)
    assert "\n" not in str(error.value)


def test_cli_reports_a_bad_payoff_in_one_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["run", "ipd-tournament", "--set", "payoffs.P=4", "--out", str(tmp_path),
                   "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("societas: error:") and "T > R > P > S" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_a_model_alone_adds_one_llm_player_to_the_classics() -> None:
    assert config(model="openai/x").strategies == [*CLASSICS, "llm"]
    assert config().strategies == list(CLASSICS)


# -- determinism, noise and chance --------------------------------------------------------------
def test_noise_and_random_are_deterministic_by_seed(tmp_path: Path) -> None:
    assert get_scenario("ipd_tournament") is SCENARIO
    values = {"strategies": ["random", "tit_for_tat", "grudger"], "turns": 30,
              "repetitions": 3, "noise": 0.1}
    stores = [snapshot(run_scenario(SCENARIO, config(seed=seed, **values),
                                    run_dir=tmp_path / name, options=quiet()).run_dir
                       / "run.sqlite")
              for name, seed in (("a", 4), ("b", 4), ("c", 5))]
    assert stores[0] == stores[1]
    assert stores[0]["moves"] != stores[2]["moves"]
    assert "decisions" not in stores[0] or not stores[0]["decisions"]  # log_decisions = 'llm'
    replayed = replay_run(tmp_path / "a")  # with the run's own log_decisions
    assert replayed.checkpoints == len(stores[0]["checkpoints"]) == 30 + 2  # turns, end
    flipped = query(tmp_path / "a", "SELECT AVG(intended != move) FROM moves")[0][0]
    assert 0.05 < flipped < 0.15  # 2 x 30 x 6 matches x 3 repetitions moves, 10% noise
    # noise is what both players see: tit for tat answers the flipped move, not the intended
    moves = played(tmp_path / "a")
    for (match_id,) in query(tmp_path / "a", "SELECT match_id FROM matches WHERE "
                                             "player = 'random' AND opponent = 'tit_for_tat'"):
        answered = query(tmp_path / "a", f"SELECT intended FROM moves WHERE match_id = "
                                         f"{match_id} AND seat = 1 ORDER BY turn")
        assert "".join(i for (i,) in answered)[1:] == moves[match_id][0][:-1]
    random_share = query(tmp_path / "a", "SELECT AVG(intended = 'C') FROM moves "
                                         "WHERE player = 'random'")[0][0]
    assert 0.4 < random_share < 0.6


def test_without_self_play_nobody_meets_itself() -> None:
    model = IPDTournament(config(strategies=["tit_for_tat", "defector", "grudger"], turns=5,
                                 repetitions=2, self_play=False))
    model.run_model()
    assert model.steps == 5
    assert [r["matches"] for r in model.ranking] == [4, 4, 4]
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 5 and frame["cooperation"].between(0, 1).all()


# -- LLM players ---------------------------------------------------------------------------------
def tit_for_tat_model(request: ChatRequest) -> str:
    """A scripted model that plays tit for tat from the history in its prompt, and answers
    llm-2's every question with garbage."""
    prompt = request.messages[1]["content"]
    if prompt.startswith("Your name is llm-2."):
        return GARBAGE
    rounds = [line for line in prompt.splitlines() if line.startswith("round ")]
    move = rounds[-1].rsplit(" ", 1)[-1] if rounds else "C"
    return json.dumps({"reasoning": "I answer what it did last.", "move": move})


def test_llm_players_answer_from_the_history_and_garbage_falls_back(tmp_path: Path) -> None:
    turns = 4
    with ScriptedLLMServer(tit_for_tat_model) as server:
        cfg = config(model="openai/scripted", api_base=server.url, timeout_s=5.0, turns=turns,
                     repetitions=1, self_play=False,
                     strategies=["llm", "llm", "alternator", "defector"])
        result = run_scenario(SCENARIO, cfg, run_dir=tmp_path / "r", options=quiet())
        requests = server.requests
    assert result.status == "finished"
    run_dir = result.run_dir
    moves = played(run_dir)
    matches = query(run_dir, "SELECT match_id, player, opponent FROM matches")
    for match_id, player, opponent in matches:
        for seat, name in enumerate((player, opponent)):
            other = moves[match_id][1 - seat]
            if name == "llm":  # plays tit for tat through the model
                assert moves[match_id][seat] == "C" + other[:-1]
            elif name == "llm-2":  # every move a fallback defection
                assert moves[match_id][seat] == "D" * turns
    sources = Counter(query(run_dir, "SELECT player, source FROM moves WHERE player LIKE 'llm%'"))
    assert sources == {("llm", "llm"): 3 * turns, ("llm-2", "fallback"): 3 * turns}
    reasons = {e for (e,) in query(run_dir, "SELECT error FROM llm_calls WHERE "
                                            "agent_id = 'llm-2' AND outcome = 'unparsed'")}
    assert reasons and all(r.startswith("no move found") for r in reasons)
    # one batch a turn: every call of a turn was asked at the same simulated time
    times = Counter(t for (t,) in query(run_dir, "SELECT sim_time FROM llm_calls "
                                                 "WHERE purpose = 'decide'"))
    assert sorted(times) == list(range(turns)) and set(times.values()) == {6}
    assert SCENARIO.estimate(cfg).calls == sum(times.values())  # the estimate shown up front
    # the opponent is never named to the model; its moves are data in the game's own words
    prompts = [r.messages[1]["content"] for r in requests]
    assert not any("alternator" in p or "defector" in p for p in prompts)
    assert "never instructions" in requests[0].messages[0]["content"]
    assert replay_run(run_dir).calls > 0  # the model's moves replay from the store


def test_move_parser_reads_leniently_and_refuses_what_it_cannot_read() -> None:
    rules = GameRules.from_config(config())
    task = Move(rules, {"player": "llm", "match": 0, "turn": 0, "own": "", "opponent": ""})
    assert task.parse('{"move": "D"}') == "D"
    assert task.parse('```json\n{"reasoning": "x", "choice": "cooperate"}\n```') == "C"
    assert task.parse("I will defect this time.") == "D"
    assert task.parse("C") == "C"
    assert task.fallback() == "D" and task.fallback().fallback
    for reply in (GARBAGE, '{"move": "maybe"}'):
        with pytest.raises(ParseError):
            task.parse(reply)


# -- the Moran process ---------------------------------------------------------------------------
def test_moran_counts_births_deaths_and_stops_at_fixation(axl: ModuleType,
                                                          tmp_path: Path) -> None:
    strategies = ["defector", "defector", "tit_for_tat", "tit_for_tat", "grudger"]
    turns = 6
    result = run_scenario(SCENARIO, config(strategies=strategies, turns=turns, seed=3,
                                           evolution="moran", generations=60),
                          run_dir=tmp_path / "r", options=quiet())
    run_dir = result.run_dir
    population = query(run_dir, "SELECT generation, strategy, count FROM population")
    by_generation: dict[int, dict[str, int]] = {}
    for generation, strategy, count in population:
        by_generation.setdefault(generation, {})[strategy] = count
    assert all(sum(c.values()) == len(strategies) for c in by_generation.values())
    last = max(by_generation)
    assert len(by_generation[last]) == 1 and last < 60  # fixation before the cap
    assert all(len(by_generation[g]) > 1 for g in range(last))
    events = query(run_dir, "SELECT generation, parent_strategy, died_strategy FROM moran "
                            "ORDER BY generation")
    assert [g for g, *_ in events] == list(range(last))
    for generation, parent, died in events:  # one copy of the parent replaced the dead
        expected = Counter(by_generation[generation])
        expected[parent] += 1
        expected[died] -= 1
        assert +expected == by_generation[generation + 1]
    born = dict(query(run_dir, "SELECT agent_id, kind FROM agents"))
    assert len(born) == len(strategies) + last
    # the fitness of the first generation is the library's score of the same population
    first = query(run_dir, "SELECT parent_fitness, parent FROM moran WHERE generation = 0")
    process = axl.MoranProcess([getattr(axl, AXELROD_NAMES[s])() for s in strategies],
                               turns=turns)
    scores = process.score_all()
    index = int(first[0][1].rsplit("a", 1)[1])
    assert first[0][0] == pytest.approx(scores[index] * turns)


def fixation_probability(mutant: str, resident: str, n: int) -> float:
    """The exact fixation probability of one mutant among n - 1 residents in a birth-death
    Moran process, 1 / (1 + sum_k prod_{j<=k} g_j / f_j), with f_j and g_j the fitness of a
    mutant and of a resident when j players are mutants (one-turn matches: first moves)."""
    first = {"cooperator": "C", "tit_for_tat": "C", "defector": "D"}
    pay = IPDConfig().payoffs

    def a(x: str, y: str) -> float:
        return pay.of(first[x], first[y])

    total, product = 1.0, 1.0
    for j in range(1, n):
        f = (j - 1) * a(mutant, mutant) + (n - j) * a(mutant, resident)
        g = j * a(resident, mutant) + (n - j - 1) * a(resident, resident)
        product *= g / f
        total += product
    return 1 / total


@pytest.mark.parametrize("mutant, resident", [
    ("cooperator", "tit_for_tat"),  # they always cooperate with each other: neutral, 1/N
    ("defector", "cooperator"),  # exploits them: 0.663 with N = 4 and the standard payoffs
])
def test_fixation_probability_of_one_mutant_matches_moran_theory(mutant: str,
                                                                 resident: str) -> None:
    n, seeds = 4, 300
    expected = fixation_probability(mutant, resident, n)
    fixed = 0
    for seed in range(seeds):
        model = IPDTournament(config(strategies=[mutant] + [resident] * (n - 1), turns=1,
                                     evolution="moran", generations=1000, seed=seed))
        model.run_model()
        final = model.populations[-1]
        assert len(final) == 1  # every run fixated
        fixed += mutant in final
    sd = np.sqrt(expected * (1 - expected) / seeds)
    assert abs(fixed / seeds - expected) < 3 * sd, (fixed / seeds, expected)


# -- figures and the report ----------------------------------------------------------------------
def test_figures_and_report_section(tmp_path: Path) -> None:
    import analysis
    from analysis.scenario import report_context

    runs = []
    for name, values in (("tournament", {"turns": 5, "repetitions": 2}),
                         ("moran", {"turns": 3, "evolution": "moran", "generations": 5,
                                    "strategies": ["defector", "cooperator", "tit_for_tat"]})):
        result = run_scenario(SCENARIO, config(seed=1, **values), run_dir=tmp_path / name,
                              options=RunOptions(progress=False))
        files = TOURNAMENT_FIGURES if name == "tournament" else MORAN_FIGURES
        assert [p.name for p in result.figures] == list(files)
        assert all(p.stat().st_size > 10_000 for p in result.figures)
        runs.append(analysis.load(result.run_dir))
    spec = runs[0].analysis_spec
    context = report_context(runs)
    parts = spec.sections[0].render(runs, context)
    tables = [p for p in parts if hasattr(p, "columns")]
    assert len(tables) == 2  # the tournament's ranking and the Moran run's fixation
    (ranking,) = [t for t in tables if "player" in t.columns]
    (fixation,) = [t for t in tables if "fixated" in t.columns]
    assert fixation["generations"].iloc[0] == runs[1].table("population")["generation"].max()
    assert ranking["player"].iloc[0] == runs[0].table("ranking")["player"].iloc[0]
    for run, files in zip(runs, (TOURNAMENT_FIGURES, MORAN_FIGURES), strict=True):
        drawn = {f.file: f.draw(run) for f in spec.figures}  # None: not this kind of run's
        assert {file for file, made in drawn.items() if made is not None} == set(files)
        assert all(drawn[file].axes for file in files)
    cooperation = spec.headline[0].compute(runs[0])
    assert len(cooperation) == 5 and cooperation["value"].between(0, 1).all()
