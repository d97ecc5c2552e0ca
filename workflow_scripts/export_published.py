"""Snakemake script: write results/db/ in the published v1.0.0 layout (rule export_published)."""

import sys
from pathlib import Path


def main(smk) -> None:
    import logging

    from filterdb.published import export_published

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    n_filters = export_published(
        Path(smk.input.models).parent, smk.output[0], dtype=smk.params.dtype
    )
    print(f"exported {n_filters} filters to {smk.output[0]}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
