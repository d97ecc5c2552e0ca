"""Generate a paper-scale zoo manifest from timm's pretrained registry, offline.

``python -m filterdb.zoo.timm_zoo config/zoo_online.tsv`` writes one ``timm:`` row per pretrained
tag of the installed timm whose architecture has a 2-D 3x3 convolution and whose registry entry
names a licence. Nothing is downloaded: each architecture is built on the ``meta`` device
(``filterdb.zoo.meta_count``) to count its 3x3 kernels into ``expected_3x3_filters``, which
extraction then enforces. Every meta column comes from the registry: datasets, task and visual
category from the tag (``filterdb.zoo.timm_tags``), Network from the timm module that defines the
architecture, License from the tag's ``license``, Paper from ``paper_ids`` (else ``paper_name``).

The output is a pure function of the timm version: rows sorted by name, no dates, so a test can
regenerate it and compare bytes with the committed file.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import timm
from timm.models import get_pretrained_cfg
from tqdm import tqdm

from filterdb.atomic import write_text_atomic
from filterdb.zoo.columns import EXPECTED_3X3, MANIFEST_COLUMNS
from filterdb.zoo.meta_count import meta_3x3_count
from filterdb.zoo.timm_tags import tag_meta, unknown_tokens

COLUMNS = (*MANIFEST_COLUMNS, EXPECTED_3X3)
#: Registry licences that say nothing: such tags are left out (a row must name its licence).
_NO_LICENCE = ("", "unknown")


@dataclass(frozen=True)
class Scan:
    """What one registry scan found: the rows, and every tag left out with the reason."""

    rows: list[dict[str, str]]
    left_out: dict[str, str]
    unknown_tokens: dict[str, list[str]]


def architecture_families() -> dict[str, str]:
    """{architecture: the timm module defining it}, e.g. ``resnet50`` → ``resnet``."""
    families: dict[str, str] = {}
    for module in sorted(timm.list_modules()):
        for architecture in timm.list_models(module=module):
            families.setdefault(architecture, module)
    return families


def zoo_row(name: str, n_3x3: int, family: str) -> dict[str, str]:
    """The manifest row of timm's pretrained ``name`` with ``n_3x3`` 3x3 kernels."""
    cfg = get_pretrained_cfg(name)
    meta = tag_meta(cfg.tag or "")
    papers = cfg.paper_ids or cfg.paper_name or ""
    if not isinstance(papers, str):
        papers = "; ".join(papers)
    where = f"Hugging Face hub {cfg.hf_hub_id}" if cfg.hf_hub_id else f"{cfg.url}"
    row = {
        "model": name,
        "source": f"timm:{name}",
        "sha256": "",
        "Name": name,
        "Task": meta.task,
        "Visual Category": meta.visual_category,
        "Training-Dataset": meta.training,
        "Pretraining-Dataset": meta.pretraining,
        "Network": family,
        "Backbone": "",
        "Framework": "PyTorch",
        "Precision": "float32",
        "Conv Weight Initializer": "",
        "Optimizer": "",
        "Paper": papers,
        "License": cfg.license or "",
        "Accessible": f"timm {timm.__version__} pretrained tag; {where}",
        EXPECTED_3X3: str(n_3x3),
    }
    return {key: " ".join(value.split()) for key, value in row.items()}  # no tabs or newlines


def count_all(names: Sequence[str], workers: int) -> list[int]:
    """``meta_3x3_count`` of every name, in order, on ``workers`` processes (a progress bar)."""
    bar = tqdm(total=len(names), desc="meta builds", unit="model", file=sys.stderr)
    with bar:
        if workers <= 1:
            return [_counted(bar, meta_3x3_count(name)) for name in names]
        context = multiprocessing.get_context("spawn")  # torch is not fork-safe once threaded
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return [_counted(bar, n) for n in pool.map(meta_3x3_count, names, chunksize=8)]


def _counted(bar: tqdm, value: int) -> int:
    bar.update()
    return value


def scan_registry(names: Iterable[str] | None = None, workers: int = 1) -> Scan:
    """Rows for the pretrained ``names`` (default: all of ``timm.list_pretrained()``)."""
    names = sorted(timm.list_pretrained() if names is None else names)
    families = architecture_families()
    counts = count_all(names, workers)
    rows, left_out, unknown = [], {}, {}
    for name, n_3x3 in zip(names, counts, strict=True):
        cfg = get_pretrained_cfg(name)
        if n_3x3 == 0:
            left_out[name] = "no 3x3 convolution"
        elif (cfg.license or "") in _NO_LICENCE:
            left_out[name] = f"registry licence {cfg.license!r}"
        else:
            rows.append(zoo_row(name, n_3x3, families[cfg.architecture]))
            tokens = unknown_tokens(cfg.tag or "")
            if tokens:
                unknown[name] = tokens
    return Scan(rows, left_out, unknown)


def manifest_text(rows: Iterable[dict[str, str]]) -> str:
    """The TSV of ``rows``: header, then one line per row, ``\\n`` line ends."""
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(row[column] for column in COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, prog: str = "python -m filterdb.zoo.timm_zoo") -> int:
    """Command line: write the zoo, then say what was left out and why."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write a zoo manifest of timm's pretrained models with 3x3 convolutions "
        "(offline; counts 3x3 kernels on the meta device).",
    )
    parser.add_argument("output", type=Path, help="the TSV to write, e.g. config/zoo_online.tsv")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    scan = scan_registry(workers=args.workers)
    write_text_atomic(args.output, manifest_text(scan.rows))
    filters = sum(int(row[EXPECTED_3X3]) for row in scan.rows)
    architectures = {row["source"].split(".")[0] for row in scan.rows}
    print(
        f"wrote {args.output}: {len(scan.rows)} models, {len(architectures)} architectures, "
        f"{filters:,} expected 3x3 filters (timm {timm.__version__})"
    )
    reasons: dict[str, int] = {}
    for reason in scan.left_out.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, n in sorted(reasons.items()):
        print(f"left out: {n} tag(s): {reason}")
    for name, tokens in sorted(scan.unknown_tokens.items()):
        print(f"meta left empty for {name}: unknown tag token(s) {tokens}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
