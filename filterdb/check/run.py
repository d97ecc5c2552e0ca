"""``check_file`` and ``check_module``: the Python side of ``filterdb check``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from filterdb.check.compare import degeneration_rank, group_distances
from filterdb.check.measure import Projection, measure
from filterdb.check.reference import Reference, load_reference
from filterdb.check.result import CheckResult
from filterdb.extract.conv_layers import ModelConvs, check_layers
from filterdb.extract.dispatch import read_checkpoint
from filterdb.extract.memory import MemoryLimit
from filterdb.stats.summaries import SUMMARY_LABELS, model_summary

if TYPE_CHECKING:
    from torch import nn

PathLike = str | os.PathLike[str]


def reference_for(db: PathLike | None, stats: PathLike | None) -> Reference | None:
    """The reference of ``--db``/``--stats``: none, or ``stats`` (default: ``stats`` beside db)."""
    if db is None and stats is None:
        return None
    stats = Path(stats) if stats is not None else Path(db).parent / "stats"
    return load_reference(stats, db)


def check_file(
    path: PathLike,
    file_format: str | None = None,
    db: PathLike | None = None,
    stats: PathLike | None = None,
    limit: MemoryLimit | None = None,
) -> CheckResult:
    """Measure the checkpoint at ``path`` with the workflow's readers and security rules.

    ``file_format`` (``onnx``, ``pytorch``, ``safetensors``) overrides the suffix. With ``db``
    and/or ``stats`` (a built ``results/db`` and ``results/stats``), the model is also placed
    against that database. A bad file raises ``ModelError``, a bad reference
    ``ReferenceInputError``; both name the file and the cause.
    """
    reference = reference_for(db, stats)
    convs = read_checkpoint(Path(path).name, path, file_format, limit)
    return _check(convs, reference, limit)


def check_module(
    module: nn.Module,
    name: str | None = None,
    db: PathLike | None = None,
    stats: PathLike | None = None,
) -> CheckResult:
    """Measure a torch module in memory, as ``check_file`` measures a checkpoint of it.

    Depths come from an fx trace of the module (timm's untraceable layers kept whole), else
    from module order, as extraction does for timm checkpoints.
    """
    import timm.layers

    from filterdb.extract.read_pytorch import module_convs

    label = name or type(module).__name__
    convs = module_convs(
        label,
        f"<{type(module).__name__} module>",
        "pytorch",
        module,
        timm.layers.get_notrace_modules(),
        timm.layers.get_notrace_functions(),
    )
    return _check(check_layers(convs), reference_for(db, stats), None)


def _check(
    convs: ModelConvs, reference: Reference | None, limit: MemoryLimit | None
) -> CheckResult:
    """Measure ``convs`` (and compare with ``reference``): the one path of both entry points."""
    projection = Projection(reference.basis, reference.edges) if reference else None
    measures = measure(convs, projection, limit)
    one_model = pd.DataFrame({"model": [convs.model], **{label: [""] for label in SUMMARY_LABELS}})
    # A checked model is projected on the reference's basis, never part of fitting it.
    row = model_summary(one_model, measures.layers, np.zeros(1, dtype=bool)).iloc[0]
    summary = {k: v for k, v in row.items() if k not in ("model", "in_pca", *SUMMARY_LABELS)}
    rank = groups = None
    if reference is not None:
        shares = reference.model_summary["degenerated_share"]
        rank = degeneration_rank(float(summary["degenerated_share"]), shares)
        groups = group_distances(measures.counts, reference)
    return CheckResult(
        name=convs.model,
        path=convs.path,
        format=convs.format,
        depth_method=convs.depth_method,
        layers=measures.layers,
        summary=summary,
        skipped=dict(convs.skipped),
        rank=rank,
        groups=groups,
        counts=measures.counts,
        outside=measures.outside,
        edges=None if reference is None else reference.edges,
        database_counts=None if reference is None else reference.all_counts,
    )
