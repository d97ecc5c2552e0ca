"""Scale each filter by its absolute peak, so PCA compares filter shapes, not magnitudes.

Filters are handled column-wise as ``(9, n)`` arrays (one row per 3x3 position): the parquet
columns arrive that way, and every per-filter operation becomes a vectorised pass over
contiguous rows instead of a reduction over a short inner axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterdb.stats import kernels
from filterdb.stats.moments import CHUNK_FILTERS, Moments, streamed_moments


def scale_by_peak(raw: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """``(9, m)`` float64 filters divided by their peaks; all-zero filters stay zero.

    Division happens in float64 on exactly converted inputs, so the result is the correctly
    rounded quotient whatever produced the array - the compiled passes (``kernels``) divide the
    same way, and this array form is the definition they are tested against.
    """
    den = peaks.astype(np.float64)
    den[den == 0] = 1.0
    return np.divide(raw, den, dtype=np.float64)


@dataclass(frozen=True)
class LayerFilters:
    """One layer's filters: all of them (``raw``), which are finite, and the finite ones.

    ``values`` (9, n_finite) and their absolute ``peaks`` (``max_j |w_j|``, exact in float32)
    are what every statistic uses: a single NaN or Inf would poison every sum it enters, so such
    filters are left out (and counted) rather than propagated. ``raw`` and ``finite`` are kept
    for orthogonality, which needs the layer's output-channel structure.
    """

    raw: np.ndarray
    finite: np.ndarray
    values: np.ndarray
    peaks: np.ndarray

    @classmethod
    def of(cls, raw: np.ndarray) -> LayerFilters:
        """Split a layer's ``(9, n)`` float32 filters into finite values and peaks."""
        finite, peaks = kernels.finite_and_peaks(raw)
        if finite.all():
            return cls(raw, finite, raw, peaks)
        return cls(raw, finite, raw[:, finite], peaks[finite])

    def moments(self, scaled: bool, keep: np.ndarray | None = None) -> Moments:
        """Moments of the finite filters (those ``keep`` marks), peak-scaled or as they are.

        Fixed-offset chunks of the layer, each gathered into one reused float64 buffer, so the
        result depends on the layer alone and no temporary grows with it.
        """
        n = self.values.shape[1]
        if keep is None:
            keep = np.ones(n, dtype=bool)
        buffer = np.empty((9, min(n, CHUNK_FILTERS)))

        def kept(columns: slice) -> np.ndarray:
            m = kernels.gather_chunk(
                self.values, self.peaks, keep, columns.start, columns.stop, scaled, buffer
            )
            return buffer[:, :m]

        return streamed_moments(n, kept)
