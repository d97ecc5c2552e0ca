"""What a check returns: the layer table, a summary, and the comparison with a database."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Layer-table columns in the order the command line prints them.
TABLE_COLUMNS = (
    "layer_name",
    "shape",
    "n_filters",
    "sparsity",
    "variance_entropy",
    "randomness_threshold",
    "orthogonality",
    "degenerated",
    "reason",
)


@dataclass(frozen=True)
class CheckResult:
    """One checked model: ``layers`` (a DataFrame) plus ``summary`` (a dict).

    ``layers`` has a row per 3x3 conv layer with the statistics stage's ``layer_metrics``
    columns, the layer's name, shape, and the degeneration reason. ``summary`` holds the model's
    ``model_summary`` row. With a database, ``rank`` places the degenerated share among its
    models, ``groups`` lists D to every Task and Visual Category group (closest first),
    ``counts`` are the model's ``(9, bins)`` coefficient counts on the database's histogram
    ``edges`` (``outside`` values fell beyond them), and ``database_counts`` the database's.
    """

    name: str
    path: str
    format: str
    depth_method: str
    layers: pd.DataFrame
    summary: dict[str, Any]
    skipped: dict[str, int] = field(default_factory=dict)
    rank: dict[str, Any] | None = None
    groups: pd.DataFrame | None = None
    counts: np.ndarray | None = None
    outside: int = 0
    edges: np.ndarray | None = None
    database_counts: np.ndarray | None = None

    def verdict(self) -> str:
        """One line: the degenerated share (filter-weighted) and, with a database, its rank."""
        s = self.summary
        if not s["n_layers"]:
            return f"{self.name}: no 3x3 conv layer, nothing to measure"
        line = (
            f"{self.name}: {s['n_degenerated_layers']} of {s['n_layers']} 3x3 layers "
            f"degenerated, {100 * s['degenerated_share']:.1f}% of {s['n_filters']:,} filters"
        )
        if self.rank and self.rank["of"]:
            line += (
                f"; ranks {self.rank['rank']} of the database's {self.rank['of']} models by "
                f"degenerated share (1 = most degenerated; {self.rank['less_degenerated']} have "
                "a smaller share)"
            )
        return line

    def closest(self, per_axis: int = 3) -> pd.DataFrame | None:
        """The ``per_axis`` closest groups of every axis (all of them with ``per_axis`` 0)."""
        if self.groups is None:
            return None
        if per_axis <= 0:
            return self.groups
        return self.groups.groupby("axis", sort=False).head(per_axis).reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (NaN as null), which ``filterdb check --json`` prints."""
        document = {
            "model": self.name,
            "path": self.path,
            "format": self.format,
            "depth_method": self.depth_method,
            "verdict": self.verdict(),
            "summary": self.summary,
            "skipped_layers": self.skipped,
            "layers": self.layers.to_dict(orient="records"),
            "rank": self.rank,
            "groups": None if self.groups is None else self.groups.to_dict(orient="records"),
            "coefficients_outside_database_range": self.outside
            if self.counts is not None
            else None,
        }
        return _plain(document)


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python ones and NaN/inf as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
