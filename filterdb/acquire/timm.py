"""Materialise ``timm:`` (pretrained) and ``timm-init:`` (seeded random init) checkpoints.

Both are saved as safetensors state dicts so every later stage reads them the same safe way.
Pretrained weights come through timm's own loading path and the Hugging Face hub cache
(``HF_HOME``), so a cache filled once, anywhere, serves offline runs (``HF_HUB_OFFLINE=1``).
The saved file is a pure function of the tensors: sorted keys, contiguous copies, no metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import timm
import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled
from safetensors.torch import save_file
from timm.models import get_pretrained_cfg, is_model_pretrained

from filterdb.acquire.checksum import verify_file
from filterdb.atomic import atomic_path
from filterdb.errors import ModelError, describe

#: The weight files timm looks for in a hub repository, in its order of preference.
_HUB_WEIGHT_FILES = (
    "model.safetensors",
    "open_clip_model.safetensors",
    "pytorch_model.bin",
    "open_clip_pytorch_model.bin",
)


def save_pretrained(
    model: str,
    name: str,
    sha256: str | None,
    target: str | os.PathLike[str],
    revision: str | None = None,
) -> None:
    """Load timm's pretrained ``name`` and save its state dict to ``target``.

    ``revision`` (a Hugging Face commit, from the zoo's lock) makes timm fetch exactly that
    commit of the weights' repository instead of its newest. Raises ``ModelError`` when ``name``
    has no pretrained weights in timm, and, with a hint on pre-filling the cache, when the hub
    cannot be reached and the weights are not cached.
    """
    where = f"timm:{name}"
    _require_architecture(model, where, name)
    if not is_model_pretrained(name):
        # timm would silently fall back to random weights: refuse instead.
        raise ModelError(model, where, f"timm has no pretrained weights for {name!r}")
    hub_id = get_pretrained_cfg(name).hf_hub_id
    repo = hub_id or "(no hub repo; timm's own URL)"
    overlay = {}
    if revision:
        if not hub_id:
            raise ModelError(model, where, f"pinned to commit {revision}, but has no hub repo")
        # timm's own "repo@revision" form of hf_hub_id.
        repo = f"{hub_id.partition('@')[0]}@{revision}"
        overlay["hf_hub_id"] = repo
    try:
        net = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise ModelError(model, where, _unreachable(name, repo, exc)) from exc
    except HfHubHTTPError as exc:
        raise ModelError(
            model, where, f"the Hugging Face hub refused {repo}: {describe(exc)}"
        ) from exc
    except OSError as exc:
        raise ModelError(model, where, _unreachable(name, repo, exc)) from exc
    except Exception as exc:  # the file arrived but is no checkpoint of this architecture
        raise ModelError(
            model,
            where,
            f"timm cannot load the weights of {repo} into {name!r} (a truncated or corrupt "
            f"file in the hub cache, or another architecture's weights): {describe(exc)}",
        ) from exc
    save_state_dict(model, where, net.state_dict(), sha256, target)


def save_initialised(
    model: str, arch: str, seed: int, sha256: str | None, target: str | os.PathLike[str]
) -> None:
    """Save timm's random initialisation of ``arch`` under ``seed``: the untrained baseline.

    The global torch RNG state is restored afterwards, so the caller's randomness is unaffected
    and the result depends on ``seed`` alone.
    """
    where = f"timm-init:{arch}"
    _require_architecture(model, where, arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = timm.create_model(arch, pretrained=False)
    save_state_dict(model, where, net.state_dict(), sha256, target)


def save_state_dict(
    model: str,
    where: str,
    state_dict: Mapping[str, torch.Tensor],
    sha256: str | None,
    target: str | os.PathLike[str],
) -> None:
    """Write ``state_dict`` as safetensors atomically, byte-reproducibly, verified if pinned.

    Each tensor is copied to contiguous memory of its own, as safetensors needs (models may
    tie or view parameters), and nothing run-dependent (metadata) is written.
    """
    tensors = {
        key: state_dict[key].detach().cpu().clone(memory_format=torch.contiguous_format)
        for key in sorted(state_dict)
    }
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp))
        verify_file(model, where, tmp, sha256)


def cached_revision(name: str) -> str:
    """The Hugging Face commit of ``name``'s weights in the local hub cache, or "" if none.

    The hub cache keeps each download under ``snapshots/<commit>/``; the file looked for is any
    of those timm loads (its configured file, else safetensors, else the PyTorch pickle).
    """
    cfg = get_pretrained_cfg(name)
    if cfg is None or not cfg.hf_hub_id:
        return ""
    repo, _, revision = cfg.hf_hub_id.partition("@")
    for filename in (cfg.hf_hub_filename, *_HUB_WEIGHT_FILES):
        if filename:
            found = try_to_load_from_cache(repo, filename, revision=revision or None)
            if isinstance(found, str):
                return Path(found).parent.name
    return ""


def _require_architecture(model: str, where: str, name: str) -> None:
    if not timm.is_model(name):
        raise ModelError(model, where, f"{name!r} is not a model name known to timm")


def _unreachable(name: str, repo: str, exc: BaseException) -> str:
    return (
        f"the Hugging Face hub is unreachable and the weights of {name!r} ({repo}) are not in "
        f"the local hub cache {hub_constants.HF_HUB_CACHE}. Pre-fill it on a machine with hub "
        f"access (`python -c \"import timm; timm.create_model('{name}', pretrained=True)\"` "
        "with the same HF_HOME), copy the cache here, point HF_HOME at it and set "
        f"HF_HUB_OFFLINE=1. Cause: {describe(exc)}"
    )
