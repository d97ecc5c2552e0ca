"""One function per figure rule: read its statistics files, draw its figures, write them.

``outputs`` maps each figure's key (``catalogue.FigureEntry.key``) to its files, one per format,
and ``<key>_table`` to its CSV, as the rules name their outputs. Each function prints a line for
the job's log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from filterdb.figures import degeneration, density, drift, pca, ranking, ridge, shift, threshold
from filterdb.figures.style import save_figure, save_table
from filterdb.stats.basis_file import read_basis

PathLike = str | os.PathLike[str]
Outputs = Mapping[str, Sequence[PathLike] | PathLike]


def _write(outputs: Outputs, key: str, figure: Figure, table: pd.DataFrame, dpi: int) -> None:
    save_figure(figure, outputs[key], dpi)
    save_table(table, outputs[f"{key}_table"])


def make_shift_matrix(
    matrix: PathLike, groups: PathLike, axis: str, outputs: Outputs, dpi: int
) -> None:
    """One axis's distribution-shift matrix and its numbers."""
    loaded = shift.read_shift_matrix(matrix, groups, axis)
    _write(outputs, "shift", shift.plot_shift_matrix(loaded), shift.shift_table(loaded), dpi)
    print(f"{axis}: {len(loaded.d)} groups in order {list(loaded.d.index)}")


def make_shift_overview(
    axes: Sequence[str],
    matrices: Sequence[PathLike],
    groups: Sequence[PathLike],
    upper_triangle: PathLike,
    outputs: Outputs,
    dpi: int,
) -> None:
    """The paper's three-panel shift figure and the drift box plots."""
    panels = [
        shift.read_shift_matrix(m, g, a) for a, m, g in zip(axes, matrices, groups, strict=True)
    ]
    combined = shift.plot_shift_combined(panels)
    _write(outputs, "shift_combined", combined, shift.group_order_table(panels), dpi)
    upper = drift.read_upper_triangle(upper_triangle)
    boxes = drift.plot_drift_boxplot(upper)
    _write(outputs, "drift_boxplot", boxes, drift.drift_table(upper), dpi)
    print(f"panels {[p.axis for p in panels]}; drift box plots of {upper['axis'].nunique()} axes")


def make_pca(basis_path: PathLike, outputs: Outputs, dpi: int) -> None:
    """Eigen-filters, explained variance and weight covariance of the PCA basis."""
    basis = read_basis(basis_path)
    _write(outputs, "pca_components", pca.plot_components(basis), pca.components_table(basis), dpi)
    _write(outputs, "pca_evr", pca.plot_evr(basis), pca.evr_table(basis), dpi)
    _write(outputs, "pca_covariance", pca.plot_covariance(basis), pca.covariance_table(basis), dpi)
    print(f"PCA figures of {basis.n_filters} filters")


def make_densities(kde_path: PathLike, density_path: PathLike, outputs: Outputs, dpi: int) -> None:
    """The per-category coefficient ridge plot and the c0/c1 log-density map."""
    kde = ridge.read_kde(kde_path)
    _write(outputs, "ridge_kde", ridge.plot_ridge(kde), ridge.ridge_table(kde), dpi)
    hist = density.read_histogram(density_path)
    _write(outputs, "density_c0_c1", density.plot_density(hist), density.density_table(hist), dpi)
    n_categories = kde["visual_category"].nunique()
    print(f"ridge plot of {n_categories} categories; density of {int(hist.counts.sum())} filters")


def make_degeneration(
    layer_metrics: PathLike,
    randomness: PathLike,
    ranking_path: PathLike,
    top_models: int,
    outputs: Outputs,
    dpi: int,
) -> None:
    """Degeneration by depth, the randomness threshold, and the most degenerated models."""
    layers = degeneration.read_layer_metrics(layer_metrics)
    by_depth = degeneration.plot_degeneration_by_depth(layers)
    _write(outputs, "degeneration_depth", by_depth, degeneration.degeneration_table(layers), dpi)
    curve = threshold.read_threshold_curve(randomness)
    figure = threshold.plot_randomness_threshold(curve, layers)
    _write(outputs, "randomness_threshold", figure, curve, dpi)
    top = ranking.read_top_models(ranking_path, top_models)
    _write(outputs, "degenerated_models_top", ranking.plot_top_models(top), top, dpi)
    print(f"{len(layers)} layers; top {len(top)} degenerated models")
