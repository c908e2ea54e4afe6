"""The summary a resident is interviewed with: who it is, in a paragraph, as of the interview.

In Park et al. (2023) an interviewed agent answers from its agent summary (core
characteristics, occupation and routine, how it feels about its recent progress, synthesised
from its memories) and from the memories retrieved for the question. A run that synthesised
such summaries keeps them in its `summaries` table (day, minute, clock, agent_id, text, source:
one row per refresh); an interview uses the latest one written at or before its moment. A run
without them (made before the town kept summaries) is interviewed with one built from the
resident's persona, `persona_summary`, and the answer's `summary_source` says which it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scenarios.town.resident import Resident
    from sim import RunStore

#: The table a run keeps its residents' synthesised summaries in.
SUMMARIES = "summaries"


def persona_summary(name: str, occupation: str, persona: str, town: str) -> str:
    """The fallback summary: the resident's persona, with its name, occupation and town."""
    lead = f"{name}, {occupation} in {town}." if occupation else f"{name}, of {town}."
    persona = " ".join(persona.split())
    return f"{lead} {persona}" if persona else lead


def current_summary(resident: Resident) -> tuple[str, str]:
    """(summary, where it came from) for a resident interviewed while the run goes on: the
    agent summary it wrote this morning (`Resident.summary`, as `summary_at` reads it from a
    stored run), or its persona (`persona_summary`) when the town keeps none
    (`architecture.agent_summary = "off"`)."""
    if resident.summary:
        return resident.summary, "summaries"
    p = resident.person
    return persona_summary(p.name, p.occupation, p.persona, resident.model.townmap.name), "persona"


def summary_at(store: RunStore, agent_id: str, clock: float, fallback: str) -> tuple[str, str]:
    """(summary, source) of a resident as of `clock` in a stored run: the latest row of the
    run's `summaries` table written at or before it, else `fallback` ('persona')."""
    exists = store.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (SUMMARIES,))
    if exists:
        row = store.rows(f"SELECT text FROM {SUMMARIES} WHERE agent_id = ? AND clock <= ? "
                         "ORDER BY clock DESC, rowid DESC LIMIT 1", (agent_id, float(clock)))
        if row and row[0][0]:
            return str(row[0][0]), "summaries"
    return fallback, "persona"
