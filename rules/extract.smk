rule extract_filters:
    """Every 3x3 kernel of every 2-D conv layer of one model, plus its layer table."""
    input:
        checkpoint=rules.download_model.output[0],
    output:
        filters=FILTER_FILE,
        layers="results/extract/{model}/layers.parquet",
        summary="results/extract/{model}/model.json",
    log:
        "logs/extract/{model}.log",
    benchmark:
        "results/benchmarks/extract/{model}.tsv"
    conda:
        "../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=extraction_job_mb,
        runtime=lambda wc, input: int(10 + input_mb(wc, input) / 50),
    params:
        model="{model}",
        source=lambda wc: manifest_row(wc)["source"],
        expected_3x3_filters=lambda wc: manifest_row(wc)["expected_3x3_filters"],
        filename=checkpoint_file_name,
        row_group_size=config["extraction"]["row_group_size"],
        skip_failed=config["skip_failed_models"],
    script:
        "../workflow_scripts/extract_filters.py"
