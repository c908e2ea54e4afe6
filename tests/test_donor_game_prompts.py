"""What the Donor Game's prompts tell agents: the study's content under `vh2024`, Societas 0.1's
wording under `legacy`, and each difference a key of its own (docs/donor_game.md, "What agents
are told"). The prompts are rendered exactly as a model receives them; the runs go through the
scripted model server, so what is checked is what was sent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from donor_prompt_cases import digest, legacy_prompts, legacy_runs
from run_helpers import calls, query

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.scripted_player import is_strategy_request, scripted_player
from scenarios.donor_game.strategies import Donation
from scenarios.donor_game.tasks import Donate, GameContext, WriteStrategy
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import run_scenario
from sim.tasks import ParseError
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer

SCENARIO = get_scenario("donor-game")
LEGACY_DIGESTS = Path(__file__).parent / "data" / "donor_game_legacy.json"

TRACE = [
    {"donor": "g0-a03", "recipient": "g0-a05", "action": "donate", "fraction": 0.456,
     "step": 4, "game": 1, "round": 4},
    {"donor": "g0-a05", "recipient": "g1-a00", "action": "punish", "fraction": 0.2,
     "units": 1.5, "lost": 3.0, "step": 3, "game": 1, "round": 3},
]
SURVIVORS = [("g0-a04", "Give half to givers."), ("g0-a02", "Give nothing, ever.")]


def facts(held: float = 12.5, trace: list[dict[str, Any]] = TRACE) -> dict[str, Any]:
    return {"generation": 2, "game": 1, "round": 5, "donor": "g0-a01", "recipient": "g0-a03",
            "donor_resources": held, "recipient_resources": 31.256, "trace": trace}


def prompts(**values: Any) -> dict[str, str]:
    """Every prompt of one config: system, first strategy, inherited strategy, donation."""
    context = GameContext.from_config(DonorGameConfig(agents=12, **values))
    donate = Donate(context, facts(), "My strategy will be to give half.")
    return {
        "system": donate.messages()[0]["content"],
        "first": WriteStrategy(context, "g0-a01", 0).messages()[1]["content"],
        "inherit": WriteStrategy(context, "g1-a01", 1, SURVIVORS).messages()[1]["content"],
        "donate": donate.messages()[1]["content"],
    }


# -- the study's content, item by item (the rows of docs/donor_game.md's table) ---------------


@pytest.mark.parametrize("punishment", ["none", "costly", "partner_choice"])
def test_every_vh2024_prompt_carries_each_item_of_the_table(punishment: str) -> None:
    shown = prompts(punishment=punishment)
    system, first, inherit, donate = (shown[k] for k in ("system", "first", "inherit",
                                                          "donate"))
    everything = "\n".join(shown.values())
    # 1. neutral framing
    assert system.startswith("You are a game-playing agent.")
    assert "game about giving" not in everything
    # 2. the trace rules with a worked example going several rounds back, and the warning,
    # in the rules and again in both strategy prompts
    for text in (system, first, inherit):
        assert "In round 4, P gave 30.00% of their resources to Q." in text
        assert "In round 2, R gave 80.00% of their resources to S." in text
        assert "never several of P's acts" in text
    # 3. survivors continue playing; nobody is told newcomers read their strategies
    assert "survive into the next generation and continue playing" in system
    for words in ("shown the survivors' strategies", "replacing one who did not survive",
                  "no strategies of earlier players"):
        assert words not in everything
    # 4. the first round has no information, and no false claim about a first donor turn
    for text in (first, inherit):
        assert ("In the first round of a game nobody has been a donor yet, so there is no "
                "information at all about the recipient's past") in text
    assert "first round as donor" not in everything
    # 5. the advice without names (its order: test_survivors_advice_arrives_best_first...)
    assert "<agent_text>\nGive half to givers.\n</agent_text>" in inherit
    assert "g0-a04" not in inherit and "author=" not in inherit
    # 6. reasoning step by step in prose, then the answer; no JSON asked for
    assert "Think step by step" in donate and "in as many lines as you need" in donate
    assert 'end your reply with a final line "Answer: ' in donate
    assert "JSON" not in everything and "{" not in donate
    # 7. the cost framing
    assert "How many units do you give up?" in donate and "give to g0-a03" not in donate
    # 8. shares to two decimals, one line per act, no heading, no bullets
    assert "\nIn round 5, g0-a03 gave 45.60% of their resources to g0-a05.\n" in donate
    assert "most recent first" not in donate and "\n- " not in donate
    # 9. the survival sentence the study used, whatever the rule (see the next test)
    assert "the best-performing players (the top 50%) survive" in system
    assert "best-performing players of the last generation" in inherit
    # 10. the punishment trace states what it cost and the fine
    assert ("In round 4, g0-a05 spent 1.50 units (20.00% of their resources) to punish "
            "g1-a00, who lost 3.00 units.") in donate
    if punishment == "costly":  # 10. offered beside giving, and repeated for strategies
        assert "Giving and punishing are the donor's two choices." in system
        assert ("You may donate them, and then g0-a03 receives 2 times that many units, or "
                "spend them to punish g0-a03, who then loses 2 times that many units.") in donate
        assert '"Answer: donate <a number' in donate and '"Answer: punish <a number' in donate
        for text in (first, inherit):
            assert "you may also punish your recipient instead of giving" in text
    elif punishment == "partner_choice":  # 11. a refusal is a way to punish
        assert "punish the recipient by refusing to interact with it" in system
        assert "You may also punish g0-a03 by refusing to interact with them" in donate
        assert '"Answer: refuse" to refuse' in donate
        for text in (first, inherit):
            assert "punish your recipient by refusing to interact with them" in text
    else:
        assert "punish" not in system and "punish" not in first and "punish" not in inherit


@pytest.mark.parametrize("selection", ["random", "reputation", "generosity", "proportional"])
def test_the_study_says_the_best_survive_whatever_the_rule_and_the_true_rule_is_a_key(
    selection: str,
) -> None:
    study = prompts(selection=selection)
    assert study["system"] == prompts()["system"]  # as under 'top'
    told = prompts(selection=selection, tell_selection_rule="always")
    assert "best-performing" not in told["system"] + told["inherit"]
    assert "Here is the advice of the players who survived the last generation:" in \
        told["inherit"]
    sentence = {"random": "drawn at random, survive", "reputation": "the best reputation",
                "generosity": "gave the largest shares", "proportional": "in proportion to"}
    assert sentence[selection] in told["system"]
    rules_only = prompts(selection=selection, tell_selection_rule="rules_only")
    assert sentence[selection] in rules_only["system"]
    assert "best-performing players of the last generation" in rules_only["inherit"]


# Each key set to Societas 0.1's value under vh2024 brings back that sentence alone.
ONE_FACTOR = [
    ("framing", "giving", "system", "You are a player in a game about giving"),
    ("trace_explanation", "brief", "system", "up to 3 steps back. That is all the donor knows"),
    ("trace_format", "bulleted", "donate",
     "What g0-a03 and their earlier partners did, most recent first:\n- In round 5, g0-a03 "
     "gave 46% of their resources"),
    ("tell_successors", True, "system", "the rest are replaced by new players, who are shown "
     "the survivors' strategies"),
    ("first_round_note", "first_donor_turn", "first", "In a player's first round as donor"),
    ("show_survivor_names", True, "inherit", '<agent_text author="g0-a04">'),
    ("reasoning_format", "json", "donate", 'reply with only a JSON object: {"reasoning": '),
    ("donation_question", "give_to", "donate", "How many units do you give to g0-a03?"),
    ("sanction_framing", "optional", "donate", "You may instead punish g0-a03"),
]


@pytest.mark.parametrize(("key", "value", "where", "words"), ONE_FACTOR,
                         ids=[key for key, *_ in ONE_FACTOR])
def test_each_wording_choice_is_a_key_of_its_own(key: str, value: Any, where: str,
                                                   words: str) -> None:
    study = prompts(punishment="costly")
    changed = prompts(punishment="costly", **{key: value})
    assert words not in study[where]
    assert words in changed[where]
    assert DonorGameConfig(protocol="legacy").model_dump()[key] == value


def test_legacy_prompts_and_stores_are_societas_0_1s(tmp_path: Path) -> None:
    """Every legacy prompt of 249 variants is what main rendered before the rewording, and small
    legacy runs (LLM brains under each sanction, rule brains) write the same stores."""
    recorded = json.loads(LEGACY_DIGESTS.read_text())
    rendered = {case: digest(text) for case, text in legacy_prompts()}
    rendered.update(legacy_runs(tmp_path))
    assert set(rendered) == set(recorded)
    changed = sorted(case for case in recorded if rendered[case] != recorded[case])
    assert not changed, f"legacy prompts or stores changed: {changed[:5]}"


# -- answers in prose -----------------------------------------------------------------------


def test_prose_answers_are_read_from_the_answer_line() -> None:
    context = GameContext.from_config(DonorGameConfig(agents=4))
    task = Donate(context, facts(held=12.5, trace=[]), "plan")
    assert task.response_format() is None  # a schema would force JSON on constrained models
    reasoning = ("Justification:\nThey gave 40% of their 10 units last round, which is the\n"
                 "answer to my question: were they generous? Yes.\n\n")
    assert task.parse(reasoning + "Answer: 5").units == 5.0
    assert task.parse(reasoning + "**Answer:** 2.5 units (20% of my 12.50)").units == 2.5
    assert task.parse(reasoning + "Final answer:\n0").units == 0.0
    assert task.parse('{"reasoning": "json anyway", "units": 1}').units == 1.0
    assert task.parse("I will donate 3.").units == 3.0  # no answer line: read leniently
    with pytest.raises(ParseError, match=r'"Answer: <a number from 0 to 12.50>"') as caught:
        task.parse(reasoning + "Answer: 13")
    assert "outside the allowed range 0 to 12.5" in str(caught.value)
    with pytest.raises(ParseError, match="end your reply with a final line"):
        task.parse("Giving some, but not sure how much.")
    costly = Donate(GameContext.from_config(DonorGameConfig(agents=4, punishment="costly")),
                    facts(trace=[]), "plan")
    assert costly.parse(reasoning + "Answer: Punish, 2") == Donation("punish", 0.16, units=2.0)
    assert costly.parse(reasoning + "Answer: donate 5") == Donation("donate", 0.4, units=5.0)
    assert costly.parse("Answer: 4").action == "donate"
    with pytest.raises(ParseError, match="names both giving and punishing"):
        costly.parse("Answer: donate 2 or punish 2")
    strategy = WriteStrategy(context, "g0-a00", 0)
    assert strategy.response_format() is None
    assert strategy.parse("Step 1: gifts double.\nStep 2: defectors exploit.\n\nMy strategy "
                          "will be to give half to givers.") == (
        "My strategy will be to give half to givers.")


@pytest.mark.parametrize(("punishment", "reply", "read"), [
    ("none", "Answer: punish 2", None),  # once a gift of 2: the opposite of what was meant
    ("none", "Answer: refuse 3", None),
    ("partner_choice", "Answer: punish 2", None),  # punishing here is refusing
    ("partner_choice", "Answer: Refusal.", Donation("refuse", 0.0)),
    ("costly", "Answer: refuse 3", None),
    ("costly", "Answer: Punishment: 2", Donation("punish", 0.16, units=2.0)),  # once a gift
    ("none", "Answer: 0 (I refuse to give anything)", Donation("donate", 0.0, units=0.0)),
])
def test_an_answer_naming_a_sanction_not_offered_is_repaired_not_read_as_a_gift(
        punishment: str, reply: str, read: Donation | None) -> None:
    task = Donate(GameContext.from_config(DonorGameConfig(agents=4, punishment=punishment)),
                  facts(trace=[]), "plan")
    if read is not None:
        assert task.parse(reply) == read
        return
    with pytest.raises(ParseError, match="not one of your choices here; end your reply with"):
        task.parse(reply)


@pytest.mark.parametrize(("reply", "read"), [
    ('{"action": "punish", "units": 2}', None),  # once a gift of 2, as the answer line was
    ('{"reasoning": "no", "action": "Refuse", "units": 0}', None),
    ('{"action": "give", "units": 2}', Donation("donate", 0.16, units=2.0)),
    ('{"units": 2}', Donation("donate", 0.16, units=2.0)),
])
def test_a_json_reply_naming_a_sanction_not_offered_is_repaired_not_read_as_a_gift(
        reply: str, read: Donation | None) -> None:
    context = GameContext.from_config(DonorGameConfig(agents=4, reasoning_format="json"))
    task = Donate(context, facts(trace=[]), "plan")
    if read is not None:
        assert task.parse(reply) == read
        return
    with pytest.raises(ParseError, match=r"no choice to (punish|refuse) in this game"):
        task.parse(reply)


# -- survivors' advice ------------------------------------------------------------------------


def _run(tmp_path: Path, name: str, server: ScriptedLLMServer, **values: Any) -> Path:
    config = load_config(SCENARIO.config_type, values={
        "model": "openai/scripted", "api_base": server.url, "agents": 4, "generations": 2,
        "rounds": 4, "games": 1, "seed": 0, "timeout_s": 5.0, **values})
    result = run_scenario(SCENARIO, config, run_dir=tmp_path / name, progress=False,
                          figures=False)
    assert result.status == "finished" and result.stats.fallbacks == 0
    return result.run_dir


def _advice_read(run_dir: Path) -> list[tuple[str, list[str]]]:
    """Each generation-2 newcomer's strategy prompt: the authors named and the texts quoted."""
    found = []
    for (messages,) in calls(run_dir, "messages", "WHERE agent_id LIKE 'g1-%' AND "
                                                  "purpose = 'decide' ORDER BY call_id"):
        user = json.loads(messages)[-1]["content"]
        if "advice" not in user:
            continue
        blocks = re.findall(r'<agent_text( author="[^"]+")?>\n(.*?)\n</agent_text>', user, re.S)
        found.append(([a for a, _ in blocks], [text for _, text in blocks]))
    return found


def test_survivors_advice_arrives_best_first_and_unnamed(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        study = _run(tmp_path, "study", server)
        legacy = _run(tmp_path, "legacy", server, protocol="legacy")
    for run_dir, order in ((study, "rank"), (legacy, "agent_id")):
        survivors = [a for (a,) in query(run_dir, "SELECT agent_id FROM generation_scores "
                                                  f"WHERE generation = 0 AND survived = 1 "
                                                  f"ORDER BY {order}")]
        texts = dict(query(run_dir, "SELECT agent_id, text FROM strategies"))
        expected = [texts[a] for a in survivors]
        assert len(set(expected)) == len(expected) == 2  # distinct: the order is visible
        shown = _advice_read(run_dir)
        assert len(shown) == 2  # both newcomers of generation 2
        for authors, quoted in shown:
            assert quoted == expected  # best first (study), slot order (legacy)
            if run_dir == study:
                assert authors == ["", ""]
            else:
                assert authors == [f' author="{a}"' for a in survivors]
    ranks = [a for (a,) in query(study, "SELECT agent_id FROM generation_scores WHERE "
                                        "generation = 0 AND survived = 1 ORDER BY rank")]
    slots = sorted(ranks)
    assert ranks != slots, "seed 0 should rank the survivors out of slot order"


# -- reputation selection ---------------------------------------------------------------------


def reputation_by_hand(run_dir: Path, generation: int) -> dict[str, float]:
    """The study's reputation score of each agent, from the donations table alone: per game,
    the first gift sets the score to the share given; each later gift makes it (1 - |share -
    recipient's score| + 0.5 * score) / 1.5, scores read as they stood at the start of the
    round (no score: 0); the games' final scores averaged."""
    per_game: dict[str, list[float]] = {}
    games = query(run_dir, f"SELECT DISTINCT game FROM donations WHERE generation = "
                           f"{generation} ORDER BY game")
    for (game,) in games:
        score: dict[str, float] = {}
        rows = query(run_dir, "SELECT step, donor, recipient, action, fraction FROM donations "
                              f"WHERE generation = {generation} AND game = {game} "
                              "ORDER BY step, rowid")
        for step in sorted({r[0] for r in rows}):
            before = dict(score)
            for _, donor, recipient, action, share in (r for r in rows if r[0] == step):
                if action != "donate":
                    continue
                if donor not in before:
                    score[donor] = share
                else:
                    match = 1 - abs(share - before.get(recipient, 0.0))
                    score[donor] = (match + 0.5 * before[donor]) / 1.5
        for agent, value in score.items():
            per_game.setdefault(agent, []).append(value)
    return {agent: sum(values) / len(values) for agent, values in per_game.items()}


def test_reputation_selection_keeps_whom_the_studys_score_ranks_best(tmp_path: Path) -> None:
    with ScriptedLLMServer(scripted_player) as server:
        run_dir = _run(tmp_path, "reputation", server, agents=6, rounds=6, games=2,
                       generations=2, selection="reputation")
    scores = query(run_dir, "SELECT agent_id, score, survived FROM generation_scores WHERE "
                            "generation = 0 ORDER BY rank")
    by_hand = reputation_by_hand(run_dir, 0)
    assert {agent: pytest.approx(value) for agent, value in by_hand.items()} == \
        {agent: score for agent, score, _ in scores}
    ranked = sorted(by_hand, key=by_hand.get, reverse=True)
    assert by_hand[ranked[2]] > by_hand[ranked[3]], "no tie at the cut, so survivors are sure"
    assert {agent for agent, _, survived in scores if survived} == set(ranked[:3])
    # it is not the generous who survive: the score is not the mean share given
    shares = dict(query(run_dir, "SELECT agent_id, share_given FROM generation_scores WHERE "
                                 "generation = 0"))
    generous = sorted(shares, key=shares.get, reverse=True)[:3]
    assert set(generous) != set(ranked[:3])


def test_strategy_requests_are_recognised_in_every_format() -> None:
    for fmt in ("text", "json"):
        shown = prompts(reasoning_format=fmt)
        for name in ("first", "inherit"):
            request = ChatRequest([{"role": "user", "content": shown[name]}], "", {}, 0)
            assert is_strategy_request(request)
        donation = ChatRequest([{"role": "user", "content": shown["donate"]}], "", {}, 0)
        assert not is_strategy_request(donation)


# -- rendering -------------------------------------------------------------------------------

PROMPT_PACKAGES = ["scenarios.commons", "scenarios.donor_game", "scenarios.ipd",
                   "scenarios.network_norms", "scenarios.public_goods", "scenarios.town",
                   "sim.evolution", "sim.memory"]


def test_every_template_renders_as_string_template_substitutes_it(tmp_path: Path) -> None:
    """`PromptLibrary.render` formats a template made once per template instead of running
    `string.Template.substitute` per prompt: the same text for every template shipped and for
    a user's override with `$$`, braces and repeated names, and the same errors."""
    from sim.prompting import PromptError, PromptLibrary, template_names

    for package in PROMPT_PACKAGES:
        library = PromptLibrary(package)
        for name in sorted(template_names(package)):
            template = library.template(name)
            names = {m.group("named") or m.group("braced")
                     for m in template.pattern.finditer(template.template)} - {None}
            values = {key: f"<{key} {{0}} $x>" for key in names} | {"extra": 1.5}
            assert library.render(name, **values) == template.substitute(values).strip()
    (tmp_path / "parts").mkdir()
    (tmp_path / "donate.txt").write_text("  Pay $$${amount} {as JSON: {\"a\": $amount}}, "
                                         "$name ${name}s\n", encoding="utf-8")
    (tmp_path / "parts" / "broken.txt").write_text("costs $ 5", encoding="utf-8")
    library = PromptLibrary("scenarios.donor_game", tmp_path)
    assert library.render("donate.txt", amount=2.5, name=None) == (
        'Pay $2.5 {as JSON: {"a": 2.5}}, None Nones')
    with pytest.raises(PromptError, match=r"uses unknown placeholder 'name' \(known: amount\)"):
        library.render("donate.txt", amount=1)
    with pytest.raises(PromptError, match=r"Invalid placeholder .* \(write \$\$ for a literal"):
        library.render("parts/broken.txt")
    # a part that takes none once said "(known: )"
    (tmp_path / "parts" / "framing_neutral.txt").write_text("You are $who.", encoding="utf-8")
    with pytest.raises(PromptError,
                       match=r"placeholder 'who' \(this template takes no placeholders\)"):
        library.render("parts/framing_neutral.txt")


def test_a_bare_number_on_the_answer_line_reads_as_parse_number_reads_it() -> None:
    """Most answer lines are a bare number, read at once (`read_answer`); every other line,
    and a number out of range, still goes through `parse_number`, whose reading the quick one
    must equal."""
    from scenarios.donor_game.answers import read_answer
    from sim.llm.parsing import parse_number

    amounts = ["0", "007", "9.59", ".5", "12.5", "12.50", "12.51", "13", "1e3", "3.", "-1",
               "+2", "1,5", "1/2", "2 units", "all", "nothing", "5%", "2-3", "9" * 400]
    for amount in amounts:
        for high in (0.0, 12.5, 100.0):
            try:
                expected: Any = parse_number(f"Answer: {amount}", low=0.0, high=high,
                                             answer_markers=("answer", "donate", "give",
                                                             "punish", "punishment"))
            except ParseError:
                expected = ParseError
            try:
                found: Any = read_answer(f"Thinking.\nAnswer: {amount}", unit="units",
                                         high=high, alternative=None)["units"]
            except ParseError:
                found = ParseError
            assert found == expected, (amount, high)
