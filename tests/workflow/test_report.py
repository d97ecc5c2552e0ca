"""The figure rules and the Snakemake HTML report, run for real on fixture statistics outputs.

A copy of the workflow gets a pre-filled ``results/stats/`` and a small Snakefile that includes
only ``rules/common.smk`` and ``rules/figures.smk``: the figure stage then runs exactly as in a
full build, without the hours of extraction and statistics before it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from stats_outputs import FIGURES, write_stats_fixture

CHROMIUM = Path("/usr/bin/chromium")
CATEGORIES = ["Distribution shifts", "PCA", "Densities", "Degeneration"]
FIGURES_ONLY = """\
configfile: "config/config.yaml"


report: "rules/report/workflow.rst"


include: "rules/common.smk"
include: "rules/figures.smk"


rule figures_only:
    input:
        figure_files(FIGURES_DIR, SHIFT_AXES, FIGURE_FORMATS),
    default_target: True
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, copy_workflow, snakemake) -> Path:
    """A workflow copy after the figure rules ran and ``--report report.html`` was built."""
    workdir = copy_workflow(tmp_path_factory.mktemp("report") / "wf")
    write_stats_fixture(workdir)
    (workdir / "figures_only.smk").write_text(FIGURES_ONLY)
    snakemake(workdir, "-s", "figures_only.smk", "--cores", "2")
    snakemake(workdir, "-s", "figures_only.smk", "--report", "report.html")
    return workdir


@pytest.mark.slow
def test_every_figure_is_written_in_each_format_with_its_numbers(built):
    figures = built / "results" / "figures"
    for name in FIGURES:
        for ext in ("png", "pdf", "csv"):
            assert (figures / f"{name}.{ext}").stat().st_size > 0, f"{name}.{ext}"
    assert (figures / "degenerated_models_top.csv").read_text().startswith("rank,model,")
    assert not list(figures.glob(".tmp-*"))
    logs = sorted(p.name for p in (built / "logs" / "figures").iterdir())
    assert "degeneration.log" in logs and "shift_task.log" in logs


@pytest.mark.slow
def test_report_lists_every_figure_and_table_with_rendered_captions(built):
    html = (built / "report.html").read_text(encoding="utf-8")
    for name in FIGURES:
        assert f"{name}.png" in html, name
        assert f"{name}.csv" in html, name
    for category in CATEGORIES:
        assert category in html
    # Captions are Jinja-rendered against the run's config and params.
    assert "The 20 most degenerated models" in html
    assert "grouping axis <strong>visual_category</strong>" in html
    assert "at 200 dpi" in html


def screenshot(url: str, shot: Path, profile: Path) -> None:
    """One headless Chromium screenshot of ``url`` with no network use besides the file."""
    proc = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=30000",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def sidebar_brightness(image: Image.Image) -> float:
    """Mean grey level of the report's navigation bar area (dark once the report has rendered)."""
    sidebar = image.crop((0, 0, 240, 1000)).convert("L")
    return sum(sidebar.get_flattened_data()) / (240 * 1000)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(built, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must provide /usr/bin/chromium (apt-get install chromium)")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    shot = tmp_path / "report.png"
    # The report is drawn by JavaScript from 5 MB of inline data; on a busy machine the headless
    # screenshot can come before the first paint, so a blank page gets two more chances.
    for attempt in range(3):
        screenshot((built / "report.html").as_uri(), shot, tmp_path / f"profile{attempt}")
        with Image.open(shot) as image:
            rgb = image.convert("RGB")
        if sidebar_brightness(rgb) < 160:
            break
    assert rgb.size == (1280, 2000)
    # The navigation bar (dark, on the left) and the workflow description (dark text on white,
    # to its right) exist only once the report's JavaScript has run.
    assert sidebar_brightness(rgb) < 160
    main = rgb.crop((260, 0, 1280, 2000)).convert("L")
    assert sum(1 for v in main.get_flattened_data() if v < 100) > 5000
    assert len(rgb.getcolors(maxcolors=1 << 20)) > 100
