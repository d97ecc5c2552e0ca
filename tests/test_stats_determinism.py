"""Bit-identical statistics whatever the worker count, partition size or scheduler.

Float results are reduced per layer in a fixed order and histograms are integers, so every
output file must have the same bytes with 1 worker and whole-file partitions, with 3 workers and
one row group per partition, and on an external ``dask scheduler`` with ``dask worker``s.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from distributed import Client
from stats_db_builder import edge_case_models

from benchmarks.synthetic_db import write_db
from filterdb.dask_cluster import dask_client
from filterdb.stats.options import StatsOptions
from filterdb.stats.outputs import OutputPaths, write_outputs
from filterdb.stats.runner import run_statistics

REPO = Path(__file__).resolve().parent.parent
OPTIONS = dict(randomness_max_n=4096, randomness_points=4, randomness_repeats=2)


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    return write_db(tmp_path_factory.mktemp("det") / "db", edge_case_models(), row_group_size=300)


def _run(db: Path, out: Path, dask_config: dict, workers: int, partition_rows: int) -> dict:
    """Run the stage; return {relative path: bytes} of every output file."""
    options = StatsOptions(partition_rows=partition_rows, **OPTIONS)
    with dask_client(dask_config, n_workers=workers, memory_mb=3000) as client:
        n_workers = len(client.scheduler_info()["workers"])
        result = run_statistics(db / "models.parquet", db / "layers.parquet", options, client)
    written = write_outputs(result, OutputPaths.in_directory(out))
    assert n_workers == workers
    return {str(p.relative_to(out)): p.read_bytes() for p in written}


@pytest.fixture(scope="module")
def single_worker(database, tmp_path_factory) -> dict:
    return _run(database, tmp_path_factory.mktemp("one"), {}, workers=1, partition_rows=10**9)


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert not different, f"outputs differ: {different}"


def test_three_workers_and_small_partitions_give_identical_files(database, single_worker, tmp_path):
    assert len(single_worker) == 7 + 1 + 2 * 5  # 7 files, upper triangle, 5 axes x 2
    assert all(single_worker.values())
    three = _run(database, tmp_path, {}, workers=3, partition_rows=1)
    _assert_same(single_worker, three)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def external_scheduler():
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    dask = str(Path(sys.executable).parent / "dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    port = address.rsplit(":", 1)[1]
    common = ["--no-dashboard"]
    processes = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", port, *common],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        worker = [dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", *common]
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [*worker, "--memory-limit", "1.5GB"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_external_scheduler_gives_identical_files(
    database, single_worker, external_scheduler, tmp_path
):
    remote = _run(
        database,
        tmp_path,
        {"scheduler_address": external_scheduler},
        workers=2,
        partition_rows=700,
    )
    _assert_same(single_worker, remote)


def test_worker_killed_mid_statistics_changes_nothing(external_scheduler, tmp_path):
    """SIGKILL one worker process while it holds tasks: Dask reruns them, the bytes stay equal."""
    import signal
    import threading
    import time

    from benchmarks.synthetic_db import generate_synthetic_db

    db = tmp_path / "db"
    generate_synthetic_db(db, 3_000_000, seed=1, workers=1, row_group_size=65536)
    reference = _run(db, tmp_path / "ref", {}, workers=1, partition_rows=10**9)

    outcome: dict = {}

    def run_remote() -> None:
        config = {"scheduler_address": external_scheduler}
        outcome["files"] = _run(db, tmp_path / "remote", config, workers=2, partition_rows=65536)

    thread = threading.Thread(target=run_remote)
    thread.start()
    with Client(external_scheduler, timeout=60) as watcher:
        deadline = time.monotonic() + 120
        while not any(watcher.processing().values()):
            assert thread.is_alive() and time.monotonic() < deadline, "no task ever ran"
            time.sleep(0.05)
        busy = next(addr for addr, tasks in watcher.processing().items() if tasks)
        pid = watcher.run(os.getpid, workers=[busy])[busy]
        os.kill(pid, signal.SIGKILL)  # the nanny starts a fresh worker; its tasks move
    thread.join(timeout=600)
    assert "files" in outcome, "the statistics did not finish after the worker was killed"
    _assert_same(reference, outcome["files"])
