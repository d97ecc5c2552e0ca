"""What the readers hand to the writer: a model's 2-D conv layers, and the per-model maths on them.

Every reader (ONNX, PyTorch state dict, timm module) reduces its file to the same ``ModelConvs``, so
counting, depth normalisation and writing are written once. A layer carries its weight as a loader,
not as an array: the writer pulls one layer at a time, so a big model's filters are never held twice
in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from filterdb.errors import ModelError
from filterdb.extract.formats import FORMATS

DEPTH_METHODS = (
    "onnx_graph",
    "fx_trace",
    "state_dict_order",
    "keras_graph",
    "tflite_graph",
    "ncnn_graph",
)


@dataclass(frozen=True)
class ConvLayer:
    """One 2-D convolution layer (any kernel size).

    ``name`` is the name of the weight tensor (state-dict key or ONNX initializer name): it is
    unique in the file, unlike ONNX node names. ``shape`` is the weight shape
    ``(c_out, c_in / groups, kh, kw)``. ``depth`` is the graph depth (or the state-dict index when
    no graph is known; see ``ModelConvs.depth_method``). ``load`` returns the weight as float32 with
    ``shape``, exactly the checkpoint values (fp16/bf16 upcast).
    """

    name: str
    shape: tuple[int, int, int, int]
    in_channels: int
    out_channels: int
    groups: int
    depth: int
    load: Callable[[], np.ndarray]

    @property
    def kernel(self) -> tuple[int, int]:
        return (self.shape[2], self.shape[3])

    @property
    def n_kernels(self) -> int:
        """c_out * c_in / groups: one kernel per (output, input) channel pair the layer connects."""
        return self.shape[0] * self.shape[1]


@dataclass(frozen=True)
class ModelConvs:
    """All 2-D conv layers of one model, in layer order (graph order, or state-dict order).

    ``skipped`` counts, by reason, the 2-D convolutions that are not extracted: weights that are
    not stored in the file (an ONNX Conv fed by a computed tensor), or are stored as integers
    (quantised; their scale lives elsewhere, so the raw integers are not filters). The summary
    and ``models.parquet`` report them, so nothing is dropped silently.
    """

    model: str
    path: str
    format: str
    producer: str
    opset: int | None
    depth_method: str
    layers: tuple[ConvLayer, ...]
    skipped: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} is not one of {FORMATS}")
        if self.depth_method not in DEPTH_METHODS:
            raise ValueError(f"depth_method {self.depth_method!r} is not one of {DEPTH_METHODS}")

    @property
    def skipped_layers(self) -> int:
        return sum(self.skipped.values())

    @property
    def skipped_reasons(self) -> str:
        """``"reason: n; ..."`` sorted by reason; empty when nothing was skipped."""
        return "; ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items()))

    @property
    def layers_3x3(self) -> tuple[ConvLayer, ...]:
        return tuple(layer for layer in self.layers if layer.kernel == (3, 3))


def kernel_counts(shapes: Iterable[Sequence[int]]) -> dict[tuple[int, int], int]:
    """Number of kernels per kernel shape, like the original DB's "(k, k) filters" columns.

    ``shapes`` are conv weight shapes ``(c_out, c_in / groups, kh, kw)``; each holds
    ``c_out * c_in / groups`` kernels of ``(kh, kw)``. Shapes alone suffice, so the zoo generator
    counts an architecture built on the ``meta`` device with the rule extraction uses.
    """
    counts: dict[tuple[int, int], int] = {}
    for shape in shapes:
        kernel = (int(shape[2]), int(shape[3]))
        counts[kernel] = counts.get(kernel, 0) + int(shape[0]) * int(shape[1])
    return dict(sorted(counts.items()))


def check_expected_3x3(convs: ModelConvs, expected: int | None) -> ModelConvs:
    """``convs`` unchanged, or a ``ModelError`` when its 3x3 kernels are not ``expected``.

    The manifest's ``expected_3x3_filters`` comes from the architecture alone, so a checkpoint
    that does not match it is another model's, a truncated one, or built by another version of
    its library; caught before anything is written, whether or not a sha256 is pinned.
    """
    found = kernel_counts(layer.shape for layer in convs.layers).get((3, 3), 0)
    if expected is not None and found != expected:
        raise ModelError(
            convs.model,
            convs.path,
            f"expected {expected:,} 3x3 filters (manifest column expected_3x3_filters) but the "
            f"checkpoint has {found:,}: it is not the checkpoint the manifest describes",
        )
    return convs


def filter_share_3x3(counts: Mapping[tuple[int, int], int]) -> float:
    """3x3 kernels / all kernels except 1x1 (0 when there are none).

    1x1 kernels are excluded because they are channel mixers without spatial extent; the share
    says how much of the model's spatial filtering is done by 3x3 kernels.
    """
    spatial = sum(n for kernel, n in counts.items() if kernel != (1, 1))
    return counts.get((3, 3), 0) / spatial if spatial else 0.0


def conv_depth_ranks(depths: Iterable[int]) -> dict[int, tuple[int, float]]:
    """Map each graph depth holding a conv to (conv_depth, conv_depth_norm).

    conv_depth is the rank of the depth among the distinct conv depths (convs side by side in
    parallel branches share it); the normalised value divides by the deepest rank so models of
    different lengths become comparable on [0, 1] (0 when the model has a single conv depth).
    """
    distinct = sorted(set(depths))
    top = len(distinct) - 1
    return {depth: (rank, rank / top if top else 0.0) for rank, depth in enumerate(distinct)}


def count_skipped(reasons: Iterable[str]) -> dict[str, int]:
    """{reason: number of layers} from one reason per skipped layer."""
    return dict(Counter(reasons))


def layer_problem(layer: ConvLayer) -> str | None:
    """What makes ``layer``'s shape and channel bookkeeping inconsistent, or None.

    A conv weight is ``(c_out, c_in / groups, kh, kw)`` with every dimension positive, groups
    divide both channel counts, and the stored shape agrees with the channel counts. A file can
    declare anything (``group=0``, negative dims); caught here, it is that model's error rather
    than a failure of the statistics over the whole database.
    """
    shape = layer.shape
    if len(shape) != 4 or any(d < 1 for d in shape):
        return f"weight shape {tuple(shape)} is not 4-D with positive dimensions"
    if layer.groups < 1:
        return f"groups={layer.groups}; it must be at least 1"
    if layer.out_channels != shape[0] or layer.in_channels != shape[1] * layer.groups:
        return (
            f"weight shape {tuple(shape)} does not match in_channels={layer.in_channels}, "
            f"out_channels={layer.out_channels}, groups={layer.groups} "
            "(expected (out_channels, in_channels / groups, kh, kw))"
        )
    if layer.out_channels % layer.groups:
        return f"out_channels={layer.out_channels} is not divisible by groups={layer.groups}"
    return None


def check_layers(convs: ModelConvs) -> ModelConvs:
    """``convs`` unchanged, or a ``ModelError`` naming the first inconsistent layer."""
    for layer in convs.layers:
        problem = layer_problem(layer)
        if problem:
            raise ModelError(convs.model, convs.path, f"layer {layer.name!r}: {problem}")
    return convs
