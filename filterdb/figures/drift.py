"""Box plots of the pairwise shifts per grouping axis: which grouping separates models most.

Each box pools the D values of all distinct group pairs of one axis (the upper triangle the
statistics stage writes to ``shift/upper_triangle.csv``); the mean is drawn as a marker because a
few large shifts move it well away from the median.
"""

from __future__ import annotations

import os

import pandas as pd
from matplotlib.figure import Figure

from filterdb.figures.style import axis_title, label_fontsize, line_inches, text_inches

#: Height in inches given to one box, so boxes stay thick enough to read for any number of axes.
BOX_INCHES = 0.45


def read_upper_triangle(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the pooled upper-triangle D values (group names as text)."""
    return pd.read_csv(
        path, dtype={"axis": str, "group_a": str, "group_b": str}, keep_default_na=False
    )


def drift_table(upper: pd.DataFrame) -> pd.DataFrame:
    """Per axis, in file order: number of pairs, mean, quartiles and extremes of D."""
    axes = list(dict.fromkeys(upper["axis"]))
    grouped = upper.groupby("axis", sort=False)["D"]
    table = pd.DataFrame(
        {
            "n_pairs": grouped.size(),
            "mean": grouped.mean(),
            "min": grouped.min(),
            "q1": grouped.quantile(0.25),
            "median": grouped.median(),
            "q3": grouped.quantile(0.75),
            "max": grouped.max(),
        }
    ).reindex(axes)
    return table.rename_axis("axis").reset_index()


def plot_drift_boxplot(upper: pd.DataFrame) -> Figure:
    """Horizontal box per axis (first axis on top), means as white diamonds.

    An axis with a single group has no pair; it keeps its row (labelled 0 pairs) so the figure
    shows every configured axis.
    """
    axes = list(dict.fromkeys(upper["axis"]))
    values = [upper.loc[upper["axis"] == a, "D"].to_numpy(dtype=float) for a in axes]
    labels = [f"{axis_title(a)} ({len(v)} pairs)" for a, v in zip(axes, values, strict=True)]
    fontsize = label_fontsize(len(axes))
    height = max(len(axes) * max(BOX_INCHES, line_inches(fontsize)), 2.0) + 1.0
    fig = Figure(figsize=(6.0 + text_inches(labels, fontsize), height), layout="constrained")
    ax = fig.subplots()
    positions = range(len(axes), 0, -1)
    ax.boxplot(
        values,
        positions=list(positions),
        orientation="horizontal",
        showmeans=True,
        widths=0.6,
        meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"},
        medianprops={"color": "tab:red"},
        flierprops={"marker": ".", "markersize": 3, "alpha": 0.5},
    )
    ax.set_yticks(list(positions), labels, fontsize=fontsize)
    ax.set_xlabel("distribution shift D between two groups (upper triangle)")
    ax.set_title("Distribution shift per grouping axis (diamond = mean, red line = median)")
    ax.grid(axis="x", alpha=0.3)
    return fig
