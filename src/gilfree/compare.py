"""The comparison matrix: kernel x variant x runner x workers, each cell timed, checked and probed.

How a cell is measured (``gilfree compare`` prints the result; ``report`` renders it):

* **Inputs** are made once per kernel and size, and their reference value is computed before
  anything is timed (it is cached on the ``Inputs``); every cell of that kernel and size reuses
  them. Outputs written in place are poisoned before every run, so each run's check proves that
  run wrote them.
* **Pools** are started once per (runner, workers), outside every timed region; the seconds
  that took are the cell's ``startup_s``. One pool is alive at a time.
* **Timing**: one warm-up run, then ``repeat`` timed runs; the cell reports the median wall
  time and the median CPU time, both as the runner's ``Result`` measured them (around the
  ``map`` only: no splitting, combining or checking inside).
* **Speed-up** is the median wall time of the same kernel and variant, at the same size, run by
  the ``serial`` runner with one worker, divided by this cell's; **efficiency** is speed-up /
  workers. Both come from one ``compare`` run, never from figures taken at another time.
* **GIL-hold figures** come from one more run (repeated until ``GIL_WINDOW_S`` has passed, so
  short cells give the heartbeat enough ticks) under a :class:`gilfree.probe.Heartbeat`, after
  the timed runs: the heartbeat is a Python thread that competes for the GIL and a core, so it
  is kept away from the runs that are timed.
* **matched** is true only if every run of the cell (warm-up, timed, heartbeat) matched the
  kernel's reference.

The default matrix (no arguments): every kernel; variants ``python`` (at the ``small`` size,
``PYTHON_SIZE``, or the requested size if smaller), ``gil``, ``nogil`` and ``openmp`` (when
built with OpenMP); runners
``serial``, ``threads`` and ``processes``; workers 1 and all cores. ``serial`` runs only with
one worker, except ``openmp``, which parallelises inside one call and is always run by the
``serial`` runner with workers = OpenMP threads. The ``serial``, one-worker cell of every
kernel and variant is always measured, whatever ``runners`` says: every speed-up needs it.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gilfree._checks import integer
from gilfree.info import cores
from gilfree.kernels import SIZES, VARIANTS, Inputs, Kernel, build_info, get, names
from gilfree.probe import GilHold, Heartbeat, idle_baseline, verdict
from gilfree.runners import make_runner, resolve_workers, runner_class
from gilfree.runners.layouts import parse_layout

#: Runners of the default matrix, in the order their pools are started.
DEFAULT_RUNNERS = ("serial", "threads", "processes")
#: Timed runs per cell (after one warm-up). Why 3: the median of 3 already ignores one
#: outlier, and the default matrix must stay near a minute on 2 cores; 5 adds ~40%.
DEFAULT_REPEAT = 3
#: The ``python`` variant runs at this size, or at the requested size if that is smaller. Why:
#: pure Python is 50-100x slower than the compiled loop, so at the default size its rows alone
#: would take many minutes; at ``tiny`` (0.1-7 ms a run) a process pool's dispatch would hide
#: what the GIL does, so ``small`` (7-160 ms a run) is the size that shows it.
PYTHON_SIZE = "small"


def python_size(size: str) -> str:
    """The size the ``python`` variant runs at when the others run at ``size``."""
    return min(size, PYTHON_SIZE, key=SIZES.index)


#: The heartbeat run is repeated until it has lasted this long. Why: at a 1 ms period, 0.1 s
#: gives some 100 ticks free and 15 when pure Python makes each one wait a switch interval,
#: enough for a p75; short cells cost at most a few seconds more in all.
GIL_WINDOW_S = 0.1

#: A cell gets a GIL verdict only if its median run lasted at least this many switch
#: intervals. Why: a run shorter than one interval cannot keep the heartbeat waiting, whether
#: it holds the GIL or not; what the heartbeat sees then is the harness between runs.
VERDICT_MIN_RUN_INTERVALS = 1.0

#: The variant name of a peer's cells (their runner is the peer's name).
PEER = "peer"

#: Called before each step of a run with (steps done, steps in all, what comes next).
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, order=True)
class Cell:
    """One cell of the matrix: what to run (not yet how it went)."""

    kernel: str
    variant: str
    runner: str
    workers: int
    size: str


@dataclass
class Plan:
    """A validated matrix, ready to run: its cells, and what was left out and why."""

    cells: list[Cell]
    kernels: list[str]
    variants: list[str]
    runners: list[str]
    workers: list[int]
    size: str
    repeat: int
    notes: list[str] = field(default_factory=list)
    #: options per runner name, e.g. {"dask": {"scheduler": "tcp://host:8786"}}
    runner_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    peers: list[str] = field(default_factory=list)

    def pools(self) -> list[tuple[str, int]]:
        """(runner, workers) pairs in the order their pools are started (peers have none)."""
        order = {name: i for i, name in enumerate(self.runners)}
        pairs = {(c.runner, c.workers) for c in self.cells if c.variant != PEER}
        return sorted(pairs, key=lambda p: (order.get(p[0].split("-")[0], -1), p[0], p[1]))

    def make_runner(self, label: str, workers: int) -> Any:
        """A runner for a cell's runner label: ``dask-PxT`` is the dask runner in that layout."""
        name, _, layout = label.partition("-")
        options = dict(self.runner_options.get(name, {}))
        if name == "dask" and layout:
            options["n_workers"], options["threads_per_worker"] = parse_layout(layout)
        return make_runner(name, workers, **options)

    def inputs_needed(self) -> list[tuple[str, str]]:
        """(kernel, size) pairs, each made once."""
        return list(dict.fromkeys((c.kernel, c.size) for c in self.cells))

    def settings(self) -> dict[str, Any]:
        return {
            "kernels": self.kernels,
            "variants": self.variants,
            "runners": self.runners,
            "workers": self.workers,
            "size": self.size,
            "python_size": python_size(self.size),
            "repeat": self.repeat,
            "gil_window_s": GIL_WINDOW_S,
            "peers": self.peers,
            "runner_options": self.runner_options,
        }


@dataclass
class CellResult:
    """How one cell went. Times are in seconds; ``None`` where the cell failed."""

    kernel: str
    variant: str
    runner: str
    workers: int
    size: str
    matched: bool
    wall_s: float | None = None
    cpu_s: float | None = None
    wall_runs_s: list[float] = field(default_factory=list)
    cpu_runs_s: list[float] = field(default_factory=list)
    startup_s: float | None = None
    speedup: float | None = None
    efficiency: float | None = None
    gil: GilHold | None = None
    gil_verdict: str | None = None  # None: runs too short to tell (``VERDICT_MIN_RUN_INTERVALS``)
    n_chunks: int | None = None
    schedule: str | None = None
    serial_fallback: bool = False
    start_method: str | None = None
    transport: str | None = None
    error: str | None = None
    interpreter: str | None = None  # set by ``compare --python`` (gilfree.interpreters)

    @property
    def cell(self) -> Cell:
        return Cell(self.kernel, self.variant, self.runner, self.workers, self.size)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gil"] = None if self.gil is None else {**self.gil.to_dict(), "verdict": self.gil_verdict}
        del d["gil_verdict"]
        return d


@dataclass
class Comparison:
    """A finished matrix: machine facts, settings, the idle heartbeat, and one result per cell."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    idle: GilHold
    switch_interval_s: float
    cells: list[CellResult]
    notes: list[str]
    total_s: float

    @property
    def all_matched(self) -> bool:
        return all(c.matched for c in self.cells)

    def kernels(self) -> list[str]:
        return list(dict.fromkeys(c.kernel for c in self.cells))

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "switch_interval_s": self.switch_interval_s,
            "idle": self.idle.to_dict(),
            "notes": self.notes,
            "total_s": self.total_s,
            "cells": [c.to_dict() for c in self.cells],
        }


# -- planning ----------------------------------------------------------------------------------


def _names(what: str, given: Iterable[str] | None, known: Sequence[str]) -> list[str] | None:
    if given is None:
        return None
    if isinstance(given, str):
        raise TypeError(f"{what} must be a list of names, not a string")
    out = list(dict.fromkeys(given))
    if not out:
        raise ValueError(f"{what} must not be empty; expected some of {', '.join(known)}")
    for name in out:
        if name not in known:
            raise ValueError(f"unknown {what[:-1]} {name!r}; expected one of {', '.join(known)}")
    return out


def _available_runners(given: list[str] | None) -> list[str]:
    """Check every runner imports; one that does not (a missing extra) is an error."""
    chosen = list(DEFAULT_RUNNERS) if given is None else given
    for name in chosen:
        try:
            runner_class(name)
        except ImportError as exc:
            raise ValueError(f"runner {name!r} is not available: {exc}") from None
    return chosen


def plan(
    kernels: Iterable[str] | None = None,
    variants: Iterable[str] | None = None,
    runners: Iterable[str] | None = None,
    workers: Iterable[int] | None = None,
    size: str = "default",
    repeat: int = DEFAULT_REPEAT,
    *,
    layouts: Iterable[tuple[int, int]] | None = None,
    runner_options: dict[str, dict[str, Any]] | None = None,
    peers: bool = False,
) -> Plan:
    """Validate a selection and lay out its cells; ``None`` means the default for that axis.

    ``layouts`` adds dask cells in those (processes, threads) layouts, for comparing how the
    same cores are best split (runner label ``dask-PxT``). ``peers`` adds the installed peers
    (Numba, NumPy, numexpr, joblib: ``gilfree.peers``) as rows of variant ``peer``, their
    speed-ups over gilfree's own ``nogil`` serial cell. Every bad value raises ``ValueError``
    (or ``TypeError``) naming it, before anything runs.
    """
    notes: list[str] = []
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
    repeat = integer("repeat", repeat, minimum=1)
    ks = _names("kernels", kernels, names()) or names()
    openmp = build_info()["openmp"]
    vs = _names("variants", variants, VARIANTS)
    if vs is None:
        vs = list(VARIANTS)
        if not openmp:
            vs.remove("openmp")
            notes.append("variant 'openmp' absent: gilfree was built without OpenMP")
    elif "openmp" in vs and not openmp:
        raise ValueError("variant 'openmp' is absent: gilfree was built without OpenMP")
    rs = _available_runners(_names("runners", runners, _runner_names()))
    if workers is None:
        ws = sorted({1, cores()})
    else:
        if isinstance(workers, (str, bytes)):
            raise TypeError("workers must be a list of integers, not a string")
        ws = sorted({resolve_workers(w) for w in workers})
        if not ws:
            raise ValueError("workers must not be empty")

    cells: list[Cell] = []
    for k in ks:
        for v in vs:
            vsize = python_size(size) if v == "python" else size
            cells.append(Cell(k, v, "serial", 1, vsize))  # the baseline of every speed-up
            if v == "openmp":
                cells.extend(Cell(k, v, "serial", w, vsize) for w in ws)
                continue
            for r in rs:
                if r != "serial":
                    cells.extend(Cell(k, v, r, w, vsize) for w in ws)
    if "openmp" in vs and any(r != "serial" for r in rs):
        notes.append("variant 'openmp' runs its own threads inside one call: runner serial only")
    if "python" in vs and python_size(size) != size:
        notes.append(f"variant 'python' runs at size {python_size(size)!r}, its speed-ups against itself")
    if layouts is not None:
        lays = list(
            dict.fromkeys(
                (integer("processes", p, minimum=1), integer("threads", t, minimum=1)) for p, t in layouts
            )
        )
        if not lays:
            raise ValueError("layouts must name at least one PROCESSESxTHREADS layout")
        _available_runners(["dask"])
        for k in ks:
            for v in vs:
                if v != "openmp":
                    vsize = python_size(size) if v == "python" else size
                    cells.append(Cell(k, v, "serial", 1, vsize))
                    cells.extend(Cell(k, v, f"dask-{p}x{t}", p * t, vsize) for p, t in lays)
        if "dask" not in rs:
            rs = [*rs, "dask"]
    peer_names: list[str] = []
    if peers:
        from gilfree import peers as peer_table

        for peer in peer_table.PEERS:
            if peer.missing:
                notes.append(f"peer {peer.name!r} left out: {peer.missing}")
                continue
            peer_names.append(peer.name)
            for k in ks:
                if peer_table.has_version(peer, k):
                    cells.append(Cell(k, "nogil", "serial", 1, size))  # the peers' baseline
                    cells.extend(Cell(k, PEER, peer.name, w, size) for w in (ws if peer.parallel else [1]))
    cells = list(dict.fromkeys(cells))
    used = ["serial", *(r for r in rs if r != "serial")]
    options = {name: dict(o) for name, o in (runner_options or {}).items()}
    return Plan(cells, ks, vs, used, ws, size, repeat, notes, options, peer_names)


def _runner_names() -> list[str]:
    from gilfree.runners import names as runner_names

    return runner_names()


# -- running -----------------------------------------------------------------------------------


def _median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def _measure(runner: Any, cell: Cell, inputs: Inputs, repeat: int, idle: GilHold) -> CellResult:
    """Warm-up, ``repeat`` timed runs, then the heartbeat run(s); see the module docstring."""
    k = get(cell.kernel)
    out = CellResult(cell.kernel, cell.variant, cell.runner, cell.workers, cell.size, matched=True)

    def once(check: bool = True):
        k.reset_outputs(inputs)
        return runner.run(k, cell.variant, inputs, check=check)

    out.matched &= bool(once().matched)  # warm-up: not timed
    results = [once() for _ in range(repeat)]
    out.matched &= all(bool(r.matched) for r in results)
    out.wall_runs_s = [r.wall_s for r in results]
    out.cpu_runs_s = [r.cpu_s for r in results]
    out.wall_s, out.cpu_s = _median(out.wall_runs_s), _median(out.cpu_runs_s)
    last = results[-1]
    out.n_chunks, out.schedule = last.n_chunks, last.schedule
    out.serial_fallback = any(r.serial_fallback for r in results)
    out.start_method, out.transport = last.start_method, last.transport

    _listen(out, k, inputs, lambda: runner.run(k, cell.variant, inputs, check=False).value, idle)
    return out


def _listen(out: CellResult, k: Kernel, inputs: Inputs, call: Callable[[], Any], idle: GilHold) -> None:
    """The GIL figures of a cell: ``call`` repeated under a heartbeat, after the timed runs."""
    # Outputs are poisoned once, before the window: poisoning is the harness's work, not the
    # cell's (and NumPy's fill releases the GIL, which would make a short gil cell look free).
    clock = time.perf_counter
    k.reset_outputs(inputs)
    with Heartbeat() as hb:
        t0 = clock()
        while True:
            value = call()
            if clock() - t0 >= GIL_WINDOW_S:
                break
    out.matched &= bool(k.check(inputs, value))
    out.gil = hb.result()
    si = sys.getswitchinterval()
    if out.wall_s is not None and out.wall_s >= VERDICT_MIN_RUN_INTERVALS * si:
        out.gil_verdict = verdict(out.gil, idle, si).label


def _measure_peer(cell: Cell, inputs: Inputs, repeat: int, idle: GilHold) -> CellResult:
    """A peer timed as a cell is: set up outside the timing, a warm-up, ``repeat`` runs."""
    import contextlib

    from gilfree import peers as peer_table

    k = get(cell.kernel)
    out = CellResult(cell.kernel, cell.variant, cell.runner, cell.workers, cell.size, matched=True)
    with contextlib.ExitStack() as stack:
        call = peer_table.get(cell.runner).build(k, inputs, cell.workers, stack)
        if call is None:
            raise ValueError(f"peer {cell.runner!r} has no version of {cell.kernel}")

        def once() -> tuple[float, float, Any]:
            k.reset_outputs(inputs)
            w0, c0 = time.perf_counter(), time.process_time()
            value = call()
            return time.perf_counter() - w0, time.process_time() - c0, value

        out.matched &= k.check(inputs, once()[2])  # warm-up: not timed
        for _ in range(repeat):
            wall, cpu, value = once()
            out.matched &= k.check(inputs, value)
            out.wall_runs_s.append(wall)
            out.cpu_runs_s.append(cpu)
        out.wall_s, out.cpu_s = _median(out.wall_runs_s), _median(out.cpu_runs_s)
        _listen(out, k, inputs, call, idle)
    return out


def run(plan: Plan, progress: Progress | None = None) -> Comparison:
    """Run every cell of a plan; a failing cell is recorded (``error``, ``matched`` false), and
    the others still run. Ctrl-C stops at once, releasing the pool in use."""
    from gilfree.info import collect

    t_start = time.perf_counter()
    machine = collect()
    machine.pop("kernels", None)
    needed = plan.inputs_needed()
    total = len(needed) + len(plan.cells)
    done = 0

    def step(description: str) -> None:
        nonlocal done
        if progress is not None:
            progress(done, total, description)
        done += 1

    idle = idle_baseline()
    inputs: dict[tuple[str, str], Inputs] = {}
    for kname, size in needed:
        step(f"inputs {kname} {size}")
        k = get(kname)
        inputs[kname, size] = k.make_inputs(size)
        k.reference(inputs[kname, size])  # computed now, cached on the inputs, never timed

    results: dict[Cell, CellResult] = {}
    for rname, workers in plan.pools():
        cells = [c for c in plan.cells if (c.runner, c.workers) == (rname, workers)]
        try:
            runner = plan.make_runner(rname, workers)
            startup = runner.start()
        except Exception as exc:
            for c in cells:
                step(f"{c.kernel} {c.variant} {rname} x{workers}")
                results[c] = _failed(c, f"the {rname} pool did not start: {_one_line(exc)}")
            continue
        try:
            for c in cells:
                step(f"{c.kernel} {c.variant} {rname} x{workers}")
                try:
                    results[c] = _measure(runner, c, inputs[c.kernel, c.size], plan.repeat, idle)
                except Exception as exc:
                    results[c] = _failed(c, _one_line(exc))
                results[c].startup_s = startup
        finally:
            runner.close()
    for c in (c for c in plan.cells if c.variant == PEER):
        step(f"{c.kernel} peer {c.runner} x{c.workers}")
        try:
            results[c] = _measure_peer(c, inputs[c.kernel, c.size], plan.repeat, idle)
        except Exception as exc:
            results[c] = _failed(c, _one_line(exc))
    if progress is not None:
        progress(total, total, "done")

    ordered = [results[c] for c in plan.cells]
    for r in ordered:
        base_variant = "nogil" if r.variant == PEER else r.variant
        base = results.get(Cell(r.kernel, base_variant, "serial", 1, r.size))
        if base is not None and base.wall_s and r.wall_s:
            r.speedup = base.wall_s / r.wall_s
            r.efficiency = r.speedup / r.workers
    return Comparison(
        machine=machine,
        settings=plan.settings(),
        idle=idle,
        switch_interval_s=sys.getswitchinterval(),
        cells=ordered,
        notes=plan.notes,
        total_s=time.perf_counter() - t_start,
    )


def _failed(cell: Cell, error: str) -> CellResult:
    return CellResult(cell.kernel, cell.variant, cell.runner, cell.workers, cell.size, False, error=error)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def compare(
    kernels: Iterable[str] | None = None,
    variants: Iterable[str] | None = None,
    runners: Iterable[str] | None = None,
    workers: Iterable[int] | None = None,
    size: str = "default",
    repeat: int = DEFAULT_REPEAT,
    progress: Progress | None = None,
    **plan_options: Any,
) -> Comparison:
    """Plan and run a matrix in one call (``gilfree compare`` does the same from the shell)."""
    return run(plan(kernels, variants, runners, workers, size, repeat, **plan_options), progress)
