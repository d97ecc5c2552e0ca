"""Distribution-shift matrices: how far the filter distributions of two groups of models lie apart.

The statistics stage writes one tidy D matrix per grouping axis (``shift/<axis>.csv``) and the
group sizes (``shift/<axis>_groups.csv``). Here they are only reshaped, ordered and drawn: rows and
columns by ascending mean shift (so the most typical groups come first, as in the paper), except
for the depth axis whose natural order carries the meaning.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from filterdb.figures.style import (
    SEQUENTIAL_CMAP,
    axis_title,
    group_label,
    label_fontsize,
    line_inches,
    text_inches,
)

#: Axes whose groups have an order of their own (depth deciles) that sorting by D would destroy.
NATURAL_ORDER_AXES = frozenset({"conv_depth_decile"})
#: Smallest side of a matrix in inches, so a 2x2 matrix is not a postage stamp.
MIN_MATRIX_INCHES = 3.0
COLORBAR_LABEL = "distribution shift D"


@dataclass(frozen=True)
class ShiftMatrix:
    """One axis's square D matrix (rows/columns in plotting order) and each group's model count."""

    axis: str
    d: pd.DataFrame
    n_models: pd.Series

    @property
    def labels(self) -> list[str]:
        """Tick labels ``name (n models)`` in row order."""
        return [group_label(g, int(self.n_models[g])) for g in self.d.index]

    @property
    def mean_d(self) -> pd.Series:
        """Mean shift of each group to all others (row and column, diagonal excluded).

        Averaging both directions keeps the order meaningful if D is not symmetric.
        """
        n = len(self.d)
        if n < 2:
            return pd.Series(0.0, index=self.d.index)
        values = self.d.to_numpy(dtype=float)
        off = values.sum(axis=0) + values.sum(axis=1) - 2 * np.diag(values)
        return pd.Series(off / (2 * (n - 1)), index=self.d.index)


def read_shift_matrix(
    shift_csv: str | os.PathLike[str], groups_csv: str | os.PathLike[str], axis: str
) -> ShiftMatrix:
    """Read one axis's tidy D matrix and group sizes, ordered for plotting.

    Group names are read as text (a group called "NA" or "2012" stays a name). A matrix that misses
    a pair of the groups listed in the groups file is an error of the statistics stage, not
    something to paper over with blank cells.
    """
    tidy = pd.read_csv(shift_csv, dtype={"group_a": str, "group_b": str}, keep_default_na=False)
    groups = pd.read_csv(groups_csv, dtype={"group": str}, keep_default_na=False)
    names = groups["group"].tolist()
    d = tidy.pivot(index="group_a", columns="group_b", values="D").reindex(
        index=names, columns=names
    )
    if d.isna().to_numpy().any():
        missing = d.isna().stack()
        pair = missing[missing].index[0]
        raise ValueError(f"{shift_csv}: no D value for groups {pair!r} listed in {groups_csv}")
    d = d.astype(float)
    d.index.name = d.columns.name = None
    n_models = groups.set_index("group")["n_models"].astype(int)
    return order_groups(ShiftMatrix(axis=axis, d=d, n_models=n_models))


def _natural_key(name: str) -> tuple[float, str]:
    """Sort key of a depth-decile label like ``(0.1, 0.2]``: its lower bound."""
    match = re.search(r"-?\d+(?:\.\d+)?", name)
    return (float(match.group()) if match else float("inf"), name)


def order_groups(shift: ShiftMatrix) -> ShiftMatrix:
    """Order rows and columns: natural order for depth, else ascending mean D (ties by name)."""
    if shift.axis in NATURAL_ORDER_AXES:
        order = sorted(shift.d.index, key=_natural_key)
    else:
        mean_d = shift.mean_d
        order = sorted(shift.d.index, key=lambda g: (mean_d[g], g))
    return ShiftMatrix(shift.axis, shift.d.loc[order, order], shift.n_models)


def shift_table(shift: ShiftMatrix) -> pd.DataFrame:
    """The numbers behind a matrix figure: the D matrix in plotting order with sizes and mean D."""
    groups = group_order_table([shift]).drop(columns=["axis", "position"])
    return pd.concat([groups, shift.d.reset_index(drop=True)], axis=1)


def group_order_table(shifts: list[ShiftMatrix]) -> pd.DataFrame:
    """The numbers behind the combined figure: each panel's groups in order, sizes and mean D."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "axis": s.axis,
                    "position": range(len(s.d)),
                    "group": s.d.index,
                    "n_models": s.n_models.reindex(s.d.index).to_numpy(),
                    "mean_D": s.mean_d.to_numpy(),
                }
            )
            for s in shifts
        ],
        ignore_index=True,
    )


def _draw_matrix(ax, shift: ShiftMatrix, norm: Normalize, fontsize: float):
    """Draw one matrix with ``name (n models)`` ticks on both axes; return the image.

    An axis without groups (no model has a label on it) gets a note instead of a matrix.
    """
    ax.set_title(axis_title(shift.axis), fontsize=max(fontsize, 9) + 1)
    if shift.d.empty:
        ax.text(0.5, 0.5, "no groups", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return None
    image = ax.imshow(shift.d.to_numpy(), cmap=SEQUENTIAL_CMAP, norm=norm, interpolation="nearest")
    ticks = np.arange(len(shift.d))
    ax.set_xticks(ticks, shift.labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, shift.labels, fontsize=fontsize)
    ax.tick_params(length=2)
    return image


def _matrix_inches(n: int, fontsize: float) -> float:
    """Side of a matrix such that each row has room for one label line."""
    return max(n * line_inches(fontsize), MIN_MATRIX_INCHES)


def _norm(shifts: list[ShiftMatrix]) -> Normalize:
    """One colour scale from zero to the largest D of all panels, so panels compare by colour."""
    vmax = max((float(s.d.to_numpy().max()) for s in shifts if not s.d.empty), default=0.0)
    return Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)


def plot_shift_combined(shifts: list[ShiftMatrix]) -> Figure:
    """Draw matrices side by side on one shared colour scale with a single colour bar.

    Each panel's width is its own matrix plus room for its longest label, so neighbouring panels'
    labels cannot run into each other; constrained layout does the final placement.
    """
    fontsize = label_fontsize(max(len(s.d) for s in shifts))  # one size for all panels
    sides = [_matrix_inches(len(s.d), fontsize) for s in shifts]
    margins = [text_inches(s.labels, fontsize) + 0.3 for s in shifts]
    width = sum(sides) + sum(margins) + 1.2
    height = max(sides) + max(margins) + 0.8
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, len(shifts), squeeze=False, width_ratios=sides)[0]
    norm = _norm(shifts)
    images = [_draw_matrix(ax, s, norm, fontsize) for ax, s in zip(axes, shifts, strict=True)]
    drawn = [image for image in images if image is not None]
    if drawn:
        fig.colorbar(drawn[0], ax=list(axes), shrink=0.8, aspect=30, label=COLORBAR_LABEL)
    return fig


def plot_shift_matrix(shift: ShiftMatrix) -> Figure:
    """One axis's matrix on its own colour scale, titled with its group count and largest D."""
    fig = plot_shift_combined([shift])
    largest = f", max D = {shift.d.to_numpy().max():.3g}" if not shift.d.empty else ""
    fig.axes[0].set_title(f"{axis_title(shift.axis)}: {len(shift.d)} groups{largest}")
    return fig
