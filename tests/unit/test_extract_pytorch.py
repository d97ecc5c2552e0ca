"""Filter extraction from PyTorch checkpoints, safetensors files and timm architectures."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
import safetensors.torch
import torch
from torch import nn

from filterdb.acquire.pypi import cached_wheel
from filterdb.db.filter_file import pack_layers
from filterdb.db.schema import EXTRACTED_LAYER_SCHEMA, FILTER_SCHEMA, WEIGHT_COLUMNS
from filterdb.extract.dispatch import read_model
from filterdb.extract.read_pytorch import read_module
from filterdb.extract.stage import extract
from filterdb.extract.write import write_extraction

W = list(WEIGHT_COLUMNS)


class SmallNet(nn.Module):
    """3x3 convs (plain, depthwise, grouped), a 5x5 and a 1x1 conv, plus a BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(2, 4, 3)  # (4, 2, 3, 3): 8 kernels
        self.bn = nn.BatchNorm2d(4)
        self.conv_dw = nn.Conv2d(4, 4, 3, groups=4)  # (4, 1, 3, 3): 4 kernels
        self.conv_g = nn.Conv2d(4, 6, 3, groups=2)  # (6, 2, 3, 3): 12 kernels
        self.conv5 = nn.Conv2d(6, 2, 5, padding=2)  # 12 kernels 5x5
        self.conv1 = nn.Conv2d(2, 3, 1)  # 6 kernels 1x1
        with torch.no_grad():
            for index, conv in enumerate([self.conv_a, self.conv_dw, self.conv_g, self.conv5]):
                n = conv.weight.numel()
                conv.weight.copy_(torch.arange(n).reshape(conv.weight.shape) / 7 + 100 * index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv_a(x))
        return self.conv1(self.conv5(self.conv_g(self.conv_dw(x))))


THREE_BY_THREE = ["conv_a.weight", "conv_dw.weight", "conv_g.weight"]


def outputs(tmp_path, name="m"):
    return {
        "filters_path": tmp_path / f"{name}.filters.parquet",
        "layers_path": tmp_path / f"{name}.layers.parquet",
        "summary_path": tmp_path / f"{name}.json",
    }


def expected_filters(state: dict[str, torch.Tensor]) -> np.ndarray:
    return np.concatenate([state[k].float().numpy().reshape(-1, 9) for k in THREE_BY_THREE])


def read_filters(path) -> np.ndarray:
    table = pq.read_table(path)
    return np.stack([table[c].to_numpy() for c in W], axis=1)


def test_bare_state_dict_filters_layers_and_summary(tmp_path):
    state = SmallNet().state_dict()
    torch.save(state, tmp_path / "net.pt")
    paths = outputs(tmp_path)
    summary = extract("net", tmp_path / "net.pt", **paths)

    filters = pq.read_table(paths["filters_path"])
    assert filters.schema.equals(FILTER_SCHEMA)
    assert filters.schema.metadata is None or b"pandas" not in filters.schema.metadata
    np.testing.assert_array_equal(read_filters(paths["filters_path"]), expected_filters(state))
    assert filters["layer"].to_pylist() == [0] * 8 + [1] * 4 + [2] * 12
    # first filter of conv_a is its first 9 values: output-channel-major, row-major 3x3
    np.testing.assert_array_equal(
        read_filters(paths["filters_path"])[0], np.arange(9, dtype=np.float32) / np.float32(7)
    )

    layers = pq.read_table(paths["layers_path"])
    assert layers.schema.equals(EXTRACTED_LAYER_SCHEMA)
    rows = layers.to_pylist()
    assert [r["layer_name"] for r in rows] == THREE_BY_THREE
    assert [r["n_filters"] for r in rows] == [8, 4, 12]
    # bare state dict: no architecture, groups unknown -> 1 and channels from the weight shape
    assert [r["groups"] for r in rows] == [1, 1, 1]
    assert [r["in_channels"] for r in rows] == [2, 1, 2]
    assert [r["out_channels"] for r in rows] == [4, 4, 6]
    assert [r["depth"] for r in rows] == [0, 1, 2]  # index among all five conv weights
    assert [r["conv_depth_norm"] for r in rows] == [0.0, 0.25, 0.5]
    assert {r["depth_method"] for r in rows} == {"state_dict_order"}

    assert summary == json.loads(paths["summary_path"].read_text())
    assert summary == {
        "model": "net",
        "format": "pytorch",
        "producer": "",
        "opset": None,
        "depth_method": "state_dict_order",
        "n_conv_layers": 5,
        "shape_counts": {"(1, 1)": 6, "(3, 3)": 24, "(5, 5)": 12},
        "n_filters": 24,
        "3x3_filter_share": 24 / 36,
        "skipped_layers": 0,
        "skipped_reasons": "",
    }


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"model": sd, "optimizer_name": "sgd"},
        lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
    ],
    ids=["state_dict", "model", "nested_module_prefix", "module_prefix"],
)
def test_wrapped_checkpoints_give_the_same_filters(tmp_path, wrap):
    state = SmallNet().state_dict()
    torch.save(wrap(state), tmp_path / "net.pth")
    paths = outputs(tmp_path)
    extract("net", tmp_path / "net.pth", **paths)
    np.testing.assert_array_equal(read_filters(paths["filters_path"]), expected_filters(state))
    names = pq.read_table(paths["layers_path"])["layer_name"].to_pylist()
    assert names == THREE_BY_THREE


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("suffix", [".bin", ".safetensors"])
def test_half_precision_is_upcast_exactly(tmp_path, dtype, suffix):
    torch.manual_seed(0)
    net = SmallNet()
    with torch.no_grad():
        for conv in [net.conv_a, net.conv_dw, net.conv_g]:
            conv.weight.normal_()
    state = {k: v.to(dtype) for k, v in net.state_dict().items() if v.is_floating_point()}
    path = tmp_path / f"net{suffix}"
    if suffix == ".safetensors":
        safetensors.torch.save_file(state, path)
    else:
        torch.save(state, path)
    paths = outputs(tmp_path)
    summary = extract("net", path, **paths)
    assert summary["format"] == ("safetensors" if suffix == ".safetensors" else "pytorch")
    got = read_filters(paths["filters_path"])
    np.testing.assert_array_equal(got, expected_filters(state))
    # the stored values are the half-precision ones, not the float32 originals
    assert not np.array_equal(got, expected_filters(net.state_dict()))


def test_nan_and_inf_are_counted_and_kept(tmp_path):
    state = SmallNet().state_dict()
    state["conv_dw.weight"][0, 0, 0, 0] = float("nan")
    state["conv_dw.weight"][1, 0, 2, 2] = float("nan")
    state["conv_g.weight"][0, 0, 1, 1] = float("-inf")
    torch.save(state, tmp_path / "net.pt")
    paths = outputs(tmp_path)
    extract("net", tmp_path / "net.pt", **paths)
    rows = pq.read_table(paths["layers_path"]).to_pylist()
    assert [(r["n_nan"], r["n_inf"]) for r in rows] == [(0, 0), (2, 0), (0, 1)]
    got = read_filters(paths["filters_path"])
    assert np.isnan(got).sum() == 2 and np.isneginf(got).sum() == 1


def test_model_without_3x3_conv_gives_valid_empty_outputs(tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 2, 1))
    torch.save(net.state_dict(), tmp_path / "pointwise.pt")
    paths = outputs(tmp_path)
    summary = extract("pointwise", tmp_path / "pointwise.pt", **paths)
    filters = pq.read_table(paths["filters_path"])
    assert filters.num_rows == 0 and filters.schema.equals(FILTER_SCHEMA)
    layers = pq.read_table(paths["layers_path"])
    assert layers.num_rows == 0 and layers.schema.equals(EXTRACTED_LAYER_SCHEMA)
    assert summary["n_filters"] == 0
    assert summary["3x3_filter_share"] == 0.0
    assert summary["n_conv_layers"] == 2
    assert summary["shape_counts"] == {"(1, 1)": 40}


def test_same_input_gives_byte_identical_files(tmp_path):
    torch.manual_seed(1)
    safetensors.torch.save_file(SmallNet().state_dict(), tmp_path / "net.safetensors")
    first, second = outputs(tmp_path, "first"), outputs(tmp_path, "second")
    extract("net", tmp_path / "net.safetensors", row_group_size=10, **first)
    extract("net", tmp_path / "net.safetensors", row_group_size=10, **second)
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize(
    ("row_group_size", "expected_groups"),
    [(12, [[0, 1], [2]]), (5, [[0], [1], [2]]), (100, [[0, 1, 2]])],
)
def test_row_groups_hold_whole_layers(tmp_path, row_group_size, expected_groups):
    torch.save(SmallNet().state_dict(), tmp_path / "net.pt")
    paths = outputs(tmp_path)
    convs = read_model("net", tmp_path / "net.pt")
    write_extraction(convs, row_group_size=row_group_size, **paths)
    reader = pq.ParquetFile(paths["filters_path"])
    groups = [
        sorted(set(reader.read_row_group(i, columns=["layer"])["layer"].to_pylist()))
        for i in range(reader.num_row_groups)
    ]
    assert groups == expected_groups
    # weights stored uncompressed (benchmarks/compression_benchmark.py), layer dictionary-encoded
    assert reader.metadata.row_group(0).column(1).compression == "UNCOMPRESSED"
    assert "RLE_DICTIONARY" in reader.metadata.row_group(0).column(0).encodings


def test_pack_layers_closes_groups_before_overflow():
    assert pack_layers([3, 4, 10, 1, 1, 2], 8) == [(0, 2), (2, 3), (3, 6)]
    with pytest.raises(ValueError):
        pack_layers([3], 0)


class Untraceable(SmallNet):
    """Data-dependent control flow defeats torch.fx tracing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            x = x * 2
        return super().forward(x)


def test_module_reader_reads_groups_and_falls_back_when_fx_fails(tmp_path):
    torch.save(SmallNet().state_dict(), tmp_path / "net.pt")
    traced = read_module("net", tmp_path / "net.pt", SmallNet())
    assert traced.depth_method == "fx_trace"
    layers = {layer.name: layer for layer in traced.layers}
    assert (layers["conv_dw.weight"].groups, layers["conv_dw.weight"].in_channels) == (4, 4)
    assert (layers["conv_g.weight"].groups, layers["conv_g.weight"].in_channels) == (2, 4)
    # conv_a -> bn -> conv_dw -> conv_g -> conv5 -> conv1
    assert [layer.depth for layer in traced.layers] == [0, 2, 3, 4, 5]

    fallback = read_module("net", tmp_path / "net.pt", Untraceable())
    assert fallback.depth_method == "state_dict_order"
    assert [layer.depth for layer in fallback.layers] == [0, 1, 2, 3, 4]
    assert layers["conv_g.weight"].groups == fallback.layers[2].groups


def test_timm_architecture_is_traced_with_fx(tmp_path):
    import timm

    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False)
    safetensors.torch.save_file(net.state_dict(), tmp_path / "resnet18.safetensors")
    paths = outputs(tmp_path)
    summary = extract(
        "resnet18", tmp_path / "resnet18.safetensors", source="timm-init:resnet18", **paths
    )
    convs_3x3 = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    n_expected = sum(m.out_channels * m.in_channels // m.groups for m in convs_3x3)
    assert summary["depth_method"] == "fx_trace"
    assert summary["n_filters"] == n_expected == pq.read_metadata(paths["filters_path"]).num_rows
    assert summary["n_conv_layers"] == 20  # stem 7x7 + 16 3x3 + 3 downsample 1x1
    rows = pq.read_table(paths["layers_path"]).to_pylist()
    assert len(rows) == 16
    depths = [r["depth"] for r in rows]
    assert depths == sorted(depths) and len(set(depths)) == 16
    # the 7x7 stem is the shallowest conv depth; 1x1 downsamples sit beside a block's conv1
    assert [r["conv_depth"] for r in rows] == list(range(1, 17))
    assert rows[-1]["conv_depth_norm"] == 1.0
    state = net.state_dict()
    first = state[rows[0]["layer_name"]].numpy().reshape(-1, 9)
    np.testing.assert_array_equal(read_filters(paths["filters_path"])[: len(first)], first)


FACENET_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"


@pytest.fixture(scope="session")
def facenet_wheel(wheel_cache):
    """The facenet-pytorch wheel (trained MTCNN weights), fetched once as the workflow does."""
    wheel = cached_wheel("mtcnn_pnet", "facenet-pytorch", "2.6.0", wheel_cache)
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == FACENET_SHA256
    return wheel


def test_real_trained_checkpoint(tmp_path, facenet_wheel):
    with zipfile.ZipFile(facenet_wheel) as wheel:
        (tmp_path / "pnet.pt").write_bytes(wheel.read("facenet_pytorch/data/pnet.pt"))
    paths = outputs(tmp_path)
    summary = extract(
        "mtcnn-pnet",
        tmp_path / "pnet.pt",
        source="pypi:facenet-pytorch==2.6.0:facenet_pytorch/data/pnet.pt",
        **paths,
    )
    assert summary["n_filters"] == 702
    rows = pq.read_table(paths["layers_path"]).to_pylist()
    assert [(r["layer_name"], r["n_filters"]) for r in rows] == [
        ("conv1.weight", 30),
        ("conv2.weight", 160),
        ("conv3.weight", 512),
    ]
    state = torch.load(tmp_path / "pnet.pt", weights_only=True)
    expected = np.concatenate([state[r["layer_name"]].numpy().reshape(-1, 9) for r in rows])
    np.testing.assert_array_equal(read_filters(paths["filters_path"]), expected)
