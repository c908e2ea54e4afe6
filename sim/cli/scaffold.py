"""`societas new-scenario NAME`: a working scenario package to start a new game from.

The package is copied from the templates in `sim/cli/templates/scenario/` (package data), which are
plain text: they are never imported or executed here, only read, with four placeholders
(`{{name}}`, `{{package}}`, `{{model_class}}`, `{{title}}`) replaced, a `PACKAGE` folder renamed
to the package's name and the `.tmpl` suffix dropped. Written as templates rather than code
generated in Python, so that what a user receives can be read (and reviewed) as it will be.

The result is a small but complete game that uses only the public API (`from sim import ...`):
its own `pyproject.toml` with the `societas.scenarios` entry point, a config, a model on the
engine's generations-of-rounds driver (`GenerationsOfRounds`: it writes only its round and its
scores), rule brains, an LLM task with its reply declared once, prompt files, a table, a
metric, a figure, a README saying what to edit, and tests that pass as generated.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from sim.errors import UserError

#: Lower-case letters, digits and single '-' or '_' between them, starting with a letter.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
MAX_NAME_LENGTH = 40
TEMPLATE_SUFFIX = ".tmpl"
PACKAGE_FOLDER = "PACKAGE"


def placeholders(name: str) -> dict[str, str]:
    """The values a scenario's name gives the templates' placeholders."""
    words = re.split(r"[-_]", name)
    return {
        "{{name}}": name,
        "{{package}}": name.replace("-", "_"),
        "{{model_class}}": "".join(word.capitalize() for word in words),
        "{{title}}": " ".join(words).capitalize(),
    }


def check_name(name: str) -> None:
    """Refuse a name that would not make a usable scenario and package, in one line."""
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.fullmatch(name):
        raise UserError(
            f"scenario name {name!r} is not usable: use lower-case letters, digits and single "
            f"'-' or '_' between them, starting with a letter, at most {MAX_NAME_LENGTH} "
            "characters (e.g. stag-hunt)"
        )
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or not package.isidentifier():
        raise UserError(f"scenario name {name!r} would make the package name {package!r}, "
                        "which Python cannot import; choose another name")
    from sim.registry import scenario_names

    normalised = name.replace("_", "-")
    if normalised in scenario_names():
        raise UserError(f"a scenario named {normalised!r} is already installed; "
                        "choose another name")
    if importlib.util.find_spec(package) is not None:
        raise UserError(f"a Python module named {package!r} already exists here, which the "
                        "new package would clash with; choose another name")


def new_scenario(name: str, directory: str | Path = ".") -> Path:
    """Write the scenario package `directory/name`; returns its folder.

    Refuses (one-line `UserError`) a bad name and an existing target, before writing anything.
    """
    check_name(name)
    target = Path(directory) / name
    if target.exists() or target.is_symlink():
        raise UserError(f"{target} already exists; choose another name or --dir "
                        "(nothing was written)")
    values = placeholders(name)
    files = dict(_template_files(resources.files("sim.cli") / "templates" / "scenario", ()))
    rendered = {_target_path(parts, values): _render(text, values)
                for parts, text in files.items()}
    target.mkdir(parents=True)
    for relative, text in sorted(rendered.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def _template_files(folder: Traversable, parts: tuple[str, ...]
                    ) -> list[tuple[tuple[str, ...], str]]:
    """(path parts, text) of every template file under `folder`, in name order."""
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if entry.name != "__pycache__":
                found += _template_files(entry, (*parts, entry.name))
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found.append(((*parts, entry.name), entry.read_text(encoding="utf-8")))
    return found


def _target_path(parts: tuple[str, ...], values: dict[str, str]) -> Path:
    package = values["{{package}}"]
    renamed = [part.replace(PACKAGE_FOLDER, package) for part in parts]
    renamed[-1] = renamed[-1].removesuffix(TEMPLATE_SUFFIX)
    return Path(*renamed)


def _render(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    leftover = re.search(r"\{\{\w+\}\}", text)
    if leftover:  # a template names a placeholder this module does not fill: a bug here
        raise RuntimeError(f"template placeholder {leftover.group(0)} has no value")
    return text
