"""Scale each filter by its absolute peak, so PCA compares filter shapes, not magnitudes.

Filters are handled column-wise as ``(9, n)`` arrays (one row per 3x3 position): the parquet
columns arrive that way, and every per-filter operation becomes a vectorised pass over
contiguous rows instead of a reduction over a short inner axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def finite_filters(raw: np.ndarray) -> np.ndarray:
    """``(n,)`` mask of filters whose nine weights are all finite.

    A single NaN or Inf would poison every sum it enters, so such filters are left out of every
    statistic (and counted) rather than propagated.
    """
    return np.isfinite(raw).all(axis=0)


def filter_peaks(raw: np.ndarray) -> np.ndarray:
    """``(n,)`` absolute peak ``max_j |w_j|`` of each filter, in the input dtype (exact)."""
    return np.abs(raw).max(axis=0)


def scale_by_peak(raw: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """``(9, m)`` float64 filters divided by their peaks; all-zero filters stay zero.

    Division happens in float64 on exactly converted inputs, so the result is the correctly
    rounded quotient whatever produced the array - a reference implementation gets the same bits.
    """
    den = peaks.astype(np.float64)
    den[den == 0] = 1.0
    return np.divide(raw, den, dtype=np.float64)


@dataclass(frozen=True)
class LayerFilters:
    """One layer's filters: all of them (``raw``), which are finite, and the finite ones.

    ``values`` (9, n_finite) and their ``peaks`` are what every statistic uses; ``raw`` and
    ``finite`` are kept for orthogonality, which needs the layer's output-channel structure.
    """

    raw: np.ndarray
    finite: np.ndarray
    values: np.ndarray
    peaks: np.ndarray

    @classmethod
    def of(cls, raw: np.ndarray) -> LayerFilters:
        """Split a layer's ``(9, n)`` float32 filters into finite values and peaks."""
        finite = finite_filters(raw)
        values = raw if finite.all() else raw[:, finite]
        return cls(raw, finite, values, filter_peaks(values))

    def scaled_chunk(self, columns: slice) -> np.ndarray:
        """Peak-scaled float64 finite filters of the column range ``columns``."""
        return scale_by_peak(self.values[:, columns], self.peaks[columns])
