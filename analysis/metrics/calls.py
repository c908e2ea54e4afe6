"""What the model calls of a run cost, and how well they went.

A run's conclusions are only as good as its decisions: a run where a fifth of the decisions
were engine fallbacks says little about the model. These counts put cost and reliability next
to the results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STAT_NAMES = [
    "calls", "ok", "unparsed", "error", "retries", "repairs", "prompt_tokens",
    "completion_tokens", "cost_usd", "latency_median_s", "latency_p95_s", "decisions",
    "fallbacks", "fallback_rate",
]


def call_statistics(llm_calls: pd.DataFrame, decisions: pd.DataFrame) -> pd.Series:
    """Counts, tokens, cost and latency of the model calls, and the decisions' fallbacks.

    calls: rows of `llm_calls`; ok/unparsed/error: calls by outcome; retries: HTTP attempts
    beyond the first (sum of attempts − 1); repairs: calls made to repair an unusable reply
    (purpose 'repair'); latency: median and 95th percentile of `latency_s` (wall time, the one
    nondeterministic column); decisions: decisions taken by an LLM brain (source other than
    'rule'); fallbacks: those the engine had to make up; fallback_rate: fallbacks / decisions.

    A run with `log_decisions = "none"` has no decision rows; its LLM decisions are then counted
    from the calls (each made at least one, under its request_id) and a fallback is a decision
    none of whose calls came back 'ok' (which is how the engine decides it).
    """
    calls = llm_calls
    outcome = calls["outcome"].value_counts() if not calls.empty else pd.Series(dtype=int)
    attempts = pd.to_numeric(calls["attempts"], errors="coerce").fillna(1)
    latency = pd.to_numeric(calls["latency_s"], errors="coerce").dropna().to_numpy(float)
    source = decisions["source"] if not decisions.empty else pd.Series(dtype=str)
    llm_decisions = int((source != "rule").sum())
    fallbacks = int((source == "fallback").sum())
    if llm_decisions == 0 and not calls.empty:  # decisions not logged: read them off the calls
        answered = (calls["outcome"] == "ok").groupby(calls["request_id"]).any()
        llm_decisions, fallbacks = len(answered), int((~answered).sum())
    values = {
        "calls": len(calls),
        "ok": int(outcome.get("ok", 0)),
        "unparsed": int(outcome.get("unparsed", 0)),
        "error": int(outcome.get("error", 0)),
        "retries": int((attempts - 1).clip(lower=0).sum()),
        "repairs": int((calls["purpose"] == "repair").sum()),
        "prompt_tokens": int(pd.to_numeric(calls["prompt_tokens"]).fillna(0).sum()),
        "completion_tokens": int(pd.to_numeric(calls["completion_tokens"]).fillna(0).sum()),
        "cost_usd": float(pd.to_numeric(calls["cost_usd"]).fillna(0).sum()),
        "latency_median_s": float(np.median(latency)) if latency.size else float("nan"),
        "latency_p95_s": float(np.percentile(latency, 95)) if latency.size else float("nan"),
        "decisions": llm_decisions,
        "fallbacks": fallbacks,
        "fallback_rate": fallbacks / llm_decisions if llm_decisions else float("nan"),
    }
    return pd.Series(values, index=STAT_NAMES, dtype=object)
