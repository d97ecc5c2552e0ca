"""Read the published filters in bounded windows and round them to float32.

The published v1.0.0 file holds ~1.4 billion float64 filters (~100 GB): it can never be loaded
whole. :class:`FilterReader` serves any ``[start, stop)`` from a window of ``chunk_size`` rows,
read with ``read_direct`` into one reused buffer, so peak memory is set by ``chunk_size`` (or by
the largest single request, i.e. the largest layer), not by the file.
"""

from __future__ import annotations

import h5py
import numpy as np


def round_to_float32(raw: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``raw`` (``(n, 9)`` or ``(n, 3, 3)``) as float32 columns ``(9, n)`` and how many
    values the rounding changed.

    Columns, because that is how parquet stores them; converting one column at a time is also
    the fastest transposing copy. The published v1.0.0 values are float32 checkpoint weights upcast
    to float64, so for them the count is 0 and the conversion is lossless. NaN stays NaN and is not
    counted as changed; a finite value beyond the float32 range becomes ±Inf and is counted.
    """
    flat = raw.reshape(-1, 9)
    columns = np.empty((9, len(flat)), dtype=np.float32)
    changed = 0
    with np.errstate(over="ignore"):  # overflow to ±Inf is counted, not warned per chunk
        for k in range(9):
            columns[k] = flat[:, k]
            if raw.dtype.itemsize > 4:
                changed += np.count_nonzero(columns[k] != flat[:, k])
    if changed:
        changed -= np.count_nonzero(np.isnan(columns))
    return columns, int(changed)


class FilterReader:
    """Sequential-friendly random access to a filters dataset, as float32 columns ``(9, n)``.

    ``values_rounded`` accumulates :func:`round_to_float32`'s count over everything read; the
    import reads every row exactly once, so after it the count covers the whole file.
    """

    def __init__(self, dataset: h5py.Dataset, chunk_size: int) -> None:
        self._dataset = dataset
        self._n_rows = dataset.shape[0]
        self._buffer = np.empty((min(chunk_size, self._n_rows), *dataset.shape[1:]), dataset.dtype)
        self._lo = self._hi = 0
        self.values_rounded = 0

    def _load(self, start: int) -> None:
        hi = min(start + len(self._buffer), self._n_rows)
        self._dataset.read_direct(self._buffer, np.s_[start:hi], np.s_[0 : hi - start])
        self._lo, self._hi = start, hi

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as new float32 columns ``(9, stop - start)``."""
        if stop - start > len(self._buffer):  # one layer larger than a window: read it alone
            raw = self._dataset[start:stop]
        else:
            if not (self._lo <= start and stop <= self._hi):
                self._load(start)
            raw = self._buffer[start - self._lo : stop - self._lo]
        rounded, changed = round_to_float32(raw)
        self.values_rounded += changed
        return rounded
