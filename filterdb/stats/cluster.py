"""Choose where the statistics' Dask graphs run, and set up its workers.

The same statistics code runs on a laptop, inside one cluster job, or across a cluster; only the
``dask`` config section changes (``cluster: local | address | slurm``; the keys, defaults and
bounds are in ``filterdb/schemas/config.schema.yaml``). Keeping the choice here means the
statistics never know which.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import psutil
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from filterdb.config import section
from filterdb.stats.blas import single_blas_thread
from filterdb.stats.malloc_tuning import tune_malloc

# Keys of ``dask.slurm`` passed to SLURMCluster under the same name. Keys left unset (None) are
# not passed, so a site's ~/.config/dask/jobqueue.yaml still supplies them.
_SLURMCLUSTER_KEYS = (
    "cores",
    "memory",
    "walltime",
    "queue",
    "account",
    "job_extra_directives",
    "interface",
)
# The directory holding the filterdb package: worker jobs must import it to unpickle the tasks.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def slurm_cluster_kwargs(slurm_config: dict[str, Any]) -> dict[str, Any]:
    """Translate ``dask.slurm`` into ``SLURMCluster`` keywords.

    One worker process per job with ``cores`` threads: a job is the unit SLURM schedules and
    kills, so one process per job keeps a failed job from taking several workers with it. The
    job script puts this checkout on ``PYTHONPATH``, since SLURM may start the worker in any
    directory and the tasks it receives are functions of ``filterdb``.
    """
    kwargs = {
        key: slurm_config[key] for key in _SLURMCLUSTER_KEYS if slurm_config.get(key) is not None
    }
    kwargs["processes"] = 1
    root = shlex.quote(str(_PACKAGE_ROOT))
    kwargs["job_script_prologue"] = [f"export PYTHONPATH={root}${{PYTHONPATH:+:$PYTHONPATH}}"]
    # No dashboard, and the scheduler's HTTP endpoint on a free port: compute nodes rarely expose
    # it, and dask's fixed default port would clash between two runs on one host.
    kwargs["scheduler_options"] = {"dashboard": False, "dashboard_address": ":0"}
    return kwargs


@contextlib.contextmanager
def _slurm_client(slurm_config: dict[str, Any]) -> Iterator[Client]:
    """Submit worker jobs, wait for the first to join, and cancel them all on exit."""
    from dask_jobqueue import SLURMCluster  # only a SLURM run needs dask-jobqueue

    workers = int(slurm_config["workers"])
    timeout = float(slurm_config["startup_timeout"])
    cluster = SLURMCluster(**slurm_cluster_kwargs(slurm_config))
    try:
        cluster.scale(workers)
        with Client(cluster) as client:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except TimeoutError as error:
                raise TimeoutError(
                    f"no Dask worker joined within {timeout:.0f} s of submitting {workers} SLURM "
                    "job(s); look for sbatch errors above, check `squeue --me` and "
                    "dask.slurm (queue, account, memory, cores) in the config"
                ) from error
            yield client
    except BaseException:
        # Cancel the worker jobs, but report the error that brought us here: closing a cluster
        # whose jobs SLURM refused fails too, and that error would hide the cause.
        with contextlib.suppress(Exception):
            cluster.close()
        raise
    cluster.close()


class MallocTuning(WorkerPlugin):
    """Worker setup: glibc keeps freed memory for the passes' chunk-sized temporaries.

    Registered on every worker of every cluster kind, once, before any task runs; see
    ``malloc_tuning`` for why it matters (about 2x in the passes).
    """

    name = "filterdb-malloc-tuning"

    def setup(self, worker: Any) -> None:
        tune_malloc()


@contextlib.contextmanager
def dask_client(
    dask_config: dict[str, Any] | None, n_workers: int, memory_mb: int
) -> Iterator[Client]:
    """Yield a connected ``Client`` with set-up workers; tear down whatever this call started.

    ``dask_config`` is the workflow's ``dask`` section (schema defaults fill what is missing).
    "address" connects to an existing scheduler (its workers are someone else's to stop).
    "slurm" submits ``dask.slurm.workers`` worker jobs and cancels them when the block ends, also
    on error. "local" starts a ``LocalCluster`` of ``n_workers`` single-threaded workers sharing
    ``memory_mb``, so a job never uses more cores or memory than its rule declared; the two
    arguments matter only there, because elsewhere the workers' size is the cluster's business.

    The local workers are threads of this process, not processes: the compiled kernels and
    pyarrow's reads release the GIL, so two threads compute as fast as two processes (measured
    at 200 M filters), while the job no longer starts, imports and warms up a Python per worker
    nor pickles every partial result between processes (about 2 s and a third of the CPU of a
    20 M-filter run, ``benchmarks/statistics_benchmark.py``).
    """
    config = section("dask", dask_config)
    with _connect(config, n_workers, memory_mb) as client:
        client.register_plugin(MallocTuning())
        yield client


def _in_process_limit(memory_mb: int) -> int:
    """Memory limit in bytes of each in-process worker: what this process holds now plus
    ``memory_mb`` (each worker sees the whole process, so each gets the whole share).

    Dask compares a worker's limit with the RSS of the worker's process, which for in-process
    workers is the caller's: a notebook, or a test session, may already hold gigabytes. The
    limit only tells Dask when to spill and warn; pausing is switched off for these workers
    (``_connect``), because a paused in-process worker never resumes: nothing it holds can be
    spilled, and no nanny restarts it, so the statistics would wait for ever.
    """
    return psutil.Process().memory_info().rss + max(256, int(memory_mb)) * 2**20


@contextlib.contextmanager
def _connect(config: dict[str, Any], n_workers: int, memory_mb: int) -> Iterator[Client]:
    mode = config["cluster"]
    if mode != "address" and config["scheduler_address"]:
        raise ValueError(
            f"dask.scheduler_address is set but dask.cluster is {mode!r}; set dask.cluster to "
            "'address' to use that scheduler, or remove the address"
        )
    if mode == "address":
        if not config["scheduler_address"]:
            raise ValueError("dask.cluster is 'address' but dask.scheduler_address is not set")
        with Client(config["scheduler_address"]) as client:
            yield client
        return
    if mode == "slurm":
        with _slurm_client(config["slurm"]) as client:
            yield client
        return
    n_workers = max(1, int(n_workers))
    with dask.config.set({"distributed.worker.memory.pause": False}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=False,
            memory_limit=_in_process_limit(memory_mb),
            dashboard_address=None,
        )
    # Every task pins BLAS to one thread (``single_blas_thread``), but threadpoolctl's limit is
    # process-wide: one worker thread leaving its block would restore the default while the
    # other is still inside its own. Pinned here for the cluster's whole life, every block saves
    # and restores 1, and the caller's setting comes back when the cluster is gone.
    with single_blas_thread(), cluster, Client(cluster) as client:
        yield client
