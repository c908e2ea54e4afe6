"""The Donor Game's tables in the run store (columns and SQLite types), in one place: the game
writes them, `analysis` reads them, tests build synthetic runs with them.

`strategies` and `generation_scores` are the engine's population tables
(`sim.population.POPULATION_TABLES`); the game adds its own columns to `generation_scores`.
"""

from sim.population import POPULATION_TABLES

TABLES: dict[str, dict[str, str]] = {
    "donations": {
        "step": "INTEGER", "generation": "INTEGER", "game": "INTEGER", "round": "INTEGER",
        "donor": "TEXT", "recipient": "TEXT", "action": "TEXT", "fraction": "REAL",
        "amount": "REAL", "effect": "REAL", "donor_before": "REAL", "recipient_before": "REAL",
        "source": "TEXT",
    },
    "agent_rounds": {
        "step": "INTEGER", "generation": "INTEGER", "game": "INTEGER", "round": "INTEGER",
        "agent_id": "TEXT", "resources": "REAL",
    },
}

#: The game's columns of `generation_scores`, beside the engine's `score` (what selection ranked
#: on): final resources averaged over the generation's games (the study's headline) and the mean
#: share given as donor (what `generosity` selection ranks on).
SCORE_COLUMNS: dict[str, str] = {"final_mean": "REAL", "share_given": "REAL"}

#: Every table a Donor Game run holds besides the engine's own (for readers and synthetic runs).
RUN_TABLES: dict[str, dict[str, str]] = {
    **TABLES,
    "strategies": POPULATION_TABLES["strategies"],
    "generation_scores": {**POPULATION_TABLES["generation_scores"], **SCORE_COLUMNS},
}
