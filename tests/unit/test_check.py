"""``filterdb check`` without a database: the metrics of real torch modules and checkpoints, the
exact histogram of coefficients outside a range, and bad files on the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import hostile_files
import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
from torch import nn

from filterdb import check_file, check_module
from filterdb.stats.binning import clipped_histograms, uniform_edges
from filterdb.stats.degeneration import degeneration_reasons, is_degenerated

FILTERDB = Path(sys.executable).with_name("filterdb")


def seeded_resnet18() -> nn.Module:
    """timm's resnet18 with seeded weights, two layers made sparse, plus a depthwise conv."""
    import timm

    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for conv, fraction in ((net.layer1[1].conv1, 0.5), (net.layer2[0].conv2, 0.9)):
            mask = torch.rand(conv.weight.shape[:2], generator=generator) < fraction
            conv.weight[mask] *= 1e-4
    return net


class Depthwise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3)
        self.dw = nn.Conv2d(32, 32, 3, groups=32)
        self.pw = nn.Conv2d(32, 8, 1)

    def forward(self, x):
        return self.pw(self.dw(self.stem(x)))


@pytest.mark.parametrize("module", [seeded_resnet18, Depthwise], ids=["resnet18", "depthwise"])
def test_metrics_equal_torchconvquality(module):
    """The per-layer metrics are torchconvquality's (0.3.0) to 1e-6, layer for layer."""
    from torchconvquality import measure_quality

    torch.manual_seed(2)
    net = module()
    result = check_module(net)
    reference = measure_quality(net)
    assert [name.removesuffix(".weight") for name in result.layers["layer_name"]] == list(reference)
    for row in result.layers.itertuples():
        expected = reference[row.layer_name.removesuffix(".weight")]
        assert row.n_filters == expected["n"]
        assert row.sparsity == pytest.approx(expected["sparsity"], abs=1e-6)
        assert row.variance_entropy == pytest.approx(expected["variance_entropy"], abs=1e-6)
        assert row.normalised_entropy == pytest.approx(expected["variance_entropy_norm"], abs=1e-6)
        assert row.clean_entropy == pytest.approx(expected["variance_entropy_clean"], abs=1e-6)
        assert row.orthogonality == pytest.approx(expected["orthogonality"], abs=1e-6)


def test_a_checkpoint_of_a_module_gives_the_modules_result(tmp_path):
    """check_file on the module's state dict (safetensors, and .pt) equals check_module on it."""
    net = seeded_resnet18()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    safetensors.torch.save_file(state, tmp_path / "net.safetensors")
    torch.save(state, tmp_path / "net.pt")
    in_memory = check_module(net).layers
    columns = ["layer_name", "shape", "n_filters", "sparsity", "variance_entropy", "orthogonality"]
    for name in ("net.safetensors", "net.pt"):
        from_file = check_file(tmp_path / name)
        pd.testing.assert_frame_equal(from_file.layers[columns], in_memory[columns])
        assert (
            from_file.summary["degenerated_share"] == check_module(net).summary["degenerated_share"]
        )


def test_summary_weights_layers_by_their_filters():
    result = check_module(seeded_resnet18())
    layers = result.layers
    share = (layers["n_filters"] * layers["degenerated"]).sum() / layers["n_filters"].sum()
    assert result.summary["degenerated_share"] == pytest.approx(share)
    assert result.summary["n_layers"] == len(layers) == 16
    assert f"{result.summary['n_degenerated_layers']} of 16 3x3 layers" in result.verdict()


def test_reasons_name_the_rule_that_fired():
    entropy, sparsity, n = np.array([2.0, 0.1, 0.6]), np.array([0.0, 0.5, 0.0]), 1000
    flags = is_degenerated(entropy, sparsity, n)
    reasons = degeneration_reasons(entropy, sparsity, n)
    assert list(flags) == [True, True, False]
    assert reasons[0].startswith("random-like") and reasons[1].startswith("collapsed")
    assert reasons[2] == ""


def test_clipped_histograms_equal_numpy_on_edges_and_outside():
    edges = uniform_edges(-1.0, 1.0, 7)
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(-1.5, 1.5, (9, 500)), np.tile(edges, (9, 1))], axis=1)
    counts, outside = clipped_histograms(values, edges)
    expected = np.concatenate([np.histogram(row, bins=edges)[0] for row in values])
    np.testing.assert_array_equal(counts, expected)
    assert outside == values.size - expected.sum()
    assert outside > 0


# ---------------------------------------------------------------------------------------------
# The command line on bad input: one line, exit code 2, the file and the cause named.


def run_filterdb(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(FILTERDB), *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def _missing(tmp_path):
    return tmp_path / "absent.pt", "not found"


def _directory(tmp_path):
    (tmp_path / "adir.pt").mkdir()
    return tmp_path / "adir.pt", "directory"


def _pickle(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save(
        {"conv.weight": torch.ones(2, 2, 3, 3), "x": hostile_files.Payload(tmp_path / "ran")}, path
    )
    return path, "refused"


def _noise(suffix):
    def build(tmp_path):
        path = tmp_path / f"noise{suffix}"
        path.write_bytes(np.random.default_rng(0).bytes(4096))
        return path, "cannot"

    return build


BAD_INPUTS = {
    "missing": _missing,
    "directory": _directory,
    "code-running-pickle": _pickle,
    "random-pt": _noise(".pt"),
    "random-onnx": _noise(".onnx"),
    "random-safetensors": _noise(".safetensors"),
}


@pytest.mark.parametrize("build", list(BAD_INPUTS.values()), ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, build):
    path, cause = build(tmp_path)
    proc = run_filterdb("check", str(path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("filterdb: error:") and str(path) in lines[0]
    assert cause in lines[0].lower(), lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "ran").exists()


def test_json_is_strict_and_complete(tmp_path):
    net = Depthwise()
    torch.save(net.state_dict(), tmp_path / "dw.pt")
    proc = run_filterdb("check", str(tmp_path / "dw.pt"), "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert [layer["layer_name"] for layer in document["layers"]] == ["stem.weight", "dw.weight"]
    assert document["groups"] is None and document["rank"] is None
    assert document["summary"]["n_filters"] == 3 * 32 + 32


def test_a_database_that_is_not_one_is_exit_code_2(tmp_path):
    torch.save(Depthwise().state_dict(), tmp_path / "dw.pt")
    proc = run_filterdb("check", str(tmp_path / "dw.pt"), "--db", str(tmp_path / "nodb"))
    assert proc.returncode == 2
    assert "pca_basis.json: not found" in proc.stderr
    info = run_filterdb("info", "--db", str(tmp_path / "nodb"))
    assert info.returncode == 2 and "nodb" in info.stderr and "Traceback" not in info.stderr
