"""Rule ``extract_filters`` of the real workflow on tiny local checkpoints, one of them hostile."""

from __future__ import annotations

import json
import os
import pickle

import pyarrow.parquet as pq
import torch
import yaml
from torch import nn


class Evil:
    def __reduce__(self):
        return (os.system, ("touch payload-ran",))


def test_script_writes_outputs_and_logs_failures(tmp_path, copy_workflow, write_zoo, snakemake):
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "local").mkdir()
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 3, 3), nn.Conv2d(3, 1, 1))
    torch.save(net.state_dict(), workdir / "local/tiny.pt")
    evil = pickle.dumps({"w": Evil()}, protocol=2)
    (workdir / "local/evil.pt").write_bytes(evil)
    (workdir / "local/skipevil.pt").write_bytes(evil)
    models = ("tiny", "evil", "skipevil")
    write_zoo(workdir / "zoo.tsv", [{"model": m, "source": f"file:local/{m}.pt"} for m in models])
    config = {"zoo": "zoo.tsv", "extraction": {"row_group_size": 4}}
    (workdir / "run.yaml").write_text(yaml.safe_dump(config))

    def extract(*names: str, skip_failed: bool = False, check: bool = True):
        targets = [f"results/extract/{name}/model.json" for name in names]
        skip = f"skip_failed_models={skip_failed}"
        return snakemake(
            workdir, *targets, "--cores", "2", "--keep-going", "--configfile", "run.yaml",
            "--config", skip, check=check,
        )  # fmt: skip

    proc = extract("tiny", "evil", check=False)
    assert proc.returncode != 0  # the evil job fails, the tiny one still runs
    summary = json.loads((workdir / "results/extract/tiny/model.json").read_text())
    assert summary["n_filters"] == 2 + 6
    filters = pq.ParquetFile(workdir / "results/db/filters/tiny.parquet")
    assert [filters.metadata.row_group(i).num_rows for i in range(2)] == [2, 6]
    assert pq.read_table(workdir / "results/extract/tiny/layers.parquet").num_rows == 2
    assert '"n_filters": 8' in (workdir / "logs/extract/tiny.log").read_text()

    log = (workdir / "logs/extract/evil.log").read_text()
    assert "model 'evil'" in log and "refused" in log and "posix.system" in log
    assert not (workdir / "payload-ran").exists()
    assert not (workdir / "results/db/filters/evil.parquet").exists()

    # with skip_failed the same checkpoint yields empty outputs and a summary naming the error
    extract("skipevil", skip_failed=True)
    skipped = json.loads((workdir / "results/extract/skipevil/model.json").read_text())
    assert "refused" in skipped["error"] and skipped["n_filters"] == 0
    assert pq.read_table(workdir / "results/db/filters/skipevil.parquet").num_rows == 0
    assert not (workdir / "payload-ran").exists()
