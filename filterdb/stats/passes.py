"""The per-partition tasks of the three passes over the database (run on Dask workers).

Three passes, because each needs the previous one's global result:

1. moments of the scaled filters (-> PCA basis) and each layer's degeneration metrics;
2. the global min/max of all coefficients, plus the c0/c1 density (its range is fixed);
3. the 70-bin coefficient histograms per (model, depth decile) cell, whose edges span the
   global range of pass 2, and the fine histograms of the KDE curves over that same range.

Two passes cannot give pass 3's counts exactly: a bin edge depends on the global min and max,
and no fixed-grid summary of pass 2 tells on which side of an edge a value inside one grid cell
falls. Each task reads its partition once and computes layer by layer - fixed-offset chunks
and fixed summation orders (``kernels``), so float results never depend on the partitioning;
BLAS, which computes orthogonality's Gram matrices, limited to one thread - and
returns O(layers) floats or integer histograms, never anything with one entry per filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from filterdb.stats.blas import single_blas_thread
from filterdb.stats.degeneration import layer_statistics
from filterdb.stats.kernels import coefficient_counts, range_and_joint
from filterdb.stats.partitions import PartitionSpec, read_layers
from filterdb.stats.scaling import Columns, LayerFilters

T = TypeVar("T")
NO_FINE = np.zeros(0, dtype=np.int64)  # ``coefficient_counts``' fine target when there is none


def _layers(layers: list[Columns]) -> Iterator[tuple[int, LayerFilters]]:
    """Index within the partition and filters of each layer."""
    for i, raw in enumerate(layers):
        yield i, LayerFilters.of(raw)


def _own(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Writable float64 copies of a task's small array arguments.

    Dask hands arguments over read-only or writable depending on how they travelled, and each
    combination would be another compilation of the kernels (seconds, and memory) in the worker.
    """
    return tuple(np.array(a, dtype=np.float64) for a in arrays)


def run_batch(task: Callable[..., T], specs: list[PartitionSpec], *args: Any) -> list[T]:
    """``task(spec, layers, *args)`` for each partition of one Dask task, in order, each
    partition read while the one before is computed.

    One task per partition cost the scheduler a few milliseconds each: on a database of many
    small models (200 M filters in 476 one-model partitions) that was a fifth of each pass. The
    read runs ahead in a thread of its own because the files are read past the page cache
    (``read_layers``): a read waits for the disk, and without it the worker would wait too.
    """
    results = []
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as reader:
        ahead = reader.submit(read_layers, specs[0])
        for i, spec in enumerate(specs):
            layers = ahead.result()
            if i + 1 < len(specs):
                ahead = reader.submit(read_layers, specs[i + 1])
            results.append(task(spec, layers, *args))
            del layers  # before the next partition's read is waited for: two at a time at most
    return results


def moments_pass(spec: PartitionSpec, layers: list[Columns]) -> dict[str, np.ndarray]:
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
        for i, filters in _layers(layers):
            moments, quality = layer_statistics(filters, spec.out_channels[i], spec.fan_in[i])
            out["n_finite"][i] = moments.count
            out["mean"][i] = moments.mean
            out["m2"][i] = moments.m2
            out["sparsity"][i] = quality.sparsity
            out["variance_entropy"][i] = quality.variance_entropy
            out["clean_entropy"][i] = quality.clean_entropy
            out["orthogonality"][i] = quality.orthogonality
    return out


def range_and_density_pass(
    spec: PartitionSpec,
    layers: list[Columns],
    mean: np.ndarray,
    components: np.ndarray,
    density_edges: np.ndarray,
) -> dict[str, np.ndarray | float]:
    """Pass 2: min and max of all coefficients, and the sparse c0/c1 joint histogram."""
    mean, components, density_edges = _own(mean, components, density_edges)
    lo, hi = np.inf, -np.inf
    bins = len(density_edges) - 1
    joint = np.zeros(bins * bins, dtype=np.int64)
    for raw in layers:
        layer_lo, layer_hi = range_and_joint(raw, mean, components, density_edges, joint)
        lo, hi = min(lo, layer_lo), max(hi, layer_hi)
    index = np.flatnonzero(joint)
    return {"min": lo, "max": hi, "density_index": index, "density_counts": joint[index]}


def histogram_pass(
    spec: PartitionSpec,
    layers: list[Columns],
    mean: np.ndarray,
    components: np.ndarray,
    edges: np.ndarray,
    fine_bins: int,
) -> dict[str, np.ndarray | int]:
    """Pass 3: coefficient histograms per depth decile, and the model's fine KDE histogram."""
    mean, components, edges = _own(mean, components, edges)
    bins = len(edges) - 1
    cells: dict[int, np.ndarray] = {}
    fine = np.zeros(9 * fine_bins, dtype=np.int64)
    for i, raw in enumerate(layers):
        hist = cells.setdefault(spec.deciles[i], np.zeros(9 * bins, dtype=np.int64))
        outside = coefficient_counts(
            raw,
            mean,
            components,
            edges,
            hist,
            fine if spec.kde_group >= 0 else NO_FINE,
        )
        if outside:  # pass 2 took the range from the very same arithmetic
            raise RuntimeError(f"{spec.model}: {outside} coefficients outside the global range")
    deciles = sorted(cells)
    return {
        "model_id": spec.model_id,
        "deciles": np.asarray(deciles, dtype=np.int64),
        "histograms": np.stack([cells[d] for d in deciles]),
        "kde_group": spec.kde_group,
        "fine": fine,
    }
