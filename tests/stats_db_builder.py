"""A small filter database holding ordinary layers and every edge case the statistics handle.

Shared by the statistics tests: all-zero layer, one-filter layer, NaN/Inf filters, an all-NaN
layer, a depthwise layer, a model without 3x3 layers, empty labels, a group with a single model,
segmentation tasks to merge, a layer without relative depth. Filters share one anisotropic shape
distribution so the PCA axes are well separated.
"""

from __future__ import annotations

import numpy as np

from benchmarks.synthetic_db import Layer, Model


def _structured(rng, n, scale=1.0):
    """Filters with a shared anisotropic shape distribution, so the PCA has distinct axes."""
    spectrum = np.array([9.0, 6.0, 4.0, 3.0, 2.0, 1.4, 1.0, 0.6, 0.3])
    rotation = np.linalg.qr(np.random.default_rng(99).normal(size=(9, 9)))[0]
    return ((rng.normal(size=(n, 9)) * np.sqrt(spectrum)) @ rotation.T * scale).astype(np.float32)


def _layer(rng, out_channels, in_channels, groups=1, scale=1.0, **kw):
    n = out_channels * (in_channels // groups)
    return Layer(_structured(rng, n, scale), out_channels, in_channels, groups, **kw)


def edge_case_models() -> list[Model]:
    """Six models; layer positions are fixed (the tests look some up by (model, layer))."""
    rng = np.random.default_rng(2024)
    sparse = _layer(rng, 32, 16)
    shrink = rng.random(len(sparse.weights)) < 0.4
    sparse.weights[shrink] *= np.float32(1e-5)
    with_nan = _layer(rng, 16, 8)
    with_nan.weights[[3, 40, 41]] = np.nan
    with_nan.weights[77, 4] = np.inf
    with_nan.weights[78, 0] = -np.inf
    all_nan = Layer(np.full((4, 9), np.nan, np.float32), 2, 2)
    zero = Layer(np.zeros((16, 9), np.float32), 4, 4)
    single = Layer(_structured(rng, 1), 1, 1)
    depthwise = _layer(rng, 24, 24, groups=24, scale=0.01)
    no_depth = _layer(rng, 8, 8, conv_depth_norm=float("nan"))
    labels = lambda task, category, network, dataset: {  # noqa: E731
        "Task": task,
        "Visual Category": category,
        "Network": network,
        "Training-Dataset": dataset,
        "Framework": "torch" if network != "VGG" else "onnx",
    }
    return [
        Model(
            "alpha",
            labels("Classification", "natural", "ResNet", "ImageNet"),
            [_layer(rng, 16, 3), _layer(rng, 32, 16), sparse, _layer(rng, 64, 32, scale=3.0)],
        ),
        Model(
            "beta",
            labels("Semantic Segmentation", "medical", "UNet", "MedSet"),
            [_layer(rng, 8, 1), with_nan, depthwise, all_nan, _layer(rng, 32, 16, scale=0.2)],
        ),
        Model(
            "gamma",
            labels("Instance Segmentation", "natural", "ResNet", "COCO"),
            [_layer(rng, 16, 3), zero, single, _layer(rng, 48, 16)],
        ),
        Model("delta", labels("Detection", "faces", "VGG", ""), [_layer(rng, 24, 8), no_depth]),
        Model("empty", labels("Classification", "natural", "ResNet", "ImageNet"), []),
        Model(
            "eps",
            labels("Classification", "", "Solo", "ImageNet"),
            [_layer(rng, 16, 3), _layer(rng, 16, 16), _layer(rng, 32, 16, scale=0.5)],
        ),
    ]
