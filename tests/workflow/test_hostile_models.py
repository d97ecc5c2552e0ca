"""Hostile and odd checkpoints in one real workflow run, beside two good models.

Each crafted file once hung the run, allocated tens of GiB, escaped the per-model boundary or was
bent silently (see ``hostile_files``). With ``skip_failed_models`` every one must end as its own
model's outcome, a clear ``failures.tsv`` entry or a correct extraction with its skipped layers
counted, while the good models complete; without it, the run fails with the same messages and the
good models' outputs survive. Every job's peak memory is read from Snakemake's benchmark files.
"""

from __future__ import annotations

from pathlib import Path

import hostile_files
import pandas as pd
import pytest

from filterdb.zoo.manifest import load_manifest

GOOD = ("mtcnn_pnet", "mtcnn_rnet")
#: model -> (builder, file name, fragment its failure message must hold; None: it must succeed)
HOSTILE = {
    "loop": (hostile_files.self_referential_pt, "loop.pt", "contain themselves"),
    "huge": (hostile_files.stride0_pt, "huge.pt", "declares shape (100000, 100000, 3, 3)"),
    # the job's RLIMIT_DATA (2 x mem_mb) turns the loader's 8 GB allocation into an error
    "legacy": (hostile_files.legacy_storage_lie_pt, "legacy.pt", "allocate 8000000000 bytes"),
    "orphan": (
        hostile_files.onnx_constant_without_output,
        "orphan.onnx",
        "invalid ONNX graph: Constant node 'orphan' has 0 outputs",
    ),
    "group0": (hostile_files.onnx_group_zero, "group0.onnx", "layer 'W': groups=0"),
    "qonnx": (hostile_files.onnx_quantised, "qonnx.onnx", None),
    "qsafetensors": (hostile_files.safetensors_int8, "qsafetensors.safetensors", None),
    "folder": (None, "folder.pt", "is a directory, not a checkpoint file"),
}
FAILING = {model: fragment for model, (_, _, fragment) in HOSTILE.items() if fragment}
UNBALANCED = '"Deep residual learning'
TARGETS = ("results/db/models.parquet", "results/failures.tsv")
PEAK_LIMIT_MB = 2048


def hostile_zoo(workdir: Path, repo: Path, write_zoo) -> Path:
    """The crafted files under ``hostile/``, listed first, then the test zoo's two good models.

    The cell with an unbalanced quote (row ``qonnx``) once swallowed the rows after it.
    """
    (workdir / "hostile").mkdir()
    rows = []
    for model, (build, name, _) in HOSTILE.items():
        path = workdir / "hostile" / name
        if build is None:
            path.mkdir()
        else:
            build(path)
        rows.append({"model": model, "source": f"file:hostile/{name}", "Task": "Classification"})
    rows[list(HOSTILE).index("qonnx")]["Paper"] = UNBALANCED
    good = load_manifest(repo / "tests/zoo/zoo.tsv").set_index("model", drop=False)
    rows += [good.loc[model].to_dict() for model in GOOD]
    return write_zoo(workdir / "hostile-zoo.tsv", rows)


def peak_rss_mb(workdir: Path, jobs: int) -> dict[str, float]:
    """max_rss of the ``jobs`` download and extraction jobs, from Snakemake's benchmark files."""
    files = sorted((workdir / "results/benchmarks").glob("*/*.tsv"))
    assert len(files) == jobs, files
    return {
        str(f.relative_to(workdir)): float(pd.read_csv(f, sep="\t")["max_rss"].iloc[0])
        for f in files
    }


@pytest.fixture
def hostile_run(tmp_path, repo, copy_workflow, test_zoo_config, snakemake, write_zoo):
    """``hostile_run(skip_failed)``: the workdir and the finished process of one run."""

    def run(skip_failed: bool):
        workdir = copy_workflow(tmp_path / f"skip-{skip_failed}")
        zoo = hostile_zoo(workdir, repo, write_zoo)
        config = test_zoo_config(workdir, zoo=str(zoo), skip_failed_models=skip_failed)
        args = (*TARGETS, "--cores", "2", "--keep-going", *config)
        return workdir, snakemake(workdir, *args, check=skip_failed, timeout=900)

    return run


def test_with_skipping_each_hostile_model_is_its_own_outcome(hostile_run):
    workdir, _ = hostile_run(True)
    failures = pd.read_csv(workdir / "results/failures.tsv", sep="\t", keep_default_na=False)
    assert sorted(failures["model"]) == sorted(FAILING)
    for model, error in zip(failures["model"], failures["error"], strict=True):
        assert f"model {model!r}" in error and FAILING[model] in error, error

    models = pd.read_parquet(workdir / "results/db/models.parquet").set_index("model")
    assert sorted(models.index) == sorted([*GOOD, "qonnx", "qsafetensors"])
    assert (models.loc[list(GOOD), "n_filters"] > 0).all()
    assert models.loc["qonnx", "skipped_layers"] == 2
    assert models.loc["qonnx", "skipped_reasons"] == (
        "QLinearConv (quantised weights): 1; weight stored as INT8, not floating point: 1"
    )
    assert models.loc["qsafetensors", "skipped_reasons"] == "stored as int8, not floating point: 1"
    assert (models.loc[["qonnx", "qsafetensors"], "n_filters"] == 8).all()
    assert (models.loc[list(GOOD), "skipped_reasons"] == "").all()
    assert models.loc["qonnx", "Paper"] == UNBALANCED  # verbatim, and no row swallowed

    peaks = peak_rss_mb(workdir, 2 * len(HOSTILE) + 2 * len(GOOD))
    assert max(peaks.values()) < PEAK_LIMIT_MB, peaks


def test_without_skipping_the_run_fails_with_the_same_messages_and_good_models_survive(
    hostile_run,
):
    workdir, proc = hostile_run(False)
    assert proc.returncode != 0
    for model, fragment in FAILING.items():
        stage = "download" if model == "folder" else "extract"
        log = (workdir / f"logs/{stage}/{model}.log").read_text()
        assert f"model {model!r}" in log and fragment in log, log[-2000:]
    for model in (*GOOD, "qonnx", "qsafetensors"):
        assert (workdir / f"results/db/filters/{model}.parquet").is_file(), model
    assert not (workdir / "results/db/models.parquet").exists()
    # a benchmark per finished job: not the failed ones, nor folder's extraction, never started
    peaks = peak_rss_mb(workdir, 2 * len(HOSTILE) + 2 * len(GOOD) - len(FAILING) - 1)
    assert max(peaks.values()) < PEAK_LIMIT_MB, peaks
