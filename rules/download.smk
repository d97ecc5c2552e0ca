rule download_model:
    """Materialise one model's checkpoint (download, copy or seeded init), sha256-verified."""
    output:
        directory("resources/models/{model}"),
    log:
        "logs/download/{model}.log",
    benchmark:
        "results/benchmarks/download/{model}.tsv"
    conda:
        "../envs/download.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        model="{model}",
        source=lambda wc: manifest_row(wc)["source"],
        sha256=lambda wc: manifest_row(wc)["sha256"],
        hf_revision=lambda wc: manifest_row(wc)["hf_revision"],
        filename=checkpoint_file_name,
        download=config["download"],
        skip_failed=config["skip_failed_models"],
    script:
        "../workflow_scripts/download_model.py"
