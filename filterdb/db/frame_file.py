"""Write a small table as Parquet so that the same content always gives the same bytes.

pandas stores its own version and index layout in the file's metadata; dropping it keeps
``layers.parquet`` and ``models.parquet`` byte-identical across runs and machines that share the
pinned pyarrow, which is what lets two rebuilds be compared with ``cmp``.
"""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from filterdb.atomic import atomic_path


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` (index dropped) to ``path`` atomically, without pandas metadata."""
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
