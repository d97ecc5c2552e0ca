"""Per-model failures and their messages: one exception type, and one-line causes.

Whatever goes wrong with one model, its message names the model, the file or source, and the
cause, so a user scanning a failed run's log sees at once which row of the manifest to fix.
"""

from __future__ import annotations

_MAX_CAUSE_CHARS = 500


class ModelError(RuntimeError):
    """A model could not be downloaded or read.

    The message reads ``model 'X' (file or source): cause``.
    """

    def __init__(self, model: str, where: str, cause: str) -> None:
        self.model = model
        self.where = where
        self.cause = cause
        super().__init__(f"model {model!r} ({where}): {cause}")


def describe(exc: BaseException) -> str:
    """``ExceptionType: message`` on one line, cut to a readable length.

    Library messages are multi-line and sometimes huge (protobuf, torch's unpickler); the log line
    of a failed model must stay readable and still say what went wrong.
    """
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:_MAX_CAUSE_CHARS]}" if text else type(exc).__name__
