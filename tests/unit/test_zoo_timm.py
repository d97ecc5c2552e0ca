"""The paper-scale online zoo: its generator, its tag reading, and the committed file itself."""

from __future__ import annotations

import pytest
import timm
import torch

from filterdb.extract.read_pytorch import read_module
from filterdb.zoo.columns import EXPECTED_3X3
from filterdb.zoo.manifest import load_manifest
from filterdb.zoo.meta_count import count_3x3, meta_3x3_count
from filterdb.zoo.timm_tags import TagMeta, tag_meta, unknown_tokens
from filterdb.zoo.timm_zoo import manifest_text, scan_registry

ONLINE = "config/zoo_online.tsv"


@pytest.fixture(scope="module")
def committed(repo):
    return load_manifest(repo / ONLINE, use_lock=False)


def test_the_committed_zoo_is_of_paper_scale_and_complete(committed):
    assert len(committed) >= 600
    assert committed["source"].str.split(".").str[0].nunique() >= 150
    assert committed["Training-Dataset"].replace("", None).dropna().nunique() >= 5
    for column in (EXPECTED_3X3, "License", "Network"):
        assert (committed[column] != "").all(), column
    assert (committed[EXPECTED_3X3].astype(int) > 0).all()


def test_every_committed_row_is_a_pretrained_tag_of_the_pinned_timm(committed):
    pretrained = set(timm.list_pretrained())
    names = committed["source"].str.removeprefix("timm:")
    assert set(names) <= pretrained
    assert (committed["model"] == names).all()
    assert committed["Accessible"].str.startswith(f"timm {timm.__version__} ").all()


@pytest.mark.slow
def test_regenerating_gives_the_committed_file_byte_for_byte(repo):
    """Builds every pretrained architecture on ``meta``: each row's count is re-derived here."""
    scan = scan_registry(workers=2)
    assert manifest_text(scan.rows) == (repo / ONLINE).read_text(encoding="utf-8")


def test_the_generator_is_deterministic_whatever_the_worker_count():
    names = [name for name in timm.list_pretrained() if name.startswith(("resnet1", "regnetx_00"))]
    one, two = scan_registry(names, workers=1), scan_registry(list(reversed(names)), workers=2)
    assert manifest_text(one.rows) == manifest_text(two.rows)
    assert one.left_out == two.left_out


@pytest.mark.parametrize(
    "name",
    [
        "resnet18.a1_in1k",  # plain convs
        "efficientnet_b0.ra_in1k",  # depthwise: c_in / groups = 1
        "regnetx_002.pycls_in1k",  # grouped
        "tf_efficientnet_b0.in1k",  # Conv2dSame, a Conv2d subclass
        "eca_nfnet_l0.ra2_in1k",  # ScaledStdConv2d
    ],
)
def test_a_meta_count_is_what_extraction_finds_in_a_real_build(name, tmp_path):
    from safetensors.torch import save_file

    module = timm.create_model(name, pretrained=False)
    state = {key: value.contiguous() for key, value in module.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    convs = read_module("m", tmp_path / "w.safetensors", timm.create_model(name))
    found = sum(layer.n_kernels for layer in convs.layers_3x3)
    assert meta_3x3_count(name) == found == count_3x3(module) > 0


def test_a_meta_build_allocates_no_weights():
    from filterdb.zoo.meta_count import meta_module

    module = meta_module("resnet50.a1_in1k")
    assert all(p.is_meta for p in module.parameters())
    assert torch.nn.Conv2d in {type(m) for m in module.modules()}


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("a1_in1k", TagMeta("ImageNet-1k", "", "Classification", "natural")),
        (
            "in21k_ft_in1k",
            TagMeta("ImageNet-1k", "ImageNet-21k", "Classification", "natural"),
        ),
        (
            "fb_swsl_ig1b_ft_in1k",
            TagMeta("ImageNet-1k", "Instagram-1B", "Classification", "natural"),
        ),
        ("sw_in12k", TagMeta("ImageNet-12k", "", "Classification", "natural")),
        (
            "laion2b_ft_in12k_in1k",
            TagMeta("ImageNet-1k", "LAION-2B + ImageNet-12k", "Classification", "natural"),
        ),
        ("openai", TagMeta("OpenAI WIT-400M", "", "Image-Text Contrastive", "natural")),
        ("datacomp1b_clip", TagMeta("DataComp-1B", "", "Image-Text Contrastive", "natural")),
        ("ns_jft_in1k", TagMeta("JFT-300M + ImageNet-1k", "", "Classification", "natural")),
        ("seer", TagMeta("", "", "Self-Supervised", "")),
        ("sa1b", TagMeta("SA-1B", "", "Segmentation", "natural")),
        ("r224_in1k", TagMeta("ImageNet-1k", "", "Classification", "natural")),
    ],
)
def test_tags_are_read_with_the_table(tag, expected):
    assert tag_meta(tag) == expected


def test_a_tag_with_an_unknown_token_leaves_every_cell_empty():
    assert unknown_tokens("sat493m_ft_in1k") == ["sat493m"]
    assert tag_meta("sat493m_ft_in1k") == TagMeta()
    assert tag_meta("") == TagMeta()
