"""Write ``results/db/`` as a published v1.0.0 CNN Filter DB file.

The result loads with the original notebook's code: ``h5py.File(path)["filters"][...]`` gives
the ``(N, 3, 3)`` filters (float64 like v1.0.0 unless another ``dtype`` is asked for) and
``pd.read_hdf(path, "meta")`` the per-layer meta table. Filters stream one row group at a time
from the per-model parquet files into a preallocated HDF5 dataset, so memory stays bounded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

from filterdb.atomic import atomic_path
from filterdb.db.filter_file import iter_row_groups
from filterdb.db.schema import LAYERS_FILE, MODELS_FILE, filter_path
from filterdb.errors import ModelError
from filterdb.progress import progress_bar
from filterdb.published.layout import FILTER_DTYPES
from filterdb.published.meta_export import to_published_meta
from filterdb.published.ranges import check_tiling

log = logging.getLogger(__name__)


def _copy_model(path: Path, layers: pd.DataFrame, dataset: h5py.Dataset, progress: tqdm) -> None:
    """Copy one model's filter file into ``dataset`` at its layers' filter ids.

    Each row group's ``layer`` column must match what ``layers.parquet`` says, row for row, so
    a filter file out of step with the tables is refused rather than written under wrong ids.
    """
    model = str(layers["model"].iloc[0])
    sizes = layers["n_filters"].to_numpy()
    layer_index = layers["layer"].to_numpy()
    file_start = np.r_[0, np.cumsum(sizes)]  # first row of each layer within the model's file
    if not path.exists():
        raise ModelError(model, str(path), "filter file is missing")
    n_rows = pq.ParquetFile(str(path)).metadata.num_rows
    if n_rows != file_start[-1]:
        raise ModelError(
            model, str(path), f"has {n_rows} filters but layers.parquet gives {file_start[-1]}"
        )
    filter_start = layers["filter_start"].to_numpy()
    row = 0
    for layer, weights in iter_row_groups(path):
        first = int(np.searchsorted(file_start, row, side="right")) - 1
        last = int(np.searchsorted(file_start, row + len(layer), side="left"))
        expected = np.repeat(layer_index[first:last], sizes[first:last])
        expected = expected[row - file_start[first] :][: len(layer)]
        if not np.array_equal(layer, expected):
            raise ModelError(
                model, str(path), f"rows {row}:{row + len(layer)} do not match layers.parquet"
            )
        block = weights.astype(dataset.dtype, copy=False).reshape(-1, 3, 3)
        for a, b, dest in _runs(file_start, filter_start, first, last, row, len(layer)):
            dataset[dest : dest + (b - a)] = block[a:b]
        row += len(layer)
        progress.update(len(layer))


def _runs(
    file_start: np.ndarray, filter_start: np.ndarray, first: int, last: int, row: int, n: int
) -> list[tuple[int, int, int]]:
    """Where one row group's rows go: ``(a, b, dest)`` sends rows ``[a, b)`` to ids ``dest..``.

    The row group starts at file row ``row`` and holds ``n`` rows of layers ``first..last-1``;
    consecutive layers whose ids continue each other share one run, so one write.
    """
    runs: list[tuple[int, int, int]] = []
    for j in range(first, last):
        a = max(file_start[j], row) - row
        b = min(file_start[j + 1], row + n) - row
        dest = int(filter_start[j]) + (row + a - file_start[j])
        if runs and runs[-1][1] == a and runs[-1][2] + (a - runs[-1][0]) == dest:
            runs[-1] = (runs[-1][0], b, runs[-1][2])
        else:
            runs.append((a, b, dest))
    return runs


def export_published(
    db_dir: str | Path,
    out_path: str | Path,
    *,
    dtype: str = "float64",
    progress: bool = True,
) -> int:
    """Write the database in ``db_dir`` to ``out_path`` in the v1.0.0 layout; return N filters.

    Models without any 3x3 conv layer have no meta row in the published layout and are left out
    (logged). The filter ids are ``layers.filter_start``; they must tile ``[0, N)``.
    """
    db_dir = Path(db_dir)
    where = str(db_dir)
    dtype = np.dtype(dtype)
    if dtype not in FILTER_DTYPES:
        raise ValueError(f"export dtype must be float16, float32 or float64, not {dtype}")
    layers = pd.read_parquet(db_dir / LAYERS_FILE)
    models = pd.read_parquet(db_dir / MODELS_FILE)
    meta = to_published_meta(layers, models, where)
    total = int(layers["n_filters"].sum())
    start = layers["filter_start"].to_numpy()
    check_tiling(
        start, start + layers["n_filters"].to_numpy(), layers["model"].tolist(), total, where
    )
    empty = sorted(set(models["model"]) - set(layers["model"]))
    if empty:
        log.warning("models without 3x3 conv layers are not in the published layout: %s", empty)
    with atomic_path(out_path) as tmp:
        with h5py.File(tmp, "w") as h5:
            dataset = h5.create_dataset("filters", shape=(total, 3, 3), dtype=dtype)
            bar = progress_bar(
                total, "export", "filter", enabled=progress, unit_scale=True, mininterval=5
            )
            with bar:
                for model, rows in layers.groupby("model", sort=False):
                    _copy_model(filter_path(db_dir, model), rows, dataset, bar)
        meta.to_hdf(tmp, key="meta", format="table", mode="a")
    log.info("wrote %d filters of %d models to %s", total, layers["model"].nunique(), out_path)
    return total
