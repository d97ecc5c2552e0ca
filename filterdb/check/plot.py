"""``filterdb check --plot``: the model's degeneration by depth and its coefficient densities.

Left, each 3x3 layer's variance entropy against its relative depth, with the threshold above
which its filters are as spread as random ones; degenerated layers are marked. Right (with a
database), the density of each PCA coefficient of the model's filters against the database's,
both on the database's histogram edges.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from filterdb.check.result import CheckResult
from filterdb.figures.style import save_figure
from filterdb.stats.degeneration import ENTROPY_MARGIN
from filterdb.stats.shift import histogram_densities


def check_figure(result: CheckResult) -> Figure:
    """The figure (see the module docstring); the right half only with a database."""
    with_db = result.counts is not None and result.database_counts is not None
    fig = Figure(figsize=(13 if with_db else 6, 5), layout="constrained")
    grid = fig.add_gridspec(3, 4, width_ratios=[2, 1, 1, 1]) if with_db else fig.add_gridspec(1, 1)
    ax = fig.add_subplot(grid[:, 0])
    layers = result.layers
    depth = layers["conv_depth_norm"].to_numpy()
    flagged = layers["degenerated"].to_numpy(dtype=bool)
    ax.plot(
        depth,
        layers["randomness_threshold"] - ENTROPY_MARGIN,
        "_",
        color="0.4",
        markersize=12,
        label="TH(n) - 0.02 (random-like above)",
    )
    ax.scatter(
        depth[~flagged], layers["variance_entropy"][~flagged], color="tab:blue", s=18, label="layer"
    )
    ax.scatter(
        depth[flagged],
        layers["variance_entropy"][flagged],
        color="tab:red",
        marker="x",
        s=30,
        label="degenerated layer",
    )
    ax.set_xlim(-0.05, 1.05)
    ax.set_xlabel("relative depth of the conv layer")
    ax.set_ylabel("variance entropy")
    ax.set_title("degeneration by depth", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.suptitle(result.verdict(), fontsize=9)
    if with_db:
        edges = result.edges
        centres = (edges[:-1] + edges[1:]) / 2
        mine = np.nan_to_num(histogram_densities(result.counts, edges))
        theirs = np.nan_to_num(histogram_densities(result.database_counts, edges))
        for k in range(9):
            sub = fig.add_subplot(grid[k // 3, 1 + k % 3])
            sub.plot(centres, theirs[k], color="0.3", lw=1, label="database")
            sub.plot(centres, mine[k], color="tab:red", lw=1, label=result.name)
            sub.set_title(f"coefficient c{k} density", fontsize=8)
            sub.tick_params(labelsize=6)
            if k == 0:
                sub.legend(fontsize=6)
    return fig


def save_check_plot(result: CheckResult, path: str | os.PathLike[str]) -> None:
    """Write the figure to ``path`` (format from the suffix: png, pdf, svg), atomically."""
    save_figure(check_figure(result), [path], dpi=150)
