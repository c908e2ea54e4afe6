"""The Donor Game's replies, each declared once as a pydantic model.

From these declarations come the JSON schema sent to models, the JSON the prompts show and the
validation of replies (`sim.llm.reply_format`), so a prompt cannot ask for one key while the
parser reads another. The formats depend only on the run's protocol (answer unit, sanction,
strategy format and length), so each is built once and cached; the one bound that changes with
every decision, a donor's resources, is applied per decision with `ReplyFormat.within`.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, model_validator

from sim.llm.reply_format import ReplyFormat, reply_model, schema_only

#: Words after which a prose reply's number is the donation ("I will donate 30%").
DONATION_MARKERS: tuple[str, ...] = ("answer", "final answer", "donate", "give", "donation")
#: The "one or two sentences" of reasoning a donation prompt asks for, as a bound that models
#: with constrained output honour (it keeps small models from rambling into the token limit).
REASONING_MAX_CHARS = 300
#: The step-by-step thinking before a reasoned strategy: room to think, short of max_tokens.
STRATEGY_REASONING_MAX_CHARS = 1200

# Keys models use for the amount instead of the one asked for.
_UNITS_KEYS = AliasChoices("units", "amount", "donation", "give", "value")
_PERCENT_KEYS = AliasChoices("percent", "percentage", "give_percent", "donation", "amount")


def _donate_means_give(value: Any) -> Any:
    """Models answer the game's own verb, "donate", when offered "give"."""
    if isinstance(value, str) and value.strip().lower() == "donate":
        return "give"
    return value


def _refusal_needs_no_amount(cls: type, values: Any) -> Any:
    """A refusal moves nothing, so a reply that refuses without naming an amount is complete."""
    if isinstance(values, dict) and str(values.get("action", "")).lower() == "refuse":
        values = dict(values)
        for key in ("units", "percent"):
            if key in cls.model_fields:  # type: ignore[attr-defined]
                values.setdefault(key, 0)
    return values


@cache
def donation_format(answer_unit: str, alternative: str | None) -> ReplyFormat:
    """How a donor answers: reasoning first, then the action (when there is a sanction to
    choose instead of giving), then the amount in units (bounded per decision with
    `within(units={"maximum": held})`) or in whole percent (33.5 is read all the same)."""
    fields: dict[str, Any] = {
        "reasoning": (str, Field("", description="one or two sentences",
                                 json_schema_extra=schema_only(maxLength=REASONING_MAX_CHARS))),
    }
    if alternative is not None:
        action = Literal[("give", alternative)]  # type: ignore[valid-type]
        fields["action"] = (Annotated[action, BeforeValidator(_donate_means_give)], "give")
    if answer_unit == "units":
        fields["units"] = (float, Field(ge=0, validation_alias=_UNITS_KEYS))
    else:
        fields["percent"] = (float, Field(ge=0, le=100, validation_alias=_PERCENT_KEYS,
                                          json_schema_extra=schema_only(type="integer")))
    validators = {"refusal": model_validator(mode="before")(_refusal_needs_no_amount)}
    return ReplyFormat(reply_model("Donation", __validators__=validators, **fields),
                       name="donation")


@lru_cache(maxsize=32)
def strategy_format(strategy_format: str, max_chars: int) -> ReplyFormat:
    """How a newcomer states its strategy: with `reasoned`, its step-by-step thinking first and
    then the one "My strategy will be" sentence, as in the study; with `json`, the strategy
    alone. Both lengths are asked of the model, not enforced: a longer strategy is cut, and
    reasoning is not kept at all. The values are described in words, not shown as copyable
    placeholders, because small models copy a placeholder back instead of writing."""
    fields: dict[str, Any] = {}
    if strategy_format == "reasoned":
        fields["reasoning"] = (str, Field(
            "", description="your step-by-step thinking",
            json_schema_extra=schema_only(maxLength=STRATEGY_REASONING_MAX_CHARS)))
        described = "that one sentence"
    else:
        described = "your strategy in your own words"
    fields["strategy"] = (str, Field(description=described,
                                     json_schema_extra=schema_only(maxLength=max_chars)))
    return ReplyFormat(reply_model("Strategy", **fields), name="strategy")
