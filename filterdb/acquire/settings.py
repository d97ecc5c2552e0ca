"""The ``download`` config section as typed settings, with the schema's defaults and bounds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filterdb.config import section


@dataclass(frozen=True)
class DownloadSettings:
    """How downloads behave.

    ``base_dir`` is the workflow's working directory: relative ``file:`` paths and a relative
    ``wheel_cache_dir`` resolve against it. ``pip_index_url`` / ``pip_args`` override pip's own
    configuration for ``pypi:`` sources (``None`` / empty: use pip's configuration as is).
    """

    retries: int
    backoff_seconds: float
    connect_timeout: float
    read_timeout: float
    allow_loopback_http: bool
    timm_init_seed: int
    wheel_cache_dir: Path
    pip_index_url: str | None
    pip_args: tuple[str, ...]
    base_dir: Path

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None = None, base_dir: str | os.PathLike[str] = "."
    ) -> DownloadSettings:
        """Settings from a ``download`` section over its defaults; a bad or unknown key raises."""
        values = section("download", config)
        values["wheel_cache_dir"] = Path(values["wheel_cache_dir"])
        values["pip_args"] = tuple(values["pip_args"])
        return cls(base_dir=Path(base_dir), **values)

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """``path`` as seen from the workflow's working directory."""
        return self.base_dir / Path(path)
