"""Named choices a config key selects: the built-in ones, and any a user registers.

Reproduction schemes, fitness mappings and mutation operators are each chosen by a config key
(`reproduction = "moran"`). A scenario package or a notebook adds its own by registering it
under a new name before the config is validated; from then on the key accepts that name, and
`societas show-config` and the error for an unknown name list it beside the built-ins.
"""

from __future__ import annotations

import re

from sim.errors import UserError

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class RegistrationError(UserError, ValueError, TypeError):
    """A name or an item that cannot be registered. A `UserError`, because it is raised while a
    scenario package is imported, usually by `societas run`: one line there, not a traceback."""


class Registry[T]:
    """Name -> item for one kind of choice; the built-ins cannot be replaced."""

    def __init__(self, what: str, builtins: dict[str, T]) -> None:
        self.what = what
        self._builtins = frozenset(builtins)
        self._items = dict(builtins)

    def register(self, name: str, item: T) -> T:
        """Make `item` selectable as `name` (lower-case letters, digits, `_`); registering a
        name again replaces the earlier item, so re-running a notebook cell works."""
        if not _NAME.fullmatch(name):
            raise RegistrationError(f"{self.what} name {name!r} must be lower-case letters, "
                                    "digits and '_', starting with a letter")
        if name in self._builtins:
            raise RegistrationError(f"{name!r} is a built-in {self.what}; register yours "
                                    "under another name")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ValueError(f"unknown {self.what} {name!r} (known: {', '.join(self.names())})"
                             ) from None

    def names(self) -> list[str]:
        return list(self._items)

    def is_builtin(self, name: str) -> bool:
        return name in self._builtins

    def registered(self) -> list[str]:
        """The names users registered, in the order they did (the built-ins left out)."""
        return [name for name in self._items if name not in self._builtins]

    def __contains__(self, name: object) -> bool:
        return name in self._items
