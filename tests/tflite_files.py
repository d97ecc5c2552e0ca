"""Small and hostile ``.tflite`` files, built with flatbuffers' Builder and the ``tflite`` bindings.

No TensorFlow is needed: a model is written field by field with the generated builder functions
(``tflite.ModelStart``, ``tflite.TensorStart``...), so a test knows every byte it hands the
reader. Filters are given in the database's layout ``(c_out, c_in / groups, kh, kw)`` and stored
in TFLite's (OHWI, or 1HWO for depthwise), so a test checks the reader's transposition against
values it never transposed itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator as Op
from tflite.TensorType import TensorType as T

#: Placeholder offset of external buffers in the first of two builds (any value > 1 of 8 bytes).
_PLACEHOLDER_OFFSET = 2**40
_ALIGN = 16


@dataclass(frozen=True)
class Tensor:
    """A tensor: ``buffer`` 0 is TFLite's empty buffer (a computed tensor or graph input)."""

    name: str
    shape: tuple[int, ...]
    type: int = T.FLOAT32
    buffer: int = 0
    quantized: bool = False  # adds scale/zero-point quantization parameters
    sparse: bool = False  # adds a (minimal) SparsityParameters table


@dataclass(frozen=True)
class Operator:
    code: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    custom: str | None = None
    depth_multiplier: int | None = None  # DEPTHWISE_CONV_2D options


@dataclass(frozen=True)
class Buffer:
    """Inline ``data``, or ``external`` bytes appended after the flatbuffer (the > 2 GB layout,
    found by offset/size). ``offset``/``size`` override what is written (hostile files)."""

    data: bytes | None = None
    external: bytes | None = None
    offset: int | None = None
    size: int | None = None


@dataclass(frozen=True)
class Graph:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...] = (0,)
    outputs: tuple[int, ...] = ()


@dataclass(frozen=True)
class Model:
    graphs: tuple[Graph, ...]
    buffers: tuple[Buffer, ...]
    description: str = "filterdb test"
    version: int = 3
    min_runtime: str | None = None
    #: which opcode fields are written: "both" (as TFLite does since schema 3a), "deprecated"
    #: (files before 3a) or "builtin" (only the int32 field; the deprecated one left at 0)
    opcode_fields: str = "both"
    #: how many times the first subgraph is listed (> 1: aliased offsets, a hostile file)
    repeat_graph: int = 1
    expected: dict = field(default_factory=dict, compare=False)


def model_bytes(model: Model) -> bytes:
    """The ``.tflite`` bytes of ``model``; external buffers are appended, 16-byte aligned."""
    externals = [b.external for b in model.buffers if b.external is not None]
    if not externals:
        return _build(model, [])
    first = _build(model, [_PLACEHOLDER_OFFSET] * len(externals))
    offsets, end = [], _aligned(len(first))
    for data in externals:
        offsets.append(end)
        end = _aligned(end + len(data))
    out = bytearray(_build(model, offsets))
    assert len(out) == len(first), "the flatbuffer's size depends on the offsets' values"
    for offset, data in zip(offsets, externals, strict=True):
        out += bytes(offset - len(out)) + data
    return bytes(out)


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _build(model: Model, external_offsets: list[int]) -> bytes:
    b = flatbuffers.Builder(1024)
    opcodes = list(dict.fromkeys((op.code, op.custom) for g in model.graphs for op in g.operators))
    buffers = []
    externals = iter(external_offsets)
    for buf in model.buffers:
        data = b.CreateByteVector(buf.data) if buf.data is not None else None
        offset, size = buf.offset, buf.size
        if buf.external is not None:
            offset = next(externals) if offset is None else offset
            size = len(buf.external) if size is None else size
        tflite.BufferStart(b)
        if data is not None:
            tflite.BufferAddData(b, data)
        if offset is not None:
            tflite.BufferAddOffset(b, offset)
        if size is not None:
            tflite.BufferAddSize(b, size)
        buffers.append(tflite.BufferEnd(b))
    codes = []
    for code, custom in opcodes:
        custom_code = b.CreateString(custom) if custom else None
        tflite.OperatorCodeStart(b)
        if model.opcode_fields in ("both", "deprecated"):
            tflite.OperatorCodeAddDeprecatedBuiltinCode(
                b, min(code, Op.PLACEHOLDER_FOR_GREATER_OP_CODES)
            )
        if model.opcode_fields in ("both", "builtin"):
            tflite.OperatorCodeAddBuiltinCode(b, code)
        if custom_code is not None:
            tflite.OperatorCodeAddCustomCode(b, custom_code)
        tflite.OperatorCodeAddVersion(b, 1)
        codes.append(tflite.OperatorCodeEnd(b))
    graphs = [_graph(b, graph, opcodes) for graph in model.graphs]
    graphs = graphs[:1] * model.repeat_graph + graphs[1:]
    metadata = []
    if model.min_runtime is not None:
        name = b.CreateString("min_runtime_version")
        tflite.MetadataStart(b)
        tflite.MetadataAddName(b, name)
        tflite.MetadataAddBuffer(b, len(model.buffers))
        metadata.append(tflite.MetadataEnd(b))
        version = model.min_runtime.encode().ljust(16, b"\0")
        tflite_buffer = b.CreateByteVector(version)
        tflite.BufferStart(b)
        tflite.BufferAddData(b, tflite_buffer)
        buffers.append(tflite.BufferEnd(b))
    description = b.CreateString(model.description)
    vectors = {
        "codes": _tables(b, tflite.ModelStartOperatorCodesVector, codes),
        "graphs": _tables(b, tflite.ModelStartSubgraphsVector, graphs),
        "buffers": _tables(b, tflite.ModelStartBuffersVector, buffers),
        "metadata": _tables(b, tflite.ModelStartMetadataVector, metadata),
    }
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, model.version)
    tflite.ModelAddOperatorCodes(b, vectors["codes"])
    tflite.ModelAddSubgraphs(b, vectors["graphs"])
    tflite.ModelAddDescription(b, description)
    tflite.ModelAddBuffers(b, vectors["buffers"])
    tflite.ModelAddMetadata(b, vectors["metadata"])
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _tables(b: flatbuffers.Builder, start, offsets: list[int]) -> int:
    start(b, len(offsets))
    for offset in reversed(offsets):
        b.PrependUOffsetTRelative(offset)
    return b.EndVector()


def _ints(b: flatbuffers.Builder, values) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=np.int32))


def _graph(b: flatbuffers.Builder, graph: Graph, opcodes: list[tuple[int, str | None]]) -> int:
    tensors = []
    for t in graph.tensors:
        name, shape = b.CreateString(t.name), _ints(b, t.shape)
        quantization = sparsity = None
        if t.quantized:
            scale = b.CreateNumpyVector(np.full(t.shape[0], 0.05, dtype=np.float32))
            zero = b.CreateNumpyVector(np.zeros(t.shape[0], dtype=np.int64))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scale)
            tflite.QuantizationParametersAddZeroPoint(b, zero)
            quantization = tflite.QuantizationParametersEnd(b)
        if t.sparse:
            order = _ints(b, range(len(t.shape)))
            tflite.SparsityParametersStart(b)
            tflite.SparsityParametersAddTraversalOrder(b, order)
            sparsity = tflite.SparsityParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, t.type)
        tflite.TensorAddBuffer(b, t.buffer)
        tflite.TensorAddName(b, name)
        if quantization is not None:
            tflite.TensorAddQuantization(b, quantization)
        if sparsity is not None:
            tflite.TensorAddSparsity(b, sparsity)
        tensors.append(tflite.TensorEnd(b))
    operators = []
    for op in graph.operators:
        inputs, outputs = _ints(b, op.inputs), _ints(b, op.outputs)
        options = None
        if op.depth_multiplier is not None:
            tflite.DepthwiseConv2DOptionsStart(b)
            tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, op.depth_multiplier)
            tflite.DepthwiseConv2DOptionsAddStrideH(b, 1)
            tflite.DepthwiseConv2DOptionsAddStrideW(b, 1)
            options = tflite.DepthwiseConv2DOptionsEnd(b)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, opcodes.index((op.code, op.custom)))
        tflite.OperatorAddInputs(b, inputs)
        tflite.OperatorAddOutputs(b, outputs)
        if options is not None:
            tflite.OperatorAddBuiltinOptionsType(b, tflite.BuiltinOptions.DepthwiseConv2DOptions)
            tflite.OperatorAddBuiltinOptions(b, options)
        operators.append(tflite.OperatorEnd(b))
    tensor_vector = _tables(b, tflite.SubGraphStartTensorsVector, tensors)
    operator_vector = _tables(b, tflite.SubGraphStartOperatorsVector, operators)
    inputs, outputs = _ints(b, graph.inputs), _ints(b, graph.outputs)
    name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vector)
    tflite.SubGraphAddInputs(b, inputs)
    tflite.SubGraphAddOutputs(b, outputs)
    tflite.SubGraphAddOperators(b, operator_vector)
    tflite.SubGraphAddName(b, name)
    return tflite.SubGraphEnd(b)


# --- known filters, in the database's layout (c_out, c_in / groups, kh, kw)


def weight(shape: tuple[int, ...], offset: float) -> np.ndarray:
    """Distinct values, exact in float16 (multiples of 1/8 below 2048), so any permutation of
    the axes or precision loss shows."""
    return (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 8 + offset).astype(
        np.float32
    )


def ohwi(w: np.ndarray) -> np.ndarray:
    """A (c_out, c_in / groups, kh, kw) filter in CONV_2D's stored layout."""
    return np.ascontiguousarray(w.transpose(0, 2, 3, 1))


def one_hwo(w: np.ndarray) -> np.ndarray:
    """A depthwise (c_out, 1, kh, kw) filter in DEPTHWISE_CONV_2D's stored layout."""
    return np.ascontiguousarray(w.transpose(1, 2, 3, 0))


def data(array: np.ndarray, dtype: str = "<f4") -> Buffer:
    return Buffer(data=np.ascontiguousarray(array).astype(dtype).tobytes())


def float_conv(**changes) -> Model:
    """input (1, 5, 5, 2) -> CONV_2D with a float32 (4, 2, 3, 3) filter and a bias."""
    w = weight((4, 2, 3, 3), 0)
    graph = Graph(
        tensors=(
            Tensor("input", (1, 5, 5, 2)),
            Tensor("conv/kernel", ohwi(w).shape, buffer=1),
            Tensor("conv/bias", (4,), buffer=2),
            Tensor("conv", (1, 3, 3, 4)),
        ),
        operators=(Operator(Op.CONV_2D, (0, 1, 2), (3,)),),
        outputs=(3,),
    )
    buffers = (Buffer(), data(ohwi(w)), data(np.arange(4, dtype=np.float32)))
    return replace(Model((graph,), buffers, expected={"conv/kernel": w}), **changes)


def depthwise_multiplier_2(input_shape=(1, 5, 5, 3)) -> Model:
    """DEPTHWISE_CONV_2D of 3 input channels, depth multiplier 2: filter (1, 3, 3, 6)."""
    w = weight((6, 1, 3, 3), 100)
    graph = Graph(
        tensors=(
            Tensor("input", input_shape),
            Tensor("dw/kernel", one_hwo(w).shape, buffer=1),
            Tensor("dw", (1, 3, 3, 6)),
        ),
        operators=(Operator(Op.DEPTHWISE_CONV_2D, (0, 1, -1), (2,), depth_multiplier=2),),
        outputs=(2,),
    )
    return Model((graph,), (Buffer(), data(one_hwo(w))), expected={"dw/kernel": w})


def fp16_dequantized(external: bool = False) -> Model:
    """MediaPipe's layout: a float16 constant -> DEQUANTIZE -> float32 filter -> CONV_2D.

    ``external``: the fp16 bytes lie after the flatbuffer, found by offset/size (> 2 GB layout).
    """
    w = weight((3, 2, 3, 3), -4)
    stored = ohwi(w).astype("<f2").tobytes()
    graph = Graph(
        tensors=(
            Tensor("input", (1, 5, 5, 2)),
            Tensor("conv/Kernel", ohwi(w).shape, type=T.FLOAT16, buffer=1),
            Tensor("conv/Kernel_dequantize", ohwi(w).shape),
            Tensor("conv", (1, 3, 3, 3)),
        ),
        operators=(
            Operator(Op.DEQUANTIZE, (1,), (2,)),
            Operator(Op.CONV_2D, (0, 2, -1), (3,)),
        ),
        outputs=(3,),
    )
    buffer = Buffer(external=stored) if external else Buffer(data=stored)
    return Model((graph,), (Buffer(), buffer), expected={"conv/Kernel": w})


def int8_quantised() -> Model:
    """An int8 CONV_2D filter with scales, an int8 constant behind DEQUANTIZE, and one float
    conv, so the extraction is not empty."""
    w = weight((2, 2, 3, 3), 1)
    q = np.arange(2 * 3 * 3 * 2, dtype=np.int8).reshape(2, 3, 3, 2)
    graph = Graph(
        tensors=(
            Tensor("input", (1, 7, 7, 2)),
            Tensor("q/kernel", q.shape, type=T.INT8, buffer=1, quantized=True),
            Tensor("q", (1, 5, 5, 2)),
            Tensor("dq/kernel_int8", q.shape, type=T.INT8, buffer=2, quantized=True),
            Tensor("dq/kernel", q.shape),
            Tensor("dq", (1, 3, 3, 2)),
            Tensor("f/kernel", ohwi(w).shape, buffer=3),
            Tensor("f", (1, 1, 1, 2)),
        ),
        operators=(
            Operator(Op.CONV_2D, (0, 1, -1), (2,)),
            Operator(Op.DEQUANTIZE, (3,), (4,)),
            Operator(Op.CONV_2D, (2, 4, -1), (5,)),
            Operator(Op.CONV_2D, (5, 6, -1), (7,)),
        ),
        outputs=(7,),
    )
    buffers = (Buffer(), Buffer(data=q.tobytes()), Buffer(data=q.tobytes()), data(ohwi(w)))
    return Model((graph,), buffers, expected={"f/kernel": w})


BRANCH_WEIGHTS = {
    "A": weight((4, 2, 3, 3), 0),  # 3x3, fp16 behind DEQUANTIZE: 8 kernels
    "B": weight((4, 1, 3, 3), 10),  # depthwise 3x3: 4 kernels
    "C": weight((4, 4, 1, 1), 20),  # 1x1: 16 kernels
    "D": weight((4, 4, 5, 5), 30),  # 5x5: 16 kernels
    "E": weight((3, 4, 3, 3), 40),  # 3x3: 12 kernels
}
#: Operator depths of the branching graph (the DEQUANTIZE is plumbing, not an operation).
BRANCH_DEPTHS = {"A": 0, "B": 1, "C": 2, "D": 1, "E": 4}


def branching() -> Model:
    """input -> DEQUANTIZE-fed A -> (B -> C) and (D) -> ADD -> E, plus what is skipped: a
    TRANSPOSE_CONV, MediaPipe's custom transposed conv, a filter computed by the graph, a sparse
    filter, a conv sharing E's filter, and a conv in a second subgraph."""
    w = BRANCH_WEIGHTS
    tensors = [
        Tensor("x", (1, 8, 8, 2)),  # 0
        Tensor("A/w16", ohwi(w["A"]).shape, type=T.FLOAT16, buffer=1),  # 1
        Tensor("A/w", ohwi(w["A"]).shape),  # 2
        Tensor("a", (1, 8, 8, 4)),  # 3
        Tensor("B/w", one_hwo(w["B"]).shape, buffer=2),  # 4
        Tensor("b", (1, 8, 8, 4)),  # 5
        Tensor("C/w", ohwi(w["C"]).shape, buffer=3),  # 6
        Tensor("c", (1, 8, 8, 4)),  # 7
        Tensor("D/w", ohwi(w["D"]).shape, buffer=4),  # 8
        Tensor("d", (1, 8, 8, 4)),  # 9
        Tensor("s", (1, 8, 8, 4)),  # 10
        Tensor("E/w", ohwi(w["E"]).shape, buffer=5),  # 11
        Tensor("e", (1, 8, 8, 3)),  # 12
        Tensor("T/w", (2, 3, 3, 3), buffer=6),  # 13
        Tensor("T/shape", (4,), type=T.INT32, buffer=7),  # 14
        Tensor("t", (1, 10, 10, 2)),  # 15
        Tensor("t2", (1, 16, 16, 2)),  # 16
        Tensor("G/w", ohwi(w["E"]).shape),  # 17: computed (E/w + E/w)
        Tensor("g", (1, 8, 8, 3)),  # 18
        Tensor("S/w", ohwi(w["E"]).shape, buffer=8, sparse=True),  # 19
        Tensor("sp", (1, 8, 8, 3)),  # 20
        Tensor("e2", (1, 8, 8, 3)),  # 21: second use of E/w
    ]
    ops = [
        Operator(Op.DEQUANTIZE, (1,), (2,)),
        Operator(Op.CONV_2D, (0, 2, -1), (3,)),  # A
        Operator(Op.DEPTHWISE_CONV_2D, (3, 4, -1), (5,), depth_multiplier=1),  # B
        Operator(Op.CONV_2D, (5, 6, -1), (7,)),  # C
        Operator(Op.CONV_2D, (3, 8, -1), (9,)),  # D
        Operator(Op.ADD, (7, 9), (10,)),
        Operator(Op.CONV_2D, (10, 11, -1), (12,)),  # E
        Operator(Op.TRANSPOSE_CONV, (14, 13, 12, -1), (15,)),
        Operator(Op.CUSTOM, (15, 13, -1), (16,), custom="Convolution2DTransposeBias"),
        Operator(Op.ADD, (11, 11), (17,)),
        Operator(Op.CONV_2D, (10, 17, -1), (18,)),  # computed filter
        Operator(Op.CONV_2D, (10, 19, -1), (20,)),  # sparse filter
        Operator(Op.CONV_2D, (10, 11, -1), (21,)),  # shares E's filter
    ]
    sub = Graph(
        tensors=(
            Tensor("y", (1, 4, 4, 4)),
            Tensor("W", (2, 3, 3, 4), buffer=5),
            Tensor("z", (1, 2, 2, 2)),
        ),
        operators=(Operator(Op.CONV_2D, (0, 1, -1), (2,)),),
    )
    buffers = (
        Buffer(),
        data(ohwi(w["A"]), "<f2"),
        data(one_hwo(w["B"])),
        data(ohwi(w["C"])),
        data(ohwi(w["D"])),
        data(ohwi(w["E"])),
        data(np.ones((2, 3, 3, 3), dtype=np.float32)),
        data(np.array([1, 10, 10, 2]), "<i4"),
        data(np.ones(10, dtype=np.float32)),
    )
    expected = {f"{k}/w16" if k == "A" else f"{k}/w": v for k, v in w.items()}
    return Model(
        (Graph(tuple(tensors), tuple(ops), outputs=(12, 16, 18, 20, 21)), sub),
        buffers,
        min_runtime="2.3.0",
        expected=expected,
    )


def with_tensor(model: Model, index: int, **changes) -> Model:
    """``model`` with tensor ``index`` of subgraph 0 changed (e.g. a lying shape or buffer)."""
    graph = model.graphs[0]
    tensors = list(graph.tensors)
    tensors[index] = replace(tensors[index], **changes)
    return replace(model, graphs=(replace(graph, tensors=tuple(tensors)), *model.graphs[1:]))


def with_operator(model: Model, index: int, **changes) -> Model:
    graph = model.graphs[0]
    ops = list(graph.operators)
    ops[index] = replace(ops[index], **changes)
    return replace(model, graphs=(replace(graph, operators=tuple(ops)), *model.graphs[1:]))


def with_buffer(model: Model, index: int, **changes) -> Model:
    buffers = list(model.buffers)
    buffers[index] = replace(buffers[index], **changes)
    return replace(model, buffers=tuple(buffers))
