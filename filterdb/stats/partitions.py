"""Cut the filter files into Dask partitions of whole layers, and read one partition.

A partition is a run of consecutive row groups of one model's file holding at most
``partition_rows`` filters (a bigger row group - one big layer - is a partition of its own). Row
groups hold whole layers, so a layer is never split: the layer is the unit every float statistic
is computed on, which keeps the results identical however the files are partitioned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from filterdb.db.filter_file import pack_layers
from filterdb.db.schema import WEIGHT_COLUMNS, filter_path
from filterdb.direct_io import DirectReader
from filterdb.errors import ModelError


@dataclass(frozen=True)
class PartitionSpec:
    """What one task reads and the per-layer facts it needs (all small, all picklable)."""

    model_id: int
    model: str
    path: str
    row_groups: tuple[int, ...]
    layers: tuple[int, ...]
    n_filters: tuple[int, ...]
    out_channels: tuple[int, ...]
    fan_in: tuple[int, ...]  # in_channels // groups: filters per output channel; 0 unknown
    deciles: tuple[int, ...]
    kde_group: int  # index of the model's Visual Category, -1 when it has none
    direct: bool = True  # read past the page cache (``read_layers``)

    @property
    def n_rows(self) -> int:
        return sum(self.n_filters)


def plan_partitions(
    models: pd.DataFrame,
    layers: pd.DataFrame,
    db_dir: Path,
    partition_rows: int,
    kde_groups: np.ndarray,
    direct: bool = True,
) -> list[PartitionSpec]:
    """Partitions of every model's file, in (model_id, layer) order, to be read past the page
    cache when ``direct``.

    ``layers`` must be sorted by (model_id, layer) and carry ``model_id`` and ``decile``
    columns; ``kde_groups`` is indexed by model_id. Reads only the files' footers. Raises
    ``ModelError`` when a file disagrees with layers.parquet.
    """
    specs: list[PartitionSpec] = []
    by_model = dict(tuple(layers.groupby("model_id", sort=True)))
    for model_id, model in zip(models["model_id"], models["model"], strict=True):
        table = by_model.get(model_id)
        if table is None or len(table) == 0:
            continue
        path = filter_path(db_dir, str(model))
        out_channels, fan_in = _channel_layout(model, path, table)
        row_groups = _row_group_layers(model, path, table["n_filters"].to_numpy())
        sizes = [rows for _, _, _, rows in row_groups]
        for lo, hi in pack_layers(sizes, partition_rows):
            run = row_groups[lo:hi]
            first, last = run[0][1], run[-1][2]
            part = table.iloc[first:last]
            specs.append(
                PartitionSpec(
                    model_id=int(model_id),
                    model=str(model),
                    path=str(path),
                    row_groups=tuple(rg for rg, _, _, _ in run),
                    layers=tuple(int(v) for v in part["layer"]),
                    n_filters=tuple(int(v) for v in part["n_filters"]),
                    out_channels=tuple(int(v) for v in out_channels[first:last]),
                    fan_in=tuple(int(v) for v in fan_in[first:last]),
                    deciles=tuple(int(v) for v in part["decile"]),
                    kde_group=int(kde_groups[model_id]),
                    direct=direct,
                )
            )
    return specs


def batch_partitions(specs: list[PartitionSpec], rows: int) -> list[list[int]]:
    """Indices of consecutive partitions grouped into runs of at most ``rows`` filters in all (a
    larger partition alone): what one Dask task computes, one partition after the other, so a
    task still holds one partition at a time."""
    return [list(range(lo, hi)) for lo, hi in pack_layers([s.n_rows for s in specs], rows)]


def _channel_layout(model: str, path: Path, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each layer's (out_channels, filters per output channel); (0, 0) where unknown.

    Orthogonality reshapes a layer to (c_out, c_in / groups * 9), so a known layout must account
    for every filter. A published import has no channel counts (null): its layers get (0, 0),
    and their orthogonality is NaN rather than a guess.
    """
    shape = table[["out_channels", "in_channels", "groups"]]
    known = shape.notna().all(axis=1).to_numpy()
    out_channels = shape["out_channels"].fillna(0).to_numpy(dtype=np.int64)
    in_channels = shape["in_channels"].fillna(0).to_numpy(dtype=np.int64)
    groups = shape["groups"].fillna(1).to_numpy(dtype=np.int64)
    fan_in = np.where(known & (groups >= 1), in_channels // np.maximum(groups, 1), 0)
    bad = known & ((groups < 1) | (out_channels * fan_in != table["n_filters"].to_numpy()))
    if bad.any():
        row = table.iloc[int(np.flatnonzero(bad)[0])]
        raise ModelError(
            model,
            str(path),
            f"layer {row['layer']} has {row['n_filters']} filters but out_channels="
            f"{row['out_channels']}, in_channels={row['in_channels']}, groups={row['groups']}",
        )
    return np.where(known, out_channels, 0), fan_in


def _row_group_layers(
    model: str, path: Path, n_filters: np.ndarray
) -> list[tuple[int, int, int, int]]:
    """(row group, first layer, end layer, rows) of each non-empty row group of the file."""
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, ValueError) as error:
        raise ModelError(model, str(path), f"cannot read the filter file: {error}") from error
    rows = np.array([meta.row_group(i).num_rows for i in range(meta.num_row_groups)], np.int64)
    if rows.sum() != n_filters.sum():
        raise ModelError(
            model,
            str(path),
            f"holds {rows.sum()} filters but layers.parquet counts {n_filters.sum()}",
        )
    layer_ends = np.concatenate([[0], np.cumsum(n_filters)])
    groups, start = [], 0
    for rg, count in enumerate(rows):
        if count == 0:
            continue
        end = start + int(count)
        first, last = np.searchsorted(layer_ends, [start, end])
        if layer_ends[first] != start or last >= len(layer_ends) or layer_ends[last] != end:
            raise ModelError(model, str(path), f"row group {rg} does not hold whole layers")
        groups.append((rg, int(first), int(last), int(count)))
        start = end
    return groups


def read_layers(spec: PartitionSpec) -> list[tuple[np.ndarray, ...]]:
    """The partition's layers, each nine read-only float32 rows (``scaling.Columns``), checked
    against its layer list.

    Each row is a view of the column Arrow decoded the file into - no copy: a read of the
    partition is all it costs. Row groups hold whole layers, so a layer lies within one Arrow
    chunk; only one that straddles two (not written by this layout) is joined.

    The file is read past the page cache (``direct_io.DirectReader``) unless ``spec.direct`` is
    false (``statistics.direct_reads``): every pass of a database larger than memory - the
    paper's is 53 GB - comes from the disk anyway, and filling the cache on the way cost more CPU
    than a pass's arithmetic on this project's VM. ``passes.run_batch`` reads the next partition
    while this one is computed, so the wait for the disk overlaps the work.
    """
    try:
        with DirectReader(spec.path, direct=spec.direct) as source:
            table = pq.ParquetFile(source).read_row_groups(
                list(spec.row_groups), columns=["layer", *WEIGHT_COLUMNS], use_threads=False
            )
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(spec.model, spec.path, f"cannot read filters: {error}") from error
    starts = np.concatenate([[0], np.cumsum(spec.n_filters)])
    if table.num_rows != starts[-1] or not _layer_runs_match(
        table.column("layer"), np.asarray(spec.layers), starts
    ):
        raise ModelError(
            spec.model, spec.path, f"row groups {spec.row_groups} do not match layers.parquet"
        )
    weights = [table.column(name) for name in WEIGHT_COLUMNS]
    return [
        tuple(_rows(column, int(lo), int(hi)) for column in weights)
        for lo, hi in zip(starts[:-1], starts[1:], strict=True)
    ]


def _rows(column: pa.ChunkedArray, lo: int, hi: int) -> np.ndarray:
    """Rows ``[lo, hi)`` of a float32 column: a view when one chunk holds them."""
    return column.slice(lo, hi - lo).to_numpy()


def _layer_runs_match(column: pa.ChunkedArray, layers: np.ndarray, starts: np.ndarray) -> bool:
    """Whether the ``layer`` column holds ``layers[i]`` at exactly the rows ``starts[i]`` to
    ``starts[i + 1]``."""
    offset = 0
    for chunk in column.chunks:
        values = chunk.to_numpy()
        if not _runs_match(values, offset, layers, starts):
            return False
        offset += len(values)
    return True


@numba.njit(cache=True, nogil=True)
def _runs_match(values, offset, layers, starts):  # pragma: no cover - compiled
    """``_layer_runs_match`` on one chunk starting at row ``offset``."""
    i = np.searchsorted(starts, offset, side="right") - 1
    for row in range(values.size):
        while starts[i + 1] <= offset + row:
            i += 1
        if values[row] != layers[i]:
            return False
    return True


def read_partition(spec: PartitionSpec) -> np.ndarray:
    """The partition's filters as one ``(9, n)`` float32 array (``read_layers`` joined)."""
    return np.concatenate([np.stack(layer) for layer in read_layers(spec)], axis=1)
