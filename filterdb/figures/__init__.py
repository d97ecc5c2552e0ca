"""Figures of the paper and the numbers behind them, drawn from the statistics outputs only.

Each module draws one family of figures from ``results/stats/`` files and returns matplotlib
``Figure`` objects (so tests can inspect tick labels) plus the small tables printed beside the
figures in the report. Nothing here recomputes a statistic from the filter database: a figure
that disagrees with the statistics would be worse than no figure.
"""

import matplotlib

# Figures are written by batch jobs and tests on machines without a display.
matplotlib.use("Agg")
