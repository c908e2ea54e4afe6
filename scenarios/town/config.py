"""The town's configuration: which town file, how many days, how residents behave under rule
brains, the seeded intentions, generations and memory settings."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scenarios.town.architecture import Architecture
from scenarios.town.interview_config import InterviewSettings
from scenarios.town.townmap import Person, TownMap, load_town, parse_clock
from sim import RunConfig
from sim.memory import MemoryConfig

#: One simulated minute is one unit of the SimPy clock; memory recency counts hours.
HOURS_PER_MINUTE = 1 / 60


class Intention(BaseModel):
    """Something one resident means to do and others may hear of: an event at a place and
    time (a party), or an announcement (running for mayor)."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(description="Resident id whose intention this is (knows from the start).")
    topic: str = Field(description="Short name of the news, e.g. 'party'; a conversation "
                       "passes it on when an utterance of someone who knows names it.")
    kind: Literal["event", "announcement"] = Field("event", description="'event' (a place and "
                                                   "a time) or 'announcement'.")
    description: str = Field(description="What it is, in words residents repeat, e.g. 'is "
                             "hosting a harvest party at the Copper Kettle'.")
    keywords: list[str] = Field(default_factory=list, description="Words whose mention passes "
                                "the news on (default: the topic itself).")
    place: str | None = Field(None, description="Place id of an event.")
    day: int | None = Field(None, ge=0, description="0-based day of an event.")
    start: str | None = Field(None, description="Start of an event, 'HH:MM'.")
    end: str | None = Field(None, description="End of an event, 'HH:MM'.")

    @model_validator(mode="after")
    def _complete(self) -> Intention:
        if not self.topic.strip() or not self.description.strip():
            raise ValueError("an intention needs a topic and a description")
        if self.kind == "event":
            missing = [k for k in ("place", "day", "start", "end") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"event {self.topic!r} needs {', '.join(missing)}")
            if self.start_minute >= self.end_minute:
                raise ValueError(f"event {self.topic!r}: end must come after start")
        return self

    @property
    def start_minute(self) -> int:
        return parse_clock(self.start or "00:00", f"intention {self.topic!r} start")

    def day_text(self, day: int) -> str:
        """'Tuesday 14 February 2023 (day 2)': how prompts name a day (days counted from 1)."""
        return _day_text(self.start_date, day)

    @property
    def end_minute(self) -> int:
        return parse_clock(self.end or "00:00", f"intention {self.topic!r} end")

    def words(self) -> list[str]:
        return [w.lower() for w in (self.keywords or [self.topic])]


class TownConfig(RunConfig):
    """A small town of residents living days on the SimPy clock (Park et al. 2023)."""

    #: One `prompts_dir` replaces the town's templates and the memory stream's alike.
    PROMPT_PACKAGES = ("scenarios.town", "sim.memory")

    town_file: str | None = Field(
        None, description="TOML file describing the town (places, residents, newcomers, its "
        "own intentions), or the name of a packaged town: 'larkfield' (10 residents; None "
        "means it) or 'brackenford' (25 residents, the paper's scale)."
    )
    days: int = Field(2, ge=1, le=365, description="Simulated days in the run.")
    hours: int | None = Field(
        None, ge=1, le=24, description="End the run this many hours after midnight of its last "
        "day (9: at 09:00), for a short day: spans are closed and that day's metrics written "
        "at the cut. None: whole days."
    )
    residents: int | None = Field(
        None, ge=2, description="Use only the first N residents of the town file (None: all); "
        "more than the file holds is an error."
    )
    brains: Literal["rule", "llm"] | None = Field(
        None, description="'rule' or 'llm' for every resident; None: 'llm' when a model is "
        "set, else 'rule'."
    )
    chat_probability: float = Field(
        0.2, ge=0, le=1, description="Rule brains: chance of starting a conversation with "
        "someone newly seen at the same place."
    )
    share_probability: float = Field(
        0.4, ge=0, le=1, description="Rule brains: chance, at each of their turns, of passing "
        "on a piece of news the listener has not heard from them."
    )
    attend_probability: float = Field(
        0.5, ge=0, le=1, description="Rule brains: chance of planning to attend an event they "
        "know of (the host always attends)."
    )
    max_turns: int = Field(8, ge=2, le=40, description="Utterances after which a conversation "
                           "ends ('limit').")
    minutes_per_turn: int = Field(1, ge=1, le=10, description="Simulated minutes one "
                                  "utterance takes.")
    chat_cooldown: int = Field(180, ge=0, description="Minutes before the same two residents "
                               "may start another conversation.")
    attendance_minutes: int = Field(15, ge=1, description="Minutes at an event's place during "
                                    "its window that count as attending.")
    intentions: list[Intention] = Field(
        default_factory=list,
        description="Seeded intentions ([[intentions]] tables): agent, topic, kind "
        "('event'|'announcement'), description, keywords, place, day, start, end. Unset: the "
        "town file's own (Larkfield: a party and a mayoral run).",
    )
    days_per_generation: int | None = Field(
        None, ge=1, description="Every this many days a share of residents leave and newcomers "
        "arrive, inheriting memories by memory_settings.inheritance (None: no generations)."
    )
    leave_share: float = Field(0.3, gt=0, lt=1, description="Share of residents who leave at "
                               "each generation's end.")
    architecture: Architecture = Field(
        default_factory=Architecture,
        description="Which parts of the paper's agent architecture the residents run, each "
        "defaulting to the paper ('preset': 'paper' or 'lean'); docs/town.md.",
    )
    start_date: str = Field(
        "2023-02-13", description="The date of day 1 (YYYY-MM-DD), as prompts give it (with "
        "its weekday); the paper's town began on Monday 13 February 2023."
    )
    memory_settings: MemoryConfig = Field(
        default_factory=lambda: MemoryConfig(hours_per_time_unit=HOURS_PER_MINUTE,
                                             inheritance="reflections"),
        description="Retrieval weights, reflection threshold, embedder and inheritance "
        "(docs/memory.md); 'preset' picks 'paper' or 'released_code'. The clock counts minutes.",
    )

    interviews: InterviewSettings = Field(
        default_factory=InterviewSettings,
        description="What the run asks its residents to measure them: knowledge of each "
        "seeded intention at every day's end, acquaintance with each other resident at the "
        "start and the end (docs/town.md, 'Interviews').",
    )

    @field_validator("memory_settings", mode="before")
    @classmethod
    def _minutes_and_inheritance(cls, value: Any) -> Any:
        # The town's clock counts minutes, and newcomers inherit reflections unless told
        # otherwise; a partial table (`--set memory_settings.preset=...`) keeps both.
        if isinstance(value, dict):
            return {"hours_per_time_unit": HOURS_PER_MINUTE, "inheritance": "reflections",
                    **value}
        return value

    @field_validator("start_date")
    @classmethod
    def _a_date(cls, value: str) -> str:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"start_date must be a date like 2023-02-13, got {value!r}") \
                from None

    @model_validator(mode="before")
    @classmethod
    def _default_brains(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("brains"):
            data = {**data, "brains": "llm" if data.get("model") else "rule"}
        return data

    @model_validator(mode="before")
    @classmethod
    def _town_intentions(cls, data: Any) -> Any:
        # Unset intentions are the town file's own, resolved here so that the run's resolved
        # config (and a resume) names them.
        if isinstance(data, dict) and data.get("intentions") is None:
            town = data.get("town_file")
            data = {**data, "intentions": load_town(town if isinstance(town, str) else None)
                    .intentions}
        return data

    @model_validator(mode="after")
    def _check(self) -> TownConfig:
        if self.brains == "llm" and not self.model:
            raise ValueError("brains = 'llm' needs a model (use --model)")
        topics = [i.topic for i in self.intentions]
        if len(set(topics)) != len(topics):
            raise ValueError("intentions must have distinct topics")
        town_and_people(self)  # a bad town file is refused before a run directory exists
        return self

    @property
    def llm(self) -> bool:
        return self.brains == "llm"

    def day_text(self, day: int) -> str:
        """'Tuesday 14 February 2023 (day 2)': how prompts name a day (days counted from 1)."""
        return _day_text(self.start_date, day)

    @property
    def end_minute(self) -> int:
        """The clock minute the run ends at: midnight after the last day, or its `hours`."""
        return ((self.days - 1) * 24 + (self.hours or 24)) * 60


@lru_cache(maxsize=1024)
def _day_text(start: str, day: int) -> str:
    date = dt.date.fromisoformat(start) + dt.timedelta(days=day)
    return f"{date:%A} {date.day} {date:%B %Y} (day {day + 1})"


def town_and_people(config: TownConfig) -> tuple[TownMap, list[Person]]:
    """The config's town and its first `residents` people, checked against the intentions."""
    townmap = load_town(config.town_file)
    if config.residents and config.residents > len(townmap.residents):
        larger = " (a larger town: town_file = 'brackenford' has 25)" \
            if len(townmap.residents) < 25 else ""
        raise ValueError(f"residents = {config.residents} but the town file has only "
                         f"{len(townmap.residents)}{larger}")
    people = townmap.residents[: config.residents or None]
    ids = {p.agent_id for p in people}
    for i in config.intentions:
        if i.agent not in ids:
            raise ValueError(f"intention {i.topic!r}: unknown resident {i.agent!r} "
                             f"(residents: {', '.join(sorted(ids))})")
        if i.kind == "event":
            place = townmap.resolve(i.place or "")
            if place is None or townmap.places[place].level != "place":
                raise ValueError(f"intention {i.topic!r}: unknown place {i.place!r}")
    return townmap, people
