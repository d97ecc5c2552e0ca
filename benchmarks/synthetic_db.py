"""Write filter databases in the ``results/db/`` layout, from given layers or synthesised.

The statistics tests build small databases with hand-picked layers (NaN weights, all-zero layers,
real network weights); the benchmark synthesises databases of any size with a realistic
structure. Both go through ``write_db`` / ``ModelWriter`` so they share one writer of the
contract's layout: per-model filter files whose row groups hold whole layers, layers.parquet and
models.parquet.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from filterdb.columns import LAYER_COLUMNS, MANIFEST_COLUMNS  # noqa: E402
from filterdb.filter_file import DEFAULT_ROW_GROUP_SIZE as ROW_GROUP_SIZE  # noqa: E402
from filterdb.filter_file import FILTER_SCHEMA, open_writer  # noqa: E402
from filterdb.tables import write_frame  # noqa: E402


@dataclass
class Layer:
    """One 3x3 conv layer: ``weights`` (c_out, c_in/groups, 3, 3) or (c_out * c_in/groups, 9)."""

    weights: np.ndarray
    out_channels: int
    in_channels: int
    groups: int = 1
    conv_depth_norm: float | None = None  # default: position among the model's layers

    @property
    def n_filters(self) -> int:
        return self.out_channels * (self.in_channels // self.groups)


@dataclass
class Model:
    """A model: its name, manifest labels (missing ones are empty) and 3x3 layers."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    layers: Sequence[Layer] = ()


class ModelWriter:
    """Stream one model's layers into its filter file, packing whole layers into row groups."""

    def __init__(self, path: Path, row_group_size: int = ROW_GROUP_SIZE) -> None:
        self.path = path
        self.row_group_size = row_group_size
        self._writer = open_writer(path)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.layer_rows: list[dict] = []

    def add(self, layer: Layer) -> None:
        flat = np.ascontiguousarray(layer.weights, dtype=np.float32).reshape(-1, 9)
        if len(flat) != layer.n_filters:
            raise ValueError(f"{self.path}: layer weights do not match its channel counts")
        index = len(self.layer_rows)
        columns = [pa.array(np.full(len(flat), index, dtype=np.int32))]
        columns += [pa.array(flat[:, j]) for j in range(9)]
        table = pa.Table.from_arrays(columns, schema=FILTER_SCHEMA)
        if self._pending and self._pending_rows + len(flat) > self.row_group_size:
            self._flush()
        self._pending.append(table)
        self._pending_rows += len(flat)
        self.layer_rows.append(
            {
                "layer": index,
                "conv_depth_norm": layer.conv_depth_norm,
                "in_channels": layer.in_channels,
                "out_channels": layer.out_channels,
                "groups": layer.groups,
                "n_filters": len(flat),
                "n_nan": int(np.isnan(flat).sum()),
                "n_inf": int(np.isinf(flat).sum()),
            }
        )

    def _flush(self) -> None:
        if self._pending:
            table = pa.concat_tables(self._pending)
            self._writer.write_table(table, row_group_size=max(1, len(table)))
        self._pending, self._pending_rows = [], 0

    def close(self) -> list[dict]:
        """Finish the file; return its layer rows (depth fields filled in)."""
        self._flush()
        self._writer.close()
        count = len(self.layer_rows)
        for row in self.layer_rows:
            if row["conv_depth_norm"] is None:
                row["conv_depth_norm"] = row["layer"] / (count - 1) if count > 1 else 0.0
        return self.layer_rows


def _model_row(model_id: int, model: Model, layer_rows: list[dict]) -> dict:
    row = {"model_id": model_id, **{c: model.labels.get(c, "") for c in MANIFEST_COLUMNS}}
    n_filters = sum(r["n_filters"] for r in layer_rows)
    row.update(
        model=model.name,
        format="safetensors",
        producer="",
        opset=None,
        depth_method="state_dict_order",
        n_conv_layers=len(layer_rows),
    )
    row["(3, 3) filters"] = n_filters
    row["n_filters"] = n_filters
    row["3x3_filter_share"] = 1.0 if n_filters else 0.0
    row["skipped_layers"] = 0
    return row


def write_model(db_dir: Path, model: Model, row_group_size: int = ROW_GROUP_SIZE) -> list[dict]:
    """Write ``db_dir/filters/<model>.parquet``; return the model's layer rows."""
    writer = ModelWriter(Path(db_dir) / "filters" / f"{model.name}.parquet", row_group_size)
    for layer in model.layers:
        writer.add(layer)
    return writer.close()


def write_tables(db_dir: Path, models: Sequence[Model], layer_rows: Sequence[list[dict]]) -> None:
    """Write layers.parquet and models.parquet for models whose filter files exist."""
    import pandas as pd

    layers, model_rows, start = [], [], 0
    for model_id, (model, rows) in enumerate(zip(models, layer_rows, strict=True)):
        for row in rows:
            layers.append(
                {
                    "model": model.name,
                    "layer": row["layer"],
                    "layer_name": f"conv{row['layer']}",
                    "depth": row["layer"],
                    "conv_depth": row["layer"],
                    "conv_depth_norm": row["conv_depth_norm"],
                    "depth_method": "state_dict_order",
                    "in_channels": row["in_channels"],
                    "out_channels": row["out_channels"],
                    "groups": row["groups"],
                    "n_filters": row["n_filters"],
                    "filter_start": start,
                    "n_nan": row["n_nan"],
                    "n_inf": row["n_inf"],
                }
            )
            start += row["n_filters"]
        model_rows.append(_model_row(model_id, model, rows))
    int_columns = ["depth", "conv_depth", "in_channels", "out_channels", "groups", "n_filters"]
    int_columns += ["filter_start", "n_nan", "n_inf"]
    layer_frame = pd.DataFrame(layers, columns=list(LAYER_COLUMNS))
    layer_frame = layer_frame.astype({"layer": "int32", **dict.fromkeys(int_columns, "int64")})
    layer_frame["conv_depth_norm"] = layer_frame["conv_depth_norm"].astype("float64")
    model_frame = pd.DataFrame(model_rows)
    model_frame["opset"] = model_frame["opset"].astype("Int64")
    write_frame(layer_frame, Path(db_dir) / "layers.parquet")
    write_frame(model_frame, Path(db_dir) / "models.parquet")


def write_db(db_dir: Path, models: Sequence[Model], row_group_size: int = ROW_GROUP_SIZE) -> Path:
    """Write a complete database of ``models`` under ``db_dir``; return ``db_dir``."""
    db_dir = Path(db_dir)
    (db_dir / "filters").mkdir(parents=True, exist_ok=True)
    rows = [write_model(db_dir, model, row_group_size) for model in models]
    write_tables(db_dir, models, rows)
    return db_dir


# ---------------------------------------------------------------------------------------------
# Synthetic databases of realistic structure (benchmark).

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


def synthetic_layers(architecture: tuple, rng: np.random.Generator) -> Iterable[Layer]:
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
        yield Layer(filters, c_out, c_in_layer, groups)


def _synthetic_model(args: tuple[Path, int, int, int]) -> tuple[Model, list[dict]]:
    db_dir, index, seed, row_group_size = args
    rng = np.random.default_rng([seed, index])
    architecture = ARCHITECTURES[int(rng.integers(len(ARCHITECTURES)))]
    labels = {
        "Task": TASKS[int(rng.integers(len(TASKS)))],
        "Visual Category": CATEGORIES[int(rng.integers(len(CATEGORIES)))],
        "Network": architecture[0],
        "Training-Dataset": DATASETS[int(rng.integers(len(DATASETS)))],
    }
    model = Model(f"synthetic_{index:05d}", labels, synthetic_layers(architecture, rng))
    rows = write_model(db_dir, model, row_group_size)
    return Model(model.name, labels), rows


def generate_synthetic_db(
    db_dir: Path,
    n_filters: int,
    seed: int = 0,
    workers: int = 2,
    row_group_size: int = ROW_GROUP_SIZE,
) -> int:
    """Write a synthetic database of at least ``n_filters`` filters; return the exact count.

    Models are drawn (architecture, labels, layers) until the total reaches ``n_filters``; each
    model depends only on (seed, index), so the database does not depend on ``workers``.
    """
    db_dir = Path(db_dir)
    (db_dir / "filters").mkdir(parents=True, exist_ok=True)
    models, rows, total, index = [], [], 0, 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        while total < n_filters:
            batch = [(db_dir, index + i, seed, row_group_size) for i in range(max(1, workers))]
            index += len(batch)
            for model, layer_rows in pool.map(_synthetic_model, batch):
                if total >= n_filters:
                    (db_dir / "filters" / f"{model.name}.parquet").unlink()
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
