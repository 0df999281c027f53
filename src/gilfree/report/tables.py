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


#: Each note's opening words, and the mark the table shows for it (the CSV has the words).
_MARKS = {
    "ran serially": "serial",
    FLAG_ABOVE_WORKERS: ">workers",
    FLAG_NOISY: "noisy",
}


def _notes(c: CellResult) -> str:
    notes = []
    if c.serial_fallback:
        notes.append("ran serially: too little work to dispatch")
    if FLAG_ABOVE_WORKERS in c.flags:
        notes.append(f"{FLAG_ABOVE_WORKERS}: a speed-up over {c.workers} cannot be true; the host drifted")
    if FLAG_NOISY in c.flags and c.speedup_range:
        lo, hi = c.speedup_range
        notes.append(f"{FLAG_NOISY}: round by round the speed-up ran from {lo:.2f} to {hi:.2f}")
    if c.error:
        notes.append(c.error)
    return "; ".join(notes)


def _fixed(places: int) -> Callable[[Any], str]:
    return lambda x: "-" if x is None else f"{x:.{places}f}"


#: The table shortens one verdict to keep its column narrow; JSON and CSV have it in full.
_SHORT = {"holds in slices": "slices"}


def _note_mark(note: str) -> str:
    """The table shows marks; what they mean is printed under it."""
    marks = []
    for part in filter(None, note.split("; ")):
        marks.append(next((m for words, m in _MARKS.items() if part.startswith(words)), "error"))
    return ",".join(dict.fromkeys(marks))


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
    Column("runner", "runner", lambda c: c.label),
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
    Column("notes", "notes", _notes, lambda x: _note_mark(x)),
)


#: Shown first when the cells come from several interpreters (``compare --python``).
PYTHON_COLUMN = Column("python", "python", lambda c: c.interpreter)
#: Shown before the notes when cells have them (``compare --workload``): what a pool costs.
COST_COLUMNS = (
    Column("moved_mb", "moved\nMB", lambda c: _mb(c.bytes_moved), _num(2), True),
    Column("dispatch_ms", "dispatch\nms", lambda c: _ms(c.dispatch_s), _num(2), True),
)


def columns(comparison: Comparison) -> tuple[Column, ...]:
    """The table's (and the CSV's) columns: ``python`` first when interpreters are compared; a
    workload's name under "workload", and what its pools cost (bytes moved, dispatch) before
    the notes."""
    cols = COLUMNS
    if any(c.interpreter for c in comparison.cells):
        cols = (COLUMNS[0], PYTHON_COLUMN, *COLUMNS[1:])
    if comparison.cells and all(c.kind == "workload" for c in comparison.cells):
        # The first column names the workload; "variant" would say "workload" on every row.
        cols = (replace(cols[0], header="workload"), *(c for c in cols[1:] if c.key != "variant"))
    if any(c.bytes_moved is not None or c.dispatch_s is not None for c in comparison.cells):
        cols = (*cols[:-1], *COST_COLUMNS, cols[-1])
    return cols


def rows(comparison: Comparison) -> list[dict[str, Any]]:
    """One dict per cell, keyed by column: the raw values the table formats and the CSV writes."""
    cols = columns(comparison)
    return [{col.key: col.get(c) for col in cols} for c in comparison.cells]


# -- table ---------------------------------------------------------------------------------------


def _style(col: Column, value: Any) -> str | None:
    if col.key == "efficiency" and value is not None:
        return "red" if value < EFFICIENCY_BAD else "green" if value >= EFFICIENCY_GOOD else None
    if col.key == "matched":
        return None if value else "bold red"
    if col.key == "gil_verdict":
        return {"releases": "green", "holds": "red", "holds in slices": "yellow"}.get(value or "")
    if col.key == "notes" and value:
        marks = _note_mark(value)
        return "red" if "error" in marks else "yellow" if "noisy" in marks or ">" in marks else "dim"
    return None


def table(comparison: Comparison):
    """The comparison as a ``rich.table.Table``: one row per cell, a rule between kernels."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    m = comparison.machine
    if "interpreters" in m:
        runs_on = "Pythons " + ", ".join(comparison.settings.get("pythons", []))
    else:
        runs_on = (
            f"Python {m.get('python')} ({m.get('build')} build"
            f"{', GIL on' if m.get('gil_enabled') else ', GIL off'})"
        )
    repeat = comparison.settings.get("repeat")
    title = f"gilfree compare: {m.get('cores')} cores, {runs_on}, {repeat} rounds a cell"
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    cols = columns(comparison)
    for col in cols:
        t.add_column(col.header, justify="right" if col.numeric else "left", no_wrap=True)
    cells = comparison.cells
    for i, (cell, row) in enumerate(zip(cells, rows(comparison), strict=True)):
        first_of_kernel = i == 0 or cells[i - 1].kernel != cell.kernel
        last_of_kernel = i + 1 < len(cells) and cells[i + 1].kernel != cell.kernel
        texts = []
        for col in cols:
            text = col.fmt(row[col.key])
            if col.key == "kernel" and not first_of_kernel:
                text = ""
            texts.append(Text(text, style=_style(col, row[col.key]) or ""))
        t.add_row(*texts, end_section=last_of_kernel)
    return t


def print_table(comparison: Comparison, *, stderr: bool = False) -> None:
    """Print the table, what its marks mean, the notes and the total time (to stderr when stdout
    carries JSON, CSV or PNG). Off a terminal it is printed 160 columns wide, not rich's 80."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=160)
    console.print(table(comparison))
    idle = comparison.idle
    workload = bool(comparison.cells) and all(c.kind == "workload" for c in comparison.cells)
    console.print(
        "wall, CPU: medians of the timed runs. speed-up: best run of "
        + (
            "the workload run by the serial runner with 1 worker"
            if workload
            else "the same variant at the same size run by the serial runner with 1 worker"
        )
        + ", interleaved round by round with this cell, over this cell's best"
        + ("" if workload else " (peer rows: over gilfree's nogil)")
        + "; efficiency = speed-up / workers.\n"
        "GIL: how a heartbeat thread saw the GIL while the cell ran: its p99 lateness (idle here: "
        f"{idle.p99_ms:.2f} ms), the share of the run it was blocked, and the verdict "
        "(releases, holds, or holds in slices as pure Python does); see gilfree probe.",
        highlight=False,
    )
    if any(c.gil is not None and c.gil_verdict is None for c in comparison.cells):
        si = comparison.switch_interval_s * 1e3
        console.print(
            f"GIL -: runs shorter than the switch interval ({si:g} ms) cannot keep the heartbeat "
            "waiting whatever they do, so they get figures but no verdict",
            highlight=False,
        )
    marks = [c for c in comparison.cells if _notes(c)]
    if any(c.serial_fallback for c in marks):
        console.print("serial: too little work to dispatch, so the harness ran it serially", highlight=False)
    for c in marks:
        where = f"{c.kernel} {c.variant} {c.label} x{c.workers}"
        for part in _notes(c).split("; "):
            if part.startswith((FLAG_ABOVE_WORKERS, FLAG_NOISY)):
                console.print(f"{where}: {part}", style="yellow", highlight=False)
        if c.error:
            console.print(f"error: {where}: {c.error}", style="red", highlight=False)
    for note in comparison.notes:
        console.print(f"note: {note}", style="dim", highlight=False)
    if any(c.bytes_moved is not None or c.dispatch_s is not None for c in comparison.cells):
        console.print(
            "moved: bytes a run sends to worker processes and back; dispatch: one map of as many "
            "no-op chunks on that pool",
            highlight=False,
        )
    advice = comparison.recommendation
    if advice:
        console.print(f"recommendation: {advice['line']}", style="bold", highlight=False)
        if advice.get("break_even_line"):
            console.print(advice["break_even_line"], highlight=False)
    failed = [c for c in comparison.cells if not c.matched]
    if failed:
        console.print(f"{len(failed)} cell(s) did not match the reference", style="bold red")
    console.print(f"{len(comparison.cells)} cells in {comparison.total_s:.1f} s", style="dim")
