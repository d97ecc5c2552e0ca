"""Snakemake script of rule statistics: aggregate statistics of results/db/ into results/stats/."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.stats.stage import compute_statistics

    compute_statistics(
        Path(smk.input.models).parent,
        Path(smk.output.pca_basis).parent,
        smk.params.statistics,
        smk.params.dask,
        smk.threads,
        smk.resources.mem_mb,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
