"""Snakemake script: extract one model's 3x3 filters, layer table and summary (filterdb.extract)."""

import sys
from pathlib import Path


def main(smk) -> None:
    import json
    import logging

    import torch

    from filterdb.errors import ModelError
    from filterdb.extract import LAYER_SCHEMA, extract
    from filterdb.failures import download_failure, write_extraction_failure
    from filterdb.filter_file import FILTER_SCHEMA

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, force=True)
    torch.set_num_threads(smk.threads)
    model = smk.params.model
    outputs = (smk.output.filters, smk.output.layers, smk.output.summary)
    try:
        failed_download = download_failure(smk.input.checkpoint)
        if failed_download:
            raise ModelError(model, smk.input.checkpoint, f"download failed: {failed_download}")
        summary = extract(
            model=model,
            checkpoint=Path(smk.input.checkpoint) / smk.params.filename,
            filters_path=smk.output.filters,
            layers_path=smk.output.layers,
            summary_path=smk.output.summary,
            source=smk.params.source,
            row_group_size=int(smk.params.row_group_size),
            progress=True,
        )
    except ModelError as exc:
        if not smk.params.skip_failed:
            raise  # the traceback, ending in the cause, goes to this job's log
        write_extraction_failure(model, str(exc), *outputs, FILTER_SCHEMA, LAYER_SCHEMA)
        print(f"skip_failed_models: recorded as failed: {exc}")
        return
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
