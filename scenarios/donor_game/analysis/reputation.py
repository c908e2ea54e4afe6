"""The recipient's reputation as the donor saw it: its last share given, binned.

Shared by the punishment metric (whom do punishers hit?) and the donation heat map (how much
does each kind of donor give to each reputation?), so both use the same classes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NO_RECORD = "no record"
#: Right-open bins of the recipient's last share; the last bin includes 1.
BIN_EDGES = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
BIN_LABELS = (NO_RECORD, "0–10%", "10–25%", "25–50%", "50–75%", "75–100%")
TARGET_CLASSES = (NO_RECORD, "stingy", "generous")


def reputation_bin(recipient_last: pd.Series) -> pd.Series:
    """Ordered categorical bin of each recipient's last share ('no record' for NaN).

    Bins are right-open ([0, 0.1), [0.1, 0.25), ...), except the last, which holds 1.0; a
    punishment was recorded as 0 and falls in the first.
    """
    values = recipient_last.to_numpy(float)
    index = np.searchsorted(BIN_EDGES[1:-1], values, side="right") + 1
    labels = np.where(np.isnan(values), NO_RECORD, np.array(BIN_LABELS, dtype=object)[
        np.clip(index, 1, len(BIN_LABELS) - 1)])
    return pd.Series(pd.Categorical(labels, categories=BIN_LABELS, ordered=True),
                     index=recipient_last.index, name="reputation")


def target_class(recipient_last: pd.Series, cutoff: float = 0.25) -> pd.Series:
    """'stingy' (last share < cutoff, punishing included), 'generous' (≥ cutoff), 'no record'.

    The default cutoff is the one the classic rules use to call an act cooperative.
    """
    values = recipient_last.to_numpy(float)
    labels = np.where(np.isnan(values), NO_RECORD,
                      np.where(values < cutoff, "stingy", "generous"))
    return pd.Series(pd.Categorical(labels, categories=TARGET_CLASSES, ordered=True),
                     index=recipient_last.index, name="target")


def gift_by_reputation(pairs: pd.DataFrame, by: pd.Series | str = "generation") -> pd.DataFrame:
    """Mean share given, and how many decisions, for each donor group × reputation bin.

    `by` is a column of `pairs` or a Series aligned with it (e.g. each donor's rule family).
    Returns a long frame with columns group, reputation, given (mean), n; bins nobody met are
    left out.
    """
    group = pairs[by] if isinstance(by, str) else by
    frame = pd.DataFrame({
        "group": group.to_numpy(),
        "reputation": reputation_bin(pairs["recipient_last"]).to_numpy(),
        "given": pairs["given"].to_numpy(float),
    })
    table = frame.groupby(["group", "reputation"], observed=True)["given"].agg(["mean", "size"])
    return table.rename(columns={"mean": "given", "size": "n"}).reset_index()
