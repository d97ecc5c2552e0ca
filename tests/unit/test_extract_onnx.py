"""Filter extraction from ONNX graphs built with onnx.helper (known kernels and topology)."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import onnx
import pyarrow.parquet as pq
import pytest
from onnx import TensorProto, helper, numpy_helper

from filterdb.db.schema import WEIGHT_COLUMNS
from filterdb.extract.dispatch import read_model
from filterdb.extract.stage import extract

W = list(WEIGHT_COLUMNS)


def weight(shape: tuple[int, ...], offset: float) -> np.ndarray:
    return (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 8 + offset).astype(
        np.float32
    )


def conv(name: str, x: str, w: str, y: str, group: int = 1, pads: int = 0) -> onnx.NodeProto:
    return helper.make_node("Conv", [x, w], [y], name=name, group=group, pads=[pads] * 4)


BRANCH_WEIGHTS = {
    "WA": weight((4, 2, 3, 3), 0),  # conv A: 8 kernels 3x3
    "WB": weight((4, 1, 3, 3), 10),  # conv B: depthwise, 4 kernels 3x3
    "WC": weight((4, 4, 1, 1), 20),  # conv C: 16 kernels 1x1
    "WD": weight((4, 4, 5, 5), 30),  # conv D: 16 kernels 5x5
    "WE": weight((3, 4, 3, 3), 40),  # conv E: 12 kernels 3x3
}


def branching_model(weights=BRANCH_WEIGHTS, extra_nodes=(), extra_inits=()) -> onnx.ModelProto:
    """input -> A -> (B -> C) and (D) -> Add -> E."""
    nodes = [
        conv("A", "x", "WA", "a", pads=1),
        conv("B", "a", "WB", "b", group=4, pads=1),
        conv("C", "b", "WC", "c"),
        conv("D", "a", "WD", "d", pads=2),
        helper.make_node("Add", ["c", "d"], ["s"], name="Add"),
        conv("E", "s", "WE", "y", pads=1),
        *extra_nodes,
    ]
    inits = [numpy_helper.from_array(w, name) for name, w in weights.items()] + list(extra_inits)
    graph = helper.make_graph(
        nodes,
        "branching",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])]
        + [
            helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None) for n in extra_nodes
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.producer_name, model.producer_version = "filterdb-test", "1.0"
    return model


def outputs(tmp_path, name="m"):
    return {
        "filters_path": tmp_path / f"{name}.filters.parquet",
        "layers_path": tmp_path / f"{name}.layers.parquet",
        "summary_path": tmp_path / f"{name}.json",
    }


def read_filters(path) -> np.ndarray:
    table = pq.read_table(path)
    return np.stack([table[c].to_numpy() for c in W], axis=1)


def test_branching_graph_depths_filters_and_summary(tmp_path):
    model = branching_model()
    onnx.checker.check_model(model)
    onnx.save(model, tmp_path / "branch.onnx")
    paths = outputs(tmp_path)
    summary = extract("branch", tmp_path / "branch.onnx", **paths)

    rows = pq.read_table(paths["layers_path"]).to_pylist()
    assert [r["layer_name"] for r in rows] == ["WA", "WB", "WE"]
    # node depths A=0, B=1, D=1, C=2, Add=3, E=4; conv depths {0, 1, 2, 4} ranked 0..3
    assert [r["depth"] for r in rows] == [0, 1, 4]
    assert [r["conv_depth"] for r in rows] == [0, 1, 3]
    assert [r["conv_depth_norm"] for r in rows] == [0.0, 1 / 3, 1.0]
    assert [r["groups"] for r in rows] == [1, 4, 1]
    assert [r["in_channels"] for r in rows] == [2, 4, 4]
    assert [r["out_channels"] for r in rows] == [4, 4, 3]
    assert [r["n_filters"] for r in rows] == [8, 4, 12]
    assert {r["depth_method"] for r in rows} == {"onnx_graph"}

    layer = pq.read_table(paths["filters_path"])["layer"].to_pylist()
    assert layer == [0] * 8 + [1] * 4 + [2] * 12
    expected = np.concatenate([BRANCH_WEIGHTS[k].reshape(-1, 9) for k in ["WA", "WB", "WE"]])
    np.testing.assert_array_equal(read_filters(paths["filters_path"]), expected)

    assert summary == json.loads(paths["summary_path"].read_text())
    assert summary == {
        "model": "branch",
        "format": "onnx",
        "producer": "filterdb-test 1.0",
        "opset": 17,
        "depth_method": "onnx_graph",
        "n_conv_layers": 5,
        "shape_counts": {"(1, 1)": 16, "(3, 3)": 24, "(5, 5)": 16},
        "n_filters": 24,
        "3x3_filter_share": 24 / 40,
        "skipped_layers": 0,
        "skipped_reasons": "",
    }


def test_computed_conv_weights_are_skipped_and_constant_nodes_are_weights(tmp_path):
    constant = helper.make_node(
        "Constant",
        [],
        ["WK"],
        value=numpy_helper.from_array(weight((2, 2, 3, 3), 5)),
    )
    computed = helper.make_node("Identity", ["WA"], ["WA_copy"])
    extra = [
        constant,
        conv("K", "x", "WK", "k", pads=1),
        computed,
        conv("F", "x", "WA_copy", "f", pads=1),
        conv("A_again", "x", "WA", "a2", pads=1),  # shared initializer: one layer only
    ]
    onnx.save(branching_model(extra_nodes=extra), tmp_path / "skip.onnx")
    convs = read_model("skip", tmp_path / "skip.onnx")
    assert convs.skipped_layers == 1  # only the computed weight
    assert [layer.name for layer in convs.layers] == ["WA", "WB", "WC", "WD", "WE", "WK"]
    by_name = {layer.name: layer for layer in convs.layers}
    assert by_name["WK"].depth == 0  # the Constant node is a weight, not an operation
    np.testing.assert_array_equal(by_name["WK"].load(), weight((2, 2, 3, 3), 5))


def test_conv1d_is_not_a_2d_layer(tmp_path):
    node = helper.make_node("Conv", ["x1", "W1d"], ["y1"], name="conv1d")
    graph = helper.make_graph(
        [node],
        "conv1d",
        [helper.make_tensor_value_info("x1", TensorProto.FLOAT, [1, 2, 8])],
        [helper.make_tensor_value_info("y1", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.ones((3, 2, 3), np.float32), "W1d")],
    )
    onnx.save(helper.make_model(graph), tmp_path / "c1d.onnx")
    paths = outputs(tmp_path)
    summary = extract("c1d", tmp_path / "c1d.onnx", **paths)
    assert (summary["n_conv_layers"], summary["n_filters"], summary["skipped_layers"]) == (0, 0, 0)
    assert pq.read_metadata(paths["filters_path"]).num_rows == 0


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_half_precision_initializers_are_upcast_exactly(tmp_path, dtype):
    rng = np.random.default_rng(0)
    low = {k: rng.standard_normal(w.shape).astype(dtype) for k, w in BRANCH_WEIGHTS.items()}
    model = branching_model(weights=low)
    onnx.save(model, tmp_path / "half.onnx")
    paths = outputs(tmp_path)
    extract("half", tmp_path / "half.onnx", **paths)
    expected = np.concatenate(
        [low[k].astype(np.float32).reshape(-1, 9) for k in ["WA", "WB", "WE"]]
    )
    np.testing.assert_array_equal(read_filters(paths["filters_path"]), expected)


def test_external_data_is_read_from_beside_the_model(tmp_path):
    onnx.save(
        branching_model(),
        tmp_path / "ext.onnx",
        save_as_external_data=True,
        location="ext.weights",
        size_threshold=0,
    )
    assert (tmp_path / "ext.weights").is_file()
    paths = outputs(tmp_path)
    extract("ext", tmp_path / "ext.onnx", **paths)
    expected = np.concatenate([BRANCH_WEIGHTS[k].reshape(-1, 9) for k in ["WA", "WB", "WE"]])
    np.testing.assert_array_equal(read_filters(paths["filters_path"]), expected)


def test_same_onnx_input_gives_byte_identical_files(tmp_path):
    onnx.save(branching_model(), tmp_path / "branch.onnx")
    first, second = outputs(tmp_path, "first"), outputs(tmp_path, "second")
    extract("branch", tmp_path / "branch.onnx", row_group_size=8, **first)
    extract("branch", tmp_path / "branch.onnx", row_group_size=8, **second)
    for key in first:
        assert first[key].read_bytes() == second[key].read_bytes(), key
    assert pq.ParquetFile(first["filters_path"]).num_row_groups == 3
