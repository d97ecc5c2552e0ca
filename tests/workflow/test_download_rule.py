"""Rule ``download_model`` of the real workflow on ``file:`` sources (no network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

DATA = b"weights" * 5000
DIGEST = hashlib.sha256(DATA).hexdigest()


def make_workdir(tmp_path: Path, copy_workflow, write_zoo, skip_failed: bool) -> Path:
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "local").mkdir()
    (workdir / "local" / "net.pt").write_bytes(DATA)
    rows = [
        {"model": "good", "source": "file:local/net.pt", "sha256": DIGEST},
        {"model": "bad", "source": "file:local/net.pt", "sha256": "b" * 64},
    ]
    write_zoo(workdir / "zoo.tsv", rows)
    config = {"zoo": "zoo.tsv", "skip_failed_models": skip_failed}
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))
    return workdir


def download(snakemake, workdir: Path, *models: str, check: bool = True):
    targets = [f"resources/models/{model}" for model in models]
    return snakemake(workdir, *targets, "--cores", "2", "--configfile", "run.yaml", check=check)


def visible(directory: Path) -> list[str]:
    """File names in a directory output, without Snakemake's own hidden timestamp file."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def test_script_writes_checkpoints_and_records_failures_with_skip_failed(
    tmp_path, copy_workflow, write_zoo, snakemake
):
    workdir = make_workdir(tmp_path, copy_workflow, write_zoo, skip_failed=True)
    download(snakemake, workdir, "good", "bad")
    assert visible(workdir / "resources/models/good") == ["good.pt"]
    assert (workdir / "resources/models/good/good.pt").read_bytes() == DATA
    assert "wrote resources/models/good/good.pt" in (workdir / "logs/download/good.log").read_text()
    assert visible(workdir / "resources/models/bad") == ["FAILED"]
    recorded = (workdir / "resources/models/bad/FAILED").read_text()
    assert recorded.startswith("model 'bad' (") and f"expected {'b' * 64}" in recorded
    assert "sha256 mismatch" in (workdir / "logs/download/bad.log").read_text()


def test_failure_fails_the_job_without_skip_failed(tmp_path, copy_workflow, write_zoo, snakemake):
    workdir = make_workdir(tmp_path, copy_workflow, write_zoo, skip_failed=False)
    proc = download(snakemake, workdir, "bad", check=False)
    assert proc.returncode != 0
    log = (workdir / "logs/download/bad.log").read_text()
    assert "ModelError: model 'bad'" in log and "sha256 mismatch" in log
    assert not (workdir / "resources/models/bad").exists()
