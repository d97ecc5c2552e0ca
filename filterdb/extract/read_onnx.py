"""Read the 2-D conv layers of an ONNX model.

A layer is the stored weight (input #1) of a ``Conv`` node with a 4-D floating-point weight: an
initializer, or the tensor of a ``Constant`` node, which is how some exporters (Paddle2ONNX, e.g.
PP-OCR) store initializers. Every other 2-D convolution is counted in ``skipped`` with its reason,
never dropped silently: a weight computed in the graph (e.g. dequantised) is not a stored filter
set; integer weights (``QLinearConv``, ``ConvInteger``, or an int8 initializer) are unscaled and
so are not filters; transposed convolutions are not convolution filters in the database's sense;
Convs inside control-flow subgraphs cannot be placed by the top-level depth; any other operator
named like a convolution (e.g. ``com.microsoft.FusedConv``) is counted under its name.
``Constant`` nodes are weights, not operations, so like initializers they do not count towards
graph depth. A weight shared by several Conv nodes is one layer, at its first node. Weights stay
undecoded until the writer asks for them, one layer at a time; external data is read from beside
the model file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.external_data_helper import uses_external_data

from filterdb.errors import ModelError, describe
from filterdb.extract.conv_layers import ConvLayer, ModelConvs, count_skipped
from filterdb.extract.graph_depth import longest_path_depths

_DEFAULT_DOMAINS = ("", "ai.onnx")
_FLOAT_TYPES = (
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
    onnx.TensorProto.DOUBLE,
)
#: Convolution operators that are not extracted, with the input index of their weight.
_SKIPPED_CONVS = {
    "QLinearConv": (3, "QLinearConv (quantised weights)"),
    "ConvInteger": (1, "ConvInteger (quantised weights)"),
    "ConvTranspose": (1, "transposed convolution"),
}


def read_onnx(model: str, path: Path) -> ModelConvs:
    """Conv layers of the ONNX file at ``path`` with their graph depths (``onnx_graph``)."""
    path = Path(path)
    proto = _load(model, path)
    graph = proto.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    initializers.update(_constant_tensors(model, path, graph))
    producer_of = {
        name: index
        for index, node in enumerate(graph.node)
        if not _is_constant(node)
        for name in node.output
        if name
    }
    try:
        depth = longest_path_depths(
            {
                index: [producer_of[name] for name in node.input if name in producer_of]
                for index, node in enumerate(graph.node)
            }
        )
    except ValueError as exc:
        raise ModelError(model, str(path), f"invalid ONNX graph: {exc}") from exc
    layers: dict[str, ConvLayer] = {}
    skipped = [
        "inside a control-flow subgraph"
        for node in _subgraph_nodes(graph)
        if _is_conv(node) or _other_conv(node)
    ]
    for index, node in enumerate(graph.node):
        if _other_conv(node):
            weight_index, reason = _SKIPPED_CONVS.get(node.op_type, (1, None))
            if _is_2d(node, _weight(node, weight_index, initializers)):
                skipped.append(reason or f"operator {node.domain}.{node.op_type} is not read")
            continue
        if not _is_conv(node):
            continue
        weight = _weight(node, 1, initializers)
        if weight is None:
            if _is_2d(node, None):
                skipped.append("weight computed in the graph")
            continue
        if len(weight.dims) != 4 or weight.name in layers:
            continue
        if weight.data_type not in _FLOAT_TYPES:
            kind = onnx.TensorProto.DataType.Name(weight.data_type)
            skipped.append(f"weight stored as {kind}, not floating point")
            continue
        groups = next((attr.i for attr in node.attribute if attr.name == "group"), 1)
        c_out, c_in_per_group = weight.dims[0], weight.dims[1]
        layers[weight.name] = ConvLayer(
            name=weight.name,
            shape=tuple(weight.dims),
            in_channels=c_in_per_group * groups,
            out_channels=c_out,
            groups=groups,
            depth=depth[index],
            load=_loader(weight, path.parent),
        )
    opset = next((o.version for o in proto.opset_import if o.domain in _DEFAULT_DOMAINS), None)
    producer = f"{proto.producer_name} {proto.producer_version}".strip()
    return ModelConvs(
        model,
        str(path),
        "onnx",
        producer,
        opset,
        "onnx_graph",
        tuple(layers.values()),
        count_skipped(skipped),
    )


def _load(model: str, path: Path) -> onnx.ModelProto:
    """Parse the protobuf without external data, then check that every external file exists.

    Loading external data eagerly would hold every tensor of a large model in memory and fail with
    a bare ``FileNotFoundError``; checking first gives a message naming the missing file.
    """
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors, unreadable files
        raise ModelError(
            model, str(path), f"cannot parse as an ONNX model: {describe(exc)}"
        ) from exc
    if not proto.HasField("graph") or not proto.ir_version:
        raise ModelError(model, str(path), "not an ONNX model (no graph or IR version in the file)")
    missing = sorted(
        {
            location
            for tensor in proto.graph.initializer
            if uses_external_data(tensor)
            for location in [_external_location(tensor)]
            if not (path.parent / location).is_file()
        }
    )
    if missing:
        raise ModelError(
            model,
            str(path),
            f"external data file(s) missing: {', '.join(missing)} (expected in {path.parent})",
        )
    return proto


def _external_location(tensor: onnx.TensorProto) -> str:
    return next((entry.value for entry in tensor.external_data if entry.key == "location"), "")


def _is_constant(node: onnx.NodeProto) -> bool:
    return node.op_type == "Constant" and node.domain in _DEFAULT_DOMAINS


def _constant_tensors(
    model: str, path: Path, graph: onnx.GraphProto
) -> dict[str, onnx.TensorProto]:
    """Tensors held by ``Constant`` nodes' ``value`` attribute, named after the node's output.

    The attribute's tensor is usually unnamed; naming it in place (no copy of the data) gives the
    layer the name the graph uses for it. A Constant without exactly one output is invalid ONNX.
    """
    tensors = {}
    for node in graph.node:
        if not _is_constant(node):
            continue
        if len(node.output) != 1 or not node.output[0]:
            raise ModelError(
                model,
                str(path),
                f"invalid ONNX graph: Constant node {node.name!r} has {len(node.output)} "
                "outputs (exactly one named output expected)",
            )
        for attr in node.attribute:
            if attr.name == "value":
                attr.t.name = node.output[0]
                tensors[node.output[0]] = attr.t
    return tensors


def _weight(
    node: onnx.NodeProto, index: int, initializers: dict[str, onnx.TensorProto]
) -> onnx.TensorProto | None:
    """The stored tensor at input ``index`` of ``node``; None if it is computed (or absent)."""
    return initializers.get(node.input[index]) if len(node.input) > index else None


def _is_2d(node: onnx.NodeProto, weight: onnx.TensorProto | None) -> bool:
    """Whether a conv node is 2-D: by its stored weight's rank, else by ``kernel_shape``.

    A computed weight without ``kernel_shape`` counts as 2-D: better one skipped layer too many in
    the summary than one hidden.
    """
    if weight is not None:
        return len(weight.dims) == 4
    kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
    return kernel is None or len(kernel) == 2


def _other_conv(node: onnx.NodeProto) -> bool:
    """A convolution operator other than the standard ``Conv``: counted, never read.

    Besides the known ones (``_SKIPPED_CONVS``), any operator named like a convolution in another
    domain (e.g. ``com.microsoft.FusedConv``) is counted under its own name rather than ignored.
    """
    return "Conv" in node.op_type and not _is_conv(node)


def _is_conv(node: onnx.NodeProto) -> bool:
    return node.op_type == "Conv" and node.domain in _DEFAULT_DOMAINS


def _subgraph_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Nodes of all subgraphs (If/Loop/Scan bodies) below ``graph``, not of ``graph`` itself."""
    for node in graph.node:
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from sub.node
                yield from _subgraph_nodes(sub)


def _loader(tensor: onnx.TensorProto, base_dir: Path) -> Callable[[], np.ndarray]:
    """Deferred float32 decoding of one initializer (fp16/bf16 upcast, external data resolved)."""
    return lambda: numpy_helper.to_array(tensor, base_dir=str(base_dir)).astype(
        np.float32, copy=False
    )
