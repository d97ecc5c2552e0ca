"""Joint density of the first two PCA coefficients (c0, c1) on a log colour scale.

The statistics stage counts all filters in a 512x512 histogram (``density_c0_c1.npz``). Counts are
divided by the largest bin count, so the colour reads "density relative to the mode": 1 at the
densest bin, 1e-5 for a bin 100,000 times sparser. That scale does not depend on the number of
filters, so figures of differently sized zoos compare directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from filterdb.figures.style import SEQUENTIAL_CMAP

#: Colour range of the relative density: five decades below the mode.
VMIN, VMAX = 1e-5, 1.0


@dataclass(frozen=True)
class Histogram2d:
    """Bin counts (axis 0 = c0) and the shared bin edges of both coefficients."""

    counts: np.ndarray
    edges: np.ndarray

    @property
    def relative_density(self) -> np.ndarray:
        """Counts divided by the largest count (all zeros stay zero); NaN-free."""
        peak = self.counts.max()
        return self.counts / peak if peak > 0 else np.zeros(self.counts.shape)


def read_histogram(path: str | os.PathLike[str]) -> Histogram2d:
    """Read the histogram and check counts and edges agree."""
    with np.load(path) as data:
        counts, edges = data["counts"], data["edges"]
    if counts.ndim != 2 or counts.shape != (len(edges) - 1, len(edges) - 1):
        raise ValueError(f"{path}: counts {counts.shape} do not match {len(edges)} edges")
    return Histogram2d(counts=counts, edges=edges)


def plot_density(hist: Histogram2d) -> Figure:
    """Log-coloured map of the relative density with c0 on x and c1 on y; empty bins stay black."""
    density = np.ma.masked_less_equal(hist.relative_density, 0)
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    cmap = SEQUENTIAL_CMAP.with_extremes(bad="black", under="black")
    # Axis 0 is c0 but imshow puts axis 0 on y, hence the transpose.
    image = ax.imshow(
        density.T,
        origin="lower",
        extent=(hist.edges[0], hist.edges[-1], hist.edges[0], hist.edges[-1]),
        cmap=cmap,
        norm=LogNorm(vmin=VMIN, vmax=VMAX),
        interpolation="nearest",
        aspect="equal",
    )
    ax.set_xlabel("c0")
    ax.set_ylabel("c1")
    ax.set_title(f"{int(hist.counts.sum()):,} filters, {len(hist.edges) - 1}² bins")
    fig.colorbar(image, ax=ax, label="density relative to the densest bin", extend="min")
    return fig


def density_table(hist: Histogram2d) -> pd.DataFrame:
    """Key numbers: filters counted, bin width, the mode and how much of the plane is used."""
    i, j = np.unravel_index(int(np.argmax(hist.counts)), hist.counts.shape)
    centres = (hist.edges[:-1] + hist.edges[1:]) / 2
    relative = hist.relative_density
    return pd.DataFrame(
        {
            "n_filters_in_range": [int(hist.counts.sum())],
            "bins_per_axis": [hist.counts.shape[0]],
            "range_min": [hist.edges[0]],
            "range_max": [hist.edges[-1]],
            "bin_width": [hist.edges[1] - hist.edges[0]],
            "mode_c0": [centres[i]],
            "mode_c1": [centres[j]],
            "mode_count": [int(hist.counts[i, j])],
            "share_bins_nonempty": [float((hist.counts > 0).mean())],
            "share_bins_below_vmin": [float(((relative > 0) & (relative < VMIN)).mean())],
        }
    )
