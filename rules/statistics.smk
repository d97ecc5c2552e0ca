# Aggregate statistics of the filter database (filterdb.stats): PCA basis, distribution-shift
# matrices, per-layer degeneration metrics, densities. Three Dask passes over the filter files.
from filterdb.stats.grouping import axis_slugs

STATS_AXES = axis_slugs(config["statistics"].get("extra_axes") or [])
STATS_FILES = {
    "pca_basis": f"{STATS_DIR}/pca_basis.json",
    "upper_triangle": f"{STATS_DIR}/shift/upper_triangle.csv",
    "layer_metrics": f"{STATS_DIR}/layer_metrics.parquet",
    "model_summary": f"{STATS_DIR}/model_summary.csv",
    "degenerated_models": f"{STATS_DIR}/degenerated_models.csv",
    "density": f"{STATS_DIR}/density_c0_c1.npz",
    "kde": f"{STATS_DIR}/kde_visual_category.csv",
    "randomness": f"{STATS_DIR}/randomness_threshold.csv",
}
SHIFT_FILES = expand(f"{STATS_DIR}/shift/{{axis}}.csv", axis=STATS_AXES)
SHIFT_GROUP_FILES = expand(f"{STATS_DIR}/shift/{{axis}}_groups.csv", axis=STATS_AXES)
STATS_OUTPUTS = [*STATS_FILES.values(), *SHIFT_FILES, *SHIFT_GROUP_FILES]


rule statistics:
    """PCA, distribution shifts, degeneration and densities of all filters (out of core)."""
    input:
        models=f"{DB_DIR}/models.parquet",
        layers=f"{DB_DIR}/layers.parquet",
        filters=filter_files(),
    output:
        **STATS_FILES,
        shift=SHIFT_FILES,
        shift_groups=SHIFT_GROUP_FILES,
    log:
        "logs/statistics.log",
    benchmark:
        "benchmarks/out/statistics.tsv"
    conda:
        "../envs/statistics.yaml"
    threads: all_cores()
    resources:
        mem_mb=statistics_mem_mb,
        runtime=lambda wildcards, input: int(60 + input_mb(wildcards, input) / 100),
    params:
        statistics=config["statistics"],
        dask=config["dask"],
    script:
        "../workflow_scripts/statistics.py"
