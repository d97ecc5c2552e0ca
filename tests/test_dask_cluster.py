"""Where the statistics' Dask graphs run: option choice, LocalCluster, and an external scheduler.

The SLURMCluster option needs a running SLURM and is tested in test_slurm.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from distributed import Client

from filterdb.dask_cluster import cluster_mode, dask_client, slurm_cluster_kwargs

DASK = Path(sys.executable).with_name("dask")
REPO = Path(__file__).resolve().parent.parent


def deterministic_graph() -> da.Array:
    """A small graph with cross-chunk reductions whose result depends on every task.

    No matmul: BLAS may round differently with another thread count, which would blame the
    cluster for what the maths library does.
    """
    x = da.from_array(np.random.default_rng(7).standard_normal((600, 9)), chunks=(50, 9))
    outer = (x[:, :, None] * x[:, None, :]).sum(axis=0).ravel()
    return da.concatenate([outer, x.sum(axis=0), x.std(axis=0), x.max(axis=0)])


def expected_result() -> np.ndarray:
    """The graph's value computed in this process, the reference every cluster must match."""
    return deterministic_graph().compute(scheduler="sync")


@pytest.mark.parametrize(
    ("section", "mode"),
    [
        ({}, "local"),
        ({"scheduler_address": None}, "local"),
        ({"scheduler_address": "tcp://127.0.0.1:8786"}, "address"),
        ({"cluster": "local", "scheduler_address": "tcp://127.0.0.1:8786"}, "local"),
        ({"cluster": "address", "scheduler_address": "tcp://127.0.0.1:8786"}, "address"),
        ({"cluster": "slurm", "slurm": {"workers": 2}}, "slurm"),
    ],
)
def test_cluster_mode_and_bare_scheduler_address(section: dict, mode: str) -> None:
    assert cluster_mode(section) == mode


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"cluster": "kubernetes"}, "must be one of"),
        ({"cluster": "address"}, "scheduler_address is not set"),
    ],
)
def test_cluster_mode_rejects_bad_sections(section: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster_mode(section)


def test_slurm_kwargs_pass_only_what_is_set() -> None:
    kwargs = slurm_cluster_kwargs(
        {
            "workers": 3,
            "cores": 2,
            "memory": "2GB",
            "walltime": "00:20:00",
            "queue": "short",
            "account": None,
            "job_extra_directives": ["--qos=low"],
            "startup_timeout": 30,
        }
    )
    prologue = kwargs.pop("job_script_prologue")
    assert prologue == [f"export PYTHONPATH={REPO}${{PYTHONPATH:+:$PYTHONPATH}}"]
    assert kwargs == {
        "cores": 2,
        "memory": "2GB",
        "walltime": "00:20:00",
        "queue": "short",
        "job_extra_directives": ["--qos=low"],
        "processes": 1,
        "scheduler_options": {"dashboard": False, "dashboard_address": ":0"},
    }


def test_slurm_kwargs_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="partition"):
        slurm_cluster_kwargs({"partition": "short"})


def test_local_cluster_gives_the_synchronous_result_and_respects_worker_count() -> None:
    with dask_client({}, n_workers=2, memory_mb=1024) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        result = client.compute(deterministic_graph()).result()
        scheduler_address = client.scheduler.address
    np.testing.assert_array_equal(result, expected_result())
    with pytest.raises(OSError):
        Client(scheduler_address, timeout="2s")


@pytest.fixture(scope="module")
def external_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `dask scheduler` with two `dask worker` processes on 127.0.0.1.

    Scheduler and workers get the checkout on PYTHONPATH, as the README tells users to do: both
    unpickle filterdb's statistics tasks (test_slurm.py uses this fixture for that).
    """
    scheduler_file = tmp_path_factory.mktemp("dask") / "scheduler.json"
    common = ["--no-dashboard"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(scheduler_file),
                "--dashboard-address",
                "127.0.0.1:0",
                *common,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    ]
    try:
        for _ in range(300):
            if scheduler_file.exists() and scheduler_file.stat().st_size:
                break
            time.sleep(0.1)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        str(DASK),
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        *common,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            )
        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("with_cluster_key", [False, True])
def test_external_scheduler_runs_the_graph_and_is_left_running(
    external_scheduler: str, with_cluster_key: bool
) -> None:
    section = {"scheduler_address": external_scheduler}
    if with_cluster_key:
        section["cluster"] = "address"
    with dask_client(section, n_workers=1, memory_mb=512) as client:
        assert client.scheduler.address == external_scheduler
        assert len(client.scheduler_info()["workers"]) == 2
        result = client.compute(deterministic_graph()).result()
    np.testing.assert_array_equal(result, expected_result())
    # The scheduler and its workers belong to whoever started them: still there afterwards.
    with Client(external_scheduler, timeout="10s") as client:
        assert len(client.scheduler_info()["workers"]) == 2
