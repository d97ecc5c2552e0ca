"""Snakemake script of rule plot_densities: coefficient ridge plot and c0/c1 density map."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures.make import make_densities

    make_densities(smk.input.kde, smk.input.density, dict(smk.output.items()), smk.params.dpi)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
