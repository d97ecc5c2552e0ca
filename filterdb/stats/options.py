"""Settings of the statistics stage, validated once so every pass sees the same values.

The defaults and bounds are the ``statistics`` section of the config schema; this only types
them and checks what a schema cannot say (one bound against another).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from filterdb.config import section


@dataclass(frozen=True)
class StatsOptions:
    """The ``statistics`` config section.

    ``partition_rows`` bounds the filters one Dask task holds in memory (whole layers only, so a
    larger layer still forms a partition of its own); ``direct_reads`` reads them past the page
    cache (``partitions.read_layers``). ``kde_fine_bins`` is the resolution of the
    histograms the KDE curves are smoothed from. The ``randomness_*`` keys choose the filter-set
    sizes n (log-spaced, ``randomness_points`` values from ``randomness_min_n`` to
    ``randomness_max_n``), repeats and seed of the random-normal entropy curve. ``exclude`` holds
    the ``(column, value)`` conditions of the models kept out of the PCA and shift analyses.
    """

    bins: int
    partition_rows: int
    direct_reads: bool
    extra_axes: tuple[str, ...]
    exclude: tuple[tuple[str, str], ...]
    merge_segmentation_tasks: bool
    density_bins: int
    density_limit: float
    kde_grid_points: int
    kde_fine_bins: int
    randomness_min_n: int
    randomness_max_n: int
    randomness_points: int
    randomness_repeats: int
    randomness_seed: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None = None) -> StatsOptions:
        """Build from the config section over the schema's defaults; bad or unknown keys raise."""
        values = section("statistics", params)
        values["extra_axes"] = tuple(values["extra_axes"])
        values["exclude"] = tuple(parse_condition(text) for text in values["exclude"])
        if values["randomness_max_n"] < values["randomness_min_n"]:
            raise ValueError("statistics.randomness_max_n must be >= randomness_min_n")
        return cls(**values)

    def randomness_sizes(self) -> np.ndarray:
        """Filter-set sizes n of the randomness curve: log-spaced, distinct integers."""
        sizes = np.geomspace(self.randomness_min_n, self.randomness_max_n, self.randomness_points)
        return np.unique(np.round(sizes).astype(np.int64))


def parse_condition(text: str) -> tuple[str, str]:
    """``"column=value"`` as ``(column, value)``, both stripped; the first ``=`` splits.

    Raises ``ValueError`` when there is no ``=`` or no column name before it.
    """
    column, sep, value = str(text).partition("=")
    if not sep or not column.strip():
        raise ValueError(f"statistics.exclude: {text!r} is not a column=value condition")
    return column.strip(), value.strip()
