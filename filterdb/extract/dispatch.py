"""Choose the reader for one checkpoint: by the source's kind, else by the file's format."""

from __future__ import annotations

import os
from pathlib import Path

from filterdb.errors import ModelError
from filterdb.extract.conv_layers import ModelConvs
from filterdb.extract.formats import CHECKPOINT_SUFFIXES, checkpoint_format
from filterdb.extract.read_onnx import read_onnx
from filterdb.extract.read_pytorch import read_state_dict, read_timm
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.sources import parse_source

TIMM_KINDS = ("timm", "timm-init")


def read_model(
    model: str, checkpoint: str | os.PathLike[str], source: str | None = None
) -> ModelConvs:
    """Read the conv layers of one checkpoint.

    A ``timm:``/``timm-init:`` source names the architecture, so the module is built and traced;
    any other checkpoint is read from the file alone (ONNX graph, or bare state dict).
    """
    validate_model_id(model)
    path = Path(checkpoint)
    if source is not None:
        try:
            parsed = parse_source(source)
        except ValueError as exc:
            raise ModelError(model, source, str(exc)) from exc
        if parsed.kind in TIMM_KINDS:
            return read_timm(model, path, parsed.value)
    file_format = checkpoint_format(path)
    if file_format == "onnx":
        return read_onnx(model, path)
    if file_format is not None:
        return read_state_dict(model, path)
    raise ModelError(
        model,
        str(path),
        f"unsupported file suffix {path.suffix.lower()!r} "
        f"(expected one of {', '.join(CHECKPOINT_SUFFIXES)})",
    )
