# Read and write the published CNN Filter DB (Gavrikov & Keuper, CVPR 2022) files: with
# database.source "published", results/db/ is imported from database.published_file instead of
# being built from the zoo; with export.enabled, results/db/ is also written to export.path in the
# published v1.0.0 layout.


if DB_SOURCE == "published":

    rule import_published:
        """A published v1.0.0 or v0.1.0 HDF5 file, streamed into the results/db/ layout."""
        input:
            published=config["database"]["published_file"],
        output:
            models=db_file(MODELS_FILE),
            layers=db_file(LAYERS_FILE),
            filters=directory(f"{DB_DIR}/{FILTERS_DIR}"),
        log:
            "logs/published/import_published.log",
        benchmark:
            "results/benchmarks/import_published.tsv"
        conda:
            "../envs/published.yaml"
        threads: 4
        resources:
            mem_mb=3072,
            runtime=720,
        params:
            row_group_size=config["database"]["published_row_group_size"],
            chunk_size=config["database"]["published_chunk_size"],
        script:
            "../workflow_scripts/import_published.py"


rule export_published:
    """results/db/ as one HDF5 file in the published v1.0.0 layout (the notebook reads it)."""
    input:
        models=db_file(MODELS_FILE),
        layers=db_file(LAYERS_FILE),
        filters=filter_files(),
    output:
        config["export"]["path"],
    log:
        "logs/published/export_published.log",
    benchmark:
        "results/benchmarks/export_published.tsv"
    conda:
        "../envs/published.yaml"
    threads: 1
    resources:
        mem_mb=3072,
        runtime=720,
    params:
        dtype=config["export"]["dtype"],
    script:
        "../workflow_scripts/export_published.py"
