"""Write and read ``results/db/filters/<model>.parquet``: one layout for every writer and reader.

Columns ``layer`` (int32) and ``w0``..``w8`` (float32, row-major 3x3); zstd; row groups hold whole
layers only, consecutive layers packed up to ``row_group_size`` rows, so a reader can fetch one
layer by reading one row group and never has to stitch a layer together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WEIGHT_COLUMNS = [f"w{k}" for k in range(9)]
FILTER_SCHEMA = pa.schema(
    [("layer", pa.int32())] + [(name, pa.float32()) for name in WEIGHT_COLUMNS]
)
DEFAULT_ROW_GROUP_SIZE = 1_048_576


def pack_layers(sizes: Sequence[int], row_group_size: int) -> list[tuple[int, int]]:
    """Group consecutive layers ``[lo, hi)`` into row groups of at most ``row_group_size`` rows.

    A layer larger than ``row_group_size`` gets a row group of its own rather than being split.
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


def open_writer(path: str | Path) -> pq.ParquetWriter:
    """A writer for one model's filter file.

    Dictionary encoding only for ``layer`` (long runs of one value); on float weights it would
    be abandoned after the first page anyway, after costing time.
    """
    return pq.ParquetWriter(str(path), FILTER_SCHEMA, compression="zstd", use_dictionary=["layer"])


def write_row_group(writer: pq.ParquetWriter, layer: np.ndarray, columns: np.ndarray) -> None:
    """Write rows (``layer`` per row, float32 ``columns`` ``(9, n)``) as exactly one row group."""
    table = pa.Table.from_arrays(
        [pa.array(layer, type=pa.int32())] + [pa.array(c) for c in columns], schema=FILTER_SCHEMA
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
