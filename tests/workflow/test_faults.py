"""Whole-workflow faults: failing models, killed runs, resumption.

These run the real workflow on the test zoo. A model that fails must not cost the others their
results; a run killed with SIGKILL at any stage must, after a rerun, give a database and statistics
byte-identical to an undisturbed run.
"""

from __future__ import annotations

import base64
import contextlib
import filecmp
import os
import re
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from filterdb.stats.files import STATS_FILES

BAD_ROW = "broken_model\tfile:does-not-exist.pt" + "\t" * 15 + "\n"


def add_bad_model(workdir: Path) -> None:
    with open(workdir / "tests/zoo/zoo.tsv", "a") as fh:
        fh.write(BAD_ROW)


def result_files(workdir: Path) -> list[Path]:
    roots = [workdir / "results/db", workdir / "results/stats"]
    return sorted(p.relative_to(workdir) for r in roots for p in r.rglob("*") if p.is_file())


def test_failing_model_fails_the_run_but_others_survive_and_rerun_resumes(
    tmp_path, copy_workflow, test_zoo_config, snakemake
):
    workdir = copy_workflow(tmp_path / "wf")
    add_bad_model(workdir)
    config = test_zoo_config(workdir)
    proc = snakemake(workdir, "--cores", "2", "--keep-going", *config, check=False, timeout=1200)
    assert proc.returncode != 0
    log = (workdir / "logs/download/broken_model.log").read_text()
    assert "model 'broken_model'" in log and "does-not-exist.pt" in log
    survivors = sorted(p.stem for p in (workdir / "results/db/filters").glob("*.parquet"))
    assert survivors == sorted(
        [
            "mtcnn_pnet",
            "mtcnn_rnet",
            "ppocr_mobile_cls",
            "regnetx_002_init",
            "mobilenetv3_small_100_init",
        ]
    )
    # the user supplies the file; the rerun only does the missing work
    import torch

    torch.save({"conv.weight": torch.ones(2, 1, 3, 3)}, workdir / "does-not-exist.pt")
    dry = snakemake(workdir, "-n", "--cores", "2", *config)
    assert "wildcards: model=broken_model" in dry.stdout
    assert "wildcards: model=regnetx_002_init" not in dry.stdout
    snakemake(workdir, "--cores", "2", *config, timeout=1200)
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    assert "broken_model" in set(models["model"])


def test_skip_failed_models_builds_from_the_others(
    tmp_path, copy_workflow, test_zoo_config, snakemake
):
    workdir = copy_workflow(tmp_path / "wf")
    add_bad_model(workdir)
    config = test_zoo_config(workdir, skip_failed_models=True)
    snakemake(workdir, "--cores", "2", *config, timeout=1500)
    failures = pd.read_csv(workdir / "results/failures.tsv", sep="\t")
    assert list(failures["model"]) == ["broken_model"]
    assert "does-not-exist.pt" in failures.loc[0, "error"]
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    assert "broken_model" not in set(models["model"]) and len(models) == 5
    assert (workdir / "results/stats" / STATS_FILES["pca_basis"]).is_file()
    snakemake(workdir, "--cores", "1", *config, "--report", "results/report.html")
    report = (workdir / "results/report.html").read_text()
    embedded = re.search(r"filename=failures\.tsv;base64,([A-Za-z0-9+/=]+)", report)
    assert embedded, "the report does not include results/failures.tsv"
    assert base64.b64decode(embedded.group(1)) == (workdir / "results/failures.tsv").read_bytes()


def run_and_kill(
    snakemake, workdir: Path, config: list[str], marker: str, timeout: float = 600
) -> None:
    """Start the workflow and SIGKILL its whole process group once a new ``marker`` file appears.

    Each stage's script opens its log first, so a new log file means that stage is running.
    """
    before = set(workdir.glob(marker))
    proc = snakemake.start(workdir, "--cores", "2", *config)
    deadline = time.monotonic() + timeout
    try:
        while not set(workdir.glob(marker)) - before:
            assert proc.poll() is None, f"the run ended before {marker} appeared"
            assert time.monotonic() < deadline, f"{marker} never appeared"
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_sigkill_at_each_stage_then_rerun_is_byte_identical(
    tmp_path, copy_workflow, test_zoo_config, snakemake
):
    reference = copy_workflow(tmp_path / "reference")
    snakemake(reference, "--cores", "2", *test_zoo_config(reference), timeout=1500)

    workdir = copy_workflow(tmp_path / "killed")
    config = test_zoo_config(workdir)
    for marker in ("logs/download/*.log", "logs/extract/*.log", "logs/statistics.log"):
        run_and_kill(snakemake, workdir, config, marker)
        snakemake(workdir, "--unlock", *config)
    snakemake(workdir, "--cores", "2", "--rerun-incomplete", *config, timeout=1500)

    files = result_files(reference)
    assert files == result_files(workdir)
    _, mismatch, errors = filecmp.cmpfiles(reference, workdir, files, shallow=False)
    assert not mismatch and not errors
