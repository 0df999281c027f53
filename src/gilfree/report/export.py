"""A comparison as JSON (the schema: :mod:`gilfree.comparison`) and as CSV (the table's columns)."""

from __future__ import annotations

import csv
import io
import json

from gilfree.comparison import SCHEMA, Comparison, to_dict
from gilfree.report.tables import columns, rows

__all__ = ["SCHEMA", "to_csv", "to_json"]


def to_json(comparison: Comparison) -> str:
    """The comparison as JSON text (:func:`gilfree.comparison.to_dict`)."""
    return json.dumps(to_dict(comparison), indent=2) + "\n"


def to_csv(comparison: Comparison) -> str:
    """The table's columns as CSV: raw numbers (ms where the header says so), empty for none."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = columns(comparison)
    writer.writerow([col.key for col in cols])
    for row in rows(comparison):
        writer.writerow(["" if row[c.key] is None else row[c.key] for c in cols])
    return buf.getvalue()
