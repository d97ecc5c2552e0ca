"""Parquet codecs for the filter files: what each saves on disk and costs to read (prints figures).

Usage::

    .venv/bin/python benchmarks/compression_benchmark.py results/db
    .venv/bin/python benchmarks/compression_benchmark.py /tmp/filterdb-stats-bench/db_20000000_0

Rewrites up to ``--max-filters`` filters of the database's filter files with each codec (the
database's own row groups and dictionary setting, only the codec differs), then reads the nine
weight columns back single-threaded, best of ``--repeats``, as one statistics pass reads them.
Speeds are printed as ratios to the uncompressed files measured in the same run. Trained float32
weights are close to incompressible (sign and mantissa bits look random), so a codec must save
more on disk than it costs in decoding; this script measures whether it does. The last row is
the layout before the columns were made required: nullable columns, whose definition levels
every read decodes and every write encodes.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filterdb.db.schema import FILTER_SCHEMA, FILTERS_DIR, WEIGHT_COLUMNS  # noqa: E402

#: The filter files' columns as they were before they became required (a definition level each).
NULLABLE_SCHEMA = pa.schema([field.with_nullable(True) for field in FILTER_SCHEMA])
NULLABLE = "none, nullable columns"
CODECS = {
    "none": {"compression": "none"},
    "snappy": {"compression": "snappy"},
    "lz4": {"compression": "lz4"},
    "zstd (level 1)": {"compression": "zstd", "compression_level": 1},
    "zstd (default level)": {"compression": "zstd"},
    "byte_stream_split + zstd": {
        "compression": "zstd",
        "use_byte_stream_split": list(WEIGHT_COLUMNS),
    },
    NULLABLE: {"compression": "none"},
}


def sample_files(db: Path, max_filters: int) -> list[Path]:
    """The database's filter files in name order until ``max_filters`` filters are covered."""
    chosen, total = [], 0
    for path in sorted((db / FILTERS_DIR).glob("*.parquet")):
        if total >= max_filters:
            break
        chosen.append(path)
        total += pq.ParquetFile(path).metadata.num_rows
    return chosen


def recode(source: Path, target: Path, options: dict, schema: pa.Schema = FILTER_SCHEMA) -> None:
    """Write the filter file ``source`` again as ``target`` with the Parquet ``options`` (a
    codec) and ``schema`` (``FILTER_SCHEMA`` or ``NULLABLE_SCHEMA``), its row groups and
    dictionary setting kept."""
    parquet = pq.ParquetFile(source)
    with pq.ParquetWriter(target, schema, use_dictionary=["layer"], **options) as writer:
        for group in range(parquet.num_row_groups):
            writer.write_table(parquet.read_row_group(group).cast(schema))


def rewrite(files: list[Path], out: Path, name: str) -> tuple[int, float]:
    """Write every file again as the row ``name`` of ``CODECS`` says, same row groups;
    (bytes, seconds)."""
    out.mkdir(parents=True)
    schema = NULLABLE_SCHEMA if name == NULLABLE else FILTER_SCHEMA
    size, started = 0, time.perf_counter()
    for i, path in enumerate(files):
        target = out / f"{i}.parquet"
        recode(path, target, CODECS[name], schema)
        size += target.stat().st_size
    return size, time.perf_counter() - started


def read_seconds(directory: Path, repeats: int) -> float:
    """Best-of-``repeats`` seconds to read every file's weight columns on one thread."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for path in sorted(directory.glob("*.parquet")):
            pq.ParquetFile(path).read(columns=list(WEIGHT_COLUMNS), use_threads=False)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a database directory (results/db)")
    parser.add_argument("--max-filters", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    files = sample_files(args.db, args.max_filters)
    n = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    print(f"{datetime.date.today()}: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"{n} filters from {len(files)} files of {args.db}; raw float32 {n * 36 / 1e6:.1f} MB")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in CODECS:
            out = Path(tmp) / str(len(rows))
            size, write = rewrite(files, out, name)
            rows[name] = (size, write, read_seconds(out, args.repeats))
    base_size, _, base_read = rows["none"]
    print(f"{'codec':26s} {'size MB':>9s} {'vs none':>8s} {'write s':>8s} {'read s':>7s} "
          f"{'M filters/s':>11s} {'read vs none':>12s}")  # fmt: skip
    for name, (size, write, read) in rows.items():
        print(
            f"{name:26s} {size / 1e6:9.1f} {size / base_size:8.3f} {write:8.2f} {read:7.2f} "
            f"{n / read / 1e6:11.1f} {read / base_read:11.2f}x"
        )


if __name__ == "__main__":
    main()
