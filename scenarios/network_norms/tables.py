"""The network norms scenario's tables in the run store, in one place: the model writes them,
the figures and the report read them, tests check them.

`step` counts steps from 0 (the initial state, before any update) to the last step played;
`updates` counts the elementary updates of rule-brained nodes played by then. Nodes are
0..N-1 and node i's agent is named `n<i>` (zero-padded), as in the engine's tables.
"""

TABLES: dict[str, dict[str, str]] = {
    # the graph, so a report can draw it: one row per node and one per link
    "nodes": {"node": "INTEGER", "agent_id": "TEXT", "degree": "INTEGER", "brain": "TEXT",
              "initial": "TEXT"},
    "edges": {"source": "INTEGER", "target": "INTEGER"},
    # per recorded step, one row per strategy: how many nodes play it and what they earn
    "shares": {"step": "INTEGER", "updates": "INTEGER", "strategy": "TEXT",
               "count": "INTEGER", "share": "REAL", "mean_payoff": "REAL"},
    # one row at the end of the run: did the deviant strategy spread or die, and when
    "outcome": {"result": "TEXT",  # 'fixation' | 'extinction' | 'coexistence'
                "winner": "TEXT",  # the strategy every node plays, or NULL
                "step": "INTEGER", "updates": "INTEGER", "deviant": "TEXT",
                "deviant_share": "REAL"},
    # every node's strategy and payoff at the end of the run
    "final_states": {"node": "INTEGER", "agent_id": "TEXT", "strategy": "TEXT",
                     "payoff": "REAL"},
}
