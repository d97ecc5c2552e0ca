"""What a timm pretrained tag says about its training: datasets, task and visual category.

A timm tag (``resnet50.fb_swsl_ig1b_ft_in1k``) is a list of tokens after the architecture: who
trained it (``fb``), the recipe (``swsl``), datasets (``ig1b``, ``in1k``) and ``ft`` between
pre-training and fine-tuning. This module reads them with a table, never a guess: a dataset is
named only when a token is in ``DATASETS``, and a tag with any token the tables do not know gets
empty cells, because an unknown token may be a dataset the table would otherwise miss.

Rules, for the tokens the tables know:

* with ``ft``: the datasets before the last ``ft`` are pre-training; after it, the last dataset is
  the training (fine-tuning) set and any earlier ones (intermediate fine-tunes) join pre-training;
* without ``ft``: every dataset of the tag is training data, used together (``ns_jft_in1k``:
  JFT-300M + ImageNet-1k);
* Task comes from the last token that implies one (a dataset, or a method such as ``clip``);
* Visual Category is that of the datasets when they all share one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLASSIFICATION = "Classification"
IMAGE_TEXT = "Image-Text Contrastive"
SELF_SUPERVISED = "Self-Supervised"
SEGMENTATION = "Segmentation"
VISION_LANGUAGE = "Vision-Language"
NATURAL = "natural"


@dataclass(frozen=True)
class Dataset:
    """A training set a tag token names: its name, its images' kind, and what it trains."""

    name: str
    visual_category: str
    task: str


DATASETS: dict[str, Dataset] = {
    "in1k": Dataset("ImageNet-1k", NATURAL, CLASSIFICATION),
    "in12k": Dataset("ImageNet-12k", NATURAL, CLASSIFICATION),  # timm's 11,821-class subset
    "in21k": Dataset("ImageNet-21k", NATURAL, CLASSIFICATION),
    "in22k": Dataset("ImageNet-22k", NATURAL, CLASSIFICATION),
    "inw21k": Dataset("ImageNet-21k (winter 2021)", NATURAL, CLASSIFICATION),
    "jft": Dataset("JFT-300M", NATURAL, CLASSIFICATION),
    "ig1b": Dataset("Instagram-1B", NATURAL, CLASSIFICATION),  # hashtags as weak labels
    "yfcc100m": Dataset("YFCC100M", NATURAL, CLASSIFICATION),
    "bamboo": Dataset("Bamboo", NATURAL, CLASSIFICATION),
    "sa1b": Dataset("SA-1B", NATURAL, SEGMENTATION),  # Segment Anything's image encoder
    "openai": Dataset("OpenAI WIT-400M", NATURAL, IMAGE_TEXT),
    "laion2b": Dataset("LAION-2B", NATURAL, IMAGE_TEXT),
    "laion400m": Dataset("LAION-400M", NATURAL, IMAGE_TEXT),
    "datacomp1b": Dataset("DataComp-1B", NATURAL, IMAGE_TEXT),
    "datacompxl": Dataset("DataComp-XL", NATURAL, IMAGE_TEXT),
    "dfndr2b": Dataset("DFNDR-2B", NATURAL, IMAGE_TEXT),
    "dfn2b": Dataset("DFN-2B", NATURAL, IMAGE_TEXT),
    "dfn5b": Dataset("DFN-5B", NATURAL, IMAGE_TEXT),
    "cc12m": Dataset("CC12M", NATURAL, IMAGE_TEXT),
    "yfcc15m": Dataset("YFCC-15M", NATURAL, IMAGE_TEXT),
    "webli": Dataset("WebLI", NATURAL, IMAGE_TEXT),
    "merged2b": Dataset("Merged-2B", NATURAL, IMAGE_TEXT),
}

#: Tokens that name how a model was trained, not on what: they set the Task only.
METHODS: dict[str, str] = {
    "clip": IMAGE_TEXT,
    "mclip": IMAGE_TEXT,  # MobileCLIP
    "mclip2": IMAGE_TEXT,
    "seer": SELF_SUPERVISED,
    "florence2": VISION_LANGUAGE,  # Florence-2's vision encoder
    "gemma3n": VISION_LANGUAGE,  # Gemma 3n's vision encoder
}

#: Tokens known to name no dataset: who trained the model and with which recipe.
# fmt: off
RECIPES = frozenset({
    "a1", "a1h", "a2", "a3", "aa", "ad", "adv", "agc", "ah", "am", "ap", "apple", "aug", "augreg",
    "b1k", "b2k", "bd", "bt", "c1", "c2", "c2ns", "c3", "ch", "cvnets", "d", "d1", "d1h", "deit",
    "dist", "distilled", "dm", "ens", "fb", "ft", "gluon", "goog", "green", "idstcv", "ix",
    "lamb", "lc", "lion", "ltt", "miil", "ms", "msft", "mx", "nav", "ns", "orig", "paddle",
    "pycls", "ra", "ra2", "ra3", "ra4", "racm", "ram", "rmsp", "rsb", "rvgg", "sail", "snap",
    "ssl", "ssld", "sw", "swag", "swsl", "teacher", "tf", "timm", "tv", "tv2", "usi", "wsl",
})
# fmt: on
#: Resolutions (r224, 384), epochs (e600, 300e, 300ep), stages and sample counts (6m).
_RECIPE_RE = re.compile(r"^(r?\d+|e\d+|\d+ep?|stage\d+|\d+m)$")


@dataclass(frozen=True)
class TagMeta:
    """The meta columns a tag fills; "" where the tag does not say."""

    training: str = ""
    pretraining: str = ""
    task: str = ""
    visual_category: str = ""


def unknown_tokens(tag: str) -> list[str]:
    """The tokens of ``tag`` that no table knows (empty for a fully understood tag)."""
    return [
        token
        for token in tag.split("_")
        if token not in DATASETS
        and token not in METHODS
        and token not in RECIPES
        and not _RECIPE_RE.match(token)
    ]


def tag_meta(tag: str) -> TagMeta:
    """The meta columns ``tag`` (the part of a timm name after the dot) determines."""
    tokens = tag.split("_")
    if not tag or unknown_tokens(tag):
        return TagMeta()
    cut = max((i for i, token in enumerate(tokens) if token == "ft"), default=None)
    datasets = [t for t in tokens if t in DATASETS]
    if cut is None:
        training, pretraining = datasets, []
    else:
        before = [t for t in tokens[:cut] if t in DATASETS]
        after = [t for t in tokens[cut + 1 :] if t in DATASETS]
        training, pretraining = after[-1:], before + after[:-1]
    tasks = [
        DATASETS[t].task if t in DATASETS else METHODS[t]
        for t in tokens
        if t in DATASETS or t in METHODS
    ]
    categories = {DATASETS[t].visual_category for t in datasets}
    return TagMeta(
        training=" + ".join(DATASETS[t].name for t in training),
        pretraining=" + ".join(DATASETS[t].name for t in pretraining),
        task=tasks[-1] if tasks else "",
        visual_category=categories.pop() if len(categories) == 1 else "",
    )
