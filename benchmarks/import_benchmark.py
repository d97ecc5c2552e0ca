"""Benchmark the published-file import at full scale: throughput and peak memory.

Generates a synthetic v1.0.0 file (float64 (N, 3, 3) filters written in chunks, meta written with
pandas/PyTables and the 4-level index, ResNet-like layer sizes), imports it in a child process
and prints filters/s and the child's peak RSS, which must stay <= 2 GiB whatever N is.

    .venv/bin/python benchmarks/import_benchmark.py                 # 200 M filters, 14.4 GB
    .venv/bin/python benchmarks/import_benchmark.py --n-filters 5e6 --keep

Exit status 1 if the peak RSS exceeds the limit or the import lost filters.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filterdb.config import section  # noqa: E402
from filterdb.db.schema import FILTERS_DIR  # noqa: E402

RSS_LIMIT_MIB = 2048
# Filters per 3x3 conv layer of one synthetic model (~1.9 M filters, like a ResNet-50).
MODEL_LAYERS = [576, 4096] * 3 + [16384] * 4 + [65536] * 6 + [262144] * 3 + [1048576]


def layer_sizes(n_filters: int) -> list[list[int]]:
    """Models of MODEL_LAYERS until n_filters is reached; the last model is cut to fit."""
    models, left = [], n_filters
    while left > 0:
        sizes = []
        for n in MODEL_LAYERS:
            if left == 0:
                break
            sizes.append(min(n, left))
            left -= sizes[-1]
        models.append(sizes)
    return models


def write_published(path: Path, n_filters: int, chunk: int) -> int:
    """Write the synthetic file; return the number of layers."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((min(chunk, n_filters), 9), dtype=np.float32) * 0.05
    with h5py.File(path, "w") as h5:
        dataset = h5.create_dataset("filters", shape=(n_filters, 3, 3), dtype="float64")
        for k, start in enumerate(range(0, n_filters, chunk)):
            stop = min(start + chunk, n_filters)
            values = (base[: stop - start] * np.float32(1 + k / 1000)).astype(np.float64)
            dataset[start:stop] = values.reshape(-1, 3, 3)
    rows, start = [], 0
    for model_id, sizes in enumerate(layer_sizes(n_filters)):
        name = f"synthetic_resnet_{model_id}_imagenet1k_11"
        for depth, n in enumerate(sizes):
            rows.append(
                {
                    "model_id": model_id,
                    "conv_depth": depth,
                    "conv_depth_norm": depth / max(len(sizes) - 1, 1),
                    "layer_id": f"/layer{depth}/Conv",
                    "filter_ids": f"{start}:{start + n - 1}",
                    "model": name,
                    "producer": "pytorch 1.9",
                    "op_set": 11,
                    "depth": 120,
                    "Name": "ResNet-50",
                    "Task": "Classification",
                    "Visual Category": "natural",
                    "Training-Dataset": "imagenet1k",
                    "Pretraining-Dataset": np.nan,
                    "Network": "ResNet",
                    "(3, 3) filters": sum(sizes),
                    "3x3_filter_share": 0.55,
                }
            )
            start += n
    meta = pd.DataFrame(rows).set_index(["model_id", "conv_depth", "conv_depth_norm", "layer_id"])
    meta.to_hdf(path, key="meta", format="table", mode="a")
    return len(rows)


IMPORT_CHILD = """
import dataclasses, json, logging, sys
sys.path.insert(0, sys.argv[1])
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
from filterdb.published import import_published
report = import_published(sys.argv[2], sys.argv[3], chunk_size=int(sys.argv[4]))
# VmHWM: this process image's peak RSS (getrusage would include the pre-exec copy of the parent)
hwm_kib = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({**dataclasses.asdict(report), "peak_rss_kib": hwm_kib}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-filters", type=float, default=200e6)
    parser.add_argument(
        "--chunk-size", type=int, help="import read window; default: the workflow's"
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/filterdb-import-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated file and db")
    args = parser.parse_args()
    n_filters = int(args.n_filters)
    chunk_size = args.chunk_size or section("database")["published_chunk_size"]
    args.workdir.mkdir(parents=True, exist_ok=True)
    published = args.workdir / "synthetic_v1.0.0.h5"
    db = args.workdir / "db"
    shutil.rmtree(db, ignore_errors=True)
    try:
        t0 = time.perf_counter()
        n_layers = write_published(published, n_filters, chunk_size)
        generated = time.perf_counter() - t0
        print(
            f"generated {n_filters:,} filters, {n_layers:,} layers, "
            f"{published.stat().st_size / 1e9:.2f} GB in {generated:.1f} s",
            flush=True,
        )
        t0 = time.perf_counter()
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                IMPORT_CHILD,
                str(REPO),
                str(published),
                str(db),
                str(chunk_size),
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        seconds = time.perf_counter() - t0
        report = json.loads(child.stdout.strip().splitlines()[-1])
        peak_mib = report.pop("peak_rss_kib") / 1024
        stored = sum(
            pq.ParquetFile(p).metadata.num_rows for p in (db / FILTERS_DIR).glob("*.parquet")
        )
        db_bytes = sum(p.stat().st_size for p in db.rglob("*") if p.is_file())
        print(f"import report: {report}")
        print(f"import: {seconds:.1f} s, {n_filters / seconds:,.0f} filters/s")
        print(f"peak RSS of the import process: {peak_mib:,.0f} MiB (limit {RSS_LIMIT_MIB} MiB)")
        print(f"results/db size: {db_bytes / 1e9:.2f} GB; filters stored: {stored:,}")
        ok = peak_mib <= RSS_LIMIT_MIB and stored == n_filters == report["n_filters"]
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if not args.keep:
            published.unlink(missing_ok=True)
            shutil.rmtree(db, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
