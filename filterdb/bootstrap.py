"""Set up what is missing, then run the workflow or the tests.

A fresh machine has only Python. ``python3 -m filterdb.bootstrap run`` creates ``.venv`` (once;
a stamp file keyed on ``pyproject.toml`` makes later calls skip the install) and runs
``snakemake --cores all``; ``... test`` does the same with the test extras and runs pytest. It uses
only the standard library because nothing else is installed yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
# pip first, pinned: the download rule runs `pip download`, and envs/download.yaml pins it.
PIP = "pip==26.3"
# torch and torchvision next and alone: pip then takes the builds this project is tested with.
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]


def ensure_environment(extras: str) -> None:
    """Create ``.venv`` and install the project with ``extras`` unless already done."""
    pins = " ".join([PIP, *TORCH, extras]).encode()
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + pins).hexdigest()
    stamp = VENV / f".installed-{digest[:16]}"
    if stamp.exists():
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, PIP], check=True)
    subprocess.run([*pip, *TORCH], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[{extras}]" if extras else str(ROOT)], check=True)
    stamp.touch()


def main(argv: list[str]) -> int:
    """``run [snakemake args]`` or ``test [pytest args]``; returns the exit code."""
    if not argv or argv[0] not in ("run", "test"):
        print("usage: python3 -m filterdb.bootstrap run|test [extra arguments]", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_environment("test" if command == "test" else "")
    os.chdir(ROOT)
    if command == "run":
        args = [str(BIN / "snakemake"), "--cores", "all", *rest]
    else:
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    print("+ " + " ".join(args), flush=True)
    return subprocess.run(args, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
