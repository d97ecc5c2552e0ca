"""Crafted checkpoints that once hung, exhausted memory or silently bent a run.

Each builder writes one small file with the library a user's file would come from (torch, onnx,
safetensors), so the unit tests and the workflow test try exactly the same bytes.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import onnx
import safetensors.torch
import torch
from onnx import TensorProto, helper, numpy_helper


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


#: The float conv every quantised file also holds, so its extraction is not empty.
FLOAT_WEIGHT = np.arange(4 * 2 * 9, dtype=np.float32).reshape(4, 2, 3, 3) / 10


def self_referential_pt(path: Path) -> Path:
    """A dict that contains itself under ``model``: an unbounded unwrap of it never ends."""
    container: dict = {}
    container["model"] = container
    torch.save(container, path)
    return path


def stride0_pt(path: Path) -> Path:
    """1.5 KB on disk, a (100000, 100000, 3, 3) stride-0 view: 9e10 weights (360 GB) declared."""
    torch.save({"conv.weight": torch.zeros(1, 1, 1, 1).expand(100000, 100000, 3, 3)}, path)
    return path


def legacy_storage_lie_pt(path: Path) -> Path:
    """torch's legacy (non-zip) format, 450 bytes, whose pickle declares an 8 GB storage.

    The loader allocates a storage at its declared size before reading it; the 18-element storage
    of a (2, 1, 3, 3) weight is patched to declare 2e9 float32 elements.
    """
    torch.save({"conv.weight": torch.ones(2, 1, 3, 3)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    numel = b"K\x12N"  # BININT1 18, then NONE: the storage's element count in the pickle
    assert data.count(numel) == 1, "torch's legacy layout changed"
    path.write_bytes(data.replace(numel, b"J" + struct.pack("<i", 2_000_000_000) + b"N"))
    return path


def onnx_model(nodes, initializers=()) -> onnx.ModelProto:
    """A model of ``nodes`` from graph input ``x`` (1, 2, 8, 8) to output ``y``."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=list(initializers),
    )
    return helper.make_model(graph)


def onnx_constant_without_output(path: Path) -> Path:
    """A ``Constant`` node with no output (once an IndexError outside the per-model boundary)."""
    value = numpy_helper.from_array(FLOAT_WEIGHT)
    nodes = [
        helper.make_node("Constant", [], [], name="orphan", value=value),
        helper.make_node("Conv", ["x", "W"], ["y"], name="conv"),
    ]
    onnx.save(onnx_model(nodes, [numpy_helper.from_array(FLOAT_WEIGHT, "W")]), path)
    return path


def onnx_group_zero(path: Path) -> Path:
    """A Conv with ``group=0``: once extracted as groups=0, in_channels=0."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", group=0)]
    onnx.save(onnx_model(nodes, [numpy_helper.from_array(FLOAT_WEIGHT, "W")]), path)
    return path


def onnx_quantised(path: Path) -> Path:
    """One float Conv, one ``QLinearConv`` and one float Conv fed by a raw int8 initializer."""
    int8 = np.arange(4 * 4 * 9).reshape(4, 4, 3, 3).astype(np.int8)
    scalar = {
        "s": np.array(0.1, np.float32),
        "zp": np.array(0, np.int8),
        "qs": np.array(0.1, np.float32),
        "qzp": np.array(0, np.int8),
    }
    initializers = [
        numpy_helper.from_array(FLOAT_WEIGHT, "W"),
        numpy_helper.from_array(int8, "Q"),
        numpy_helper.from_array(int8.copy(), "I"),
        *(numpy_helper.from_array(v, k) for k, v in scalar.items()),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["a"], name="float_conv", pads=[1] * 4),
        helper.make_node("QuantizeLinear", ["a", "s", "zp"], ["qa"], name="quantise"),
        helper.make_node(
            "QLinearConv", ["qa", "s", "zp", "Q", "qs", "qzp", "s", "zp"], ["qb"], name="qconv"
        ),
        helper.make_node("DequantizeLinear", ["qb", "s", "zp"], ["b"], name="dequantise"),
        helper.make_node("Conv", ["b", "I"], ["y"], name="int8_conv"),
    ]
    onnx.save(onnx_model(nodes, initializers), path)
    return path


def safetensors_int8(path: Path) -> Path:
    """A float conv weight beside an int8 one, whose scale is not in the file."""
    safetensors.torch.save_file(
        {
            "conv.weight": torch.from_numpy(FLOAT_WEIGHT.copy()),
            "qconv.weight": torch.arange(4 * 4 * 9, dtype=torch.int8).reshape(4, 4, 3, 3),
        },
        path,
    )
    return path
