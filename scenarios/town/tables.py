"""The town's tables in the run store, as fixed by the town store contract (docs/town.md):
the simulation writes them, the analysis reads them. Columns may be added, never renamed.

Times: `day` (0-based) and minutes since that day's midnight; `clock` is the SimPy clock,
minutes since day 0 00:00 (`clock = day * 1440 + minute`).
"""

TABLES: dict[str, dict[str, str]] = {
    "places": {
        "place_id": "TEXT", "name": "TEXT", "parent": "TEXT", "level": "TEXT", "kind": "TEXT",
        "x": "REAL", "y": "REAL",
    },
    "residents": {
        "agent_id": "TEXT", "name": "TEXT", "occupation": "TEXT", "home": "TEXT",
        "persona": "TEXT", "generation": "INTEGER", "first_day": "INTEGER",
        "last_day": "INTEGER", "work": "TEXT", "parents": "TEXT",
    },
    # one row per span of an agent doing one thing at one place (cut at midnight)
    "activities": {
        "day": "INTEGER", "start_minute": "INTEGER", "end_minute": "INTEGER",
        "clock_start": "INTEGER", "clock_end": "INTEGER", "agent_id": "TEXT",
        "place_id": "TEXT", "activity": "TEXT", "description": "TEXT", "source": "TEXT",
        "object_id": "TEXT", "object_state": "TEXT",
    },
    "plans": {
        "day": "INTEGER", "agent_id": "TEXT", "level": "TEXT", "start_minute": "INTEGER",
        "duration": "INTEGER", "description": "TEXT", "place_id": "TEXT",
        "revision": "INTEGER", "source": "TEXT", "activity": "TEXT",
    },
    "conversations": {
        "conversation_id": "TEXT", "day": "INTEGER", "start_minute": "INTEGER",
        "end_minute": "INTEGER", "place_id": "TEXT", "initiator": "TEXT", "partner": "TEXT",
        "turns": "INTEGER", "ended_by": "TEXT", "clock_start": "INTEGER", "clock_end": "INTEGER",
    },
    "utterances": {
        "conversation_id": "TEXT", "turn": "INTEGER", "day": "INTEGER", "minute": "INTEGER",
        "speaker": "TEXT", "listener": "TEXT", "text": "TEXT", "source": "TEXT",
        "clock": "INTEGER",
    },
    "intentions": {
        "topic": "TEXT", "agent_id": "TEXT", "kind": "TEXT", "description": "TEXT",
        "place_id": "TEXT", "day": "INTEGER", "start_minute": "INTEGER",
        "end_minute": "INTEGER",
    },
    # one row per (topic, agent): the first time they learn it
    "knowledge": {
        "topic": "TEXT", "agent_id": "TEXT", "day": "INTEGER", "minute": "INTEGER",
        "clock": "INTEGER", "source_agent": "TEXT", "conversation_id": "TEXT", "how": "TEXT",
        "turn": "INTEGER",
    },
    # one row per resident alive at an event, written when it ends
    "attendance": {
        "topic": "TEXT", "agent_id": "TEXT", "present": "INTEGER", "knew": "INTEGER",
        "minutes_present": "INTEGER", "planned": "INTEGER",
    },
    # one row per agent summary a resident writes of itself (every morning at midnight)
    "summaries": {
        "day": "INTEGER", "minute": "INTEGER", "clock": "INTEGER", "agent_id": "TEXT",
        "text": "TEXT", "source": "TEXT",
    },
    # one row per place a resident comes to know: at the start, by passing or visiting it,
    # or told of it (named in an utterance, or the place of news it learnt)
    "known_places": {
        "agent_id": "TEXT", "place_id": "TEXT", "day": "INTEGER", "minute": "INTEGER",
        "clock": "INTEGER", "how": "TEXT", "source_agent": "TEXT",
    },
}
