"""Read the published filters in bounded windows and round them to float32.

The published v1.0.0 file holds ~1.4 billion float64 filters (~100 GB): it can never be loaded
whole. :class:`FilterReader` serves any ``[start, stop)`` through a window of ``chunk_size`` rows,
read with ``read_direct`` into one reused buffer, so peak memory is set by ``chunk_size`` and the
float32 result, not by the file. A request that runs past the window is finished from the next
window rather than re-read from its start, so a sequential pass reads every row exactly once.
"""

from __future__ import annotations

import h5py
import numpy as np

from filterdb.published.rounding import convert_counted, convert_rows


def round_to_float32(raw: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``raw`` (``(n, 9)`` or ``(n, 3, 3)``) as float32 columns ``(9, n)`` and how many
    values the rounding changed.

    Columns, because that is how parquet stores them. The published v1.0.0 values are float32
    checkpoint weights upcast to float64, so for them the count is 0 and the conversion is
    lossless. NaN stays NaN and is not counted as changed; a finite value beyond the float32 range
    becomes ±Inf and is counted.
    """
    columns = np.empty((9, len(raw)), dtype=np.float32)
    return columns, convert_rows(raw, columns, 0)


class FilterReader:
    """Sequential-friendly random access to a filters dataset, as float32 columns ``(9, n)``.

    ``values_rounded``, ``n_nan`` and ``n_inf`` accumulate ``rounding.convert_counted``'s counts
    over everything read: the import reads every row exactly once, so after it they cover the
    whole file, and their growth over one read is what that read held.
    """

    def __init__(self, dataset: h5py.Dataset, chunk_size: int) -> None:
        self._dataset = dataset
        self._n_rows = dataset.shape[0]
        self._buffer = np.empty((min(chunk_size, self._n_rows), *dataset.shape[1:]), dataset.dtype)
        self._lo = self._hi = 0
        self._window_end = self._n_rows
        self.values_rounded = self.n_nan = self.n_inf = 0

    def end_windows_at(self, stop: int) -> None:
        """Load no row at or past ``stop`` from now on (``stop`` is clipped to the dataset).

        For a reader that serves one part of the file while other readers serve the rest: a
        window reaching past its part would read rows that only another reader uses.
        """
        self._window_end = min(stop, self._n_rows)

    def _load(self, start: int) -> None:
        hi = min(start + len(self._buffer), self._window_end)
        self._dataset.read_direct(self._buffer, np.s_[start:hi], np.s_[0 : hi - start])
        self._lo, self._hi = start, hi

    def read(
        self, start: int, stop: int, out: np.ndarray | None = None, column: int = 0
    ) -> np.ndarray:
        """Rows ``[start, stop)`` as float32 columns ``(9, stop - start)``: a new array, or
        ``out[:, column:column + stop - start]`` of a C-contiguous float32 ``(9, m)`` buffer the
        caller reuses (fresh pages for every row group cost the import more than the copy into
        them; the kernel is handed the whole buffer, whose rows it knows to be contiguous)."""
        if not 0 <= start <= stop <= self._window_end:
            raise ValueError(f"rows {start}:{stop} are not within the first {self._window_end}")
        if out is None:
            out, column = np.empty((9, stop - start), dtype=np.float32), 0
        at = start
        while at < stop:
            if not (self._lo <= at < self._hi):
                self._load(at)
            upto = min(stop, self._hi)
            rows = self._buffer[at - self._lo : upto - self._lo]
            converted = convert_counted(rows, out, column + at - start)
            self.values_rounded += converted.changed
            self.n_nan += converted.nan
            self.n_inf += converted.inf
            at = upto
        return out[:, column : column + stop - start]
