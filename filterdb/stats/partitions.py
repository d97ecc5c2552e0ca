"""Cut the filter files into Dask partitions of whole layers, and read one partition.

A partition is a run of consecutive row groups of one model's file holding at most
``partition_rows`` filters (a bigger row group - one big layer - is a partition of its own). Row
groups hold whole layers, so a layer is never split: the layer is the unit every float statistic
is computed on, which keeps the results identical however the files are partitioned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from filterdb.db.schema import WEIGHT_COLUMNS, filter_path
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

    @property
    def n_rows(self) -> int:
        return sum(self.n_filters)


def plan_partitions(
    models: pd.DataFrame,
    layers: pd.DataFrame,
    db_dir: Path,
    partition_rows: int,
    kde_groups: np.ndarray,
) -> list[PartitionSpec]:
    """Partitions of every model's file, in (model_id, layer) order.

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
        for run in _runs(row_groups, partition_rows):
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
                )
            )
    return specs


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


def _runs(row_groups: list[tuple[int, int, int, int]], partition_rows: int) -> list[list]:
    """Greedy runs of consecutive row groups with at most ``partition_rows`` rows each."""
    runs: list[list] = []
    size = 0
    for group in row_groups:
        if runs and size + group[3] <= partition_rows:
            runs[-1].append(group)
            size += group[3]
        else:
            runs.append([group])
            size = group[3]
    return runs


def read_layers(spec: PartitionSpec) -> list[np.ndarray]:
    """The partition's layers, each a C-contiguous ``(9, n)`` float32 array, checked against
    its layer list.

    One array per layer rather than views of one partition array: the compiled kernels run
    several times faster on contiguous rows than on strided views. Row groups hold whole layers,
    so each layer is copied once, from the one Arrow chunk it lies in.
    """
    try:
        table = pq.ParquetFile(spec.path).read_row_groups(
            list(spec.row_groups), columns=["layer", *WEIGHT_COLUMNS], use_threads=False
        )
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(spec.model, spec.path, f"cannot read filters: {error}") from error
    expected = np.repeat(np.asarray(spec.layers), spec.n_filters)
    if table.num_rows != len(expected) or not np.array_equal(
        table.column("layer").to_numpy(), expected
    ):
        raise ModelError(
            spec.model, spec.path, f"row groups {spec.row_groups} do not match layers.parquet"
        )
    layers = [np.empty((9, n), dtype=np.float32) for n in spec.n_filters]
    starts = np.concatenate([[0], np.cumsum(spec.n_filters)])
    for j, name in enumerate(WEIGHT_COLUMNS):
        offset = 0
        for chunk in table.column(name).chunks:
            values = chunk.to_numpy(zero_copy_only=False)
            end = offset + len(values)
            first, last = np.searchsorted(starts, [offset, end], side="right")
            for i in range(first - 1, min(last, len(layers))):
                lo, hi = max(starts[i], offset), min(starts[i + 1], end)
                layers[i][j, lo - starts[i] : hi - starts[i]] = values[lo - offset : hi - offset]
            offset = end
    return layers


def read_partition(spec: PartitionSpec) -> np.ndarray:
    """The partition's filters as one ``(9, n)`` float32 array (``read_layers`` joined)."""
    return np.concatenate(read_layers(spec), axis=1)
