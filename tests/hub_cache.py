"""A Hugging Face hub cache laid out as huggingface_hub lays it out, filled without the network.

Tests point ``HF_HOME`` at it and set ``HF_HUB_OFFLINE=1``, as a user with a pre-filled cache
would, so ``timm:`` rows load through timm's and huggingface_hub's real code. The weights are
seeded random initialisations of the architecture (or of another one, to play a wrong file):
real trained weights cannot be fetched here, and their values do not matter to the path.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

#: The commit every cached repository is filed under (``snapshots/<REVISION>/``).
REVISION = "0123456789abcdef0123456789abcdef01234567"


def weights_file(hf_home: Path, name: str) -> Path:
    """Where the cache holds ``model.safetensors`` of timm's pretrained ``name``."""
    repo = timm.models.get_pretrained_cfg(name).hf_hub_id  # "timm/resnet18.a1_in1k"
    repo_dir = hf_home / "hub" / f"models--{repo.replace('/', '--')}"
    return repo_dir / "snapshots" / REVISION / "model.safetensors"


def fill_hub_cache(
    hf_home: Path, name: str, weights_of: str | None = None, seed: int = 1234
) -> dict[str, torch.Tensor]:
    """Cache made-up weights for ``name``: those of architecture ``weights_of`` (default ``name``).

    Returns the tensors written. ``refs/main`` names ``REVISION``, as after a real download.
    """
    path = weights_file(hf_home, name)
    path.parent.mkdir(parents=True)
    refs = path.parents[2] / "refs"
    refs.mkdir()
    (refs / "main").write_text(REVISION)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        weights = timm.create_model(weights_of or name, pretrained=False).state_dict()
    weights = {key: value.contiguous() for key, value in weights.items()}
    save_file(weights, str(path))
    return weights
