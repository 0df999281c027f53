"""What report draws besides the compare table: the probe's verdict line and the plot's marks.

Nothing is measured: the results are made up, so each test is about the drawing alone.
"""

from __future__ import annotations

import importlib.util

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
        (RELEASES, "mymod:py_sumsq: releases the GIL (confidence high)"),
        (HOLDS, "mymod:py_sumsq: holds the GIL (confidence high)"),
        (HOLDS_IN_SLICES, "mymod:py_sumsq: holds the GIL in slices (confidence high)"),
    ],
)
def test_the_probe_line_reads_right_for_every_verdict(capsys, label, line):
    result = ProbeResult("mymod:py_sumsq", 12, HOLD, HOLD, 0.005, Verdict(label, "why [it is so]"), True)
    report.print_probe(result.to_dict())  # what the probe's child process hands back
    out = capsys.readouterr().out.splitlines()
    assert out[0] == line
    assert out[1] == "why [it is so]"  # the reason as written: brackets are not markup


def test_every_verdict_has_a_phrase():
    assert {verdict_phrase(v) for v in VERDICTS} == {
        "releases the GIL",
        "partly releases the GIL",
        "holds the GIL",
        "holds the GIL in slices",
        "inconclusive",
    }
    assert "holds in slices the GIL" not in {verdict_phrase(v) for v in VERDICTS}


# -- the plot marks serial fallback and flagged cells --------------------------------------------

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason='needs matplotlib: pip install "gilfree[plot]"'
)


def _cell(runner: str, workers: int, speedup: float, **kw) -> CellResult:
    variant, matched = kw.pop("variant", "nogil"), kw.pop("matched", True)
    return CellResult("integrate", variant, runner, workers, "small", matched, speedup=speedup, **kw)


def _comparison(cells: list[CellResult]) -> Comparison:
    machine = {"cores": 2, "python": "3.11.7", "build": "gil", "gil_enabled": True}
    return Comparison(machine, {"size": "small", "repeat": 3}, HOLD, 0.005, cells, [], 1.0)


def _artists(fig, gid: str) -> list:
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


@needs_matplotlib
def test_the_plot_marks_fallback_and_flagged_cells():
    import matplotlib.pyplot as plt

    from gilfree.report import plot

    comparison = _comparison(
        [
            _cell("serial", 1, 1.0),
            _cell("threads", 1, 1.2, serial_fallback=True),
            _cell("threads", 2, 2.4, flags=[FLAG_ABOVE_WORKERS, FLAG_NOISY], speedup_range=[1.5, 2.6]),
            _cell("processes", 2, 1.9),
            _cell("serial", 1, 1.0, variant="gil"),
            _cell("threads", 2, 1.2, variant="gil", serial_fallback=True, flags=[FLAG_NOISY]),
        ]
    )
    fig = report.figure(comparison)
    try:
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert plot.FALLBACK_LABEL in legend and plot.FLAGGED_LABEL in legend
        assert legend[-2:] == [plot.FALLBACK_LABEL, plot.FLAGGED_LABEL]  # after the lines
        hollow = _artists(fig, plot.FALLBACK_GID)
        assert sorted((x, y) for a in hollow for x, y in a.get_xydata().tolist()) == [(1, 1.2), (2, 1.2)]
        assert all(a.get_markerfacecolor() == "white" for a in hollow)
        crossed = _artists(fig, plot.FLAGGED_GID)
        assert sorted((x, y) for a in crossed for x, y in a.get_xydata().tolist()) == [(2, 1.2), (2, 2.4)]
        assert all(a.get_marker() == "x" for a in crossed)
    finally:
        plt.close(fig)


@needs_matplotlib
def test_a_plot_without_doubtful_cells_has_no_such_legend_entries():
    import matplotlib.pyplot as plt

    from gilfree.report import plot

    fig = report.figure(_comparison([_cell("serial", 1, 1.0), _cell("threads", 2, 1.95)]))
    try:
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert plot.FALLBACK_LABEL not in legend and plot.FLAGGED_LABEL not in legend
        assert not _artists(fig, plot.FALLBACK_GID) and not _artists(fig, plot.FLAGGED_GID)
    finally:
        plt.close(fig)


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
