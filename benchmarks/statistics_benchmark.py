"""Benchmark the statistics stage against plain reads and a notebook baseline (prints figures).

Usage::

    .venv/bin/python benchmarks/statistics_benchmark.py --n-filters 20000000 --old-ref 896a1a5
    .venv/bin/python benchmarks/statistics_benchmark.py --n-filters 200000000 --skip-baseline

A synthetic database of ``--n-filters`` filters (see ``synthetic_db``) is written once under
``--workdir`` and reused. In one run, on the same files:

* the plain read: every partition's nine filter columns read with pyarrow by ``--workers``
  threads, three times - what the three passes cannot do without; measured again in each of
  the ``--repeats`` rounds, before the stages, and the best taken, as for the stages;
* the stage, in a child process, as the workflow script runs it: ``dask_client``'s
  LocalCluster of ``--workers`` single-threaded workers, the three passes, the output files;
  with ``--old-ref`` also the stage of that git revision's ``filterdb`` (exported with ``git
  archive``), side by side, on a copy of the database in the layout it wrote (nullable columns,
  ``--old-codec``; or on the same files with ``--old-codec same``), interleaved ``--repeats``
  times, best shown;
* unless ``--skip-baseline``, the notebook's way in a subprocess: load every filter into one
  float32 array, scikit-learn PCA, ``np.histogram`` per group and coefficient, the D matrices
  and the c0/c1 density; then, timed separately, per-layer degeneration metrics.

With ``--cold`` the page cache is dropped (Linux, as root) before each of the three plain reads
and before each stage run: a database larger than memory, as the paper's 53 GB, comes from the
disk in every pass. (A stage that reads through the cache still finds passes 2 and 3 cached when
the database fits in memory.)

With ``--layout published`` every run uses the database as a published (v1.0.0) import lays
it out: the same filter files, no channel counts, so no orthogonality - the paper's case.

The stage's ratio to the three plain reads is the figure that says how close it runs to the
speed of its input; the target is 1.5.

Peak memory is the largest sum of the resident set sizes of a process and all its descendants
(nannies and worker processes included, for a revision that had them), sampled every 50 ms:
``getrusage(RUSAGE_CHILDREN)`` would report the largest single child only, not the tree's total.
Summed RSS counts shared library pages once per process, so it overestimates a stage of several
processes more than one of a single process.
CPU seconds (user + system of the whole tree, from getrusage) are printed too: on a shared
machine wall time depends on the other load, CPU time much less.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
# The checkout whose ``filterdb`` this process imports: this one, or an old revision's export
# for the side-by-side stage (set by ``run_stage`` for its child).
CODE = Path(os.environ.get("FILTERDB_BENCH_CODE", REPO))
for root in (REPO, CODE):
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

from benchmarks.revision import export_package  # noqa: E402
from filterdb.db.schema import FILTERS_DIR  # noqa: E402

GIB = 1024**3
#: Filters of the small database each implementation runs on once, untimed, before the runs.
WARM_UP_FILTERS = 200_000


class TreeMonitor:
    """Sample the summed RSS of a process and its descendants in a background thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return  # the root has exited
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue  # exited between listing and reading
        self.peak_rss = max(self.peak_rss, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of ``resource.RUSAGE_SELF`` or ``RUSAGE_CHILDREN``.

    Children count once they have been waited for, with their own waited-for descendants, so
    after a LocalCluster of processes has shut down the CHILDREN figure covers them exactly.
    """
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def exported_revision(ref: str, workdir: Path) -> Path:
    """The ``filterdb`` package of git ``ref``, exported once under ``workdir`` (by commit, so a
    moved branch gets a new export) and kept: its numba cache then lives as long as it does."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    into = workdir / f"code_{commit[:12]}"
    if not into.is_dir():
        partial = workdir / f"{into.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.replace(export_package(commit, partial), into)
    return into


def ensure_database(workdir: Path, n_filters: int, seed: int) -> tuple[Path, int, float]:
    """The synthetic database for (n_filters, seed), generated unless already complete."""
    from benchmarks.synthetic_db import generate_synthetic_db

    db = workdir / f"db_{n_filters}_{seed}"
    marker = db / "complete.json"
    if marker.exists():
        return db, json.loads(marker.read_text())["n_filters"], 0.0
    shutil.rmtree(db, ignore_errors=True)
    started = time.perf_counter()
    total = generate_synthetic_db(db, n_filters, seed=seed, workers=os.cpu_count() or 1)
    marker.write_text(json.dumps({"n_filters": total}))
    return db, total, time.perf_counter() - started


def published_layout(db: Path, into: Path) -> Path:
    """``db`` as a published import lays it out: the same filter files (linked, not copied), but
    no channel counts in ``layers.parquet`` - the v1.0.0 file has none - so the stage computes no
    orthogonality, as it does not for the paper's database."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filterdb.db.schema import LAYERS_FILE

    marker = into / "complete.json"
    if marker.exists():
        return into
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    for path in db.glob("*.parquet"):
        shutil.copy2(path, into / path.name)
    (into / FILTERS_DIR).symlink_to((db / FILTERS_DIR).resolve(), target_is_directory=True)
    layers = pq.read_table(db / LAYERS_FILE)
    for name in ("in_channels", "out_channels", "groups"):
        column = layers.schema.get_field_index(name)
        field = layers.field(column).with_nullable(True)
        layers = layers.set_column(column, field, pa.nulls(layers.num_rows, field.type))
    pq.write_table(layers, into / LAYERS_FILE)
    marker.write_text(json.dumps({"layout": "published"}))
    return into


def drop_page_cache() -> None:
    """Write back and drop the page cache (``--cold``): Linux, as root."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError as error:
        raise SystemExit(f"--cold needs to write /proc/sys/vm/drop_caches: {error}") from error


def plain_reads(db: Path, workers: int, repeats: int = 3, cold: bool = False) -> float:
    """Seconds to read every partition's filter columns ``repeats`` times on ``workers`` threads
    (``cold``: each time from the disk, the page cache dropped before, untimed).

    The partitions are the stage's own (same row groups), read as a pass reads them, without
    the conversion to one array: the part of a pass no implementation can skip.
    """
    import numpy as np
    import pyarrow.parquet as pq

    from filterdb.db.schema import WEIGHT_COLUMNS
    from filterdb.stats.options import StatsOptions
    from filterdb.stats.partitions import plan_partitions
    from filterdb.stats.runner import _prepare_tables

    options = StatsOptions.from_params({})
    models, layers = _prepare_tables(db, options)
    specs = plan_partitions(
        models, layers, db, options.partition_rows, np.zeros(len(models), np.int64)
    )

    def read(spec) -> int:
        table = pq.ParquetFile(spec.path).read_row_groups(
            list(spec.row_groups), columns=list(WEIGHT_COLUMNS), use_threads=False
        )
        return table.num_rows

    seconds = 0.0
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(repeats):
            if cold:
                drop_page_cache()
            started = time.perf_counter()
            list(pool.map(read, specs))
            seconds += time.perf_counter() - started
    return seconds


def stage_child(db: Path, out: Path, workers: int, partition_rows, memory_mb: int) -> dict:
    """The statistics stage as the workflow runs it, with ``filterdb`` imported from ``CODE``."""
    from filterdb.stats.cluster import dask_client
    from filterdb.stats.options import StatsOptions
    from filterdb.stats.outputs import write_outputs
    from filterdb.stats.runner import run_statistics

    options = StatsOptions.from_params({"partition_rows": partition_rows} if partition_rows else {})
    started = time.perf_counter()
    with dask_client({}, n_workers=workers, memory_mb=memory_mb) as client:
        passes_started = time.perf_counter()
        result = run_statistics(db, options, client)
        passes = time.perf_counter() - passes_started
    write_outputs(result, out)
    return {"wall_s": time.perf_counter() - started, "passes_s": passes}


def run_stage(
    code: Path, db: Path, out: Path, workers: int, partition_rows: int | None, memory_mb: int
) -> dict:
    """``stage_child`` in a subprocess (its own imports, nothing cached here), timed and
    memory-sampled over its whole process tree."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--stage-of",
        str(db),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--memory-mb",
        str(memory_mb),
    ]
    if partition_rows:
        command += ["--partition-rows", str(partition_rows)]
    env = {**os.environ, "FILTERDB_BENCH_CODE": str(code)}
    cpu_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    with TreeMonitor(process.pid) as monitor:
        stdout, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the stage of {code} failed with exit code {process.returncode}")
    figures = json.loads(stdout.decode().strip().splitlines()[-1])
    figures["peak_rss"] = monitor.peak_rss
    figures["cpu_s"] = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    return figures


def recoded_copy(db: Path, into: Path, codec: str) -> Path:
    """``db`` with its filter files rewritten with ``codec`` and nullable columns (row groups
    kept), made once: the layout every revision before the required columns wrote.

    The old revision read the files it wrote itself; comparing it on today's files alone would
    leave out the layout's share of the change.
    """
    from benchmarks.compression_benchmark import NULLABLE_SCHEMA, recode

    marker = into / "complete.json"
    if marker.exists():
        return into
    shutil.rmtree(into, ignore_errors=True)
    (into / FILTERS_DIR).mkdir(parents=True)
    for path in db.glob("*.parquet"):
        shutil.copy2(path, into / path.name)
    for path in (db / FILTERS_DIR).glob("*.parquet"):
        recode(path, into / FILTERS_DIR / path.name, {"compression": codec}, NULLABLE_SCHEMA)
    marker.write_text(json.dumps({"codec": codec}))
    return into


def run_baseline_subprocess(db: Path) -> dict:
    """Run ``baseline`` in a fresh interpreter; its timings plus the sampled peak RSS."""
    command = [sys.executable, str(Path(__file__).resolve()), "--baseline-of", str(db)]
    cpu_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    with TreeMonitor(process.pid) as monitor:
        stdout, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"baseline failed with exit code {process.returncode}")
    figures = json.loads(stdout.strip().splitlines()[-1])
    figures["peak_rss"] = max(monitor.peak_rss, figures["ru_maxrss"])
    figures["cpu_s"] = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    return figures


def baseline(db: Path) -> dict:
    """Notebook-style statistics: everything in memory at once (float32, as the notebook)."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    from sklearn.decomposition import PCA

    from filterdb.db.schema import LAYERS_FILE, MODELS_FILE, WEIGHT_COLUMNS, filter_path

    started = time.perf_counter()
    models = pd.read_parquet(db / MODELS_FILE).sort_values("model_id")
    layers = pd.read_parquet(db / LAYERS_FILE)
    columns = list(WEIGHT_COLUMNS)
    parts = []
    for model in models["model"]:
        table = pq.read_table(filter_path(db, model), columns=columns)
        parts.append(np.column_stack([table[c].to_numpy() for c in columns]))
        del table
    x = np.concatenate(parts)
    del parts
    loaded = time.perf_counter()

    den = np.abs(x).max(axis=1)
    den = np.where(den == 0, 1, den)[:, None]
    pca = PCA(n_components=9)
    coefficients = pca.fit_transform(x / den)
    del den
    lo, hi = coefficients.min(), coefficients.max()

    counts = models.set_index("model")["n_filters"].reindex(layers["model"].unique())
    model_of = np.repeat(np.arange(len(counts)), counts.to_numpy())
    decile = np.repeat(
        pd.cut(layers["conv_depth_norm"], np.linspace(0, 1, 11), include_lowest=True).cat.codes,
        layers["n_filters"].to_numpy(),
    ).to_numpy()
    meta = models.set_index("model").loc[counts.index]
    eps = np.finfo(np.float32).eps
    ratio = pca.explained_variance_ratio_
    for column in ("Task", "Visual Category", "depth", "Network", "Training-Dataset"):
        labels = decile if column == "depth" else meta[column].to_numpy()[model_of]
        densities = []
        for group in sorted(set(labels.tolist())):
            mask = labels == group
            hists = np.stack(
                [
                    np.histogram(coefficients[mask, k], bins=70, range=(lo, hi), density=True)[0]
                    for k in range(9)
                ]
            )
            hists[hists == 0] = eps
            densities.append(hists / hists.sum(axis=1, keepdims=True))
        p = np.stack(densities)
        for a in range(len(p)):
            kl = ((p[a] - p) * (np.log(p[a]) - np.log(p))).sum(axis=2)
            _ = kl @ ratio
    np.histogram2d(coefficients[:, 0], coefficients[:, 1], bins=512, range=[[-3.3, 3.3]] * 2)
    shifted = time.perf_counter()

    start = 0
    for n, out_channels in zip(layers["n_filters"], layers["out_channels"], strict=True):
        w = x[start : start + n]
        start += n
        peak = np.abs(w).max(axis=1)
        _ = (peak < 0.01 * peak.max()).mean()
        s = np.linalg.svd(w - w.mean(axis=0), compute_uv=False) ** 2
        _ = s / s.sum()
        if pd.isna(out_channels):  # a published layout: no channel counts, no orthogonality
            continue
        rows = w.reshape(out_channels, -1)
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-30)
        _ = np.abs(rows @ rows.T - np.eye(out_channels)).sum()
    finished = time.perf_counter()
    return {
        "n_filters": len(x),
        "load_s": loaded - started,
        "pca_hist_s": shifted - started,
        "total_s": finished - started,
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-filters", type=int, default=20_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/filterdb-stats-bench"))
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--old-ref", help="also run the stage of this git revision (old vs new)")
    parser.add_argument(
        "--old-codec",
        default="zstd",
        help="Parquet codec of the filter files the old revision reads (it wrote zstd); "
        "'same': the new stage's own files (a revision that wrote today's layout)",
    )
    parser.add_argument(
        "--layout",
        choices=("extracted", "published"),
        default="extracted",
        help="'published': no channel counts, as a v1.0.0 import (no orthogonality)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="stage runs each; best is shown")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--partition-rows", type=int, help="default: the workflow's statistics.partition_rows"
    )
    parser.add_argument("--memory-mb", type=int, default=8000, help="LocalCluster worker total")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cold", action="store_true", help="drop the page cache before each read and stage run"
    )
    parser.add_argument("--baseline-of", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stage-of", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_of:
        print(json.dumps(baseline(args.baseline_of)))
        return
    if args.stage_of:
        figures = stage_child(
            args.stage_of, args.out, args.workers, args.partition_rows, args.memory_mb
        )
        print(json.dumps(figures))
        return

    print(f"{datetime.date.today()}: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    db, n, generated = ensure_database(args.workdir, args.n_filters, args.seed)
    if args.layout == "published":
        db = published_layout(db, args.workdir / f"{db.name}_published")
    size = sum(f.stat().st_size for f in (db / FILTERS_DIR).iterdir()) / GIB
    print(f"database: {n} filters, {size:.2f} GiB of filter files ({db})")
    if generated:
        print(f"generated in {generated:.1f} s")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")

    runs = {"new": (REPO, db)}
    if args.old_ref:
        old_db = db
        if args.old_codec != "same":
            old_db = recoded_copy(
                db, args.workdir / f"{db.name}_{args.old_codec}_nullable", args.old_codec
            )
        old_code = exported_revision(args.old_ref, args.workdir)
        runs = {f"old ({args.old_ref}, {args.old_codec} files)": (old_code, old_db), **runs}
    # Untimed: each implementation's compiled kernels into its numba cache, so that no timed
    # run includes their compilation (tens of CPU seconds per worker, for a revision exported
    # afresh).
    warm_db, _, _ = ensure_database(args.workdir, WARM_UP_FILTERS, args.seed)
    for code, _ in runs.values():
        run_stage(code, warm_db, args.workdir / "stats", args.workers, None, args.memory_mb)
    stages = {name: [] for name in runs}
    all_reads = []
    for _ in range(args.repeats):  # interleaved, so that a burst of load hits every run
        all_reads.append(plain_reads(db, args.workers, cold=args.cold))
        for name, (code, files) in runs.items():
            if args.cold:
                drop_page_cache()
            stages[name].append(
                run_stage(
                    code,
                    files,
                    args.workdir / "stats",
                    args.workers,
                    args.partition_rows,
                    args.memory_mb,
                )
            )
    reads = min(all_reads)
    print(
        f"plain read: 3 x all filter columns on {args.workers} threads in {reads:.1f} s"
        + (" (each from the disk: --cold)" if args.cold else "")
        + (
            f" (best of {args.repeats}: {', '.join(f'{r:.1f}' for r in all_reads)})"
            if args.repeats > 1
            else ""
        )
    )
    best = {name: min(figures, key=lambda f: f["wall_s"]) for name, figures in stages.items()}
    for name, stage in best.items():
        print(
            f"stage {name}: wall {stage['wall_s']:.1f} s (passes {stage['passes_s']:.1f} s), "
            f"{n / stage['wall_s'] / 1e6:.2f} M filters/s, CPU {stage['cpu_s']:.1f} s, "
            f"peak RSS {stage['peak_rss'] / GIB:.2f} GiB; "
            f"{stage['passes_s'] / reads:.2f}x the plain reads "
            f"({stage['wall_s'] / reads:.2f}x with cluster start and outputs)"
            + (f"; best of {args.repeats}" if args.repeats > 1 else "")
        )
    stage = best["new"]
    if args.old_ref:
        old = best[next(iter(best))]
        print(
            f"new vs old: {old['wall_s'] / stage['wall_s']:.2f}x faster "
            f"(passes {old['passes_s'] / stage['passes_s']:.2f}x), "
            f"CPU {old['cpu_s'] / stage['cpu_s']:.2f}x less"
        )
    if args.skip_baseline:
        return
    base = run_baseline_subprocess(db)
    print(
        f"baseline: wall {base['pca_hist_s']:.1f} s for load+PCA+histograms+D "
        f"(load {base['load_s']:.1f} s), {base['total_s']:.1f} s with degeneration metrics, "
        f"CPU {base['cpu_s']:.1f} s, peak RSS {base['peak_rss'] / GIB:.2f} GiB"
    )
    print(
        f"ratios:   speed {base['pca_hist_s'] / stage['wall_s']:.2f}x "
        f"(vs baseline without degeneration), {base['total_s'] / stage['wall_s']:.2f}x "
        f"(with); CPU {base['cpu_s'] / stage['cpu_s']:.2f}x; "
        f"memory {base['peak_rss'] / stage['peak_rss']:.2f}x less"
    )


if __name__ == "__main__":
    main()
