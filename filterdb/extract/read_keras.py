"""Read the 2-D conv layers of a Keras HDF5 model (``.h5`` / ``.hdf5``, Keras 2's layout) with h5py.

Keras 2 writes ``model.save(...)`` files with the weights under ``model_weights`` and
``save_weights(...)`` files with them at the root; either way the weights group lists its layers
in the ``layer_names`` attribute and each layer group its datasets in ``weight_names``. The
``model_config`` attribute (JSON, absent in weights-only files) gives each layer's class and its
inbound layers.

Keras stores kernels channels-last, and the database stores ``(c_out, c_in / groups, kh, kw)``:

* ``Conv2D`` ``kernel`` ``(kh, kw, c_in / groups, c_out)`` is transposed ``(3, 2, 0, 1)``;
* ``DepthwiseConv2D`` ``depthwise_kernel`` ``(kh, kw, c_in, m)`` becomes ``(c_in · m, 1, kh, kw)``
  with groups = c_in, output channel ``c · m + j`` as TensorFlow orders it;
* ``SeparableConv2D`` is two layers: that depthwise kernel, and its ``pointwise_kernel``
  ``(1, 1, c_in · m, c_out)`` as a 1×1 conv.

``Conv2DTranspose`` kernels are counted in ``skipped`` (transposed convolution), integer kernels
too (quantised), and so are nested models' convolutions, whose layers the top-level graph does
not place. Without ``model_config`` a layer's class is told by its dataset names, so a transposed
convolution there cannot be told from a ``Conv2D``; such files are weights-only and rare. Keras 3's
``.weights.h5`` layout is refused with a message saying so.

Depth (``keras_graph``): layers are the nodes and ``inbound_nodes`` the edges of a functional model,
a chain for a sequential one; ``InputLayer`` is not an operation. Without a config the conv
order in ``layer_names`` is the depth (``state_dict_order``). Both halves of a separable conv
share their layer's depth.

Hostile files: only hard links inside the file are followed (an external link, external raw
storage or a virtual dataset would read other files), a contiguous dataset must lie inside the
file, and every failure of h5py or of the JSON becomes the model's ``ModelError``. A kernel is
read only when the writer asks for it, by reopening the file, after its shape was checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from filterdb.errors import ModelError, describe
from filterdb.extract.conv_layers import ConvLayer, ModelConvs, count_skipped
from filterdb.extract.graph_depth import longest_path_depths

_CONV_CLASSES = ("Conv2D", "Convolution2D", "DepthwiseConv2D", "SeparableConv2D")
_TRANSPOSED = ("Conv2DTranspose", "Deconvolution2D", "Convolution2DTranspose")
_MODEL_CLASSES = ("Model", "Functional", "Sequential")
_LINK_KINDS = {h5py.h5l.TYPE_SOFT: "SoftLink", h5py.h5l.TYPE_EXTERNAL: "ExternalLink"}


def read_keras(model: str, path: Path) -> ModelConvs:
    """Conv layers of the Keras HDF5 file at ``path``, with their graph depths."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as file:
            return _read(model, path, file)
    except ModelError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, RuntimeError alike
        raise ModelError(
            model, str(path), f"cannot read as a Keras HDF5 model: {describe(exc)}"
        ) from exc


def _read(model: str, path: Path, file: h5py.File) -> ModelConvs:
    fail = _failer(model, path)
    weights = _weights_group(file, fail)
    config = _model_config(file, fail)
    classes = {layer["name"]: layer["class_name"] for layer in config} if config else {}
    depth, method = _depths(config, fail) if config else ({}, "state_dict_order")
    layers: list[ConvLayer] = []
    skipped: list[str] = []
    for name in _strings(weights.attrs["layer_names"]):
        group = _child(weights, name, fail)
        datasets = {
            weight: _dataset(group, weight, path, fail)
            for weight in _strings(group.attrs.get("weight_names", []))
        }
        kind = classes.get(name) or _class_from_weights(datasets)
        if kind in _MODEL_CLASSES:
            skipped += ["nested model's layers"] * sum(_is_kernel(d) for d in datasets.values())
            continue
        if kind in _TRANSPOSED:
            skipped += ["transposed convolution"] * sum(_is_kernel(d) for d in datasets.values())
            continue
        if kind not in _CONV_CLASSES:
            continue
        order = depth.get(name, len(layers))
        found = list(_conv_layers(name, kind, datasets, order, path, fail))
        for layer, dataset in found:
            if dataset.dtype.kind != "f":
                skipped.append(f"kernel stored as {dataset.dtype}, not floating point")
            else:
                layers.append(layer)
    producer = " ".join(
        f"{label} {_text(file.attrs[key])}"
        for key, label in (("keras_version", "keras"), ("backend", "backend"))
        if key in file.attrs
    )
    return ModelConvs(
        model, str(path), "keras", producer, None, method, tuple(layers), count_skipped(skipped)
    )


def _failer(model: str, path: Path) -> Callable[[str], ModelError]:
    return lambda cause: ModelError(model, str(path), cause)


def _weights_group(file: h5py.File, fail: Callable[[str], ModelError]) -> h5py.Group:
    """The group holding ``layer_names``: ``model_weights`` of a full save, else the root."""
    for group in (file.get("model_weights", getlink=False), file):
        if isinstance(group, h5py.Group) and "layer_names" in group.attrs:
            return group
    if "vars" in file or "layers" in file:
        raise fail("Keras 3 weights layout (.weights.h5) is not supported; save with Keras 2 HDF5")
    raise fail("not a Keras HDF5 model: no layer_names attribute in the file or model_weights")


def _model_config(file: h5py.File, fail: Callable[[str], ModelError]) -> list[dict] | None:
    """The top-level layers of ``model_config`` (name, class_name, inbound_nodes), or None."""
    if "model_config" not in file.attrs:
        return None
    try:
        config = json.loads(_text(file.attrs["model_config"]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise fail(f"model_config attribute is not valid JSON: {describe(exc)}") from exc
    body = config.get("config") if isinstance(config, dict) else None
    layers = body.get("layers") if isinstance(body, dict) else body
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise fail("model_config does not list the model's layers")
    out = []
    for layer in layers:
        name = (layer.get("config") or {}).get("name")
        if not isinstance(name, str) or not isinstance(layer.get("class_name"), str):
            raise fail("model_config has a layer without a name or class_name")
        out.append({**layer, "name": name, "sequential": config.get("class_name") == "Sequential"})
    return out


def _depths(config: list[dict], fail: Callable[[str], ModelError]) -> tuple[dict[str, int], str]:
    """Graph depth of every layer: ``inbound_nodes`` of a functional model, else a chain."""
    operations = [layer for layer in config if layer["class_name"] != "InputLayer"]
    if config and config[0]["sequential"]:
        predecessors = {
            layer["name"]: [prev["name"]] if prev else []
            for prev, layer in zip([None, *operations], operations, strict=False)
        }
    else:
        predecessors = {layer["name"]: list(_inbound(layer, fail)) for layer in operations}
    try:
        return longest_path_depths(predecessors), "keras_graph"
    except ValueError as exc:
        raise fail(f"model_config: invalid layer graph: {exc}") from exc


def _inbound(layer: Mapping[str, Any], fail: Callable[[str], ModelError]) -> Iterator[str]:
    """Names of the layers feeding ``layer``: Keras 2 nodes are lists of [name, node, tensor]."""
    nodes = layer.get("inbound_nodes", [])
    if not isinstance(nodes, list):
        raise fail(f"model_config: inbound_nodes of layer {layer['name']!r} is not a list")
    for node in nodes:
        for entry in node if isinstance(node, list) else []:
            if isinstance(entry, list) and entry and isinstance(entry[0], str):
                yield entry[0]


def _class_from_weights(datasets: Mapping[str, h5py.Dataset]) -> str | None:
    """A layer's class told by its dataset names, for weights-only files."""
    bases = {_base(name) for name in datasets}
    if {"depthwise_kernel", "pointwise_kernel"} <= bases:
        return "SeparableConv2D"
    if "depthwise_kernel" in bases:
        return "DepthwiseConv2D"
    if any(_base(n) == "kernel" and d.ndim == 4 for n, d in datasets.items()):
        return "Conv2D"
    return None


def _conv_layers(
    layer: str,
    kind: str,
    datasets: Mapping[str, h5py.Dataset],
    depth: int,
    path: Path,
    fail: Callable[[str], ModelError],
) -> Iterator[tuple[ConvLayer, h5py.Dataset]]:
    """The ConvLayer(s) of one conv layer group, each with its dataset (for its dtype)."""
    by_base = {_base(name): (name, d) for name, d in datasets.items()}
    parts = {
        "Conv2D": ("kernel",),
        "Convolution2D": ("kernel",),
        "DepthwiseConv2D": ("depthwise_kernel",),
        "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel"),
    }[kind]
    for part in parts:
        if part not in by_base:
            raise fail(f"{kind} layer {layer!r} has no {part} dataset (weight_names)")
        name, dataset = by_base[part]
        if dataset.ndim != 4:
            raise fail(f"{kind} layer {layer!r}: {part} has shape {dataset.shape}, not 4-D")
        kh, kw, c_in, c_out = (int(d) for d in dataset.shape)
        if part == "depthwise_kernel":  # (kh, kw, c_in, multiplier)
            shape, groups, in_channels = (c_in * c_out, 1, kh, kw), c_in, c_in
            arrange = _depthwise
        else:
            shape, groups, in_channels = (c_out, c_in, kh, kw), 1, c_in
            arrange = _channels_first
        yield (
            ConvLayer(
                name=dataset.name.lstrip("/"),
                shape=shape,
                in_channels=in_channels,
                out_channels=shape[0],
                groups=groups,
                depth=depth,
                load=_loader(path, dataset.name, arrange, shape),
            ),
            dataset,
        )


def _channels_first(kernel: np.ndarray) -> np.ndarray:
    """``(kh, kw, c_in, c_out)`` -> ``(c_out, c_in, kh, kw)``."""
    return kernel.transpose(3, 2, 0, 1)


def _depthwise(kernel: np.ndarray) -> np.ndarray:
    """``(kh, kw, c_in, m)`` -> ``(c_in · m, 1, kh, kw)``, output channel ``c · m + j``."""
    kh, kw, c_in, m = kernel.shape
    return kernel.transpose(2, 3, 0, 1).reshape(c_in * m, 1, kh, kw)


def _loader(
    path: Path, dataset: str, arrange: Callable[[np.ndarray], np.ndarray], shape: tuple
) -> Callable[[], np.ndarray]:
    """Deferred read of one kernel, in the database's order, as contiguous float32."""

    def load() -> np.ndarray:
        with h5py.File(path, "r") as file:
            kernel = np.asarray(file[dataset][()])
        out = np.ascontiguousarray(arrange(kernel), dtype=np.float32)
        return out.reshape(shape)

    return load


def _child(group: h5py.Group, name: str, fail: Callable[[str], ModelError]) -> h5py.Group:
    """Group ``name`` of ``group``, reached through hard links only."""
    item = _follow(group, name, fail)
    if not isinstance(item, h5py.Group):
        raise fail(f"layer_names lists {name!r}, which is not a group of {group.name}")
    return item


def _dataset(
    group: h5py.Group, name: str, path: Path, fail: Callable[[str], ModelError]
) -> h5py.Dataset:
    """Dataset ``name`` (a path below ``group``), stored inside this file only."""
    item = _follow(group, name, fail)
    if not isinstance(item, h5py.Dataset):
        raise fail(f"weight_names of {group.name} lists {name!r}, which is not a dataset")
    if item.external or item.is_virtual:
        raise fail(f"dataset {item.name!r} keeps its data in other files; refused")
    if item.chunks is None and item.id.get_storage_size():
        end = item.id.get_offset() + item.id.get_storage_size()
        if item.id.get_storage_size() < item.nbytes or end > os.path.getsize(path):
            raise fail(
                f"dataset {item.name!r} declares {item.nbytes} bytes beyond what the file holds "
                "(truncated or corrupt file)"
            )
    return item


def _follow(group: h5py.Group, name: str, fail: Callable[[str], ModelError]) -> Any:
    """The object at relative path ``name`` below ``group``, every step a hard link."""
    node = group
    for part in name.split("/"):
        if not part:
            continue
        # The link is inspected before anything resolves it: ``part in node`` and
        # ``node.get(part, getlink=True)`` would already open an external link's target file.
        key = part.encode()
        if not isinstance(node, h5py.Group) or not node.id.links.exists(key):
            raise fail(f"{group.name} names {name!r}, which is not in the file")
        kind = node.id.links.get_info(key).type
        if kind != h5py.h5l.TYPE_HARD:
            label = _LINK_KINDS.get(kind, f"link of type {kind}")
            raise fail(f"{name!r} in {group.name} is a {label}; only hard links are followed")
        node = node[part]
    return node


def _is_kernel(dataset: h5py.Dataset) -> bool:
    return dataset.ndim == 4


def _base(name: str) -> str:
    """``conv2d_1_1/kernel:0`` -> ``kernel``."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _strings(values: Any) -> list[str]:
    return [_text(v) for v in np.atleast_1d(values)]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else str(value)
