"""The statistics job's memory model, one definition for the rule's request and the script.

The Dask client runs in the job's own process and holds the per-layer partial results, which grow
with the database; each worker processes one partition at a time, about ``BYTES_PER_FILTER`` per
filter, while the next one is read (its decoded columns, about 40 bytes per filter, which the
per-filter figure covers: it was measured with a partition's numpy temporaries, since replaced by
compiled loops). The rule asks for the sum; the script hands what the client does not need to
the workers.

A local cluster's workers are threads of the job's own process (``cluster``), so they share one
interpreter, one set of imports and one copy of the compiled kernels: ``WORKER_BASE_MB`` per
worker, measured on worker processes, overstates what they need (a 200 M-filter run peaked at
0.57 GiB in all, 0.68-0.72 GiB with the read-ahead). The request is left that generous rather
than tuned to one machine's figure.
"""

from __future__ import annotations

CLIENT_RESERVE_MB = 1024
#: A worker before its partition: interpreter, numpy, pyarrow, distributed and the compiled
#: kernels (numba and llvmlite add ~135 MB; ~280 MB in all, measured), plus the first run's
#: compilation of the kernels (a worker peaked at 424 MB sampled, and at 492 MB in a CI run, whose
#: 610 MB limit then paused it for good): a worker past Dask's pause threshold, 80 % of its
#: limit, stops taking tasks, and compiler memory is not handed back.
WORKER_BASE_MB = 896
BYTES_PER_FILTER = 120
#: The client's partial results per MB of database input (tables and filter files).
CLIENT_MB_PER_INPUT_MB = 0.01


def statistics_mem_mb(threads: int, partition_rows: int, input_mb: float) -> int:
    """``mem_mb`` the statistics job asks for: the client plus one partition per worker."""
    workers = threads * (WORKER_BASE_MB + partition_rows * BYTES_PER_FILTER / 1e6)
    return int(CLIENT_RESERVE_MB + workers + CLIENT_MB_PER_INPUT_MB * input_mb)


def worker_memory_mb(mem_mb: int) -> int:
    """What the job's local Dask workers share of ``mem_mb``, after the client's reserve."""
    return max(mem_mb // 2, mem_mb - CLIENT_RESERVE_MB)
