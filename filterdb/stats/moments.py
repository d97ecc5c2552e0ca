"""Count, mean and centred cross-products of 9-dimensional filters, mergeable in any grouping.

PCA needs the covariance of all filters; the variance entropy needs it per layer. Both come from
``(count, mean, M2)`` triples that are computed per fixed-size chunk of a layer and merged with
Chan et al.'s pairwise update. Centring each chunk on its own mean before taking cross-products
avoids the cancellation of the textbook ``sum(x x^T) - n mean mean^T`` formula. Chunks are cut at
fixed offsets from the start of a layer, so the float results of a layer never depend on how the
database was partitioned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

CHUNK_FILTERS = 1 << 16  # 4.7 MB of float64 per (9, chunk) array: stays in cache, bounds memory
DIM = 9


@dataclass(frozen=True)
class Moments:
    """``count`` filters with mean ``mean`` (9,) and centred cross-products ``m2`` (9, 9)."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls) -> Moments:
        """Moments of no filters (the neutral element of ``merge_moments``)."""
        return cls(0, np.zeros(DIM), np.zeros((DIM, DIM)))

    def covariance(self) -> np.ndarray:
        """Sample covariance (ddof=1), the normalisation scikit-learn's PCA uses."""
        return self.m2 / (self.count - 1)


def chunk_moments(x: np.ndarray) -> Moments:
    """Moments of the float64 columns of ``x`` (9, m)."""
    m = x.shape[1]
    if m == 0:
        return Moments.empty()
    mean = x.sum(axis=1) / m
    xc = x - mean[:, None]
    return Moments(m, mean, xc @ xc.T)


def merge_moments(a: Moments, b: Moments) -> Moments:
    """Moments of the union of two disjoint filter sets (Chan, Golub & LeVeque)."""
    if a.count == 0:
        return b
    if b.count == 0:
        return a
    n = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / n)
    m2 = a.m2 + b.m2 + np.outer(delta, delta) * (a.count * b.count / n)
    return Moments(n, mean, m2)


def chunk_slices(n: int) -> Iterator[slice]:
    """Column ranges of the fixed-offset chunks of a layer of ``n`` filters."""
    for start in range(0, n, CHUNK_FILTERS):
        yield slice(start, min(start + CHUNK_FILTERS, n))


def streamed_moments(n: int, chunk: Callable[[slice], np.ndarray]) -> Moments:
    """Moments of ``n`` filters delivered as float64 ``(9, m)`` chunks by ``chunk(columns)``."""
    total = Moments.empty()
    for columns in chunk_slices(n):
        total = merge_moments(total, chunk_moments(chunk(columns)))
    return total


def raw_moments(w: np.ndarray) -> Moments:
    """Moments of the filters ``w`` (9, n) as they are (upcast to float64 chunk by chunk)."""
    return streamed_moments(w.shape[1], lambda columns: w[:, columns].astype(np.float64))


def pooled_moments(counts: np.ndarray, means: np.ndarray, m2s: np.ndarray) -> Moments:
    """Moments of the union of L disjoint sets given as arrays (L,), (L, 9), (L, 9, 9).

    The caller passes the sets in a fixed order; the sums then run in that order, which is what
    makes the result independent of the order Dask finished the tasks in.
    """
    n = int(counts.sum())
    if n == 0:
        return Moments.empty()
    weights = counts.astype(np.float64)
    mean = (weights[:, None] * means).sum(axis=0) / n
    spread = means - mean
    m2 = m2s.sum(axis=0) + (spread * weights[:, None]).T @ spread
    return Moments(n, mean, m2)
