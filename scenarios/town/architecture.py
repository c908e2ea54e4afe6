"""Which parts of the Generative Agents architecture the residents run: `Architecture`, the
town config's `architecture` table.

Every part defaults to what Park et al. (2023) describe; where a part costs model calls or
simulation time, the cheaper simplification is a value of its key, so a researcher can switch
one part off and measure what it did. `preset = "lean"` switches them all to the town as it
was before the architecture was complete (a static persona, no limits on perception, one
memory per utterance, ...). docs/town.md lists all 35 points of the architecture with the key
of each departure.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The values each preset gives the keys a config leaves unset.
ARCHITECTURE_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "agent_summary": "daily", "persona_memories": True, "plan_from_yesterday": True,
        "wake": "resident", "attention_bandwidth": 8, "retention": 8, "passing_radius": 1.0,
        "object_states": True, "known_places": "own", "reaction_context": "summary",
        "dialogue_context": "conversation", "news_nudge": False, "after_conversation": "summary",
        "replan_after_conversation": True,
    },
    "lean": {
        "agent_summary": "off", "persona_memories": False, "plan_from_yesterday": False,
        "wake": "town_file", "attention_bandwidth": None, "retention": None,
        "passing_radius": 0.0, "object_states": False, "known_places": "all",
        "reaction_context": "memories", "dialogue_context": "memories", "news_nudge": True,
        "after_conversation": "transcript", "replan_after_conversation": False,
    },
}


class Architecture(BaseModel):
    """The residents' agent architecture: each key defaults to the paper ('paper' preset);
    'lean' is the cheaper town of before, part by part."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["paper", "lean"] = Field(
        "paper", description="Defaults of the keys below: 'paper' (Park et al. 2023) or "
        "'lean' (every part at its cheaper simplification).")
    agent_summary: Literal["daily", "off"] = Field(
        "daily", description="'daily': each resident's summary description (core "
        "characteristics, occupation, recent progress, 'currently', what to carry over) is "
        "synthesised from retrieval every morning and prefixed to its plan, react and speak "
        "prompts; 'off': the persona alone.")
    persona_memories: bool = Field(
        True, description="Each clause of a persona enters the memory stream when the resident "
        "arrives, so retrieval can find it.")
    plan_from_yesterday: bool = Field(
        True, description="The day plan sees the date, the weekday and what the resident did "
        "the day before (and who it talked with).")
    wake: Literal["resident", "town_file"] = Field(
        "resident", description="Who sets the hour a resident wakes: the resident, in its day "
        "plan (LLM brains; rule brains keep the town file's), or always the town file.")
    attention_bandwidth: int | None = Field(
        8, ge=1, description="Events (people, objects in use) a resident perceives at once, the "
        "nearest first (the released code: 8); None: everyone at the place.")
    retention: int | None = Field(
        8, ge=1, description="A perceived event is new unless it is among the last this many "
        "the resident perceived (the released code: 8); None: each person is noticed once per "
        "stay at a place, whatever they do.")
    passing_radius: float = Field(
        1.0, ge=0, description="Map units: a walker passes every place this close to its "
        "straight path, perceives who is there and may stop to talk; 0: walks meet no one.")
    object_states: bool = Field(
        True, description="An action puts the object it uses in a state ('the espresso "
        "machine: hissing with steam') that others perceive, until the action ends.")
    known_places: Literal["own", "all"] = Field(
        "own", description="'own': a resident knows its home, work, the places of their areas "
        "and its town-file `knows`, and learns others by passing them or hearing them named; "
        "plans choose among known places. 'all': everyone knows the whole town.")
    reaction_context: Literal["summary", "memories"] = Field(
        "summary", description="What a reaction sees of the person noticed: a summary the "
        "resident writes of two retrievals about them (one call), or the retrieved memories "
        "listed as they are (no call).")
    dialogue_context: Literal["conversation", "turn", "memories"] = Field(
        "conversation", description="What each utterance sees of the listener: a summary of "
        "what the speaker knows and feels about them, written once per conversation (the "
        "initiator's when it decided to talk), with the memories the last utterance brings "
        "to mind listed; 'turn': that summary written again at every utterance, the last "
        "utterance included (the paper and its code: a call per utterance); 'memories': the "
        "retrieved memories listed, no summary (no call).")
    news_nudge: bool = Field(
        False, description="The speak prompt suggests passing on news the listener may not "
        "have heard (not in the paper; it makes diffusion faster).")
    after_conversation: Literal["summary", "transcript"] = Field(
        "summary", description="What each participant remembers of a conversation: one "
        "summary with its importance rated once, a planning thought and a memo (the released "
        "code), all from one call; or every utterance as a memory, each rated (one call).")
    replan_after_conversation: bool = Field(
        True, description="After a conversation each participant re-plans the rest of its "
        "hour (its actions), with its planning thought in mind.")
    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            preset = ARCHITECTURE_PRESETS.get(data.get("preset", "paper"))
            if preset is not None:  # an unknown preset is reported by its own field
                data = {**preset, **data}
        return data
