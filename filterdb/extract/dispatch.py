"""Choose the reader for one checkpoint: by the source's kind, else by the file's format.

Whatever the reader, the same checks run around it: the file exists and its declared size fits
the job's memory before anything is read, and every layer it returns is consistent.
"""

from __future__ import annotations

import os
from pathlib import Path

from filterdb.errors import ModelError
from filterdb.extract.conv_layers import ModelConvs, check_layers
from filterdb.extract.formats import CHECKPOINT_SUFFIXES, checkpoint_format
from filterdb.extract.memory import MemoryLimit
from filterdb.extract.read_onnx import read_onnx
from filterdb.extract.read_pytorch import read_state_dict, read_timm
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.sources import parse_source

TIMM_KINDS = ("timm", "timm-init")


def read_model(
    model: str,
    checkpoint: str | os.PathLike[str],
    source: str | None = None,
    limit: MemoryLimit | None = None,
) -> ModelConvs:
    """Read the conv layers of one checkpoint, checked for consistency (``check_layers``).

    A ``timm:``/``timm-init:`` source names the architecture, so the module is built and traced;
    any other checkpoint is read from the file alone (ONNX graph, or bare state dict). ``limit``
    defaults to :meth:`MemoryLimit.for_job` without a job.
    """
    validate_model_id(model)
    path = Path(checkpoint)
    if path.is_dir():
        raise ModelError(model, str(path), "is a directory, not a checkpoint file")
    if not path.is_file():
        raise ModelError(model, str(path), "checkpoint file not found")
    (limit or MemoryLimit.for_job()).check_checkpoint(model, path)
    return check_layers(_read(model, path, source))


def _read(model: str, path: Path, source: str | None) -> ModelConvs:
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
