"""The per-model extraction job: read one checkpoint, write its outputs, or record its failure."""

from __future__ import annotations

import json
import os
from pathlib import Path

from filterdb.config import section
from filterdb.db.filter_file import write_filter_file
from filterdb.errors import ModelError
from filterdb.extract.conv_layers import check_expected_3x3
from filterdb.extract.dispatch import read_model
from filterdb.extract.memory import MemoryLimit, limit_process_memory
from filterdb.extract.write import write_extraction, write_layer_table, write_summary
from filterdb.failures import failure_note, per_model

PathLike = str | os.PathLike[str]


def extract(
    model: str,
    checkpoint: PathLike,
    filters_path: PathLike,
    layers_path: PathLike,
    summary_path: PathLike,
    row_group_size: int | None = None,
    source: str | None = None,
    progress: bool = False,
    mem_mb: int | None = None,
    expected_3x3: int | None = None,
) -> dict:
    """Read one checkpoint and write its outputs (``read_model`` + ``write_extraction``).

    ``row_group_size`` defaults to the config's ``extraction.row_group_size``; ``mem_mb`` is the
    job's memory, which bounds what may be materialised (default ``extraction.max_mem_mb``).
    ``expected_3x3`` is the manifest's count of 3x3 kernels; another count is the model's error.
    """
    row_group_size = row_group_size or section("extraction")["row_group_size"]
    limit = MemoryLimit.for_job(mem_mb)
    convs = check_expected_3x3(read_model(model, checkpoint, source, limit), expected_3x3)
    return write_extraction(
        convs, filters_path, layers_path, summary_path, row_group_size, progress, limit
    )


def extract_model(
    model: str,
    checkpoint_dir: PathLike,
    filename: str,
    filters_path: PathLike,
    layers_path: PathLike,
    summary_path: PathLike,
    *,
    source: str,
    row_group_size: int,
    skip_failed: bool,
    threads: int = 1,
    mem_mb: int | None = None,
    expected_3x3: int | str | None = None,
) -> None:
    """The ``extract_filters`` job for the checkpoint ``checkpoint_dir/filename``.

    A download recorded as failed, or an unreadable checkpoint, fails the job; with
    ``skip_failed`` it yields valid, empty tables and a summary naming the error instead, which
    assembly lists in ``results/failures.tsv``. torch uses the job's ``threads``, no more;
    nothing larger than the job's ``mem_mb`` allows is materialised, and allocations beyond twice
    it fail (``limit_process_memory``). ``expected_3x3`` is the manifest's cell ("" for none).
    """
    import torch

    torch.set_num_threads(threads)
    if mem_mb:
        limit_process_memory(mem_mb)

    def run() -> None:
        failed_download = failure_note(checkpoint_dir)
        if failed_download:
            raise ModelError(model, str(checkpoint_dir), f"download failed: {failed_download}")
        summary = extract(
            model,
            Path(checkpoint_dir) / filename,
            filters_path,
            layers_path,
            summary_path,
            row_group_size,
            source=source,
            progress=True,
            mem_mb=mem_mb,
            expected_3x3=int(expected_3x3) if expected_3x3 not in (None, "") else None,
        )
        print(json.dumps(summary, sort_keys=True))

    def record(message: str) -> None:
        write_filter_file(filters_path, [], row_group_size, lambda lo, hi: None)
        write_layer_table([], layers_path)
        write_summary({"model": model, "error": message, "n_filters": 0}, summary_path)

    per_model(model, str(checkpoint_dir), run, skip_failed, record)
