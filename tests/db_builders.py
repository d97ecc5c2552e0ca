"""Test databases, written with the library's own writer (``filterdb.db.from_arrays``).

``edge_case_models`` holds ordinary layers and every edge case the statistics handle: all-zero
layer, one-filter layer, NaN/Inf filters, an all-NaN layer, a depthwise layer, a model without
3x3 layers, empty labels, a group with a single model, segmentation tasks to merge, a layer
without relative depth. Filters share one anisotropic shape distribution so the PCA axes are well
separated. ``random_models`` gives bigger databases of plain random layers.
"""

from __future__ import annotations

import numpy as np

from filterdb.config import section
from filterdb.db.from_arrays import ArrayLayer, ArrayModel

#: The workflow's default row group size, for databases whose layout is not under test.
ROW_GROUP_SIZE = section("extraction")["row_group_size"]


def _structured(rng, n, scale=1.0):
    """Filters with a shared anisotropic shape distribution, so the PCA has distinct axes."""
    spectrum = np.array([9.0, 6.0, 4.0, 3.0, 2.0, 1.4, 1.0, 0.6, 0.3])
    rotation = np.linalg.qr(np.random.default_rng(99).normal(size=(9, 9)))[0]
    return ((rng.normal(size=(n, 9)) * np.sqrt(spectrum)) @ rotation.T * scale).astype(np.float32)


def layer(rng, out_channels, in_channels, groups=1, scale=1.0, **kw) -> ArrayLayer:
    """A layer of structured filters with the given channel layout."""
    n = out_channels * (in_channels // groups)
    return ArrayLayer(_structured(rng, n, scale), out_channels, in_channels, groups, **kw)


def edge_case_models() -> list[ArrayModel]:
    """Six models; layer positions are fixed (the tests look some up by (model, layer))."""
    rng = np.random.default_rng(2024)
    sparse = layer(rng, 32, 16)
    shrink = rng.random(len(sparse.weights)) < 0.4
    sparse.weights[shrink] *= np.float32(1e-5)
    with_nan = layer(rng, 16, 8)
    with_nan.weights[[3, 40, 41]] = np.nan
    with_nan.weights[77, 4] = np.inf
    with_nan.weights[78, 0] = -np.inf
    all_nan = ArrayLayer(np.full((4, 9), np.nan, np.float32), 2, 2)
    zero = ArrayLayer(np.zeros((16, 9), np.float32), 4, 4)
    single = ArrayLayer(_structured(rng, 1), 1, 1)
    depthwise = layer(rng, 24, 24, groups=24, scale=0.01)
    no_depth = layer(rng, 8, 8, conv_depth_norm=float("nan"))
    labels = lambda task, category, network, dataset: {  # noqa: E731
        "Task": task,
        "Visual Category": category,
        "Network": network,
        "Training-Dataset": dataset,
        "Framework": "torch" if network != "VGG" else "onnx",
    }
    return [
        ArrayModel(
            "alpha",
            labels("Classification", "natural", "ResNet", "ImageNet"),
            [layer(rng, 16, 3), layer(rng, 32, 16), sparse, layer(rng, 64, 32, scale=3.0)],
        ),
        ArrayModel(
            "beta",
            labels("Semantic Segmentation", "medical", "UNet", "MedSet"),
            [layer(rng, 8, 1), with_nan, depthwise, all_nan, layer(rng, 32, 16, scale=0.2)],
        ),
        ArrayModel(
            "gamma",
            labels("Instance Segmentation", "natural", "ResNet", "COCO"),
            [layer(rng, 16, 3), zero, single, layer(rng, 48, 16)],
        ),
        ArrayModel("delta", labels("Detection", "faces", "VGG", ""), [layer(rng, 24, 8), no_depth]),
        ArrayModel("empty", labels("Classification", "natural", "ResNet", "ImageNet"), []),
        ArrayModel(
            "eps",
            labels("Classification", "", "Solo", "ImageNet"),
            [layer(rng, 16, 3), layer(rng, 16, 16), layer(rng, 32, 16, scale=0.5)],
        ),
    ]


def random_models(
    n_models: int, layers_per_model: int, filters_per_layer: int, seed: int
) -> list[ArrayModel]:
    """Models of random structured layers, generated lazily so only one model is in memory.

    Each layer is ``filters_per_layer / 16`` output channels of 16 inputs; labels cycle through a
    few Tasks and Visual Categories so every shift axis has several groups.
    """
    tasks = ("Classification", "Detection", "Segmentation")
    categories = ("natural", "faces", "text", "medical")

    def layers(index: int):
        rng = np.random.default_rng([seed, index])
        for k in range(layers_per_model):
            yield layer(rng, filters_per_layer // 16, 16, scale=10.0 ** -(k % 3))

    return [
        ArrayModel(
            f"random_{index:03d}",
            {
                "Task": tasks[index % len(tasks)],
                "Visual Category": categories[index % len(categories)],
                "Network": f"Net{index % 2}",
                "Training-Dataset": "synthetic",
            },
            layers(index),
        )
        for index in range(n_models)
    ]
