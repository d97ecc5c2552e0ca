"""Write and read ``results/db/filters/<model>.parquet``: one layout for every writer and reader.

Columns ``layer`` (int32, dictionary-encoded: long runs of one value) and ``w0``..``w8`` (float32,
row-major 3x3), uncompressed; row groups hold whole layers only, consecutive layers packed up to
``row_group_size`` rows, so a reader can fetch one layer by reading one row group and never has to
stitch a layer together.

Uncompressed because float32 weights compress poorly (sign and mantissa bits look random): zstd
saved 17.5 % of the default zoo's bytes and made every read of them 2.5 times slower, and the
statistics read the whole database three times (``benchmarks/compression_benchmark.py``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from filterdb.atomic import atomic_path
from filterdb.db.schema import FILTER_SCHEMA, WEIGHT_COLUMNS
from filterdb.direct_io import DirectWriter


def pack_layers(sizes: Sequence[int], row_group_size: int) -> list[tuple[int, int]]:
    """Group consecutive layers ``[lo, hi)`` into row groups of at most ``row_group_size`` rows.

    A layer larger than ``row_group_size`` gets a row group of its own rather than being split.
    The statistics pack row groups into partitions and partitions into Dask tasks the same way.
    """
    if row_group_size < 1:
        raise ValueError(f"row_group_size must be positive, got {row_group_size}")
    groups: list[tuple[int, int]] = []
    lo, rows = 0, 0
    for i, n in enumerate(sizes):
        if i > lo and rows + n > row_group_size:
            groups.append((lo, i))
            lo, rows = i, 0
        rows += n
    if lo < len(sizes):
        groups.append((lo, len(sizes)))
    return groups


def write_filter_file(
    path: str | os.PathLike[str],
    sizes: Sequence[int],
    row_group_size: int,
    group_columns: Callable[[int, int], np.ndarray],
    direct: bool = False,
) -> None:
    """Write one model's filter file atomically, one row group of whole layers at a time.

    ``sizes`` are the layers' filter counts; ``group_columns(lo, hi)`` returns the float32 filters
    of layers ``lo..hi-1`` as ``(9, n)`` columns, so a writer only ever holds one row group. Every
    writer of the database (extraction, the published import, test and benchmark databases)
    comes through here, which is what keeps the layout one.

    ``direct`` writes past the page cache (``direct_io.DirectWriter``), the same bytes: for a
    writer of more than memory holds, the published import, whose pages would only push out
    others. A model just extracted is read again at once, by the assembly and the statistics,
    so the other writers keep it cached.
    """
    # Dictionary encoding and min/max statistics only for ``layer`` (long runs of one value): on
    # float weights the encoding would be abandoned after the first page, after costing time,
    # and nothing reads the weights' statistics, whose computation took a fifth of the writing.
    with (
        atomic_path(path) as tmp,
        DirectWriter(tmp) if direct else contextlib.nullcontext(str(tmp)) as sink,
        pq.ParquetWriter(
            sink,
            FILTER_SCHEMA,
            compression="none",
            use_dictionary=["layer"],
            write_statistics=["layer"],
        ) as writer,
    ):
        for lo, hi in pack_layers(sizes, row_group_size):
            columns = group_columns(lo, hi)
            layer = np.repeat(np.arange(lo, hi, dtype=np.int32), sizes[lo:hi])
            table = pa.Table.from_arrays(
                [pa.array(layer, type=pa.int32())] + [pa.array(c) for c in columns],
                schema=FILTER_SCHEMA,
            )
            writer.write_table(table, row_group_size=max(len(table), 1))


def iter_row_groups(path: str | Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(layer, weights)`` per row group: int32 ``(n,)`` and float32 ``(n, 9)``."""
    with pq.ParquetFile(str(path)) as parquet:
        for i in range(parquet.num_row_groups):
            table = parquet.read_row_group(i, columns=["layer", *WEIGHT_COLUMNS])
            layer = table.column("layer").to_numpy()
            weights = np.empty((table.num_rows, 9), dtype=np.float32)
            for k, name in enumerate(WEIGHT_COLUMNS):
                weights[:, k] = table.column(name).to_numpy()
            yield layer, weights
