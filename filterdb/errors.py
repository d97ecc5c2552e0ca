"""One exception type for every per-model failure, so messages always name model, file and cause."""

from __future__ import annotations


class ModelError(RuntimeError):
    """A model could not be downloaded or read.

    The message reads ``model 'X' (file or source): cause`` so a user scanning a failed run's log
    sees at once which row of the manifest to fix.
    """

    def __init__(self, model: str, where: str, cause: str) -> None:
        self.model = model
        self.where = where
        self.cause = cause
        super().__init__(f"model {model!r} ({where}): {cause}")
