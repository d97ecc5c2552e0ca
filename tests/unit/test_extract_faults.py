"""Broken, hostile and unsupported checkpoints fail with a ModelError naming model, file and cause,
and leave no output behind."""

from __future__ import annotations

import pickle
import subprocess
import sys
import zipfile

import hostile_files
import numpy as np
import onnx
import pyarrow.parquet as pq
import pytest
import safetensors.torch
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from filterdb.errors import ModelError
from filterdb.extract.conv_layers import ConvLayer, layer_problem
from filterdb.extract.dispatch import read_model
from filterdb.extract.memory import MemoryLimit, declared_bytes, declared_mb, extraction_mem_mb
from filterdb.extract.read_pytorch import MAX_NESTING
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
    return hostile_files.onnx_model([helper.make_node("Conv", ["x", "W"], ["y"])], [w])


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_that_would_run_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "payload-ran"
    zipped = tmp_path / "evil.pt"
    torch.save({"state_dict": small_state_dict(), "extra": hostile_files.Payload(marker)}, zipped)
    raw = tmp_path / "evil_raw.pth"
    raw.write_bytes(pickle.dumps({"conv.weight": hostile_files.Payload(marker)}))

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
    path = tmp_path / "weights.caffemodel"
    path.write_bytes(b"\x0a\x05caffe")
    assert_fails(tmp_path, "caffe", path, "unsupported file suffix '.caffemodel'")


def test_hdf5_signature_alone_is_a_clear_keras_error(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    assert_fails(tmp_path, "keras", path, "cannot read as a Keras HDF5 model")


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


# --- hostile files: bounded walks, allocations checked before they happen, late checks -------


def test_a_dict_containing_itself_fails_instead_of_hanging(tmp_path):
    path = hostile_files.self_referential_pt(tmp_path / "loop.pt")
    assert_fails(tmp_path, "loop", path, "contain themselves")


def test_containers_nested_too_deep_are_refused(tmp_path):
    nested: dict = {"conv.weight": torch.ones(2, 1, 3, 3)}
    for _ in range(MAX_NESTING + 1):
        nested = {"state_dict": nested}
    torch.save(nested, tmp_path / "deep.pt")
    assert_fails(tmp_path, "deep", tmp_path / "deep.pt", f"nest more than {MAX_NESTING} deep")
    for _ in range(MAX_NESTING + 1 - 3):
        nested = nested["state_dict"]
    torch.save(nested, tmp_path / "ok.pt")  # three levels: an ordinary training checkpoint
    assert extract("ok", tmp_path / "ok.pt", **outputs(tmp_path))["n_filters"] == 2


def test_a_stride0_view_is_refused_by_its_declared_size_before_any_allocation(tmp_path):
    path = hostile_files.stride0_pt(tmp_path / "huge.pt")
    assert path.stat().st_size < 4096
    with pytest.raises(ModelError) as info:
        extract("huge", path, mem_mb=2000, **outputs(tmp_path))
    message = str(info.value)
    assert "'conv.weight'" in message and "(100000, 100000, 3, 3)" in message
    assert f"limit of {MemoryLimit(2000).layer_elements}" in message and "mem_mb=2000" in message
    # the limit follows the job's memory: the same layer passes the check with enough of it
    MemoryLimit(10**9).check_layer("huge", str(path), "conv.weight", (100000, 100000, 3, 3))


def test_a_compressed_entry_counts_by_its_declared_size(tmp_path):
    """A deflated zip entry is small on disk; the job's memory follows what it declares."""
    path = tmp_path / "bomb.pt"
    torch.save({"conv.weight": torch.zeros(2000, 1000, 3, 3)}, path)  # 72 MB of zeros
    packed = tmp_path / "packed.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    assert packed.stat().st_size < 1_000_000 < 72_000_000 <= declared_bytes(packed)
    packed_dir = tmp_path / "packed"
    packed_dir.mkdir()
    packed.rename(packed_dir / "packed.pt")
    assert extraction_mem_mb(declared_mb(packed_dir), 16000) >= 2000 + 4 * 72
    with pytest.raises(ModelError, match="declares 72 MB of data, more than this job's memory"):
        read_model("packed", packed_dir / "packed.pt", limit=MemoryLimit(1050))


def test_an_onnx_constant_without_output_is_an_invalid_graph(tmp_path):
    path = hostile_files.onnx_constant_without_output(tmp_path / "orphan.onnx")
    assert_fails(tmp_path, "orphan", path, "invalid ONNX graph", "'orphan'", "0 outputs")


def test_an_onnx_conv_with_group_zero_is_that_models_error(tmp_path):
    path = hostile_files.onnx_group_zero(tmp_path / "g0.onnx")
    assert_fails(tmp_path, "g0", path, "layer 'W'", "groups=0")


@pytest.mark.parametrize(
    ("layer", "problem"),
    [
        (dict(shape=(4, 0, 3, 3)), "positive dimensions"),
        (dict(shape=(4, 2, 3)), "not 4-D"),
        (dict(groups=-1), "groups=-1"),
        (dict(in_channels=3), "does not match in_channels=3"),
        (dict(out_channels=5), "does not match"),
        (dict(shape=(3, 1, 3, 3), out_channels=3, groups=2), "not divisible by groups=2"),
    ],
)
def test_inconsistent_layer_bookkeeping_is_named(layer, problem):
    base = dict(
        name="w", shape=(4, 2, 3, 3), in_channels=2, out_channels=4, groups=1, depth=0, load=None
    )
    assert problem in layer_problem(ConvLayer(**{**base, **layer}))
    assert layer_problem(ConvLayer(**base)) is None
    grouped = {**base, "shape": (4, 1, 3, 3), "groups": 2}
    assert layer_problem(ConvLayer(**grouped)) is None


def test_an_onnx_conv_with_a_zero_dimension_weight_is_refused(tmp_path):
    model = hostile_files.onnx_model(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="conv")],
        [helper.make_tensor("W", TensorProto.FLOAT, [4, 0, 3, 3], [])],
    )
    onnx.save(model, tmp_path / "zero.onnx")
    assert_fails(tmp_path, "zero", tmp_path / "zero.onnx", "(4, 0, 3, 3)", "positive dimensions")


def test_quantised_onnx_convs_are_counted_by_reason_never_stored_as_integers(tmp_path):
    path = hostile_files.onnx_quantised(tmp_path / "q.onnx")
    paths = outputs(tmp_path)
    summary = extract("q", path, **paths)
    assert (summary["n_conv_layers"], summary["n_filters"], summary["skipped_layers"]) == (1, 8, 2)
    assert summary["skipped_reasons"] == (
        "QLinearConv (quantised weights): 1; weight stored as INT8, not floating point: 1"
    )
    layers = pq.read_table(paths["layers_path"]).to_pylist()
    assert [r["layer_name"] for r in layers] == ["W"]
    stored = pq.read_table(paths["filters_path"]).drop(["layer"]).to_pandas().to_numpy()
    np.testing.assert_array_equal(stored, hostile_files.FLOAT_WEIGHT.reshape(-1, 9))


def test_onnx_transposed_convs_are_counted_as_skipped(tmp_path):
    w = numpy_helper.from_array(hostile_files.FLOAT_WEIGHT.transpose(1, 0, 2, 3).copy(), "T")
    nodes = [helper.make_node("ConvTranspose", ["x", "T"], ["y"], name="up")]
    onnx.save(hostile_files.onnx_model(nodes, [w]), tmp_path / "up.onnx")
    convs = read_model("up", tmp_path / "up.onnx")
    assert convs.layers == () and convs.skipped == {"transposed convolution": 1}


def test_a_convolution_operator_of_another_domain_is_counted_under_its_name(tmp_path):
    w = numpy_helper.from_array(hostile_files.FLOAT_WEIGHT, "W")
    nodes = [
        helper.make_node("FusedConv", ["x", "W"], ["y"], domain="com.microsoft", name="fused"),
        helper.make_node("Conv", ["x", "W"], ["z"], name="plain"),
    ]
    model = hostile_files.onnx_model(nodes, [w])
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, tmp_path / "fused.onnx")
    convs = read_model("fused", tmp_path / "fused.onnx")
    assert [layer.name for layer in convs.layers] == ["W"]
    assert convs.skipped == {"operator com.microsoft.FusedConv is not read": 1}


def test_int8_safetensors_conv_weights_are_counted_not_stored(tmp_path):
    path = hostile_files.safetensors_int8(tmp_path / "q.safetensors")
    summary = extract("q", path, **outputs(tmp_path))
    assert (summary["n_conv_layers"], summary["n_filters"], summary["skipped_layers"]) == (1, 8, 1)
    assert summary["skipped_reasons"] == "stored as int8, not floating point: 1"


def test_a_data_parallel_prefix_on_some_keys_only_loses_no_weight(tmp_path):
    torch.save(
        {"module.conv.weight": torch.ones(2, 1, 3, 3), "conv.weight": torch.zeros(3, 1, 3, 3)},
        tmp_path / "mixed.pt",
    )
    convs = read_model("mixed", tmp_path / "mixed.pt")
    assert [layer.name for layer in convs.layers] == ["module.conv.weight", "conv.weight"]
    torch.save({"module.conv.weight": torch.ones(2, 1, 3, 3)}, tmp_path / "dp.pt")
    assert [layer.name for layer in read_model("dp", tmp_path / "dp.pt").layers] == ["conv.weight"]


def test_a_directory_or_missing_checkpoint_says_which(tmp_path):
    (tmp_path / "dir.pt").mkdir()
    assert_fails(tmp_path, "dir", tmp_path / "dir.pt", "is a directory, not a checkpoint file")
    assert_fails(tmp_path, "gone", tmp_path / "gone.pt", "checkpoint file not found")
