"""Choose the reader for one checkpoint: by the source's kind, else by the file's format.

Whatever the reader, the same checks run around it: the file exists and its declared size fits
the job's memory before anything is read, and every layer it returns is consistent.
"""

from __future__ import annotations

import os
from pathlib import Path

from filterdb.errors import ModelError
from filterdb.extract.conv_layers import ModelConvs, check_layers
from filterdb.extract.formats import (
    CHECKPOINT_SUFFIXES,
    FORMATS,
    checkpoint_format,
    companion_files,
)
from filterdb.extract.memory import MemoryLimit
from filterdb.extract.read_keras import read_keras
from filterdb.extract.read_ncnn import read_ncnn
from filterdb.extract.read_onnx import read_onnx
from filterdb.extract.read_pytorch import read_state_dict, read_timm
from filterdb.extract.read_tflite import read_tflite
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.sources import parse_source

TIMM_KINDS = ("timm", "timm-init")
#: The reader of each format that is read from its file alone (state dicts: ``read_state_dict``).
GRAPH_READERS = {"onnx": read_onnx, "keras": read_keras, "tflite": read_tflite, "ncnn": read_ncnn}


def read_model(
    model: str,
    checkpoint: str | os.PathLike[str],
    source: str | None = None,
    limit: MemoryLimit | None = None,
) -> ModelConvs:
    """Read the conv layers of one checkpoint of the zoo (``read_checkpoint``).

    A ``timm:``/``timm-init:`` source names the architecture, so the module is built and traced;
    any other checkpoint is read from the file alone (ONNX, Keras HDF5, TFLite or ncnn graph, or
    bare state dict). ``model``
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
    if file_format in GRAPH_READERS:
        return check_layers(GRAPH_READERS[file_format](label, path))
    if file_format in FORMATS:
        return check_layers(read_state_dict(label, path, file_format))
    raise ModelError(
        label,
        str(path),
        f"unsupported file suffix {path.suffix.lower()!r} "
        f"(expected one of {', '.join(CHECKPOINT_SUFFIXES)}, or name the format)",
    )


def _check_file(label: str, path: Path, limit: MemoryLimit | None) -> None:
    """A regular file whose declared size fits the memory limit, before anything is read.

    An ncnn ``.param`` is checked with the ``.bin`` of weights beside it, the larger of the two
    (the reader names a missing ``.bin``).
    """
    if path.is_dir():
        raise ModelError(label, str(path), "is a directory, not a checkpoint file")
    if not path.is_file():
        raise ModelError(label, str(path), "checkpoint file not found")
    limit = limit or MemoryLimit.for_job()
    for part in (path, *companion_files(path)):
        if part.is_file():
            limit.check_checkpoint(label, part)
