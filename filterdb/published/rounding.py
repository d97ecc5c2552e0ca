"""Compiled kernels of the import: float64 rows to float32 columns, NaN and ±Inf per layer.

The import touches every one of the ~13 billion published values, so each pass over them costs
seconds. numpy needs a strided copy per column plus a comparison per column (about as slow as the
copy) to convert and count; these kernels read each row once, write the transposed float32 value
and count in the same pass. ``nogil`` lets the import's worker threads convert in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _convert_rows(rows, out, col):  # pragma: no cover - compiled; tested through the wrappers
    changed = 0
    for i in range(rows.shape[0]):
        for k in range(9):
            value = rows[i, k]
            rounded = np.float32(value)
            out[k, col + i] = rounded
            if rounded != value and value == value:  # NaN stays NaN: not a change
                changed += 1
    return changed


def convert_rows(rows: np.ndarray, out: np.ndarray, col: int) -> int:
    """Write ``rows`` (``(n, 9)`` or ``(n, 3, 3)``) into ``out[:, col:col + n]`` (float32
    ``(9, m)``) and return how many values the rounding changed.

    Round to nearest even, as numpy's ``astype(np.float32)``; a finite value beyond the float32
    range becomes ±Inf and is counted, NaN is not counted. float16 rows are widened first (numba
    has no float16 arithmetic; the widening is exact).
    """
    flat = rows.reshape(-1, 9)
    if flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)
    return int(_convert_rows(flat, out, col))


@njit(cache=True, nogil=True)
def _nan_inf_counts(columns, bounds):  # pragma: no cover - compiled; tested through the wrapper
    n_nan = np.zeros(len(bounds) - 1, dtype=np.int64)
    n_inf = np.zeros(len(bounds) - 1, dtype=np.int64)
    for j in range(len(bounds) - 1):
        for k in range(columns.shape[0]):
            for i in range(bounds[j], bounds[j + 1]):
                value = columns[k, i]
                if np.isnan(value):
                    n_nan[j] += 1
                elif np.isinf(value):
                    n_inf[j] += 1
    return n_nan, n_inf


def nan_inf_counts(columns: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN and ±Inf values of each layer ``columns[:, bounds[j]:bounds[j + 1]]`` (int64 each)."""
    return _nan_inf_counts(columns, np.asarray(bounds, dtype=np.int64))
