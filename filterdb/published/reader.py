"""Read the published filters in bounded windows and round them to float32.

The published v1.0.0 file holds ~1.4 billion float64 filters (~100 GB): it can never be loaded
whole. :class:`FilterReader` serves any ``[start, stop)`` through a window of ``chunk_size`` rows,
one window in memory at a time, so peak memory is set by ``chunk_size`` and the float32 result,
not by the file. A request that runs past the window is finished from the next window rather than
re-read from its start, so a sequential pass reads every row exactly once.

A window of a plain contiguous dataset (how h5py writes one, and the published files are) is read
as bytes straight from the file at the offset HDF5 reports, past the page cache
(``direct_io.DirectReader``): each byte is read once, and caching them cost more CPU than the
conversion. Any other layout - chunked, compressed, compact, external - goes through h5py's
``read_direct``; both give the same rows.
"""

from __future__ import annotations

import h5py
import numpy as np

from filterdb.direct_io import DirectReader
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


def _raw_file(dataset: h5py.Dataset) -> tuple[DirectReader, int] | None:
    """A reader of the dataset's bytes and their offset in its file, when the dataset is stored
    as one contiguous, unfiltered, fully written run of native rows there (else None)."""
    layout = dataset.id.get_create_plist().get_layout()
    if layout != h5py.h5d.CONTIGUOUS or dataset.file.driver != "sec2" or dataset.external:
        return None
    offset = dataset.id.get_offset()
    # an unwritten dataset has no offset (or, in a file with a user block, a wrong one) and
    # stores fewer bytes than its shape holds
    if offset is None or dataset.id.get_storage_size() != dataset.nbytes:
        return None
    if offset % dataset.dtype.itemsize or not dataset.dtype.isnative:
        return None  # rows the compiled conversion cannot take as they lie in the file
    return DirectReader(dataset.file.filename), offset


class FilterReader:
    """Sequential-friendly random access to a filters dataset, as float32 columns ``(9, n)``.

    ``values_rounded``, ``n_nan`` and ``n_inf`` accumulate ``rounding.convert_counted``'s counts
    over everything read: the import reads every row exactly once, so after it they cover the
    whole file, and their growth over one read is what that read held.
    """

    def __init__(self, dataset: h5py.Dataset, chunk_size: int) -> None:
        self._dataset = dataset
        self._n_rows = dataset.shape[0]
        self._rows = min(chunk_size, self._n_rows)
        self._raw = _raw_file(dataset)
        if self._raw is None:
            self._window = np.empty((self._rows, *dataset.shape[1:]), dataset.dtype)
        self._lo = self._hi = 0
        self._window_end = self._n_rows
        self.values_rounded = self.n_nan = self.n_inf = 0

    def end_windows_at(self, stop: int) -> None:
        """Load no row at or past ``stop`` from now on (``stop`` is clipped to the dataset).

        For a reader that serves one part of the file while other readers serve the rest: a
        window reaching past its part would read rows that only another reader uses.
        """
        self._window_end = min(stop, self._n_rows)

    @property
    def direct(self) -> bool:
        """Whether windows are read past the page cache (``_raw_file``, ``O_DIRECT``)."""
        return self._raw is not None and self._raw[0].direct

    def close(self) -> None:
        """Close the file the windows are read from, when it is not h5py's."""
        if self._raw is not None:
            self._raw[0].close()

    def _load(self, start: int) -> None:
        hi = min(start + self._rows, self._window_end)
        if self._raw is None:
            self._dataset.read_direct(self._window, np.s_[start:hi], np.s_[0 : hi - start])
        else:
            file, offset = self._raw
            row_bytes = self._dataset.nbytes // self._n_rows
            data = file.read_at(offset + start * row_bytes, (hi - start) * row_bytes)
            shape = (hi - start, *self._dataset.shape[1:])
            self._window = np.frombuffer(data, self._dataset.dtype).reshape(shape)
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
            rows = self._window[at - self._lo : upto - self._lo]
            converted = convert_counted(rows, out, column + at - start)
            self.values_rounded += converted.changed
            self.n_nan += converted.nan
            self.n_inf += converted.inf
            at = upto
        return out[:, column : column + stop - start]
