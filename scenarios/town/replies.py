"""The replies the town's tasks ask of a model, each declared once (`sim.llm.Reply`): the
schema sent, the JSON example the prompt shows and the validation come from these."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field

from sim.llm import Reply, ReplyFormat, reply_model, schema_only

#: A time of day, asked of the model (grammar-constrained ones then cannot write "31:40", which
#: SmolLM2 did); reading stays lenient ("7:30", "7pm").
CLOCK = schema_only(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Chunk(Reply):
    start: str = Field(description="HH:MM", examples=["07:00"], json_schema_extra=CLOCK)
    end: str = Field(description="HH:MM", examples=["09:00"], json_schema_extra=CLOCK)
    description: str = Field(description="what you will do",
                             validation_alias=AliasChoices("description", "activity", "task"))


class DayPlanReply(Reply):
    plan: list[Chunk] = Field(min_length=1, json_schema_extra=schema_only(maxItems=10))


class HourBlock(Reply):
    start: str = Field(description="HH:MM", examples=["07:00"], json_schema_extra=CLOCK)
    end: str = Field(description="HH:MM", examples=["08:00"], json_schema_extra=CLOCK)
    activity: str = Field(description="one of the activity labels", examples=["work"])
    place: str = Field(description="a place id from the list", examples=["kettle"])
    description: str = Field("", description="what you will do")


class HourPlanReply(Reply):
    blocks: list[HourBlock] = Field(min_length=1, validation_alias=AliasChoices(
        "blocks", "schedule", "plan", "hours"))


class Step(Reply):
    minutes: int = Field(ge=1, le=60, json_schema_extra=schema_only(minimum=5, maximum=15))
    description: str = Field(description="what you do", validation_alias=AliasChoices(
        "description", "action", "task"))
    object: str = Field("", description="an object of the place, or empty")


class ActionsReply(Reply):
    actions: list[Step] = Field(min_length=1, validation_alias=AliasChoices(
        "actions", "steps", "plan"))


class ReactReply(Reply):
    action: Literal["continue", "talk", "change_plan"] = Field(
        description="continue your plan, talk to someone here, or change your plan")
    talk_to: str = Field("", description="the id of the person to talk to, or empty")
    new_plan: str = Field("", description="what you will do instead, or empty")


class SpeakReply(Reply):
    utterance: str = Field(description="what you say next",
                           validation_alias=AliasChoices("utterance", "say", "text", "reply"),
                           json_schema_extra=schema_only(maxLength=400))
    end_conversation: bool = Field(False, description="true to say goodbye and end it",
                                   examples=[False],
                                   validation_alias=AliasChoices("end_conversation", "end"))


class AttendReply(Reply):
    attend: bool = Field(description="true if you will go", examples=[True])
    reason: str = Field("", description="one sentence")


DAY_PLAN = ReplyFormat(DayPlanReply, name="day_plan")
HOUR_PLAN = ReplyFormat(HourPlanReply, name="hour_plan")


@lru_cache(maxsize=8)
def hour_plan_format(places: tuple[str, ...]) -> ReplyFormat:
    """`HOUR_PLAN` whose place is asked as one of this town's place ids, so a
    grammar-constrained model cannot name a place that does not exist (SmolLM2 wrote
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
REACT = ReplyFormat(ReactReply, name="react")
SPEAK = ReplyFormat(SpeakReply, name="speak")
ATTEND = ReplyFormat(AttendReply, name="attend")
