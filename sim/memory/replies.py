"""The replies memory asks of a brain, each declared once as a pydantic model.

The schema sent to models, the JSON the prompts show and the validation of replies all come
from these declarations (`sim.llm.reply_format`). Bounds that depend on the question (how many
questions, which memory numbers exist, how long a summary may be) are built into a model per
value and cached, since each takes only a handful of values in a run.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    ValidationError,
    WrapValidator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from sim.llm.reply_format import Reply, ReplyFormat, reply_model, schema_only

#: Words after which a prose reply's number is the rating ("Rating: 7").
IMPORTANCE_MARKERS: tuple[str, ...] = ("answer", "rating", "importance", "score")

_BULLET_RE = re.compile(r"^\s*(?:[-*•]+|\(?\d+[.):]|#+)\s*")
_EVIDENCE_RE = re.compile(
    r"[(\[]\s*(?:because\s+of|because|evidence|based\s+on|from|see|sources?|memories|"
    r"statements?)?\s*:?\s*(?:statements?|memories|memory|#)?\s*"
    r"(?P<numbers>\d+(?:\s*(?:,|and|&)\s*#?\d+)*)\s*[)\]]\s*[.!]?\s*$",
    re.IGNORECASE,
)


class ImportanceReply(Reply):
    """How much a memory matters: asked as a whole number, read with decimals (rounded later)."""

    importance: float = Field(ge=1, le=10, json_schema_extra=schema_only(type="integer"),
                              validation_alias=AliasChoices("importance", "rating", "score",
                                                            "poignancy"))


IMPORTANCE = ReplyFormat(ImportanceReply, name="importance")


@lru_cache(maxsize=32)
def importances_format(n: int) -> ReplyFormat:
    """Ratings of `n` memories at once, in their order: one call instead of `n`."""
    rating = Annotated[float, Field(ge=1, le=10, json_schema_extra=schema_only(type="integer"))]
    field = Field(min_length=n, max_length=n, description=f"{n} ratings, in order",
                  validation_alias=AliasChoices("ratings", "importances", "importance",
                                                "scores"))
    return ReplyFormat(reply_model("Importances", ratings=(list[rating], field)),
                       name="importances")


def numbers_in(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def split_evidence(line: str) -> tuple[str, list[int]]:
    """'Bob is kind (because of 1, 3)' -> ('Bob is kind', [1, 3]); no citation -> []."""
    match = _EVIDENCE_RE.search(line)
    if match is None:
        return line, []
    return line[: match.start()].rstrip(" .:-—"), numbers_in(match.group("numbers"))


def _lines(value: Any) -> Any:
    """Several questions in one string are several questions."""
    return value.splitlines() if isinstance(value, str) else value


def _real_questions(questions: list[str]) -> list[str]:
    """Questions stripped of list bullets and quotes; lines that are no question are dropped."""
    kept: list[str] = []
    for line in questions:
        line = _BULLET_RE.sub("", line).strip().strip("*_\"'“”").strip()
        if line.endswith("?") and len(line) > 3 and line not in kept:
            kept.append(line)
    if not kept:
        raise ValueError("must hold at least one question ending with '?'")
    return kept


@lru_cache(maxsize=32)
def questions_format(n: int) -> ReplyFormat:
    """Up to `n` focal questions (more are asked against, and cut when they come)."""
    question = Annotated[str, Field(description="a question",
                                    examples=["Whom can I rely on?"])]
    questions = Annotated[list[question], BeforeValidator(_lines),
                          AfterValidator(_real_questions)]
    field = Field(min_length=1, json_schema_extra=schema_only(maxItems=n))
    return ReplyFormat(reply_model("FocalQuestions", questions=(questions, field)),
                       name="focal_questions")


def _insight_from_text(cls: type, value: Any) -> Any:
    """Insights written as "text (because of 1, 3)" lines, or citing memories as "1, 3"."""
    if isinstance(value, str):
        text, cited = split_evidence(_BULLET_RE.sub("", value).strip())
        return {"insight": text, "evidence": cited}
    if isinstance(value, dict):
        value = dict(value)
        for key in ("evidence", "because_of"):
            if isinstance(value.get(key), str | int):
                value[key] = numbers_in(str(value[key]))
    return value


def _usable_insights(value: Any, handler: Any) -> Any:
    """Keep the insights that validate: one citing a memory that does not exist should not
    cost the others. With none usable, the first one's problem is reported."""
    if not isinstance(value, list):
        return handler(value)
    kept = []
    for item in value:
        try:
            kept.extend(handler([item]))
        except ValidationError:
            continue
    return kept if kept else handler(value)


@lru_cache(maxsize=64)
def insights_format(records: int, n: int) -> ReplyFormat:
    """Up to `n` insights, each citing memory numbers from 1 to `records`."""
    number = Annotated[int, Field(ge=1, le=records, description="memory number")]
    item = reply_model(
        "Insight",
        __validators__={"from_text": model_validator(mode="before")(_insight_from_text)},
        insight=(str, Field(min_length=1, description="a conclusion",
                            validation_alias=AliasChoices("insight", "text"))),
        evidence=(list[number], Field(min_length=1,
                                      validation_alias=AliasChoices("evidence", "because_of"))),
        importance=(SkipJsonSchema[Any], None),  # read when given, never asked for
    )
    insights = Annotated[list[item], WrapValidator(_usable_insights)]  # type: ignore[valid-type]
    field = Field(min_length=1, json_schema_extra=schema_only(maxItems=n))
    return ReplyFormat(reply_model("Insights", insights=(insights, field)), name="insights")


@lru_cache(maxsize=16)
def summary_format(max_chars: int) -> ReplyFormat:
    """A parent's advice to its heir; a longer one is cut, not refused."""
    summary = Field(description="your lessons and advice",
                    validation_alias=AliasChoices("summary", "advice"),
                    json_schema_extra=schema_only(maxLength=max_chars))
    return ReplyFormat(reply_model("HeirSummary", summary=(str, summary)), name="heir_summary")
