"""How memory retrieves, reflects and passes between generations: `MemoryConfig`.

A scenario embeds this model in its own pydantic config (`memory_settings` in the Donor Game),
so every setting is validated, documented and overridable with `--set` like any other. Kept
apart from the stream so that reading or checking a config never needs numpy arrays or a store.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.memory.embeddings import EmbedderName
from sim.memory.records import MEMORY_KINDS
from sim.memory.retrieval import RetrievalWeights

__all__ = ["MEMORY_PRESETS", "MemoryConfig"]

#: The settings each preset fills in when a config leaves them unset. "paper" is the
#: Generative Agents paper (UIST version); "released_code" is the authors' released code as it
#: ran the 25-agent town (see docs/memory.md for each value's source).
MEMORY_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "recency": "hours",
        "recency_weight": 1.0,
        "importance_weight": 1.0,
        "relevance_weight": 1.0,
        "recency_decay": 0.995,
        "reflection_threshold": 150,
        "evidence_per_question": 10,
        "focal_records": "recent",
        "reflection_counts": ["observation", "action", "conversation", "plan"],
        "retrieval_excludes": [],
    },
    "released_code": {
        "recency": "access_rank_as_released",
        "recency_weight": 0.5,
        "importance_weight": 2.0,
        "relevance_weight": 3.0,
        "recency_decay": 0.995,
        "reflection_threshold": 250,
        "evidence_per_question": 30,
        "focal_records": "since_reflection",
        # the code counts every perceived event: others, its own actions and its chats
        "reflection_counts": ["observation", "action", "conversation"],
        "retrieval_excludes": [],
    },
}


class MemoryConfig(BaseModel):
    """How memory retrieves, reflects and passes between generations.

    `preset` fills every setting the config leaves unset: "paper" (the default) follows the
    Generative Agents paper, "released_code" the authors' released code; a setting given
    explicitly wins, so one factor can be changed at a time.
    """

    model_config = ConfigDict(extra="forbid")  # a misspelt setting is an error, not a no-op

    preset: Literal["paper", "released_code"] = Field(
        "paper",
        description="Defaults for the retrieval and reflection settings: 'paper' (Park et al. "
        "2023) or 'released_code' (the authors' code, 25-agent run).",
    )
    embedder: EmbedderName = Field(
        "hashing",
        description="'hashing' (fast, lexical), 'minilm' (semantic; needs the 'memory' extra) "
        "or a litellm embedding model string.",
    )
    recency: Literal["hours", "access_rank", "access_rank_as_released"] = Field(
        "hours",
        description="Recency: decay ** hours since last access (the paper); decay ** rank "
        "by last access, most recent first ('access_rank'); or the released code's ranking as "
        "written, which gives the least recently accessed record the highest recency.",
    )
    recency_weight: float = Field(1.0, ge=0, description="Weight of recency in retrieval.")
    importance_weight: float = Field(1.0, ge=0, description="Weight of importance in retrieval.")
    relevance_weight: float = Field(1.0, ge=0, description="Weight of relevance in retrieval.")
    recency_decay: float = Field(
        0.995, gt=0, le=1,
        description="Recency factor per simulated hour since last access (or per rank).",
    )
    hours_per_time_unit: float = Field(
        1.0, gt=0, description="Simulated hours in one unit of the SimPy clock."
    )
    retrieve_k: int = Field(10, ge=1, description="Records returned by a retrieval.")
    retrieval_excludes: list[str] = Field(
        default_factory=list,
        description="Record kinds never retrieved (none in either preset: the released code "
        "skips raw chat transcripts but retrieves the chat's summary event).",
    )
    reflection_threshold: float = Field(
        150, gt=0, description="Reflect once the importance of new records reaches this sum."
    )
    reflection_counts: list[str] = Field(
        default_factory=lambda: ["observation", "action", "conversation", "plan"],
        description="Record kinds whose importance counts towards the next reflection (the "
        "released code counts only perceived events: observations, its own actions and "
        "chats, not plans or thoughts).",
    )
    focal_records: Literal["recent", "since_reflection"] = Field(
        "recent",
        description="What focal questions are drawn from: the `reflection_window` most recent "
        "records (the paper: 100), or the records since the last reflection (the code).",
    )
    reflection_window: int = Field(
        100, ge=1, description="Most recent records the focal questions are drawn from."
    )
    focal_questions: int = Field(3, ge=1, description="Questions asked per reflection.")
    evidence_per_question: int = Field(
        10, ge=1, description="Records retrieved for each focal question."
    )
    insights_per_question: int = Field(5, ge=1, description="Insights asked for per question.")
    inheritance: Literal["none", "strategy", "reflections", "summary"] = Field(
        "none",
        description="What a new agent starts with: nothing; its parents' strategy texts; their "
        "top reflections; or a summary each parent's brain writes for it.",
    )
    inherit_top_k: int = Field(
        3, ge=1, description="Reflections per parent inherited or shown to a summarising parent."
    )
    inherited_importance: int = Field(
        8, ge=1, le=10, description="Importance of an inherited strategy or summary record."
    )
    summary_max_chars: int = Field(600, ge=20, description="Longest heir summary kept.")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            preset = MEMORY_PRESETS.get(data.get("preset", "paper"))
            if preset is not None:  # an unknown preset is reported by its own field
                data = {**preset, **data}
        return data

    @model_validator(mode="after")
    def _known_kinds(self) -> MemoryConfig:
        for key in ("retrieval_excludes", "reflection_counts"):
            unknown = sorted(set(getattr(self, key)) - set(MEMORY_KINDS))
            if unknown:
                raise ValueError(f"{key}: unknown record kind(s) {unknown} (known: "
                                 f"{', '.join(MEMORY_KINDS)})")
        return self

    def weights(self) -> RetrievalWeights:
        return RetrievalWeights(
            self.recency_weight, self.importance_weight, self.relevance_weight,
            self.recency_decay,
        )

    def retrievable_kinds(self) -> tuple[str, ...] | None:
        """The kinds retrieval considers (None: all)."""
        if not self.retrieval_excludes:
            return None
        return tuple(kind for kind in MEMORY_KINDS if kind not in self.retrieval_excludes)
