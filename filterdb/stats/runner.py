"""Drive the three passes on a Dask cluster and reduce their partial results.

The client submits the partitions in Dask tasks of consecutive partitions (``task_rows``), shows
a progress bar over their completion, and folds each partition's result in as it arrives:
integer histograms are summed at once (addition of integers is order-free), per-layer floats are
kept (O(layers)) and reduced only after the pass, in (model_id, layer) order. That order - not
the order Dask finished the tasks in - fixes every rounding, so 1 or 30 workers, small or large
partitions, give bit-identical results.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from distributed import Client, as_completed

from filterdb.db.schema import LAYERS_FILE, MODELS_FILE
from filterdb.progress import progress_bar
from filterdb.stats.binning import uniform_edges
from filterdb.stats.blas import single_blas_thread
from filterdb.stats.degeneration import randomness_threshold
from filterdb.stats.density import binned_kde, coefficient_stds
from filterdb.stats.grouping import (
    DECILE_LABELS,
    NO_DECILE,
    AxisGroups,
    analysed_models,
    depth_deciles,
    group_cells,
    model_labels,
    shift_axes,
)
from filterdb.stats.moments import Moments, pooled_moments
from filterdb.stats.options import StatsOptions
from filterdb.stats.partitions import PartitionSpec, batch_partitions, plan_partitions
from filterdb.stats.passes import (
    histogram_pass,
    moments_pass,
    range_and_density_pass,
    run_batch,
)
from filterdb.stats.pca import PcaBasis, fit_pca
from filterdb.stats.randomness import random_entropy
from filterdb.stats.shift import bin_probabilities, shift_matrix
from filterdb.stats.summaries import layer_metrics, model_summary, rank_degenerated


@dataclass(frozen=True)
class ShiftAxis:
    """One axis's groups and its D matrix (rows and columns in ``groups.labels`` order)."""

    slug: str
    groups: AxisGroups
    matrix: np.ndarray


@dataclass(frozen=True)
class StatsResult:
    """Everything the statistics stage writes, held in memory (O(layers + groups))."""

    basis: PcaBasis
    coef_min: float
    coef_max: float
    n_nonfinite_filters: int
    histogram_edges: np.ndarray
    coefficient_counts: np.ndarray  # (9, bins) int64: every finite filter
    shift: list[ShiftAxis]
    layer_metrics: pd.DataFrame
    model_summary: pd.DataFrame
    degenerated_models: pd.DataFrame
    density_counts: np.ndarray
    density_edges: np.ndarray
    kde: pd.DataFrame
    randomness: pd.DataFrame


def _log(message: str) -> None:
    print(f"[statistics] {message}", file=sys.stderr, flush=True)


def _run_pass(
    client: Client,
    task: Callable[..., Any],
    specs: list[PartitionSpec],
    args: tuple,
    description: str,
    consume: Callable[[int, Any], None],
    rows: int,
) -> None:
    """Run ``task(spec, *args)`` for every partition; ``consume(index, result)`` as they finish.

    Consecutive partitions of up to ``rows`` filters in all share one Dask task
    (``batch_partitions``), which runs them one after the other."""
    token = uuid.uuid4().hex[:8]
    batches = batch_partitions(specs, rows)
    futures = [
        client.submit(
            run_batch,
            task,
            [specs[i] for i in batch],
            *args,
            key=f"{task.__name__}-{token}-{k}",
            pure=False,
        )
        for k, batch in enumerate(batches)
    ]
    position = {future.key: batch for future, batch in zip(futures, batches, strict=True)}
    started = time.perf_counter()
    with progress_bar(len(specs), description, "part") as bar:
        for future, results in as_completed(futures, with_results=True):
            for i, result in zip(position[future.key], results, strict=True):
                consume(i, result)
            future.release()
            bar.update(len(results))
    _log(
        f"{description}: {len(specs)} partitions in {len(futures)} tasks in "
        f"{time.perf_counter() - started:.1f} s"
    )


#: Dask tasks per worker that a pass aims for at least: with fewer, the last tasks of a pass
#: leave workers idle while one finishes (a 20 M-filter database made 6 tasks for 2 workers).
TASKS_PER_WORKER = 8


def task_rows(total: int, partition_rows: int, workers: int) -> int:
    """Filters per Dask task: ``partition_rows``, or fewer when that would give a pass fewer than
    ``TASKS_PER_WORKER`` tasks per worker. Only the scheduling depends on it, not a result."""
    if workers < 1:  # a cluster whose workers have not started yet
        return partition_rows
    return max(1, min(partition_rows, -(-total // (TASKS_PER_WORKER * workers))))


def _workers(client: Client) -> int:
    """Threads the cluster's workers have now (0 while none has started)."""
    return sum(client.nthreads().values())


def _prepare_tables(db_dir: Path, options: StatsOptions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """models (by model_id) and layers (by model_id, layer) with model_id and decile columns."""
    models_path, layers_path = db_dir / MODELS_FILE, db_dir / LAYERS_FILE
    models = pd.read_parquet(models_path).sort_values("model_id").reset_index(drop=True)
    if not np.array_equal(models["model_id"].to_numpy(), np.arange(len(models))):
        raise ValueError(f"{models_path}: model_id must be 0..n-1")
    missing = [
        a.column for a in shift_axes(options.extra_axes) if a.column and a.column not in models
    ]
    if missing:
        raise ValueError(f"{models_path} has no column(s) {', '.join(missing)} (statistics axes)")
    layers = pd.read_parquet(layers_path)
    ids = dict(zip(models["model"], models["model_id"], strict=True))
    unknown = sorted(set(layers["model"]) - set(ids))
    if unknown:
        raise ValueError(f"{layers_path} lists models missing from models.parquet: {unknown[:5]}")
    layers["model_id"] = layers["model"].map(ids).astype(np.int64)
    layers = layers.sort_values(["model_id", "layer"], kind="stable").reset_index(drop=True)
    layers["decile"] = depth_deciles(layers["conv_depth_norm"].to_numpy())
    return models, layers


def run_statistics(db_dir: str | Path, options: StatsOptions, client: Client) -> StatsResult:
    """Compute every statistic of the database in ``db_dir`` (``results/db``).

    The client reads only the layer and model tables; the filter files are read by the Dask
    workers alone, one partition at a time.
    """
    db_dir = Path(db_dir)
    models, layers = _prepare_tables(db_dir, options)
    analysed = analysed_models(models, options.exclude, options.merge_segmentation_tasks)
    categories = model_labels(models, "Visual Category", merge_segmentation=False)
    categories[~analysed] = ""
    kde_labels = sorted({c for c in categories if c})
    kde_groups = np.array([kde_labels.index(c) if c else -1 for c in categories], dtype=np.int64)
    specs = plan_partitions(
        models, layers, db_dir, options.partition_rows, kde_groups, options.direct_reads
    )
    # Partitions never span models, so the analysed ones are whole partitions.
    pca_specs = [spec for spec in specs if analysed[spec.model_id]]
    _log(
        f"{len(models)} models, {len(layers)} layers, {int(layers['n_filters'].sum())} filters "
        f"in {len(specs)} partitions; PCA and shifts of {int(analysed.sum())} models "
        f"({len(models) - int(analysed.sum())} excluded by statistics.exclude)"
    )
    sizes = options.randomness_sizes()
    repeats, seed = options.randomness_repeats, options.randomness_seed
    random_futures = [
        client.submit(random_entropy, int(n), repeats, seed, pure=False) for n in sizes
    ]

    rows = task_rows(int(layers["n_filters"].sum()), options.partition_rows, _workers(client))
    partials = _moments(client, specs, layers, rows)
    in_pca = analysed[layers["model_id"].to_numpy()]
    n_nonfinite = int(layers["n_filters"][in_pca].sum() - partials["n_finite"][in_pca].sum())
    if n_nonfinite:
        _log(f"left out of the PCA {n_nonfinite} filters holding NaN or Inf (see layer_metrics)")
    with single_blas_thread():
        basis = fit_pca(
            pooled_moments(
                partials["n_finite"][in_pca], partials["mean"][in_pca], partials["m2"][in_pca]
            )
        )
    limit = options.density_limit
    density_edges = np.linspace(-limit, limit, options.density_bins + 1)
    coef_min, coef_max, density = _coefficient_range(client, pca_specs, basis, density_edges, rows)
    edges = uniform_edges(coef_min, coef_max, options.bins)
    cells, fine = _histograms(
        client, pca_specs, basis, edges, options.kde_fine_bins, len(kde_labels), rows
    )

    with single_blas_thread():
        shift = _shift_axes(models, cells, edges, basis, options)
        kde = _kde_curves(
            kde_labels, kde_groups, layers, partials, fine, basis, edges, options.kde_grid_points
        )
    metrics = layer_metrics(layers, partials)
    summary = model_summary(models, metrics, analysed)
    random_results = [future.result() for future in random_futures]
    randomness = pd.DataFrame(
        {
            "n": sizes,
            "threshold": randomness_threshold(sizes),
            "entropy_mean": [m for m, _ in random_results],
            "entropy_std": [s for _, s in random_results],
        }
    )
    return StatsResult(
        basis=basis,
        coef_min=coef_min,
        coef_max=coef_max,
        n_nonfinite_filters=n_nonfinite,
        histogram_edges=edges,
        coefficient_counts=sum(cells.values()).reshape(9, options.bins),
        shift=shift,
        layer_metrics=metrics,
        model_summary=summary,
        degenerated_models=rank_degenerated(summary),
        density_counts=density.reshape(options.density_bins, options.density_bins),
        density_edges=density_edges,
        kde=kde,
        randomness=randomness,
    )


def _moments(
    client: Client, specs: list[PartitionSpec], layers: pd.DataFrame, rows: int
) -> dict[str, np.ndarray]:
    """Pass 1: per-layer moments and metrics, as arrays aligned with ``layers``."""
    parts: list[dict[str, np.ndarray] | None] = [None] * len(specs)

    def keep(i: int, result: dict[str, np.ndarray]) -> None:
        parts[i] = result

    _run_pass(client, moments_pass, specs, (), "pass 1/3 moments+degeneration", keep, rows)
    return _layer_partials(parts, layers)


def _coefficient_range(
    client: Client,
    specs: list[PartitionSpec],
    basis: PcaBasis,
    density_edges: np.ndarray,
    rows: int,
) -> tuple[float, float, np.ndarray]:
    """Pass 2: global min and max of all coefficients and the flat c0/c1 joint counts."""
    bins = len(density_edges) - 1
    density = np.zeros(bins * bins, dtype=np.int64)
    extremes = [np.inf, -np.inf]

    def fold(_: int, result: dict) -> None:
        extremes[0] = min(extremes[0], result["min"])
        extremes[1] = max(extremes[1], result["max"])
        density[result["density_index"]] += result["density_counts"]

    args = (basis.mean, basis.components, density_edges)
    description = "pass 2/3 coefficient range"
    _run_pass(client, range_and_density_pass, specs, args, description, fold, rows)
    return float(extremes[0]), float(extremes[1]), density


def _histograms(
    client: Client,
    specs: list[PartitionSpec],
    basis: PcaBasis,
    edges: np.ndarray,
    fine_bins: int,
    n_kde_groups: int,
    rows: int,
) -> tuple[dict[tuple[int, int], np.ndarray], np.ndarray]:
    """Pass 3: counts per (model_id, decile) cell and fine counts per Visual Category."""
    cells: dict[tuple[int, int], np.ndarray] = {}
    fine = np.zeros((n_kde_groups, 9 * fine_bins), dtype=np.int64)

    def fold(_: int, result: dict) -> None:
        for decile, hist in zip(result["deciles"], result["histograms"], strict=True):
            key = (int(result["model_id"]), int(decile))
            if key in cells:
                cells[key] += hist
            else:
                cells[key] = hist.copy()
        if result["kde_group"] >= 0:
            fine[result["kde_group"]] += result["fine"]

    args = (basis.mean, basis.components, edges, fine_bins)
    _run_pass(client, histogram_pass, specs, args, "pass 3/3 histograms", fold, rows)
    return cells, fine


def _layer_partials(parts: list[dict | None], layers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Concatenate pass-1 results into arrays aligned with ``layers`` (model_id, layer order)."""
    if not parts:
        raise ValueError("the database holds no 3x3 filters")
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((merged["layer"], merged["model_id"]))
    merged = {key: value[order] for key, value in merged.items()}
    expected = (layers["model_id"].to_numpy(), layers["layer"].to_numpy())
    if not (
        np.array_equal(merged["model_id"], expected[0])
        and np.array_equal(merged["layer"], expected[1])
    ):
        raise ValueError("pass 1 did not return exactly one result per layer of layers.parquet")
    return merged


def _shift_axes(
    models: pd.DataFrame,
    cells: dict[tuple[int, int], np.ndarray],
    edges: np.ndarray,
    basis: PcaBasis,
    options: StatsOptions,
) -> list[ShiftAxis]:
    """Group the cell histograms on every axis and compute the D matrices."""
    keys = sorted(cells)
    cell_models = np.array([m for m, _ in keys], dtype=np.int64)
    cell_deciles = np.array([d for _, d in keys], dtype=np.int64)
    bins = len(edges) - 1
    hists = np.stack([cells[k] for k in keys]) if keys else np.zeros((0, 9 * bins), np.int64)
    axes = []
    for axis in shift_axes(options.extra_axes):
        if axis.column is None:
            decile_names = np.array(list(DECILE_LABELS) + [""], dtype=object)
            labels = decile_names[np.where(cell_deciles == NO_DECILE, 10, cell_deciles)]
            groups = group_cells(labels, cell_models, hists, order=DECILE_LABELS)
        else:
            per_model = model_labels(models, axis.column, options.merge_segmentation_tasks)
            groups = group_cells(per_model[cell_models], cell_models, hists)
        probabilities = bin_probabilities(groups.histograms.reshape(-1, 9, bins), edges)
        matrix = shift_matrix(probabilities, basis.explained_variance_ratio)
        axes.append(ShiftAxis(axis.slug, groups, matrix))
        _log(f"axis {axis.slug}: {len(groups.labels)} groups")
    return axes


def _kde_curves(
    labels: list[str],
    kde_groups: np.ndarray,
    layers: pd.DataFrame,
    partials: dict[str, np.ndarray],
    fine: np.ndarray,
    basis: PcaBasis,
    edges: np.ndarray,
    grid_points: int,
) -> pd.DataFrame:
    """KDE curve of every coefficient per Visual Category, on one grid over the global range."""
    lo, hi = float(edges[0]), float(edges[-1])
    grid = np.linspace(lo, hi, grid_points)
    layer_group = kde_groups[layers["model_id"].to_numpy()]
    frames = []
    for g, label in enumerate(labels):
        members = layer_group == g
        moments: Moments = pooled_moments(
            partials["n_finite"][members], partials["mean"][members], partials["m2"][members]
        )
        if moments.count == 0:
            continue
        stds = coefficient_stds(moments, basis.components)
        curves = binned_kde(fine[g].reshape(9, -1), lo, hi, stds, grid)
        for k in range(9):
            frames.append(
                pd.DataFrame(
                    {"visual_category": label, "coefficient": k, "x": grid, "density": curves[k]}
                )
            )
    columns = ["visual_category", "coefficient", "x", "density"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
