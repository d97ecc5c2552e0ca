"""Benchmark the published-file import at full scale against its I/O floor and the old import.

Generates a synthetic v1.0.0 file (float64 (N, 3, 3) filters written in chunks, meta written with
pandas/PyTables and the 4-level index, ResNet-like layer sizes), then on that one file measures:

* plain read: ``read_direct`` of the whole dataset in windows of the import's chunk size;
* plain write: as many bytes as the new import wrote (its results/db), from one buffer, fsync'd;
* the disk's floor: the same read and write past the page cache (``O_DIRECT``, as the import
  does them; ``filterdb.direct_io``), so what neither the cache's state nor its CPU cost sets;
* old import: the package exported from ``--compare-ref`` (default HEAD) with ``git archive``;
* new import: the working tree's package.

Each import runs in a child process whose peak RSS must stay <= 2 GiB whatever N is; both write
their own results/db, which must hold identical tables. Prints seconds and filters/s of each, the
ratio import / (plain read + plain write) (target <= 2.0), the ratio to the disk's floor, and the
old/new speed ratio.

    .venv/bin/python benchmarks/import_benchmark.py                 # 200 M filters, 14.4 GB
    .venv/bin/python benchmarks/import_benchmark.py --n-filters 5e6 --keep
    .venv/bin/python benchmarks/import_benchmark.py --compare-ref ""   # new import only

Exit status 1 if the peak RSS exceeds the limit, the import lost filters or the two imports'
tables differ.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.revision import export_package  # noqa: E402
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
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
from filterdb.published import import_published
report = import_published(sys.argv[2], sys.argv[3], progress=False, **json.loads(sys.argv[4]))
# VmHWM: this process image's peak RSS (getrusage would include the pre-exec copy of the parent)
hwm_kib = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({**dataclasses.asdict(report), "peak_rss_kib": hwm_kib}))
"""
WRITE_BLOCK = 64 << 20


def plain_read(published: Path, chunk_size: int) -> float:
    """Seconds to read the whole filters dataset with read_direct into one reused buffer."""
    t0 = time.perf_counter()
    with h5py.File(published, "r") as h5:
        dataset = h5["filters"]
        n_rows = dataset.shape[0]
        buffer = np.empty((min(chunk_size, n_rows), *dataset.shape[1:]), dataset.dtype)
        for start in range(0, n_rows, len(buffer)):
            stop = min(start + len(buffer), n_rows)
            dataset.read_direct(buffer, np.s_[start:stop], np.s_[0 : stop - start])
    return time.perf_counter() - t0


def plain_write(path: Path, n_bytes: int, direct: bool = False) -> float:
    """Seconds to write ``n_bytes`` to a new file from one buffer and fsync it (then delete it):
    with ``os`` writes through the page cache, or ``direct`` past it (``O_DIRECT``, as the import
    writes)."""
    from filterdb.direct_io import DirectWriter

    block = np.random.default_rng(1).integers(0, 256, WRITE_BLOCK, dtype=np.uint8).tobytes()
    t0 = time.perf_counter()
    with DirectWriter(path) if direct else open(path, "wb") as out:
        for start in range(0, n_bytes, WRITE_BLOCK):
            out.write(block[: min(WRITE_BLOCK, n_bytes - start)])
    with open(path, "rb") as written:
        os.fsync(written.fileno())
    seconds = time.perf_counter() - t0
    path.unlink()
    return seconds


def direct_read(published: Path, chunk_size: int) -> float:
    """Seconds to read every byte of the file past the page cache, in windows of ``chunk_size``
    rows of the filters dataset."""
    from filterdb.direct_io import DirectReader

    with h5py.File(published, "r") as h5:
        window = chunk_size * h5["filters"].nbytes // h5["filters"].shape[0]
    size = published.stat().st_size
    reader = DirectReader(published)
    t0 = time.perf_counter()
    for offset in range(0, size, window):
        reader.read_at(offset, min(window, size - offset))
    seconds = time.perf_counter() - t0
    reader.close()
    return seconds


def run_import(package_root: Path, published: Path, db: Path, **kwargs: int) -> dict:
    """Import in a child process with ``package_root`` first on sys.path; its report, the
    seconds taken and the child's peak RSS in MiB."""
    shutil.rmtree(db, ignore_errors=True)
    t0 = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", IMPORT_CHILD, str(package_root), str(published), str(db)]
        + [json.dumps(kwargs)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - t0
    report = json.loads(child.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "peak_mib": report.pop("peak_rss_kib") / 1024, "report": report}


def db_files(db: Path) -> list[Path]:
    """Every file under ``db``, relative to it, sorted."""
    return sorted(p.relative_to(db) for p in db.rglob("*") if p.is_file())


def same_content(a: Path, b: Path) -> bool:
    """Whether two databases hold the same files with the same columns (names, types, values;
    codec, nullability and row groups aside): the old import may have written another layout."""
    files = db_files(a)
    return files == db_files(b) and all(_same_columns(a / f, b / f) for f in files)


def _same_columns(a: Path, b: Path) -> bool:
    left, right = pq.read_table(a), pq.read_table(b)
    return left.column_names == right.column_names and all(
        x.equals(y) for x, y in zip(left.columns, right.columns, strict=True)
    )


def print_timing(label: str, seconds: float, n_filters: int) -> None:
    print(f"{label:<12} {seconds:8.1f} s  {n_filters / seconds:>14,.0f} filters/s")


def check_import(result: dict, db: Path, n_filters: int) -> bool:
    """Print the import's memory and size; whether it kept every filter within the RSS limit."""
    stored = sum(pq.ParquetFile(p).metadata.num_rows for p in (db / FILTERS_DIR).glob("*.parquet"))
    db_bytes = sum((db / f).stat().st_size for f in db_files(db))
    print(f"  report: {result['report']}")
    print(f"  peak RSS {result['peak_mib']:,.0f} MiB (limit {RSS_LIMIT_MIB} MiB)")
    print(f"  results/db {db_bytes / 1e9:.2f} GB; filters stored: {stored:,}")
    return (
        result["peak_mib"] <= RSS_LIMIT_MIB and stored == n_filters == result["report"]["n_filters"]
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-filters", type=float, default=200e6)
    parser.add_argument(
        "--chunk-size", type=int, help="import read window; default: the workflow's"
    )
    parser.add_argument("--workers", type=int, help="new import's threads; default: its own")
    parser.add_argument(
        "--compare-ref", default="HEAD", help="git ref of the old import; '' to skip it"
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/filterdb-import-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated file and dbs")
    return parser.parse_args()


def benchmark(args: argparse.Namespace, published: Path, old_root: Path | None) -> bool:
    """Run the four measurements on one generated file and print them; whether all checks hold."""
    n_filters = int(args.n_filters)
    chunk_size = args.chunk_size or section("database")["published_chunk_size"]
    t0 = time.perf_counter()
    n_layers = write_published(published, n_filters, chunk_size)
    print(
        f"generated {n_filters:,} filters, {n_layers:,} layers, "
        f"{published.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    read_s = plain_read(published, chunk_size)
    print_timing("plain read", read_s, n_filters)
    new_kwargs = {"chunk_size": chunk_size} | ({"workers": args.workers} if args.workers else {})
    new = run_import(REPO, published, args.workdir / "db", **new_kwargs)
    new_bytes = sum((args.workdir / "db" / f).stat().st_size for f in db_files(args.workdir / "db"))
    write_s = plain_write(args.workdir / "plain_write.bin", new_bytes)
    print_timing("plain write", write_s, n_filters)
    print(f"  ({new_bytes / 1e9:.2f} GB: the bytes the new import wrote, os write + fsync)")
    floor_read_s = direct_read(published, chunk_size)
    print_timing("direct read", floor_read_s, n_filters)
    floor_write_s = plain_write(args.workdir / "direct_write.bin", new_bytes, direct=True)
    print_timing("direct write", floor_write_s, n_filters)
    ok = True
    if old_root is not None:
        # The old import with its own defaults, unless a window was asked for.
        old_kwargs = {"chunk_size": args.chunk_size} if args.chunk_size else {}
        old = run_import(old_root, published, args.workdir / "db_old", **old_kwargs)
        print_timing(f"old import ({args.compare_ref})", old["seconds"], n_filters)
        ok &= check_import(old, args.workdir / "db_old", n_filters)
    print_timing("new import", new["seconds"], n_filters)
    ok &= check_import(new, args.workdir / "db", n_filters)
    ratio = new["seconds"] / (read_s + write_s)
    print(f"new import / (plain read + plain write) = {ratio:.2f} (target <= 2.0)")
    floor = new["seconds"] / (floor_read_s + floor_write_s)
    print(f"new import / (direct read + direct write), the disk's floor = {floor:.2f}")
    if old_root is not None:
        identical = same_content(args.workdir / "db_old", args.workdir / "db")
        print(f"old / new import time = {old['seconds'] / new['seconds']:.2f}")
        print(f"old and new results/db hold identical tables: {identical}")
        ok &= identical
    return ok


def main() -> int:
    args = parse_args()
    print(f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M:%S %z}")
    print(f"$ {shlex.join([Path(sys.executable).name, *sys.argv])}", flush=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    published = args.workdir / "synthetic_v1.0.0.h5"
    try:
        with tempfile.TemporaryDirectory(dir=args.workdir) as old_dir:
            old_root = export_package(args.compare_ref, Path(old_dir)) if args.compare_ref else None
            ok = benchmark(args, published, old_root)
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if not args.keep:
            published.unlink(missing_ok=True)
            for db in ("db", "db_old"):
                shutil.rmtree(args.workdir / db, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
