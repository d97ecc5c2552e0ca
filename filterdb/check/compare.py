"""A checked model against a reference: D to every group, and its rank by degeneration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from filterdb.check.reference import Reference
from filterdb.stats.shift import bin_probabilities, shift_row


def group_distances(counts: np.ndarray, reference: Reference) -> pd.DataFrame:
    """D between the model's ``(9, bins)`` counts and every group, closest first per axis.

    The model is one more row of the groups' probabilities, so its D is computed by the very
    formula that gives the database's own D matrices: a group made of the model alone is at 0.
    Empty when the model has no coefficient inside the reference's range.
    """
    frames = []
    if counts.sum() == 0:
        return pd.DataFrame(columns=["axis", "group", "n_models", "n_filters", "D"])
    bins = counts.shape[1]
    for axis, groups in reference.axes.items():
        stacked = np.concatenate([counts[None], groups.counts]).reshape(-1, 9, bins)
        probabilities = bin_probabilities(stacked, reference.edges)
        distances = shift_row(probabilities, 0, reference.basis.explained_variance_ratio)[1:]
        frames.append(
            pd.DataFrame(
                {
                    "axis": axis,
                    "group": groups.labels,
                    "n_models": groups.n_models,
                    "n_filters": groups.n_filters,
                    "D": distances,
                }
            ).sort_values(["D", "group"], kind="stable")
        )
    return pd.concat(frames, ignore_index=True)


def degeneration_rank(share: float, shares: pd.Series) -> dict[str, int | float]:
    """Where a model's filter-weighted degenerated share falls among the database's models.

    ``rank`` 1 is the most degenerated (ties share the better rank); ``less_degenerated`` counts
    the models with a strictly smaller share. Models without filters (NaN share) are not ranked.
    """
    known = shares.dropna().to_numpy(dtype=np.float64)
    if np.isnan(share):
        return {"rank": 0, "of": int(known.size), "less_degenerated": 0, "percentile": float("nan")}
    less = int((known < share).sum())
    return {
        "rank": int((known > share).sum()) + 1,
        "of": int(known.size),
        "less_degenerated": less,
        "percentile": 100.0 * less / known.size if known.size else float("nan"),
    }
