# Figures of the paper, drawn only from the statistics outputs (results/stats/), and their entries
# in the Snakemake report. Every figure <name> is written as results/figures/<name>.<format> for
# each configured format plus results/figures/<name>.csv, the numbers behind it. The first format
# (PNG by default) and the CSV go into the report under the figure's caption.
import re

from filterdb.stats.grouping import axis_slugs

FIGURE_FORMATS = config["figures"].get("formats", ["png", "pdf"])
FIGURE_SHIFT_AXES = axis_slugs(config["statistics"]["extra_axes"])
# The paper's three-panel shift figure.
FIGURE_COMBINED_AXES = ["task", "visual_category", "conv_depth_decile"]
FIGURE_NAMES = [f"shift_{axis}" for axis in FIGURE_SHIFT_AXES] + [
    "shift_combined",
    "drift_boxplot",
    "pca_components",
    "pca_evr",
    "pca_covariance",
    "ridge_kde",
    "density_c0_c1",
    "degeneration_depth",
    "randomness_threshold",
    "degenerated_models_top",
]
FIGURE_OUTPUTS = [
    f"{FIGURES_DIR}/{name}.{ext}"
    for name in FIGURE_NAMES
    for ext in [*FIGURE_FORMATS, "csv"]
]


def figure(name, category, subcategory, caption=None):
    """Paths of figure `name` in every format; the first is shown in the report with its caption."""
    paths = [f"{FIGURES_DIR}/{name}.{fmt}" for fmt in FIGURE_FORMATS]
    shown = report(
        paths[0],
        caption=f"report/{caption or name}.rst",
        category=category,
        subcategory=subcategory,
    )
    return [shown, *paths[1:]]


def numbers(name, category, subcategory, caption=None):
    """The CSV of the numbers behind figure `name`, in the report beside it, same caption."""
    return report(
        f"{FIGURES_DIR}/{name}.csv",
        caption=f"report/{caption or name}.rst",
        category=category,
        subcategory=subcategory,
    )


rule plot_shift_matrix:
    """One distribution-shift matrix per grouping axis."""
    input:
        matrix=f"{STATS_DIR}/shift/{{axis}}.csv",
        groups=f"{STATS_DIR}/shift/{{axis}}_groups.csv",
    output:
        figure=figure(
            "shift_{axis}", "Distribution shifts", "Per axis", caption="shift_matrix"
        ),
        table=numbers(
            "shift_{axis}", "Distribution shifts", "Per axis", caption="shift_matrix"
        ),
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
        combined=figure("shift_combined", "Distribution shifts", "Overview"),
        combined_table=numbers("shift_combined", "Distribution shifts", "Overview"),
        drift=figure("drift_boxplot", "Distribution shifts", "Overview"),
        drift_table=numbers("drift_boxplot", "Distribution shifts", "Overview"),
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
        components=figure("pca_components", "PCA", "Basis"),
        components_table=numbers("pca_components", "PCA", "Basis"),
        evr=figure("pca_evr", "PCA", "Basis"),
        evr_table=numbers("pca_evr", "PCA", "Basis"),
        covariance=figure("pca_covariance", "PCA", "Covariance"),
        covariance_table=numbers("pca_covariance", "PCA", "Covariance"),
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
        ridge=figure("ridge_kde", "Densities", "Coefficients per Visual Category"),
        ridge_table=numbers(
            "ridge_kde", "Densities", "Coefficients per Visual Category"
        ),
        density=figure("density_c0_c1", "Densities", "c0/c1 plane"),
        density_table=numbers("density_c0_c1", "Densities", "c0/c1 plane"),
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
        depth=figure("degeneration_depth", "Degeneration", "By depth"),
        depth_table=numbers("degeneration_depth", "Degeneration", "By depth"),
        threshold=figure("randomness_threshold", "Degeneration", "Randomness threshold"),
        threshold_table=numbers(
            "randomness_threshold", "Degeneration", "Randomness threshold"
        ),
        top=figure("degenerated_models_top", "Degeneration", "Most degenerated models"),
        top_table=numbers(
            "degenerated_models_top", "Degeneration", "Most degenerated models"
        ),
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
