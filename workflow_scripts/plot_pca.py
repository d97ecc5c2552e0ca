"""Snakemake script: eigen-filters, explained variance and covariance of the PCA basis."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures import pca
    from filterdb.figures.style import save_figure, save_table

    basis = pca.read_pca_basis(smk.input.basis)
    save_figure(pca.plot_components(basis), smk.output.components, smk.params.dpi)
    save_table(pca.components_table(basis), smk.output.components_table)
    save_figure(pca.plot_evr(basis), smk.output.evr, smk.params.dpi)
    save_table(pca.evr_table(basis), smk.output.evr_table)
    save_figure(pca.plot_covariance(basis), smk.output.covariance, smk.params.dpi)
    save_table(pca.covariance_table(basis), smk.output.covariance_table)
    print(f"PCA figures of {basis.n_filters} filters")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
