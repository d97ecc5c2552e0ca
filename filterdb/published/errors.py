"""The error for a published file that cannot be read at all (before any model is known).

Problems that belong to one model (a bad ``filter_ids`` range, a column that varies inside a model)
raise :class:`filterdb.errors.ModelError` instead, so the message names that model.
"""

from __future__ import annotations


class PublishedFileError(ValueError):
    """The published file is not a CNN Filter DB file; the message names the file and the cause."""

    def __init__(self, path: str, cause: str) -> None:
        self.path = path
        self.cause = cause
        super().__init__(f"published file {path}: {cause}")
