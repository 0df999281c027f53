"""What report draws besides the compare table: the probe's verdict line and the plot's marks.

Nothing is measured: the results are made up, so each test is about the drawing alone.
"""

from __future__ import annotations

import pytest

from gilfree import report
from gilfree.comparison import CellResult, Comparison
from gilfree.harness.timing import FLAG_ABOVE_WORKERS, FLAG_NOISY
from gilfree.probe import HOLDS, HOLDS_IN_SLICES, RELEASES, VERDICTS, GilHold, ProbeResult, Verdict
from gilfree.report.commands import verdict_phrase

HOLD = GilHold(ticks=90, duration_s=0.5, p50_ms=0.1, p99_ms=0.3, max_ms=0.5, blocked_fraction=0.01)


# -- gilfree probe's verdict line ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "line"),
    [
        (RELEASES, "mymod:py_sumsq: releases the GIL"),
        (HOLDS, "mymod:py_sumsq: holds the GIL"),
        (HOLDS_IN_SLICES, "mymod:py_sumsq: holds the GIL in slices"),
    ],
)
def test_the_probe_line_reads_right_for_every_verdict(capsys, label, line):
    result = ProbeResult("mymod:py_sumsq", 12, HOLD, HOLD, 0.005, Verdict(label, "why [it is so]"), True)
    report.print_probe(result, "mymod:py_sumsq")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == line
    assert out[1] == "why [it is so]"  # the reason as written: brackets are not markup


def test_every_verdict_has_a_phrase():
    assert {verdict_phrase(v) for v in VERDICTS} == {
        "releases the GIL",
        "holds the GIL",
        "holds the GIL in slices",
    }
    assert "holds in slices the GIL" not in {verdict_phrase(v) for v in VERDICTS}


# -- the table marks serial fallback and flagged cells --------------------------------------------


def _cell(runner: str, workers: int, speedup: float, **kw) -> CellResult:
    variant, matched = kw.pop("variant", "nogil"), kw.pop("matched", True)
    return CellResult("integrate", variant, runner, workers, "small", matched, speedup=speedup, **kw)


def _comparison(cells: list[CellResult]) -> Comparison:
    machine = {"cores": 2, "python": "3.11.7", "build": "gil", "gil_enabled": True}
    return Comparison(machine, {"size": "small", "repeat": 3}, HOLD, 0.005, cells, [], 1.0)


def test_the_table_marks_fallback_and_flagged_cells():
    from gilfree.report.tables import marks, notes

    fallback = _cell("threads", 2, 0.9, serial_fallback=True)
    flagged = _cell("threads", 2, 2.4, flags=[FLAG_ABOVE_WORKERS, FLAG_NOISY], speedup_range=[1.5, 2.6])
    wrong = _cell("threads", 2, 1.9, matched=False)
    assert marks(fallback) == "serial"
    assert marks(flagged) == ">workers noisy"
    assert marks(wrong) == "" and marks(wrong, mismatch=True) == "mismatch"
    # the notes' own words may hold "; " or ":" without becoming marks of their own
    assert [n.words for n in notes(flagged)] == [
        "above workers: a speed-up over 2 cannot be true (the host drifted)",
        "noisy: round by round the speed-up ran from 1.50 to 2.60",
    ]
    broken = _cell("threads", 2, 1.0, error="OSError: one; two", serial_fallback=True)
    assert marks(broken) == "error serial"
    csv_row = report.rows(_comparison([broken]))[0]
    assert csv_row["notes"] == "OSError: one; two; ran serially: too little work to dispatch"
