"""Compiled kernel of the import: rows to float32 columns, counting what the rounding changed and
the NaN and ±Inf values, in one pass.

The import touches every one of the ~13 billion published values, so each pass over them costs
seconds. numpy needs a strided copy per column plus a comparison per column (about as slow as the
copy) to convert and count; this kernel reads each value once, writes the transposed float32
value and counts in the same pass. ``nogil`` lets the import's worker threads convert in
parallel.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

#: Rows per tile: a tile's float64 input (72 KiB) and float32 output stay in the L2 cache while
#: the nine output rows are written one after the other.
TILE = 1024


class Converted(NamedTuple):
    """What one conversion counted: values the rounding changed, NaN and ±Inf (after it)."""

    changed: int
    nan: int
    inf: int


@njit(cache=True, nogil=True, error_model="numpy")
def _convert(flat, out, col):  # pragma: no cover - compiled; tested through the wrappers
    """``flat`` is ``(n * 9,)``, row-major filters. Column k of a tile is a stride-9 read and a
    contiguous write: the loop the compiler vectorises, where a row at a time (nine scattered
    writes per filter) ran twice as slowly."""
    n = flat.size // 9
    changed = nan = bad = 0
    for start in range(0, n, TILE):
        stop = min(start + TILE, n)
        for k in range(9):
            source = flat[start * 9 + k : stop * 9 : 9]
            target = out[k, col + start : col + stop]
            for i in range(stop - start):
                value = source[i]
                rounded = np.float32(value)
                target[i] = rounded
                changed += (np.float64(rounded) != value) & (value == value)
                bad += rounded - rounded != 0  # NaN - NaN and Inf - Inf are NaN
                nan += rounded != rounded
    return changed, nan, bad - nan


def convert_counted(rows: np.ndarray, out: np.ndarray, col: int) -> Converted:
    """Write ``rows`` (``(n, 9)`` or ``(n, 3, 3)``, C-contiguous) into ``out[:, col:col + n]``
    (float32 ``(9, m)``) and count what changed and the NaN and ±Inf values written.

    Round to nearest even, as numpy's ``astype(np.float32)``; a finite value beyond the float32
    range becomes ±Inf and counts as changed (and as Inf), NaN is not counted as changed. float16
    rows are widened first (numba has no float16 arithmetic; the widening is exact).
    """
    flat = np.ascontiguousarray(rows).reshape(-1)
    if flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)
    return Converted(*(int(count) for count in _convert(flat, out, col)))


def convert_rows(rows: np.ndarray, out: np.ndarray, col: int) -> int:
    """``convert_counted``, returning only how many values the rounding changed."""
    return convert_counted(rows, out, col).changed
