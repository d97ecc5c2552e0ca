"""The PCA basis of all 3x3 filters: eigen-filters, explained variance and the weight covariance.

Everything comes from ``pca_basis.json`` (``stats.basis_file.read_basis``); the figures only
reshape the nine 9-vectors into 3x3 images so that the eigen-filters look like the filters they
describe.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from filterdb.db.schema import WEIGHT_COLUMNS
from filterdb.figures.style import DIVERGING_CMAP
from filterdb.stats.pca import PcaBasis

#: Names of the 3x3 positions, row-major like the database columns.
WEIGHT_NAMES = list(WEIGHT_COLUMNS)
COEFFICIENT_NAMES = [f"c{i}" for i in range(9)]


def _symmetric_limit(values: np.ndarray) -> float:
    """Largest absolute value, so a diverging colour map puts zero at its neutral centre."""
    limit = float(np.abs(values).max())
    return limit if limit > 0 else 1.0


def plot_components(basis: PcaBasis) -> Figure:
    """The nine eigen-filters as 3x3 images on one symmetric colour scale, EVR under each."""
    fig = Figure(figsize=(13.0, 2.6), layout="constrained")
    axes = fig.subplots(1, 9)
    limit = _symmetric_limit(basis.components)
    image = None
    for i, ax in enumerate(axes):
        image = ax.imshow(
            basis.components[i].reshape(3, 3),
            cmap=DIVERGING_CMAP,
            vmin=-limit,
            vmax=limit,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(COEFFICIENT_NAMES[i])
        ax.set_xlabel(f"EVR {100 * basis.explained_variance_ratio[i]:.2f} %")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="weight")
    fig.suptitle(f"Principal components of {basis.n_filters:,} 3x3 filters")
    return fig


def plot_evr(basis: PcaBasis) -> Figure:
    """Explained variance ratio per component (bars) and cumulated (line with values)."""
    evr = basis.explained_variance_ratio
    cumulative = np.cumsum(evr)
    x = np.arange(1, 10)
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    ax.bar(x, evr, color="tab:gray", alpha=0.6, label="per component")
    ax.plot(x, cumulative, marker="o", color="tab:red", label="cumulative")
    for xi, yi in zip(x, cumulative, strict=True):
        ax.annotate(
            f"{100 * yi:.1f}",
            (xi, yi),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=8,
        )
    ax.set_xticks(x, COEFFICIENT_NAMES)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance ratio")
    ax.set_title(f"Explained variance ({basis.n_filters:,} filters; labels in %)")
    ax.legend(loc="center right")
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_covariance(basis: PcaBasis) -> Figure:
    """Covariance of the nine filter weights as an annotated heat map on a symmetric scale."""
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    limit = _symmetric_limit(basis.covariance)
    image = ax.imshow(basis.covariance, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
    for (i, j), value in np.ndenumerate(basis.covariance):
        ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(9), WEIGHT_NAMES)
    ax.set_yticks(range(9), WEIGHT_NAMES)
    ax.set_title("Covariance of the 3x3 filter weights (row-major positions)")
    fig.colorbar(image, ax=ax, label="covariance")
    return fig


def evr_table(basis: PcaBasis) -> pd.DataFrame:
    """One row per component: its explained variance ratio and the cumulative ratio."""
    return pd.DataFrame(
        {
            "component": COEFFICIENT_NAMES,
            "explained_variance_ratio": basis.explained_variance_ratio,
            "cumulative_evr": np.cumsum(basis.explained_variance_ratio),
        }
    )


def components_table(basis: PcaBasis) -> pd.DataFrame:
    """The EVR table extended by the nine weights of each eigen-filter."""
    weights = pd.DataFrame(basis.components, columns=WEIGHT_NAMES)
    return pd.concat([evr_table(basis), weights], axis=1)


def covariance_table(basis: PcaBasis) -> pd.DataFrame:
    """The covariance matrix with a leading column naming each row's weight."""
    table = pd.DataFrame(basis.covariance, columns=WEIGHT_NAMES)
    table.insert(0, "weight", WEIGHT_NAMES)
    return table
