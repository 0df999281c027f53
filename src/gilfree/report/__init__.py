"""Rendering: every table a command prints, the progress bar, JSON/CSV and the plot.

Measuring lives in :mod:`gilfree.compare` and :mod:`gilfree.harness`; this package only turns
finished results into something to read (as pytest-benchmark keeps its ``table`` and
``histogram`` apart from its timing). The JSON schema is :mod:`gilfree.comparison`'s.
"""

from gilfree.report.commands import print_claims, print_info, print_probe, print_run
from gilfree.report.export import SCHEMA, to_csv, to_json
from gilfree.report.files import check_writable, write_atomic, write_output
from gilfree.report.plot import (
    PLOT_EXTRA_HINT,
    PLOT_FORMATS,
    figure,
    plot_format,
    require_matplotlib,
    to_image,
    to_png,
)
from gilfree.report.progress import Progress, progress_bar
from gilfree.report.tables import (
    COLUMNS,
    EFFICIENCY_BAD,
    EFFICIENCY_GOOD,
    SHORT_KEYS,
    Column,
    columns,
    print_table,
    rows,
    shown,
    table,
)

__all__ = [
    "COLUMNS",
    "EFFICIENCY_BAD",
    "EFFICIENCY_GOOD",
    "PLOT_EXTRA_HINT",
    "PLOT_FORMATS",
    "SCHEMA",
    "SHORT_KEYS",
    "Column",
    "Progress",
    "check_writable",
    "columns",
    "figure",
    "plot_format",
    "print_claims",
    "print_info",
    "print_probe",
    "print_run",
    "print_table",
    "progress_bar",
    "require_matplotlib",
    "rows",
    "shown",
    "table",
    "to_csv",
    "to_image",
    "to_json",
    "to_png",
    "write_atomic",
    "write_output",
]
