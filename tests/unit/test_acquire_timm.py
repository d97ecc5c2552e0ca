"""``timm:`` through a local Hugging Face hub cache (no network), and ``timm-init:`` determinism.

Hub settings (HF_HOME, HF_HUB_OFFLINE) are read when huggingface_hub is imported, so the hub
cases run ``materialise`` in a fresh interpreter with the environment a user would set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from hub_cache import fill_hub_cache
from safetensors.torch import load_file

from filterdb.acquire.checksum import sha256_file
from filterdb.acquire.materialise import materialise
from filterdb.acquire.settings import DownloadSettings
from filterdb.errors import ModelError
from filterdb.zoo.sources import parse_source

CACHED, UNCACHED = "resnet18.a1_in1k", "resnet34.a1_in1k"
# Runs materialise for each job in a fresh interpreter; prints {model: "ok" or error message}.
CHILD = """
import json, sys
from filterdb.acquire.materialise import materialise
from filterdb.acquire.settings import DownloadSettings
from filterdb.errors import ModelError
from filterdb.zoo.sources import parse_source
outcomes = {}
settings = DownloadSettings.from_config()
for model, source, target in json.loads(sys.argv[1]):
    try:
        materialise(model, parse_source(source), None, target, settings=settings)
        outcomes[model] = "ok"
    except ModelError as error:
        outcomes[model] = str(error)
print(json.dumps(outcomes))
"""


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory, repo):
    """Materialise a cached and an uncached pretrained model and a timm-init, offline.

    One fresh interpreter with HF_HUB_OFFLINE=1 and an HF_HOME holding only CACHED's weights
    runs all three: importing torch and timm costs seconds, so they share it.
    """
    root = tmp_path_factory.mktemp("offline")
    hf_home = root / "hf"
    weights = fill_hub_cache(hf_home, CACHED)
    jobs = [
        ("cached", f"timm:{CACHED}", str(root / "models" / "cached.safetensors")),
        ("uncached", f"timm:{UNCACHED}", str(root / "models" / "uncached.safetensors")),
        ("init", "timm-init:resnet18", str(root / "models" / "init.safetensors")),
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(jobs)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    return outcomes, {model: Path(target) for model, _, target in jobs}, weights, hf_home


def test_pretrained_weights_load_from_a_prefilled_offline_cache(offline_run):
    outcomes, targets, weights, _ = offline_run
    assert outcomes["cached"] == "ok"
    saved = load_file(targets["cached"])
    assert sorted(saved) == sorted(weights)
    for key, value in weights.items():
        assert torch.equal(saved[key], value), key


def test_unreachable_hub_gives_a_clear_error(offline_run):
    outcomes, targets, _, hf_home = offline_run
    message = outcomes["uncached"]
    assert message.startswith(f"model 'uncached' (timm:{UNCACHED}): ")
    assert "hub is unreachable" in message and "timm/resnet34.a1_in1k" in message
    assert "HF_HOME" in message and "HF_HUB_OFFLINE=1" in message
    assert str(hf_home / "hub") in message
    assert not targets["uncached"].exists()


def init(tmp_path: Path, name: str, seed: int = 0, sha256: str | None = None) -> Path:
    target = tmp_path / name
    settings = DownloadSettings.from_config({"timm_init_seed": seed})
    materialise("init", parse_source("timm-init:resnet18"), sha256, target, settings=settings)
    return target


def test_timm_init_is_byte_identical_across_runs_and_processes(tmp_path, offline_run):
    first = init(tmp_path, "a.safetensors")
    torch.rand(10)  # the caller's RNG state must not matter
    second = init(tmp_path, "b.safetensors")
    assert first.read_bytes() == second.read_bytes()
    outcomes, targets, _, _ = offline_run
    assert outcomes["init"] == "ok"
    assert targets["init"].read_bytes() == first.read_bytes()


def test_timm_init_is_the_seeded_timm_initialisation(tmp_path):
    saved = load_file(init(tmp_path, "a.safetensors", seed=7))
    torch.manual_seed(7)
    expected = timm.create_model("resnet18", pretrained=False).state_dict()
    assert sorted(saved) == sorted(expected)
    assert all(torch.equal(saved[key], expected[key]) for key in expected)
    other = load_file(init(tmp_path, "b.safetensors", seed=8))
    assert not torch.equal(other["conv1.weight"], saved["conv1.weight"])


def test_timm_init_sha256_is_verified(tmp_path):
    digest = sha256_file(init(tmp_path, "a.safetensors"))
    init(tmp_path, "b.safetensors", sha256=digest)
    with pytest.raises(ModelError, match=f"expected {'f' * 64}, got {digest}"):
        init(tmp_path, "c.safetensors", sha256="f" * 64)
    assert not (tmp_path / "c.safetensors").exists()


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("timm:no_such_net", "not a model name known to timm"),
        ("timm-init:no_such_net", "not a model name known to timm"),
        # no pretrained weights: timm itself would silently fall back to random init
        ("timm:botnet50ts_256", "no pretrained weights for 'botnet50ts_256'"),
        ("timm:resnet18.no_such_tag", "no pretrained weights for 'resnet18.no_such_tag'"),
    ],
)
def test_names_without_weights_are_refused(tmp_path, source, cause):
    target = tmp_path / "x.safetensors"
    with pytest.raises(ModelError, match=cause):
        materialise(
            "x", parse_source(source), None, target, settings=DownloadSettings.from_config()
        )
    assert not (tmp_path / "x.safetensors").exists()
