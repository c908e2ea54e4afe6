"""The commons' tables in the run store (columns and SQLite types), in one place: the game
writes them, the figures and the report read them, tests check them.

`step` is the season's index across the run (0-based), as in the engine's `metrics` table;
`season` counts within a generation (0-based).
"""

TABLES: dict[str, dict[str, str]] = {
    # one row per season fished: the stock before, what was asked and caught, what was left
    "seasons": {
        "step": "INTEGER", "generation": "INTEGER", "season": "INTEGER", "stock": "REAL",
        "sustainable_share": "REAL", "requested": "REAL", "caught": "REAL",
        "remaining": "REAL", "collapsed": "INTEGER", "next_stock": "REAL",
    },
    # one row per fisher and season
    "catches": {
        "step": "INTEGER", "generation": "INTEGER", "season": "INTEGER", "agent_id": "TEXT",
        "kind": "TEXT", "requested": "REAL", "caught": "REAL", "sustainable_share": "REAL",
        "over": "INTEGER", "source": "TEXT",
    },
    # one row per utterance of a discussion (after `season`); text '' when a fisher said nothing
    "utterances": {
        "step": "INTEGER", "generation": "INTEGER", "season": "INTEGER", "turn": "INTEGER",
        "speaker": "TEXT", "kind": "TEXT", "text": "TEXT",
    },
}

#: The commons' columns of `generation_scores`, beside the engine's `score` (total catch).
SCORE_COLUMNS: dict[str, str] = {"over_usage": "REAL", "seasons_survived": "INTEGER"}
