"""Filter id ranges: the published ``"start:end"`` strings (END INCLUSIVE) and their validation.

Filter id ``i`` is row ``i`` of the ``filters`` dataset, and every layer claims one range of ids.
If the ranges do not tile ``[0, n_rows)`` exactly, some filters would be attributed to the wrong
layer or to none, silently skewing every statistic; so a gap, an overlap or an id beyond the
dataset stops the import (and the export) with a message naming the file, the model and the range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from filterdb.errors import ModelError

_RANGE_RE = r"^\s*(\d+)\s*:\s*(-?\d+)\s*$"


def parse_filter_ids(
    values: Sequence[object], models: Sequence[str], where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(start, stop)`` int64 arrays (``stop`` exclusive) for ``"start:end"`` strings.

    The published end is inclusive (the original notebook does ``np.arange(start, 1 + end)``),
    so ``stop = end + 1``. ``models[i]`` names the model of ``values[i]`` in error messages.
    """
    text = pd.Series(list(values), dtype=object).astype(str)
    parts = text.str.extract(_RANGE_RE)
    bad = parts[0].isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ModelError(models[i], where, f"filter_ids {text.iloc[i]!r} is not 'start:end'")
    start = parts[0].astype("int64").to_numpy()
    stop = parts[1].astype("int64").to_numpy() + 1
    empty = stop <= start
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise ModelError(
            models[i], where, f"filter_ids {text.iloc[i]!r} ends before it starts (no filters)"
        )
    return start, stop


def format_filter_ids(start: np.ndarray, n_filters: np.ndarray) -> list[str]:
    """Published ``"start:end"`` strings (end inclusive) for ranges of ``n_filters`` ids."""
    return [f"{s}:{s + n - 1}" for s, n in zip(start.tolist(), n_filters.tolist(), strict=True)]


def _range(start: int, stop: int) -> str:
    return f"{start}:{stop - 1}"


def check_tiling(
    start: np.ndarray, stop: np.ndarray, models: Sequence[str], n_rows: int, where: str
) -> None:
    """Raise ``ModelError`` unless the ranges ``[start, stop)`` cover ``[0, n_rows)`` exactly once.

    Checked in this order, so a truncated ``filters`` dataset is reported as such and not as a
    gap: ids beyond the dataset, overlaps, then ids claimed by no layer (gaps, also at either end).
    """
    start = np.asarray(start, dtype=np.int64)
    stop = np.asarray(stop, dtype=np.int64)
    beyond = np.flatnonzero(stop > n_rows)
    if beyond.size:
        i = int(beyond[np.argmax(stop[beyond])])
        raise ModelError(
            models[i],
            where,
            f"filter_ids {_range(start[i], stop[i])} reach beyond the {n_rows} filters stored "
            f"(ids 0:{n_rows - 1}); the filters dataset is truncated or the meta is wrong",
        )
    order = np.lexsort((stop, start))
    s, e = start[order], stop[order]
    if s.size == 0:
        if n_rows:
            raise ValueError(f"{where}: no layer claims the {n_rows} filters (ids 0:{n_rows - 1})")
        return
    reach = np.maximum.accumulate(e)  # furthest id covered by ranges up to and including i
    overlap = np.flatnonzero(s[1:] < reach[:-1])
    if overlap.size:
        j = int(overlap[0]) + 1
        k = int(np.flatnonzero(e[:j] > s[j])[-1])  # an earlier range that reaches into range j
        a, b = order[k], order[j]
        raise ModelError(
            models[b],
            where,
            f"filter_ids {_range(s[j], e[j])} overlap filter_ids {_range(s[k], e[k])} "
            f"of model {models[a]!r}",
        )
    if s[0] > 0:
        raise ModelError(
            models[order[0]],
            where,
            f"filter ids {_range(0, s[0])} before this model's filter_ids "
            f"{_range(s[0], e[0])} belong to no layer (gap)",
        )
    gap = np.flatnonzero(s[1:] > e[:-1])
    if gap.size:
        j = int(gap[0]) + 1
        a, b = order[j - 1], order[j]
        raise ModelError(
            models[b],
            where,
            f"filter ids {_range(e[j - 1], s[j])} between filter_ids {_range(s[j - 1], e[j - 1])} "
            f"of model {models[a]!r} and this model's filter_ids {_range(s[j], e[j])} belong to "
            "no layer (gap)",
        )
    if e[-1] < n_rows:
        raise ModelError(
            models[order[-1]],
            where,
            f"filter ids {_range(e[-1], n_rows)} after this model's filter_ids "
            f"{_range(s[-1], e[-1])} belong to no layer (gap; the file stores {n_rows} filters)",
        )
