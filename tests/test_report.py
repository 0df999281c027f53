"""What report draws besides the compare table: the probe's verdict line.

Nothing is measured: the results are made up, so each test is about the drawing alone.
"""

from __future__ import annotations

import pytest

from gilfree import report
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
