"""The town file: places as a tree (town -> area -> place -> object) and the people who live there.

A user edits a TOML file rather than Python, so every mistake in it must come back as one line
naming the entry at fault (`TownFileError`, a `ConfigError`: exit status 2 from the CLI). The
format (see docs/town.md):

    [town]                    id, name, minutes_per_unit (walking time per map unit)
    [[places]]                id, name, parent (the town's id for an area), kind, x, y,
                              objects = ["counter", ...] (places only)
    [[residents]]             id, name, occupation, home, work, persona, wake, bedtime,
                              knows = ["kettle", ...] (places known from the start)
    [[newcomers]]             the same keys: who arrives when a generation turns over
    [[intentions]]            the town's own seeded news (the config's `intentions` keys),
                              used when the config names none

A place's level follows from its depth: the town's children are areas, theirs are places;
objects are listed inline in their place. Ids are unique across the file; the store names a
place by its dotted path from the town ("millbrook.riverside.kettle").
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sim import ConfigError

DEFAULT_TOWN = "default_town.toml"
#: Towns that ship with the scenario, selectable by name as `town_file`.
PACKAGED_TOWNS = {"larkfield": DEFAULT_TOWN, "brackenford": "brackenford.toml"}
LEVELS = ("town", "area", "place", "object")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class TownFileError(ConfigError):
    """A town file that cannot describe a town; the message names the entry at fault."""


@dataclass(frozen=True)
class Place:
    """A node of the town tree; `place_id` is its dotted path from the town."""

    place_id: str
    short_id: str
    name: str
    parent: str | None
    level: str
    kind: str
    x: float
    y: float


@dataclass(frozen=True)
class Person:
    """A resident (or a newcomer waiting to arrive) as the town file describes them."""

    agent_id: str
    name: str
    occupation: str
    home: str  # place_id
    work: str | None  # place_id
    persona: str
    wake: int  # minute of the day
    bedtime: int
    knows: tuple[str, ...] = ()  # place_ids known from the start besides home, work, areas


@dataclass
class TownMap:
    """The parsed town: its tree, its people and the walking times between places."""

    town_id: str
    name: str
    minutes_per_unit: float
    places: dict[str, Place]  # by place_id, in file order (town first)
    residents: list[Person]
    newcomers: list[Person] = field(default_factory=list)
    _by_short: dict[str, str] = field(default_factory=dict)
    #: The file's [[intentions]] tables, unvalidated (the config checks them).
    intentions: list[dict[str, Any]] = field(default_factory=list)
    _names: tuple[Any, dict[str, str]] | None = field(default=None, repr=False)
    _spots: dict[str, float] = field(default_factory=dict, repr=False)

    def resolve(self, ref: str) -> str | None:
        """A place's dotted path from either its id or its path; None if it does not exist."""
        if ref in self.places:
            return ref
        return self._by_short.get(ref)

    def spots(self) -> list[Place]:
        """The places people go to (level 'place'), in file order."""
        return [p for p in self.places.values() if p.level == "place"]

    def objects(self, place_id: str) -> list[Place]:
        return [p for p in self.places.values() if p.parent == place_id and p.level == "object"]

    def spot_of(self, object_id: str) -> float:
        """Where an object stands within its place, between 0 and 1 (by its order there)."""
        spot = self._spots.get(object_id)
        if spot is None:
            siblings = self.objects(self.places[object_id].parent or "")
            for i, obj in enumerate(siblings):
                self._spots[obj.place_id] = (i + 0.5) / len(siblings)
            spot = self._spots[object_id]
        return spot

    def of_kind(self, kind: str) -> list[Place]:
        return [p for p in self.spots() if p.kind == kind]

    def travel_minutes(self, origin: str, destination: str) -> int:
        """Walking time: straight-line distance times `minutes_per_unit`, rounded up; at least
        one minute between two different places."""
        if origin == destination:
            return 0
        a, b = self.places[origin], self.places[destination]
        distance = math.hypot(a.x - b.x, a.y - b.y)
        return max(1, math.ceil(distance * self.minutes_per_unit - 1e-9))

    def name_of(self, place_id: str | None) -> str:
        return self.places[place_id].name if place_id in self.places else "somewhere"

    def area_of(self, place_id: str) -> str | None:
        """The area a place (or object) lies in; None for the town itself."""
        place = self.places.get(place_id)
        while place is not None and place.level not in ("area", "town"):
            place = self.places.get(place.parent or "")
        return place.place_id if place is not None and place.level == "area" else None

    def route(self, origin: str, destination: str, radius: float) -> list[tuple[int, str]]:
        """The places a walk passes: (minutes after setting off, place_id) for every place
        within `radius` map units of the straight line between the two, in the order met
        (homes are not seen into from the street), ending with the destination at the full
        walking time."""
        total = self.travel_minutes(origin, destination)
        passed: list[tuple[float, str]] = []
        a, b = self.places[origin], self.places[destination]
        dx, dy = b.x - a.x, b.y - a.y
        length2 = dx * dx + dy * dy
        if radius > 0 and length2 > 0:
            for place in self.spots():
                if place.place_id in (origin, destination) or place.kind == "home":
                    continue
                t = ((place.x - a.x) * dx + (place.y - a.y) * dy) / length2
                if not 0 < t < 1:
                    continue
                off = math.hypot(a.x + t * dx - place.x, a.y + t * dy - place.y)
                if off <= radius:
                    passed.append((t, place.place_id))
        passed.sort()
        return [(min(total, round(t * total)), p) for t, p in passed] + [(total, destination)]

    def places_named_in(self, text: str) -> list[str]:
        """The places (level 'place') a text names, by their names with or without a leading
        'the' (case-insensitive, whole words): how a listener learns of a place."""
        if self._names is None:
            by_name = {}
            for place in self.spots():
                name = place.name.lower().removeprefix("the ")
                if len(name) >= 3:
                    by_name.setdefault(name, place.place_id)
            words = sorted(by_name, key=len, reverse=True)
            pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b",
                                 re.IGNORECASE) if words else None
            self._names = (pattern, by_name)
        pattern, by_name = self._names
        if pattern is None:
            return []
        return list(dict.fromkeys(by_name[m.group(0).lower()] for m in pattern.finditer(text)))


def load_town(path: str | Path | None) -> TownMap:
    """Read a town file: a path, the name of a packaged town (`PACKAGED_TOWNS`), or None for
    the default town."""
    if path is None or str(path) in PACKAGED_TOWNS:
        origin = PACKAGED_TOWNS.get(str(path), DEFAULT_TOWN)
        text = resources.files("scenarios.town").joinpath(origin).read_text("utf-8")
    else:
        origin = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TownFileError(f"town file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise TownFileError(f"cannot read town file {path}: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TownFileError(f"town file {origin} is not valid TOML: {error}") from None
    try:
        return parse_town(data)
    except TownFileError as error:
        raise TownFileError(f"town file {origin}: {error}") from None


def parse_town(data: dict[str, Any]) -> TownMap:
    """Build the town from a town file's data, refusing any inconsistency in one line."""
    _only(data, {"town", "places", "residents", "newcomers", "intentions"}, "the file")
    town = data.get("town")
    if not isinstance(town, dict):
        raise TownFileError("a [town] table with an id is required")
    _only(town, {"id", "name", "minutes_per_unit"}, "[town]")
    town_id = _ident(town.get("id"), "[town] id")
    minutes_per_unit = town.get("minutes_per_unit", 1.0)
    if not isinstance(minutes_per_unit, int | float) or not 0 < minutes_per_unit < 1e6:
        raise TownFileError("[town] minutes_per_unit must be a positive number")
    entries = data.get("places", [])
    if not isinstance(entries, list) or not entries:
        raise TownFileError("at least one [[places]] entry is required")
    raw: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        where = f"[[places]] #{index + 1}"
        if not isinstance(entry, dict):
            raise TownFileError(f"{where} must be a table")
        _only(entry, {"id", "name", "parent", "kind", "x", "y", "objects"}, where)
        short = _ident(entry.get("id"), f"{where} id")
        if short in raw or short == town_id:
            raise TownFileError(f"duplicate place id {short!r}")
        for axis in ("x", "y"):
            value = entry.get(axis, 0)
            # TOML reads inf and nan as numbers; a map (and a travel time) from them is not one
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise TownFileError(f"place {short!r}: {axis} must be a finite number "
                                    f"(got {value!r})")
        raw[short] = entry
    depth = {short: _depth(short, raw, town_id) for short in raw}
    places: dict[str, Place] = {town_id: Place(town_id, town_id, str(town.get("name", town_id)),
                                               None, "town", "town", 0.0, 0.0)}
    by_short: dict[str, str] = {}
    path_of: dict[str, str] = {}

    def path(short: str) -> str:
        if short not in path_of:
            parent = raw[short].get("parent", town_id)
            path_of[short] = f"{town_id if parent == town_id else path(parent)}.{short}"
        return path_of[short]

    for short, entry in raw.items():
        level = {1: "area", 2: "place"}.get(depth[short])
        if level is None:
            raise TownFileError(f"place {short!r} lies {depth[short]} levels below the town; "
                                "the tree is town -> area -> place (objects go in a place's "
                                "objects list)")
        if entry.get("objects") and level != "place":
            raise TownFileError(f"{level} {short!r} cannot hold objects; only places can")
        place_id = path(short)
        parent = entry.get("parent", town_id)
        places[place_id] = Place(
            place_id, short, str(entry.get("name", short)),
            town_id if parent == town_id else path(parent), level,
            str(entry.get("kind", level)), float(entry.get("x", 0.0)), float(entry.get("y", 0.0)))
        by_short[short] = place_id
    for short, entry in raw.items():  # objects after all places, so ids stay in file order
        objects = entry.get("objects", [])
        if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
            raise TownFileError(f"place {short!r}: objects must be a list of names")
        seen: set[str] = set()
        for name in objects:
            slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "object"
            if slug in seen:
                raise TownFileError(f"place {short!r}: duplicate object {name!r}")
            seen.add(slug)
            owner = places[path(short)]
            places[f"{owner.place_id}.{slug}"] = Place(
                f"{owner.place_id}.{slug}", slug, name, owner.place_id, "object", "object",
                owner.x, owner.y)
    _area_coordinates(places)
    townmap = TownMap(town_id, str(town.get("name", town_id)), float(minutes_per_unit), places,
                      [], [], by_short)
    townmap.residents = _people(data.get("residents", []), "residents", townmap, set())
    if len(townmap.residents) < 2:
        raise TownFileError("a town needs at least two [[residents]]")
    taken = {p.agent_id for p in townmap.residents}
    townmap.newcomers = _people(data.get("newcomers", []), "newcomers", townmap, taken)
    intentions = data.get("intentions", [])
    if not isinstance(intentions, list) or not all(isinstance(i, dict) for i in intentions):
        raise TownFileError("[[intentions]] must be a list of tables")
    townmap.intentions = [dict(i) for i in intentions]
    return townmap


def _depth(short: str, raw: dict[str, dict[str, Any]], town_id: str) -> int:
    """How far below the town a place lies; refuses unknown parents and cycles."""
    chain = [short]
    current = short
    while True:
        parent = raw[current].get("parent", town_id)
        if parent == town_id:
            return len(chain)
        if not isinstance(parent, str) or parent not in raw:
            raise TownFileError(f"place {current!r}: unknown parent {parent!r}")
        if parent in chain:
            loop = " -> ".join([*chain[chain.index(parent):], parent])
            raise TownFileError(f"places form a cycle: {loop}")
        chain.append(parent)
        current = parent


def _area_coordinates(places: dict[str, Place]) -> None:
    """An area without coordinates of its own sits at the mean of its places (for the map)."""
    for place_id, area in list(places.items()):
        if area.level != "area" or (area.x, area.y) != (0.0, 0.0):
            continue
        inside = [p for p in places.values() if p.parent == place_id]
        if inside:
            x = sum(p.x for p in inside) / len(inside)
            y = sum(p.y for p in inside) / len(inside)
            places[place_id] = Place(area.place_id, area.short_id, area.name, area.parent,
                                     area.level, area.kind, x, y)


def _people(entries: Any, table: str, townmap: TownMap, taken: set[str]) -> list[Person]:
    if not isinstance(entries, list):
        raise TownFileError(f"[[{table}]] must be a list of tables")
    people = []
    for index, entry in enumerate(entries):
        where = f"[[{table}]] #{index + 1}"
        if not isinstance(entry, dict):
            raise TownFileError(f"{where} must be a table")
        _only(entry, {"id", "name", "occupation", "home", "work", "persona", "wake", "bedtime",
                      "knows"}, where)
        agent_id = _ident(entry.get("id"), f"{where} id")
        if agent_id in taken:
            raise TownFileError(f"duplicate resident id {agent_id!r}")
        taken.add(agent_id)
        home = _spot(townmap, entry.get("home"), agent_id, "home")
        work = _spot(townmap, entry["work"], agent_id, "work") if entry.get("work") else None
        wake = _minute(entry.get("wake", "07:00"), agent_id, "wake")
        bedtime = _minute(entry.get("bedtime", "22:30"), agent_id, "bedtime")
        if not wake + 120 <= bedtime:
            raise TownFileError(f"resident {agent_id!r}: bedtime must be at least two hours "
                                "after wake, on the same day")
        knows = entry.get("knows", [])
        if not isinstance(knows, list):
            raise TownFileError(f"resident {agent_id!r}: knows must be a list of place ids")
        known = tuple(_spot(townmap, ref, agent_id, "known place") for ref in knows)
        people.append(Person(agent_id, str(entry.get("name", agent_id)),
                             str(entry.get("occupation", "resident")), home, work,
                             str(entry.get("persona", "")).strip(), wake, bedtime, known))
    return people


def _spot(townmap: TownMap, ref: Any, agent_id: str, what: str) -> str:
    place_id = townmap.resolve(ref) if isinstance(ref, str) else None
    if place_id is None:
        known = ", ".join(p.short_id for p in townmap.spots())
        raise TownFileError(f"resident {agent_id!r}: unknown {what} {ref!r} (places: {known})")
    if townmap.places[place_id].level != "place":
        raise TownFileError(f"resident {agent_id!r}: {what} {ref!r} is an "
                            f"{townmap.places[place_id].level}, not a place")
    return place_id


def _minute(value: Any, agent_id: str, what: str) -> int:
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise TownFileError(f"resident {agent_id!r}: {what} must be a time like \"07:30\", "
                            f"got {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise TownFileError(f"{where} must be lower-case letters, digits and _ starting with a "
                            f"letter, got {value!r}")
    return value


def _only(entry: dict[str, Any], keys: set[str], where: str) -> None:
    unknown = sorted(set(entry) - keys)
    if unknown:
        raise TownFileError(f"{where}: unknown key(s) {unknown} (known: {', '.join(sorted(keys))})")


def parse_clock(value: str, where: str) -> int:
    """"HH:MM" -> minute of the day, for config values (intentions)."""
    match = _TIME_RE.match(value)
    if match is None:
        raise ValueError(f"{where} must be a time like \"17:00\", got {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def clock_text(minute: int) -> str:
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"
