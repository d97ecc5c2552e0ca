"""workflow_scripts/extract_filters.py run by a real Snakemake on a tiny checkpoint."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import torch
from torch import nn

SCRIPT = Path(__file__).resolve().parents[1] / "workflow_scripts" / "extract_filters.py"

SNAKEFILE = f"""
rule extract:
    input:
        checkpoint="models/{{model}}",
    output:
        filters="db/filters/{{model}}.parquet",
        layers="layers/{{model}}.parquet",
        summary="summary/{{model}}.json",
    params:
        model="{{model}}",
        source=lambda w: f"file:{{w.model}}.pt",
        filename=lambda w: f"{{w.model}}.pt",
        row_group_size=4,
        skip_failed=lambda w: w.model.startswith("skip"),
    log:
        "logs/{{model}}.log",
    threads: 1
    script:
        "{SCRIPT}"
"""


def snakemake(workdir: Path, *targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", "Snakefile", "-c1", "--keep-going", *targets],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


class Evil:
    def __reduce__(self):
        return (os.system, ("touch payload-ran",))


def test_script_writes_outputs_and_logs_failures(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 3, 3), nn.Conv2d(3, 1, 1))
    for name in ("tiny", "evil", "skipevil"):
        (tmp_path / "models" / name).mkdir(parents=True)
    torch.save(net.state_dict(), tmp_path / "models/tiny/tiny.pt")
    evil = pickle.dumps({"w": Evil()}, protocol=2)
    (tmp_path / "models/evil/evil.pt").write_bytes(evil)
    (tmp_path / "models/skipevil/skipevil.pt").write_bytes(evil)

    proc = snakemake(tmp_path, "summary/tiny.json", "summary/evil.json", "summary/skipevil.json")
    assert proc.returncode != 0  # the evil job fails, the tiny one still runs
    summary = json.loads((tmp_path / "summary/tiny.json").read_text())
    assert summary["n_filters"] == 2 + 6
    filters = pq.ParquetFile(tmp_path / "db/filters/tiny.parquet")
    assert [filters.metadata.row_group(i).num_rows for i in range(2)] == [2, 6]
    assert pq.read_table(tmp_path / "layers/tiny.parquet").num_rows == 2
    assert '"n_filters": 8' in (tmp_path / "logs/tiny.log").read_text()

    log = (tmp_path / "logs/evil.log").read_text()
    assert "model 'evil'" in log and "refused" in log and "posix.system" in log
    assert not (tmp_path / "payload-ran").exists()
    assert not (tmp_path / "db/filters/evil.parquet").exists()

    # with skip_failed the same checkpoint yields empty outputs and a summary naming the error
    skipped = json.loads((tmp_path / "summary/skipevil.json").read_text())
    assert "refused" in skipped["error"] and skipped["n_filters"] == 0
    assert pq.read_table(tmp_path / "db/filters/skipevil.parquet").num_rows == 0
