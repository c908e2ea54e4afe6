"""Prompt assembly: editable template files, and agent-written text quoted as data.

Templates use `string.Template` (`$name`) rather than `str.format`, so prompt authors can write
JSON examples with braces without escaping them. Text that one agent wrote and another will read
is wrapped by `quote_agent_text`: its angle brackets are escaped so it cannot close the block it
sits in, and the prompts tell the model that such blocks are information, not instructions.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from sim.errors import UserError

AGENT_TEXT_TAG = "agent_text"


def escape_markup(text: str) -> str:
    """Agent-written text with its angle brackets escaped, so it cannot open or close a tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote_agent_text(text: str, *, author: str | None) -> str:
    """Delimit untrusted agent-written text so it reads as quoted data; `author=None` quotes it
    without naming who wrote it (a scenario that shows advice anonymously)."""
    opening = AGENT_TEXT_TAG if author is None else f'{AGENT_TEXT_TAG} author="{author}"'
    return f"<{opening}>\n{escape_markup(text)}\n</{AGENT_TEXT_TAG}>"


class PromptError(UserError, KeyError):
    """A prompt template (usually a user's override) does not fit the values it is given."""


def template_names(package: str) -> set[str]:
    """Every template a package ships under its `prompts/` folder, as `parts/rule_costly.txt`."""
    root = resources.files(package).joinpath("prompts")
    return set(_files(root, "")) if root.is_dir() else set()


def _files(folder: Traversable, prefix: str) -> Iterable[str]:
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".txt"):
            yield f"{prefix}{entry.name}"


def check_overrides(directory: str | Path, packages: Sequence[str]) -> None:
    """Refuse a prompt directory holding a file that replaces no template of `packages`.

    A misspelt or outdated name (`question_unit.txt`, a template a release renamed) would
    otherwise be ignored in silence, and the run would use the built-in prompt the user meant
    to replace. Hidden files (`.DS_Store`, editor swap files) are left alone.
    """
    known: set[str] = set().union(*(template_names(p) for p in packages)) if packages else set()
    root = Path(directory)
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_dir() or any(part.startswith(".") for part in name.split("/")):
            continue
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean {close[0]}?" if close else "no template has that name"
            raise PromptError(f"prompts_dir {root}: {name} replaces no prompt template ({hint}; "
                              "the templates are listed in the scenario's docs)")


#: A template as a `str.format` text with positional fields, and the names they take in order.
_Compiled = tuple[str, tuple[str, ...]]


def _compile(template: string.Template) -> _Compiled | None:
    """`template` as a format text that gives what `substitute` gives (every value through
    `str`, `$$` as `$`): a prompt is rendered for every model call, and `substitute`'s regex
    pass with a Python callback per placeholder cost a fifth of a donation prompt's rendering.
    None for a template with a lone `$`, whose error `substitute` reports."""
    pieces: list[str] = []
    names: list[str] = []
    text, at = template.template, 0
    for match in template.pattern.finditer(text):
        if match.group("invalid") is not None:
            return None
        pieces.append(text[at:match.start()].replace("{", "{{").replace("}", "}}"))
        name = match.group("named") or match.group("braced")
        if name is None:  # `$$`
            pieces.append(template.delimiter.replace("{", "{{").replace("}", "}}"))
        else:
            pieces.append(f"{{{len(names)}!s}}")
            names.append(name)
        at = match.end()
    pieces.append(text[at:].replace("{", "{{").replace("}", "}}"))
    return "".join(pieces), tuple(names)


class PromptLibrary:
    """Loads a scenario's prompt templates, letting a user's directory override any of them.

    Names may have folders (`parts/rule_costly.txt`): a scenario keeps its optional sentences
    apart from its main prompts, and an override directory mirrors the same layout.
    """

    def __init__(self, package: str, override_dir: str | Path | None = None) -> None:
        self.package = package
        self.override_dir = Path(override_dir) if override_dir else None
        self._cache: dict[str, string.Template] = {}
        self._compiled: dict[str, _Compiled | None] = {}

    def template(self, name: str) -> string.Template:
        if name not in self._cache:
            self._cache[name] = string.Template(self._read(name))
        return self._cache[name]

    def render(self, name: str, /, **values: object) -> str:
        compiled = self._compiled.get(name, False)
        if compiled is False:
            compiled = self._compiled[name] = _compile(self.template(name))
        if compiled is not None:  # what `substitute` gives, without a regex pass per render
            text, names = compiled
            try:
                return text.format(*map(values.__getitem__, names)).strip()
            except KeyError:
                pass  # the slow path below says which placeholder, and which are known
        try:
            return self.template(name).substitute(values).strip()
        except KeyError as error:
            known = (f"known: {', '.join(sorted(values))}" if values
                     else "this template takes no placeholders")
            raise PromptError(f"prompt template {self._origin(name)} uses unknown placeholder "
                              f"{error} ({known})") from None
        except ValueError as error:  # a lone `$` not followed by a name
            raise PromptError(f"prompt template {self._origin(name)}: {error} "
                              "(write $$ for a literal dollar sign)") from None

    def _override(self, name: str) -> Path | None:
        if self.override_dir is not None and (self.override_dir / name).is_file():
            return self.override_dir / name
        return None

    def _origin(self, name: str) -> str:
        override = self._override(name)
        return str(override) if override is not None else repr(name)

    def _read(self, name: str) -> str:
        override = self._override(name)
        if override is not None:
            return override.read_text(encoding="utf-8")
        return resources.files(self.package).joinpath("prompts", *name.split("/")).read_text(
            encoding="utf-8"
        )
