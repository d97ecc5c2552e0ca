"""The most degenerated models: the top of the statistics stage's ranking, as table and chart.

The ranking itself (by the filter-weighted share of degenerated layers) is done by the statistics
stage in ``degenerated_models.csv``; here only the first rows are kept and drawn.
"""

from __future__ import annotations

import os

import pandas as pd
from matplotlib.figure import Figure

from filterdb.figures.style import label_fontsize, line_inches, text_inches

#: Columns of the published top-N table, in this order.
TOP_COLUMNS = [
    "rank",
    "model",
    "Task",
    "Visual Category",
    "Network",
    "n_layers",
    "n_degenerated_layers",
    "degenerated_share",
    "mean_sparsity",
    "mean_variance_entropy",
    "mean_orthogonality",
]


def read_top_models(path: str | os.PathLike[str], top: int) -> pd.DataFrame:
    """The ``top`` best-ranked rows of the ranking (fewer if the zoo is smaller)."""
    ranked = pd.read_csv(path, dtype={"model": str}, keep_default_na=False)
    return ranked.sort_values("rank").head(top)[TOP_COLUMNS].reset_index(drop=True)


def plot_top_models(top: pd.DataFrame) -> Figure:
    """Horizontal bars of the degenerated share, rank 1 on top, share and layer counts printed."""
    labels = [f"{r}. {m}" for r, m in zip(top["rank"], top["model"], strict=True)]
    fontsize = label_fontsize(len(top))
    # A bar is thicker than a text line, so each row gets 1.5 lines.
    height = max(len(top) * 1.5 * line_inches(fontsize), 1.5) + 1.0
    fig = Figure(figsize=(6.0 + text_inches(labels, fontsize), height), layout="constrained")
    ax = fig.subplots()
    positions = range(len(top) - 1, -1, -1)
    share = top["degenerated_share"].astype(float)
    ax.barh(list(positions), share, color="tab:red", alpha=0.7)
    for y, s, d, n in zip(
        positions, share, top["n_degenerated_layers"], top["n_layers"], strict=True
    ):
        ax.text(s, y, f" {100 * s:.1f} % ({d}/{n} layers)", va="center", fontsize=fontsize)
    ax.set_yticks(list(positions), labels, fontsize=fontsize)
    ax.set_ylim(-0.6, len(top) - 0.4)
    ax.set_xlim(0, 1.3)  # room for the printed share right of a full bar
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_xlabel("share of filters in degenerated layers")
    ax.set_title(f"Top {len(top)} most degenerated models")
    ax.grid(axis="x", alpha=0.3)
    return fig
