"""Reply formats: a task's reply declared once, as a pydantic model.

A task that asks a model for JSON used to say what it wanted three times: a hand-written JSON
schema for constrained output, a hand-written example in its prompt, and a parser. The three
drifted apart. Here the task declares one pydantic model (a subclass of `Reply`, or one made by
`reply_model` when a bound depends on the situation, such as a donor's resources) and
`ReplyFormat` derives everything else from it:

- `response_format()`: OpenAI's `json_schema` response format (see `sim.llm.response_formats`);
- `example()` / `describe()`: what the prompt shows, as an inline example or in words;
- `read()` / `parse()`: the reply's JSON object (whole, fenced or in prose) validated into the
  model, with the prose readers of `sim.llm.parsing` as the fallback for simple answers;
- `repair_message()`: pydantic's first validation error as one line naming the field and what
  is allowed, which the gateway sends back in a repair re-prompt.

Fields are written in declaration order, so a task declares its reasoning before its answer.
Every field in the schema is required of the model, but reading is lenient: a field with a
default may be missing, keys match case-insensitively and through `validation_alias` choices,
a number may come as text ("40%"), a choice in any case. A bound that the model is asked to
keep but that reading should not enforce (a length a reply may overrun and the task cuts) is
declared with `json_schema_extra=schema_only(...)`. Nothing in a reply is ever evaluated.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.aliases import AliasChoices

from sim.errors import ParseError
from sim.llm.parsing import DEFAULT_NUMBER_MARKERS, number_in_text, parse_choice, parse_number
from sim.llm.parsing._common import fmt, strip_thinking
from sim.llm.parsing.json_objects import json_objects, lookup_key
from sim.llm.response_formats import json_object_format

__all__ = ["Reply", "ReplyFormat", "reply_model", "schema_only"]

# Keys of pydantic's JSON schema that say nothing to a model (titles, Python defaults).
_DROPPED_KEYS = ("title", "default")


class Reply(BaseModel):
    """Base of every reply model: extra keys are ignored (models add their own), fields can be
    filled by name even when they have aliases, NaN and infinity are no numbers (JSON from
    Python's encoder may hold them), and a parsed reply is immutable."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True,
                              allow_inf_nan=False)


def reply_model(name: str, /, **fields: Any) -> type[Reply]:
    """A `Reply` model built for one situation (`pydantic.create_model` with `Reply` as base).

    For bounds known only when the question is asked: `units=(float, Field(ge=0, le=held))`.
    Pass `__validators__` for validators, as `create_model` takes them.
    """
    return create_model(name, __base__=Reply, **fields)


def schema_only(**keywords: Any) -> dict[str, Any]:
    """JSON-schema keywords asked of the model but not enforced when reading (`json_schema_extra`).

    E.g. `schema_only(maxLength=300)` keeps a grammar-constrained model short while a longer
    reply from an unconstrained one is still read, and `schema_only(type="integer")` asks for a
    whole number but accepts 33.5.
    """
    return dict(keywords)


class ReplyFormat[R: Reply]:
    """Everything about one reply model: schema, prompt text, lenient reading, repair message."""

    def __init__(self, model: type[R], *, name: str | None = None) -> None:
        self.model = model
        self.name = name or model.__name__.lower()
        raw = model.model_json_schema()
        self.schema: dict[str, Any] = _clean(raw, raw.get("$defs", {}))
        self.fields = list(self.schema["properties"])
        self._situational: dict[str, dict[str, float]] = {}

    def within(self, **bounds: Mapping[str, float]) -> ReplyFormat[R]:
        """This format with bounds that hold only here, e.g. `within(units={"maximum": held})`:
        a donor cannot give more than it has, but a model per amount would cost milliseconds
        per decision. The bounds (`minimum`, `maximum` of top-level number fields) go into the
        schema, the example and the prose readers, and are checked when reading like the
        model's own."""
        narrowed = copy.copy(self)
        properties = dict(self.schema["properties"])  # copied only as deep as it is changed
        narrowed.schema = {**self.schema, "properties": properties}
        narrowed._situational = {key: dict(value) for key, value in self._situational.items()}
        for key, limits in bounds.items():
            if key not in properties or set(limits) - {"minimum", "maximum"}:
                raise ValueError(f"within() takes minimum/maximum of a field, got {key}={limits}")
            properties[key] = {**properties[key], **limits}
            narrowed._situational.setdefault(key, {}).update(limits)
        return narrowed

    # -- what is sent ------------------------------------------------------------------------

    def response_format(self) -> dict[str, Any]:
        """The OpenAI `json_schema` response format for this reply (not strict; see
        `sim.llm.response_formats`)."""
        return json_object_format(self.name, self.schema["properties"])

    def example(self) -> str:
        """The reply as an inline example: `{"reasoning": "<one or two sentences>", "units":
        <number from 0 to 12.5>}`. Strings show their description as a placeholder."""
        return _example(self.schema)

    def describe(self) -> str:
        """The reply in words, for prompts where a small model would copy a placeholder back:
        'a JSON object with two keys: "reasoning", whose value is ..., and then "strategy",
        whose value is ...' (no final full stop, so a template can end the sentence)."""
        parts = [f'"{key}", whose value is {_in_words(self.schema["properties"][key])}'
                 for key in self.fields]
        count = {1: "one key", 2: "two keys", 3: "three keys"}.get(len(parts),
                                                                   f"{len(parts)} keys")
        if len(parts) == 1:
            return f"a JSON object with {count}, {parts[0]}"
        return f"a JSON object with {count}: " + ", ".join(parts[:-1]) + f", and then {parts[-1]}"

    def sample(self) -> dict[str, Any]:
        """Values that satisfy the schema, built from it alone (examples, choices, bounds,
        descriptions): what a model following the prompt literally could send."""
        return _sample(self.schema)

    # -- what comes back ---------------------------------------------------------------------

    def read(self, reply: str) -> R | None:
        """The reply's JSON object validated into the model, or None when no JSON object in it
        has any of the fields (the caller may then read prose).

        The last object having a field wins (models show the format, then answer); fields are
        looked up case-insensitively by name and aliases, in nested objects too. Raises
        `ParseError` (with `repair_message`) when that object does not validate.
        """
        found: dict[str, Any] | None = None
        for obj in json_objects(strip_thinking(reply)):
            values = self._gather(obj)
            if values:
                found = values
        return None if found is None else self.validate(found)

    def parse(self, reply: str, *,
              prose: Callable[[str], Mapping[str, Any]] | str | None = None) -> R:
        """Read the reply as JSON, else as prose with `prose(reply)` (field values, validated
        like JSON ones), or, when `prose` names a field, that field's choice or number read
        from the prose (`prose_choice`, `prose_number`); without `prose`, a reply with no JSON
        object is a `ParseError`."""
        found = self.read(reply)
        if found is not None:
            return found
        if isinstance(prose, str):
            return self.validate({prose: self._prose_value(reply, prose)})
        if prose is None:
            keys = ", ".join(f'"{key}"' for key in self.fields)
            raise ParseError(f"no JSON object with {keys} found; "
                             f"reply with a JSON object like {self.example()}")
        return self.validate(prose(reply))

    def validate(self, values: Mapping[str, Any]) -> R:
        """Field values (by name) into the model, or `ParseError` with the repair message."""
        try:
            reply = self.model.model_validate(dict(values))
        except ValidationError as error:
            raise ParseError(self.repair_message(error)) from None
        for key, limits in self._situational.items():
            value = getattr(reply, key)
            low, high = limits.get("minimum", -math.inf), limits.get("maximum", math.inf)
            if isinstance(value, int | float) and not low <= value <= high:
                kind = "less_than_equal" if value > high else "greater_than_equal"
                problem = {"type": kind, "loc": (key,), "input": value,
                           "ctx": {"le" if value > high else "ge": high if value > high else low}}
                raise ParseError(self._message([problem]))
        self._reject_copied_descriptions(reply)
        return reply

    def repair_message(self, error: ValidationError) -> str:
        """One line: which field was wrong, what is allowed, what came, and the format again."""
        return self._message(error.errors(include_url=False))

    def _message(self, problems: Sequence[Mapping[str, Any]]) -> str:
        first = problems[0]
        where = _location(first["loc"])
        text = f"{where} {_what_is_wrong(first, _schema_at(self.schema, first['loc']))}"
        if len(problems) > 1:
            text += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        return f"{text}; reply with a JSON object like {self.example()}"

    # -- prose readers for simple answers ----------------------------------------------------

    def prose_number(self, reply: str, field: str, *, markers: Sequence[str]) -> float:
        """The number a prose reply gives for `field`, within the field's bounds."""
        prop = self.schema["properties"][field]
        return parse_number(reply, low=prop.get("minimum", -math.inf),
                            high=prop.get("maximum", math.inf), json_keys=(field,),
                            answer_markers=markers)

    def prose_choice(self, reply: str, field: str, *, markers: Sequence[str] | None = None) -> str:
        """Which of the field's choices a prose reply picks."""
        choices = self.schema["properties"][field]["enum"]
        if markers is None:
            return parse_choice(reply, choices, json_keys=(field,))
        return parse_choice(reply, choices, json_keys=(field,), answer_markers=markers)

    def _prose_value(self, reply: str, field: str) -> Any:
        prop = self.schema["properties"][field]
        if "enum" in prop:
            return self.prose_choice(reply, field)
        if prop.get("type") in ("number", "integer"):
            return self.prose_number(reply, field, markers=DEFAULT_NUMBER_MARKERS)
        raise ValueError(f"prose={field!r}: only a choice or number field can be read from prose")

    # -- helpers -----------------------------------------------------------------------------

    def _gather(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The model's fields found in one JSON object, made readable where that is certain."""
        values = {}
        for key, info in self.model.model_fields.items():
            hit = lookup_key(obj, _names(key, info.validation_alias))
            if hit is not None:
                values[key] = _coerce(hit[1], self.schema["properties"].get(key, {}))
        return values

    def _reject_copied_descriptions(self, reply: Reply) -> None:
        """A required text field holding its own description ("<your strategy>") was copied
        from the prompt, not written: small models do this, and it must be asked again."""
        for key, info in self.model.model_fields.items():
            description = self.schema["properties"].get(key, {}).get("description")
            value = getattr(reply, key)
            if info.is_required() and description and isinstance(value, str) \
                    and _bare(value) == _bare(description):
                raise ParseError(f'"{key}" repeats the prompt ("{description}") instead of '
                                 f"answering; reply with a JSON object like {self.example()}")


def _names(key: str, alias: Any) -> tuple[str, ...]:
    if isinstance(alias, AliasChoices):
        return (key, *(choice for choice in alias.choices if isinstance(choice, str)))
    if isinstance(alias, str):
        return (key, alias)
    return (key,)


def _coerce(value: Any, prop: dict[str, Any]) -> Any:
    """Turn a value into the schema's type where there is only one reading: "40%" -> 40,
    "Give" -> "give", a list of lines -> text. Anything else is left for pydantic to judge."""
    kind = prop.get("type")
    if isinstance(value, str) and kind in ("number", "integer"):
        number = number_in_text(value, high=prop.get("maximum", math.inf))
        return value if number is None else number
    if isinstance(value, str) and "enum" in prop:
        choices = [c for c in prop["enum"] if isinstance(c, str)]
        by_key = {c.lower(): c for c in choices}
        if value.strip().lower() in by_key:
            return by_key[value.strip().lower()]
        try:
            return parse_choice(value, choices) if choices else value
        except ParseError:
            return value
    if kind == "string" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    return value


def _bare(text: str) -> str:
    return " ".join(text.lower().split()).strip(" <>\"'.…")


def _clean(schema: Any, defs: dict[str, Any]) -> Any:
    """pydantic's schema as sent to models: references inlined, titles and Python defaults
    dropped, and every object asking for all its properties in order and no others."""
    if isinstance(schema, list):
        return [_clean(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _clean(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    cleaned = {key: _clean(value, defs) for key, value in schema.items()
               if key not in _DROPPED_KEYS and key != "$defs"}
    if cleaned.get("type") == "object" and "properties" in schema:
        cleaned["properties"] = {key: _clean(value, defs)
                                 for key, value in schema["properties"].items()}
        cleaned["required"] = list(cleaned["properties"])
        cleaned["additionalProperties"] = False
    return cleaned


def _range(prop: dict[str, Any]) -> str:
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None and high is not None:
        return f" from {fmt(float(low))} to {fmt(float(high))}"
    if low is not None:
        return f" of at least {fmt(float(low))}"
    if high is not None:
        return f" of at most {fmt(float(high))}"
    return ""


def _choices(values: Sequence[Any]) -> str:
    shown = [json.dumps(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _number_words(prop: dict[str, Any]) -> str:
    noun = prop.get("description") or ("whole number" if prop["type"] == "integer" else "number")
    return noun + _range(prop)


def _example(prop: dict[str, Any]) -> str:
    if prop.get("examples"):
        return json.dumps(prop["examples"][0])
    if "enum" in prop:
        return _choices(prop["enum"])
    kind = prop.get("type")
    if kind == "object":
        return "{" + ", ".join(f'"{key}": {_example(value)}'
                               for key, value in prop.get("properties", {}).items()) + "}"
    if kind == "array":
        return f"[{_example(prop.get('items', {}))}, ...]"
    if kind in ("number", "integer"):
        return f"<{_number_words(prop)}>"
    if kind == "boolean":
        return "true or false"
    return f'"<{prop.get("description") or "text"}>"'


def _in_words(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return _choices(prop["enum"])
    kind = prop.get("type")
    if kind in ("number", "integer"):
        return ("a " if not prop.get("description") else "") + _number_words(prop)
    if kind == "boolean":
        described = prop.get("description")
        return f"true or false ({described})" if described else "true or false"
    if kind == "array":
        return prop.get("description") or f"a list of {_in_words(prop.get('items', {}))}"
    return prop.get("description") or "text"


def _sample(prop: dict[str, Any]) -> Any:
    if prop.get("examples"):
        return prop["examples"][0]
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "object":
        return {key: _sample(value) for key, value in prop.get("properties", {}).items()}
    if kind == "array":
        return [_sample(prop.get("items", {}))] * max(1, prop.get("minItems", 1))
    if kind == "boolean":
        return True
    if kind in ("number", "integer"):
        low, high = prop.get("minimum", 0), prop.get("maximum", prop.get("minimum", 0) + 1)
        middle = low + (high - low) / 2
        return math.floor(middle) if kind == "integer" else middle
    text = prop.get("description") or "text"
    return f"An answer about {text}."[: prop.get("maxLength", 10_000)]


def _location(loc: Sequence[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f'"{path}"' if path else "the reply"


def _schema_at(schema: dict[str, Any], loc: Sequence[Any]) -> dict[str, Any]:
    """The schema of the value at an error's location (empty when it is not in the schema)."""
    current = schema
    for part in loc:
        if isinstance(part, int):
            current = current.get("items", {})
        else:
            current = current.get("properties", {}).get(str(part), {})
    return current


def _what_is_wrong(problem: Mapping[str, Any], prop: dict[str, Any]) -> str:
    """pydantic's error in words a model can act on."""
    kind, ctx = problem["type"], problem.get("ctx") or {}
    got = f" (got {json.dumps(problem.get('input'), default=str)[:80]})"
    if kind == "missing":
        return "is missing"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        if "minimum" in prop and "maximum" in prop:
            low, high = fmt(float(prop["minimum"])), fmt(float(prop["maximum"]))
            return f"is outside the allowed range {low} to {high}{got}"
        bound = next(iter(ctx.values()), "")
        words = {"less_than_equal": "at most", "greater_than_equal": "at least",
                 "less_than": "less than", "greater_than": "more than"}[kind]
        return f"must be {words} {bound}{got}"
    if kind in ("literal_error", "enum"):
        return f"must be {_choices(prop.get('enum', []))}" + got
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number" + got
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "must be a number" + got
    if kind == "string_type":
        return "must be text" + got
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false" + got
    if kind == "list_type":
        return "must be a list" + got
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object" + got
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)" + got
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    message = str(problem.get("msg", "is not allowed"))
    return message.removeprefix("Value error, ") + got
