"""Histogram bin indices with exactly ``numpy.histogram``'s semantics, for streaming counts.

Counting chunk by chunk and adding integer counts is exact and order-free, but only if each value
lands in the bin ``np.histogram`` would choose on the whole array; the compiled rule
(``kernels.bin_block``) replicates its fast path (same arithmetic, same +-1 correction against
the ``linspace`` edges), so a reference computed in memory gives the same counts. These are its
array forms, for callers holding coefficients rather than filters.
"""

from __future__ import annotations

import numpy as np

from filterdb.stats.kernels import bin_block


def uniform_edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """``np.histogram(..., bins, range=(lo, hi))``'s float64 edges (a zero-width range widens)."""
    lo, hi = float(lo), float(hi)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1, endpoint=True, dtype=np.float64)


def bin_indices(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each float64 value (same shape), -1 outside ``[edges[0], edges[-1]]``.

    Bin i holds ``edges[i] <= v < edges[i+1]``; the last bin also holds ``edges[-1]``. The rule
    is the compiled passes' own (``kernels.bin_block``), so these array forms bin exactly as the
    statistics stage does.
    """
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    index = np.empty(flat.size, dtype=np.int64)
    bin_block(flat, flat.size, np.asarray(edges, dtype=np.float64), index)
    return index.reshape(np.shape(values))


def coefficient_histograms(coefficients: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Flat ``(9 * bins,)`` int64 counts of each coefficient row of ``coefficients`` (9, m).

    All values must lie inside the edges (true for the global coefficient range).
    """
    counts, outside = clipped_histograms(coefficients, edges)
    if outside:
        raise ValueError(f"{outside} values lie outside the edges [{edges[0]}, {edges[-1]}]")
    return counts


def clipped_histograms(coefficients: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """``coefficient_histograms`` for values that may lie outside the edges, and how many did.

    A value outside is dropped from its coefficient's counts, as ``np.histogram`` drops it; a
    model checked against a database bins on the database's edges, which need not span its own
    coefficients. Values inside land in the same bins as ``coefficient_histograms`` puts them.
    """
    bins = len(edges) - 1
    idx = bin_indices(coefficients, edges)
    inside = idx >= 0
    idx += (np.arange(coefficients.shape[0]) * bins)[:, None]
    counts = np.bincount(idx[inside], minlength=coefficients.shape[0] * bins)
    return counts, int(inside.size - np.count_nonzero(inside))


def joint_histogram(x: np.ndarray, y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Flat ``(bins * bins,)`` counts of ``np.histogram2d(x, y, [edges, edges])`` (axis0 = x).

    Pairs with either value outside the edges are dropped, as ``histogram2d`` drops them.
    """
    bins = len(edges) - 1
    ix, iy = bin_indices(x, edges), bin_indices(y, edges)
    keep = (ix >= 0) & (iy >= 0)
    return np.bincount(ix[keep] * bins + iy[keep], minlength=bins * bins)
