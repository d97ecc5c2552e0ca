"""Which group each model or layer belongs to on every distribution-shift axis.

Every axis is a partition of (model, depth-decile) cells: the metadata axes group whole models by
a manifest column, the depth axis groups layers by relative depth. Histograms are therefore
counted once per cell and summed into any axis's groups afterwards.

Models with an empty label on an axis are left out of that axis (an unknown Task is not a group
of its own). A layer whose ``conv_depth_norm`` is missing or outside [0, 1] has no decile and is
left out of the depth axis only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEPTH_AXIS = "conv_depth_decile"
DECILE_EDGES = np.array([i / 10 for i in range(11)])
DECILE_LABELS = ("[0.0, 0.1]",) + tuple(f"({i / 10:.1f}, {(i + 1) / 10:.1f}]" for i in range(1, 10))
NO_DECILE = -1
# The paper's axes, in its order; ``None`` marks the depth axis.
BASE_AXIS_COLUMNS = ("Task", "Visual Category", None, "Network", "Training-Dataset")
SEGMENTATION = "Segmentation"


@dataclass(frozen=True)
class Axis:
    """A shift axis: its file slug and the manifest column it groups by (None: depth deciles)."""

    slug: str
    column: str | None


def axis_slug(name: str) -> str:
    """File-name slug of an axis: lowercase, every non-alphanumeric character -> "_"."""
    return re.sub(r"[^a-z0-9]", "_", name.lower())


def shift_axes(extra_axes: Sequence[str] = ()) -> list[Axis]:
    """The paper's five axes followed by the configured extra manifest columns."""
    axes = [Axis(axis_slug(c) if c else DEPTH_AXIS, c) for c in BASE_AXIS_COLUMNS]
    axes += [Axis(axis_slug(c), c) for c in extra_axes]
    slugs = [a.slug for a in axes]
    duplicated = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicated:
        raise ValueError(f"statistics.extra_axes repeat an axis (slugs {', '.join(duplicated)})")
    return axes


def axis_slugs(extra_axes: Sequence[str] = ()) -> list[str]:
    """File slugs of all shift axes (for the workflow's explicit output list)."""
    return [a.slug for a in shift_axes(extra_axes)]


def depth_deciles(conv_depth_norm: np.ndarray) -> np.ndarray:
    """Decile index 0..9 of each relative depth, as ``pd.cut`` with ``include_lowest=True``.

    Bins are (k/10, (k+1)/10] with 0.0 itself in the first bin; missing or out-of-range depths
    get ``NO_DECILE``.
    """
    norm = np.asarray(conv_depth_norm, dtype=np.float64)
    idx = np.searchsorted(DECILE_EDGES, norm, side="left") - 1
    idx[norm == 0.0] = 0
    valid = (norm >= 0.0) & (norm <= 1.0)
    return np.where(valid, idx, NO_DECILE).astype(np.int64)


def model_labels(models: pd.DataFrame, column: str, merge_segmentation: bool) -> np.ndarray:
    """Each model's label on a metadata axis (stripped; "" when unknown).

    With ``merge_segmentation`` every Task containing "Segmentation" becomes "Segmentation", as
    in the paper's analysis.
    """
    labels = models[column].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    if merge_segmentation and column == "Task":
        labels = np.array([SEGMENTATION if SEGMENTATION in s else s for s in labels], dtype=object)
    return labels


@dataclass(frozen=True)
class AxisGroups:
    """The groups of one axis: labels in order, summed histograms, and sizes."""

    labels: list[str]
    histograms: np.ndarray  # (G, 9 * bins) int64
    n_models: np.ndarray
    n_filters: np.ndarray


def group_cells(
    cell_labels: np.ndarray,
    cell_models: np.ndarray,
    cell_histograms: np.ndarray,
    order: Sequence[str] | None = None,
) -> AxisGroups:
    """Sum cell histograms into groups of equal non-empty label.

    Groups are sorted by label unless ``order`` fixes it (the deciles); a group exists only if it
    holds at least one finite filter, so every group has a density.
    """
    filters = cell_histograms.sum(axis=1) // 9
    present = {str(s) for s in cell_labels[(cell_labels != "") & (filters > 0)]}
    labels = [s for s in order if s in present] if order is not None else sorted(present)
    hists = np.zeros((len(labels), cell_histograms.shape[1]), dtype=np.int64)
    n_models = np.zeros(len(labels), dtype=np.int64)
    for g, label in enumerate(labels):
        members = (cell_labels == label) & (filters > 0)
        hists[g] = cell_histograms[members].sum(axis=0)
        n_models[g] = len(np.unique(cell_models[members]))
    return AxisGroups(labels, hists, n_models, hists.sum(axis=1) // 9)


def analysed_models(
    models: pd.DataFrame, exclude: Sequence[tuple[str, str]], merge_segmentation: bool
) -> np.ndarray:
    """Which models (rows of ``models``) the PCA and shift analyses use: a boolean mask.

    A model is left out when its label on a condition's column equals the condition's value
    (labels as the shift axes see them, ``model_labels``). Untrained baselines are random
    filters: analysed together with trained ones they would pull the basis towards isotropy.
    Raises ``ValueError`` naming a column that ``models`` does not have.
    """
    keep = np.ones(len(models), dtype=bool)
    for column, value in exclude:
        if column not in models:
            raise ValueError(
                f"statistics.exclude names column {column!r}, which the database's models "
                f"table does not have (columns: {', '.join(map(str, models.columns))})"
            )
        keep &= model_labels(models, column, merge_segmentation) != value
    return keep
