"""Set up what is missing, then run the workflow or the tests.

A fresh machine has only Python. ``python3 -m filterdb.bootstrap run`` creates ``.venv`` (once;
a stamp file keyed on the lock file makes later calls skip the install) and runs
``snakemake --cores all``; ``... test`` does the same with the test extras and runs pytest.

The install is hash-locked: ``requirements/run.lock`` (runtime) and ``requirements/test.lock``
(runtime, ``bench`` and ``test`` extras) pin every package, transitive ones included, to one
version and its sha256 hashes, and pip installs them with ``--require-hashes``, so two installs
a month apart get the same bytes or fail loudly. ``... lock`` regenerates both from
``pyproject.toml`` with uv. This module uses only the standard library because nothing else is
installed yet.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
REQUIREMENTS = ROOT / "requirements"
LOCKS = {"": REQUIREMENTS / "run.lock", "test": REQUIREMENTS / "test.lock"}
# The Python series the locks are resolved for; pyproject's requires-python admits exactly it.
LOCK_PYTHON = "3.11"
LOCK_COMMAND = "python3 -m filterdb.bootstrap lock"


def install_locked(python: Path, lock: Path) -> None:
    """Install ``lock`` into the environment of ``python``, every file checked against its hash.

    The lock's own pip goes in first: the pip a new virtualenv starts with (23.2 on Python
    3.11.7) resolves a requirement with extras (blosc2's ``httpx[http2]``) apart from its pin, and
    so fails ``--require-hashes`` as soon as the index holds a newer release of that package.
    The project itself goes in last as an editable install with ``--no-deps`` and no build
    isolation, so nothing outside the lock (not even the build backend) is fetched.
    """
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    with tempfile.TemporaryDirectory() as tmp:
        pip_lock = Path(tmp) / "pip.lock"
        pip_lock.write_text(locked_entry(lock, "pip"))
        subprocess.run([*pip, "--require-hashes", "-r", str(pip_lock)], check=True)
    subprocess.run([*pip, "--require-hashes", "-r", str(lock)], check=True)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)


def locked_entry(lock: Path, name: str) -> str:
    """The lines of ``lock`` that pin ``name``: its ``name==version`` line and its hashes."""
    lines = lock.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}=="))
    end = next(i for i in range(start, len(lines)) if not lines[i].endswith("\\"))
    return "\n".join(lines[start : end + 1]) + "\n"


def stamp_file(extras: str) -> Path:
    """The file that marks ``.venv`` as holding the lock for ``extras``, as it is now.

    Keyed on the lock's bytes (and ``pyproject.toml``'s, for the project's own metadata such as
    its entry points), so any change to either installs again.
    """
    content = LOCKS[extras].read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    return VENV / f".installed-{hashlib.sha256(content).hexdigest()[:16]}"


def ensure_environment(extras: str) -> None:
    """Create ``.venv`` and install the lock for ``extras`` ("" or "test") unless already done."""
    stamp = stamp_file(extras)
    if stamp.exists():
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    install_locked(BIN / "python", LOCKS[extras])
    stamp.touch()


def write_locks(uv_args: list[str]) -> None:
    """Regenerate both lock files from ``pyproject.toml`` with the test environment's uv.

    uv keeps the versions already in a lock unless ``uv_args`` say otherwise (``--upgrade``,
    ``--upgrade-package NAME``). The runtime lock is constrained by the test lock, so the two
    never disagree on a version.
    """
    ensure_environment("test")
    compile_ = [
        str(BIN / "uv"),
        "pip",
        "compile",
        "pyproject.toml",
        "--universal",
        "--python-version",
        LOCK_PYTHON,
        "--generate-hashes",
        "--custom-compile-command",
        LOCK_COMMAND,
        "--quiet",
        *uv_args,
    ]
    subprocess.run([*compile_, "--extra", "test", "-o", str(LOCKS["test"])], check=True, cwd=ROOT)
    subprocess.run(
        [*compile_, "--constraint", str(LOCKS["test"]), "-o", str(LOCKS[""])], check=True, cwd=ROOT
    )


def main(argv: list[str]) -> int:
    """``run [snakemake args]``, ``test [pytest args]`` or ``lock [uv args]``; the exit code."""
    if not argv or argv[0] not in ("run", "test", "lock"):
        usage = "usage: python3 -m filterdb.bootstrap run|test|lock [extra arguments]"
        print(usage, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "lock":
        write_locks(rest)
        return 0
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
