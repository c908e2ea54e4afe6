"""Tests for sim.llm.parsing: realistic messy replies from models large and small.

Each case is a reply shape seen from chat models (reasoning before the answer, JSON in fences,
Markdown, prompt echoes, hedges). The contract under test: a reply is either read correctly or
rejected with a `ParseError` whose message tells the model how to fix it, never misread.
"""

from __future__ import annotations

import pytest

from sim.llm.parsing import (
    DEFAULT_NUMBER_MARKERS,
    clean_free_text,
    find_json_object,
    parse_choice,
    parse_number,
    strip_code_fences,
)
from sim.tasks import ParseError

# The verbs of a donation question, passed as a scenario passes its own (the engine's default
# markers carry no game's words).
MARKERS = ("answer", "final answer", "donate", "give", "donation")
PERCENT = {"low": 0, "high": 100, "answer_markers": MARKERS}
FRACTION = {"low": 0, "high": 1, "answer_markers": MARKERS}

# --------------------------------------------------------------------------- strip_code_fences


@pytest.mark.parametrize(
    ("reply", "inner"),
    [
        ('```json\n{"percent": 40}\n```', '{"percent": 40}'),
        ("```\nGive half.\n```", "Give half."),
        ('Here you go:\n```json\n{"a": 1}\n```\nHope that helps!', '{"a": 1}'),
        ("```Give half```", "Give half"),
        ("```python\nprint(1)\n", "print(1)"),  # cut off before the closing fence
    ],
)
def test_strip_code_fences_returns_the_fenced_content(reply: str, inner: str) -> None:
    assert strip_code_fences(reply) == inner


def test_strip_code_fences_leaves_unfenced_text_alone() -> None:
    text = "  Answer: 30 `inline code` stays  "
    assert strip_code_fences(text) == text


# --------------------------------------------------------------------------- find_json_object


@pytest.mark.parametrize(
    "reply",
    [
        '{"percent": 30}',
        '```json\n{"percent": 30}\n```',
        'Sure! {"percent": 30} is my answer.',
        'I thought about sets like {a, b} first.\nThen: {"percent": 30}',
        '{"percent": 30,}',  # trailing comma
        "{percent: 30}",  # bare key
        "{'percent': 30}",  # Python-style quotes
        '<think>maybe {"percent": 90}</think>{"percent": 30}',
    ],
)
def test_find_json_object_finds_the_answer_object(reply: str) -> None:
    assert find_json_object(reply) == {"percent": 30}


def test_find_json_object_returns_the_first_of_several() -> None:
    assert find_json_object('{"a": 1} and later {"b": 2}') == {"a": 1}


def test_find_json_object_keeps_nested_objects_and_raw_newlines() -> None:
    reply = '{"decision": {"percent": 30}, "strategy": "Give.\nForgive once."}'
    assert find_json_object(reply) == {
        "decision": {"percent": 30},
        "strategy": "Give.\nForgive once.",
    }


def test_find_json_object_repairs_do_not_touch_string_contents() -> None:
    assert find_json_object('{"rule": "give, } when: kind",}') == {"rule": "give, } when: kind"}


@pytest.mark.parametrize(
    "reply",
    ["", "I will donate 30%.", "[1, 2, 3]", '{"percent": ', "{not json at all}", "{" * 5000],
)
def test_find_json_object_returns_none_without_an_object(reply: str) -> None:
    assert find_json_object(reply) is None


def test_find_json_object_gives_up_on_apostrophes_in_single_quoted_objects() -> None:
    # Swapping quotes would corrupt "don't"; refusing is better than guessing.
    assert find_json_object("{'strategy': 'don't give'}") is None


# --------------------------------------------------------------------------- parse_number


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("30", 30),
        ("30%", 30),
        ("**40%**", 40),
        ("  25 percent.  ", 25),
        ("Answer: 30", 30),
        ("ANSWER:30", 30),
        ("**Answer:** 45", 45),
        ("Final answer - 25 percent", 25),
        ("Final answer: \\boxed{35}", 35),
        ("I will donate 30% of my resources.", 30),
        ("I'll give them 15%.", 15),
        ("My donation is about 12.5%", 12.5),
        ("Donation = 60", 60),
    ],
)
def test_parse_number_reads_simple_and_marked_answers(reply: str, expected: float) -> None:
    assert parse_number(reply, **PERCENT) == expected


def test_parse_number_takes_the_last_marked_answer_after_reasoning() -> None:
    reply = (
        "Let me think step by step. Agent a0-7 donated 40% to a0-2 in round 3, so they\n"
        "cooperate. Normally I would give 50%, but resources are low (12.5 left).\n"
        "Answer: 30"
    )
    assert parse_number(reply, **PERCENT) == 30


def test_parse_number_reads_a_bare_number_on_the_last_line() -> None:
    reply = "They gave 40% last time, so I will be a little more careful.\n\n**30%**"
    assert parse_number(reply, **PERCENT) == 30


def test_parse_number_accepts_a_single_number_anywhere() -> None:
    assert parse_number("I think that 35% feels about right here.", **PERCENT) == 35


def test_parse_number_accepts_the_same_number_repeated() -> None:
    assert parse_number("35% seems fair. Yes, 35%.", **PERCENT) == 35


def test_parse_number_ignores_list_enumerators() -> None:
    reply = "1. They cooperated last round.\n2. I want to reward that.\nSo 40% it is."
    assert parse_number(reply, **PERCENT) == 40


def test_parse_number_reads_a_fraction_as_the_number_written() -> None:
    assert parse_number("I'll donate 0.5 of my resources", **FRACTION) == 0.5
    assert parse_number("Answer: .25", **FRACTION) == 0.25


def test_parse_number_keeps_negative_numbers() -> None:
    assert parse_number("Answer: -5", low=-10, high=10) == -5
    assert parse_number("Answer: −2.5", low=-10, high=10) == -2.5  # Unicode minus


def test_parse_number_ignores_reasoning_in_think_tags() -> None:
    reply = "<think>Answer: 90? No, too generous.</think>\nAnswer: 10"
    assert parse_number(reply, **PERCENT) == 10


def test_parse_number_does_not_read_digits_inside_names() -> None:
    reply = "As GPT-4 playing with agent a0-7, I think 20% is right."
    assert parse_number(reply, **PERCENT) == 20


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"percent": 40}', 40),
        ('```json\n{"percent": 40}\n```', 40),
        ('Sure! {"Percent": "40%"} is my answer', 40),
        ('{"decision": {"percent": 12.5}}', 12.5),
        ('Format: {"percent": X}. My reply: {"percent": 25}', 25),
        ('Example {"percent": 50}. Mine: {"percent": 20}', 20),
        ('{"percent": 0, "reasoning": "they defected 3 times"}', 0),
    ],
)
def test_parse_number_prefers_the_json_key(reply: str, expected: float) -> None:
    assert parse_number(reply, json_keys=("percent",), **PERCENT) == expected


def test_parse_number_json_key_beats_numbers_in_prose() -> None:
    reply = 'I considered 10% and 50%. Answer: 50\n{"percent": 10}'
    assert parse_number(reply, json_keys=("percent",), **PERCENT) == 10


def test_parse_number_falls_back_to_prose_when_json_lacks_the_key() -> None:
    assert parse_number('{"donation": 30}', json_keys=("percent",), **PERCENT) == 30


@pytest.mark.parametrize("reply", ["Nothing.", "zero", "Answer: none", "I will donate nothing."])
def test_parse_number_reads_zero_words(reply: str) -> None:
    assert parse_number(reply, **PERCENT) == 0


@pytest.mark.parametrize(
    "reply",
    [
        "All",
        "Everything!",
        "I will donate everything.",
        "Give all.",
        "I'll donate all my resources.",
    ],
)
def test_parse_number_reads_all_as_the_maximum(reply: str) -> None:
    assert parse_number(reply, **FRACTION) == 1


def test_parse_number_does_not_read_all_inside_a_phrase() -> None:
    with pytest.raises(ParseError, match="no number found"):
        parse_number("Final answer: All in all, a moderate donation.", **PERCENT)


@pytest.mark.parametrize(
    "reply",
    [
        "Maybe 10, maybe 20.",
        "They gave 40% last time and have 12 resources left, so 30% seems fair.",
        "1. 10\n2. 20\n3. 30",
    ],
)
def test_parse_number_rejects_several_unmarked_numbers(reply: str) -> None:
    with pytest.raises(ParseError, match="ambiguous: found several numbers"):
        parse_number(reply, **PERCENT)


@pytest.mark.parametrize(
    "reply",
    ["I will donate 20-30%", "I could give 10 or 20", "Answer: 25 to 35", "Answer: 30%, 40%"],
)
def test_parse_number_rejects_ranges_and_hedges_after_a_marker(reply: str) -> None:
    with pytest.raises(ParseError, match="several values"):
        parse_number(reply, **PERCENT)


def test_default_markers_are_generic_and_a_scenario_adds_its_verbs() -> None:
    assert set(DEFAULT_NUMBER_MARKERS) == {"answer", "final answer"}
    # without the scenario's verb, a hedge is just two unmarked numbers
    with pytest.raises(ParseError, match="ambiguous: found several numbers"):
        parse_number("I will donate 20-30%", low=0, high=100)
    assert parse_number("They gave 40%. I will contribute 30%.", low=0, high=100,
                        answer_markers=("answer", "contribute")) == 30
    with pytest.raises(ParseError, match="ambiguous"):
        parse_number("They gave 40%. I will contribute 30%.", low=0, high=100)


def test_parse_number_out_of_range_names_the_range() -> None:
    with pytest.raises(ParseError, match="150 is outside the allowed range 0 to 100"):
        parse_number("Answer: 150", **PERCENT)
    with pytest.raises(ParseError, match="outside the allowed range -1 to 1"):
        parse_number("-3", low=-1, high=1)


def test_parse_number_suggests_a_fraction_for_a_percentage_out_of_range() -> None:
    with pytest.raises(ParseError, match=r"write a fraction such as 0\.4, not a percentage"):
        parse_number("I will donate 40%", **FRACTION)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("Answer: 0,5", "use a dot for decimals"),
        ("Answer: 1,000", "no thousands separators"),
        ("Answer: 1/2", "fraction; write it as a decimal number such as 0.5"),
    ],
)
def test_parse_number_rejects_numbers_it_could_misread(reply: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_number(reply, low=0, high=2000)


@pytest.mark.parametrize("reply", ["", "   \n ", "<think>40?</think>"])
def test_parse_number_rejects_empty_replies(reply: str) -> None:
    with pytest.raises(ParseError, match="empty reply"):
        parse_number(reply, **PERCENT)


@pytest.mark.parametrize("reply", ["🤷‍♂️", "I'm not sure what to do.", "I will donate half."])
def test_parse_number_rejects_replies_without_a_number(reply: str) -> None:
    with pytest.raises(ParseError, match="no number found"):
        parse_number(reply, **PERCENT)


@pytest.mark.parametrize(
    "reply", ['{"percent": "a lot"}', '{"percent": null}', '{"percent": true}']
)
def test_parse_number_rejects_a_non_numeric_json_value(reply: str) -> None:
    with pytest.raises(ParseError, match='"percent" must be a number'):
        parse_number(reply, json_keys=("percent",), **PERCENT)


def test_parse_number_rejects_non_finite_json() -> None:
    with pytest.raises(ParseError, match="finite"):
        parse_number('{"percent": NaN}', json_keys=("percent",), **PERCENT)


def test_parse_number_errors_show_the_expected_format() -> None:
    with pytest.raises(ParseError) as json_error:
        parse_number("no idea", json_keys=("percent",), **PERCENT)
    assert str(json_error.value) == 'no number found; reply with a JSON object like {"percent": 50}'
    with pytest.raises(ParseError) as prose_error:
        parse_number("no idea", **FRACTION)
    assert str(prose_error.value) == 'no number found; end your reply with "Answer: 0.5"'


def test_parse_number_honours_custom_markers() -> None:
    reply = "I keep 70 and I offer 30"
    assert parse_number(reply, low=0, high=100, answer_markers=("offer",)) == 30
    with pytest.raises(ParseError, match="ambiguous"):
        parse_number(reply, low=0, high=100, answer_markers=())


def test_parse_number_rejects_an_inverted_range() -> None:
    with pytest.raises(ValueError, match="low"):
        parse_number("5", low=10, high=0)


# --------------------------------------------------------------------------- parse_choice

ACTIONS = ("donate", "punish")


@pytest.mark.parametrize(
    "reply",
    [
        "donate",
        "DONATE!",
        "**Donate**",
        "Answer: donate",
        "They helped others last round, so I choose to donate.",
        "Should I donate or punish? They cooperated twice.\nDecision: donate",
        "Answer the question: donate or punish?\n\nThey were kind.\n\nDonate",
        "I will not punish them; I'll donate.",
        "Rather than punish, I donate.",
        "Answer: donate (not punish)",
    ],
)
def test_parse_choice_reads_prose(reply: str) -> None:
    assert parse_choice(reply, ACTIONS) == "donate"


@pytest.mark.parametrize(
    "reply",
    [
        '{"action": "donate"}',
        '```json\n{"Action": "Donate"}\n```',
        'I considered punishing. {"action": "donate", "reason": "they may punish"}',
        '{"action": "I donate"}',
    ],
)
def test_parse_choice_prefers_the_json_key(reply: str) -> None:
    assert parse_choice(reply, ACTIONS, json_keys=("action",)) == "donate"


def test_parse_choice_returns_the_spelling_given_by_the_caller() -> None:
    assert parse_choice("i pick cooperate", ("Cooperate", "Defect")) == "Cooperate"


def test_parse_choice_matches_whole_words_and_multi_word_options() -> None:
    options = ("always defect", "defect", "cooperate")
    assert parse_choice("My plan: always defect.", options) == "always defect"
    assert parse_choice("I defect.", options) == "defect"
    # "cooperated" is not the word "cooperate"
    assert parse_choice("They cooperated, but I defect.", options) == "defect"


@pytest.mark.parametrize("reply", ["Donate or punish? Hard to say.", "I might donate, or punish."])
def test_parse_choice_rejects_several_options_without_a_marker(reply: str) -> None:
    with pytest.raises(ParseError, match=r"ambiguous: found several options \(donate, punish\)"):
        parse_choice(reply, ACTIONS)


@pytest.mark.parametrize("reply", ["I like turtles 🐢", "I will not punish."])
def test_parse_choice_rejects_replies_without_an_option(reply: str) -> None:
    with pytest.raises(ParseError, match="no option found; reply with exactly one of: donate"):
        parse_choice(reply, ACTIONS)


def test_parse_choice_rejects_empty_replies() -> None:
    with pytest.raises(ParseError, match="empty reply"):
        parse_choice("  ", ACTIONS)


def test_parse_choice_rejects_an_unknown_json_value() -> None:
    with pytest.raises(ParseError, match='"action" must be one of donate, punish, got "hug"'):
        parse_choice('{"action": "hug"}', ACTIONS, json_keys=("action",))


def test_parse_choice_rejects_no_choices() -> None:
    with pytest.raises(ValueError, match="choices"):
        parse_choice("donate", ())


# --------------------------------------------------------------------------- clean_free_text


@pytest.mark.parametrize(
    "reply",
    [
        "Give half to agents who gave.",
        "Strategy: Give half to agents who gave.",
        "My strategy: Give half to agents who gave.",
        "**Strategy:** Give half to agents who gave.",
        "**My new strategy**: Give half to agents who gave.",
        "## Strategy\nGive half to agents who gave.",
        '"Give half to agents who gave."',
        "Here is my strategy: Give half to agents who gave.",
        "Sure! Here's my updated strategy:\n\n“Give half to agents who gave.”",
        "```\nGive half to agents who gave.\n```",
        "```text\nStrategy: Give half to agents who gave.\n```",
        "<think>What worked last time?</think>\nStrategy: Give half to agents who gave.",
    ],
)
def test_clean_free_text_strips_wrappers_and_labels(reply: str) -> None:
    assert clean_free_text(reply, max_chars=500) == "Give half to agents who gave."


def test_clean_free_text_prefers_the_json_key() -> None:
    reply = 'Here it is:\n```json\n{"strategy": "Reciprocate.\\nForgive once."}\n```'
    assert clean_free_text(reply, max_chars=500, json_keys=("strategy",)) == (
        "Reciprocate.\nForgive once."
    )


def test_clean_free_text_joins_a_json_list_of_rules() -> None:
    reply = '{"strategy": ["Give 50% to cooperators.", "Punish defectors."]}'
    assert clean_free_text(reply, max_chars=500, json_keys=("strategy",)) == (
        "Give 50% to cooperators.\nPunish defectors."
    )


def test_clean_free_text_rejects_a_non_string_json_value() -> None:
    with pytest.raises(ParseError, match='"strategy" must be a string'):
        clean_free_text('{"strategy": 42}', max_chars=500, json_keys=("strategy",))


def test_clean_free_text_keeps_quotes_that_do_not_wrap_the_whole_text() -> None:
    text = '"Give" if they gave, "keep" otherwise.'
    assert clean_free_text(text, max_chars=500) == text


def test_clean_free_text_keeps_a_sentence_that_merely_starts_with_strategy() -> None:
    text = "My strategy is simple: reciprocate."
    assert clean_free_text(text, max_chars=500) == text


def test_clean_free_text_collapses_blank_lines_and_trailing_spaces() -> None:
    reply = "Rule 1: give.   \n\n\n\n  \nRule 2: forgive.\n\n"
    assert clean_free_text(reply, max_chars=500) == "Rule 1: give.\n\nRule 2: forgive."


def test_clean_free_text_truncates_on_a_word_boundary() -> None:
    text = "Always give half of my resources to agents who gave last round"
    cleaned = clean_free_text(text, max_chars=20)
    assert cleaned == "Always give half of…"
    assert len(cleaned) <= 20


def test_clean_free_text_keeps_a_word_that_ends_exactly_at_the_limit() -> None:
    assert clean_free_text("one two three four", max_chars=8) == "one two…"


def test_clean_free_text_cuts_a_single_long_word() -> None:
    assert clean_free_text("a" * 50, max_chars=10) == "a" * 9 + "…"


def test_clean_free_text_leaves_short_text_untouched() -> None:
    assert clean_free_text("Tit for tat.", max_chars=12) == "Tit for tat."


@pytest.mark.parametrize("reply", ["", "   \n\t", "Strategy:", "```\n\n```", '""'])
def test_clean_free_text_rejects_empty_replies(reply: str) -> None:
    with pytest.raises(ParseError, match="empty reply"):
        clean_free_text(reply, max_chars=100)


def test_clean_free_text_rejects_a_zero_limit() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        clean_free_text("text", max_chars=0)


# Code fences: only a fence around the whole reply is taken away; one inside the reply, or in a
# value already taken out of a reply, is the agent's own text and is stored as written.
FENCED_RULE = "Give half. My rule, exactly:\n```\nif partner.gave: give(0.5)\n```\nOtherwise keep."


def test_clean_free_text_keeps_a_fence_inside_the_reply() -> None:
    assert clean_free_text(FENCED_RULE, max_chars=500) == FENCED_RULE
    two = "```\nfirst\n```\nthen prose\n```\nsecond\n```"
    assert clean_free_text(two, max_chars=500) == two


def test_clean_free_text_keeps_every_fence_of_an_extracted_value() -> None:
    wrapped = "```python\nprint('hello')\n```"
    assert clean_free_text(wrapped, max_chars=500, extracted=True) == wrapped
    assert clean_free_text(wrapped, max_chars=500) == "print('hello')"  # a whole reply


def test_clean_free_text_keeps_a_fence_in_a_json_value() -> None:
    reply = '{"strategy": "' + FENCED_RULE.replace("\n", "\\n") + '"}'
    assert clean_free_text(reply, max_chars=500, json_keys=("strategy",)) == FENCED_RULE
    assert clean_free_text("```json\n" + reply + "\n```", max_chars=500,
                           json_keys=("strategy",)) == FENCED_RULE
