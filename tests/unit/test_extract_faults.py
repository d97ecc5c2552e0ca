"""Broken, hostile and unsupported checkpoints fail with a ModelError naming model, file and cause,
and leave no output behind."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import onnx
import pytest
import safetensors.torch
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from filterdb.errors import ModelError
from filterdb.extract.stage import extract


def outputs(tmp_path):
    out = tmp_path / "out"
    return {
        "filters_path": out / "f.parquet",
        "layers_path": out / "l.parquet",
        "summary_path": out / "s.json",
    }


def assert_fails(tmp_path, model, path, *fragments, source=None):
    """Extraction raises a ModelError naming the model, the file and the cause; writes nothing."""
    with pytest.raises(ModelError) as info:
        extract(model, path, source=source, **outputs(tmp_path))
    message = str(info.value)
    assert repr(model) in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())
    return message


def small_state_dict():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3), nn.Conv2d(4, 4, 3)).state_dict()


def small_onnx() -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[w],
    )
    return helper.make_model(graph)


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_that_would_run_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "payload-ran"
    zipped = tmp_path / "evil.pt"
    torch.save({"state_dict": small_state_dict(), "extra": Payload(marker)}, zipped)
    raw = tmp_path / "evil_raw.pth"
    raw.write_bytes(pickle.dumps({"conv.weight": Payload(marker)}))

    for path in (zipped, raw):
        message = assert_fails(tmp_path, "evil", path, "refused", "pickled code")
        assert "system" in message
        assert not marker.exists()

    # the payload is live: a plain pickle.load (what weights_only=False would do) runs it
    subprocess.run(
        [sys.executable, "-c", f"import pickle; pickle.load(open({str(raw)!r}, 'rb'))"],
        check=True,
    )
    assert marker.exists()


@pytest.mark.parametrize("suffix", [".pt", ".bin", ".safetensors", ".onnx"])
def test_random_bytes_are_a_clear_error(tmp_path, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    assert_fails(tmp_path, "noise", path, "cannot")


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".onnx"])
def test_truncated_files_are_a_clear_error(tmp_path, suffix):
    path = tmp_path / f"full{suffix}"
    if suffix == ".pt":
        torch.save(small_state_dict(), path)
    elif suffix == ".safetensors":
        safetensors.torch.save_file(small_state_dict(), path)
    else:
        onnx.save(small_onnx(), path)
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    assert_fails(tmp_path, "cut", cut)


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_empty_file_is_a_clear_error(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    assert_fails(tmp_path, "empty", path)


def test_onnx_weight_shorter_than_its_shape_fails_without_partial_output(tmp_path):
    model = small_onnx()
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:100]
    onnx.save(model, tmp_path / "short.onnx")
    assert_fails(tmp_path, "short", tmp_path / "short.onnx", "'W'")
    assert not list((tmp_path / "out").glob(".tmp-*"))


def test_onnx_with_missing_external_data_names_the_file(tmp_path):
    onnx.save(
        small_onnx(),
        tmp_path / "ext.onnx",
        save_as_external_data=True,
        location="ext.onnx.data",
        size_threshold=0,
    )
    (tmp_path / "ext.onnx.data").unlink()
    assert_fails(tmp_path, "ext", tmp_path / "ext.onnx", "external data", "ext.onnx.data")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    assert_fails(tmp_path, "keras", path, "unsupported file suffix '.h5'")


def test_checkpoint_without_tensors(tmp_path):
    torch.save({"epoch": 3, "args": {"lr": 0.1}}, tmp_path / "meta.pt")
    assert_fails(tmp_path, "meta", tmp_path / "meta.pt", "no tensors")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    assert_fails(tmp_path, "list", tmp_path / "list.pt", "not a state dict")


def test_timm_checkpoint_that_does_not_fit_its_architecture(tmp_path):
    safetensors.torch.save_file(small_state_dict(), tmp_path / "wrong.safetensors")
    path = tmp_path / "wrong.safetensors"
    assert_fails(tmp_path, "wrong", path, "does not fit", source="timm-init:resnet18")
    assert_fails(tmp_path, "wrong", path, "cannot build timm model", source="timm:no_such_net")
