"""Rendering a comparison: the rich table, the progress bar, JSON, CSV and the plot (PNG, SVG, PDF).

Measuring lives in :mod:`gilfree.compare`; this module only turns a finished
:class:`~gilfree.compare.Comparison` into something to read (as pytest-benchmark keeps its
``table`` and ``histogram`` apart from its timing).

JSON schema (``gilfree compare --json FILE``)
---------------------------------------------
One object; times in seconds, ``null`` where a figure does not exist (a failed cell)::

    {
      "schema": "gilfree-compare/1",
      "machine": {                   # gilfree.info.collect(), less the kernel list
        "gilfree": "0.1.0", "python": "3.12.3", "implementation": "CPython",
        "executable": "...", "build": "gil" | "free-threaded", "gil_enabled": true,
        "cores": 2, "platform": "...", "machine": "x86_64",
        "compiler": "...", "openmp": true, "openmp_version": "..."
      },
      "settings": {"kernels": [...], "variants": [...], "runners": [...], "workers": [1, 2],
                   "size": "default", "python_size": "small", "repeat": 3, "gil_window_s": 0.1},
      "switch_interval_s": 0.005,    # sys.getswitchinterval() during the run
      "idle": {GIL-hold figures},    # the heartbeat with nothing running: the baseline
      "notes": ["..."],              # what was left out of the matrix, and why
      "total_s": 58.1,               # the whole run, inputs and references included
      "cells": [                     # one object per cell, in table order
        {
          "kernel": "mandelbrot", "variant": "nogil", "runner": "threads", "workers": 2,
          "size": "default",
          "matched": true,           # every run of the cell matched the reference
          "wall_s": 0.131, "cpu_s": 0.262,         # medians of the timed runs
          "wall_runs_s": [...], "cpu_runs_s": [...],  # each timed run
          "startup_s": 0.0002,       # starting this (runner, workers) pool, not timed
          "speedup": 1.96,           # serial wall time of the same variant / this one
          "efficiency": 0.98,        # speedup / workers
          "gil": {"ticks": 131, "duration_s": 0.13, "p50_ms": 0.07, "p75_ms": 0.08,
                  "p99_ms": 0.2, "max_ms": 1.1, "blocked_fraction": 0.01,
                  "cpu_wait_fraction": 0.02,   # null where the OS does not say (not Linux)
                  "gil_p75_ms": 0.08, "gil_max_ms": 0.4,   # lateness less the wait for a core
                  "short_slice": true,   # the heartbeat got a 0.1 ms time slice (Linux 6.12+)
                  "verdict": "releases" | "holds in slices" | "holds" | null},
                                       # verdict null: runs shorter than a switch
                                       # interval; "gil" null: the cell failed
          "n_chunks": 2, "schedule": "static", "serial_fallback": false,
          "start_method": null, "transport": null,    # set by the processes runner
          "error": null,             # one line, when the cell failed
          "interpreter": null        # compare --python: the interpreter, e.g. "3.13.5t"
        }
      ]
    }

The GIL-hold figures are defined in :mod:`gilfree.probe`. A new field may be added to this
schema without changing its name; a field removed or changing meaning gets a new number.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gilfree.compare import CellResult, Comparison, Progress

SCHEMA = "gilfree-compare/1"
PLOT_EXTRA_HINT = 'pip install "gilfree[plot]"'

#: Efficiency under this is red in the table: most of the workers' time was wasted.
EFFICIENCY_BAD = 0.5
#: Efficiency at or above this is green: close to the ideal line.
EFFICIENCY_GOOD = 0.9


# -- the columns, shared by the table and the CSV ------------------------------------------------


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1e3


def _notes(c: CellResult) -> str:
    notes = []
    if c.serial_fallback:
        notes.append("ran serially: too little work to dispatch")
    if c.error:
        notes.append(c.error)
    return "; ".join(notes)


def _fixed(places: int) -> Callable[[Any], str]:
    return lambda x: "-" if x is None else f"{x:.{places}f}"


#: The table shortens one verdict to keep its column narrow; JSON and CSV have it in full.
_SHORT = {"holds in slices": "slices"}


def _note_mark(note: str) -> str:
    """The table shows a mark; the notes themselves are printed under it."""
    if not note:
        return ""
    return "error" if "ran serially" not in note or ";" in note else "serial"


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
    Column("runner", "runner", lambda c: c.runner),
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


def columns(comparison: Comparison) -> tuple[Column, ...]:
    """The table's (and the CSV's) columns: ``python`` first when interpreters are compared."""
    if any(c.interpreter for c in comparison.cells):
        return (COLUMNS[0], PYTHON_COLUMN, *COLUMNS[1:])
    return COLUMNS


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
        return "red" if "Error" in value or "pool did not start" in value else "dim"
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
    title = f"gilfree compare: {m.get('cores')} cores, {runs_on}, median of {repeat} runs"
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
    console.print(
        "speed-up: over the same variant at the same size, run by the serial runner with 1 worker "
        "(peer rows: over gilfree's nogil); efficiency = speed-up / workers.\n"
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
        console.print("serial: too little work to dispatch, so the runner ran it serially", highlight=False)
    for c in marks:
        if c.error:
            where = f"{c.kernel} {c.variant} {c.runner} x{c.workers}"
            console.print(f"error: {where}: {c.error}", style="red", highlight=False)
    for note in comparison.notes:
        console.print(f"note: {note}", style="dim", highlight=False)
    failed = [c for c in comparison.cells if not c.matched]
    if failed:
        console.print(f"{len(failed)} cell(s) did not match the reference", style="bold red")
    console.print(f"{len(comparison.cells)} cells in {comparison.total_s:.1f} s", style="dim")


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress | None]:
    """A rich progress bar on stderr, as a ``compare.run`` progress callback (``None`` if off).

    It refreshes only when a step starts (``auto_refresh=False``): a refresh thread would
    compete with the heartbeat and the timed runs for the GIL, and be alive when a process
    pool forks.
    """
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<36}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        auto_refresh=False,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        task = bar.add_task("compare", total=None)

        def update(done: int, total: int, description: str) -> None:
            bar.update(task, completed=done, total=total, description=description)
            bar.refresh()

        yield update


# -- JSON and CSV --------------------------------------------------------------------------------


def _finite(obj: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def to_json(comparison: Comparison) -> str:
    """The comparison as JSON text, following the schema in this module's docstring."""
    return json.dumps({"schema": SCHEMA, **_finite(comparison.to_dict())}, indent=2) + "\n"


def to_csv(comparison: Comparison) -> str:
    """The table's columns as CSV: raw numbers (ms where the header says so), empty for none."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    cols = columns(comparison)
    writer.writerow([col.key for col in cols])
    for row in rows(comparison):
        writer.writerow(["" if row[c.key] is None else row[c.key] for c in cols])
    return buf.getvalue()


# -- plot ----------------------------------------------------------------------------------------


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or an ImportError that says what to install."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(f"--plot needs matplotlib: {PLOT_EXTRA_HINT}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Colour by variant and line style by runner, the same in every panel.
_VARIANT_COLOURS = {"python": "C0", "gil": "C3", "nogil": "C2", "openmp": "C4"}
_INTERPRETER_MARKERS = ("o", "s", "^", "D")
_RUNNER_STYLES = {"serial": "-.", "threads": "-", "processes": "--", "dask": ":", "interpreters": (0, (5, 1))}


def figure(comparison: Comparison):
    """Speed-up against workers: one panel per kernel, one line per variant x runner, and the
    ideal line. Serial rows with one worker are the baselines (1.0 by definition), so they are
    not drawn, except ``openmp``, whose serial runner is drawn over its thread counts."""
    plt = require_matplotlib()
    kernels = comparison.kernels()
    ncols = min(3, len(kernels))
    nrows = math.ceil(len(kernels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[len(kernels) :]:
        fig.delaxes(ax)
    all_workers = sorted({c.workers for c in comparison.cells})
    lo, hi = all_workers[0], all_workers[-1]
    handles: dict[str, Any] = {}
    interps = list(dict.fromkeys(c.interpreter or "" for c in comparison.cells))
    for ax, kname in zip(flat, kernels, strict=False):
        (ideal,) = ax.plot([lo, hi], [lo, hi], color="0.6", linestyle=":", linewidth=1)
        handles.setdefault("ideal", ideal)
        lines: dict[tuple[str, str, str], list[CellResult]] = {}
        for c in comparison.cells:
            if c.kernel != kname or c.speedup is None:
                continue
            if c.runner == "serial" and c.variant != "openmp":
                continue
            lines.setdefault((c.interpreter or "", c.variant, c.runner), []).append(c)
        for (interp, variant, runner), pts in lines.items():
            pts.sort(key=lambda c: c.workers)
            name = f"{variant} ({pts[0].size})" if variant == "python" else variant
            label = name if variant == "openmp" else f"{name} + {runner}"
            if interp:
                label = f"{interp}: {label}"
            (line,) = ax.plot(
                [c.workers for c in pts],
                [c.speedup for c in pts],
                marker=_INTERPRETER_MARKERS[interps.index(interp) % len(_INTERPRETER_MARKERS)],
                color=_VARIANT_COLOURS.get(variant),
                linestyle=_RUNNER_STYLES.get(runner, "-"),
                label=label,
            )
            handles.setdefault(label, line)
        ax.set_title(kname)
        ax.set_xticks(all_workers)
        ax.set_xlabel("workers")
        ax.set_ylabel("speed-up")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    # One legend for the figure: every panel uses the same colours and line styles.
    ncol = min(4, 2 * ncols, len(handles))
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=ncol)
    fig.suptitle(f"gilfree compare: speed-up over serial, {comparison.machine.get('cores')} cores")
    legend_in = 0.25 * math.ceil(len(handles) / ncol) + 0.15  # inches the legend needs
    height = fig.get_figheight()
    fig.tight_layout(rect=(0, legend_in / height, 1, 1 - 0.35 / height))
    return fig


#: What ``--plot FILE`` writes, by FILE's extension; stdout ("-") gets the first.
PLOT_FORMATS = ("png", "svg", "pdf")


def plot_format(target: str) -> str:
    """The format ``--plot TARGET`` is written in: its extension, or png for stdout ("-").

    Any other extension is a ``ValueError``: the name of a file should say what it holds.
    """
    if target == "-":
        return PLOT_FORMATS[0]
    fmt = Path(target).suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"--plot {target}: name a .png, .svg or .pdf file; the format comes from the name")
    return fmt


def to_image(comparison: Comparison, fmt: str = "png") -> bytes:
    """The plot as the bytes of an image in ``fmt``, one of :data:`PLOT_FORMATS`."""
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"plot format {fmt!r}: expected one of {', '.join(PLOT_FORMATS)}")
    plt = require_matplotlib()
    fig = figure(comparison)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110)
        return buf.getvalue()
    finally:
        plt.close(fig)


# -- writing files -------------------------------------------------------------------------------


def check_writable(path: str | os.PathLike[str], option: str = "output") -> None:
    """Fail now, with a one-line ``ValueError``, if ``path`` could not be written later.

    It creates and removes a scratch file in the directory, which proves more than
    ``os.access`` does (root, read-only mounts, full disks).
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} {path}: is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{option} {path}: directory {parent} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".gilfree-check-"):
            pass
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot write in {parent}: {exc.strerror or exc}") from None
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{option} {path}: the file exists and is not writable")


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, then a rename."""
    p = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a new file's usual mode
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_output(target: str, data: str | bytes, stdout: IO[Any] | None = None) -> None:
    """Write to a file atomically, or to stdout for ``-``."""
    if target != "-":
        write_atomic(target, data)
        return
    import sys

    out = stdout or sys.stdout
    if isinstance(data, bytes):
        out.flush()
        out.buffer.write(data)
        out.buffer.flush()
    else:
        out.write(data)
        out.flush()
