"""Convert a published CNN Filter DB file into ``results/db/`` (filters, layers, models).

Filters stream model by model, row group by row group, through a :class:`FilterReader` window, so
memory stays bounded whatever the file's size. Values are ROUNDED TO FLOAT32, the dtype of
``results/db``: the published v1.0.0 filters are float32 checkpoint weights upcast to float64, so
for them this is lossless; any value that does change is counted and reported as a warning.

Writing a filter file (Parquet encoding) costs more CPU than reading and converting its
filters, and one file can only be written sequentially, so ``workers`` threads each import whole
models at once: pyarrow and the conversion kernel release the GIL, and every file is still written
by one thread in one order, so its bytes do not depend on the number of workers.

Both the published file and the filter files bypass the page cache where the file system allows
(``filterdb.direct_io``): every byte is read or written once, and filling the cache with them
cost more CPU than converting and encoding them - the import is then bound by the disk instead.
"""

from __future__ import annotations

import logging
import os
import queue
from concurrent.futures import ThreadPoolExecutor
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


def _write_model(
    path: Path,
    start: np.ndarray,
    sizes: np.ndarray,
    worker: _Worker,
    row_group_size: int,
    progress: tqdm,
) -> tuple[np.ndarray, np.ndarray]:
    """Write one model's filter file (its layers start at ``start`` and hold ``sizes`` filters);
    return its per-layer NaN and ±Inf counts, which the reader counts as it converts."""
    reader = worker.reader
    n_nan = np.zeros(len(sizes), dtype=np.int64)
    n_inf = np.zeros(len(sizes), dtype=np.int64)
    offsets = np.r_[0, np.cumsum(sizes)]

    def group_columns(lo: int, hi: int) -> np.ndarray:
        out = worker.columns(int(offsets[hi] - offsets[lo]))
        for layer in range(lo, hi):
            nan, inf = reader.n_nan, reader.n_inf
            at = offsets[layer] - offsets[lo]
            reader.read(int(start[layer]), int(start[layer] + sizes[layer]), out, int(at))
            n_nan[layer], n_inf[layer] = reader.n_nan - nan, reader.n_inf - inf
        progress.update(int(offsets[hi] - offsets[lo]))
        return out[:, : offsets[hi] - offsets[lo]]

    write_filter_file(path, sizes.tolist(), row_group_size, group_columns, direct=True)
    return n_nan, n_inf


class _Worker:
    """What one import thread reuses from model to model: its reader and a row group buffer.

    ``write_filter_file`` has encoded a row group before it asks for the next, so one float32
    buffer, grown to the largest row group, serves them all; a new array per row group
    page-faulted tens of MB of fresh memory in every time.
    """

    def __init__(self, reader: FilterReader) -> None:
        self.reader = reader
        self._columns = np.empty((9, 0), dtype=np.float32)

    def columns(self, n: int) -> np.ndarray:
        """A float32 ``(9, >= n)`` buffer, the same one while ``n`` fits."""
        if self._columns.shape[1] < n:
            self._columns = np.empty((9, n), dtype=np.float32)
        return self._columns


# Each worker holds one row group's float32 columns and pyarrow's encoding of them, so more
# workers than this would add memory for little gain (the disk is the next limit).
MAX_DEFAULT_WORKERS = 4


def _import_filters(
    dataset: h5py.Dataset,
    db_dir: Path,
    layers: pd.DataFrame,
    models: pd.DataFrame,
    row_group_size: int,
    chunk_size: int,
    workers: int,
    progress: tqdm,
) -> int:
    """Write every model's filter file, ``workers`` models at a time, fill ``layers``' n_nan and
    n_inf, and return how many values the rounding changed.

    Each worker owns a reader whose window is an equal share of ``chunk_size``, so the windows'
    memory does not grow with ``workers``. A failure cancels the models not yet started and is
    raised as it is, with the failing model named in a note.
    """
    readers = [FilterReader(dataset, max(1, chunk_size // workers)) for _ in range(workers)]
    idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
    for reader in readers:
        idle.put(_Worker(reader))
    start = layers["filter_start"].to_numpy()
    sizes = layers["n_filters"].to_numpy()

    def import_model(model: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        worker = idle.get()
        try:
            worker.reader.end_windows_at(int((start[lo:hi] + sizes[lo:hi]).max()))
            path = filter_path(db_dir, model)
            return _write_model(path, start[lo:hi], sizes[lo:hi], worker, row_group_size, progress)
        except BaseException as exc:
            exc.add_note(f"while importing the filters of model {model!r}")
            raise
        finally:
            idle.put(worker)

    # layers is ordered like models (model_id, then layer): each model is one block
    ends = np.cumsum(layers.groupby("model", sort=False).size().to_numpy())
    blocks = list(zip(models["model"], np.r_[0, ends[:-1]], ends, strict=True))
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="import") as pool:
            futures = [pool.submit(import_model, model, lo, hi) for model, lo, hi in blocks]
            try:
                for future, (_, lo, hi) in zip(futures, blocks, strict=True):
                    n_nan, n_inf = future.result()
                    layers.iloc[lo:hi, layers.columns.get_loc("n_nan")] = n_nan
                    layers.iloc[lo:hi, layers.columns.get_loc("n_inf")] = n_inf
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        for reader in readers:
            reader.close()
    return sum(reader.values_rounded for reader in readers)


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
    workers: int | None = None,
    progress: bool = True,
) -> ImportReport:
    """Convert ``published_file`` (v1.0.0 or v0.1.0 layout) into ``db_dir`` (``results/db``).

    Writes ``filters/<model>.parquet`` for every model, then ``layers.parquet`` and
    ``models.parquet`` (last, so that complete tables mean complete filter files). Raises
    ``PublishedFileError`` for an unreadable file and ``ModelError`` for a bad id range.
    ``row_group_size`` and ``chunk_size`` (the read window, which bounds memory) default to the
    ``database`` config section's ``published_row_group_size`` and ``published_chunk_size``.
    ``workers`` (threads importing models at once, default the CPU count up to
    ``MAX_DEFAULT_WORKERS``) changes the speed only, never the files written.
    """
    defaults = section("database")
    row_group_size = row_group_size or defaults["published_row_group_size"]
    chunk_size = chunk_size or defaults["published_chunk_size"]
    workers = max(1, workers or min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))
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
            values_rounded = _import_filters(
                dataset, db_dir, layers, models, row_group_size, chunk_size, workers, bar
            )
    _remove_stale(filters_dir, models["model"])
    if values_rounded:
        log.warning(
            "%s: %d of %d filter values changed when rounded to float32",
            where,
            values_rounded,
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
        values_rounded=values_rounded,
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
