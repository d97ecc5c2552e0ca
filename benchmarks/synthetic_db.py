"""Synthesise filter databases of any size with a realistic structure, for the benchmarks.

Models are drawn at random (architecture, labels, layers of Gaussian filters with layer-specific
spectra and scales, some sparse) and written with the library's own database writer
(``filterdb.db.from_arrays``), so the statistics read them exactly as a rebuilt database.

    .venv/bin/python benchmarks/synthetic_db.py /tmp/db --n-filters 50000000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filterdb.config import section  # noqa: E402
from filterdb.db.from_arrays import (  # noqa: E402
    ArrayLayer,
    ArrayModel,
    write_model_filters,
    write_tables,
)
from filterdb.db.schema import filter_path  # noqa: E402

TASKS = ("Classification", "Detection", "Semantic Segmentation", "Instance Segmentation", "GAN")
CATEGORIES = ("natural", "medical", "faces", "satellite", "art", "text")
DATASETS = ("ImageNet", "CIFAR-10", "COCO", "CelebA", "custom")
# (network, base width, blocks per stage, depthwise)
ARCHITECTURES = (
    ("ResNet-18", 64, (2, 2, 2, 2), False),
    ("ResNet-34", 64, (3, 4, 6, 3), False),
    ("VGG-11", 64, (1, 1, 2, 2), False),
    ("WideNet-narrow", 16, (2, 2, 2, 2), False),
    ("WideNet-32", 32, (3, 3, 3, 3), False),
    ("MobileNet-like", 32, (2, 3, 4, 3), True),
)


def synthetic_layers(architecture: tuple, rng: np.random.Generator) -> Iterable[ArrayLayer]:
    """Layers of one model: Gaussian filters with a layer-specific covariance and scale.

    Each layer gets a smooth-to-rough spectrum (some near-isotropic, i.e. random-like), a scale
    spread over three decades, a small mean, and about one layer in six is made sparse by
    shrinking most of its filters - the structures the statistics are meant to tell apart.
    """
    _, width, blocks, depthwise = architecture
    plan = []
    c_in = 3
    for stage, count in enumerate(blocks):
        c = width * 2**stage
        for _ in range(count):
            plan.append((c, c_in, 1))
            if depthwise:
                plan.append((c, c, c))
            c_in = c
    for c_out, c_in_layer, groups in plan:
        n = c_out * (c_in_layer // groups)
        decay = rng.uniform(0.0, 0.6)
        spectrum = np.exp(-decay * np.arange(9))
        basis, _ = np.linalg.qr(rng.standard_normal((9, 9)))
        mixing = (basis * np.sqrt(spectrum)).astype(np.float32)
        scale = np.float32(10 ** rng.uniform(-3, 0))
        filters = rng.standard_normal((n, 9), dtype=np.float32) @ mixing.T
        filters += rng.normal(0, 0.1, size=9).astype(np.float32)
        filters *= scale
        if rng.random() < 1 / 6:
            shrink = rng.random(n) < rng.uniform(0.2, 0.9)
            filters[shrink] *= np.float32(1e-4)
        yield ArrayLayer(filters, c_out, c_in_layer, groups)


def _synthetic_model(args: tuple[Path, int, int, int]) -> tuple[ArrayModel, list[dict]]:
    db_dir, index, seed, row_group_size = args
    rng = np.random.default_rng([seed, index])
    architecture = ARCHITECTURES[int(rng.integers(len(ARCHITECTURES)))]
    labels = {
        "Task": TASKS[int(rng.integers(len(TASKS)))],
        "Visual Category": CATEGORIES[int(rng.integers(len(CATEGORIES)))],
        "Network": architecture[0],
        "Training-Dataset": DATASETS[int(rng.integers(len(DATASETS)))],
    }
    model = ArrayModel(f"synthetic_{index:05d}", labels, synthetic_layers(architecture, rng))
    rows = write_model_filters(db_dir, model, row_group_size)
    return ArrayModel(model.name, labels), rows


def generate_synthetic_db(
    db_dir: Path,
    n_filters: int,
    seed: int = 0,
    workers: int = 2,
    row_group_size: int | None = None,
) -> int:
    """Write a synthetic database of at least ``n_filters`` filters; return the exact count.

    Models are drawn (architecture, labels, layers) until the total reaches ``n_filters``; each
    model depends only on (seed, index), so the database does not depend on ``workers``.
    ``row_group_size`` defaults to the workflow's ``extraction.row_group_size``.
    """
    db_dir = Path(db_dir)
    row_group_size = row_group_size or section("extraction")["row_group_size"]
    models, rows, total, index = [], [], 0, 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        while total < n_filters:
            batch = [(db_dir, index + i, seed, row_group_size) for i in range(max(1, workers))]
            index += len(batch)
            for model, layer_rows in pool.map(_synthetic_model, batch):
                if total >= n_filters:
                    filter_path(db_dir, model.name).unlink()
                    continue
                models.append(model)
                rows.append(layer_rows)
                total += sum(r["n_filters"] for r in layer_rows)
    write_tables(db_dir, models, rows)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db_dir", type=Path)
    parser.add_argument("--n-filters", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    total = generate_synthetic_db(args.db_dir, args.n_filters, args.seed, args.workers)
    print(f"wrote {total} filters to {args.db_dir}")


if __name__ == "__main__":
    main()
