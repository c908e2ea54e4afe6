"""Run configuration: scenario configs, TOML files and `--set key=value` overrides.

Every scenario's config is a pydantic model derived from `RunConfig`, so the common knobs (seed,
model, sampling, retries) are spelled the same everywhere and unknown or ill-typed keys are
rejected with one readable line instead of a traceback.
"""

from __future__ import annotations

import math
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.errors import UserError, describe_os_error
from sim.llm.redaction import check_key_env_name, watch_env
from sim.llm.settings import LLMSettings, check_api_base
from sim.llm.transport import check_transport
from sim.prompting import PromptError, check_overrides, template_names

#: Keys whose rejected value is never repeated in an error: it may be an API key.
SECRET_INPUTS = frozenset({"api_key_env"})
#: Configs (by id) whose assignment is being validated right now (`RunConfig.__setattr__`).
_assigning: ContextVar[frozenset[int]] = ContextVar("societas_assigning", default=frozenset())


class ConfigError(UserError, ValueError):
    """A config file or override is malformed; the message is meant for the user as is."""


class RunConfig(BaseModel):
    """Settings every scenario shares: seed and how LLM brains reach their model."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    #: The packages whose `prompts/` templates `prompts_dir` may replace. None: the package the
    #: config class is defined in (a scenario whose config lives beside its prompts).
    PROMPT_PACKAGES: ClassVar[tuple[str, ...] | None] = None

    seed: int = Field(
        0, ge=0, description="Seed of the world's random generator; same seed, same run."
    )
    model: str | None = Field(
        None,
        description="litellm model string for LLM brains (e.g. 'openai/gpt-4o-mini'); "
        "None runs rule brains only.",
    )
    api_base: str | None = Field(None, description="Base URL of an OpenAI-compatible server.")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key (never stored)."
    )
    temperature: float = Field(
        0.8, ge=0, le=2,
        description="Sampling temperature, sent to every model (Vallinder & Hughes set 0.8 for "
        "their Anthropic model only and left the others at their APIs' defaults).",
    )
    max_tokens: int = Field(400, gt=0, description="Reply length cap per call.")
    timeout_s: float = Field(60.0, gt=0, description="Per-attempt timeout of a model call.")
    max_retries: int = Field(
        3, ge=0,
        description="Retries after a failed call (so 4 attempts in all; Vallinder & Hughes made "
        "3 attempts).",
    )
    max_concurrency: int = Field(10, gt=0, description="Model calls in flight at once.")
    max_repairs: int = Field(
        1, ge=0, description="Re-prompts after an unparseable reply before the fallback."
    )
    log_decisions: Literal["all", "llm", "none"] = Field(
        "all",
        description="Which decisions go into the store's `decisions` table: 'all', only those "
        "of LLM brains ('llm'; rule sweeps stay small), or 'none'. Model calls are always "
        "logged in `llm_calls`.",
    )
    transport: Literal["auto", "litellm", "direct"] = Field(
        "auto",
        description="How model calls travel: 'direct' over HTTP to an OpenAI-compatible "
        "api_base (a model 'openai/...' with api_base, or 'local/...'), far cheaper in CPU per "
        "call; 'litellm' through litellm; 'auto' direct where that sends what litellm would "
        "(models litellm neither prices nor rewrites), else litellm. The run stores the same "
        "either way; its meta records the transport each model used.",
    )
    outage_patience_s: float = Field(
        300.0, gt=0, allow_inf_nan=False,
        description="How long the model's provider may fail every call before the run stops "
        "(resumably, exit status 4) instead of waiting longer.",
    )
    prompts_dir: str | None = Field(
        None,
        description="Directory whose prompt files replace the scenario's built-in ones of the "
        "same name (a file there that replaces none is refused).",
    )

    def __setattr__(self, name: str, value: Any) -> None:
        """Assignments are validated (`validate_assignment`), and validating one re-runs the
        config's validators; a scenario validator that sets a key (a derived default) would
        then set it again, and again, until RecursionError. Inside that re-run the key is set
        as given: the assignment that started it is what gets validated."""
        active = _assigning.get()
        if id(self) in active:
            self.__dict__[name] = value
            self.__pydantic_fields_set__.add(name)
            return
        token = _assigning.set(active | {id(self)})
        try:
            super().__setattr__(name, value)
        finally:
            _assigning.reset(token)

    @field_validator("api_key_env")
    @classmethod
    def _a_variable_name_not_a_key(cls, name: str | None) -> str | None:
        # A key pasted here would be written into config.toml, config.json and the store.
        if name is not None:
            check_key_env_name(name)
            watch_env(name)
        return name

    @field_validator("api_base")
    @classmethod
    def _usable_api_base(cls, value: str | None) -> str | None:
        # A URL no request can go to is a config mistake, not a passing fault of the server.
        return None if value is None else check_api_base(value)

    @field_validator("model")
    @classmethod
    def _model_named(cls, model: str | None) -> str | None:
        if model is not None and not model.strip():
            raise ValueError("must name a litellm model, e.g. 'openai/gpt-4o-mini' "
                             "(leave it out to run rule brains only)")
        return model

    @field_validator("prompts_dir")
    @classmethod
    def _prompts_dir_exists(cls, directory: str | None) -> str | None:
        # A mistyped directory, or a file in it that replaces nothing, would otherwise
        # silently run the built-in prompts.
        if directory is None:
            return directory
        if not Path(directory).is_dir():
            problem = "is not a directory" if Path(directory).exists() else "does not exist"
            raise ValueError(f"{directory} {problem}")
        packages = cls.prompt_packages()
        try:
            if packages:
                check_overrides(directory, packages)
        except PromptError as error:
            raise ValueError(error.args[0]) from None
        return directory

    @classmethod
    def prompt_packages(cls) -> tuple[str, ...]:
        """The packages whose templates `prompts_dir` may replace (see `PROMPT_PACKAGES`)."""
        if cls.PROMPT_PACKAGES is not None:
            return cls.PROMPT_PACKAGES
        package = cls.__module__.rpartition(".")[0]
        return (package,) if package and template_names(package) else ()

    @model_validator(mode="after")
    def _transport_can_reach(self) -> RunConfig:
        check_transport(self.transport, self.model, self.api_base)
        return self

    @model_validator(mode="after")
    def _finite(self) -> RunConfig:
        """No infinite or NaN number anywhere, nested settings included: `ge=0` lets `inf`
        through, and an infinite endowment or multiplier makes every result meaningless."""
        for key, value in _numbers(self.model_dump(), ()):
            if not math.isfinite(value):
                raise ValueError(f"config key {key!r} must be a finite number (got {value})")
        return self

    def llm_settings(self) -> LLMSettings:
        """The gateway's view of this config (hashable, so clients can be shared)."""
        assert self.model is not None
        return LLMSettings(
            model=self.model,
            api_base=self.api_base,
            api_key_env=self.api_key_env,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            max_concurrency=self.max_concurrency,
            outage_patience_s=self.outage_patience_s,
            transport=self.transport,
        )


def parse_override(text: str) -> tuple[list[str], Any]:
    """`key=value` → (key path, value). Values are read as TOML, else kept as plain strings."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects key=value, got {text!r}")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def load_config(
    config_type: type[RunConfig],
    *,
    path: str | Path | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
    values: dict[str, Any] | None = None,
) -> RunConfig:
    """Build a validated config: defaults ← file ← `values` (CLI flags) ← `--set` overrides.

    A flag and a `--set` of the same key that disagree (`--seed 3 --set seed=4`) are refused:
    one of them would be dropped without a word, and a run under the wrong seed looks fine.
    """
    data: dict[str, Any] = read_config_file(path) if path is not None else {}
    flags = {key: value for key, value in (values or {}).items() if value is not None}
    data.update(flags)
    for text in overrides:
        keys, value = parse_override(text)
        if len(keys) == 1 and keys[0] in flags and flags[keys[0]] != value:
            raise ConfigError(f"--{keys[0]} {flags[keys[0]]} and --set {text.strip()} disagree; "
                              f"give the {keys[0]} once")
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                raise ConfigError(f"--set {text!r}: {key!r} is not a table")
        target[keys[-1]] = value
    try:
        return config_type.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, config_type)) from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A config file's keys as written (defaults not filled in: a sweep sets more keys, and
    defaults that depend on them, like `brains` on `model`, must be derived afterwards)."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a TOML file") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {describe_os_error(error)}"
                          ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None


def describe_validation_error(error: ValidationError, config_type: type[BaseModel]) -> str:
    """One line per problem, naming the key, what was wrong, and the valid keys if unknown."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        cause = problem.get("ctx", {}).get("error")
        if problem["type"] == "extra_forbidden":
            known = ", ".join(sorted(_fields_at(config_type, problem["loc"][:-1])))
            lines.append(f"unknown config key {key!r} (known keys: {known})")
        elif problem["loc"] and problem["loc"][-1] in SECRET_INPUTS:
            lines.append(f"config key {key!r}: {problem['msg']}")
        elif cause is not None and not key:
            lines.append(str(cause))  # a whole-config rule: its message names the keys
        elif cause is not None:
            lines.append(f"config key {key!r}: {cause}")
        else:
            lines.append(f"config key {key!r}: {problem['msg']} (got {problem.get('input')!r})")
    return "; ".join(lines)


def _numbers(value: Any, path: tuple[str, ...]) -> list[tuple[str, float]]:
    """Every float in a dumped config with its dotted key, however deeply nested."""
    if isinstance(value, float):
        return [(".".join(path), value)]
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _numbers(v, (*path, str(k)))]
    if isinstance(value, (list, tuple)):
        return [found for i, v in enumerate(value) for found in _numbers(v, (*path, str(i)))]
    return []


def to_toml(values: dict[str, Any]) -> str:
    """Write a resolved config as TOML that `load_config(path=...)` reads back identically."""
    lines = []
    for key, value in values.items():
        if value is None:
            continue  # TOML has no null; an absent key means the default, which is None
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, dict):
        # a nested None is left out like a top-level one: absent means the default, None
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()
                          if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def _fields_at(model: type[BaseModel], path: tuple) -> list[str]:
    """The field names of the (possibly nested) model at `path`, to list valid keys."""
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return list(model.model_fields)
        model = annotation
    return list(model.model_fields)
