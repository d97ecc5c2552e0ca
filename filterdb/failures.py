"""Record a failed model instead of failing the run, when ``skip_failed_models`` is on.

With the switch on, a model that cannot be downloaded or read still yields its rule's outputs, but
they say so: the download leaves a ``FAILED`` note in ``resources/models/<model>/`` and extraction
writes empty tables plus a summary holding the error. Assembly then leaves the model out of the
database and lists it in ``results/failures.tsv``. With the switch off nothing here is used: the
job fails and Snakemake keeps every other model's finished outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from filterdb.atomic import atomic_path, write_text_atomic

FAILED_NOTE = "FAILED"

PathLike = str | os.PathLike[str]


def write_download_failure(directory: PathLike, message: str) -> None:
    """Leave the error in place of a checkpoint; a later rerun with the switch off refetches."""
    write_text_atomic(Path(directory) / FAILED_NOTE, message + "\n")


def download_failure(directory: PathLike) -> str | None:
    """The error recorded by :func:`write_download_failure`, or None if the download worked."""
    note = Path(directory) / FAILED_NOTE
    return note.read_text().strip() if note.exists() else None


def write_extraction_failure(
    model: str,
    message: str,
    filters_path: PathLike,
    layers_path: PathLike,
    summary_path: PathLike,
    filter_schema: pa.Schema,
    layer_schema: pa.Schema,
) -> None:
    """Write valid, empty outputs and a summary that names the error."""
    for path, schema in ((filters_path, filter_schema), (layers_path, layer_schema)):
        with atomic_path(path) as tmp:
            pq.write_table(schema.empty_table(), tmp, compression="zstd")
    summary = {"model": model, "error": message, "n_filters": 0}
    write_text_atomic(summary_path, json.dumps(summary, sort_keys=True, indent=1) + "\n")
