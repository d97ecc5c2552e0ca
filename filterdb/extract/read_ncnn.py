"""Read the 2-D conv layers of an ncnn model: a ``.param`` text graph and the ``.bin`` beside it.

No library exposes ncnn's weights, so both files are parsed here, following ncnn's own
documentation (``docs/developer-guide/param-and-model-file-structure.md``) and, where the
documentation is silent or out of date, what each layer's ``load_param``/``load_model`` in
``src/layer/*.cpp`` and ``ModelBinFromDataReader::load`` in ``src/modelbin.cpp`` read.

The ``.param`` is a magic line (``7767517``), ``layer_count blob_count``, then one line per layer:
``Type name n_in n_out inputs... outputs... key=value...`` (keys 0-31; a key of -23300 - k is
the old-style array ``n,v1,...,vn`` of key k). Both counts must match the lines present.

The ``.bin`` has no index: it is the weights of every weight-carrying layer, in layer order,
concatenated, so an offset is known only by knowing the blob layout of every layer before it.
A blob is either raw float32, or "tagged": a 4-byte flag, then float32 (flag 0 or 0x0002C056),
float16 (0x01306B47, data padded to 4 bytes), int8 (0x000D4B38, padded to 4 bytes), or, for
flag 1 as old ``caffe2ncnn`` wrote it, a 256-entry float table and one byte per weight. ncnn
reads any other non-zero flag as such a table too; here it is an error, since no ncnn tool
writes one and it is almost always a misplaced offset. A layer type whose layout is not known
here (a custom layer, ``MultiHeadAttention``, a ``Gemm`` with constants) makes every later
offset unknown, so it is its model's ``ModelError`` unless the ``.bin`` is already consumed.
After the last layer the consumed size must equal the file's size exactly, which catches a
wrong layout, a mismatched pair and truncation alike. Every size is checked against the bytes
left in the file before anything is read, so no array is sized from an unchecked number.

A layer is the weight of a ``Convolution`` or ``ConvolutionDepthWise`` (grouped; ``7=group``),
stored ``(c_out, c_in / groups, kh, kw)``; ``c_in / groups`` follows from ``weight_data_size``.
Every other 2-D convolution is counted in ``skipped``, never dropped silently: int8 and
lookup-table weights are quantised (ncnn keeps their scales apart), a ``dynamic_weight`` conv
takes its weight from the graph, ``Deconvolution``/``DeconvolutionDepthWise`` are transposed
convolutions, ``DeformableConv2D`` samples off the grid. Float weights of a conv with
``int8_scale_term`` are kept: ncnn quantises them only when it loads the model.

Depth (``ncnn_graph``): layers are the nodes, blobs the edges. ``Input`` (graph inputs) and
``MemoryData`` (stored constants, like ONNX initializers) are not operations. ``Split`` only
hands one blob to several consumers; ncnn's converters insert it where ONNX and torch.fx have no
node, so it does not count either, and an ncnn model gets the depths of its ONNX export. Layers
must come in topological order, as ncnn runs them: a blob consumed before the line that produces
it (a cycle, or a shuffled file) is an error. Weights stay in the ``.bin`` until the writer asks
for them, one layer at a time. Only the ``.bin`` beside the ``.param`` is ever opened.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from filterdb.errors import ModelError, describe
from filterdb.extract.conv_layers import ConvLayer, ModelConvs, count_skipped
from filterdb.extract.graph_depth import longest_path_depths

MAGIC = "7767517"
PRODUCER = f"ncnn param {MAGIC}"

TAG_FP32 = 0x00000000
TAG_RAW_FP32 = 0x0002C056
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_LOOKUP = 0x00000001
_LOOKUP_ENTRIES = 256
_MAX_PARAM_KEY = 32  # NCNN_MAX_PARAM_COUNT
_ARRAY_KEY = -23300
_INT32 = (-(2**31), 2**31 - 1)

#: Storage of a tagged blob by its flag: (name, bytes per element).
_TAGS = {
    TAG_FP32: ("fp32", 4),
    TAG_RAW_FP32: ("fp32", 4),
    TAG_FP16: ("fp16", 2),
    TAG_INT8: ("int8", 1),
    TAG_LOOKUP: ("lookup", 1),
}
_DTYPES = {"fp32": "<f4", "fp16": "<f2"}
_QUANTISED = {
    "int8": "int8-quantised weights",
    "lookup": "lookup-table-quantised weights (256 levels)",
}
#: Layers that are not operations for the depth (see the module docstring).
_NOT_OPERATIONS = ("Input", "MemoryData")
_PLUMBING = ("Split",)

#: ncnn built-in layers without ``load_model``: they never read the .bin.
_WEIGHTLESS = frozenset(
    (
        *("AbsVal", "ArgMax", "BNLL", "BinaryOp", "CELU", "Cast", "Clip", "Concat", "CopyTo"),
        *("Crop", "CumulativeSum", "DeepCopy", "DetectionOutput", "Diag", "Dropout", "ELU"),
        *("Einsum", "Eltwise", "Erf", "Exp", "ExpandDims", "Flatten", "Flip", "Fold", "GELU"),
        *("GLU", "GridSample", "HardSigmoid", "HardSwish", "Input", "InverseSpectrogram"),
        *("Interp", "LRN", "Log", "MVN", "MatMul", "Mish", "Noop", "PSROIPooling", "Packing"),
        *("Permute", "PixelShuffle", "Pooling", "Pooling1D", "Pooling3D", "Power", "PriorBox"),
        *("Proposal", "ROIAlign", "ROIPooling", "ReLU", "Reduction", "Reorg", "Reshape"),
        *("RotaryEmbed", "SDPA", "SELU", "SPP", "Shrink", "ShuffleChannel", "Sigmoid", "Slice"),
        *("Softmax", "Softplus", "Spectrogram", "Split", "Squeeze", "StatisticsPooling", "Swish"),
        *("TanH", "Threshold", "Tile", "UnaryOp", "Unfold", "YoloDetectionOutput"),
        "Yolov3DetectionOutput",
    )
)
#: Convolutions whose weights are consumed but not extracted: (2-D?, skip reason).
_OTHER_CONVS = {
    "Deconvolution": (True, "transposed convolution"),
    "DeconvolutionDepthWise": (True, "transposed convolution"),
    "DeformableConv2D": (True, "deformable convolution"),
    "Convolution1D": (False, ""),
    "ConvolutionDepthWise1D": (False, ""),
    "Deconvolution1D": (False, ""),
    "DeconvolutionDepthWise1D": (False, ""),
    "Convolution3D": (False, ""),
    "ConvolutionDepthWise3D": (False, ""),
    "Deconvolution3D": (False, ""),
    "DeconvolutionDepthWise3D": (False, ""),
}
#: The ``dynamic_weight`` key of the convolutions that have one.
_DYNAMIC_KEY = {
    "Convolution": 19,
    "ConvolutionDepthWise": 19,
    "Convolution1D": 19,
    "ConvolutionDepthWise1D": 19,
    "Deconvolution": 28,
    "DeconvolutionDepthWise": 28,
    "Deconvolution1D": 28,
    "DeconvolutionDepthWise1D": 28,
}
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
# whitespace-separated tokens, a double-quoted part (an ncnn string value) kept whole
_TOKEN = re.compile(r'(?:[^\s"]+|"[^"]*")+')


def read_ncnn(model: str, path: Path) -> ModelConvs:
    """Conv layers of the ncnn model whose ``.param`` is ``path`` (weights: the ``.bin`` beside
    it, same stem), with their graph depths (``ncnn_graph``)."""
    return _read(model, Path(path))[0]


def ncnn_weight_storage(model: str, path: Path) -> dict[str, int]:
    """{storage: number of tagged weight blobs} of the model (``fp32``, ``fp16``, ``int8``,
    ``lookup``), e.g. to say in the zoo manifest how a model's filters were stored."""
    return dict(sorted(_read(model, Path(path))[1].items()))


@dataclass(frozen=True)
class _Layer:
    line: int
    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, str]


@dataclass(frozen=True)
class _Blob:
    """One weight blob of the .bin, validated to lie inside the file."""

    offset: int  # of the data, after any flag
    count: int
    storage: str  # fp32, fp16, int8, lookup


def _read(model: str, path: Path) -> tuple[ModelConvs, Counter[str]]:
    where = str(path)
    layers = _parse_param(model, path)
    depth = _depths(model, where, layers)
    bin_path = path.with_suffix(".bin")
    if not bin_path.is_file():
        raise ModelError(
            model,
            where,
            f"weights file {bin_path.name} missing (an ncnn model is the .param and the .bin "
            f"beside it with the same stem, expected in {path.parent})",
        )
    try:
        handle = bin_path.open("rb")
    except OSError as exc:
        raise ModelError(model, where, f"cannot open {bin_path.name}: {describe(exc)}") from exc
    with handle:
        weights = _Weights(model, where, bin_path, handle)
        convs: list[ConvLayer] = []
        skipped: list[str] = []
        for layer in layers:
            if layer.type in ("Convolution", "ConvolutionDepthWise"):
                conv = _conv(weights, layer, depth.get(layer.line, 0), skipped)
                if conv is not None:
                    convs.append(conv)
            elif layer.type in _LAYOUTS:
                _LAYOUTS[layer.type](weights, layer, skipped)
            elif layer.type not in _WEIGHTLESS and weights.remaining:
                raise weights.error(
                    layer,
                    f"layer type {layer.type!r} is not an ncnn built-in whose weight layout this "
                    f"reader knows, and {weights.remaining:,} bytes of {bin_path.name} are "
                    "still unread: it may carry weights, so the offsets of every later weight "
                    "are unknown",
                )
        if weights.remaining:
            raise ModelError(
                model,
                where,
                f"the layers' weights end at byte {weights.offset:,} but {bin_path.name} has "
                f"{weights.size:,} bytes: the .param does not describe this .bin (another "
                "model's pair, a layout this reader gets wrong, or trailing data)",
            )
    convs_out = ModelConvs(
        model, where, "ncnn", PRODUCER, None, "ncnn_graph", tuple(convs), count_skipped(skipped)
    )
    return convs_out, weights.storage


# -- the .param ------------------------------------------------------------------------------


def _parse_param(model: str, path: Path) -> list[_Layer]:
    where = str(path)
    if not path.is_file():
        raise ModelError(model, where, "ncnn .param file missing")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(
            model, where, f"not an ncnn text .param (not UTF-8 text: {describe(exc)})"
        ) from exc
    except OSError as exc:
        raise ModelError(model, where, f"cannot read the .param: {describe(exc)}") from exc
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line]
    if not lines or lines[0][1] != MAGIC:
        first = lines[0][1][:40] if lines else ""
        raise ModelError(
            model,
            where,
            f"not an ncnn text .param: the first line is {first!r}, not the magic {MAGIC} "
            "(binary .param.bin files and pre-2018 params are not read)",
        )
    header = lines[1][1].split() if len(lines) > 1 else []
    if len(header) != 2 or not all(_INTEGER.fullmatch(v) and int(v) > 0 for v in header):
        raise ModelError(
            model,
            where,
            f"line 2 must be 'layer_count blob_count' (two positive integers), not "
            f"{' '.join(header)[:60]!r}",
        )
    layer_count, blob_count = (int(v) for v in header)
    body = lines[2:]
    if len(body) != layer_count:
        raise ModelError(
            model,
            where,
            f"the header declares {layer_count:,} layers but the file has {len(body):,} layer "
            "lines (a truncated or edited .param)",
        )
    layers = [_parse_layer(model, where, number, line) for number, line in body]
    names = Counter(layer.name for layer in layers)
    duplicate = next((name for name, n in names.items() if n > 1), None)
    if duplicate is not None:
        raise ModelError(model, where, f"layer name {duplicate!r} is used by several layers")
    blobs = {blob for layer in layers for blob in (*layer.inputs, *layer.outputs)}
    if len(blobs) != blob_count:
        raise ModelError(
            model,
            where,
            f"the header declares {blob_count:,} blobs but the layers name {len(blobs):,} "
            "(a truncated or edited .param)",
        )
    return layers


def _parse_layer(model: str, where: str, number: int, line: str) -> _Layer:
    def fail(problem: str, layer: str | None = None) -> ModelError:
        at = f"line {number}" if layer is None else f"line {number}, layer {layer!r}"
        return ModelError(model, where, f"{at}: {problem}")

    tokens = _TOKEN.findall(line)
    if "".join(tokens) != "".join(line.split()):
        raise fail(f"unbalanced double quote in {line[:80]!r}")
    if len(tokens) < 4:
        raise fail(f"a layer line needs 'Type name n_in n_out ...', got {line[:80]!r}")
    kind, name, n_in, n_out = tokens[:4]
    if not (_INTEGER.fullmatch(n_in) and _INTEGER.fullmatch(n_out)):
        raise fail(f"blob counts {n_in!r} {n_out!r} are not integers", name)
    n_in, n_out = int(n_in), int(n_out)
    if n_in < 0 or n_out < 0 or 4 + n_in + n_out > len(tokens):
        raise fail(
            f"declares {n_in} input and {n_out} output blobs but the line holds "
            f"{len(tokens) - 4} names and params",
            name,
        )
    inputs = tuple(tokens[4 : 4 + n_in])
    outputs = tuple(tokens[4 + n_in : 4 + n_in + n_out])
    if len(set(outputs)) != len(outputs):
        raise fail("names one output blob twice", name)
    params: dict[int, str] = {}
    for token in tokens[4 + n_in + n_out :]:
        key, value = _parse_param_token(token, lambda p, n=name: fail(p, n))
        if key in params:
            raise fail(f"param key {key} given twice", name)
        params[key] = value
    return _Layer(number, kind, name, inputs, outputs, params)


def _parse_param_token(token: str, fail: Callable[[str], ModelError]) -> tuple[int, str]:
    """``(key, value)`` of one ``key=value`` token; an array key is folded onto its index."""
    key_text, sep, value = token.partition("=")
    if not sep or not _INTEGER.fullmatch(key_text):
        raise fail(f"{token[:40]!r} is not a key=value param with an integer key")
    key = int(key_text)
    is_array = key <= _ARRAY_KEY
    if is_array:
        key = _ARRAY_KEY - key
    if not 0 <= key < _MAX_PARAM_KEY:
        raise fail(f"param key {key_text} is out of ncnn's range (0..{_MAX_PARAM_KEY - 1})")
    if is_array:
        length, *items = value.split(",")
        if not _INTEGER.fullmatch(length) or int(length) != len(items):
            raise fail(f"array param {key_text}={value[:40]!r}: its length is not its value count")
        if not all(_NUMBER.fullmatch(item) for item in items):
            raise fail(f"array param {key_text}={value[:40]!r} holds a non-numeric value")
    elif value[:1].isalpha() or value[:1] == '"':
        pass  # a string value (modern ncnn)
    elif not value or not all(_NUMBER.fullmatch(item) for item in value.split(",")):
        raise fail(f"param {key_text}={value[:40]!r} is not a number, a list of numbers or text")
    return key, value


def _depths(model: str, where: str, layers: list[_Layer]) -> dict[int, int]:
    """Graph depth of every operation layer, keyed by its line (see the module docstring)."""
    produced_at = {}
    for layer in layers:
        for blob in layer.outputs:
            if blob in produced_at:
                raise ModelError(
                    model,
                    where,
                    f"line {layer.line}, layer {layer.name!r}: its output blob {blob!r} is already "
                    f"produced on line {produced_at[blob]}",
                )
            produced_at[blob] = layer.line
    producers: dict[str, tuple[int, ...]] = {}  # blob -> operation layers it comes from
    predecessors: dict[int, list[int]] = {}
    for layer in layers:
        for blob in layer.inputs:
            if produced_at.get(blob, 0) >= layer.line:
                raise ModelError(
                    model,
                    where,
                    f"line {layer.line}, layer {layer.name!r}: consumes blob {blob!r} before line "
                    f"{produced_at[blob]} produces it (ncnn runs layers in file order: a cycle "
                    "or a shuffled file)",
                )
        sources = tuple(dict.fromkeys(p for blob in layer.inputs for p in producers.get(blob, ())))
        if layer.type in _NOT_OPERATIONS:
            continue
        if layer.type in _PLUMBING:
            for blob in layer.outputs:
                producers[blob] = sources
            continue
        predecessors[layer.line] = list(sources)
        for blob in layer.outputs:
            producers[blob] = (layer.line,)
    try:
        return longest_path_depths(predecessors)
    except ValueError as exc:  # unreachable for a file in topological order; kept as a guard
        raise ModelError(model, where, f"invalid ncnn graph: {exc}") from exc


def _int(
    layer: _Layer,
    key: int,
    default: int,
    meaning: str,
    fail: Callable[[_Layer, str], ModelError],
) -> int:
    """Param ``key`` of ``layer`` as ncnn's ``pd.get(key, default)`` for an int param; a value
    that is not a 32-bit integer literal (ncnn would reinterpret a float's bits) is an error."""
    value = layer.params.get(key)
    if value is None:
        return default
    if not _INTEGER.fullmatch(value) or not _INT32[0] <= int(value) <= _INT32[1]:
        raise fail(layer, f"param {key} ({meaning}) is {value[:40]!r}, not a 32-bit integer")
    return int(value)


# -- the .bin --------------------------------------------------------------------------------


class _Weights:
    """A cursor over the .bin: every blob is checked against the bytes left before it is
    taken; the data itself is read only by the layers' loaders."""

    def __init__(self, model: str, where: str, bin_path: Path, handle: BinaryIO) -> None:
        self.model = model
        self.where = where
        self.bin_path = bin_path
        self.handle = handle
        self.size = os.fstat(handle.fileno()).st_size
        self.offset = 0
        self.storage: Counter[str] = Counter()

    @property
    def remaining(self) -> int:
        return self.size - self.offset

    def error(self, layer: _Layer, problem: str) -> ModelError:
        return ModelError(
            self.model, self.where, f"line {layer.line}, layer {layer.name!r}: {problem}"
        )

    def param(self, layer: _Layer, key: int, default: int, meaning: str) -> int:
        return _int(layer, key, default, meaning, self.error)

    def _take(self, layer: _Layer, what: str, nbytes: int) -> int:
        if nbytes > self.remaining:
            raise self.error(
                layer,
                f"its {what} needs {nbytes:,} bytes at offset {self.offset:,} of "
                f"{self.bin_path.name} but only {self.remaining:,} remain (a truncated .bin, "
                "or a .param that does not describe it)",
            )
        start = self.offset
        self.offset += nbytes
        return start

    def _count(self, layer: _Layer, what: str, count: int) -> int:
        if count < 0:
            raise self.error(layer, f"its {what} has a negative size ({count:,} values)")
        return count

    def raw(self, layer: _Layer, what: str, count: int) -> _Blob:
        """An untagged float32 blob (biases, BatchNorm statistics, scales)."""
        count = self._count(layer, what, count)
        return _Blob(self._take(layer, what, 4 * count), count, "fp32")

    def tagged(self, layer: _Layer, what: str, count: int) -> _Blob:
        """A blob preceded by its storage flag (see the module docstring for the flags)."""
        count = self._count(layer, what, count)
        at = self._take(layer, f"{what} storage flag", 4)
        self.handle.seek(at)
        tag = int.from_bytes(self.handle.read(4), "little")
        if tag not in _TAGS:
            raise self.error(
                layer,
                f"unknown weight storage flag 0x{tag:08X} at offset {at:,} of "
                f"{self.bin_path.name} (known: 0 and 0x0002C056 fp32, 0x01306B47 fp16, "
                "0x000D4B38 int8, 1 lookup table): a corrupt .bin or a misplaced offset",
            )
        storage, itemsize = _TAGS[tag]
        if storage == "lookup":
            self._take(layer, f"{what} lookup table", 4 * _LOOKUP_ENTRIES)
        data_bytes = count * itemsize
        start = self._take(layer, f"{what} ({storage})", data_bytes + (-data_bytes % 4))
        self.storage[storage] += 1
        return _Blob(start, count, storage)

    def loader(self, blob: _Blob, shape: tuple[int, ...]) -> Callable[[], np.ndarray]:
        return _loader(self.bin_path, blob, shape)


def _loader(bin_path: Path, blob: _Blob, shape: tuple[int, ...]) -> Callable[[], np.ndarray]:
    """Deferred read of one float blob as contiguous float32 (fp16 upcast exactly)."""
    dtype = np.dtype(_DTYPES[blob.storage])
    nbytes = blob.count * dtype.itemsize

    def load() -> np.ndarray:
        with bin_path.open("rb") as handle:
            handle.seek(blob.offset)
            data = handle.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"{bin_path.name} is shorter than when it was parsed")
        return np.frombuffer(data, dtype=dtype).astype(np.float32).reshape(shape)

    return load


# -- layouts ---------------------------------------------------------------------------------


def _conv(w: _Weights, layer: _Layer, depth: int, skipped: list[str]) -> ConvLayer | None:
    """A ``Convolution``/``ConvolutionDepthWise`` layer; consumes its blobs in ncnn's order."""
    depthwise = layer.type == "ConvolutionDepthWise"
    num_output = w.param(layer, 0, 0, "num_output")
    kernel_w = w.param(layer, 1, 0, "kernel_w")
    kernel_h = w.param(layer, 11, kernel_w, "kernel_h")
    bias_term = w.param(layer, 5, 0, "bias_term")
    size = w.param(layer, 6, 0, "weight_data_size")
    group = w.param(layer, 7, 1, "group") if depthwise else 1
    int8_scale_term = w.param(layer, 8, 0, "int8_scale_term")
    if w.param(layer, 19, 0, "dynamic_weight"):
        skipped.append("weight computed in the graph")
        return None
    if min(num_output, kernel_w, kernel_h, size, group) < 1:
        raise w.error(
            layer,
            f"num_output={num_output}, kernel {kernel_h}x{kernel_w}, weight_data_size={size}, "
            f"group={group}: all must be positive",
        )
    per_input = num_output * kernel_h * kernel_w
    if size % per_input:
        raise w.error(
            layer,
            f"weight_data_size={size:,} is not a multiple of num_output * kernel_h * kernel_w "
            f"= {per_input:,}",
        )
    if num_output % group:
        raise w.error(layer, f"num_output={num_output} is not divisible by group={group}")
    weight = w.tagged(layer, "weight", size)
    if bias_term:
        w.raw(layer, "bias", num_output)
    if int8_scale_term:
        if not depthwise:
            w.raw(layer, "int8 weight scales", num_output)
            w.raw(layer, "int8 input scale", 1)
        elif int8_scale_term in (1, 101):
            w.raw(layer, "int8 weight scales", group)
            w.raw(layer, "int8 input scale", 1)
        elif int8_scale_term in (2, 102):
            w.raw(layer, "int8 weight scale", 1)
            w.raw(layer, "int8 input scale", 1)
        if int8_scale_term > 100:
            w.raw(layer, "int8 output scale", 1)
    if weight.storage in _QUANTISED:
        skipped.append(_QUANTISED[weight.storage])
        return None
    shape = (num_output, size // per_input, kernel_h, kernel_w)
    return ConvLayer(
        name=layer.name,
        shape=shape,
        in_channels=shape[1] * group,
        out_channels=num_output,
        groups=group,
        depth=depth,
        load=w.loader(weight, shape),
    )


def _other_conv(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    is_2d, reason = _OTHER_CONVS[layer.type]
    if is_2d:
        skipped.append(reason)
    dynamic_key = _DYNAMIC_KEY.get(layer.type)
    if dynamic_key is not None and w.param(layer, dynamic_key, 0, "dynamic_weight"):
        return
    num_output = w.param(layer, 0, 0, "num_output")
    w.tagged(layer, "weight", w.param(layer, 6, 0, "weight_data_size"))
    if w.param(layer, 5, 0, "bias_term"):
        w.raw(layer, "bias", num_output)


def _inner_product(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    num_output = w.param(layer, 0, 0, "num_output")
    w.tagged(layer, "weight", w.param(layer, 2, 0, "weight_data_size"))
    if w.param(layer, 1, 0, "bias_term"):
        w.raw(layer, "bias", num_output)
    if w.param(layer, 8, 0, "int8_scale_term"):
        w.raw(layer, "int8 weight scales", num_output)
        w.raw(layer, "int8 input scale", 1)


def _embed(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    num_output = w.param(layer, 0, 0, "num_output")
    w.tagged(layer, "weight", w.param(layer, 3, 0, "weight_data_size"))
    if w.param(layer, 2, 0, "bias_term"):
        w.raw(layer, "bias", num_output)
    if w.param(layer, 18, 0, "int8_scale_term"):
        w.raw(layer, "int8 weight scale", 1)


def _batch_norm(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    channels = w.param(layer, 0, 0, "channels")
    for what in ("slope", "mean", "variance", "bias"):
        w.raw(layer, what, channels)


def _scale(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    size = w.param(layer, 0, 0, "scale_data_size")
    if size == -233:  # the scale is the layer's second input blob
        return
    w.raw(layer, "scale", size)
    if w.param(layer, 1, 0, "bias_term"):
        w.raw(layer, "bias", size)


def _affine_norm(channels_key: int, affine_key: int, blobs: int):
    """InstanceNorm/LayerNorm/GroupNorm/RMSNorm: ``blobs`` raw vectors unless ``affine=0``."""

    def layout(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
        channels = w.param(layer, channels_key, 0, "channels")
        if w.param(layer, affine_key, 1, "affine"):
            for what in ("gamma", "beta")[:blobs]:
                w.raw(layer, what, channels)

    return layout


def _raw_vectors(*vectors: tuple[int, int, bool, str]):
    """Layers made of raw float vectors: one per ``(size key, default, only if non-zero, what)``."""

    def layout(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
        for key, default, optional, what in vectors:
            size = w.param(layer, key, default, f"{what} size")
            if size or not optional:
                w.raw(layer, what, size)

    return layout


def _memory_data(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    """ncnn's rank rule: the last non-zero of d, c, h, w decides which dimensions count."""
    dims = [w.param(layer, key, 0, name) for key, name in ((0, "w"), (1, "h"), (11, "d"), (2, "c"))]
    width, height, depth, channels = dims
    if min(dims) < 0:
        raise w.error(layer, f"negative dimensions w, h, d, c = {dims}")
    if depth:
        count = width * height * depth * channels
    elif channels:
        count = width * height * channels
    elif height:
        count = width * height
    else:
        count = width
    load_type = w.param(layer, 21, 1, "load_type")
    if not any(dims):
        return  # ncnn makes a one-value blob without reading the .bin
    if not count:
        raise w.error(layer, f"dimensions w, h, d, c = {dims} hold no values")
    if load_type == 0:
        w.tagged(layer, "data", count)
    elif load_type == 1:
        w.raw(layer, "data", count)
    else:
        raise w.error(layer, f"load_type={load_type} is not one ncnn reads (0 or 1)")


def _recurrent(gates: int, bias_gates: int):
    """RNN (1 gate), GRU (3 gates, 4 bias rows) and LSTM (4 gates, optional projection)."""

    def layout(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
        num_output = w.param(layer, 0, 0, "num_output")
        size = w.param(layer, 1, 0, "weight_data_size")
        directions = 2 if w.param(layer, 2, 0, "direction") == 2 else 1
        lstm = layer.type == "LSTM"
        hidden = w.param(layer, 3, num_output, "hidden_size") if lstm else num_output
        if min(num_output, hidden, size) < 1:
            raise w.error(layer, "num_output, hidden_size and weight_data_size must be positive")
        inputs = size // directions // hidden // gates
        w.tagged(layer, "input weights", inputs * hidden * gates * directions)
        w.tagged(layer, "bias", hidden * bias_gates * directions)
        w.tagged(layer, "recurrent weights", num_output * hidden * gates * directions)
        if lstm and num_output != hidden:
            w.tagged(layer, "projection weights", hidden * num_output * directions)
        if w.param(layer, 8, 0, "int8_scale_term"):
            w.raw(layer, "int8 input weight scales", hidden * gates * directions)
            w.raw(layer, "int8 recurrent weight scales", hidden * gates * directions)

    return layout


def _gemm(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    constants = [w.param(layer, key, 0, name) for key, name in ((4, "constantA"), (5, "constantB"))]
    constant_c = w.param(layer, 6, 0, "constantC") and w.param(layer, 10, 0, "broadcast_C") != -1
    if any(constants) or constant_c:
        raise w.error(
            layer,
            "a Gemm with constant operands stores them in a layout this reader does not "
            "implement, so the offsets of every later weight are unknown",
        )


def _unsupported(w: _Weights, layer: _Layer, skipped: list[str]) -> None:
    raise w.error(
        layer,
        f"{layer.type} carries weights in a layout this reader does not implement, so the "
        "offsets of every later weight are unknown",
    )


_Layout = Callable[[_Weights, _Layer, list[str]], None]
_LAYOUTS: dict[str, _Layout] = {
    **dict.fromkeys(_OTHER_CONVS, _other_conv),
    "InnerProduct": _inner_product,
    "Embed": _embed,
    "BatchNorm": _batch_norm,
    "Scale": _scale,
    "Bias": _raw_vectors((0, 0, False, "bias")),
    "PReLU": _raw_vectors((0, 0, False, "slope")),
    "Normalize": _raw_vectors((3, 0, False, "scale")),
    "Padding": _raw_vectors((6, 0, True, "per-channel pad values")),
    "Quantize": _raw_vectors((0, 1, False, "scale")),
    "Dequantize": _raw_vectors((0, 1, False, "scale"), (1, 0, True, "bias")),
    "Requantize": _raw_vectors(
        (0, 1, False, "input scale"), (1, 1, False, "output scale"), (2, 0, True, "bias")
    ),
    "InstanceNorm": _affine_norm(0, 2, 2),
    "LayerNorm": _affine_norm(0, 2, 2),
    "GroupNorm": _affine_norm(1, 3, 2),
    "RMSNorm": _affine_norm(0, 2, 1),
    "MemoryData": _memory_data,
    "RNN": _recurrent(1, 1),
    "GRU": _recurrent(3, 4),
    "LSTM": _recurrent(4, 4),
    "Gemm": _gemm,
    "MultiHeadAttention": _unsupported,
}
