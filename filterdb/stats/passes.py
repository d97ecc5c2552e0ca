"""The per-partition tasks of the three passes over the database (run on Dask workers).

Three passes, because each needs the previous one's global result:

1. moments of the scaled filters (-> PCA basis) and each layer's degeneration metrics;
2. the global min/max of all coefficients, plus the c0/c1 density (its range is fixed);
3. the 70-bin coefficient histograms per (model, depth decile) cell, whose edges span the
   global range of pass 2, and the fine histograms of the KDE curves over that same range.

Two passes cannot give pass 3's counts exactly: a bin edge depends on the global min and max,
and no fixed-grid summary of pass 2 tells on which side of an edge a value inside one grid cell
falls. Each task reads its partition once, computes layer by layer in fixed-offset chunks
(float results never depend on the partitioning) with BLAS limited to one thread (matrix
products round the same way whatever the worker), and returns O(layers) floats or integer
histograms - never anything with one entry per filter.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from filterdb.stats.binning import coefficient_histograms, fine_histograms, joint_histogram
from filterdb.stats.blas import single_blas_thread
from filterdb.stats.degeneration import layer_quality
from filterdb.stats.moments import chunk_slices, streamed_moments
from filterdb.stats.partitions import PartitionSpec, layer_slices, read_partition
from filterdb.stats.pca import project
from filterdb.stats.scaling import LayerFilters


def _layers(spec: PartitionSpec) -> Iterator[tuple[int, LayerFilters]]:
    """Index within the partition and filters of each layer."""
    raw = read_partition(spec)
    for i, columns in enumerate(layer_slices(spec)):
        yield i, LayerFilters.of(raw[:, columns])


def coefficient_chunks(
    filters: LayerFilters, mean: np.ndarray, components: np.ndarray
) -> Iterator[np.ndarray]:
    """``(9, m)`` coefficients of a layer's finite filters, chunk by chunk."""
    for columns in chunk_slices(filters.values.shape[1]):
        yield project(filters.scaled_chunk(columns), mean, components)


def moments_pass(spec: PartitionSpec) -> dict[str, np.ndarray]:
    """Pass 1: per layer, moments of the scaled finite filters and the degeneration metrics."""
    n = len(spec.layers)
    out = {
        "model_id": np.full(n, spec.model_id, dtype=np.int64),
        "layer": np.asarray(spec.layers, dtype=np.int64),
        "n_finite": np.zeros(n, dtype=np.int64),
        "mean": np.zeros((n, 9)),
        "m2": np.zeros((n, 9, 9)),
        "sparsity": np.zeros(n),
        "variance_entropy": np.zeros(n),
        "clean_entropy": np.zeros(n),
        "orthogonality": np.zeros(n),
    }
    with single_blas_thread():
        for i, filters in _layers(spec):
            moments = streamed_moments(filters.values.shape[1], filters.scaled_chunk)
            quality = layer_quality(filters, spec.out_channels[i], spec.fan_in[i])
            out["n_finite"][i] = moments.count
            out["mean"][i] = moments.mean
            out["m2"][i] = moments.m2
            out["sparsity"][i] = quality.sparsity
            out["variance_entropy"][i] = quality.variance_entropy
            out["clean_entropy"][i] = quality.clean_entropy
            out["orthogonality"][i] = quality.orthogonality
    return out


def range_and_density_pass(
    spec: PartitionSpec, mean: np.ndarray, components: np.ndarray, density_edges: np.ndarray
) -> dict[str, np.ndarray | float]:
    """Pass 2: min and max of all coefficients, and the sparse c0/c1 joint histogram."""
    lo, hi = np.inf, -np.inf
    bins = len(density_edges) - 1
    joint = np.zeros(bins * bins, dtype=np.int64)
    with single_blas_thread():
        for _, filters in _layers(spec):
            for coefficients in coefficient_chunks(filters, mean, components):
                lo = min(lo, float(coefficients.min()))
                hi = max(hi, float(coefficients.max()))
                joint += joint_histogram(coefficients[0], coefficients[1], density_edges)
    index = np.flatnonzero(joint)
    return {"min": lo, "max": hi, "density_index": index, "density_counts": joint[index]}


def histogram_pass(
    spec: PartitionSpec,
    mean: np.ndarray,
    components: np.ndarray,
    edges: np.ndarray,
    fine_bins: int,
) -> dict[str, np.ndarray | int]:
    """Pass 3: coefficient histograms per depth decile, and the model's fine KDE histogram."""
    bins = len(edges) - 1
    cells: dict[int, np.ndarray] = {}
    fine = np.zeros(9 * fine_bins, dtype=np.int64)
    lo, hi = float(edges[0]), float(edges[-1])
    with single_blas_thread():
        for i, filters in _layers(spec):
            hist = cells.setdefault(spec.deciles[i], np.zeros(9 * bins, dtype=np.int64))
            for coefficients in coefficient_chunks(filters, mean, components):
                hist += coefficient_histograms(coefficients, edges)
                if spec.kde_group >= 0:
                    fine += fine_histograms(coefficients, lo, hi, fine_bins)
    deciles = sorted(cells)
    return {
        "model_id": spec.model_id,
        "deciles": np.asarray(deciles, dtype=np.int64),
        "histograms": np.stack([cells[d] for d in deciles]),
        "kde_group": spec.kde_group,
        "fine": fine,
    }
