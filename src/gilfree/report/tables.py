"""The compare table: its columns (shared with the CSV), their styles, and what is printed under it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gilfree.comparison import CellResult, Comparison
from gilfree.harness.timing import FLAG_ABOVE_WORKERS, FLAG_NOISY

#: Efficiency under this is red in the table: most of the workers' time was wasted.
EFFICIENCY_BAD = 0.5
#: Efficiency at or above this is green: close to the ideal line.
EFFICIENCY_GOOD = 0.9


# -- the columns, shared by the table and the CSV ------------------------------------------------


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1e3


def _mb(n: int | None) -> float | None:
    return None if n is None else n / 1e6


@dataclass(frozen=True)
class Note:
    """One note on a cell: the mark the table shows, and the words the CSV and the lines under
    the table give."""

    mark: str
    words: str


#: What each mark means, printed under the table when a cell shows it.
MARKS = {
    "mismatch": "a run did not match the kernel's reference",
    "error": "the cell failed; the error is printed below",
    "serial": "too little work to dispatch, so the harness ran it in the calling thread",
    ">workers": "a speed-up above the worker count cannot be true: the host drifted",
    "noisy": "the round-by-round speed-ups spread too widely to trust the figure",
}


def notes(c: CellResult) -> list[Note]:
    """What is doubtful or wrong about a cell, in :data:`MARKS` order (mismatch aside: the
    ``matched`` column says it, and the short table marks it itself)."""
    out = []
    if c.error:
        out.append(Note("error", c.error))
    if c.serial_fallback:
        out.append(Note("serial", "ran serially: too little work to dispatch"))
    if FLAG_ABOVE_WORKERS in c.flags:
        words = f"a speed-up over {c.workers} cannot be true (the host drifted)"
        out.append(Note(">workers", f"{FLAG_ABOVE_WORKERS}: {words}"))
    if FLAG_NOISY in c.flags and c.speedup_range:
        lo, hi = c.speedup_range
        out.append(Note("noisy", f"{FLAG_NOISY}: round by round the speed-up ran from {lo:.2f} to {hi:.2f}"))
    return out


def _notes(c: CellResult) -> str:
    """The notes column of the CSV: every note's words, ``; `` between them."""
    return "; ".join(n.words for n in notes(c))


def marks(c: CellResult, *, mismatch: bool = False) -> str:
    """The notes column of the table: one word per note, spaces between (so it can wrap)."""
    out = ["mismatch"] if mismatch and not c.matched and not c.error else []
    return " ".join([*out, *(n.mark for n in notes(c))])


def _fixed(places: int) -> Callable[[Any], str]:
    return lambda x: "-" if x is None else f"{x:.{places}f}"


#: The table shortens one verdict to keep its column narrow; JSON and CSV have it in full.
_SHORT = {"holds in slices": "slices", "partly releases": "partly", "inconclusive": "?"}


def runner_label(c: CellResult) -> str:
    """The runner as the table shows it: ``dask 1x2`` with the cluster's processes x threads
    (``dask 1x2+1x1`` for a cluster whose workers differ)."""
    layout = c.options.get("layout")
    return f"{c.runner} {layout}" if layout else c.label


@dataclass(frozen=True)
class Column:
    """One column: its CSV name, its table header, and how to get and show the value."""

    key: str
    header: str
    get: Callable[[CellResult], Any]
    fmt: Callable[[Any], str] = str
    numeric: bool = False


def _num(digits: int) -> Callable[[Any], str]:
    """Three significant figures at most, never in exponent notation."""

    def fmt(x: Any) -> str:
        if x is None:
            return "-"
        if x == 0 or not math.isfinite(x):
            return f"{x:g}"
        places = max(0, digits - 1 - math.floor(math.log10(abs(x))))
        return f"{x:.{places}f}"

    return fmt


COLUMNS: tuple[Column, ...] = (
    Column("kernel", "kernel", lambda c: c.kernel),
    Column("variant", "variant", lambda c: c.variant),
    Column("runner", "runner", runner_label),
    Column("workers", "workers", lambda c: c.workers, numeric=True),
    Column("size", "size", lambda c: c.size),
    Column("startup_ms", "start-up\nms", lambda c: _ms(c.startup_s), _num(2), True),
    Column("wall_ms", "wall\nms", lambda c: _ms(c.wall_s), _num(3), True),
    Column("cpu_ms", "CPU\nms", lambda c: _ms(c.cpu_s), _num(3), True),
    Column("speedup", "speed-\nup", lambda c: c.speedup, _fixed(2), True),
    Column("efficiency", "effic-\niency", lambda c: c.efficiency, _fixed(2), True),
    Column("gil_p99_ms", "GIL p99\nms", lambda c: c.gil and c.gil.p99_ms, _num(2), True),
    Column("gil_blocked", "GIL\nblocked", lambda c: c.gil and c.gil.blocked_fraction, _fixed(2), True),
    Column("gil_verdict", "GIL", lambda c: c.gil_verdict, lambda x: _SHORT.get(x, x or "-")),
    Column("matched", "matched", lambda c: c.matched, lambda x: "yes" if x else "NO"),
    Column("notes", "notes", _notes),  # the table shows marks(): see table()
)


#: Shown first when the cells come from several interpreters (``compare --python``).
PYTHON_COLUMN = Column("python", "python", lambda c: c.interpreter)
#: Shown before the notes when cells have them (``compare --workload``): what a pool costs.
COST_COLUMNS = (
    Column("moved_mb", "moved\nMB", lambda c: _mb(c.bytes_moved), _num(2), True),
    Column("dispatch_ms", "dispatch\nms", lambda c: _ms(c.dispatch_s), _num(2), True),
)

#: The columns the table shows unless asked for all of them (``compare --wide``): what fits
#: in 80 columns. Why these: which cell it is, its time, its speed-up and efficiency, the GIL
#: verdict, and the marks that say a figure is doubtful (a mismatch among them, as the
#: ``matched`` column is left out). The CSV always has every column.
SHORT_KEYS = ("kernel", "python", "variant", "runner", "workers", "wall_ms", "speedup", "efficiency")
SHORT_KEYS += ("gil_verdict", "notes")


def columns(comparison: Comparison) -> tuple[Column, ...]:
    """The CSV's columns (and the wide table's): ``python`` after ``kernel`` when interpreters
    are compared; a workload's name under "workload", and what its pools cost (bytes moved,
    dispatch) before the notes."""
    cols = COLUMNS
    if any(c.interpreter for c in comparison.cells):
        cols = (COLUMNS[0], PYTHON_COLUMN, *COLUMNS[1:])
    if comparison.cells and all(c.kind == "workload" for c in comparison.cells):
        # The first column names the workload; "variant" would say "workload" on every row.
        cols = (replace(cols[0], header="workload"), *(c for c in cols[1:] if c.key != "variant"))
    if any(c.bytes_moved is not None or c.dispatch_s is not None for c in comparison.cells):
        cols = (*cols[:-1], *COST_COLUMNS, cols[-1])
    return cols


#: Left out of the short table, in this order, where even it does not fit the terminal (a
#: python column and a peer's long name at 80 columns). Why these: efficiency is speed-up /
#: workers, and the time is in the CSV; the rest says which cell it is and whether to trust it.
LEAVE_OUT = ("efficiency", "wall_ms")


def shown(comparison: Comparison, *, wide: bool = False, omit: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """The columns the table shows: all of them if ``wide``, else :data:`SHORT_KEYS` less ``omit``."""
    cols = columns(comparison)
    return cols if wide else tuple(c for c in cols if c.key in SHORT_KEYS and c.key not in omit)


def rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One dict per cell, keyed by column: the raw values the table formats and the CSV writes."""
    cols = columns(comparison)
    return [{col.key: col.get(c) for col in cols} for c in comparison.cells]


# -- table ---------------------------------------------------------------------------------------


def _style(col: Column, value: Any, cell: CellResult) -> str | None:
    if col.key == "efficiency" and value is not None:
        return "red" if value < EFFICIENCY_BAD else "green" if value >= EFFICIENCY_GOOD else None
    if col.key == "matched":
        return None if value else "bold red"
    if col.key == "gil_verdict":
        return {
            "releases": "green",
            "partly releases": "cyan",
            "holds": "red",
            "holds in slices": "yellow",
            "inconclusive": "magenta",
        }.get(value or "")
    if col.key == "notes":
        if cell.error or not cell.matched:
            return "bold red"
        if cell.flags:
            return "yellow"
        return "dim"
    return None


def title(comparison: Comparison) -> str:
    """The line above the table: the machine, the Python(s), the size and the rounds."""
    m, settings = comparison.machine, comparison.settings
    if "interpreters" in m:
        runs_on = "Pythons " + ", ".join(settings.get("pythons", []))
    else:
        runs_on = (
            f"Python {m.get('python')} ({m.get('build')} build"
            f"{', GIL on' if m.get('gil_enabled') else ', GIL off'})"
        )
    size = settings.get("size")
    if size is None:  # an older document: the sizes its cells ran at
        size = ", ".join(dict.fromkeys(c.size for c in comparison.cells))
    python_size = settings.get("python_size")
    if python_size not in (None, size) and any(c.variant == "python" for c in comparison.cells):
        size = f"{size} (python {python_size})"
    repeat = settings.get("repeat")
    rounds = f"{repeat} round{'' if repeat == 1 else 's'} a cell"
    return f"gilfree compare: {m.get('cores')} cores, {runs_on}, size {size}, {rounds}"


def table(comparison: Comparison, *, wide: bool = False, omit: tuple[str, ...] = ()):
    """The comparison as a ``rich.table.Table``: one row per cell, a rule between kernels.

    Short (the default): :data:`SHORT_KEYS`, one space between columns, no frame, and the
    notes column the only one that wraps, so it reads at 80 columns. ``wide``: every column.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    cols = shown(comparison, wide=wide, omit=omit)
    keys = {col.key for col in cols}
    if wide:
        t = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False)
    else:
        t = Table(box=box.SIMPLE_HEAD, padding=0, show_edge=False)
    for col in cols:
        t.add_column(
            col.header,
            justify="right" if col.numeric else "left",
            no_wrap=col.key != "notes" or wide,
        )
    cells = comparison.cells
    for i, (cell, row) in enumerate(zip(cells, rows(comparison), strict=True)):
        first_of_kernel = i == 0 or cells[i - 1].kernel != cell.kernel
        last_of_kernel = i + 1 < len(cells) and cells[i + 1].kernel != cell.kernel
        texts = []
        for col in cols:
            if col.key == "notes":
                text = marks(cell, mismatch="matched" not in keys)
            elif col.key == "kernel" and not first_of_kernel:
                text = ""
            else:
                text = col.fmt(row[col.key])
            texts.append(Text(text, style=_style(col, row[col.key], cell) or ""))
        t.add_row(*texts, end_section=last_of_kernel)
    return t


#: A width no table reaches: to measure what a table needs rather than what a console gives it.
UNBOUNDED = 10_000


def fit(comparison: Comparison, console: Any, *, wide: bool = False) -> tuple[Any, tuple[str, ...]]:
    """The table for ``console``, and the columns left out (:data:`LEAVE_OUT`) so that every
    column but notes, which wraps, is whole at its width; ``wide`` leaves nothing out."""
    omit: tuple[str, ...] = ()
    t = table(comparison, wide=wide)
    unbounded = console.options.update_width(UNBOUNDED)  # what the table needs, not what it gets
    for key in () if wide else LEAVE_OUT:
        if console.measure(t, options=unbounded).minimum <= console.width:
            break
        omit += (key,)
        t = table(comparison, omit=omit)
    return t, omit


#: Off a terminal the lines under the table are wrapped at this width (the table is as wide
#: as it needs to be, so nothing in it is cut).
PIPED_TEXT_WIDTH = 80


def print_table(
    comparison: Comparison, *, stderr: bool = False, wide: bool = False, console: Any = None
) -> None:
    """Print the title, the table, what its marks mean, the notes and the total time (to
    stderr when stdout carries JSON, CSV or PNG).

    On a terminal the table fits the terminal's width (:func:`table` says how; ``wide`` may
    not). Off a terminal (a pipe, a file) it is printed as wide as it needs, so nothing in it
    is cut, without colour, and no line ends in spaces; the text under it is wrapped at
    :data:`PIPED_TEXT_WIDTH`. ``console``: a ``rich.console.Console`` to print on instead
    of stdout's or stderr's (tests give one of a set width).
    """
    import io

    from rich.console import Console

    if console is None:
        console = Console(stderr=stderr)
    out = console.file
    buffer = None
    omit: tuple[str, ...] = ()
    if not console.is_terminal:
        t = table(comparison, wide=wide)
        buffer = io.StringIO()
        width = max(PIPED_TEXT_WIDTH, Console(width=UNBOUNDED).measure(t).maximum)
        console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    else:
        t, omit = fit(comparison, console, wide=wide)
    text_width = min(console.width, PIPED_TEXT_WIDTH) if buffer is not None else None

    def say(text: str, style: str = "") -> None:
        console.print(text, style=style, highlight=False, markup=False, width=text_width)

    say(title(comparison))
    console.print(t)
    if omit:
        left_out = " and ".join(key.replace("_ms", " ms") for key in omit)
        say(f"left out to fit {console.width} columns: {left_out}; --wide shows every column", "dim")
    _explain(comparison, say, not wide)
    if buffer is not None:
        out.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))
        out.flush()


def _explain(comparison: Comparison, say: Callable[..., None], short: bool) -> None:
    """What is printed under the table: how to read it, the marks shown, each doubtful cell."""
    from gilfree.probe.verdicts import HOLDS_MIN_STALL_INTERVALS

    idle = comparison.idle
    workload = bool(comparison.cells) and all(c.kind == "workload" for c in comparison.cells)
    baseline = (
        "the workload run by the serial runner with 1 worker"
        if workload
        else "the same variant at the same size run by the serial runner with 1 worker"
    )
    say(
        f"{'wall' if short else 'wall, CPU'}: medians of the timed runs. speed-up: best run of "
        f"{baseline}, interleaved round by round with this cell, over this cell's best"
        + ("" if workload else " (peer rows: over gilfree's nogil)")
        + "; efficiency = speed-up / workers (for dask: processes x threads)."
    )
    if short:
        say(
            "GIL: the verdict of a heartbeat thread that listened while the cell ran: releases, "
            "holds, slices (holds it in slices, as pure Python does), partly (releases it for part of "
            "each run) or ? (too busy a machine to tell); see gilfree probe. Its "
            f"figures (p99 lateness, {idle.p99_ms:.2f} ms idle; share blocked), CPU and start-up: "
            "--wide, or --csv."
        )
    else:
        say(
            "GIL: how a heartbeat thread saw the GIL while the cell ran: its p99 lateness (idle "
            f"here: {idle.p99_ms:.2f} ms), the share of the run it was blocked, and the verdict "
            "(releases, holds, slices: holds it in slices, as pure Python does, partly: releases it "
            "for part of each run, ?: too busy a machine to tell); see gilfree probe."
        )
    if any(c.gil is not None and c.gil_verdict is None for c in comparison.cells):
        si = comparison.switch_interval_s * 1e3
        say(
            f"GIL -: no verdict: a run shorter than the switch interval ({si:g} ms) cannot keep the "
            "heartbeat waiting whatever it does, and a release shows only in chunks longer than "
            f"{HOLDS_MIN_STALL_INTERVALS:g} switch intervals"
        )
    used = {m for c in comparison.cells for m in marks(c, mismatch=short).split()}
    for mark, meaning in MARKS.items():
        if mark in used:
            say(f"{mark}: {meaning}", "dim")
    for c in comparison.cells:
        where = f"{c.kernel} {c.variant} {runner_label(c)} x{c.workers}"
        if c.interpreter:
            where = f"{c.interpreter}: {where}"
        for n in notes(c):
            if n.mark == "error":
                say(f"error: {where}: {n.words}", "red")
            elif n.mark != "serial":
                say(f"{where}: {n.words}", "yellow")
    for note in comparison.notes:
        say(f"note: {note}", "dim")
    if any(c.bytes_moved is not None or c.dispatch_s is not None for c in comparison.cells):
        say(
            "moved: bytes a run sends to worker processes and back; dispatch: one map of as many "
            "no-op chunks on that pool"
        )
    advice = comparison.recommendation
    if advice:
        say(f"recommendation: {advice['line']}", "bold")
        if advice.get("break_even_line"):
            say(advice["break_even_line"])
    failed = [c for c in comparison.cells if not c.matched]
    if failed:
        say(f"{len(failed)} cell(s) did not match the reference", "bold red")
    say(f"{len(comparison.cells)} cells in {comparison.total_s:.1f} s", "dim")
