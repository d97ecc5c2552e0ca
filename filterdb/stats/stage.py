"""The statistics job: compute every statistic of a database and write ``results/stats/``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filterdb.stats.cluster import dask_client
from filterdb.stats.options import StatsOptions
from filterdb.stats.outputs import write_outputs
from filterdb.stats.resources import worker_memory_mb
from filterdb.stats.runner import StatsResult, run_statistics


def compute_statistics(
    db_dir: str | os.PathLike[str],
    stats_dir: str | os.PathLike[str],
    statistics: Mapping[str, Any] | None,
    dask: Mapping[str, Any] | None,
    threads: int,
    mem_mb: int,
) -> StatsResult:
    """Run the three passes on the cluster the ``dask`` section names and write the outputs.

    ``threads`` and ``mem_mb`` are the job's; a local cluster gets the threads as worker
    processes and the memory the client does not need (``resources``).
    """
    options = StatsOptions.from_params(statistics)
    with dask_client(dict(dask or {}), threads, worker_memory_mb(int(mem_mb))) as client:
        result = run_statistics(db_dir, options, client)
    written = write_outputs(result, Path(stats_dir))
    print(f"wrote {len(written)} files; PCA of {result.basis.n_filters} filters")
    return result
