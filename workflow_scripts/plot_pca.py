"""Snakemake script of rule plot_pca: eigen-filters, explained variance, covariance."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures.make import make_pca

    make_pca(smk.input.basis, dict(smk.output.items()), smk.params.dpi)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
