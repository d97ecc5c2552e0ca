rule assemble_database:
    """Join the per-model tables into layers.parquet and models.parquet with global filter ids."""
    input:
        layers=expand("results/extract/{model}/layers.parquet", model=MODELS),
        summaries=expand("results/extract/{model}/model.json", model=MODELS),
        filters=filter_files(),
        manifest=config["zoo"],
    output:
        layers=f"{DB_DIR}/layers.parquet",
        models=f"{DB_DIR}/models.parquet",
        failures=report(
            "results/failures.tsv",
            caption="report/failures.rst",
            category="Failures",
        ),
    log:
        "logs/assemble.log",
    benchmark:
        "benchmarks/out/assemble.tsv"
    conda:
        "../envs/assemble.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        models=MODELS,
        manifest=lambda wc: MANIFEST.to_dict(orient="records"),
    script:
        "../workflow_scripts/assemble_database.py"
