"""A built database as a reference: its PCA basis, histogram edges, groups and model ranking.

Everything comes from ``results/stats/`` (O(groups + models) numbers); no filter file is read,
so checking a model against a database of a billion filters costs as much as against a small one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterdb.db.schema import MODELS_FILE
from filterdb.stats.basis_file import read_basis
from filterdb.stats.files import (
    STATS_FILES,
    group_counts_key,
    group_labels_key,
    shift_groups_file,
)
from filterdb.stats.pca import PcaBasis

#: The axes a checked model is compared along, as ``filterdb check`` reports them.
CHECK_AXES = ("task", "visual_category")


class ReferenceInputError(ValueError):
    """A statistics or database directory that cannot serve as a reference (names the file)."""


@dataclass(frozen=True)
class AxisReference:
    """One axis's groups: labels, ``(G, 9, bins)`` counts and sizes, in its D matrix's order."""

    labels: list[str]
    counts: np.ndarray
    n_models: np.ndarray
    n_filters: np.ndarray


@dataclass(frozen=True)
class Reference:
    """What a model is compared against; see the module docstring."""

    stats_dir: Path
    basis: PcaBasis
    edges: np.ndarray
    all_counts: np.ndarray
    axes: dict[str, AxisReference]
    model_summary: pd.DataFrame


def _need(path: Path) -> Path:
    if not path.is_file():
        raise ReferenceInputError(
            f"{path}: not found (build the database and its statistics first, e.g. "
            "`snakemake --cores all`, and pass --db/--stats of that run)"
        )
    return path


def load_reference(
    stats_dir: str | os.PathLike[str],
    db_dir: str | os.PathLike[str] | None = None,
    axes: tuple[str, ...] = CHECK_AXES,
) -> Reference:
    """The reference in ``stats_dir``; with ``db_dir``, checked to describe that database.

    Raises ``ReferenceInputError`` naming the file that is missing, unreadable or inconsistent.
    """
    stats_dir = Path(stats_dir)
    try:
        basis = read_basis(_need(stats_dir / STATS_FILES["pca_basis"]))
        histograms = _need(stats_dir / STATS_FILES["group_histograms"])
        with np.load(histograms, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        summary_path = _need(stats_dir / STATS_FILES["model_summary"])
        summary = pd.read_csv(summary_path, keep_default_na=False, na_values=["nan"])
        sizes = {
            axis: pd.read_csv(
                _need(stats_dir / shift_groups_file(axis)),
                keep_default_na=False,
                dtype={"group": str},
            )
            for axis in axes
        }
    except ReferenceInputError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ReferenceInputError(f"{stats_dir}: unreadable statistics ({exc})") from exc
    edges = arrays.get("edges")
    if edges is None or edges.ndim != 1 or "all" not in arrays:
        raise ReferenceInputError(f"{histograms}: has no 'edges' or 'all' array")
    bins = len(edges) - 1
    result: dict[str, AxisReference] = {}
    for axis in axes:
        counts_key, labels_key = group_counts_key(axis), group_labels_key(axis)
        if counts_key not in arrays or labels_key not in arrays:
            raise ReferenceInputError(f"{histograms}: has no groups of the axis {axis!r}")
        labels = [str(label) for label in arrays[labels_key]]
        counts = arrays[counts_key]
        table = sizes[axis].set_index("group")
        if counts.shape != (len(labels), 9, bins) or list(table.index) != labels:
            raise ReferenceInputError(
                f"{histograms}: the {axis!r} groups disagree with {shift_groups_file(axis)}"
            )
        result[axis] = AxisReference(
            labels,
            counts,
            table["n_models"].to_numpy(np.int64),
            table["n_filters"].to_numpy(np.int64),
        )
    if db_dir is not None:
        _check_same_models(Path(db_dir), summary_path, summary)
    return Reference(stats_dir, basis, edges, arrays["all"], result, summary)


def _check_same_models(db_dir: Path, summary_path: Path, summary: pd.DataFrame) -> None:
    """The statistics were computed from ``db_dir``: the same models, in the same order."""
    models_path = _need(db_dir / MODELS_FILE)
    try:
        models = pd.read_parquet(models_path, columns=["model"])["model"].astype(str).tolist()
    except (OSError, ValueError, KeyError) as exc:
        raise ReferenceInputError(f"{models_path}: unreadable ({exc})") from exc
    if sorted(models) != sorted(summary["model"].astype(str)):
        raise ReferenceInputError(
            f"{summary_path} does not describe the models of {models_path}: rebuild the "
            "statistics of that database, or pass the --stats of the same run"
        )
