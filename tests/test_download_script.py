"""workflow_scripts/download_model.py under a real Snakemake run (``file:`` sources, no network)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = b"weights" * 5000
DIGEST = hashlib.sha256(DATA).hexdigest()

SNAKEFILE = """
SOURCES = {{"good": ("file:local/net.pt", "{good}"), "bad": ("file:local/net.pt", "{bad}"),
           "bad2": ("file:local/net.pt", "{bad}")}}

rule all:
    input: expand("resources/models/{{model}}", model=config["models"])

rule download_model:
    output: directory("resources/models/{{model}}")
    params:
        model="{{model}}",
        source=lambda wc: SOURCES[wc.model][0],
        sha256=lambda wc: SOURCES[wc.model][1],
        filename="{{model}}.pt",
        download={{"retries": 0, "backoff_seconds": 0, "connect_timeout": 5, "read_timeout": 5,
                  "allow_loopback_http": False, "timm_init_seed": 0,
                  "wheel_cache_dir": "resources/wheels"}},
        skip_failed=config["skip_failed"],
    log: "logs/download/{{model}}.log"
    script: "{script}"
"""


def run_snakemake(workdir: Path, models: str, skip_failed: bool) -> subprocess.CompletedProcess:
    config = [f"models={models}", f"skip_failed={skip_failed}"]
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--config", *config]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)


def make_workdir(tmp_path: Path) -> Path:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "net.pt").write_bytes(DATA)
    script = REPO / "workflow_scripts" / "download_model.py"
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(good=DIGEST, bad="b" * 64, script=script))
    return tmp_path


def visible(directory: Path) -> list[str]:
    """File names in a directory output, without Snakemake's own hidden timestamp file."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def test_script_writes_checkpoints_and_records_failures_with_skip_failed(tmp_path):
    workdir = make_workdir(tmp_path)
    proc = run_snakemake(workdir, "[good,bad]", skip_failed=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert visible(workdir / "resources/models/good") == ["good.pt"]
    assert (workdir / "resources/models/good/good.pt").read_bytes() == DATA
    assert "wrote resources/models/good/good.pt" in (workdir / "logs/download/good.log").read_text()
    assert visible(workdir / "resources/models/bad") == ["FAILED"]
    recorded = (workdir / "resources/models/bad/FAILED").read_text()
    assert recorded.startswith("model 'bad' (") and f"expected {'b' * 64}" in recorded
    assert "sha256 mismatch" in (workdir / "logs/download/bad.log").read_text()


def test_failure_fails_the_job_without_skip_failed(tmp_path):
    workdir = make_workdir(tmp_path)
    proc = run_snakemake(workdir, "[bad2]", skip_failed=False)
    assert proc.returncode != 0
    log = (workdir / "logs/download/bad2.log").read_text()
    assert "ModelError: model 'bad2'" in log and "sha256 mismatch" in log
    assert not (workdir / "resources/models/bad2").exists()
