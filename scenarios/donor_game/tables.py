"""The Donor Game's tables in the run store (columns and SQLite types), in one place: the game
writes them, `analysis` reads them, tests build synthetic runs with them."""

TABLES: dict[str, dict[str, str]] = {
    "strategies": {
        "agent_id": "TEXT", "generation": "INTEGER", "text": "TEXT", "source": "TEXT",
        "parents": "TEXT",
    },
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
    "generation_scores": {
        "generation": "INTEGER", "agent_id": "TEXT", "brain": "TEXT", "kind": "TEXT",
        # score: what `selection_score` ranks on; final_mean: final resources averaged over
        # the generation's games (the study's headline); share_given: mean share donated
        "score": "REAL", "final_mean": "REAL", "share_given": "REAL", "rank": "INTEGER",
        "survived": "INTEGER",  # NULL when no selection followed (the last generation)
    },
}
