# Figures of the paper, drawn only from the statistics outputs (results/stats/), and their entries
# in the Snakemake report. Every figure <name> is written as results/figures/<name>.<format> for
# each configured format plus results/figures/<name>.csv, the numbers behind it. The first format
# (PNG by default) and the CSV go into the report under the figure's caption.
import re

from snakemake.io import report as report_file

from filterdb.stats.grouping import axis_slugs

FIGURE_FORMATS = config["figures"].get("formats", ["png", "pdf"])
FIGURE_SHIFT_AXES = axis_slugs(config["statistics"]["extra_axes"])
# The paper's three-panel shift figure.
FIGURE_COMBINED_AXES = ["task", "visual_category", "conv_depth_decile"]
# Figure name -> (report category, subcategory, caption file in rules/report/).
FIGURE_REPORT = {
    "shift_{axis}": ("Distribution shifts", "Per axis", "shift_matrix"),
    "shift_combined": ("Distribution shifts", "Overview", "shift_combined"),
    "drift_boxplot": ("Distribution shifts", "Overview", "drift_boxplot"),
    "pca_components": ("PCA", "Basis", "pca_components"),
    "pca_evr": ("PCA", "Basis", "pca_evr"),
    "pca_covariance": ("PCA", "Covariance", "pca_covariance"),
    "ridge_kde": ("Densities", "Coefficients per Visual Category", "ridge_kde"),
    "density_c0_c1": ("Densities", "c0/c1 plane", "density_c0_c1"),
    "degeneration_depth": ("Degeneration", "By depth", "degeneration_depth"),
    "randomness_threshold": (
        "Degeneration",
        "Randomness threshold",
        "randomness_threshold",
    ),
    "degenerated_models_top": (
        "Degeneration",
        "Most degenerated models",
        "degenerated_models_top",
    ),
}
# Each figure in every format (the first one shown in the report) and its CSV (also shown).
FIGURE_FILES = {
    name: [
        report_file(
            f"{FIGURES_DIR}/{name}.{FIGURE_FORMATS[0]}",
            caption=f"report/{caption}.rst",
            category=category,
            subcategory=subcategory,
        ),
        *[f"{FIGURES_DIR}/{name}.{fmt}" for fmt in FIGURE_FORMATS[1:]],
    ]
    for name, (category, subcategory, caption) in FIGURE_REPORT.items()
}
FIGURE_TABLES = {
    name: report_file(
        f"{FIGURES_DIR}/{name}.csv",
        caption=f"report/{caption}.rst",
        category=category,
        subcategory=subcategory,
    )
    for name, (category, subcategory, caption) in FIGURE_REPORT.items()
}
FIGURE_OUTPUTS = [
    path.format(axis=axis) if "{axis}" in path else path
    for name in FIGURE_REPORT
    for path in [f"{FIGURES_DIR}/{name}.{ext}" for ext in [*FIGURE_FORMATS, "csv"]]
    for axis in (FIGURE_SHIFT_AXES if "{axis}" in name else [None])
]


rule plot_shift_matrix:
    """One distribution-shift matrix per grouping axis."""
    input:
        matrix=f"{STATS_DIR}/shift/{{axis}}.csv",
        groups=f"{STATS_DIR}/shift/{{axis}}_groups.csv",
    output:
        figure=FIGURE_FILES["shift_{axis}"],
        table=FIGURE_TABLES["shift_{axis}"],
    log:
        "logs/figures/shift_{axis}.log",
    benchmark:
        "benchmarks/out/figures/shift_{axis}.tsv"
    wildcard_constraints:
        axis="|".join(re.escape(axis) for axis in FIGURE_SHIFT_AXES),
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
        matrices=[f"{STATS_DIR}/shift/{axis}.csv" for axis in FIGURE_COMBINED_AXES],
        groups=[f"{STATS_DIR}/shift/{axis}_groups.csv" for axis in FIGURE_COMBINED_AXES],
        upper_triangle=f"{STATS_DIR}/shift/upper_triangle.csv",
    output:
        combined=FIGURE_FILES["shift_combined"],
        combined_table=FIGURE_TABLES["shift_combined"],
        drift=FIGURE_FILES["drift_boxplot"],
        drift_table=FIGURE_TABLES["drift_boxplot"],
    log:
        "logs/figures/shift_overview.log",
    benchmark:
        "benchmarks/out/figures/shift_overview.tsv"
    conda:
        "../envs/figures.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        dpi=config["figures"]["dpi"],
        axes=FIGURE_COMBINED_AXES,
    script:
        "../workflow_scripts/plot_shift_overview.py"


rule plot_pca:
    """Eigen-filters, explained variance and weight covariance of the PCA basis."""
    input:
        basis=f"{STATS_DIR}/pca_basis.json",
    output:
        components=FIGURE_FILES["pca_components"],
        components_table=FIGURE_TABLES["pca_components"],
        evr=FIGURE_FILES["pca_evr"],
        evr_table=FIGURE_TABLES["pca_evr"],
        covariance=FIGURE_FILES["pca_covariance"],
        covariance_table=FIGURE_TABLES["pca_covariance"],
    log:
        "logs/figures/pca.log",
    benchmark:
        "benchmarks/out/figures/pca.tsv"
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
        kde=f"{STATS_DIR}/kde_visual_category.csv",
        density=f"{STATS_DIR}/density_c0_c1.npz",
    output:
        ridge=FIGURE_FILES["ridge_kde"],
        ridge_table=FIGURE_TABLES["ridge_kde"],
        density=FIGURE_FILES["density_c0_c1"],
        density_table=FIGURE_TABLES["density_c0_c1"],
    log:
        "logs/figures/densities.log",
    benchmark:
        "benchmarks/out/figures/densities.tsv"
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
        layer_metrics=f"{STATS_DIR}/layer_metrics.parquet",
        randomness=f"{STATS_DIR}/randomness_threshold.csv",
        ranking=f"{STATS_DIR}/degenerated_models.csv",
    output:
        depth=FIGURE_FILES["degeneration_depth"],
        depth_table=FIGURE_TABLES["degeneration_depth"],
        threshold=FIGURE_FILES["randomness_threshold"],
        threshold_table=FIGURE_TABLES["randomness_threshold"],
        top=FIGURE_FILES["degenerated_models_top"],
        top_table=FIGURE_TABLES["degenerated_models_top"],
    log:
        "logs/figures/degeneration.log",
    benchmark:
        "benchmarks/out/figures/degeneration.tsv"
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
