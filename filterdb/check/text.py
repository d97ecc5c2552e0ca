"""The terminal form of a check: the layer table, the verdict, the closest groups."""

from __future__ import annotations

import pandas as pd

from filterdb.check.result import TABLE_COLUMNS, CheckResult
from filterdb.figures.style import axis_title

_HEADERS = {
    "layer_name": "layer",
    "shape": "shape",
    "n_filters": "n",
    "sparsity": "sparsity",
    "variance_entropy": "var.entropy",
    "randomness_threshold": "TH(n)",
    "orthogonality": "orthogonality",
    "degenerated": "degenerated",
    "reason": "reason",
}


def _number(value: float) -> str:
    return "nan" if pd.isna(value) else f"{value:.4f}"


def layer_table(result: CheckResult) -> str:
    """The per-layer table, one line per 3x3 layer, numbers to 4 decimals."""
    table = result.layers[list(TABLE_COLUMNS)].rename(columns=_HEADERS)
    formatters = {
        "sparsity": _number,
        "var.entropy": _number,
        "TH(n)": _number,
        "orthogonality": _number,
        "degenerated": lambda flag: "yes" if flag else "no",
        "n": lambda n: f"{n:,}",
    }
    text = table.to_string(index=False, formatters=formatters)
    return "\n".join(line.rstrip() for line in text.splitlines())


def groups_text(result: CheckResult, per_axis: int) -> str:
    """The closest groups of every axis, with D and the group's size."""
    closest = result.closest(per_axis)
    if closest is None or not result.summary["n_layers"]:
        return ""
    if closest.empty:
        return "no coefficient of the model lies inside the database's range: no D to report"
    lines = []
    for axis, rows in closest.groupby("axis", sort=False):
        lines.append(f"closest {axis_title(str(axis))} groups (D, lower is closer):")
        for row in rows.itertuples():
            models = f"{row.n_models} model{'' if row.n_models == 1 else 's'}"
            lines.append(f"  {row.D:10.4f}  {row.group} ({models}, {row.n_filters:,} filters)")
    if result.outside:
        lines.append(
            f"{result.outside:,} coefficient values lie outside the database's range "
            "and are not counted in D"
        )
    return "\n".join(lines)


def render(result: CheckResult, per_axis: int = 3) -> str:
    """Everything ``filterdb check`` prints, without ``--json``."""
    parts = [f"{result.path} ({result.format}, depth from {result.depth_method})"]
    if len(result.layers):
        parts.append(layer_table(result))
    if result.skipped:
        skipped = "; ".join(f"{reason}: {n}" for reason, n in sorted(result.skipped.items()))
        parts.append(f"skipped conv layers: {skipped}")
    parts.append(result.verdict())
    groups = groups_text(result, per_axis)
    if groups:
        parts.append(groups)
    return "\n\n".join(parts) + "\n"
