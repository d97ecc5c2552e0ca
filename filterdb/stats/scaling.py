"""Scale each filter by its absolute peak, so PCA compares filter shapes, not magnitudes.

Filters are handled column-wise (one row per 3x3 position): the parquet columns arrive that way,
and every per-filter operation becomes a vectorised pass over contiguous rows instead of a
reduction over a short inner axis. A layer's ``columns`` are a ``(9, n)`` array or a tuple of
nine 1-D arrays (the column chunks of a Parquet read, uncopied); the kernels take either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterdb.stats import kernels
from filterdb.stats.moments import Moments

#: A layer's nine float32 weight rows: a ``(9, n)`` array or nine ``(n,)`` arrays.
Columns = np.ndarray | tuple[np.ndarray, ...]


def scale_by_peak(raw: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """``(9, m)`` float64 filters divided by their peaks; all-zero filters stay zero.

    Division happens in float64 on exactly converted inputs, so the result is the correctly
    rounded quotient whatever produced the array - the compiled passes (``kernels``) divide the
    same way, and this array form is the definition they are tested against.
    """
    den = peaks.astype(np.float64)
    den[den == 0] = 1.0
    return np.divide(raw, den, dtype=np.float64)


def _take(columns: Columns, mask: np.ndarray) -> Columns:
    """The filters ``mask`` marks, in the form ``columns`` came in (rows read-only, as a Parquet
    read's are: one type for the kernels, which compile once per argument type)."""
    if isinstance(columns, np.ndarray):
        return columns[:, mask]
    rows = tuple(row[mask] for row in columns)
    for row in rows:
        row.flags.writeable = False
    return rows


@dataclass(frozen=True)
class LayerFilters:
    """One layer's filters: all of them (``raw``), which are finite, and the finite ones.

    ``values`` (nine rows of ``n`` finite filters) and their absolute ``peaks`` (``max_j |w_j|``,
    exact in float32) are what every statistic uses: a single NaN or Inf would poison every sum
    it enters, so such filters are left out (and counted) rather than propagated. ``raw`` and
    ``finite`` are kept for orthogonality, which needs the layer's output-channel structure.
    """

    raw: Columns
    finite: np.ndarray
    values: Columns
    peaks: np.ndarray

    @classmethod
    def of(cls, raw: Columns) -> LayerFilters:
        """Split a layer's float32 columns into finite values and peaks."""
        finite, peaks = kernels.finite_and_peaks(raw)
        if finite.all():
            return cls(raw, finite, raw, peaks)
        return cls(raw, finite, _take(raw, finite), peaks[finite])

    @property
    def n(self) -> int:
        """How many finite filters the layer holds."""
        return self.peaks.size

    def moments(self, scaled: bool, keep: np.ndarray | None = None) -> Moments:
        """Moments of the finite filters (those ``keep`` marks), peak-scaled or as they are.

        Fixed-offset blocks of the layer (``kernels.layer_moments``), so the result depends on
        the layer alone and no temporary grows with it.
        """
        if keep is None:
            keep = np.ones(self.n, dtype=bool)
        return _moments(kernels.layer_moments(self.values, self.peaks, keep, scaled))

    def pass_one_moments(self, sparse: np.ndarray) -> tuple[Moments, Moments, Moments]:
        """``moments(True)``, ``moments(False)`` and ``moments(False, ~sparse)`` (empty when no
        filter is ``sparse``), from one sweep over the layer instead of three."""
        states = kernels.pass_one_moments(self.values, self.peaks, sparse)
        return tuple(_moments(state) for state in states)


def _moments(state: np.ndarray) -> Moments:
    """``Moments`` of a kernel's flat state: count, mean (9), M2 (9 x 9)."""
    return Moments(int(state[0]), state[1:10].copy(), state[10:].reshape(9, 9).copy())
