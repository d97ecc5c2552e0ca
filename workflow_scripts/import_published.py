"""Snakemake script: import a published CNN Filter DB file into results/db/."""

import sys
from pathlib import Path


def main(smk) -> None:
    import logging

    from filterdb.published import import_published

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    report = import_published(
        smk.input.published,
        Path(smk.output.models).parent,
        row_group_size=int(smk.params.row_group_size),
        chunk_size=int(smk.params.chunk_size),
    )
    print(
        f"imported v{report.version}: {report.n_models} models, {report.n_layers} layers, "
        f"{report.n_filters} filters; {report.values_rounded} values changed by float32 rounding"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
