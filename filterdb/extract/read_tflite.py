"""Read the 2-D conv layers of a TensorFlow Lite (``.tflite``) model.

A ``.tflite`` file is one flatbuffer (``tensorflow/lite/schema/schema.fbs``, file identifier
``TFL3``): a list of raw byte buffers, and subgraphs of tensors and operators; subgraph 0 is the
model, the others are control-flow bodies. A layer is the stored filter (input #1) of a
``CONV_2D`` operator, stored OHWI ``(c_out, kh, kw, c_in / groups)``, or of a
``DEPTHWISE_CONV_2D``, stored 1HWO ``(1, kh, kw, c_in * depth_multiplier)``; both are transposed
to the database's ``(c_out, c_in / groups, kh, kw)``. A filter is either a constant tensor
(float32, float16 or bfloat16), or, as in MediaPipe's fp16 models, a float16 constant that a
``DEQUANTIZE`` operator upcasts when the interpreter starts: that upcast is exact, so the fp16
buffer is the filter.

Every other 2-D convolution is counted in ``skipped`` with its reason, never dropped silently:
integer (int8/uint8-quantised) weights are unscaled, so they are not filters; sparse weights (a
tensor with ``sparsity``, densified by a ``DENSIFY`` operator) are not densified here; a filter
computed by the graph is not a stored filter set; transposed convolutions (``TRANSPOSE_CONV``,
MediaPipe's custom ``Convolution2DTransposeBias``) are not convolution filters in the database's
sense; convs in subgraphs other than subgraph 0 cannot be placed by the main graph's depth; any
other conv-named custom operator is counted under its name.

Depth: operators are the graph's nodes, the producers of an operator's input tensors its
predecessors. A ``DEQUANTIZE`` or ``DENSIFY`` of a constant is weight plumbing, not an
operation, so like ONNX ``Constant`` nodes it does not count towards depth, and the same network
gets the same depths from its fp32 and fp16 exports. A filter shared by several operators is one
layer, at its first operator.

The flatbuffers Python runtime does not bounds-check: a corrupt offset raises a bare
``struct.error``, or silently reads other bytes of the file (a negative position wraps around to
its end). So every table, vector and string this reader touches is first checked against the file
length, as the C++ runtime's ``Verifier`` does, and every filter's byte size against its buffer:
whatever a file declares, it is read correctly or it is its model's ``ModelError``, and no array
is sized from an unchecked number. The file is memory-mapped; weights stay in it until the writer
asks for them, one layer at a time.
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
import numpy as np
import tflite

from filterdb.errors import ModelError, describe
from filterdb.extract.conv_layers import ConvLayer, ModelConvs, count_skipped
from filterdb.extract.graph_depth import longest_path_depths

_IDENTIFIER = b"TFL3"
_OP = tflite.BuiltinOperator
_TYPE = tflite.TensorType
_OP_NAMES = {v: k for k, v in vars(_OP).items() if not k.startswith("_") and isinstance(v, int)}
_TYPE_NAMES = {v: k for k, v in vars(_TYPE).items() if not k.startswith("_") and isinstance(v, int)}

#: Stored filter types read as filters: numpy dtype of the stored bytes (little-endian, as the
#: schema mandates); bfloat16 is read as uint16 and widened into float32's upper half.
_FLOAT_DTYPES = {_TYPE.FLOAT32: "<f4", _TYPE.FLOAT16: "<f2", _TYPE.BFLOAT16: "<u2"}
#: Integer filter types that hold quantised weights (their scale is in the quantization table).
_QUANTISED = (_TYPE.INT8, _TYPE.UINT8, _TYPE.INT16, _TYPE.INT4)
#: Operators that turn a stored constant into the tensor an operator reads: weight plumbing.
_PLUMBING = (_OP.DEQUANTIZE, _OP.DENSIFY)
_MAIN = "main subgraph 0"
_OTHER_SUBGRAPH = "inside a subgraph other than the main subgraph 0"
_CONV_NAME = re.compile(r"conv(?!er)", re.IGNORECASE)  # Conv2D, Convolution..., not Convert...

# --- The schema fields this reader touches, keyed by vtable offset (4 + 2 * field id, as in the
# generated ``tflite`` bindings), with their kind: a scalar's byte width, a string, a vector of
# scalars of a width, one table or a vector of tables. Only these are verified and read.


@dataclass(frozen=True)
class _Vector:
    width: int


@dataclass(frozen=True)
class _Tables:
    spec: str


_STRING = "string"
_SPECS: dict[str, dict[int, tuple[str, int | str | _Vector | _Tables]]] = {
    "Model": {
        4: ("version", 4),
        6: ("operator_codes", _Tables("OperatorCode")),
        8: ("subgraphs", _Tables("SubGraph")),
        10: ("description", _STRING),
        12: ("buffers", _Tables("Buffer")),
        16: ("metadata", _Tables("Metadata")),
    },
    "OperatorCode": {
        4: ("deprecated_builtin_code", 1),
        6: ("custom_code", _STRING),
        8: ("version", 4),
        10: ("builtin_code", 4),
    },
    "SubGraph": {
        4: ("tensors", _Tables("Tensor")),
        6: ("inputs", _Vector(4)),
        8: ("outputs", _Vector(4)),
        10: ("operators", _Tables("Operator")),
        12: ("name", _STRING),
    },
    "Tensor": {
        4: ("shape", _Vector(4)),
        6: ("type", 1),
        8: ("buffer", 4),
        10: ("name", _STRING),
        16: ("sparsity", 4),  # only whether it is present is read
    },
    "Operator": {
        4: ("opcode_index", 4),
        6: ("inputs", _Vector(4)),
        8: ("outputs", _Vector(4)),
        10: ("builtin_options_type", 1),
        12: ("builtin_options", 4),  # a union: its table is verified when it is read
    },
    "Buffer": {4: ("data", _Vector(1)), 6: ("offset", 8), 8: ("size", 8)},
    "Metadata": {4: ("name", _STRING), 6: ("buffer", 4)},
    "DepthwiseConv2DOptions": {10: ("depth_multiplier", 4)},
}


class _Malformed(ValueError):
    """What makes the file an invalid TFLite model; becomes the model's ``ModelError``."""


def read_tflite(model: str, path: Path) -> ModelConvs:
    """Conv layers of the TFLite file at ``path`` with their graph depths (``tflite_graph``)."""
    path = Path(path)
    data = _map(model, path)
    try:
        return _Reader(data).convs(model, path)
    except _Malformed as exc:
        raise ModelError(model, str(path), f"invalid TFLite model: {exc}") from exc
    except Exception as exc:  # anything else the flatbuffer traversal raises on a corrupt file
        raise ModelError(
            model, str(path), f"cannot parse as a TFLite model: {describe(exc)}"
        ) from exc


def _map(model: str, path: Path) -> mmap.mmap:
    """The file, memory-mapped read-only: weights are sliced from it without a copy."""
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size < 8:
                raise ModelError(
                    model,
                    str(path),
                    f"the file has {size} bytes, too few for a TFLite flatbuffer (truncated?)",
                )
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise ModelError(model, str(path), f"cannot read the file: {describe(exc)}") from exc


class _Verifier:
    """Bounds checks for the flatbuffer tables, vectors and strings of ``_SPECS``.

    A table is checked with its vtable, and each field this reader uses with its target, before
    the generated bindings read it. The bytes checked are counted: in a well-formed file every
    table and vector occupies its own bytes, so more than the file's size means offsets that
    alias one table many times (e.g. one subgraph listed a million times), which would otherwise
    make every later pass quadratic.
    """

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.size = len(data)
        self.work = 0

    def unpack(self, fmt: str, pos: int, what: str) -> int:
        width = struct.calcsize(fmt)
        if pos < 0 or pos + width > self.size:
            raise _Malformed(
                f"{what}: {width} bytes at byte {pos} lie outside the file ({self.size:,} bytes)"
            )
        return struct.unpack_from(fmt, self.data, pos)[0]

    def root(self) -> int:
        pos = self.unpack("<I", 0, "root table offset")
        self.table(pos, "Model", "model")
        return pos

    def _charge(self, n: int, what: str) -> None:
        self.work += n
        if self.work > self.size:
            raise _Malformed(
                f"{what}: the tables and vectors the file's offsets point to overlap (together "
                f"more than its {self.size:,} bytes): corrupt lengths, or offsets aliasing one "
                "table many times"
            )

    def table(self, pos: int, spec: str, what: str) -> None:
        """Check the table of type ``spec`` at ``pos``, its vtable and the fields in ``_SPECS``."""
        vtable = pos - self.unpack("<i", pos, what)
        vt_size = self.unpack("<H", vtable, f"{what} vtable")
        table_size = self.unpack("<H", vtable + 2, f"{what} vtable")
        if vt_size < 4 or vt_size % 2 or vtable + vt_size > self.size:
            raise _Malformed(f"{what}: vtable at byte {vtable} declares an invalid size {vt_size}")
        if table_size < 4 or pos + table_size > self.size:
            raise _Malformed(
                f"{what}: table at byte {pos} of {table_size} bytes runs past the end of the "
                f"file ({self.size:,} bytes)"
            )
        self._charge(table_size, what)
        for slot, (name, kind) in _SPECS[spec].items():
            field = self.unpack("<H", vtable + slot, f"{what} vtable") if slot < vt_size else 0
            if field:
                self._field(pos, field, table_size, kind, f"{what}.{name}")

    def _field(self, pos: int, field: int, table_size: int, kind: object, what: str) -> None:
        width = kind if isinstance(kind, int) else 4
        if field + width > table_size:
            raise _Malformed(f"{what}: field at offset {field} lies outside its table")
        if isinstance(kind, int):
            return
        target = pos + field + self.unpack("<I", pos + field, what)
        length = self.unpack("<I", target, what)
        element = 1 if kind == _STRING else kind.width if isinstance(kind, _Vector) else 4
        end = target + 4 + length * element
        if end > self.size:
            raise _Malformed(
                f"{what}: {length:,} elements of {element} bytes at byte {target} run past the "
                f"end of the file ({self.size:,} bytes)"
            )
        if kind == _STRING:
            return
        self._charge(end - target, what)
        if isinstance(kind, _Tables):
            for index in range(length):
                slot = target + 4 + 4 * index
                self.table(slot + self.unpack("<I", slot, what), kind.spec, f"{what}[{index}]")


@dataclass(frozen=True)
class _Op:
    """One operator of a subgraph, decoded: builtin code, custom code, tensor indices."""

    index: int
    code: int
    custom: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    fb: tflite.Operator

    @property
    def name(self) -> str:
        if self.code == _OP.CUSTOM:
            return f"custom {self.custom!r}"
        return _OP_NAMES.get(self.code, f"builtin operator {self.code}")

    def input(self, position: int) -> int:
        """The tensor index at input ``position``; -1 when absent (as TFLite marks it)."""
        return self.inputs[position] if len(self.inputs) > position else -1


@dataclass(frozen=True)
class _Graph:
    """One subgraph: its tensors, operators and which operator produces each tensor."""

    index: int
    tensors: tuple[tflite.Tensor, ...]
    ops: tuple[_Op, ...]
    producer: Mapping[int, int]


class _Reader:
    """One verified TFLite flatbuffer, decoded as far as the conv layers need."""

    def __init__(self, data: mmap.mmap) -> None:
        if data[4:8] != _IDENTIFIER:
            raise _Malformed(
                f"file identifier is {bytes(data[4:8])!r}, not {_IDENTIFIER!r}: "
                "not a TFLite flatbuffer"
            )
        self.data = data
        self.verifier = _Verifier(data)
        self.verifier.root()
        self.fb = tflite.Model.GetRootAsModel(data, 0)
        self.spans = [self._span(i) for i in range(self.fb.BuffersLength())]
        self.opcodes = [self._opcode(i) for i in range(self.fb.OperatorCodesLength())]
        if self.fb.SubgraphsLength() < 1:
            raise _Malformed("the model has no subgraph")
        self.graphs = [self._graph(s) for s in range(self.fb.SubgraphsLength())]
        self.sources: dict[int, tuple[int, bool] | None] = {}

    def convs(self, model: str, path: Path) -> ModelConvs:
        main = self.graphs[0]
        plumbing = {
            op.index
            for op in main.ops
            if op.code in _PLUMBING and op.outputs and self._source(main, op.outputs[0])
        }
        try:
            depth = longest_path_depths(
                {
                    op.index: [main.producer[t] for t in op.inputs if t in main.producer]
                    for op in main.ops
                    if op.index not in plumbing
                }
            )
        except ValueError as exc:
            raise _Malformed(f"{_MAIN}: {exc}") from exc
        skipped = [
            _OTHER_SUBGRAPH for graph in self.graphs[1:] for op in graph.ops if _conv_kind(op)
        ]
        layers: dict[int, ConvLayer] = {}
        names: set[str] = set()
        for op in main.ops:
            kind = _conv_kind(op)
            if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                reason = self._layer(main, op, depth[op.index], layers, names)
                if reason:
                    skipped.append(reason)
            elif kind:
                skipped.append(kind)
        return ModelConvs(
            model,
            str(path),
            "tflite",
            self._producer(),
            None,
            "tflite_graph",
            tuple(layers.values()),
            count_skipped(skipped),
        )

    # --- the conv layers

    def _layer(
        self, graph: _Graph, op: _Op, depth: int, layers: dict[int, ConvLayer], names: set[str]
    ) -> str | None:
        """Add the layer of conv ``op`` to ``layers`` (keyed by stored tensor); else why not."""
        what = f"{_MAIN} operator {op.index} ({op.name})"
        weight = op.input(1)
        if weight < 0:
            raise _Malformed(f"{what} has no filter (input #1)")
        source = self._source(graph, weight)
        if source is None:
            return "weight computed in the graph"
        stored, densified = source
        tensor = graph.tensors[stored]
        label = f"{what}: filter tensor {stored} ({_name(tensor)!r})"
        dtype = tensor.Type()
        if dtype not in _TYPE_NAMES:
            raise _Malformed(f"{label} has unknown tensor type {dtype}")
        if dtype in _QUANTISED:
            return f"{_TYPE_NAMES[dtype].lower()}-quantised weights"
        if dtype not in _FLOAT_DTYPES:
            return f"weight stored as {_TYPE_NAMES[dtype]}, not float32/float16/bfloat16"
        if densified or tensor.Sparsity() is not None:
            return "sparse weights (not densified)"
        if stored in layers:
            return None  # a filter shared with an earlier operator: one layer, at its first use
        shape = _shape(tensor)
        if len(shape) != 4 or min(shape) < 1:
            raise _Malformed(f"{label} has shape {shape}; a conv filter is 4-D, every dim >= 1")
        declared = _shape(graph.tensors[weight])
        if weight != stored and declared and declared != shape:
            raise _Malformed(f"{label} has shape {shape}, but the operator reads {declared}")
        start, length = self.spans[tensor.Buffer()]
        itemsize = np.dtype(_FLOAT_DTYPES[dtype]).itemsize
        if math.prod(shape) * itemsize != length:
            raise _Malformed(
                f"{label} of shape {shape} and type {_TYPE_NAMES[dtype]} needs "
                f"{math.prod(shape) * itemsize:,} bytes, but buffer {tensor.Buffer()} holds "
                f"{length:,}"
            )
        channels = _channels(graph.tensors[op.input(0)]) if op.input(0) >= 0 else None
        if op.code == _OP.CONV_2D:  # OHWI
            c_out, kh, kw, c_in_group = shape
            if channels is not None and channels % c_in_group:
                raise _Malformed(
                    f"{label}: the input has {channels} channels, not a multiple of the "
                    f"filter's {c_in_group}"
                )
            groups = channels // c_in_group if channels is not None else 1
            db_shape, axes, in_channels = (c_out, c_in_group, kh, kw), (0, 3, 1, 2), channels
        else:  # DEPTHWISE_CONV_2D, 1HWO with O = c_in * depth_multiplier
            one, kh, kw, c_out = shape
            if one != 1:
                raise _Malformed(f"{label} has shape {shape}; a depthwise filter is (1, kh, kw, c)")
            if channels is not None and c_out % channels:
                raise _Malformed(
                    f"{label}: {c_out} output channels are not a multiple of the input's "
                    f"{channels} channels"
                )
            groups = channels if channels is not None else c_out // self._multiplier(op, c_out)
            db_shape, axes, in_channels = (c_out, 1, kh, kw), (3, 0, 1, 2), groups
        name = _name(tensor) or f"tensor {stored}"
        if name in names:
            name = f"{name} (tensor {stored})"
        names.add(name)
        layers[stored] = ConvLayer(
            name=name,
            shape=db_shape,
            in_channels=in_channels if in_channels is not None else db_shape[1] * groups,
            out_channels=db_shape[0],
            groups=groups,
            depth=depth,
            load=_loader(self.data, start, _FLOAT_DTYPES[dtype], shape, axes),
        )
        return None

    def _source(self, graph: _Graph, tensor: int) -> tuple[int, bool] | None:
        """(stored constant, whether a DENSIFY is on the way) behind ``tensor``; None if computed.

        Follows ``DEQUANTIZE``/``DENSIFY`` operators back to a constant. Memoised along the whole
        chain, so a file of long chains stays linear.
        """
        path: list[tuple[int, bool]] = []
        seen: set[int] = set()
        t = tensor
        while t not in self.sources:
            if self._is_constant(graph, t):
                self.sources[t] = (t, False)
                break
            op = graph.ops[graph.producer[t]] if t in graph.producer else None
            if op is None or op.code not in _PLUMBING or op.input(0) < 0 or t in seen:
                self.sources[t] = None
                break
            seen.add(t)
            path.append((t, op.code == _OP.DENSIFY))
            t = op.input(0)
        result = self.sources[t]
        for step, densify in reversed(path):
            if result is not None and densify:
                result = (result[0], True)
            self.sources[step] = result
        return self.sources[tensor]

    def _is_constant(self, graph: _Graph, tensor: int) -> bool:
        buffer = graph.tensors[tensor].Buffer()
        return buffer > 0 and self.spans[buffer][1] > 0

    def _multiplier(self, op: _Op, c_out: int) -> int:
        """The depthwise operator's depth multiplier (1 when absent or not dividing ``c_out``)."""
        if op.fb.BuiltinOptionsType() != tflite.BuiltinOptions.DepthwiseConv2DOptions:
            return 1
        table = op.fb.BuiltinOptions()
        what = f"{_MAIN} operator {op.index} options"
        self.verifier.table(table.Pos, "DepthwiseConv2DOptions", what)
        options = tflite.DepthwiseConv2DOptions()
        options.Init(table.Bytes, table.Pos)
        multiplier = options.DepthMultiplier()
        return multiplier if multiplier > 0 and c_out % multiplier == 0 else 1

    # --- the model's tables, checked

    def _span(self, index: int) -> tuple[int, int]:
        """(start, length) of buffer ``index``'s bytes in the file, checked against its size.

        A buffer holds its bytes inline, or, in files over 2 GB, at ``offset`` from the start of
        the file (an offset of 0 or 1 means inline, as in TFLite's own reader).
        """
        buffer = self.fb.Buffers(index)
        offset = buffer.Offset()
        if offset > 1:
            size = buffer.Size()
            if offset + size > len(self.data):
                raise _Malformed(
                    f"buffer {index} lies at bytes {offset:,}..{offset + size:,}, beyond the end "
                    f"of the file ({len(self.data):,} bytes)"
                )
            return offset, size
        if buffer.DataIsNone():
            return 0, 0
        return buffer._tab.Vector(4), buffer.DataLength()

    def _opcode(self, index: int) -> tuple[int, str]:
        """(builtin code, custom code) of operator code ``index``.

        Since schema 3a the code is in ``builtin_code`` (int32) and, for codes below 127, also in
        ``deprecated_builtin_code`` (int8); files written before have only the latter. The real
        code is the larger of the two, as in TFLite's ``GetBuiltinCode``; the bindings'
        ``BuiltinCode()`` instead prefers the deprecated field for small codes, which misreads a
        file that sets only ``builtin_code``.
        """
        code = self.fb.OperatorCodes(index)
        table = code._tab
        field = table.Offset(10)
        extended = table.Get(flatbuffers.number_types.Int32Flags, table.Pos + field) if field else 0
        custom = code.CustomCode()
        return max(extended, code.DeprecatedBuiltinCode()), _text(custom)

    def _graph(self, index: int) -> _Graph:
        """Subgraph ``index`` with every operator, tensor and buffer index checked."""
        fb = self.fb.Subgraphs(index)
        tensors = tuple(fb.Tensors(t) for t in range(fb.TensorsLength()))
        for t, tensor in enumerate(tensors):
            if tensor.Buffer() >= len(self.spans):
                raise _Malformed(
                    f"subgraph {index} tensor {t} ({_name(tensor)!r}) refers to buffer "
                    f"{tensor.Buffer()}, but the model has {len(self.spans)} buffers"
                )
        ops = []
        producer: dict[int, int] = {}
        for i in range(fb.OperatorsLength()):
            op = fb.Operators(i)
            opcode = op.OpcodeIndex()
            if opcode >= len(self.opcodes):
                raise _Malformed(
                    f"subgraph {index} operator {i} has opcode index {opcode}, but the model "
                    f"has {len(self.opcodes)} operator codes"
                )
            inputs, outputs = _indices(op.InputsAsNumpy()), _indices(op.OutputsAsNumpy())
            for role, t in [("input", t) for t in inputs] + [("output", t) for t in outputs]:
                if not -1 <= t < len(tensors):
                    raise _Malformed(
                        f"subgraph {index} operator {i} has {role} tensor {t}, but the "
                        f"subgraph has {len(tensors)} tensors"
                    )
            for t in outputs:
                if t >= 0 and producer.setdefault(t, i) != i:
                    raise _Malformed(
                        f"subgraph {index} tensor {t} is the output of operators "
                        f"{producer[t]} and {i}"
                    )
            ops.append(_Op(i, *self.opcodes[opcode], inputs, outputs, op))
        return _Graph(index, tensors, tuple(ops), producer)

    def _producer(self) -> str:
        """The converter's description and the ``min_runtime_version`` metadata, if any."""
        parts = [f"tflite schema v{self.fb.Version()}"]
        for i in range(self.fb.MetadataLength()):
            entry = self.fb.Metadata(i)
            if entry.Name() == b"min_runtime_version":
                if entry.Buffer() >= len(self.spans):
                    raise _Malformed(
                        f"metadata {i} refers to buffer {entry.Buffer()}, but the model has "
                        f"{len(self.spans)} buffers"
                    )
                start, length = self.spans[entry.Buffer()]
                version = _text(self.data[start : start + min(length, 64)].split(b"\0")[0])
                if version:
                    parts.append(f"min runtime {version}")
        description = _text(self.fb.Description())[:200]
        return f"{description} ({', '.join(parts)})" if description else ", ".join(parts)


def _conv_kind(op: _Op) -> str | None:
    """``CONV_2D``/``DEPTHWISE_CONV_2D`` (read), a skip reason for another 2-D convolution, or
    None for any other operator (3-D convolutions included: they are not 2-D convs)."""
    if op.code in (_OP.CONV_2D, _OP.DEPTHWISE_CONV_2D):
        return _OP_NAMES[op.code]
    if op.code == _OP.TRANSPOSE_CONV:
        return "transposed convolution"
    if op.code == _OP.STABLEHLO_CONVOLUTION:
        return "operator STABLEHLO_CONVOLUTION is not read"
    if op.code == _OP.CUSTOM and _CONV_NAME.search(op.custom):
        if "transpose" in op.custom.lower():  # MediaPipe's Convolution2DTransposeBias
            return "transposed convolution"
        return f"custom operator {op.custom} is not read"
    return None


def _loader(
    data: mmap.mmap, start: int, dtype: str, shape: tuple[int, ...], axes: tuple[int, ...]
) -> Callable[[], np.ndarray]:
    """Deferred decoding of one checked filter: a contiguous float32 copy, transposed."""

    def load() -> np.ndarray:
        stored = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=start)
        if dtype == "<u2":  # bfloat16: the upper half of a float32
            stored = (stored.astype("<u4") << 16).view("<f4")
        return np.array(stored.reshape(shape).transpose(axes), dtype=np.float32, order="C")

    return load


def _shape(tensor: tflite.Tensor) -> tuple[int, ...]:
    return tuple(tensor.ShapeAsNumpy().tolist()) if tensor.ShapeLength() else ()


def _channels(tensor: tflite.Tensor) -> int | None:
    """An NHWC input's channel count, or None when its shape is unknown."""
    shape = _shape(tensor)
    return shape[3] if len(shape) == 4 and shape[3] > 0 else None


def _indices(vector: np.ndarray | int) -> tuple[int, ...]:
    """A verified int32 vector as ints; the bindings return 0 for an absent vector."""
    return tuple(vector.tolist()) if isinstance(vector, np.ndarray) else ()


def _name(tensor: tflite.Tensor) -> str:
    return _text(tensor.Name())


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", errors="replace").strip() if raw else ""
