"""The workflow and the statistics on a real SLURM: the one-node cluster of .ci/slurm/start.sh.

Outside CI these tests skip when SLURM is not installed; in CI (CI set) they fail instead, and
they fail anywhere when SLURM is installed but its partition is not up.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch
from dask_graph import deterministic_graph, expected_result
from torch import nn

from filterdb.stats.cluster import dask_client
from filterdb.stats.options import StatsOptions
from filterdb.stats.outputs import write_outputs
from filterdb.stats.runner import run_statistics

pytestmark = [pytest.mark.slurm]

PARTITION = os.environ.get("FILTERDB_SLURM_TEST_PARTITION", "ci")
# start.sh's jobcomp/filetxt log: slurmctld's own record of every job that ran.
JOBCOMP_LOG = Path(os.environ.get("FILTERDB_SLURM_JOBCOMP_LOG", "/var/log/slurm/jobcomp.log"))
DB_TARGETS = ("results/db/models.parquet", "results/db/layers.parquet")
# The repository's SLURM profile, fitted to the 2-CPU test node. The test cluster has no
# accounting database, so job states come from squeue (start.sh keeps finished jobs there for
# MinJobAge=300 s, far above 3x the 2 s first check); short jobs want an early first check.
SLURM_ARGS = (
    "--workflow-profile",
    "profiles/slurm",
    "--cores",
    "2",
    "--jobs",
    "4",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
)
SLURM_DASK = {
    "cluster": "slurm",
    "slurm": {
        "workers": 2,
        "cores": 1,
        "memory": "2GB",
        "walltime": "00:15:00",
        "queue": PARTITION,
        "interface": "lo",
        "startup_timeout": 180,
    },
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module", autouse=True)
def slurm_partition() -> Iterator[str]:
    """The test partition, up; the profile reads it from FILTERDB_SLURM_PARTITION."""
    if shutil.which("sinfo") is None:
        if _in_ci():
            pytest.fail(
                "CI must run the SLURM tests: bash .ci/slurm/install.sh && bash .ci/slurm/start.sh"
            )
        pytest.skip("SLURM is not installed (no sinfo)")
    state = subprocess.run(
        ["sinfo", "-h", "-p", PARTITION, "-o", "%a"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if state.returncode != 0 or "up" not in state.stdout.split():
        pytest.fail(
            f"SLURM partition {PARTITION!r} is not up ({state.stderr.strip() or 'not listed'});"
            " start the test cluster with: bash .ci/slurm/start.sh"
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FILTERDB_SLURM_PARTITION", PARTITION)
        yield PARTITION


@pytest.fixture(scope="module")
def local_db(tmp_path_factory, copy_workflow, test_zoo_config, snakemake) -> Path:
    """results/db of the test zoo built by a plain local run: the reference."""
    workdir = copy_workflow(tmp_path_factory.mktemp("local") / "wf")
    snakemake(workdir, *DB_TARGETS, "--cores", "2", *test_zoo_config(workdir), timeout=600)
    return workdir / "results" / "db"


def _jobcomp() -> dict[int, dict[str, str]]:
    """slurmctld's completion records by SLURM job id (later records win)."""
    records = {}
    for line in JOBCOMP_LOG.read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" in fields:
            records[int(fields["JobId"])] = fields
    return records


def _scheduled_jobs(log: str) -> list[tuple[str, int, bool]]:
    """(rule, snakemake jobid, ran locally) of every job the log shows being started."""
    jobs = []
    rule = None
    for line in log.splitlines():
        start = re.match(r"\s*(localrule|rule) (\w+):$", line)
        if start:
            rule = (start[2], start[1] == "localrule")
            continue
        jobid = re.match(r"\s*jobid: (\d+)$", line)
        if jobid and rule:
            jobs.append((rule[0], int(jobid[1]), rule[1]))
            rule = None
    return jobs


def _submissions(log: str) -> dict[str, int]:
    """Snakemake job (number, or group uuid) -> SLURM job id, from the executor's log lines."""
    found = re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+)", log)
    return {job: int(slurm_id) for job, slurm_id in found}


def _same_tree(left: Path, right: Path) -> list[str]:
    """Relative paths that differ in presence or bytes between two directory trees."""
    files = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    files |= {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    return sorted(
        str(f)
        for f in files
        if not ((left / f).is_file() and (right / f).is_file())
        or not filecmp.cmp(left / f, right / f, shallow=False)
    )


def test_slurm_dask_workers_compute_the_local_result() -> None:
    with dask_client(SLURM_DASK, n_workers=1, memory_mb=1024) as client:
        client.wait_for_workers(2, timeout=180)
        # A lambda travels by value; os.environ.get would carry this process's environment.
        slurm_jobs = set(client.run(lambda: os.environ.get("SLURM_JOB_ID")).values())
        result = client.compute(deterministic_graph()).result()
    assert None not in slurm_jobs and len(slurm_jobs) == 2  # each worker is its own SLURM job
    assert (result == expected_result()).all()
    # Torn down on exit: no worker job is still queued or running.
    queued = subprocess.run(
        ["squeue", "-h", "-o", "%i", "-t", "PENDING,RUNNING", "-j", ",".join(slurm_jobs)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert queued.stdout.split() == []


def test_slurm_workers_that_never_start_raise_a_timeout_naming_the_cause() -> None:
    # More memory than the test node has: SLURM refuses the worker jobs, so none ever joins.
    section = {
        "cluster": "slurm",
        "slurm": {**SLURM_DASK["slurm"], "memory": "4000GB", "startup_timeout": 5},
    }
    with (
        pytest.raises(TimeoutError, match="no Dask worker joined within 5 s"),
        dask_client(section, n_workers=1, memory_mb=1024),
    ):
        pytest.fail("dask_client yielded without a worker")


@pytest.mark.slow
def test_statistics_are_identical_on_local_external_and_slurm_workers(
    local_db: Path, external_scheduler: str, tmp_path: Path
) -> None:
    options = StatsOptions.from_params(
        {
            "partition_rows": 65536,
            "kde_grid_points": 64,
            "randomness_max_n": 1 << 14,
            "randomness_points": 6,
            "randomness_repeats": 2,
        }
    )
    places = {
        "local": {"cluster": "local"},
        "address": {"cluster": "address", "scheduler_address": external_scheduler},
        "slurm": SLURM_DASK,
    }
    for name, section in places.items():
        with dask_client(section, n_workers=2, memory_mb=2048) as client:
            result = run_statistics(local_db, options, client)
        write_outputs(result, (tmp_path / name))
    assert len(list((tmp_path / "local").rglob("*.csv"))) > 5
    assert _same_tree(tmp_path / "local", tmp_path / "address") == []
    assert _same_tree(tmp_path / "local", tmp_path / "slurm") == []


@pytest.mark.slow
def test_zoo_database_on_slurm_matches_the_local_run(
    local_db: Path, tmp_path: Path, copy_workflow, test_zoo_config, snakemake
) -> None:
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, *DB_TARGETS, *SLURM_ARGS, *test_zoo_config(workdir), timeout=420)
    log = proc.stdout + proc.stderr
    jobs = _scheduled_jobs(log)
    submitted = _submissions(log)
    local = {jobid for _, jobid, is_local in jobs if is_local}
    remote = {jobid: rule for rule, jobid, is_local in jobs if not is_local}

    # Downloads stayed on the submit host (cluster.download_local defaults to true); every other
    # job went to SLURM, alone or bundled in a group job.
    assert {rule for rule, _, is_local in jobs if is_local} == {"download_model"}
    assert set(remote.values()) == {"extract_filters", "assemble_database"}
    single = {int(job) for job in submitted if job.isdigit()}
    groups = [job for job in submitted if not job.isdigit()]
    assert not single & local
    assert {remote[j] for j in single} == {"assemble_database"}
    assert len(groups) == log.count("Group job per_model") == 1  # 5 models <= 20 per group
    assert {remote[j] for j in set(remote) - single} == {"extract_filters"}
    finished = {int(j) for j in re.findall(r"Finished jobid: (\d+)", log)}
    assert set(remote) <= finished

    # slurmctld ran exactly these jobs for this run (job name = the run's id) and they completed.
    run_id = re.search(r"SLURM run ID: (\S+)", log)[1]
    records = _jobcomp()
    assert {i for i, r in records.items() if r.get("Name") == run_id} == set(submitted.values())
    assert {records[i]["JobState"] for i in submitted.values()} == {"COMPLETED"}

    assert _same_tree(local_db, workdir / "results" / "db") == []


def _tiny_checkpoint(path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)


@pytest.mark.slow
def test_failed_slurm_job_is_reported_and_a_rerun_resumes(
    tmp_path: Path, copy_workflow, write_zoo, snakemake
) -> None:
    workdir = copy_workflow(tmp_path / "wf")
    rows = [
        {"model": "tiny_early", "source": "file:checkpoints/tiny_early.pt"},
        {"model": "tiny_late", "source": "file:incoming/tiny_late.pt"},
    ]
    write_zoo(workdir / "tiny_zoo.tsv", rows)
    (workdir / "tiny.yaml").write_text("zoo: tiny_zoo.tsv\ncluster:\n  download_local: false\n")
    _tiny_checkpoint(workdir / "checkpoints/tiny_early.pt", seed=1)
    # Each model's download and extraction in one SLURM job; no retry of the failure.
    args = (
        *DB_TARGETS,
        *SLURM_ARGS,
        "--retries",
        "0",
        "--groups",
        "download_model=per_model",
        "extract_filters=per_model",
        "--group-components",
        "per_model=1",
        "--set-resources",
        "download_model:group_width=1",
        "extract_filters:group_width=1",
        "--configfile",
        "tests/zoo/config.yaml",
        "tiny.yaml",
    )

    first = snakemake(workdir, *args, timeout=300, check=False)
    log = first.stdout + first.stderr
    assert first.returncode not in (0, 124, 137), log[-3000:]
    # Reported as a failed group whose log is the SLURM job's, and SLURM saw that job fail.
    failed = re.findall(r"message: Error in group per_model\s+log: \S+/(\d+)\.log", log)
    assert len(failed) == 1, log[-3000:]
    records = _jobcomp()
    assert records[int(failed[0])]["JobState"] == "FAILED"
    assert {records[i]["JobState"] for i in _submissions(log).values()} == {"FAILED", "COMPLETED"}
    assert (
        "local checkpoint file not found" in (workdir / "logs/download/tiny_late.log").read_text()
    )
    early = workdir / "results/db/filters/tiny_early.parquet"
    assert early.is_file()
    assert not (workdir / "results/db/filters/tiny_late.parquet").exists()
    assert not (workdir / "results/db/models.parquet").exists()
    early_stat = early.stat()

    _tiny_checkpoint(workdir / "incoming/tiny_late.pt", seed=2)
    second = snakemake(workdir, *args, timeout=300)
    log = second.stdout + second.stderr
    rerun = {rule for rule, _, _ in _scheduled_jobs(log)}
    assert rerun == {"download_model", "extract_filters", "assemble_database"}
    assert set(re.findall(r"wildcards: model=(\S+)", log)) == {"tiny_late"}
    assert early.stat().st_mtime_ns == early_stat.st_mtime_ns
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    assert list(models["model"]) == ["tiny_early", "tiny_late"]
