"""Settings of the statistics stage, validated once so every pass sees the same values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StatsOptions:
    """The ``statistics`` config section with its defaults.

    ``partition_rows`` bounds the filters one Dask task holds in memory (whole layers only, so a
    larger layer still forms a partition of its own). ``kde_fine_bins`` is the resolution of the
    histograms the KDE curves are smoothed from. The ``randomness_*`` keys choose the filter-set
    sizes n (log-spaced, ``randomness_points`` values from ``randomness_min_n`` to
    ``randomness_max_n``), repeats and seed of the random-normal entropy curve.
    """

    bins: int = 70
    partition_rows: int = 4_194_304
    extra_axes: tuple[str, ...] = ()
    merge_segmentation_tasks: bool = True
    density_bins: int = 512
    density_limit: float = 3.3
    kde_grid_points: int = 256
    kde_fine_bins: int = 2048
    randomness_min_n: int = 2
    randomness_max_n: int = 1 << 17
    randomness_points: int = 33
    randomness_repeats: int = 10
    randomness_seed: int = 0

    def __post_init__(self) -> None:
        minimums = {
            "bins": 2,
            "partition_rows": 1,
            "density_bins": 2,
            "kde_grid_points": 2,
            "kde_fine_bins": 2,
            "randomness_min_n": 2,
            "randomness_points": 1,
            "randomness_repeats": 1,
        }
        for name, minimum in minimums.items():
            if int(getattr(self, name)) < minimum:
                raise ValueError(f"statistics.{name} must be >= {minimum}")
        if not self.density_limit > 0:
            raise ValueError("statistics.density_limit must be > 0")
        if self.randomness_max_n < self.randomness_min_n:
            raise ValueError("statistics.randomness_max_n must be >= randomness_min_n")

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> StatsOptions:
        """Build from the config section; unknown keys are an error (a typo would be ignored)."""
        values = dict(params or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown statistics option(s): {', '.join(sorted(unknown))}")
        if "extra_axes" in values:
            values["extra_axes"] = tuple(values["extra_axes"] or ())
        return cls(**values)

    def randomness_sizes(self) -> np.ndarray:
        """Filter-set sizes n of the randomness curve: log-spaced, distinct integers."""
        sizes = np.geomspace(self.randomness_min_n, self.randomness_max_n, self.randomness_points)
        return np.unique(np.round(sizes).astype(np.int64))
