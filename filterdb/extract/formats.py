"""The checkpoint formats extraction reads, keyed by file suffix: one table for the manifest check
(a source must name a readable file) and for the readers (which reader opens which file)."""

from __future__ import annotations

from pathlib import Path, PurePath

FORMAT_OF_SUFFIX = {
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".bin": "pytorch",
    ".safetensors": "safetensors",
    ".onnx": "onnx",
    ".h5": "keras",
    ".hdf5": "keras",
    ".tflite": "tflite",
    # an ncnn model is the .param graph plus the .bin weights beside it, with the same stem
    ".param": "ncnn",
}
CHECKPOINT_SUFFIXES = tuple(FORMAT_OF_SUFFIX)
#: The suffixes of a model stored as two files: ncnn's graph, then its weights beside it.
TWO_FILE_SUFFIXES = (".param", ".bin")
PICKLE_SUFFIXES = tuple(s for s, f in FORMAT_OF_SUFFIX.items() if f == "pytorch")
FORMATS = tuple(sorted(set(FORMAT_OF_SUFFIX.values())))


def checkpoint_format(path: str | PurePath) -> str | None:
    """One of ``FORMATS`` by the file's suffix; None if none applies."""
    return FORMAT_OF_SUFFIX.get(PurePath(path).suffix.lower())


def companion_files(path: str | PurePath) -> list[Path]:
    """The files a checkpoint is read with besides itself: an ncnn ``.param``'s ``.bin``."""
    path = Path(path)
    main, weights = TWO_FILE_SUFFIXES
    return [path.with_suffix(weights)] if path.suffix.lower() == main else []
