"""Every figure the workflow draws, defined once for the rules, the report and the tests.

A figure ``<name>`` is written as ``<figures dir>/<name>.<format>`` for each configured format,
plus ``<name>.csv``, the numbers behind it. The report shows the first format and the CSV under
the figure's caption (``rules/report/<caption>.rst``), grouped by category and subcategory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The placeholder in the name of a figure drawn once per shift axis.
AXIS = "{axis}"
#: The paper's three-panel shift figure shows these axes, in this order.
COMBINED_SHIFT_AXES = ("task", "visual_category", "conv_depth_decile")


@dataclass(frozen=True)
class FigureEntry:
    """One figure: its name (``{axis}`` for one per shift axis) and its place in the report."""

    name: str
    category: str
    subcategory: str
    caption: str

    @property
    def key(self) -> str:
        """The figure's output name in its rule: the name without the axis placeholder."""
        return self.name.replace(f"_{AXIS}", "")

    def names(self, axes: Sequence[str]) -> list[str]:
        """The figure's file stems: one per axis for a per-axis figure, else its name."""
        return [self.name.format(axis=a) for a in axes] if AXIS in self.name else [self.name]


FIGURES = {
    entry.name: entry
    for entry in (
        FigureEntry("shift_{axis}", "Distribution shifts", "Per axis", "shift_matrix"),
        FigureEntry("shift_combined", "Distribution shifts", "Overview", "shift_combined"),
        FigureEntry("drift_boxplot", "Distribution shifts", "Overview", "drift_boxplot"),
        FigureEntry("pca_components", "PCA", "Basis", "pca_components"),
        FigureEntry("pca_evr", "PCA", "Basis", "pca_evr"),
        FigureEntry("pca_covariance", "PCA", "Covariance", "pca_covariance"),
        FigureEntry("ridge_kde", "Densities", "Coefficients per Visual Category", "ridge_kde"),
        FigureEntry("density_c0_c1", "Densities", "c0/c1 plane", "density_c0_c1"),
        FigureEntry("degeneration_depth", "Degeneration", "By depth", "degeneration_depth"),
        FigureEntry(
            "randomness_threshold",
            "Degeneration",
            "Randomness threshold",
            "randomness_threshold",
        ),
        FigureEntry(
            "degenerated_models_top",
            "Degeneration",
            "Most degenerated models",
            "degenerated_models_top",
        ),
    )
}


def figure_names(axes: Sequence[str]) -> list[str]:
    """Every figure's file stem, per-axis figures expanded over ``axes``."""
    return [name for entry in FIGURES.values() for name in entry.names(axes)]


def figure_files(figures_dir: str, axes: Sequence[str], formats: Sequence[str]) -> list[str]:
    """Every file the figure rules write: each figure in each format, and its CSV."""
    return [
        f"{figures_dir}/{name}.{ext}" for name in figure_names(axes) for ext in [*formats, "csv"]
    ]
