"""Why a pickled checkpoint was refused: name what it would import, without running it.

torch's weights-only unpickler raises the same exception for a payload it refuses (pickled code or
objects) and for a file that is merely unreadable; a user needs to know which it was.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import zipfile
from pathlib import Path

_MAX_NAMES = 5


def unpickling_cause(exc: pickle.UnpicklingError, path: Path) -> str:
    """Tell a refused payload (pickled code/objects) from a merely unreadable file.

    torch's weights-only unpickler raises the same exception for both. A refused file either makes
    it name the ``GLOBAL`` it would not import, or stops it at an opcode it does not support (pickle
    protocol 4+); in the second case the file is scanned with ``pickletools``, which only parses
    opcodes and never executes anything, to list what the pickle would import.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = next((line for line in lines if "GLOBAL" in line), None)
    if detail is not None:
        return (
            "refused: the checkpoint contains pickled code or non-tensor Python objects, which "
            f"torch.load(weights_only=True) will not execute ({detail})"
        )
    detail = next((line for line in lines[1:] if "Unsupported" in line), lines[-1] if lines else "")
    imports = pickle_imports(path)
    if imports:
        return (
            f"refused: torch.load(weights_only=True) cannot load it safely ({detail}); the pickle "
            f"imports {', '.join(imports[:_MAX_NAMES])}, so it may hold pickled code or non-tensor "
            "Python objects, which are never executed"
        )
    return f"cannot read as a PyTorch checkpoint (corrupt or not a checkpoint): {detail}"


def pickle_imports(path: Path) -> list[str]:
    """Dotted names the pickle(s) in ``path`` would import; [] if it is not a whole pickle stream.

    Reads ``data.pkl`` of a torch zip checkpoint, else the file as a sequence of pickles (the
    legacy torch format). ``STACK_GLOBAL`` names are taken from the two strings pushed before it,
    which is how ``pickle`` writes them.
    """
    try:
        data = _pickle_bytes(Path(path))
        stream = io.BytesIO(data)
        names: list[str] = []
        strings: list[str] = []
        while stream.tell() < len(data):
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name in ("GLOBAL", "INST"):
                    names.append(str(arg).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL":
                    names.append(".".join(strings[-2:]))
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception:  # not a well-formed pickle stream: nothing to report
        return []
    return list(dict.fromkeys(names))


def _pickle_bytes(path: Path) -> bytes:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = next(n for n in archive.namelist() if n.endswith("data.pkl"))
            return archive.read(member)
    return path.read_bytes()
