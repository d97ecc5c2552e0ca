"""Small published CNN Filter DB files, built the way the published ones were.

v1.0.0 with h5py (filters) plus ``DataFrame.to_hdf(format="table")`` with the 4-level index
(meta); v0.1.0 with h5py only, the meta stored as UTF-8 CSV bytes. ``notebook_read`` reads a file
back with the original notebook's code.
"""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from filterdb.db.schema import LAYERS_FILE, MODELS_FILE, filter_path

INDEX = ["model_id", "conv_depth", "conv_depth_norm", "layer_id"]
# model name, Task, visual category, layer sizes (filters per 3x3 conv layer)
MODELS = [
    ("resnet_tiny_imagenet1k_11", "Classification", "natural", [6, 12, 30]),
    ("unet (v2) + med", "Segmentation", "medical", [9, 9]),
    ("yolo_tiny_coco_12", "Detection", "natural", [4, 50, 7, 3]),
]


def published_meta(models=MODELS) -> pd.DataFrame:
    """A flat meta table with the published v1.0.0 columns (and two unknown extras)."""
    rows, start = [], 0
    for i, (name, task, category, sizes) in enumerate(models):
        model_id = 10 + 5 * i  # published ids need not be 0..n-1
        for depth, n in enumerate(sizes):
            rows.append(
                {
                    "model_id": model_id,
                    "conv_depth": depth,
                    "conv_depth_norm": depth / max(len(sizes) - 1, 1),
                    "layer_id": f"/conv{depth}/Conv",
                    "filter_ids": f"{start}:{start + n - 1}",
                    "model": name,
                    "producer": "pytorch 1.9",
                    "op_set": 11 + i,
                    "depth": 40 + i,
                    "Name": name.split("_")[0],
                    "Paper": np.nan if i == 1 else f"https://paper/{i}",
                    "Pretraining-Dataset": np.nan if i != 2 else "imagenet1k",
                    "Training-Dataset": "imagenet1k",
                    "Visual Category": category,
                    "Task": task,
                    "Accessible": "https://github.com/x",
                    "Dataset URL": np.nan,
                    "total_filters": sum(sizes) + 100,
                    "3x3_filter_share": 0.5 + i / 10,
                    "(3, 3) filters": sum(sizes),
                    "(1, 1) filters": 100,
                    "Conv": len(sizes) + 2,
                    "Relu": 7,
                    "layer_weight_norm": float(n) / 7,  # unknown, per layer
                }
            )
            start += n
    return pd.DataFrame(rows)


def published_filters(n: int, seed: int = 0) -> np.ndarray:
    """float32 values upcast to float64 (like v1.0.0), with one NaN and one -Inf."""
    values = np.random.default_rng(seed).standard_normal((n, 3, 3)).astype(np.float32)
    values[3, 1, 1] = np.nan
    values[20, 0, 2] = -np.inf
    return values.astype(np.float64)


def write_v1(path, filters: np.ndarray, meta: pd.DataFrame) -> None:
    with h5py.File(path, "w") as h5:
        h5.create_dataset("filters", data=filters)
    meta.set_index(INDEX).to_hdf(path, key="meta", format="table", mode="a")


def write_v010(path, filters: np.ndarray, meta: pd.DataFrame) -> None:
    csv = meta.rename(columns={"Visual Category": "Datatype"}).to_csv(index=False)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("filters", data=filters.reshape(-1, 9).astype(np.float32))
        h5.create_dataset("meta", data=np.frombuffer(csv.encode("utf-8"), dtype=np.uint8))


# The targets of a workflow run that imports a published file and exports results/db/ again.
ROUNDTRIP_TARGETS = ("results/db/layers.parquet", "results/export/db.h5")


def roundtrip_config(published_file) -> str:
    """A config file's text for that run: small row groups and chunks, a float32 export."""
    return (
        f"database:\n  source: published\n  published_file: {published_file}\n"
        "  published_row_group_size: 40\n  published_chunk_size: 16\n"
        "export:\n  enabled: true\n  path: results/export/db.h5\n  dtype: float32\n"
    )


def notebook_read(path) -> tuple[np.ndarray, pd.DataFrame]:
    """The original notebook's loading code (v1.0.0)."""
    with h5py.File(path, "r") as f:
        filters = f["filters"][...]
    return filters, pd.read_hdf(path, "meta")


def read_db(db) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    layers = pd.read_parquet(db / LAYERS_FILE)
    models = pd.read_parquet(db / MODELS_FILE)
    filters = {m: pd.read_parquet(filter_path(db, m)) for m in models["model"]}
    return layers, models, filters
