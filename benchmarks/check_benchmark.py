"""Benchmark ``filterdb check`` against torchconvquality on one ResNet-50 (prints figures).

Usage::

    .venv/bin/python benchmarks/check_benchmark.py
    .venv/bin/python benchmarks/check_benchmark.py --db results/db --stats results/stats

A seeded timm ``resnet50`` (random init: 1,257,472 3x3 filters in 16 layers, ResNet-50's
exact shapes) is built once and saved as safetensors. In the same run, alternating, each
``--repeats`` times:

* ``torchconvquality.measure_quality(module)``, the baseline: the same metrics, per layer;
* ``filterdb.check_module(module)``: the same module, in memory;
* ``filterdb.check_file(path)``: the checkpoint read from disk first, as the command reads it;
* the ``filterdb check`` command itself (a new process: interpreter, imports, file, output),
  against ``--db``/``--stats`` when given.

The median of each is printed with its ratio to the baseline's median (> 1: filterdb is faster).
Wall times on a shared machine are noisy; ratios of interleaved runs much less so.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", type=Path, help="a built database, for the command's comparison")
    parser.add_argument("--stats", type=Path, help="its statistics (default: beside --db)")
    args = parser.parse_args()

    import safetensors.torch
    import timm
    import torch
    from torchconvquality import measure_quality

    from filterdb import check_file, check_module

    torch.manual_seed(0)
    module = timm.create_model("resnet50", pretrained=False).eval()
    command = [str(Path(sys.executable).with_name("filterdb")), "check"]
    reference = [] if args.db is None else ["--db", str(args.db)]
    reference += [] if args.stats is None else ["--stats", str(args.stats)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet50.safetensors"
        state = {k: v.contiguous() for k, v in module.state_dict().items()}
        safetensors.torch.save_file(state, path)
        n_filters = check_file(path).summary["n_filters"]
        runs: dict[str, Callable[[], object]] = {
            "torchconvquality.measure_quality(module)": lambda: measure_quality(module),
            "filterdb.check_module(module)": lambda: check_module(module),
            "filterdb.check_file(path)": lambda: check_file(path),
            f"filterdb check (command{', with --db' if reference else ''})": lambda: subprocess.run(
                [*command, str(path), *reference], check=True, capture_output=True
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                times[name].append(timed(run))
    baseline = statistics.median(next(iter(times.values())))
    print(f"resnet50 (seeded timm init): {n_filters:,} 3x3 filters, {args.repeats} repeats")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:55s} median {median:6.2f} s  (min {min(values):6.2f})  "
            f"{baseline / median:5.2f}x the baseline's speed"
        )


if __name__ == "__main__":
    main()
