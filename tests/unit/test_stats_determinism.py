"""Bit-identical statistics whatever the worker count, partition size or scheduler.

Float results are reduced per layer in a fixed order and histograms are integers, so every
output file must have the same bytes with 1 worker and whole-file partitions, with 3 workers and
one row group per partition, read past the page cache or through it, and on an external ``dask
scheduler`` with ``dask worker``s.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from db_builders import edge_case_models, random_models
from distributed import Client

from filterdb.db.from_arrays import write_database
from filterdb.stats.cluster import dask_client
from filterdb.stats.options import StatsOptions
from filterdb.stats.outputs import write_outputs
from filterdb.stats.runner import run_statistics

PARAMS = {"randomness_max_n": 4096, "randomness_points": 4, "randomness_repeats": 2}


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("det") / "db"
    return write_database(db, edge_case_models(), row_group_size=300)


def _run(
    db: Path, out: Path, dask_config: dict, workers: int, partition_rows: int, **params
) -> dict:
    """Run the stage; return {relative path: bytes} of every output file."""
    options = StatsOptions.from_params({**PARAMS, "partition_rows": partition_rows, **params})
    with dask_client(dask_config, n_workers=workers, memory_mb=3000) as client:
        n_workers = len(client.scheduler_info()["workers"])
        result = run_statistics(db, options, client)
    written = write_outputs(result, out)
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
    assert len(single_worker) == 7 + 2 + 2 * 5  # 7 files, upper triangle, group counts, 5 x 2
    assert all(single_worker.values())
    three = _run(database, tmp_path, {}, workers=3, partition_rows=1)
    _assert_same(single_worker, three)


def test_reads_through_the_page_cache_give_identical_files(database, single_worker, tmp_path):
    """``direct_reads: false``: the same files read the ordinary way (the default reads past the
    page cache, each partition while the one before is computed)."""
    cached = _run(database, tmp_path, {}, workers=2, partition_rows=500, direct_reads=False)
    _assert_same(single_worker, cached)


def test_external_scheduler_gives_identical_files(
    database, single_worker, external_scheduler, tmp_path
):
    remote = _run(
        database,
        tmp_path,
        {"cluster": "address", "scheduler_address": external_scheduler},
        workers=2,
        partition_rows=700,
    )
    _assert_same(single_worker, remote)


def test_worker_killed_mid_statistics_changes_nothing(fresh_external_scheduler, tmp_path):
    """SIGKILL one worker process while it holds tasks: Dask reruns them, the bytes stay equal."""
    import signal
    import threading
    import time

    external_scheduler = fresh_external_scheduler
    db = write_database(tmp_path / "db", random_models(12, 4, 65536, seed=1), 65536)
    reference = _run(db, tmp_path / "ref", {}, workers=1, partition_rows=10**9)

    outcome: dict = {}

    def run_remote() -> None:
        config = {"cluster": "address", "scheduler_address": external_scheduler}
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
