"""Model ids become file names and Snakemake wildcards, so they are validated in one place."""

from __future__ import annotations

import re

MODEL_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_MODEL_ID_RE = re.compile(rf"^{MODEL_ID_PATTERN}$")


def validate_model_id(model: str) -> str:
    """Return ``model`` unchanged if it is a safe slug, else raise ``ValueError`` naming it.

    The pattern admits no path separator and no leading dot, so ``resources/models/<model>...``
    can never escape its directory.
    """
    if not isinstance(model, str) or not _MODEL_ID_RE.fullmatch(model) or ".." in model:
        raise ValueError(
            f"invalid model id {model!r}: it must match ^{MODEL_ID_PATTERN}$ and contain no '..'"
        )
    return model
