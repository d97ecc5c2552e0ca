"""Snakemake script of rule plot_degeneration: degeneration by depth, threshold, ranking."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures.make import make_degeneration

    make_degeneration(
        smk.input.layer_metrics,
        smk.input.randomness,
        smk.input.ranking,
        smk.params.top_models,
        dict(smk.output.items()),
        smk.params.dpi,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
