"""Shared look and sizing of all figures, and how they are written to disk.

One place decides font sizes and cell sizes so that a figure stays legible both for the small
default zoo (a dozen models) and for the full zoo (600+ models, hundreds of groups): fonts shrink
with the number of labels down to a floor, and beyond that the figure grows instead, so labels
never overlap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import colorcet
import numpy as np
import pandas as pd
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from filterdb.atomic import atomic_path

#: Sequential colour map of the paper's shift matrices and densities (black → red → yellow → white).
SEQUENTIAL_CMAP: Colormap = colorcet.cm.fire
#: Diverging colour map for signed quantities (eigen-filters, covariances); centred on zero.
DIVERGING_CMAP: Colormap = colorcet.cm.coolwarm

#: Font size of tick labels when there are only a few of them.
MAX_LABEL_FONTSIZE = 10.0
#: Smallest font size still readable when the PNG is zoomed; below this the figure grows instead.
MIN_LABEL_FONTSIZE = 4.5
#: Vertical space one text line needs, as a multiple of its font size (glyph height + gap).
LINE_SPACING = 1.45
#: Average glyph width as a fraction of the font size (DejaVu Sans, mixed case).
GLYPH_WIDTH = 0.62
POINTS_PER_INCH = 72.0

#: Display names of the statistics' axis slugs; other slugs are title-cased.
AXIS_TITLES = {
    "task": "Task",
    "visual_category": "Visual Category",
    "conv_depth_decile": "Relative depth of conv layer",
    "network": "Network",
    "training_dataset": "Training Dataset",
}


def axis_title(slug: str) -> str:
    """Human-readable name of a shift axis slug such as ``visual_category``."""
    return AXIS_TITLES.get(slug, slug.replace("_", " ").strip().title())


def label_fontsize(n_labels: int) -> float:
    """Font size for ``n_labels`` tick labels along one axis: large for few, floored for many."""
    return float(np.clip(200.0 / max(n_labels, 1), MIN_LABEL_FONTSIZE, MAX_LABEL_FONTSIZE))


def line_inches(fontsize: float) -> float:
    """Height in inches that one label line of ``fontsize`` points needs without touching others."""
    return fontsize * LINE_SPACING / POINTS_PER_INCH


def text_inches(labels: Iterable[str], fontsize: float) -> float:
    """Estimated width in inches of the longest label (reserves margins; does not place text)."""
    longest = max((len(str(label)) for label in labels), default=0)
    return longest * GLYPH_WIDTH * fontsize / POINTS_PER_INCH


def group_label(name: str, n_models: int) -> str:
    """Tick label of a group: its name and how many models it pools, ``Detection (7 models)``."""
    return f"{name} ({n_models} model{'' if n_models == 1 else 's'})"


def save_figure(fig: Figure, paths: Sequence[str | os.PathLike[str]], dpi: int) -> None:
    """Write ``fig`` once per path, the format taken from each path's suffix, atomically.

    ``bbox_inches="tight"`` grows the canvas to include labels that stick out of the axes, so long
    group names are never clipped. PDF dates are dropped so reruns give identical files.
    """
    for path in paths:
        fmt = Path(path).suffix.lstrip(".").lower()
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)


def save_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write the numbers behind a figure as CSV, atomically (the report shows them as a table)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
