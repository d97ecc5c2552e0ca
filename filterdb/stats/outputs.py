"""Write the statistics outputs (``results/stats/``) atomically and byte-reproducibly.

Rows are in a fixed order, floats are written as Python's shortest round-trip ``repr`` (no
precision lost, no locale), and the ``.npz`` archive gets fixed zip timestamps - so equal results
give equal files, and two runs can be compared with ``cmp``.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterdb.atomic import atomic_path, write_text_atomic
from filterdb.stats.runner import StatsResult
from filterdb.tables import write_frame

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class OutputPaths:
    """Where each output goes; ``shift_dir`` receives the per-axis files and upper_triangle.csv."""

    pca_basis: Path
    shift_dir: Path
    layer_metrics: Path
    model_summary: Path
    degenerated_models: Path
    density: Path
    kde: Path
    randomness: Path

    @classmethod
    def in_directory(cls, stats_dir: str | Path) -> OutputPaths:
        """The contract's file names inside ``stats_dir``."""
        d = Path(stats_dir)
        return cls(
            pca_basis=d / "pca_basis.json",
            shift_dir=d / "shift",
            layer_metrics=d / "layer_metrics.parquet",
            model_summary=d / "model_summary.csv",
            degenerated_models=d / "degenerated_models.csv",
            density=d / "density_c0_c1.npz",
            kde=d / "kde_visual_category.csv",
            randomness=d / "randomness_threshold.csv",
        )


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


def pca_json(result: StatsResult) -> str:
    basis = result.basis
    document = {
        "n_filters": int(basis.n_filters),
        "n_nonfinite_filters": int(result.n_nonfinite_filters),
        "mean": basis.mean.tolist(),
        "components": basis.components.tolist(),
        "explained_variance": basis.explained_variance.tolist(),
        "explained_variance_ratio": basis.explained_variance_ratio.tolist(),
        "covariance": basis.covariance.tolist(),
        "coef_min": result.coef_min,
        "coef_max": result.coef_max,
    }
    return json.dumps(document, indent=2) + "\n"


def shift_tables(result: StatsResult) -> dict[str, pd.DataFrame]:
    """File name -> table of every shift output (per-axis D, group sizes, upper triangle)."""
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
        tables[f"{axis.slug}.csv"] = tidy
        tables[f"{axis.slug}_groups.csv"] = pd.DataFrame(
            {"group": labels, "n_models": axis.groups.n_models, "n_filters": axis.groups.n_filters}
        )
        upper.append(tidy[a < b].assign(axis=axis.slug)[["axis", "group_a", "group_b", "D"]])
    tables["upper_triangle.csv"] = pd.concat(upper, ignore_index=True)
    return tables


def write_outputs(result: StatsResult, paths: OutputPaths) -> list[Path]:
    """Write every output file; returns the paths written."""
    written = []
    write_text_atomic(paths.pca_basis, pca_json(result))
    written.append(paths.pca_basis)
    for name, table in shift_tables(result).items():
        write_csv(table, paths.shift_dir / name)
        written.append(paths.shift_dir / name)
    write_frame(result.layer_metrics, paths.layer_metrics)
    write_csv(result.model_summary, paths.model_summary)
    write_csv(result.degenerated_models, paths.degenerated_models)
    write_npz(paths.density, {"counts": result.density_counts, "edges": result.density_edges})
    write_csv(result.kde, paths.kde)
    write_csv(result.randomness, paths.randomness)
    written += [
        paths.layer_metrics,
        paths.model_summary,
        paths.degenerated_models,
        paths.density,
        paths.kde,
        paths.randomness,
    ]
    return written
