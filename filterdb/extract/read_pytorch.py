"""Read the 2-D conv layers of PyTorch checkpoints (.pt/.pth/.bin) and safetensors files.

Pickled checkpoints are loaded only with ``torch.load(weights_only=True)``: a file that would need
to run code (or build arbitrary Python objects) is refused, never executed. Two ways to read:

* bare state dict (no architecture known): every 4-D floating-point tensor is a conv weight
  ``(c_out, c_in / groups, kh, kw)``. Groups cannot be seen in a state dict, so groups = 1 and
  in/out channels come from the weight shape (in_channels = c_in / groups as stored). The shape,
  and hence the kernels and filters, is exact either way; only the ``groups``/``in_channels``
  columns are a lower bound for grouped convs. Depth is the index among the conv weights. A 4-D
  tensor stored as integers (quantised, or int8 with its scale elsewhere) is counted as skipped,
  never stored as float filters: unscaled integers are not the model's filters.
* module (timm architectures): the state dict is loaded into the built module, so groups and
  channels are read from the ``nn.Conv2d`` modules and depth comes from an fx trace.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from torch import nn

from filterdb.errors import ModelError, describe
from filterdb.extract.conv_layers import ConvLayer, ModelConvs, count_skipped
from filterdb.extract.formats import checkpoint_format
from filterdb.extract.graph_depth import fx_conv_weight_depths
from filterdb.extract.pickle_scan import unpickling_cause

log = logging.getLogger(__name__)

_NESTED_KEYS = ("state_dict", "model")
_PARALLEL_PREFIX = "module."
#: Containers nest a state dict a level or two deep; a file nesting deeper is not a checkpoint.
MAX_NESTING = 8


def load_state_dict(
    model: str, path: Path, file_format: str | None = None
) -> dict[str, torch.Tensor]:
    """Load the tensors of a checkpoint as a flat state dict (on CPU, dtypes as stored).

    Training checkpoints often wrap the weights (``{"state_dict": ...}``, ``{"model": ...}``) and
    DataParallel prefixes every key with ``module.``; both are undone so keys match the module.
    ``file_format`` (``pytorch`` or ``safetensors``) overrides the format of the file's suffix.
    """
    path = Path(path)
    file_format = file_format or checkpoint_format(path)
    if file_format == "safetensors":
        try:
            obj = safetensors.torch.load_file(path, device="cpu")
        except Exception as exc:  # any failure here means an unreadable file
            raise ModelError(
                model, str(path), f"cannot read safetensors file: {describe(exc)}"
            ) from exc
    elif file_format == "pytorch":
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ModelError(model, str(path), unpickling_cause(exc, path)) from exc
        except Exception as exc:  # truncated zips, EOF, bad magic: all unreadable files
            raise ModelError(
                model,
                str(path),
                f"cannot read as a PyTorch checkpoint (corrupt or truncated?): {describe(exc)}",
            ) from exc
    else:
        raise ModelError(
            model, str(path), f"{path.suffix!r} is not a PyTorch or safetensors checkpoint suffix"
        )
    return _flatten_checkpoint(model, path, obj)


def read_state_dict(model: str, path: Path, file_format: str | None = None) -> ModelConvs:
    """Conv layers of a bare state dict, in state-dict order (see the module docstring)."""
    path = Path(path)
    file_format = file_format or checkpoint_format(path)
    state = load_state_dict(model, path, file_format)
    weights4d = [(key, t) for key, t in state.items() if t.ndim == 4]
    convs = [(key, t) for key, t in weights4d if t.is_floating_point()]
    skipped = count_skipped(
        f"stored as {str(t.dtype).removeprefix('torch.')}, not floating point"
        for _, t in weights4d
        if not t.is_floating_point()
    )
    layers = tuple(
        ConvLayer(
            name=key,
            shape=tuple(t.shape),
            in_channels=t.shape[1],
            out_channels=t.shape[0],
            groups=1,
            depth=index,
            load=_loader(t),
        )
        for index, (key, t) in enumerate(convs)
    )
    return ModelConvs(model, str(path), file_format, "", None, "state_dict_order", layers, skipped)


def read_module(
    model: str,
    path: Path,
    module: nn.Module,
    leaf_types: Iterable[type] = (),
    autowrap_functions: Iterable[Callable] = (),
) -> ModelConvs:
    """Conv layers of ``module`` after loading the checkpoint at ``path`` into it.

    Layers are the ``nn.Conv2d`` modules, in graph order with fx-traced depths. If fx cannot trace
    the module, or a conv is hidden from the trace (inside an untraceable leaf module), depths for
    the whole model fall back to module order (``state_dict_order``): mixing the two would make
    conv_depth meaningless.
    """
    path = Path(path)
    state = load_state_dict(model, path)
    try:
        result = module.load_state_dict(state, strict=False, assign=True)
    except RuntimeError as exc:
        raise ModelError(
            model,
            str(path),
            f"checkpoint does not fit the architecture {type(module).__name__}: {describe(exc)}",
        ) from exc
    if result.missing_keys or result.unexpected_keys:
        raise ModelError(
            model,
            str(path),
            f"checkpoint does not fit the architecture {type(module).__name__}: "
            f"missing keys {result.missing_keys[:5]}, unexpected keys {result.unexpected_keys[:5]}",
        )
    return module_convs(
        model, str(path), checkpoint_format(path), module, leaf_types, autowrap_functions
    )


def module_convs(
    model: str,
    where: str,
    file_format: str,
    module: nn.Module,
    leaf_types: Iterable[type] = (),
    autowrap_functions: Iterable[Callable] = (),
) -> ModelConvs:
    """Conv layers of a module as it is (weights in place), as ``read_module`` describes.

    ``where`` names the checkpoint (or the module) in errors; ``filterdb.check_module`` reads
    a researcher's module in memory through this, the way extraction reads a timm checkpoint.
    """
    convs = conv2d_modules(module)
    skipped = count_skipped(
        "transposed convolution" for m in module.modules() if isinstance(m, nn.ConvTranspose2d)
    )
    depths, method = _trace_or_order(model, module, convs, leaf_types, autowrap_functions)
    layers = tuple(
        ConvLayer(
            name=name,
            shape=tuple(convs[name].weight.shape),
            in_channels=convs[name].in_channels,
            out_channels=convs[name].out_channels,
            groups=convs[name].groups,
            depth=depth,
            load=_loader(convs[name].weight),
        )
        for name, depth in depths.items()
    )
    return ModelConvs(model, where, file_format, "", None, method, layers, skipped)


def read_timm(model: str, path: Path, architecture: str) -> ModelConvs:
    """Conv layers of a checkpoint for the timm ``architecture`` (built untrained, then loaded)."""
    import timm
    import timm.layers

    try:
        module = timm.create_model(architecture, pretrained=False)
    except Exception as exc:  # unknown name or a failing constructor
        raise ModelError(
            model, str(path), f"cannot build timm model {architecture!r}: {describe(exc)}"
        ) from exc
    module.eval()
    return read_module(
        model, path, module, timm.layers.get_notrace_modules(), timm.layers.get_notrace_functions()
    )


def conv2d_modules(module: nn.Module) -> dict[str, nn.Conv2d]:
    """{weight name: module} of every 2-D convolution in ``module``, in module order.

    The one definition of "a conv layer of a module": extraction reads these, and the zoo
    generator counts them on the ``meta`` device, so expected counts and found counts agree.
    """
    return {f"{name}.weight": m for name, m in module.named_modules() if isinstance(m, nn.Conv2d)}


def _trace_or_order(
    model: str,
    module: nn.Module,
    convs: Mapping[str, nn.Conv2d],
    leaf_types: Iterable[type],
    autowrap_functions: Iterable[Callable],
) -> tuple[dict[str, int], str]:
    """{weight name: depth} in layer order, and the depth method used."""
    try:
        traced = fx_conv_weight_depths(module, leaf_types, autowrap_functions)
    except Exception as exc:  # fx fails in many ways on dynamic code
        log.warning(
            "model %r: fx trace failed (%s); using module order as depth", model, describe(exc)
        )
    else:
        hidden = [name for name in convs if name not in traced]
        if not hidden:
            return {name: traced[name] for name in traced if name in convs}, "fx_trace"
        log.warning(
            "model %r: %d conv(s) not visible to fx (e.g. %s); using module order as depth",
            model,
            len(hidden),
            hidden[0],
        )
    return {name: index for index, name in enumerate(convs)}, "state_dict_order"


def _flatten_checkpoint(model: str, path: Path, obj: object) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded checkpoint, unwrapped and with DataParallel keys undone.

    The walk is bounded: a pickle can build a dict that contains itself, and an unbounded unwrap
    of it never ends. ``module.`` is removed only when every key has it (as DataParallel writes
    them); removing it from some keys could make two weights one and lose the other.
    """
    visited: set[int] = set()
    while isinstance(obj, Mapping):
        if id(obj) in visited:
            raise ModelError(
                model, str(path), f"checkpoint containers {_NESTED_KEYS} contain themselves"
            )
        if len(visited) > MAX_NESTING:
            raise ModelError(
                model,
                str(path),
                f"checkpoint containers {_NESTED_KEYS} nest more than {MAX_NESTING} deep",
            )
        visited.add(id(obj))
        nested = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), Mapping)), None)
        if nested is None:
            break
        obj = nested
    if not isinstance(obj, Mapping):
        raise ModelError(
            model, str(path), f"checkpoint holds a {type(obj).__name__}, not a state dict"
        )
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if state and all(k.startswith(_PARALLEL_PREFIX) for k in state):
        state = {k.removeprefix(_PARALLEL_PREFIX): v for k, v in state.items()}
    if not state:
        raise ModelError(
            model,
            str(path),
            f"checkpoint holds no tensors (top-level keys: {sorted(map(str, obj))[:10]})",
        )
    return state


def _loader(tensor: torch.Tensor) -> Callable[[], np.ndarray]:
    """Deferred float32 copy of one weight: only the layer being written is converted."""
    return lambda: tensor.detach().to(torch.float32).numpy()
