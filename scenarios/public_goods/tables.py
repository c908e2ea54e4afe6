"""The public goods game's tables in the run store (columns and SQLite types), in one place:
the game writes them, the figures and the report read them, tests check them.

`strategies` and `generation_scores` are the engine's population tables
(`sim.population.POPULATION_TABLES`); the game adds `SCORE_COLUMNS` to `generation_scores`.
`step` is the round index across the run (0-based), as in the engine's `metrics` table.
"""

TABLES: dict[str, dict[str, str]] = {
    # one row per member and round: what it put in and what the round left it with
    "contributions": {
        "step": "INTEGER", "generation": "INTEGER", "round": "INTEGER", "group_id": "INTEGER",
        "agent_id": "TEXT", "kind": "TEXT", "contribution": "REAL", "share": "REAL",
        "punished": "REAL", "payoff": "REAL", "source": "TEXT",
    },
    # one row per punishment assigned (points > 0), when punishment is 'costly'
    "punishments": {
        "step": "INTEGER", "generation": "INTEGER", "round": "INTEGER", "group_id": "INTEGER",
        "punisher": "TEXT", "target": "TEXT", "points": "REAL", "cost": "REAL", "fine": "REAL",
    },
}

#: The game's columns of `generation_scores`, beside the engine's `score` (the total payoff
#: of the generation): the member's mean contribution as a share of the endowment.
SCORE_COLUMNS: dict[str, str] = {"mean_share": "REAL"}
