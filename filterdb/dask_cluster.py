"""Choose where the statistics' Dask graphs run.

The same statistics code runs on a laptop, inside one cluster job, or across a cluster; only the
``dask`` config section changes. Keeping the choice here means the statistics never know which.

The ``dask`` section (values shown are the defaults)::

    dask:
      cluster: local            # local | address | slurm
      scheduler_address: null   # for "address": tcp://host:8786 of a running scheduler
      slurm:                    # for "slurm": worker jobs submitted through dask-jobqueue
        workers: 1              # worker processes, one SLURM job each
        cores: 1                # threads per worker job
        memory: 4GB             # memory per worker job
        walltime: null          # null: dask-jobqueue's default (00:30:00)
        queue: null             # SLURM partition; null: the cluster's default
        account: null
        job_extra_directives: []
        interface: null         # network interface workers reach the scheduler on, e.g. ib0
        startup_timeout: 600    # seconds to wait for the first worker to join

``cluster`` may be omitted: a non-empty ``scheduler_address`` then means "address" (the original
config form), otherwise "local".
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster

CLUSTER_MODES = ("local", "address", "slurm")

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
_DEFAULT_STARTUP_TIMEOUT_S = 600
# The directory holding the filterdb package: worker jobs must import it to unpickle the tasks.
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def cluster_mode(dask_config: dict[str, Any]) -> str:
    """Name the place the graphs run: "local", "address" or "slurm".

    An explicit ``cluster`` wins; without it a bare ``scheduler_address`` still means "address",
    so configs written before the ``cluster`` key keep working.
    """
    mode = dask_config.get("cluster")
    if mode is None:
        mode = "address" if dask_config.get("scheduler_address") else "local"
    if mode not in CLUSTER_MODES:
        raise ValueError(f"dask.cluster must be one of {', '.join(CLUSTER_MODES)}, got {mode!r}")
    if mode == "address" and not dask_config.get("scheduler_address"):
        raise ValueError("dask.cluster is 'address' but dask.scheduler_address is not set")
    return mode


def slurm_cluster_kwargs(slurm_config: dict[str, Any]) -> dict[str, Any]:
    """Translate ``dask.slurm`` into ``SLURMCluster`` keywords.

    One worker process per job with ``cores`` threads: a job is the unit SLURM schedules and
    kills, so one process per job keeps a failed job from taking several workers with it. The
    job script puts this checkout on ``PYTHONPATH``, since SLURM may start the worker in any
    directory and the tasks it receives are functions of ``filterdb``.
    """
    unknown = set(slurm_config) - set(_SLURMCLUSTER_KEYS) - {"workers", "startup_timeout"}
    if unknown:
        raise ValueError(f"unknown keys in dask.slurm: {', '.join(sorted(unknown))}")
    kwargs = {
        key: slurm_config[key] for key in _SLURMCLUSTER_KEYS if slurm_config.get(key) is not None
    }
    kwargs.setdefault("cores", 1)
    kwargs.setdefault("memory", "4GB")
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

    workers = max(1, int(slurm_config.get("workers") or 1))
    timeout = float(slurm_config.get("startup_timeout") or _DEFAULT_STARTUP_TIMEOUT_S)
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


@contextlib.contextmanager
def dask_client(dask_config: dict[str, Any], n_workers: int, memory_mb: int) -> Iterator[Client]:
    """Yield a connected ``Client`` and tear down whatever this call started.

    ``dask_config`` is the workflow's ``dask`` section (see the module docstring). "address"
    connects to an existing scheduler (its workers are someone else's to stop). "slurm" submits
    ``dask.slurm.workers`` worker jobs and cancels them when the block ends, also on error.
    "local" starts a ``LocalCluster`` of ``n_workers`` single-threaded processes sharing
    ``memory_mb``, so a job never uses more cores or memory than its rule declared; the two
    arguments matter only there, because elsewhere the workers' size is the cluster's business.
    """
    mode = cluster_mode(dask_config)
    if mode == "address":
        with Client(dask_config["scheduler_address"]) as client:
            yield client
        return
    if mode == "slurm":
        with _slurm_client(dask_config.get("slurm") or {}) as client:
            yield client
        return
    n_workers = max(1, int(n_workers))
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=f"{max(256, int(memory_mb) // n_workers)}MB",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
