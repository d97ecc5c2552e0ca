rule assemble_database:
    """Join the per-model tables into layers.parquet and models.parquet with global filter ids."""
    input:
        layers=expand(rules.extract_filters.output.layers, model=MODELS),
        summaries=expand(rules.extract_filters.output.summary, model=MODELS),
        filters=filter_files(),
        manifest=config["zoo"],
    output:
        layers=db_file(LAYERS_FILE),
        models=db_file(MODELS_FILE),
        failures=report(
            "results/failures.tsv",
            caption="report/failures.rst",
            category="Failures",
        ),
    log:
        "logs/assemble.log",
    benchmark:
        "results/benchmarks/assemble.tsv"
    conda:
        "../envs/assemble.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        models=MODELS,
        manifest=list(MANIFEST.values()),
    script:
        "../workflow_scripts/assemble_database.py"
