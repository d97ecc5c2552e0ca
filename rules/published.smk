# Read and write the published CNN Filter DB (Gavrikov & Keuper, CVPR 2022) files.
#
# config:
#   database:
#     source: zoo | published          # "published": results/db/ comes from published_file
#     published_file: path/to/cnn_filter_db.h5   # v1.0.0 (Zenodo) or v0.1.0 (Kaggle) layout
#     published_row_group_size: 1048576          # max rows per parquet row group (whole layers)
#     published_chunk_size: 4194304              # filters per read window (memory bound)
#   export:
#     enabled: false                   # the Snakefile requests export.path when true
#     path: results/export/cnn_filter_db.h5
#     dtype: float64                   # float64 like v1.0.0; float32/float16 to save space
#
# Needs filter_files() from rules/common.smk (the filter files of results/db/; in published
# mode the directory results/db/filters, which rule import_published outputs as a whole).


if config["database"]["source"] == "published":

    rule import_published:
        input:
            published=config["database"]["published_file"],
        output:
            models="results/db/models.parquet",
            layers="results/db/layers.parquet",
            filters=directory("results/db/filters"),
        log:
            "logs/published/import_published.log",
        benchmark:
            "benchmarks/out/import_published.tsv"
        conda:
            "../envs/published.yaml"
        threads: 1
        resources:
            mem_mb=3072,
            runtime=720,
        params:
            row_group_size=config["database"].get("published_row_group_size", 1048576),
            chunk_size=config["database"].get("published_chunk_size", 4194304),
        script:
            "../workflow_scripts/import_published.py"


rule export_published:
    input:
        models="results/db/models.parquet",
        layers="results/db/layers.parquet",
        filters=filter_files(),
    output:
        config.get("export", {}).get("path", "results/export/cnn_filter_db.h5"),
    log:
        "logs/published/export_published.log",
    benchmark:
        "benchmarks/out/export_published.tsv"
    conda:
        "../envs/published.yaml"
    threads: 1
    resources:
        mem_mb=3072,
        runtime=720,
    params:
        dtype=config.get("export", {}).get("dtype", "float64"),
    script:
        "../workflow_scripts/export_published.py"
