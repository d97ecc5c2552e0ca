"""Choose the reader for one checkpoint: by the source's kind, else by the file's format.

Whatever the reader, the same checks run around it: the file exists and its declared size fits
the job's memory before anything is read, and every layer it returns is consistent.
"""

from __future__ import annotations

import os
from pathlib import Path

from filterdb.errors import ModelError
from filterdb.extract.conv_layers import ModelConvs, check_layers
from filterdb.extract.formats import CHECKPOINT_SUFFIXES, FORMATS, checkpoint_format
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
    """Read the conv layers of one checkpoint of the zoo (``read_checkpoint``).

    A ``timm:``/``timm-init:`` source names the architecture, so the module is built and traced;
    any other checkpoint is read from the file alone (ONNX graph, or bare state dict). ``model``
    must be a valid model id: it names the files the results go to.
    """
    validate_model_id(model)
    path = Path(checkpoint)
    if source is not None:
        try:
            parsed = parse_source(source)
        except ValueError as exc:
            raise ModelError(model, source, str(exc)) from exc
        if parsed.kind in TIMM_KINDS:
            _check_file(model, path, limit)
            return check_layers(read_timm(model, path, parsed.value))
    return read_checkpoint(model, path, limit=limit)


def read_checkpoint(
    label: str,
    checkpoint: str | os.PathLike[str],
    file_format: str | None = None,
    limit: MemoryLimit | None = None,
) -> ModelConvs:
    """Conv layers of any checkpoint file, checked for consistency (``check_layers``).

    ``label`` names the model in errors (``filterdb check`` passes the file's name);
    ``file_format`` (one of ``FORMATS``) overrides the suffix's format. ``limit`` defaults to
    :meth:`MemoryLimit.for_job` without a job.
    """
    path = Path(checkpoint)
    _check_file(label, path, limit)
    file_format = file_format or checkpoint_format(path)
    if file_format == "onnx":
        return check_layers(read_onnx(label, path))
    if file_format in FORMATS:
        return check_layers(read_state_dict(label, path, file_format))
    raise ModelError(
        label,
        str(path),
        f"unsupported file suffix {path.suffix.lower()!r} "
        f"(expected one of {', '.join(CHECKPOINT_SUFFIXES)}, or name the format)",
    )


def _check_file(label: str, path: Path, limit: MemoryLimit | None) -> None:
    """A regular file whose declared size fits the memory limit, before anything is read."""
    if path.is_dir():
        raise ModelError(label, str(path), "is a directory, not a checkpoint file")
    if not path.is_file():
        raise ModelError(label, str(path), "checkpoint file not found")
    (limit or MemoryLimit.for_job()).check_checkpoint(label, path)
