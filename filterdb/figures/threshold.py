"""The randomness threshold TH(n): below it a layer's variance entropy is lower than chance allows.

The statistics stage measured the variance entropy of random-normal filter sets of n filters
(``randomness_threshold.csv``); the figure shows that reference next to the real layers, so a
reader sees which layers reach random-like entropy (at or above TH(n): degenerated) and which
keep the structure of trained filters (below it).
"""

from __future__ import annotations

import os

import pandas as pd
from matplotlib.figure import Figure


def read_threshold_curve(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read TH(n) and the random sets' entropy, sorted by n."""
    return pd.read_csv(path).sort_values("n").reset_index(drop=True)


def plot_randomness_threshold(curve: pd.DataFrame, layers: pd.DataFrame) -> Figure:
    """TH(n), the random sets' mean ± std entropy, and every layer as a dot, over log n.

    ``layers`` needs ``n_finite_filters``, ``variance_entropy`` and ``degenerated``; layers the
    statistics stage flagged as degenerated are drawn in a second colour.
    """
    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = fig.subplots()
    flagged = layers["degenerated"].astype(bool)
    for subset, colour, name in (
        (layers[~flagged], "tab:gray", "layers"),
        (layers[flagged], "tab:orange", "degenerated layers"),
    ):
        ax.scatter(
            subset["n_finite_filters"],
            subset["variance_entropy"],
            s=8,
            color=colour,
            alpha=0.6,
            lw=0,
            label=f"{name} ({len(subset):,})",
            rasterized=True,
        )
    n = curve["n"].to_numpy(dtype=float)
    mean = curve["entropy_mean"].to_numpy(dtype=float)
    std = curve["entropy_std"].to_numpy(dtype=float)
    ax.fill_between(n, mean - std, mean + std, color="tab:blue", alpha=0.25, lw=0)
    ax.plot(n, mean, color="tab:blue", label="random-normal filters (mean ± std)")
    ax.plot(n, curve["threshold"], color="tab:red", ls="--", label="randomness threshold TH(n)")
    ax.set_xscale("log")
    ax.set_xlabel("number of filters n in the layer")
    ax.set_ylabel("variance entropy")
    ax.set_title("Variance entropy of random filter sets and the randomness threshold")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return fig
