"""The replies the town's tasks ask of a model, each declared once (`sim.llm.Reply`): the
schema sent, the JSON example the prompt shows and the validation come from these."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import AliasChoices, Field

from sim.llm import Reply, ReplyFormat, reply_model, schema_only

#: A time of day, asked of the model (grammar-constrained ones then cannot write "31:40", which
#: SmolLM2 did); reading stays lenient ("7:30", "7pm").
CLOCK = schema_only(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Chunk(Reply):
    start: str = Field(description="HH:MM", examples=["07:00"], json_schema_extra=CLOCK)
    end: str = Field(description="HH:MM", examples=["09:00"], json_schema_extra=CLOCK)
    description: str = Field(description="what you will do",
                             validation_alias=AliasChoices("description", "activity", "task"),
                             json_schema_extra=schema_only(minLength=1, maxLength=120))


class DayPlanReply(Reply):
    plan: list[Chunk] = Field(min_length=1, json_schema_extra=schema_only(maxItems=10))


class WakeDayPlanReply(Reply):
    wake: str = Field(description="HH:MM you wake up", examples=["07:00"],
                      json_schema_extra=CLOCK)
    plan: list[Chunk] = Field(min_length=1, json_schema_extra=schema_only(maxItems=10))


class HourBlock(Reply):
    start: str = Field(description="HH:MM", examples=["07:00"], json_schema_extra=CLOCK)
    end: str = Field(description="HH:MM", examples=["08:00"], json_schema_extra=CLOCK)
    activity: str = Field(description="one of the activity labels", examples=["work"])
    place: str = Field(description="a place id from the list", examples=["kettle"])
    description: str = Field("", description="what you will do",
                             json_schema_extra=schema_only(maxLength=80))


class HourPlanReply(Reply):
    blocks: list[HourBlock] = Field(min_length=1, validation_alias=AliasChoices(
        "blocks", "schedule", "plan", "hours"))


class Step(Reply):
    minutes: int = Field(ge=1, le=60, json_schema_extra=schema_only(minimum=5, maximum=15))
    description: str = Field(description="what you do", validation_alias=AliasChoices(
        "description", "action", "task"), json_schema_extra=schema_only(minLength=1,
                                                                         maxLength=80))
    object: str = Field("", description="an object of the place, or empty",
                        json_schema_extra=schema_only(maxLength=40))


class ActionsReply(Reply):
    actions: list[Step] = Field(min_length=1, validation_alias=AliasChoices(
        "actions", "steps", "plan"))


class StateStep(Step):
    object_state: str = Field("", description="the object's state while you use it, or empty",
                              json_schema_extra=schema_only(maxLength=40))


class StateActionsReply(Reply):
    actions: list[StateStep] = Field(min_length=1, validation_alias=AliasChoices(
        "actions", "steps", "plan"))


class ReactReply(Reply):
    action: Literal["continue", "talk", "wait", "change_plan"] = Field(
        description="continue your plan, talk to someone here, wait until they are done, or "
        "change your plan")
    talk_to: str = Field("", description="the id of the person to talk to, or empty")
    new_plan: str = Field("", description="what you will do instead, or empty")


class SpeakReply(Reply):
    utterance: str = Field(description="what you say next",
                           validation_alias=AliasChoices("utterance", "say", "text", "reply"),
                           json_schema_extra=schema_only(minLength=1, maxLength=400))
    end_conversation: bool = Field(False, description="true to say goodbye and end it",
                                   examples=[False],
                                   validation_alias=AliasChoices("end_conversation", "end"))


class AttendReply(Reply):
    attend: bool = Field(description="true if you will go", examples=[True])
    reason: str = Field("", description="one sentence")


def _statement(description: str) -> Any:
    return Field(description=description,
                 json_schema_extra=schema_only(minLength=1, maxLength=300))


class SummaryReply(Reply):
    core: str = _statement("core characteristics")
    occupation: str = _statement("current daily occupation and routine")
    progress: str = _statement("feelings about recent progress in life")
    currently: str = _statement("what they are up to today")
    carry_over: str = _statement("what to carry over from yesterday")


class ContextReply(Reply):
    summary: str = Field(description="two or three sentences",
                         validation_alias=AliasChoices("summary", "context", "text"),
                         json_schema_extra=schema_only(minLength=1, maxLength=400))


class AftermathReply(Reply):
    summary: str = Field(description="the conversation in one sentence",
                         json_schema_extra=schema_only(minLength=1, maxLength=300))
    importance: int = Field(ge=1, le=10, description="how much it matters to you",
                            examples=[4])
    planning_thought: str = Field(description="what to remember for your plans",
                                  json_schema_extra=schema_only(minLength=1, maxLength=300))
    memo: str = Field(description="what to remember about them or what was said",
                      json_schema_extra=schema_only(minLength=1, maxLength=300))


DAY_PLAN = ReplyFormat(DayPlanReply, name="day_plan")


@lru_cache(maxsize=512)
def wake_day_plan_format(usual: str) -> ReplyFormat:
    """`WAKE_DAY_PLAN` whose example wake hour is the resident's usual one: a small model
    copies the example, and SmolLM2 woke everyone at the example's 07:00."""
    wake = Field(description="HH:MM you wake up", examples=[usual], json_schema_extra=CLOCK)
    plan = WakeDayPlanReply.model_fields["plan"]
    return ReplyFormat(reply_model("WakeDayPlanReply", wake=(str, wake),
                                   plan=(list[Chunk], plan)), name="day_plan")
HOUR_PLAN = ReplyFormat(HourPlanReply, name="hour_plan")


@lru_cache(maxsize=512)
def hour_plan_format(places: tuple[str, ...]) -> ReplyFormat:
    """`HOUR_PLAN` whose place is asked as one of the places the resident knows (their ids),
    so a grammar-constrained model cannot name a place that does not exist (SmolLM2 wrote
    "garden" and "kettle, quill_flat"); reading stays lenient (a dotted path is a place too)."""
    place = Field(description="a place id from the list", examples=[places[0]],
                  json_schema_extra=schema_only(enum=list(places)))
    block = reply_model("HourBlock", **{
        name: (info.annotation, place if name == "place" else info)
        for name, info in HourBlock.model_fields.items()})
    blocks = HourPlanReply.model_fields["blocks"]
    return ReplyFormat(reply_model("HourPlanReply", blocks=(list[block], blocks)),  # type: ignore[valid-type]
                       name="hour_plan")
ACTIONS = ReplyFormat(ActionsReply, name="actions")
STATE_ACTIONS = ReplyFormat(StateActionsReply, name="actions")


@lru_cache(maxsize=512)
def actions_format(objects: tuple[str, ...], states: bool) -> ReplyFormat:
    """`ACTIONS` (with object states, or not) whose object is one of the place's, or empty,
    so a grammar-constrained model cannot use one that is not there (SmolLM2 wrote "buying
    coffee from the Kettle"); reading stays lenient (an unknown object is no object)."""
    if not objects:
        return STATE_ACTIONS if states else ACTIONS
    step_model = StateStep if states else Step
    used = Field("", description="an object of the place, or empty",
                 json_schema_extra=schema_only(enum=[*objects, ""]))
    step = reply_model("Step", **{
        name: (info.annotation, used if name == "object" else info)
        for name, info in step_model.model_fields.items()})
    actions = ActionsReply.model_fields["actions"]
    return ReplyFormat(reply_model("ActionsReply", actions=(list[step], actions)),  # type: ignore[valid-type]
                       name="actions")
REACT = ReplyFormat(ReactReply, name="react")
SPEAK = ReplyFormat(SpeakReply, name="speak")
ATTEND = ReplyFormat(AttendReply, name="attend")
SUMMARY = ReplyFormat(SummaryReply, name="agent_summary")
CONTEXT = ReplyFormat(ContextReply, name="context_summary")
AFTERMATH = ReplyFormat(AftermathReply, name="after_conversation")
