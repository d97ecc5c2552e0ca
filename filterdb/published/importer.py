"""Convert a published CNN Filter DB file into ``results/db/`` (filters, layers, models).

Filters stream model by model, row group by row group, through a :class:`FilterReader` window, so
memory stays bounded whatever the file's size. Values are ROUNDED TO FLOAT32, the dtype of
``results/db``: the published v1.0.0 filters are float32 checkpoint weights upcast to float64, so
for them this is lossless; any value that does change is counted and reported as a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from filterdb.config import section
from filterdb.db.filter_file import write_filter_file
from filterdb.db.frame_file import write_frame
from filterdb.db.schema import FILTERS_DIR, LAYERS_FILE, MODELS_FILE, filter_path
from filterdb.progress import progress_bar
from filterdb.published.layout import detect_version, filters_dataset, read_meta
from filterdb.published.meta_import import split_meta
from filterdb.published.reader import FilterReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    """What an import did, for the log and for callers that check it."""

    version: str
    n_models: int
    n_layers: int
    n_filters: int
    values_rounded: int


def _read_rows(reader: FilterReader, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Columns ``(9, n)`` of consecutive layers, read in as few requests as their ranges allow."""
    breaks = np.flatnonzero(start[1:] != stop[:-1]) + 1
    runs = zip(np.r_[0, breaks], np.r_[breaks, len(start)], strict=True)
    parts = [reader.read(int(start[a]), int(stop[b - 1])) for a, b in runs]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def _write_model(
    path: Path,
    layers: pd.DataFrame,
    reader: FilterReader,
    row_group_size: int,
    progress: tqdm,
) -> tuple[np.ndarray, np.ndarray]:
    """Write one model's filter file; return its per-layer NaN and ±Inf counts."""
    start = layers["filter_start"].to_numpy()
    sizes = layers["n_filters"].to_numpy()
    stop = start + sizes
    n_nan = np.zeros(len(layers), dtype=np.int64)
    n_inf = np.zeros(len(layers), dtype=np.int64)

    def group_columns(lo: int, hi: int) -> np.ndarray:
        columns = _read_rows(reader, start[lo:hi], stop[lo:hi])
        bounds = np.r_[0, np.cumsum(sizes[lo:hi])]
        for j in range(lo, hi):
            layer = columns[:, bounds[j - lo] : bounds[j - lo + 1]]
            n_nan[j] = np.count_nonzero(np.isnan(layer))
            n_inf[j] = np.count_nonzero(np.isinf(layer))
        progress.update(columns.shape[1])
        return columns

    write_filter_file(path, sizes.tolist(), row_group_size, group_columns)
    return n_nan, n_inf


def _remove_stale(filters_dir: Path, models: pd.Series) -> None:
    """Delete filter files of models not in this import, so the directory matches the tables."""
    keep = {f"{m}.parquet" for m in models}
    stale = sorted(p for p in filters_dir.glob("*.parquet") if p.name not in keep)
    for path in stale:
        path.unlink()
    if stale:
        log.info("removed %d filter files of models not in the published file", len(stale))


def import_published(
    published_file: str | Path,
    db_dir: str | Path,
    *,
    row_group_size: int | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
) -> ImportReport:
    """Convert ``published_file`` (v1.0.0 or v0.1.0 layout) into ``db_dir`` (``results/db``).

    Writes ``filters/<model>.parquet`` for every model, then ``layers.parquet`` and
    ``models.parquet`` (last, so that complete tables mean complete filter files). Raises
    ``PublishedFileError`` for an unreadable file and ``ModelError`` for a bad id range.
    ``row_group_size`` and ``chunk_size`` (the read window, which bounds memory) default to the
    ``database`` config section's ``published_row_group_size`` and ``published_chunk_size``.
    """
    defaults = section("database")
    row_group_size = row_group_size or defaults["published_row_group_size"]
    chunk_size = chunk_size or defaults["published_chunk_size"]
    path = Path(published_file)
    db_dir = Path(db_dir)
    where = str(path)
    version = detect_version(path)
    meta = read_meta(path, version)
    with h5py.File(path, "r") as h5:
        dataset = filters_dataset(h5, where)
        layers, models = split_meta(meta, dataset.shape[0], where)
        log.info(
            "%s: layout v%s, %d filters (%s %s), %d models, %d layers",
            where,
            version,
            dataset.shape[0],
            dataset.dtype,
            dataset.shape[1:],
            len(models),
            len(layers),
        )
        reader = FilterReader(dataset, max(1, chunk_size))
        filters_dir = db_dir / FILTERS_DIR
        filters_dir.mkdir(parents=True, exist_ok=True)
        bar = progress_bar(
            int(dataset.shape[0]),
            "import",
            "filter",
            enabled=progress,
            unit_scale=True,
            mininterval=5,
        )
        with bar:
            # layers is ordered like models (model_id, then layer): each model is one block
            ends = np.cumsum(layers.groupby("model", sort=False).size().to_numpy())
            for model, lo, hi in zip(models["model"], np.r_[0, ends[:-1]], ends, strict=True):
                n_nan, n_inf = _write_model(
                    filter_path(db_dir, model),
                    layers.iloc[lo:hi],
                    reader,
                    row_group_size,
                    bar,
                )
                layers.iloc[lo:hi, layers.columns.get_loc("n_nan")] = n_nan
                layers.iloc[lo:hi, layers.columns.get_loc("n_inf")] = n_inf
    _remove_stale(filters_dir, models["model"])
    if reader.values_rounded:
        log.warning(
            "%s: %d of %d filter values changed when rounded to float32",
            where,
            reader.values_rounded,
            int(layers["n_filters"].sum()) * 9,
        )
    else:
        log.info("%s: rounding to float32 changed no value (lossless)", where)
    write_frame(layers, db_dir / LAYERS_FILE)
    write_frame(models, db_dir / MODELS_FILE)
    report = ImportReport(
        version=version,
        n_models=len(models),
        n_layers=len(layers),
        n_filters=int(layers["n_filters"].sum()),
        values_rounded=reader.values_rounded,
    )
    log.info(
        "imported v%s: %d models, %d layers, %d filters; %d values changed by float32 rounding",
        report.version,
        report.n_models,
        report.n_layers,
        report.n_filters,
        report.values_rounded,
    )
    return report
