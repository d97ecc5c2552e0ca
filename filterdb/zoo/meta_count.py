"""Count an architecture's 3x3 kernels without its weights: build it on PyTorch's ``meta`` device.

A ``meta`` tensor has a shape and no storage, so even a billion-parameter model is built in
well under a second and no memory. The count uses the rule extraction uses
(``conv2d_modules`` and ``kernel_counts``), so it is what extraction will find.

Building spends most of its time in weight initialisation, which on ``meta`` computes nothing:
random fills and in-place arithmetic on a ``meta`` tensor are skipped (``_SkipMetaInit``), which
halves the time of a registry scan. Only in-place operations that keep their tensor's shape are
skipped, so every shape is the one a real build gives.
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode

from filterdb.extract.conv_layers import kernel_counts
from filterdb.extract.read_pytorch import conv2d_modules

#: In-place operations that change a tensor's shape or identity: never skipped.
_SHAPE_CHANGING = frozenset(
    {
        "resize_",
        "resize_as_",
        "squeeze_",
        "unsqueeze_",
        "t_",
        "transpose_",
        "swapdims_",
        "swapaxes_",
        "as_strided_",
        "set_",
        "requires_grad_",
        "share_memory_",
    }
)


class _SkipMetaInit(TorchFunctionMode):
    """Return ``meta`` tensors unchanged from in-place value operations (init, arithmetic)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if (
            name.endswith("_")
            and not name.endswith("__")
            and name not in _SHAPE_CHANGING
            and args
            and isinstance(args[0], torch.Tensor)
            and args[0].is_meta
        ):
            return args[0]
        return func(*args, **(kwargs or {}))


def meta_module(name: str) -> torch.nn.Module:
    """timm's ``name`` (a pretrained tag or an architecture) built untrained on ``meta``."""
    import timm

    with torch.device("meta"), _SkipMetaInit():
        return timm.create_model(name, pretrained=False)


def count_3x3(module: torch.nn.Module) -> int:
    """The number of 3x3 kernels in ``module``'s 2-D convolutions (c_out * c_in / groups each)."""
    shapes = (conv.weight.shape for conv in conv2d_modules(module).values())
    return kernel_counts(shapes).get((3, 3), 0)


def meta_3x3_count(name: str) -> int:
    """``count_3x3`` of timm's ``name`` built on ``meta``: its expected 3x3 filters."""
    return count_3x3(meta_module(name))
