"""``filterdb.open_db``: the database from Python, read only as far as a selection needs.

``models`` and ``layers`` are the two small tables. ``filters(model, layer)`` returns exactly the
selected rows as one ``(n, 9)`` float32 array: it reads only the row groups that hold them (row
groups hold whole layers, ``db.filter_file``), one column at a time, so beyond the array it
returns it holds at most one column of one row group. ``iter_batches`` streams a selection in
row-group pieces and ``to_dask`` gives the whole database as a lazy Dask DataFrame.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from filterdb.db.schema import (
    FILTERS_DIR,
    LAYERS_FILE,
    MODELS_FILE,
    WEIGHT_COLUMNS,
    filter_path,
)

if TYPE_CHECKING:
    import dask.dataframe


class DatabaseError(ValueError):
    """A database directory or a selection that cannot be read (names the file or the model)."""


@dataclass(frozen=True)
class FilterBatch:
    """Consecutive filters of one model: their layer indices ``(n,)`` and weights ``(n, 9)``."""

    model: str
    layer: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class _Piece:
    """Rows ``[lo, hi)`` of row group ``row_group`` of one model's filter file."""

    model: str
    path: str
    row_group: int
    lo: int
    hi: int


class FilterDB:
    """A built database (``results/db``); see the module docstring."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        for required in (MODELS_FILE, LAYERS_FILE, FILTERS_DIR):
            if not (self.path / required).exists():
                raise DatabaseError(
                    f"{self.path}: no {required}; is this a filterdb database (results/db)?"
                )

    def __repr__(self) -> str:
        return f"FilterDB({str(self.path)!r})"

    @cached_property
    def models(self) -> pd.DataFrame:
        """One row per model (``models.parquet``), in model_id order."""
        return pd.read_parquet(self.path / MODELS_FILE).sort_values("model_id", ignore_index=True)

    @cached_property
    def layers(self) -> pd.DataFrame:
        """One row per 3x3 conv layer (``layers.parquet``), in (model_id, layer) order."""
        return pd.read_parquet(self.path / LAYERS_FILE)

    def filters(
        self, model: str | Sequence[str] | None = None, layer: int | Sequence[int] | None = None
    ) -> np.ndarray:
        """The selected filters as an ``(n, 9)`` float32 array (row-major 3x3 weights).

        ``model`` is a name or a list of names (default: all, in model_id order); ``layer`` an
        index or a list of indices into one model's layers. Rows come in the order of the
        selection, each layer's filters as stored.
        """
        pieces = self._pieces(model, layer)
        out = np.empty((sum(p.hi - p.lo for p in pieces), 9), dtype=np.float32)
        position = 0
        for path, of_file in groupby(pieces, key=lambda piece: piece.path):
            with pq.ParquetFile(path) as parquet:
                for piece in of_file:
                    rows = piece.hi - piece.lo
                    for k, name in enumerate(WEIGHT_COLUMNS):
                        column = parquet.read_row_group(piece.row_group, columns=[name]).column(0)
                        out[position : position + rows, k] = column.slice(piece.lo, rows).to_numpy()
                    position += rows
        return out

    def iter_batches(
        self, model: str | Sequence[str] | None = None, layer: int | Sequence[int] | None = None
    ) -> Iterator[FilterBatch]:
        """The selection of ``filters`` as batches of at most one row group each."""
        for piece in self._pieces(model, layer):
            frame = _piece_frame(piece)
            weights = frame[list(WEIGHT_COLUMNS)].to_numpy(dtype=np.float32)
            yield FilterBatch(piece.model, frame["layer"].to_numpy(), weights)

    def to_dask(self, model: str | Sequence[str] | None = None) -> dask.dataframe.DataFrame:
        """A lazy Dask DataFrame (``model``, ``layer``, ``w0``..``w8``), a partition per piece."""
        import dask.dataframe as dd

        meta = pd.DataFrame(
            {"model": pd.Series(dtype=object), "layer": pd.Series(dtype=np.int32)}
            | {name: pd.Series(dtype=np.float32) for name in WEIGHT_COLUMNS}
        )
        return dd.from_map(
            _piece_frame, self._pieces(model, None), meta=meta, enforce_metadata=False
        )

    def _pieces(
        self, model: str | Sequence[str] | None, layer: int | Sequence[int] | None
    ) -> list[_Piece]:
        names = self._models(model)
        if layer is not None and len(names) != 1:
            raise DatabaseError(f"{self.path}: a layer selection needs exactly one model")
        by_model = dict(tuple(self.layers.groupby("model", sort=False)))
        pieces: list[_Piece] = []
        for name in names:
            table = by_model.get(name)
            sizes = (
                np.zeros(0, np.int64) if table is None else table["n_filters"].to_numpy(np.int64)
            )
            ends = np.cumsum(sizes)
            wanted = (
                range(len(sizes)) if layer is None else self._layer_indices(name, layer, len(sizes))
            )
            ranges: list[tuple[int, int]] = []
            for i in wanted:  # adjacent layers become one range: fewer, larger reads
                lo, hi = int(ends[i] - sizes[i]), int(ends[i])
                if ranges and ranges[-1][1] == lo:
                    lo = ranges.pop()[0]
                ranges.append((lo, hi))
            pieces += self._file_pieces(name, ranges, int(ends[-1]) if len(ends) else 0)
        return pieces

    def _models(self, model: str | Sequence[str] | None) -> list[str]:
        known = self.models["model"].astype(str).tolist()
        if model is None:
            return known
        names = [model] if isinstance(model, str) else [str(m) for m in model]
        missing = [name for name in names if name not in set(known)]
        if missing:
            raise DatabaseError(f"{self.path}: no model(s) {missing} in {MODELS_FILE}")
        return names

    def _layer_indices(self, model: str, layer: int | Sequence[int], count: int) -> list[int]:
        indices = [layer] if isinstance(layer, (int, np.integer)) else list(layer)
        bad = [i for i in indices if not 0 <= int(i) < count]
        if bad:
            raise DatabaseError(
                f"{self.path}: model {model!r} has layers 0..{count - 1}, not {bad}"
            )
        return [int(i) for i in indices]

    def _file_pieces(self, model: str, ranges: list[tuple[int, int]], rows: int) -> list[_Piece]:
        """The row-group pieces covering each row range of one model's file, in order."""
        path = filter_path(self.path, model)
        if not ranges:
            return []
        try:
            meta = pq.ParquetFile(path).metadata
        except (OSError, ValueError) as exc:
            raise DatabaseError(f"{path}: cannot read the filter file ({exc})") from exc
        sizes = np.array([meta.row_group(i).num_rows for i in range(meta.num_row_groups)], np.int64)
        if sizes.sum() != rows:
            raise DatabaseError(f"{path}: holds {sizes.sum()} filters, {LAYERS_FILE} counts {rows}")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        pieces = []
        for lo, hi in ranges:
            first = int(np.searchsorted(starts, lo, side="right")) - 1
            for group in range(first, len(sizes)):
                if starts[group] >= hi:
                    break
                a, b = max(lo, starts[group]), min(hi, starts[group + 1])
                if b > a:
                    pieces.append(
                        _Piece(
                            model, str(path), group, int(a - starts[group]), int(b - starts[group])
                        )
                    )
        return pieces


def _piece_frame(piece: _Piece) -> pd.DataFrame:
    """One row-group piece as a pandas DataFrame (a ``to_dask`` partition, an ``iter_batches``)."""
    with pq.ParquetFile(piece.path) as parquet:
        table = parquet.read_row_group(piece.row_group, columns=["layer", *WEIGHT_COLUMNS])
    frame = table.slice(piece.lo, piece.hi - piece.lo).to_pandas()
    frame.insert(0, "model", piece.model)
    return frame


def open_db(path: str | os.PathLike[str] = "results/db") -> FilterDB:
    """The database at ``path`` (a run's ``results/db``); raises ``DatabaseError`` if not one."""
    return FilterDB(path)
