"""Ridge plot of the PCA-coefficient densities per Visual Category.

The statistics stage evaluates one KDE per (category, coefficient) on a shared grid
(``kde_visual_category.csv``). Overlapping rows show at a glance where categories differ: a
category whose curves sit apart from the others is a shifted distribution.
"""

from __future__ import annotations

import os

import colorcet
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from filterdb.figures.style import label_fontsize, line_inches, text_inches

#: Peak height of a curve in row spacings; > 1 makes neighbouring rows overlap.
OVERLAP = 1.8
#: Smallest row spacing in inches, so a ridge is tall enough to show a shape.
MIN_ROW_INCHES = 0.28
PANEL_INCHES = 1.6
#: Each panel's x range ends where every curve has fallen below this fraction of its peak.
TAIL = 1e-3


def read_kde(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the tidy KDE table (category names as text)."""
    return pd.read_csv(path, dtype={"visual_category": str}, keep_default_na=False)


def _categories(kde: pd.DataFrame) -> list[str]:
    """Categories in alphabetical order, top to bottom."""
    return sorted(kde["visual_category"].unique())


def _visible_range(panel: pd.DataFrame) -> tuple[float, float]:
    """x range where at least one category's density exceeds ``TAIL`` of its own peak.

    The statistics stage evaluates all KDEs on one grid spanning the most extreme coefficients;
    most of that grid is empty tails that would squeeze the curves into a spike.
    """
    peak = panel.groupby("visual_category")["density"].transform("max")
    x = panel.loc[panel["density"] > TAIL * peak, "x"]
    if x.empty or x.min() == x.max():
        return float(panel["x"].min()), float(panel["x"].max())
    return float(x.min()), float(x.max())


def plot_ridge(kde: pd.DataFrame) -> Figure:
    """One panel per coefficient c0..c8; in each, one ridge per category, top to bottom.

    Each curve is scaled to its own peak: with categories of very different spread a shared scale
    would flatten the wide ones to a line. Peak positions and densities are in the companion table.
    """
    categories = _categories(kde)
    coefficients = sorted(kde["coefficient"].unique())
    fontsize = label_fontsize(len(categories))
    row = max(line_inches(fontsize), MIN_ROW_INCHES)
    height = (len(categories) + OVERLAP) * row + 1.0
    width = len(coefficients) * PANEL_INCHES + text_inches(categories, fontsize) + 0.5
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, len(coefficients), sharey=True, squeeze=False)[0]
    colours = colorcet.glasbey_category10
    for ax, coefficient in zip(axes, coefficients, strict=True):
        panel = kde[kde["coefficient"] == coefficient]
        ax.set_xlim(*_visible_range(panel))
        for i, category in enumerate(categories):
            curve = panel[panel["visual_category"] == category].sort_values("x")
            x = curve["x"].to_numpy(dtype=float)
            density = curve["density"].to_numpy(dtype=float)
            peak = density.max() if len(density) and density.max() > 0 else 1.0
            base = len(categories) - 1 - i
            y = base + OVERLAP * density / peak
            colour = colours[i % len(colours)]
            # Lower rows are drawn later and on top, so each ridge hides the baseline behind it.
            ax.fill_between(x, base, y, color=colour, alpha=0.55, lw=0, zorder=2 * i)
            ax.plot(x, y, color="black", lw=0.5, zorder=2 * i + 1)
        ax.set_title(f"c{coefficient}")
        ax.tick_params(axis="x", labelsize=7)
        ax.spines[["top", "right", "left"]].set_visible(False)
    axes[0].set_yticks(np.arange(len(categories))[::-1], categories, fontsize=fontsize)
    axes[0].set_ylim(-0.2, len(categories) - 1 + OVERLAP + 0.2)
    for ax in axes[1:]:
        ax.tick_params(axis="y", left=False)
    fig.supxlabel("coefficient value (projection onto the principal component)")
    fig.suptitle(
        "Density of the PCA coefficients per Visual Category (each curve scaled to its peak)"
    )
    return fig


def ridge_table(kde: pd.DataFrame) -> pd.DataFrame:
    """Per category and coefficient: the coefficient value at the KDE peak and the peak density."""
    at_peak = kde.loc[kde.groupby(["visual_category", "coefficient"])["density"].idxmax()]
    table = at_peak.rename(columns={"x": "peak_x", "density": "peak_density"})
    return (
        table[["visual_category", "coefficient", "peak_x", "peak_density"]]
        .sort_values(["visual_category", "coefficient"])
        .reset_index(drop=True)
    )
