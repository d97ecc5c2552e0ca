"""Small ncnn models written from known tensors, and hostile variants of them.

No ncnn package writes models from Python, so ``NcnnModel`` writes the two files as ncnn's
converters do (``docs/developer-guide/param-and-model-file-structure.md``): a ``.param`` text
graph, and a ``.bin`` that is every layer's weight blobs in layer order, a tagged blob being a
4-byte storage flag, the data, and zero padding to 4 bytes. Each test model knows its weights,
so a reader that gets one offset wrong reads other numbers than the test wrote.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Storage flags of a tagged blob (ncnn ``src/modelbin.cpp``).
FLAGS = {"fp32": 0x00000000, "raw_fp32": 0x0002C056, "fp16": 0x01306B47, "int8": 0x000D4B38}


def tagged(values: np.ndarray, storage: str = "fp32") -> bytes:
    """One tagged blob: flag, little-endian data, zero padding to 4 bytes."""
    flag = struct.pack("<I", FLAGS[storage])
    dtype = {"fp32": "<f4", "raw_fp32": "<f4", "fp16": "<f2", "int8": "i1"}[storage]
    data = np.ascontiguousarray(values).astype(dtype).tobytes()
    return flag + data + b"\0" * (-len(data) % 4)


def lookup_table(indices: np.ndarray, table: np.ndarray) -> bytes:
    """A blob stored the way old caffe2ncnn quantised weights: flag 1, 256 floats, one byte each."""
    data = np.asarray(indices, dtype=np.uint8).tobytes()
    return struct.pack("<I", 1) + table.astype("<f4").tobytes() + data + b"\0" * (-len(data) % 4)


def raw(values: np.ndarray) -> bytes:
    """An untagged float32 blob (biases, BatchNorm statistics, scales)."""
    return np.ascontiguousarray(values).astype("<f4").tobytes()


def known(shape: Sequence[int], offset: float) -> np.ndarray:
    """Distinct float32 values exactly representable in float16 (multiples of 1/8 below 256)."""
    n = int(np.prod(shape))
    return (np.arange(n, dtype=np.float32) % 1024 / 8 - 64 + offset).reshape(shape)


def _param(key: int, value: object) -> str:
    if isinstance(value, (list, tuple)):
        return f"{-23300 - key}={len(value)}," + ",".join(str(v) for v in value)
    return f"{key}={value}"


@dataclass
class NcnnModel:
    """An ncnn model being written: layer lines and the .bin's bytes, in layer order."""

    lines: list[tuple[str, str, tuple[str, ...], tuple[str, ...], str]] = field(
        default_factory=list
    )
    weights: bytearray = field(default_factory=bytearray)

    def layer(
        self,
        kind: str,
        name: str,
        inputs: Sequence[str],
        outputs: Sequence[str],
        params: dict[int, object] | None = None,
        blobs: Sequence[bytes] = (),
    ) -> NcnnModel:
        text = " ".join(_param(k, v) for k, v in (params or {}).items())
        self.lines.append((kind, name, tuple(inputs), tuple(outputs), text))
        for blob in blobs:
            self.weights += blob
        return self

    def input(self, name: str = "data", shape: Sequence[int] = (8, 8, 2)) -> NcnnModel:
        return self.layer("Input", "input", [], [name], dict(enumerate(shape)))

    def conv(
        self,
        name: str,
        x: str,
        y: str,
        weight: np.ndarray,
        storage: str = "fp32",
        bias: np.ndarray | None = None,
        group: int | None = None,
        extra: dict[int, object] | None = None,
    ) -> NcnnModel:
        """A ``Convolution`` (``ConvolutionDepthWise`` when ``group`` is given) of ``weight``,
        ``(c_out, c_in / groups, kh, kw)``, stored with ``storage``."""
        c_out, _, kh, kw = weight.shape
        params: dict[int, object] = {0: c_out, 1: kw, 11: kh, 5: int(bias is not None)}
        params[6] = weight.size
        if group is not None:
            params[7] = group
        params.update(extra or {})
        blobs = [tagged(weight, storage)] + ([raw(bias)] if bias is not None else [])
        kind = "Convolution" if group is None else "ConvolutionDepthWise"
        return self.layer(kind, name, [x], [y], params, blobs)

    def param_text(self, layer_count: int | None = None, blob_count: int | None = None) -> str:
        blobs = {b for _, _, ins, outs, _ in self.lines for b in (*ins, *outs)}
        header = f"{len(self.lines) if layer_count is None else layer_count} "
        header += f"{len(blobs) if blob_count is None else blob_count}"
        body = [
            f"{kind:<24} {name:<24} {len(ins)} {len(outs)} {' '.join((*ins, *outs))} {params}"
            for kind, name, ins, outs, params in self.lines
        ]
        return "\n".join(["7767517", header, *body]) + "\n"

    def write(
        self,
        directory: Path,
        stem: str = "model",
        layer_count: int | None = None,
        blob_count: int | None = None,
    ) -> Path:
        """Write ``<stem>.param`` and ``<stem>.bin``; returns the .param's path."""
        directory.mkdir(parents=True, exist_ok=True)
        param = directory / f"{stem}.param"
        param.write_text(self.param_text(layer_count, blob_count))
        param.with_suffix(".bin").write_bytes(bytes(self.weights))
        return param


# -- the models of the unit tests -------------------------------------------------------------

#: input -> A -> BatchNorm -> Split -> (B depthwise -> C 1x1) and (D 5x5) -> add -> E.
BRANCH_WEIGHTS = {
    "A": known((4, 2, 3, 3), 0),  # raw-fp32 flag, with bias
    "B": known((4, 1, 3, 3), 0.5),  # depthwise (group 4), fp16
    "C": known((4, 4, 1, 1), 0.25),  # 1x1, flag 0
    "D": known((4, 4, 5, 5), 0.75),  # 5x5, fp16
    "E": known((3, 4, 3, 3), 0.125),  # flag 0, with bias
}
BRANCH_DEPTHS = {"A": 0, "B": 2, "C": 3, "D": 2, "E": 5}  # BatchNorm at 1; Split not counted


def branching_model() -> NcnnModel:
    w = BRANCH_WEIGHTS
    model = NcnnModel().input("data", (8, 8, 2))
    model.conv("A", "data", "a", w["A"], "raw_fp32", bias=known((4,), 100), extra={4: 1})
    stats = [known((4,), k) for k in (1, 2, 3, 4)]  # slope, mean, variance, bias
    model.layer("BatchNorm", "bn", ["a"], ["b"], {0: 4}, [raw(s) for s in stats])
    model.layer("Split", "splitncnn_0", ["b"], ["b0", "b1"])
    model.conv("B", "b0", "c", w["B"], "fp16", group=4, extra={4: 1})
    model.conv("C", "c", "d", w["C"], "fp32")
    model.conv("D", "b1", "e", w["D"], "fp16", extra={4: 2})
    model.layer("BinaryOp", "add", ["d", "e"], ["s"], {0: 0})
    model.conv("E", "s", "y", w["E"], "fp32", bias=known((3,), 200), extra={4: 1})
    return model


#: The convs ``every_layout_model`` keeps, and what it skips.
LAYOUT_WEIGHTS = {"odd": known((3, 1, 1, 3), 0.375), "final": known((4, 4, 3, 3), 0.625)}
LAYOUT_SKIPPED = {
    "transposed convolution": 2,
    "deformable convolution": 1,
    "int8-quantised weights": 2,
    "weight computed in the graph": 1,
    "lookup-table-quantised weights (256 levels)": 1,
}
LAYOUT_STORAGE = {"fp16": 4, "fp32": 16, "int8": 2, "lookup": 1}


def every_layout_model() -> NcnnModel:
    """One layer of every weight layout the reader knows, each with its blobs, then two convs.

    Were one layout's size wrong, the two convs at the end would read shifted bytes. ``odd``
    holds 9 fp16 values, so the blob after it starts behind 2 bytes of padding.
    """

    def v(n: int, k: float = 0) -> np.ndarray:
        return known((n,), k)

    int8_weight = np.arange(-36, 36, dtype=np.int8)
    m = NcnnModel().input("data", (8, 8, 4))
    m.layer(
        "InnerProduct",
        "ip",
        ["data"],
        ["ip"],
        {0: 3, 1: 1, 2: 12, 8: 1},
        [tagged(v(12), "fp16"), raw(v(3)), raw(v(3)), raw(v(1))],
    )
    m.layer(
        "Embed",
        "embed",
        ["data"],
        ["emb"],
        {0: 2, 1: 5, 2: 1, 3: 10, 18: 1},
        [tagged(v(10)), raw(v(2)), raw(v(1))],
    )
    m.layer("Scale", "scale", ["data"], ["sc"], {0: 4, 1: 1}, [raw(v(4)), raw(v(4))])
    m.layer("Scale", "scale_blob", ["data", "sc"], ["sc2"], {0: -233})
    m.layer("PReLU", "prelu", ["data"], ["pr"], {0: 4}, [raw(v(4))])
    m.layer("Bias", "bias", ["data"], ["bi"], {0: 4}, [raw(v(4))])
    m.layer("MemoryData", "const", [], ["const"], {0: 3, 1: 2}, [raw(v(6))])
    m.layer("MemoryData", "const16", [], ["const16"], {0: 5, 21: 0}, [tagged(v(5), "fp16")])
    m.layer("InstanceNorm", "inorm", ["data"], ["in"], {0: 4}, [raw(v(4)), raw(v(4))])
    m.layer("LayerNorm", "lnorm", ["data"], ["ln"], {0: 4, 2: 0})  # affine=0: no weights
    m.layer("GroupNorm", "gnorm", ["data"], ["gn"], {0: 2, 1: 4}, [raw(v(4)), raw(v(4))])
    m.layer("RMSNorm", "rms", ["data"], ["rms"], {0: 4}, [raw(v(4))])
    m.layer("Normalize", "norm", ["data"], ["nm"], {3: 1}, [raw(v(1))])
    m.layer("Padding", "pad", ["data"], ["pd"], {0: 1, 6: 4}, [raw(v(4))])
    m.layer("Quantize", "quant", ["data"], ["q"], {}, [raw(v(1))])
    m.layer("Dequantize", "dequant", ["q"], ["dq"], {0: 4, 1: 4}, [raw(v(4)), raw(v(4))])
    m.layer(
        "Requantize",
        "requant",
        ["q"],
        ["rq"],
        {0: 4, 1: 1, 2: 4},
        [raw(v(4)), raw(v(1)), raw(v(4))],
    )
    # RNN: 4 inputs, 2 outputs; GRU: bidirectional, 1 input; LSTM: hidden 2, projected to 3
    m.layer(
        "RNN", "rnn", ["data"], ["rnn"], {0: 2, 1: 8}, [tagged(v(8)), tagged(v(2)), tagged(v(4))]
    )
    m.layer(
        "GRU",
        "gru",
        ["data"],
        ["gru"],
        {0: 2, 1: 12, 2: 2},
        [tagged(v(12)), tagged(v(16)), tagged(v(24))],
    )
    m.layer(
        "LSTM",
        "lstm",
        ["data"],
        ["lstm"],
        {0: 3, 1: 16, 3: 2},
        [tagged(v(16)), tagged(v(8)), tagged(v(24)), tagged(v(6))],
    )
    m.layer(
        "Deconvolution",
        "deconv",
        ["data"],
        ["dc"],
        {0: 2, 1: 2, 5: 1, 6: 16},
        [tagged(v(16), "fp16"), raw(v(2))],
    )
    m.layer(
        "DeconvolutionDepthWise",
        "deconv_dw",
        ["data"],
        ["dcdw"],
        {0: 4, 1: 3, 6: 36, 7: 4},
        [tagged(v(36))],
    )
    m.layer(
        "Convolution1D",
        "conv1d",
        ["data"],
        ["c1"],
        {0: 2, 1: 3, 5: 1, 6: 24},
        [tagged(v(24)), raw(v(2))],
    )
    m.layer("Convolution3D", "conv3d", ["data"], ["c3"], {0: 1, 1: 3, 6: 108}, [tagged(v(108))])
    m.layer(
        "DeformableConv2D", "dcn", ["data", "pr"], ["dcn"], {0: 2, 1: 3, 6: 72}, [tagged(v(72))]
    )
    m.layer(
        "Convolution",
        "int8",
        ["data"],
        ["i8"],
        {0: 4, 1: 3, 6: 72, 8: 1},
        [tagged(int8_weight, "int8"), raw(v(4)), raw(v(1))],
    )
    m.layer(
        "ConvolutionDepthWise",
        "int8_dw",
        ["data"],
        ["i8dw"],
        {0: 4, 1: 3, 6: 36, 7: 4, 8: 101},
        [tagged(int8_weight[:36], "int8"), raw(v(4)), raw(v(1)), raw(v(1))],
    )
    m.layer("Convolution", "dynamic", ["data", "const"], ["dyn"], {0: 4, 1: 3, 6: 72, 19: 1})
    lookup = lookup_table(np.arange(72) % 256, np.linspace(-1, 1, 256))
    m.layer("Convolution", "lut", ["data"], ["lut"], {0: 4, 1: 3, 6: 72}, [lookup])
    m.layer("Gemm", "gemm", ["data", "ip"], ["gemm"], {})  # no constant operands: no weights
    m.conv("odd", "data", "odd", LAYOUT_WEIGHTS["odd"], "fp16", extra={4: 1})
    m.conv("final", "data", "y", LAYOUT_WEIGHTS["final"], "fp32", bias=v(4, 9))
    return m


def small_model() -> NcnnModel:
    """Input -> one 3x3 conv (4, 2, 3, 3), flag 0: the base of the hostile variants."""
    return NcnnModel().input().conv("conv", "data", "y", known((4, 2, 3, 3), 0))


def write_hostile(directory: Path, name: str) -> Path:
    """One hostile variant of ``small_model`` (see ``HOSTILE``); returns its .param."""
    model = small_model()
    if name == "missing_bin":
        param = model.write(directory)
        param.with_suffix(".bin").unlink()
    elif name == "truncated_bin":
        param = model.write(directory)
        data = param.with_suffix(".bin").read_bytes()
        param.with_suffix(".bin").write_bytes(data[:-10])
    elif name == "trailing_bytes":
        param = model.write(directory)
        with param.with_suffix(".bin").open("ab") as handle:
            handle.write(b"\0" * 8)
    elif name == "lying_layer_count":
        param = model.write(directory, layer_count=3)
    elif name == "lying_blob_count":
        param = model.write(directory, blob_count=7)
    elif name == "unknown_tag":
        model.weights[0:4] = struct.pack("<I", 0x12345678)
        param = model.write(directory)
    elif name == "weight_data_size_beyond_file":
        param = model.write(directory)
        text = param.read_text().replace("6=72", "6=2000000000")
        param.write_text(text.replace("0=4 1=3", "0=1 1=1").replace("11=3", "11=1"))
    elif name == "non_numeric_param":
        param = model.write(directory)
        param.write_text(param.read_text().replace("0=4 1=3", "0=four 1=3"))
    elif name == "malformed_param":
        param = model.write(directory)
        param.write_text(param.read_text().replace("6=72", "6=72 9=#1"))
    elif name == "cycle":
        model = NcnnModel().input()
        model.conv("first", "late", "early", known((4, 4, 3, 3), 0))
        model.conv("second", "early", "late", known((4, 4, 3, 3), 1))
        param = model.write(directory)
    elif name == "unknown_layer_with_weights":
        model = NcnnModel().input()
        model.layer("MyCustomLayer", "custom", ["data"], ["c"], {0: 3}, [raw(known((3,), 0))])
        model.conv("conv", "c", "y", known((4, 2, 3, 3), 0))
        param = model.write(directory)
    elif name == "not_divisible":
        param = model.write(directory)
        param.write_text(param.read_text().replace("6=72", "6=70"))
    elif name == "bad_magic":
        param = model.write(directory)
        param.write_text(param.read_text().replace("7767517", "7767518", 1))
    else:
        raise KeyError(name)
    return param


#: Each hostile variant, with what its error must say.
HOSTILE = {
    "missing_bin": "weights file model.bin missing",
    "truncated_bin": "only 278 remain",
    "trailing_bytes": "has 300 bytes",
    "lying_layer_count": "declares 3 layers but the file has 2",
    "lying_blob_count": "declares 7 blobs but the layers name 2",
    "unknown_tag": "unknown weight storage flag 0x12345678",
    "weight_data_size_beyond_file": "needs 8,000,000,000 bytes",
    "non_numeric_param": "param 0 (num_output) is 'four', not a 32-bit integer",
    "malformed_param": "param 9='#1' is not a number",
    "cycle": "consumes blob 'late' before line 5 produces it",
    "unknown_layer_with_weights": "layer type 'MyCustomLayer' is not an ncnn built-in",
    "not_divisible": "weight_data_size=70 is not a multiple of num_output * kernel_h * kernel_w",
    "bad_magic": "not the magic 7767517",
}
