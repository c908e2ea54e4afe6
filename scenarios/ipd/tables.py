"""The tournament's tables in the run store (columns and SQLite types), in one place: the game
writes them, the summary, figures and report read them, tests check them.

`match_id` numbers the matches of a run in the order they were scheduled; `generation` is 0 in
a tournament and the Moran generation otherwise; `turn` is 0-based. In a self-play match
`player` and `opponent` are the same player, and `seat` (0 or 1) tells its two sides apart.
"""

TABLES: dict[str, dict[str, str]] = {
    # one row per match, written when it ends: seat 0 is `player`, seat 1 `opponent`
    "matches": {
        "match_id": "INTEGER", "generation": "INTEGER", "repetition": "INTEGER",
        "player": "TEXT", "opponent": "TEXT", "player_strategy": "TEXT",
        "opponent_strategy": "TEXT", "turns": "INTEGER", "score": "REAL",
        "opponent_score": "REAL", "cooperation": "REAL", "opponent_cooperation": "REAL",
    },
    # one row per player and turn (unless record_moves is off): the move it chose, the move
    # played (they differ when noise flipped it), its payoff, and where the move came from
    # ('rule', 'llm' or 'fallback')
    "moves": {
        "match_id": "INTEGER", "turn": "INTEGER", "seat": "INTEGER", "player": "TEXT",
        "intended": "TEXT", "move": "TEXT", "payoff": "REAL", "source": "TEXT",
    },
    # the tournament's ranking (no rows with evolution = 'moran'); self-play matches left out
    "ranking": {
        "rank": "INTEGER", "player": "TEXT", "strategy": "TEXT", "brain": "TEXT",
        "matches": "INTEGER", "score": "REAL", "score_per_turn": "REAL", "wins": "INTEGER",
        "cooperation": "REAL",
    },
    # with evolution = 'moran': the population at the start of every generation played, and
    # after the last one (count of each strategy present)
    "population": {"generation": "INTEGER", "strategy": "TEXT", "count": "INTEGER"},
    # with evolution = 'moran': each generation's birth and death
    "moran": {
        "generation": "INTEGER", "parent": "TEXT", "parent_strategy": "TEXT",
        "parent_fitness": "REAL", "died": "TEXT", "died_strategy": "TEXT", "born": "TEXT",
    },
}
