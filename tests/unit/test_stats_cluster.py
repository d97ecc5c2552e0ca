"""Where the statistics' Dask graphs run: option choice, LocalCluster, and an external scheduler.

The SLURMCluster option needs a running SLURM and is tested in test_slurm.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from dask_graph import deterministic_graph, expected_result
from distributed import Client

from filterdb.config import section
from filterdb.stats.cluster import MallocTuning, dask_client, slurm_cluster_kwargs
from filterdb.stats.malloc_tuning import tune_malloc


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"cluster": "kubernetes"}, "dask.cluster: 'kubernetes' is not one of"),
        ({"scheduler": "tcp://127.0.0.1:8786"}, "'scheduler' was unexpected"),
        ({"slurm": {"partition": "short"}}, "dask.slurm: Additional properties"),
        ({"slurm": {"workers": 0}}, "dask.slurm.workers: 0 is less than the minimum of 1"),
    ],
)
def test_bad_dask_sections_are_refused_naming_the_key(section: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message), dask_client(section, 1, 512):
        pytest.fail("dask_client yielded for a bad section")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"cluster": "address"}, "scheduler_address is not set"),
        ({"scheduler_address": "tcp://127.0.0.1:8786"}, "set dask.cluster to 'address'"),
    ],
)
def test_an_address_goes_with_address_mode_only(section: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message), dask_client(section, 1, 512):
        pytest.fail("dask_client yielded for a contradictory section")


def test_slurm_kwargs_pass_only_what_is_set(repo) -> None:
    slurm = {
        "workers": 3,
        "cores": 2,
        "memory": "2GB",
        "walltime": "00:20:00",
        "queue": "short",
        "account": None,
        "job_extra_directives": ["--qos=low"],
        "startup_timeout": 30,
    }
    kwargs = slurm_cluster_kwargs(section("dask", {"slurm": slurm})["slurm"])
    prologue = kwargs.pop("job_script_prologue")
    assert prologue == [f"export PYTHONPATH={repo}${{PYTHONPATH:+:$PYTHONPATH}}"]
    assert kwargs == {
        "cores": 2,
        "memory": "2GB",
        "walltime": "00:20:00",
        "queue": "short",
        "job_extra_directives": ["--qos=low"],
        "processes": 1,
        "scheduler_options": {"dashboard": False, "dashboard_address": ":0"},
    }


def test_local_cluster_gives_the_synchronous_result_and_respects_worker_count() -> None:
    with dask_client({}, n_workers=2, memory_mb=1024) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        result = client.compute(deterministic_graph()).result()
        scheduler_address = client.scheduler.address
        plugins = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert all(MallocTuning.name in names for names in plugins.values()), plugins
    np.testing.assert_array_equal(result, expected_result())
    with pytest.raises(OSError):
        Client(scheduler_address, timeout="2s")


def test_external_scheduler_runs_the_graph_and_is_left_running(external_scheduler: str) -> None:
    config = {"cluster": "address", "scheduler_address": external_scheduler}
    with dask_client(config, n_workers=1, memory_mb=512) as client:
        assert client.scheduler.address == external_scheduler
        assert len(client.scheduler_info()["workers"]) == 2
        result = client.compute(deterministic_graph()).result()
    np.testing.assert_array_equal(result, expected_result())
    # The scheduler and its workers belong to whoever started them: still there afterwards.
    with Client(external_scheduler, timeout="10s") as client:
        assert len(client.scheduler_info()["workers"]) == 2


def test_malloc_tuning_applies_on_glibc() -> None:
    assert tune_malloc() is True


def test_local_workers_run_in_this_process_and_a_large_caller_does_not_pause_them() -> None:
    """Dask judges an in-process worker by the RSS of the whole process: a caller already
    holding far more than the workers' share (a notebook's data, a test session; here 1 GiB of
    ballast) must not pause them, which would leave the computation waiting for ever."""
    import os

    import psutil

    ballast = np.ones(128 << 20)  # 1 GiB, touched
    assert psutil.Process().memory_info().rss > 1 << 30
    with dask_client({}, n_workers=2, memory_mb=256) as client:
        pids = client.run(os.getpid)
        result = client.compute(deterministic_graph()).result(timeout=60)
    assert set(pids.values()) == {os.getpid()}
    np.testing.assert_array_equal(result, expected_result())
    del ballast


def test_local_cluster_pins_blas_to_one_thread_while_it_runs_and_restores_it() -> None:
    """threadpoolctl's limits are process-wide: held for the cluster's life, a task leaving its
    own ``single_blas_thread`` cannot give the other worker thread a many-threaded BLAS."""
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with dask_client({}, n_workers=2, memory_mb=512) as client:
        during = client.submit(blas_threads, pure=False).result(timeout=60)
    assert during and set(during) == {1}
    assert blas_threads() == before
