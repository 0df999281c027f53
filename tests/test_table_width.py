"""The compare table reads at 80 columns, shows every column with ``--wide``, and pipes clean.

Most tests draw a made-up comparison (nothing is measured) on a rich Console of a set width
that believes it is a terminal; one runs ``gilfree compare`` in a real pseudo-terminal of 80
columns, as the issue's ``tmux new -x 80`` did.
"""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import sys
import time

import pytest
from rich.console import Console

from gilfree import report
from gilfree.cli import main
from gilfree.comparison import CellResult, Comparison
from gilfree.harness.timing import FLAG_ABOVE_WORKERS, FLAG_NOISY
from gilfree.probe import GilHold

pytestmark = pytest.mark.thread_unsafe(reason="swaps rich consoles and runs a pseudo-terminal")

ELLIPSIS = "…"
TAIL = ("gil_verdict", "notes")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
HOLD = GilHold(ticks=90, duration_s=0.1, p50_ms=0.1, p99_ms=0.3, max_ms=0.5, blocked_fraction=0.01)


def _cell(kernel="sum_squares", variant="nogil", runner="processes", workers=2, **kw) -> CellResult:
    figures = {
        "kernel": kernel,
        "variant": variant,
        "runner": runner,
        "workers": workers,
        "size": "default",
        "matched": True,
        "wall_s": 0.0123456,
        "cpu_s": 0.0234567,
        "startup_s": 0.0456,
        "speedup": 1.93,
        "efficiency": 0.965,
        "gil": HOLD,
        "gil_verdict": "releases",
        "speedup_range": [1.8, 1.99],
    }
    return CellResult(**{**figures, **kw})


def made_up(*, interpreters: bool = False) -> Comparison:
    """A comparison with the widest things each column can hold, and every kind of note."""
    cells = [
        _cell(runner="serial", workers=1, speedup=1.0, efficiency=1.0),
        _cell(runner="threads", gil_verdict="holds in slices", serial_fallback=True, flags=[FLAG_NOISY]),
        _cell(
            runner="threads",
            workers=1,
            serial_fallback=True,
            speedup=1.31,
            efficiency=1.31,
            flags=[FLAG_ABOVE_WORKERS, FLAG_NOISY],
            speedup_range=[0.9, 1.4],
        ),
        _cell(variant="python", runner="processes", matched=False, gil_verdict="holds"),
        _cell(variant="openmp", runner="serial", gil_verdict=None),
        _cell(kernel="mandelbrot", runner="dask", options={"n_workers": 1, "threads_per_worker": 2}),
        _cell(kernel="mandelbrot", runner="dask", workers=3, options={"layout": "1x2+1x1"}),
        _cell(kernel="mandelbrot", runner="threads", matched=False, error="RuntimeError: it broke"),
        _cell(kernel="mandelbrot", variant="peer", runner="numba-parallel", kind="peer"),
    ]
    if interpreters:
        cells = [*cells, *(_cell(**{**vars(c), "interpreter": "3.13.5t"}) for c in cells[:3])]  # type: ignore[misc]
        for c in cells[: len(cells) - 3]:
            c.interpreter = "3.11.7"
    machine = {"cores": 2, "python": "3.11.7", "build": "gil", "gil_enabled": True}
    if interpreters:
        machine["interpreters"] = [{"label": "3.11.7"}, {"label": "3.13.5t"}]
    settings = {"size": "default", "python_size": "small", "repeat": 3}
    if interpreters:
        settings["pythons"] = ["3.11.7", "3.13.5t"]
    return Comparison(machine, settings, HOLD, 0.005, cells, ["variant 'python' runs at size 'small'"], 12.3)


def _terminal(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=True, color_system="truecolor")


def _lines(console: Console) -> list[str]:
    return ANSI.sub("", console.file.getvalue()).splitlines()  # type: ignore[attr-defined]


def _table_lines(lines: list[str]) -> list[str]:
    """The table's lines, its two header lines first: up to the text under it ("wall...")."""
    start = next(i for i, line in enumerate(lines) if line.startswith("kernel")) - 1
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("wall"))
    return lines[start:end]


# -- the short table at 80 columns, every column at 200 ------------------------------------------


@pytest.mark.parametrize("interpreters", [False, True], ids=["one-python", "python-column"])
def test_the_default_table_reads_at_80_columns(interpreters):
    comparison = made_up(interpreters=interpreters)
    console = _terminal(80)
    report.print_table(comparison, console=console)
    lines = _lines(console)
    text = "\n".join(lines)
    assert ELLIPSIS not in text, text
    assert max(len(line) for line in lines) <= 80
    header = " ".join(_table_lines(lines)[:2])
    for word in ("kernel", "variant", "runner", "workers", "wall", "speed-", "GIL", "notes"):
        assert word in header
    prose = " ".join(text.split())
    if interpreters:
        # a python column and a peer's long name: efficiency (speed-up / workers) makes room
        assert " python " in header and "effic-" not in header
        assert "left out to fit 80 columns: efficiency; --wide shows every column" in prose
    else:
        assert "effic-" in header and "0.96" in text and "left out" not in prose
    for value in ("sum_squares", "numba-parallel", "dask 1x2", "dask 1x2+1x1", "slices", "holds"):
        assert value in text, value
    assert "1.93" in text and "12.3" in text  # speed-up, wall ms
    # every mark, whole (the notes column may wrap, never cut)
    for mark in ("serial", ">workers", "noisy", "mismatch", "error"):
        assert re.search(rf"(^|\s){re.escape(mark)}(\s|$)", text, re.M), mark
    # what the marks mean is under the table, and what each flagged cell's figures were
    assert "serial: too little work to dispatch" in prose
    assert "nogil threads x1: above workers: a speed-up over 1 cannot be true (the host drifted)" in prose
    assert "nogil threads x1: noisy: round by round the speed-up ran from 0.90 to 1.40" in prose
    assert "mandelbrot nogil threads x2: RuntimeError: it broke" in prose


def test_the_default_matrix_fits_80_columns_one_line_a_cell():
    """The default matrix's runners, the widest kernel and verdict, two marks: one line each
    (only a peer's long name, a python column or three marks make the notes wrap)."""
    comparison = made_up()
    comparison.cells = [
        c for c in comparison.cells if c.runner in ("serial", "threads", "processes") and len(c.flags) < 2
    ]
    console = _terminal(80)
    report.print_table(comparison, console=console)
    rows = [r for r in _table_lines(_lines(console))[3:] if r.strip()]
    assert len(rows) == len(comparison.cells), rows


def test_wide_shows_every_column_at_200_columns():
    comparison = made_up()
    console = _terminal(200)
    report.print_table(comparison, console=console, wide=True)
    lines = _lines(console)
    text = "\n".join(lines)
    assert ELLIPSIS not in text
    assert max(len(line) for line in lines) <= 200
    header = " ".join(_table_lines(lines)[:2])
    for word in ("size", "start-up", "CPU", "GIL p99", "blocked", "matched", "notes"):
        assert word in header, word
    assert "NO" in text  # the matched column says the mismatch itself
    assert "mismatch" not in text


def test_the_default_table_at_200_columns_is_the_short_one():
    console = _terminal(200)
    report.print_table(made_up(), console=console)
    lines = _lines(console)
    header = " ".join(_table_lines(lines)[:2])
    assert "start-up" not in header and "matched" not in header
    assert any("--wide" in line for line in lines)  # the text under it says how to get them


def test_the_short_columns_are_named_and_the_csv_keeps_every_column():
    comparison = made_up()
    keys = [c.key for c in report.shown(comparison)]
    assert keys == list(report.SHORT_KEYS[:1] + report.SHORT_KEYS[2:])  # no python column here
    assert keys == ["kernel", "variant", "runner", "workers", "wall_ms", "speedup", "efficiency", *TAIL]
    assert [c.key for c in report.shown(comparison, wide=True)] == [c.key for c in report.COLUMNS]
    header = report.to_csv(comparison).splitlines()[0].split(",")
    assert header == [c.key for c in report.COLUMNS]


# -- off a terminal ------------------------------------------------------------------------------


@pytest.mark.parametrize("wide", [False, True], ids=["short", "wide"])
def test_a_piped_table_is_whole_and_has_no_trailing_spaces(capsys, wide):
    report.print_table(made_up(interpreters=True), wide=wide)
    out = capsys.readouterr().out
    assert "\x1b[" not in out  # no colour in a pipe
    assert ELLIPSIS not in out
    lines = out.splitlines()
    assert lines and all(line == line.rstrip() for line in lines), [ln for ln in lines if ln != ln.rstrip()]
    assert out.endswith("\n")
    # the text under the table is wrapped at 80, the table as wide as it is
    table = set(_table_lines(lines))
    assert all(len(line) <= report.tables.PIPED_TEXT_WIDTH for line in lines if line not in table)


def test_the_cli_pipes_the_table_without_trailing_spaces():
    argv = ["compare", "--kernels", "integrate", "--variants", "nogil", "--runners", "serial"]
    out = subprocess.run(
        [sys.executable, "-m", "gilfree", *argv, "--size", "tiny", "--repeat", "1", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")},
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("integrate") for line in lines), out.stdout
    assert all(line == line.rstrip() for line in lines)


# -- a real pseudo-terminal ----------------------------------------------------------------------


def _in_a_pty(argv: list[str], columns: int, timeout: float = 120.0) -> str:
    """Run ``argv`` with stdin, stdout and stderr on a pseudo-terminal ``columns`` wide."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
        assert proc.wait(timeout=30) == 0, out.decode(errors="replace")
    finally:
        os.close(master)
    return out.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
@pytest.mark.parametrize(("columns", "wide"), [(80, False), (200, True)], ids=["80", "200-wide"])
def test_compare_in_a_pseudo_terminal(columns, wide):
    argv = [sys.executable, "-m", "gilfree", "compare", "--kernels", "histogram", "--variants", "nogil"]
    argv += ["--size", "tiny", "--repeat", "1", "--no-progress", *(["--wide"] if wide else [])]
    text = _in_a_pty(argv, columns)
    lines = [ANSI.sub("", line).rstrip("\r") for line in text.splitlines()]
    assert "\x1b[" in text  # a terminal: in colour
    assert ELLIPSIS not in "\n".join(lines), "\n".join(lines)
    assert max(len(line) for line in lines) <= columns
    row = re.compile(r"(histogram)?\s+nogil\s+(serial|threads|processes)\s+\d+\s")
    rows = [line for line in lines if row.match(line)]
    assert len(rows) == 5, lines  # serial x1, threads x1 and x2, processes x1 and x2
    header = " ".join(_table_lines(lines)[:2])
    assert ("matched" in header and "start-up" in header) == wide


def test_wide_is_a_compare_option(capsys):
    argv = ["compare", "--kernels", "integrate", "--variants", "nogil", "--runners", "serial"]
    assert main([*argv, "--size", "tiny", "--repeat", "1", "--no-progress", "--wide"]) == 0
    out = capsys.readouterr().out
    assert "start-up" in out and "matched" in out
