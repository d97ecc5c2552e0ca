"""Snakemake script: the per-category coefficient ridge plot and the c0/c1 log-density map."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures import density, ridge
    from filterdb.figures.style import save_figure, save_table

    kde = ridge.read_kde(smk.input.kde)
    save_figure(ridge.plot_ridge(kde), smk.output.ridge, smk.params.dpi)
    save_table(ridge.ridge_table(kde), smk.output.ridge_table)

    hist = density.read_histogram(smk.input.density)
    save_figure(density.plot_density(hist), smk.output.density, smk.params.dpi)
    save_table(density.density_table(hist), smk.output.density_table)
    n_categories = kde["visual_category"].nunique()
    print(f"ridge plot of {n_categories} categories; density of {int(hist.counts.sum())} filters")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
