"""Keras 2 HDF5 files written with h5py in the layout ``model.save`` writes, from known kernels.

A functional model ``input -> conv_a -> {dw, sep} -> add -> conv_b``: a ``Conv2D``, a
``DepthwiseConv2D`` with depth multiplier 2 and a ``SeparableConv2D`` side by side, so the
tests know every kernel, its orientation and its graph depth.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def kernel(shape: tuple[int, ...], offset: float) -> np.ndarray:
    """Distinct float32 values, so any mix-up of axes shows."""
    return (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 16 + offset).astype(
        np.float32
    )


#: layer -> {weight name: kernel in Keras' channels-last layout}
KERNELS = {
    "conv_a": {"kernel": kernel((3, 3, 2, 4), 0)},
    "dw": {"depthwise_kernel": kernel((3, 3, 4, 2), 10)},
    "sep": {
        "depthwise_kernel": kernel((3, 3, 4, 1), 20),
        "pointwise_kernel": kernel((1, 1, 4, 8), 30),
    },
    "conv_b": {"kernel": kernel((3, 3, 8, 3), 40), "bias": kernel((3,), 50)},
}
CLASSES = {
    "conv_a": "Conv2D",
    "dw": "DepthwiseConv2D",
    "sep": "SeparableConv2D",
    "conv_b": "Conv2D",
}
INBOUND = {
    "conv_a": ["input_1"],
    "dw": ["conv_a"],
    "sep": ["conv_a"],
    "add": ["dw", "sep"],
    "conv_b": ["add"],
}


def model_config() -> dict:
    layers = [{"class_name": "InputLayer", "config": {"name": "input_1"}, "inbound_nodes": []}]
    for name, sources in INBOUND.items():
        layers.append(
            {
                "class_name": CLASSES.get(name, "Add"),
                "config": {"name": name},
                "inbound_nodes": [[[source, 0, 0, {}] for source in sources]],
            }
        )
    return {"class_name": "Model", "config": {"name": "m", "layers": layers}}


def write_keras(path: Path, config: dict | str | None = None, kernels=KERNELS) -> Path:
    """A Keras 2 ``model.save`` file; ``config`` replaces the model_config (None: the model's)."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        text = config if isinstance(config, str) else json.dumps(config or model_config())
        f.attrs["model_config"] = text.encode()
        weights = f.create_group("model_weights")
        names = ["input_1", *INBOUND]
        weights.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            group = weights.create_group(name)
            tensors = kernels.get(name, {})
            group.attrs["weight_names"] = np.array(
                [f"{name}_1/{w}:0".encode() for w in tensors], dtype="S"
            )
            for weight, value in tensors.items():
                group.create_dataset(f"{name}_1/{weight}:0", data=value)
    return path


def expected_filters() -> dict[str, np.ndarray]:
    """Each extracted layer (by dataset path) in the database's (c_out, c_in/groups, kh, kw)."""
    dw = KERNELS["dw"]["depthwise_kernel"]  # (kh, kw, c_in, m): output channel c * m + j
    sep = KERNELS["sep"]["depthwise_kernel"]
    return {
        "model_weights/conv_a/conv_a_1/kernel:0": KERNELS["conv_a"]["kernel"].transpose(3, 2, 0, 1),
        "model_weights/dw/dw_1/depthwise_kernel:0": np.stack(
            [dw[:, :, c, j] for c in range(4) for j in range(2)]
        )[:, None],
        "model_weights/sep/sep_1/depthwise_kernel:0": np.stack([sep[:, :, c, 0] for c in range(4)])[
            :, None
        ],
        "model_weights/sep/sep_1/pointwise_kernel:0": KERNELS["sep"]["pointwise_kernel"].transpose(
            3, 2, 0, 1
        ),
        "model_weights/conv_b/conv_b_1/kernel:0": KERNELS["conv_b"]["kernel"].transpose(3, 2, 0, 1),
    }
