"""Reply formats: one pydantic declaration gives the schema, the prompt's JSON, the validation
and the repair message, so they cannot disagree."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pytest
from pydantic import AliasChoices, Field

import sim.llm.local_model as local_model
from sim.llm.reply_format import Reply, ReplyFormat, reply_model, schema_only
from sim.tasks import ParseError


class Verdict(Reply):
    reasoning: str = Field("", description="one or two sentences",
                           json_schema_extra=schema_only(maxLength=50))
    action: Literal["keep", "share"] = "keep"
    amount: float = Field(ge=0, le=10, validation_alias=AliasChoices("amount", "units"))
    rating: int = Field(ge=1, le=5)


class Point(Reply):
    label: str = Field(description="a short name")
    tags: list[Annotated[int, Field(ge=1, le=3)]] = Field(min_length=1)


class Points(Reply):
    points: list[Point] = Field(min_length=1, json_schema_extra=schema_only(maxItems=2))


VERDICT = ReplyFormat(Verdict, name="verdict")
POINTS = ReplyFormat(Points)


def test_schema_keeps_declaration_order_bounds_and_choices() -> None:
    rf = VERDICT.response_format()
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "verdict"
    assert "strict" not in rf["json_schema"]  # OpenAI's strict mode rejects maxLength
    schema = rf["json_schema"]["schema"]
    assert list(schema["properties"]) == ["reasoning", "action", "amount", "rating"]
    assert schema["required"] == ["reasoning", "action", "amount", "rating"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["reasoning"] == {
        "type": "string", "maxLength": 50, "description": "one or two sentences"}
    assert schema["properties"]["action"] == {"type": "string", "enum": ["keep", "share"]}
    assert schema["properties"]["amount"] == {"type": "number", "minimum": 0, "maximum": 10}
    assert schema["properties"]["rating"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert "title" not in json.dumps(schema) and "default" not in json.dumps(schema)


def test_nested_models_are_inlined_and_llama_cpp_can_enforce_them() -> None:
    schema = POINTS.response_format()["json_schema"]["schema"]
    assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)
    item = schema["properties"]["points"]["items"]
    assert item["required"] == ["label", "tags"] and item["additionalProperties"] is False
    assert schema["properties"]["points"]["maxItems"] == 2
    grammar = local_model.for_llama_cpp(POINTS.response_format())["schema"]
    assert grammar["properties"]["points"]["items"]["properties"]["tags"]["items"] == {
        "enum": [1, 2, 3]}
    verdict = local_model.for_llama_cpp(VERDICT.response_format())["schema"]["properties"]
    assert verdict["amount"] == {"enum": list(range(11))}
    assert verdict["rating"] == {"enum": [1, 2, 3, 4, 5]}


def test_prompt_text_comes_from_the_same_declaration() -> None:
    assert VERDICT.example() == (
        '{"reasoning": "<one or two sentences>", "action": "keep" or "share", '
        '"amount": <number from 0 to 10>, "rating": <whole number from 1 to 5>}')
    assert VERDICT.describe() == (
        'a JSON object with 4 keys: "reasoning", whose value is one or two sentences, '
        '"action", whose value is "keep" or "share", "amount", whose value is a number from '
        '0 to 10, and then "rating", whose value is a whole number from 1 to 5')
    assert POINTS.example() == (
        '{"points": [{"label": "<a short name>", "tags": [<whole number from 1 to 3>, ...]}, ...]}')
    one = ReplyFormat(reply_model("Plan", plan=(str, Field(description="your plan"))))
    assert one.describe() == 'a JSON object with one key, "plan", whose value is your plan'


@pytest.mark.parametrize("fmt", [VERDICT, POINTS])
def test_a_reply_built_from_the_schema_validates(fmt: ReplyFormat) -> None:
    sample = fmt.sample()
    assert list(sample) == fmt.fields
    assert fmt.parse(json.dumps(sample)).model_dump() == fmt.validate(sample).model_dump()


@pytest.mark.parametrize(
    "reply",
    [
        '{"amount": 4, "rating": 2}',
        '```json\n{"Amount": "4", "RATING": 2}\n```',
        'Sure. {"units": "4", "rating": 2.0} That is my answer, as asked.',
        'Format: {"amount": 9, "rating": 5}. Mine: {"amount": 4, "rating": 2, "mood": "ok"}',
        '<think>{"amount": 9}</think>{"answer": {"amount": 4, "rating": 2}}',
        '{"amount": "4 units", "rating": 2,}',
    ],
)
def test_json_is_read_leniently(reply: str) -> None:
    verdict = VERDICT.parse(reply)
    assert (verdict.amount, verdict.rating, verdict.action, verdict.reasoning) == (4, 2, "keep", "")


def test_choices_read_in_any_case_and_from_a_short_phrase() -> None:
    assert VERDICT.parse('{"action": "SHARE", "amount": 1, "rating": 1}').action == "share"
    assert VERDICT.parse('{"action": "I share", "amount": 1, "rating": 1}').action == "share"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ('{"amount": 11, "rating": 2}',
         r'"amount" is outside the allowed range 0 to 10 \(got 11\)'),
        ('{"amount": -1, "rating": 2}', r'"amount" is outside the allowed range 0 to 10'),
        ('{"amount": 1, "rating": 2.5}', r'"rating" must be a whole number \(got 2.5\)'),
        ('{"amount": 1}', r'"rating" is missing'),
        ('{"amount": 1, "rating": 2, "action": "hug"}',
         r'"action" must be "keep" or "share" \(got "hug"\)'),
        ('{"amount": "lots", "rating": 2}', r'"amount" must be a number \(got "lots"\)'),
        ('{"amount": "__import__(\'os\').system(\'true\')", "rating": 1}',
         r'"amount" must be a number'),
        ('{"reasoning": ["a", 1], "amount": 1, "rating": 1}', r'"reasoning" must be text'),
        ('{"amount": NaN, "rating": 1}', r'"amount" must be a number \(got NaN\)'),
        ('{"amount": Infinity, "rating": 1}', r'"amount" must be a number'),
    ],
)
def test_repair_message_names_the_field_and_what_is_allowed(reply: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        VERDICT.parse(reply)
    text = str(caught.value)
    assert "\n" not in text
    assert text.endswith(f"reply with a JSON object like {VERDICT.example()}")


def test_nested_errors_name_their_place_and_extra_problems_are_counted() -> None:
    with pytest.raises(ParseError, match=r'"points\[0\].tags\[1\]" is outside the allowed range '
                                         r'1 to 3 \(got 7\)'):
        POINTS.parse('{"points": [{"label": "a", "tags": [1, 7]}]}')
    with pytest.raises(ParseError, match=r'"amount" is missing \(and 1 more problem\)'):
        VERDICT.parse('{"reasoning": "hm"}')


def test_lengths_asked_in_the_schema_are_not_enforced_when_reading() -> None:
    long = "x" * 80  # maxLength 50 is asked of the model, not required of the reply
    assert VERDICT.parse(json.dumps({"reasoning": long, "amount": 1, "rating": 1})).reasoning \
        == long
    three = [{"label": "a", "tags": [1]}] * 3  # maxItems 2, likewise
    assert len(POINTS.parse(json.dumps({"points": three})).points) == 3


def test_bounds_of_the_situation_reach_schema_example_and_validation() -> None:
    narrow = VERDICT.within(amount={"maximum": 2.5})
    assert narrow.schema["properties"]["amount"] == {"type": "number", "minimum": 0,
                                                     "maximum": 2.5}
    assert VERDICT.schema["properties"]["amount"]["maximum"] == 10  # the base is untouched
    assert '"amount": <number from 0 to 2.5>' in narrow.example()
    assert narrow.parse('{"amount": 2.5, "rating": 1}').amount == 2.5
    with pytest.raises(ParseError, match=r'"amount" is outside the allowed range 0 to 2.5 '
                                         r'\(got 4\.0\)'):
        narrow.parse('{"amount": 4, "rating": 1}')
    assert narrow.prose_number("I keep most. Answer: 2", "amount", markers=("answer",)) == 2
    with pytest.raises(ParseError, match=r"outside the allowed range 0 to 2\.5"):
        narrow.prose_number("Answer: 3", "amount", markers=("answer",))
    with pytest.raises(ValueError, match="minimum/maximum"):
        VERDICT.within(reasoning={"maxLength": 3})
    # or a model built for the situation, when the bound is deeper than a top-level number
    built = ReplyFormat(reply_model("Pick", pick=(int, Field(ge=1, le=4))))
    assert built.schema["properties"]["pick"]["maximum"] == 4
    with pytest.raises(ParseError, match=r'"pick" is outside the allowed range 1 to 4'):
        built.parse('{"pick": 5}')


def test_prose_is_the_fallback_only_without_a_json_object() -> None:
    def prose(text: str) -> dict[str, object]:
        return {"amount": VERDICT.prose_number(text, "amount", markers=("answer",)),
                "rating": 3, "action": VERDICT.prose_choice(text, "action")}

    verdict = VERDICT.parse("I will share a little.\nAnswer: 2", prose=prose)
    assert (verdict.action, verdict.amount, verdict.rating) == ("share", 2, 3)
    # a JSON object with the fields wins over prose, and its errors are reported as such
    with pytest.raises(ParseError, match='"rating" is missing'):
        VERDICT.parse('Answer: 2 {"amount": 1}', prose=prose)
    with pytest.raises(ParseError, match=r'no JSON object with "reasoning", "action", "amount", '
                                         r'"rating" found; reply with a JSON object like \{'):
        VERDICT.parse("Answer: 2")
    with pytest.raises(ParseError, match="no number found"):
        VERDICT.parse("¯\\_(ツ)_/¯", prose=prose)


def test_a_required_text_copied_from_the_prompt_is_refused() -> None:
    plan = ReplyFormat(reply_model("Plan", plan=(str, Field(description="your plan"))))
    for copied in ('{"plan": "your plan"}', '{"plan": "<your plan>"}', '{"plan": "Your plan."}'):
        with pytest.raises(ParseError, match=r'"plan" repeats the prompt'):
            plan.parse(copied)
    assert plan.parse('{"plan": "share when shared with"}').plan == "share when shared with"
    # an optional field copied back is harmless and kept
    assert VERDICT.parse('{"reasoning": "<one or two sentences>", "amount": 1, "rating": 1}')


class Sanction(Reply):
    reasoning: str = Field("", description="one sentence")
    punish: bool = Field(description="whether you punish the recipient")


def test_a_bool_field_is_shown_and_repaired_as_true_or_false() -> None:
    fmt = ReplyFormat(Sanction)
    assert fmt.example() == '{"reasoning": "<one sentence>", "punish": true or false}'
    assert '"punish", whose value is true or false (whether you punish the recipient)' in \
        fmt.describe()
    assert fmt.schema["properties"]["punish"]["type"] == "boolean"
    assert fmt.validate(fmt.sample()).punish is True  # a literal reading of the prompt works
    assert fmt.parse('{"punish": false}').punish is False
    with pytest.raises(ParseError) as caught:
        fmt.parse('{"punish": "perhaps"}')
    assert str(caught.value) == ('"punish" must be true or false (got "perhaps"); reply with '
                                 'a JSON object like {"reasoning": "<one sentence>", '
                                 '"punish": true or false}')


def test_prose_can_be_read_for_a_named_choice_or_number_field() -> None:
    choice = ReplyFormat(reply_model("Pick", choice=(Literal["stag", "hare"], ...)))
    assert choice.parse("I will hunt the HARE.", prose="choice").choice == "hare"
    with pytest.raises(ParseError, match="ambiguous"):
        choice.parse("The stag or the hare?", prose="choice")
    amount = ReplyFormat(reply_model("Give", units=(float, Field(ge=0, le=10))))
    assert amount.parse("I give 4 units.", prose="units").units == 4
