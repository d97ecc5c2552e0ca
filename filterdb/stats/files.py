"""The file names of ``results/stats/``, defined once for the rule's outputs, the writer and the
figure rules' inputs (README "Statistics")."""

from __future__ import annotations

from collections.abc import Sequence

SHIFT_DIR = "shift"
#: Output name -> file, relative to the statistics directory (one file each).
STATS_FILES = {
    "pca_basis": "pca_basis.json",
    "upper_triangle": f"{SHIFT_DIR}/upper_triangle.csv",
    "group_histograms": f"{SHIFT_DIR}/group_histograms.npz",
    "layer_metrics": "layer_metrics.parquet",
    "model_summary": "model_summary.csv",
    "degenerated_models": "degenerated_models.csv",
    "density": "density_c0_c1.npz",
    "kde": "kde_visual_category.csv",
    "randomness": "randomness_threshold.csv",
}


def shift_file(axis: str) -> str:
    """The D matrix of one axis (tidy ``group_a, group_b, D``)."""
    return f"{SHIFT_DIR}/{axis}.csv"


def shift_groups_file(axis: str) -> str:
    """The group sizes of one axis (``group, n_models, n_filters``)."""
    return f"{SHIFT_DIR}/{axis}_groups.csv"


def all_stats_files(axes: Sequence[str]) -> list[str]:
    """Every file the statistics stage writes for the shift axes ``axes``."""
    return [
        *STATS_FILES.values(),
        *(shift_file(a) for a in axes),
        *(shift_groups_file(a) for a in axes),
    ]


def group_counts_key(axis: str) -> str:
    """Array name, in ``group_histograms.npz``, of one axis's ``(G, 9, bins)`` group counts."""
    return f"{axis}_counts"


def group_labels_key(axis: str) -> str:
    """Array name, in ``group_histograms.npz``, of one axis's group labels (as the D files)."""
    return f"{axis}_labels"
