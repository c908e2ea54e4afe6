"""`societas show-config`: every key of a scenario's config, as a reference or as a TOML file.

The pydantic config *is* the documentation: names, types, bounds, defaults and the meaning of
every key come from its fields, so this page can never drift from what `--set` accepts. Keys
are grouped by the class that declares them (the engine's `RunConfig`, the population's
`PopulationConfig`, the scenario's own), and nested settings are flattened to the dotted names
that `--set memory_settings.preset=...` and TOML's dotted keys use alike.

Some keys have no fixed default: a preset key (the Donor Game's `protocol`, memory's `preset`)
fills them unless they are given. Writing them into a config file would freeze them, and a
later change of the preset would silently stop reaching them, so the TOML file leaves them
commented out. Which keys a preset governs is found by trying the preset's other values, not
declared anywhere, so a new preset is documented correctly without touching this module.

Likewise a validator may work a key's default out from other keys (`brains` is all rule
brains without a model, all LLM brains with one): the reference shows the default a run
without that key actually gets, says it is worked out, and the TOML file leaves it commented.
"""

from __future__ import annotations

import dataclasses
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, PydanticSchemaGenerationError, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from sim.config import RunConfig, to_toml
from sim.evolution import FITNESS, MUTATION, REPRODUCTION
from sim.population import PopulationConfig

#: Population keys that accept names registered at run time (`register_reproduction`, ...):
#: the reference lists those registered so far beside the built-ins its description names.
_REGISTRIES = {"reproduction": REPRODUCTION, "fitness": FITNESS, "mutation": MUTATION}

#: Headings of the engine's own config classes; a scenario's class is named after the scenario.
_GROUP_TITLES = {
    "RunConfig": "Engine keys (every scenario: seed, models, calls, logging)",
    "PopulationConfig": "Population keys (every scenario with generations)",
}
_WIDTH = 96


@dataclass(frozen=True)
class ConfigKey:
    """One key a user can set, with everything needed to set it right."""

    name: str  # dotted for nested settings: 'memory_settings.preset'
    type: str  # readable: 'int ≥ 0', '"top" | "random"', 'str (optional)'
    default: Any  # JSON-compatible; None: unset by default
    description: str
    group: str  # the heading it is listed under
    #: The key whose value sets this key's default when it is not given ('protocol'), if any.
    preset_by: str | None = None
    #: True when a validator works the default out from other keys (shown: its value for a
    #: config that sets nothing), e.g. `brains`.
    computed: bool = False
    #: For a nested setting: what its table (e.g. `memory_settings`) is for.
    table_description: str = ""


def config_keys(config_type: type[RunConfig], scenario: str = "") -> list[ConfigKey]:
    """Every settable key of `config_type`, in declaration order, grouped by declaring class."""
    keys: list[ConfigKey] = []
    owners = _declaring_class(config_type)
    for name, field in config_type.model_fields.items():
        group = _group_title(owners[name], scenario)
        default = field.get_default(call_default_factory=True)
        nested = _nested_model(field.annotation)
        if nested is not None:
            values = default.model_dump(mode="json") if isinstance(default, BaseModel) else {}
            for sub_name, sub_field in nested.model_fields.items():
                description = sub_field.description or ""
                keys.append(ConfigKey(f"{name}.{sub_name}", describe_type(sub_field),
                                      values.get(sub_name), description, group,
                                      table_description=field.description or ""))
            continue
        keys.append(ConfigKey(name, describe_type(field), _jsonable(default, field),
                              _with_registered(owners[name], name, field.description or ""),
                              group))
    presets = _preset_keys(config_type, keys)
    effective = config_type.model_validate({}).model_dump(mode="json")
    resolved = []
    for key in keys:
        value = _at(effective, key.name)
        computed = value != key.default and key.name not in presets
        resolved.append(dataclasses.replace(key, preset_by=presets.get(key.name),
                                            default=value, computed=computed))
    return resolved


def _with_registered(owner: type, name: str, description: str) -> str:
    registry = _REGISTRIES.get(name) if owner is PopulationConfig else None
    registered = registry.registered() if registry is not None else []
    if not registered:
        return description
    return f"{description} Registered now: {', '.join(map(repr, registered))}."


def describe_type(field: FieldInfo) -> str:
    """A field's type and bounds as a user reads them: 'float > 0', '"a" | "b"'."""
    text = _type_name(field.annotation)
    bounds = []
    for item in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if isinstance(item, getattr(annotated_types, attribute.capitalize())):
                bounds.append(f"{sign} {getattr(item, attribute):g}")
    if bounds:
        optional = text.endswith(" (optional)")
        text = text.removesuffix(" (optional)") + " " + ", ".join(bounds)
        text += " (optional)" if optional else ""
    return text


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is Literal:
        return " | ".join(_toml(value) for value in arguments)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in arguments if a is not type(None)]
        text = " or ".join(_type_name(a) for a in kept)
        return f"{text} (optional)" if len(kept) < len(arguments) else text
    if origin is dict:
        return f"table of {_type_name(arguments[0])} → {_type_name(arguments[1])}"
    if origin in (list, tuple):
        return f"list of {_type_name(arguments[0])}" if arguments else "list"
    return getattr(annotation, "__name__", str(annotation))


def _toml(value: Any) -> str:
    """A value as TOML (and `--set`) spell it."""
    return to_toml({"v": value}).strip().removeprefix("v = ")


def _jsonable(value: Any, field: FieldInfo | None = None) -> Any:
    """A default as JSON, the way the validated config holds it (a nested model's defaults
    filled in), so that it compares equal to the value a run actually gets."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if field is not None and field.annotation is not None:
        try:
            adapter = TypeAdapter(field.annotation)
            return adapter.dump_python(adapter.validate_python(value), mode="json")
        except (PydanticSchemaGenerationError, ValidationError, ValueError, TypeError):
            return value
    return value


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _declaring_class(config_type: type[BaseModel]) -> dict[str, type]:
    """Field name -> the most basic config class that declares it."""
    owners: dict[str, type] = {}
    for cls in reversed(config_type.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and cls is not BaseModel:
            for name in cls.model_fields:
                owners.setdefault(name, cls)
    return owners


def _group_title(cls: type, scenario: str) -> str:
    if cls.__name__ in _GROUP_TITLES and cls.__module__.startswith("sim."):
        return _GROUP_TITLES[cls.__name__]
    return f"{scenario or cls.__name__} keys ({cls.__module__}.{cls.__name__})"


def _preset_keys(config_type: type[RunConfig], keys: list[ConfigKey]) -> dict[str, str]:
    """Key -> the choice key whose other values change it (its preset), found by trying them.

    Only keys with a finite set of values (a Literal) can be presets; each alternative is
    validated on its own, and a key whose resolved value moves with it is that preset's.
    """
    base = config_type.model_validate({}).model_dump(mode="json")
    found: dict[str, str] = {}
    for key in keys:
        alternatives = [v for v in _literal_values(config_type, key.name) if v != key.default]
        for value in alternatives:
            try:
                dumped = config_type.model_validate(_nest(key.name, value)).model_dump(
                    mode="json")
            except ValidationError:
                continue
            for other in keys:
                if other.name != key.name and _at(dumped, other.name) != _at(base, other.name):
                    found.setdefault(other.name, key.name)
    return found


def _literal_values(config_type: type[BaseModel], dotted: str) -> tuple[Any, ...]:
    model: type[BaseModel] = config_type
    *parents, last = dotted.split(".")
    for part in parents:
        nested = _nested_model(model.model_fields[part].annotation)
        if nested is None:
            return ()
        model = nested
    annotation = model.model_fields[last].annotation
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()


def _at(values: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        values = values.get(part) if isinstance(values, dict) else None
    return values


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    data: dict[str, Any] = {last: value}
    for part in reversed(parents):
        data = {part: data}
    return data


# -- rendering --------------------------------------------------------------------------------
def format_reference(scenario: str, summary: str, keys: list[ConfigKey]) -> str:
    """The plain-text reference `societas show-config SCENARIO` prints."""
    lines = [f"{scenario}: {summary}", *textwrap.wrap(
        f"Set a key with `societas run {scenario} --set KEY=VALUE` (values are read as TOML) "
        f"or in a TOML file given with --config FILE; `societas show-config {scenario} "
        "--format toml` prints one with every key.", _WIDTH)]
    for key, new_group, new_table in _walk(keys):
        if new_group:
            lines += ["", key.group]
        if new_table:
            table = key.name.rpartition(".")[0]
            lines += textwrap.wrap(f"{table}.*: {key.table_description}", _WIDTH,
                                   initial_indent="  ", subsequent_indent="    ")
        lines.append(f"  {key.name} = {_toml(key.default)}" if key.default is not None
                     else f"  {key.name}")
        lines += textwrap.wrap(f"({_note(key)}) {key.description}", _WIDTH,
                               initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines) + "\n"


def format_toml(scenario: str, summary: str, keys: list[ConfigKey]) -> str:
    """A complete, commented config file that `societas run SCENARIO --config FILE` accepts.

    Every key is listed with its meaning and default. Keys unset by default, and keys whose
    default a preset sets, are commented out (TOML has no null; a preset's keys would be
    frozen). Nested settings use TOML's dotted keys, so the file needs no tables.
    """
    lines = [
        f"# Config of the {scenario} scenario: {summary}",
        f"# Use: societas run {scenario} --config THIS_FILE   (--set KEY=VALUE overrides a key)",
        "# Every key is here with its default; delete or change what you like. Keys commented",
        "# out are unset by default, or take their default from a preset key or from other",
        "# keys unless given.",
    ]
    for key, new_group, new_table in _walk(keys):
        if new_group:
            lines += ["", f"# == {key.group} =="]
        if new_table:
            table = key.name.rpartition(".")[0]
            lines += ["", *textwrap.wrap(f"{table}.*: {key.table_description}", _WIDTH,
                                         initial_indent="# -- ", subsequent_indent="# ")]
        lines.append("")
        lines += textwrap.wrap(key.description, _WIDTH, initial_indent="# ",
                               subsequent_indent="# ")
        lines += textwrap.wrap(f"type: {_note(key)}", _WIDTH, initial_indent="# ",
                               subsequent_indent="#   ")
        if key.default is None:
            lines.append(f"# {key.name} = ...")
        elif key.preset_by or key.computed:
            lines.append(f"# {key.name} = {_toml(key.default)}")
        else:
            lines.append(f"{key.name} = {_toml(key.default)}")
    return "\n".join(lines) + "\n"


def _note(key: ConfigKey) -> str:
    note = key.type
    if key.default is None:
        note = note.removesuffix(" (optional)") + "; unset by default"
    if key.preset_by:
        note += f"; default set by {key.preset_by} unless given"
    if key.computed:
        note += "; default worked out from other keys unless given (shown: with none set)"
    return note


def _walk(keys: list[ConfigKey]) -> list[tuple[ConfigKey, bool, bool]]:
    """Each key with whether it opens a new group and a new nested table."""
    walked, group, table = [], None, ""
    for key in keys:
        key_table = key.name.rpartition(".")[0]
        walked.append((key, key.group != group, bool(key_table) and key_table != table))
        group, table = key.group, key_table
    return walked


def show_config(scenario_name: str, format: str = "text") -> str:
    """What `societas show-config` prints: the reference, or (`format="toml"`) a config file."""
    from sim.registry import get_scenario

    scenario = get_scenario(scenario_name)
    keys = config_keys(scenario.config_type, scenario.name)
    render = format_toml if format == "toml" else format_reference
    return render(scenario.name, scenario.summary, keys)
