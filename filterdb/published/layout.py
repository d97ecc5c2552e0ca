"""Recognise the two published layouts of the CNN Filter DB and read their parts.

Both layouts are one HDF5 file with a ``filters`` dataset (row ``i`` = filter id ``i``) and a
``meta`` table with one row per 3x3 conv layer:

* v1.0.0 (Zenodo, CVPR 2022): ``meta`` is a pandas frame written with PyTables, read with
  ``pd.read_hdf(path, "meta")``, indexed by ``[model_id, conv_depth, conv_depth_norm, layer_id]``;
  ``filters`` is float64 ``(N, 3, 3)``.
* v0.1.0 (Kaggle, NeurIPS 2021 workshop): ``meta`` is a uint8 dataset holding UTF-8 CSV bytes;
  the visual category column is called ``Datatype``; ``filters`` is ``(N, 9)``.

Only the shape of ``meta`` tells them apart, so that is what :func:`detect_version` looks at.
Filters of shape ``(N, 9)`` or ``(N, 3, 3)`` in float16/32/64 are accepted in either layout.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from filterdb.published.errors import PublishedFileError

V1_0_0 = "1.0.0"
V0_1_0 = "0.1.0"
# The Kaggle README calls the dataset "filter"; every known file and the notebook use "filters".
FILTER_KEYS = ("filters", "filter")
FILTER_DTYPES = (np.dtype("float16"), np.dtype("float32"), np.dtype("float64"))


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise PublishedFileError(str(path), f"cannot be opened as HDF5: {exc}") from exc


def detect_version(path: str | Path) -> str:
    """Return ``"1.0.0"`` or ``"0.1.0"`` from how ``meta`` is stored; refuse anything else."""
    path = Path(path)
    with _open(path) as h5:
        meta = h5.get("meta")
        if meta is None:
            raise PublishedFileError(str(path), f"no 'meta' entry (found {sorted(h5.keys())})")
        if isinstance(meta, h5py.Group) and "pandas_type" in meta.attrs:
            return V1_0_0
        if isinstance(meta, h5py.Dataset):
            return V0_1_0
        raise PublishedFileError(
            str(path), "'meta' is neither a pandas table (v1.0.0) nor CSV bytes (v0.1.0)"
        )


def filters_dataset(h5: h5py.File, path: str) -> h5py.Dataset:
    """Return the filters dataset after checking it holds ``(N, 9)`` or ``(N, 3, 3)`` floats."""
    key = next((k for k in FILTER_KEYS if isinstance(h5.get(k), h5py.Dataset)), None)
    if key is None:
        raise PublishedFileError(path, f"no 'filters' dataset (found {sorted(h5.keys())})")
    dataset = h5[key]
    if dataset.shape[1:] not in ((9,), (3, 3)):
        raise PublishedFileError(
            path, f"'{key}' has shape {dataset.shape}, not (N, 9) or (N, 3, 3)"
        )
    if dataset.dtype not in FILTER_DTYPES:
        raise PublishedFileError(path, f"'{key}' has dtype {dataset.dtype}, not float16/32/64")
    return dataset


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn named index levels into columns (v1.0.0's MultiIndex); drop an unnamed row index."""
    if any(name is not None for name in frame.index.names):
        return frame.reset_index()
    return frame.reset_index(drop=True)


def read_meta(path: str | Path, version: str) -> pd.DataFrame:
    """Return the meta table with its index levels as ordinary columns, values as stored."""
    path = Path(path)
    if version == V1_0_0:
        try:
            frame = pd.read_hdf(path, "meta")
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise PublishedFileError(
                str(path), f"'meta' cannot be read as a pandas table: {exc}"
            ) from exc
        return _flat(frame)
    with _open(path) as h5:
        raw = h5["meta"][()]
    data = raw.tobytes() if isinstance(raw, np.ndarray) else bytes(raw)
    try:
        frame = pd.read_csv(io.StringIO(data.decode("utf-8")))
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PublishedFileError(str(path), f"'meta' is not UTF-8 CSV: {exc}") from exc
    return _flat(frame)
