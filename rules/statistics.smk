# Aggregate statistics of the filter database (filterdb.stats): PCA basis, distribution-shift
# matrices, per-layer degeneration metrics, densities. Three Dask passes over the filter files.


rule statistics:
    """PCA, distribution shifts, degeneration and densities of all filters (out of core)."""
    input:
        models=db_file(MODELS_FILE),
        layers=db_file(LAYERS_FILE),
        filters=filter_files(),
    output:
        **{name: stats_file(name) for name in STATS_FILES},
        shift=[f"{STATS_DIR}/{shift_file(axis)}" for axis in SHIFT_AXES],
        shift_groups=[f"{STATS_DIR}/{shift_groups_file(axis)}" for axis in SHIFT_AXES],
    log:
        "logs/statistics.log",
    benchmark:
        "results/benchmarks/statistics.tsv"
    conda:
        "../envs/statistics.yaml"
    threads: all_cores()
    resources:
        mem_mb=statistics_job_mb,
        runtime=lambda wildcards, input: int(60 + input_mb(wildcards, input) / 100),
    params:
        statistics=config["statistics"],
        dask=config["dask"],
    script:
        "../workflow_scripts/statistics.py"
