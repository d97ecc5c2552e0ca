"""Figures drawn from statistics outputs: right labels in the right order, legible, valid files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from stats_outputs import FIGURES, SHIFT_AXES, write_stats_fixture

from filterdb.figures import degeneration, density, drift, pca, ranking, ridge, shift, threshold
from filterdb.figures.catalogue import FIGURES as FIGURE_CATALOGUE
from filterdb.figures.catalogue import figure_names
from filterdb.figures.style import MIN_LABEL_FONTSIZE, save_figure, save_table
from filterdb.stats.basis_file import read_basis
from filterdb.stats.files import STATS_FILES, shift_file, shift_groups_file
from filterdb.stats.grouping import DECILE_LABELS

DPI = 200
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The default-zoo scale: 12 models, a handful of groups per axis."""
    return write_stats_fixture(tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """Full-zoo scale: 600 models, hundreds of networks, dozens of categories and tasks."""
    groups = {"task": 25, "visual_category": 40, "network": 300, "training_dataset": 60}
    return write_stats_fixture(tmp_path_factory.mktemp("large"), n_models=600, n_groups=groups)


def read_shift(stats_dir, axis):
    return shift.read_shift_matrix(
        stats_dir / shift_file(axis), stats_dir / shift_groups_file(axis), axis
    )


def build(name: str, stats_dir) -> Figure:
    """Every figure of the workflow, by its output name, from one stats directory."""
    if name.startswith("shift_") and name != "shift_combined":
        return shift.plot_shift_matrix(read_shift(stats_dir, name.removeprefix("shift_")))
    if name == "shift_combined":
        axes = ("task", "visual_category", "conv_depth_decile")
        return shift.plot_shift_combined([read_shift(stats_dir, a) for a in axes])
    if name == "drift_boxplot":
        upper = drift.read_upper_triangle(stats_dir / STATS_FILES["upper_triangle"])
        return drift.plot_drift_boxplot(upper)
    if name.startswith("pca_"):
        basis = read_basis(stats_dir / STATS_FILES["pca_basis"])
        plot = {"pca_components": pca.plot_components, "pca_evr": pca.plot_evr}
        return plot.get(name, pca.plot_covariance)(basis)
    if name == "ridge_kde":
        return ridge.plot_ridge(ridge.read_kde(stats_dir / STATS_FILES["kde"]))
    if name == "density_c0_c1":
        return density.plot_density(density.read_histogram(stats_dir / STATS_FILES["density"]))
    layers = degeneration.read_layer_metrics(stats_dir / STATS_FILES["layer_metrics"])
    if name == "degeneration_depth":
        return degeneration.plot_degeneration_by_depth(layers)
    if name == "randomness_threshold":
        curve = threshold.read_threshold_curve(stats_dir / STATS_FILES["randomness"])
        return threshold.plot_randomness_threshold(curve, layers)
    assert name == "degenerated_models_top", name
    return ranking.plot_top_models(
        ranking.read_top_models(stats_dir / STATS_FILES["degenerated_models"], 100)
    )


LABEL_HEAVY = [f"shift_{axis}" for axis in SHIFT_AXES] + [
    "shift_combined",
    "drift_boxplot",
    "ridge_kde",
    "degeneration_depth",
    "degenerated_models_top",
]


def texts(labels):
    return [label.get_text() for label in labels]


def drawn_labels(fig: Figure):
    """Tick labels and titles as drawn: visible, non-empty, ticks inside the view limits."""
    fig.draw_without_rendering()
    drawn = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if low <= tick.get_loc() <= high:
                    drawn += [
                        label
                        for label in (tick.label1, tick.label2)
                        if label.get_visible() and label.get_text()
                    ]
        drawn += [ax.title] if ax.get_title() else []
    return drawn


def overlapping_pairs(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of drawn labels whose bounding boxes overlap (the tight-bbox overlap test)."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    labels = drawn_labels(fig)
    boxes = [label.get_window_extent(renderer) for label in labels]
    return [
        (labels[i].get_text(), labels[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]


def expected_order(stats_dir, axis) -> list[str]:
    """Groups by ascending mean D to the others (ties by name), computed from the tidy file."""
    tidy = pd.read_csv(stats_dir / shift_file(axis), keep_default_na=False)
    off = tidy[tidy["group_a"] != tidy["group_b"]]
    mean = (off.groupby("group_a")["D"].mean() + off.groupby("group_b")["D"].mean()) / 2
    return sorted(mean.index, key=lambda g: (mean[g], g))


@pytest.mark.parametrize("axis", ["task", "visual_category", "network", "training_dataset"])
def test_shift_ticks_read_name_and_models_in_ascending_mean_d(small, axis):
    column = small.models[axis]
    n_models = column.value_counts()
    expected = [f"{g} ({n_models[g]} models)" for g in expected_order(small.stats_dir, axis)]
    assert n_models.min() > 1  # the plural form is what this test spells out
    fig = build(f"shift_{axis}", small.stats_dir)
    ax = fig.axes[0]
    assert texts(ax.get_xticklabels()) == expected
    assert texts(ax.get_yticklabels()) == expected
    shown = ax.images[0].get_array()
    d = read_shift(small.stats_dir, axis).d
    assert np.allclose(shown, d.to_numpy())
    first, second = expected_order(small.stats_dir, axis)[:2]
    tidy = pd.read_csv(small.stats_dir / shift_file(axis))
    pair = tidy[(tidy["group_a"] == first) & (tidy["group_b"] == second)]["D"].item()
    assert shown[0, 1] == pytest.approx(pair)


def test_depth_shift_keeps_natural_order(small):
    groups = pd.read_csv(small.stats_dir / shift_groups_file("conv_depth_decile"))
    assert groups["group"].tolist() != sorted(groups["group"], key=DECILE_LABELS.index)
    fig = build("shift_conv_depth_decile", small.stats_dir)
    labels = texts(fig.axes[0].get_xticklabels())
    assert [re.sub(r" \(\d+ models?\)$", "", t) for t in labels] == list(DECILE_LABELS)
    sizes = groups.set_index("group")["n_models"]
    assert labels[0] == f"[0.0, 0.1] ({sizes['[0.0, 0.1]']} models)"


def test_combined_figure_shares_one_colour_scale(small):
    fig = build("shift_combined", small.stats_dir)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == [
        "Task",
        "Visual Category",
        "Relative depth of conv layer",
    ]
    largest = max(
        read_shift(small.stats_dir, a).d.to_numpy().max()
        for a in ("task", "visual_category", "conv_depth_decile")
    )
    for ax in panels:
        assert ax.images[0].get_clim() == pytest.approx((0.0, largest))
    assert len(fig.axes) == 4  # three panels and one colour bar
    assert texts(panels[1].get_yticklabels())[0].endswith("models)")


def test_single_model_group_label_is_singular():
    from filterdb.figures.style import group_label

    assert group_label("Faces", 1) == "Faces (1 model)"
    assert group_label("Faces", 2) == "Faces (2 models)"


def test_shift_matrix_missing_pair_is_an_error(tmp_path, small):
    tidy = pd.read_csv(small.stats_dir / shift_file("task"))
    tidy.iloc[1:].to_csv(tmp_path / "task.csv", index=False)
    with pytest.raises(ValueError, match="no D value for groups"):
        shift.read_shift_matrix(
            tmp_path / "task.csv", small.stats_dir / shift_groups_file("task"), "task"
        )


def test_overlap_check_finds_crowded_labels():
    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    ax.set_yticks(range(200), [f"label {i}" for i in range(200)], fontsize=10)
    assert overlapping_pairs(fig)


@pytest.mark.parametrize("name", LABEL_HEAVY)
@pytest.mark.parametrize("scale", ["small", "large"])
def test_labels_never_overlap(request, name, scale):
    stats = request.getfixturevalue(scale)
    fig = build(name, stats.stats_dir)
    assert overlapping_pairs(fig) == []
    sizes = {label.get_fontsize() for label in drawn_labels(fig)}
    assert min(sizes) >= MIN_LABEL_FONTSIZE


def test_large_matrix_scales_figure_instead_of_shrinking_font(large, small):
    big = build("shift_network", large.stats_dir)
    little = build("shift_network", small.stats_dir)
    assert len(big.axes[0].get_xticklabels()) == 300
    assert big.get_size_inches()[0] > 4 * little.get_size_inches()[0]
    assert big.axes[0].get_xticklabels()[0].get_fontsize() < 10


@pytest.mark.parametrize("name", FIGURES)
def test_figure_files_are_valid_png_and_pdf(tmp_path, small, name):
    fig = build(name, small.stats_dir)
    png, pdf = tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"
    save_figure(fig, [png, pdf], DPI)

    assert png.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01)
        width, height = image.size
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    inches = fig.get_size_inches()
    # bbox_inches="tight" trims or grows margins a little, never by a factor of two.
    assert 0.6 < width / (inches[0] * DPI) < 1.4
    assert 0.6 < height / (inches[1] * DPI) < 1.4
    assert len(colours) > 20

    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    assert b"/CreationDate" not in data
    assert not list(tmp_path.glob(".tmp-*"))


def test_pca_components_show_each_eigen_filter_and_its_evr(small):
    basis = read_basis(small.stats_dir / STATS_FILES["pca_basis"])
    fig = pca.plot_components(basis)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 9
    limit = np.abs(basis.components).max()
    for k, ax in enumerate(images):
        assert np.array_equal(ax.images[0].get_array(), basis.components[k].reshape(3, 3))
        assert ax.images[0].get_clim() == pytest.approx((-limit, limit))
        assert ax.get_xlabel() == f"EVR {100 * basis.explained_variance_ratio[k]:.2f} %"
    table = pca.components_table(basis)
    assert table["cumulative_evr"].iloc[-1] == pytest.approx(1.0)
    assert table.loc[2, "w4"] == pytest.approx(basis.components[2, 4])


def test_density_is_relative_to_the_densest_bin(small):
    hist = density.read_histogram(small.stats_dir / STATS_FILES["density"])
    fig = density.plot_density(hist)
    shown = fig.axes[0].images[0]
    assert shown.norm.vmin == pytest.approx(1e-5) and shown.norm.vmax == 1.0
    assert shown.get_array().max() == pytest.approx(1.0)
    i, j = np.unravel_index(np.argmax(hist.counts), hist.counts.shape)
    # c0 runs along x: the mode's column in the image is its c0 bin.
    assert shown.get_array()[j, i] == pytest.approx(1.0)
    table = density.density_table(hist)
    assert table["n_filters_in_range"].item() == hist.counts.sum()
    assert table["mode_count"].item() == hist.counts.max()


def test_depth_bins_put_first_layer_apart():
    conv_depth = pd.Series([0, 1, 3, 9, 5])
    norm = pd.Series([0.0, 0.1, 0.3, 1.0, np.nan])
    bins = degeneration.depth_bin(conv_depth, norm)
    assert bins.tolist()[:4] == ["first layer", "[0.0, 0.1]", "(0.2, 0.3]", "(0.9, 1.0]"]
    assert pd.isna(bins.iloc[4])


def test_degeneration_boxes_hold_one_mean_per_model(small):
    layers = degeneration.read_layer_metrics(small.stats_dir / STATS_FILES["layer_metrics"])
    table = degeneration.degeneration_table(layers)
    first = table[(table["depth_bin"] == "first layer") & (table["metric"] == "sparsity")]
    assert first["n_models"].item() == layers["model"].nunique()
    expected = layers[layers["conv_depth"] == 0]["sparsity"].median()
    assert first["median"].item() == pytest.approx(expected)
    fig = degeneration.plot_degeneration_by_depth(layers)
    assert texts(fig.axes[-1].get_xticklabels())[0] == f"first layer\n{len(small.models)} models"
    threshold_line = fig.axes[1].get_lines()[-1]
    assert "randomness threshold" in threshold_line.get_label()


def test_top_models_table_follows_the_ranking(tmp_path, small):
    top = ranking.read_top_models(small.stats_dir / STATS_FILES["degenerated_models"], 5)
    ranked = pd.read_csv(small.stats_dir / STATS_FILES["degenerated_models"])
    assert top["model"].tolist() == ranked.sort_values("rank")["model"].head(5).tolist()
    assert top["rank"].tolist() == [1, 2, 3, 4, 5]
    save_table(top, tmp_path / "top.csv")
    assert pd.read_csv(tmp_path / "top.csv")["model"].tolist() == top["model"].tolist()
    fig = ranking.plot_top_models(top)
    assert texts(fig.axes[0].get_yticklabels())[0] == f"1. {top['model'][0]}"


def test_ridge_has_one_row_per_category_in_every_panel(small):
    kde = ridge.read_kde(small.stats_dir / STATS_FILES["kde"])
    fig = ridge.plot_ridge(kde)
    categories = sorted(small.models["visual_category"].unique())
    assert len(fig.axes) == 9
    assert texts(fig.axes[0].get_yticklabels()) == categories
    assert all(len(ax.collections) == len(categories) for ax in fig.axes)
    peaks = ridge.ridge_table(kde)
    assert len(peaks) == 9 * len(categories)


def test_drift_boxplot_has_every_axis_with_its_pairs(small):
    upper = drift.read_upper_triangle(small.stats_dir / STATS_FILES["upper_triangle"])
    fig = drift.plot_drift_boxplot(upper)
    labels = texts(fig.axes[0].get_yticklabels())
    assert labels[0] == f"Task ({3 * 2 // 2} pairs)"
    assert len(labels) == len(SHIFT_AXES)
    table = drift.drift_table(upper)
    assert table["axis"].tolist() == list(SHIFT_AXES)
    assert table.loc[2, "n_pairs"] == 45  # ten depth deciles


def test_axis_without_groups_gets_a_note_not_a_crash(tmp_path):
    (tmp_path / "training_dataset.csv").write_text("group_a,group_b,D\n")
    (tmp_path / "training_dataset_groups.csv").write_text("group,n_models,n_filters\n")
    matrix = shift.read_shift_matrix(
        tmp_path / "training_dataset.csv",
        tmp_path / "training_dataset_groups.csv",
        "training_dataset",
    )
    fig = shift.plot_shift_matrix(matrix)
    assert fig.axes[0].get_title() == "Training Dataset: 0 groups"
    assert [t.get_text() for t in fig.axes[0].texts] == ["no groups"]
    save_figure(fig, [tmp_path / "empty.png"], DPI)
    assert shift.shift_table(matrix).columns.tolist() == ["group", "n_models", "mean_D"]


def test_every_catalogue_figure_has_its_report_caption(repo):
    for entry in FIGURE_CATALOGUE.values():
        assert (repo / "rules" / "report" / f"{entry.caption}.rst").is_file(), entry.name
    names = figure_names(["task", "framework"])
    assert names[:2] == ["shift_task", "shift_framework"] and len(names) == len(set(names))
    assert len(names) == len(FIGURE_CATALOGUE) + 1
