# Figures of the paper, drawn only from the statistics outputs (results/stats/), and their entries
# in the Snakemake report. The figures, their files and report places are listed once, in
# filterdb.figures.catalogue; figure_outputs() in common.smk turns a rule's figures into outputs.


rule plot_shift_matrix:
    """One distribution-shift matrix per grouping axis."""
    input:
        matrix=f"{STATS_DIR}/{shift_file('{axis}')}",
        groups=f"{STATS_DIR}/{shift_groups_file('{axis}')}",
    output:
        **figure_outputs("shift_{axis}"),
    log:
        "logs/figures/shift_{axis}.log",
    benchmark:
        "results/benchmarks/figures/shift_{axis}.tsv"
    wildcard_constraints:
        axis="|".join(SHIFT_AXES),
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../workflow_scripts/plot_shift_matrix.py"


rule plot_shift_overview:
    """The paper's three-panel shift figure (Task, Visual Category, depth) and drift box plots."""
    input:
        matrices=[f"{STATS_DIR}/{shift_file(axis)}" for axis in COMBINED_SHIFT_AXES],
        groups=[
            f"{STATS_DIR}/{shift_groups_file(axis)}" for axis in COMBINED_SHIFT_AXES
        ],
        upper_triangle=stats_file("upper_triangle"),
    output:
        **figure_outputs("shift_combined", "drift_boxplot"),
    log:
        "logs/figures/shift_overview.log",
    benchmark:
        "results/benchmarks/figures/shift_overview.tsv"
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dpi=config["figures"]["dpi"],
        axes=COMBINED_SHIFT_AXES,
    script:
        "../workflow_scripts/plot_shift_overview.py"


rule plot_pca:
    """Eigen-filters, explained variance and weight covariance of the PCA basis."""
    input:
        basis=stats_file("pca_basis"),
    output:
        **figure_outputs("pca_components", "pca_evr", "pca_covariance"),
    log:
        "logs/figures/pca.log",
    benchmark:
        "results/benchmarks/figures/pca.tsv"
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../workflow_scripts/plot_pca.py"


rule plot_densities:
    """Ridge plot of coefficient KDEs per Visual Category and the c0/c1 log-density map."""
    input:
        kde=stats_file("kde"),
        density=stats_file("density"),
    output:
        **figure_outputs("ridge_kde", "density_c0_c1"),
    log:
        "logs/figures/densities.log",
    benchmark:
        "results/benchmarks/figures/densities.tsv"
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dpi=config["figures"]["dpi"],
    script:
        "../workflow_scripts/plot_densities.py"


rule plot_degeneration:
    """Degeneration by depth, the randomness threshold and the most degenerated models."""
    input:
        layer_metrics=stats_file("layer_metrics"),
        randomness=stats_file("randomness"),
        ranking=stats_file("degenerated_models"),
    output:
        **figure_outputs(
            "degeneration_depth", "randomness_threshold", "degenerated_models_top"
        ),
    log:
        "logs/figures/degeneration.log",
    benchmark:
        "results/benchmarks/figures/degeneration.tsv"
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    params:
        dpi=config["figures"]["dpi"],
        top_models=config["figures"]["top_models"],
    script:
        "../workflow_scripts/plot_degeneration.py"
