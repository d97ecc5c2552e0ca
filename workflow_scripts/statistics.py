"""Snakemake script: aggregate statistics over the filter database into results/stats/.

All logic is in ``filterdb.stats``; this only maps the rule's files and params onto it.
"""

import sys
from pathlib import Path

# The Dask client runs in this process; the rest of the rule's memory is the workers' to share.
CLIENT_RESERVE_MB = 1024


def main(smk) -> None:
    from filterdb.dask_cluster import dask_client
    from filterdb.stats.options import StatsOptions
    from filterdb.stats.outputs import OutputPaths, write_outputs
    from filterdb.stats.runner import run_statistics

    options = StatsOptions.from_params(smk.params.statistics)
    out = smk.output
    paths = OutputPaths(
        pca_basis=Path(out.pca_basis),
        shift_dir=Path(out.upper_triangle).parent,
        layer_metrics=Path(out.layer_metrics),
        model_summary=Path(out.model_summary),
        degenerated_models=Path(out.degenerated_models),
        density=Path(out.density),
        kde=Path(out.kde),
        randomness=Path(out.randomness),
    )
    mem_mb = int(smk.resources.mem_mb)
    worker_mb = max(mem_mb // 2, mem_mb - CLIENT_RESERVE_MB)
    with dask_client(dict(smk.params.dask or {}), smk.threads, worker_mb) as client:
        result = run_statistics(smk.input.models, smk.input.layers, options, client)
    written = write_outputs(result, paths)
    undeclared = sorted(str(p) for p in set(written) - {Path(p) for p in out})
    if undeclared:
        raise RuntimeError(f"wrote files the rule does not declare: {', '.join(undeclared)}")
    print(f"wrote {len(written)} files; PCA of {result.basis.n_filters} filters")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
