"""Write the statistics outputs (``results/stats/``) atomically and byte-reproducibly.

Rows are in a fixed order, floats are written as Python's shortest round-trip ``repr`` (no
precision lost, no locale), and the ``.npz`` archive gets fixed zip timestamps - so equal results
give equal files, and two runs can be compared with ``cmp``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from filterdb.atomic import atomic_path, write_text_atomic
from filterdb.db.frame_file import write_frame
from filterdb.stats.basis_file import basis_json
from filterdb.stats.files import (
    STATS_FILES,
    group_counts_key,
    group_labels_key,
    shift_file,
    shift_groups_file,
)
from filterdb.stats.runner import StatsResult

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def csv_text(frame: pd.DataFrame) -> str:
    """CSV with every float written as its shortest exact ``repr`` ("nan" for NaN)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = [repr(float(v)) for v in out[column]]
    return out.to_csv(index=False, lineterminator="\n")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    write_text_atomic(path, csv_text(frame))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez``-compatible archive whose bytes depend only on the arrays."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def shift_tables(result: StatsResult) -> dict[str, pd.DataFrame]:
    """File (relative to the statistics directory) -> table of every shift output."""
    tables: dict[str, pd.DataFrame] = {}
    upper = []
    for axis in result.shift:
        labels = axis.groups.labels
        count = len(labels)
        a, b = np.divmod(np.arange(count * count), max(count, 1))
        tidy = pd.DataFrame(
            {
                "group_a": [labels[i] for i in a],
                "group_b": [labels[j] for j in b],
                "D": axis.matrix.ravel(),
            }
        )
        tables[shift_file(axis.slug)] = tidy
        tables[shift_groups_file(axis.slug)] = pd.DataFrame(
            {"group": labels, "n_models": axis.groups.n_models, "n_filters": axis.groups.n_filters}
        )
        upper.append(tidy[a < b].assign(axis=axis.slug)[["axis", "group_a", "group_b", "D"]])
    tables[STATS_FILES["upper_triangle"]] = pd.concat(upper, ignore_index=True)
    return tables


def group_histogram_arrays(result: StatsResult) -> dict[str, np.ndarray]:
    """The arrays of ``group_histograms.npz``: what a checked model is compared against.

    ``edges`` are the 70-bin coefficient edges, ``all`` the ``(9, bins)`` counts of every finite
    filter, and per axis the ``(G, 9, bins)`` counts and labels of its groups, in the order of
    its D matrix. ``filterdb check`` bins a model's coefficients on the same edges, so its D to a
    group is computed exactly as the D between two groups.
    """
    bins = len(result.histogram_edges) - 1
    arrays = {"edges": result.histogram_edges, "all": result.coefficient_counts}
    for axis in result.shift:
        labels = axis.groups.labels
        arrays[group_counts_key(axis.slug)] = axis.groups.histograms.reshape(len(labels), 9, bins)
        arrays[group_labels_key(axis.slug)] = np.array(labels, dtype=np.str_)
    return arrays


def write_outputs(result: StatsResult, stats_dir: str | Path) -> list[Path]:
    """Write every output file into ``stats_dir`` (names from ``files``); return their paths."""
    stats_dir = Path(stats_dir)
    path = {name: stats_dir / file for name, file in STATS_FILES.items()}
    write_text_atomic(
        path["pca_basis"],
        basis_json(result.basis, result.n_nonfinite_filters, result.coef_min, result.coef_max),
    )
    written = [path["pca_basis"]]
    for name, table in shift_tables(result).items():
        write_csv(table, stats_dir / name)
        written.append(stats_dir / name)
    write_frame(result.layer_metrics, path["layer_metrics"])
    write_csv(result.model_summary, path["model_summary"])
    write_csv(result.degenerated_models, path["degenerated_models"])
    write_npz(path["density"], {"counts": result.density_counts, "edges": result.density_edges})
    write_npz(path["group_histograms"], group_histogram_arrays(result))
    write_csv(result.kde, path["kde"])
    write_csv(result.randomness, path["randomness"])
    written += [path[name] for name in STATS_FILES if name not in ("pca_basis", "upper_triangle")]
    return written
