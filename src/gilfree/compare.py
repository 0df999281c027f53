"""The comparison matrix: kernel x variant x runner x workers, each cell measured by the harness.

How a cell is measured (``gilfree compare`` prints the result; ``report`` renders it):

* **Inputs** are made once per kernel and size, and their reference value is computed before
  anything is timed (it is cached on the ``Inputs``); every cell of that kernel and size reuses
  them. Outputs written in place are poisoned before every run, so each run's check proves that
  run wrote them.
* **Pools** are started once per (runner, workers, options), outside every timed region; the
  seconds that took are the cell's ``startup_s``. One pool is alive at a time, besides the
  serial runner of the baselines.
* **One listened run** first (:func:`gilfree.harness.listen_to`): the warm-up, and the GIL
  figures, with the heartbeat listening, repeated until ``GIL_WINDOW_S`` has passed.
* **Then ``repeat`` interleaved rounds** of the cell and its baseline, the same variant at the
  same size run by the ``serial`` runner with one worker (a peer's baseline: gilfree's ``nogil``
  serial): :func:`gilfree.harness.measure`. Wall and CPU times are medians; the **speed-up**
  is the ratio of the two series' best runs, with its spread, and flagged where it cannot be
  true or is too noisy (the statistics and why: :mod:`gilfree.harness.timing`). **Efficiency**
  is speed-up / workers.
* **matched** is true only if every run of the cell matched the kernel's reference.

The default matrix (no arguments): every kernel; variants ``python`` (at the ``small`` size,
``PYTHON_SIZE``, or the requested size if smaller), ``gil``, ``nogil`` and ``openmp`` (when
built with OpenMP); runners ``serial``, ``threads`` and ``processes``; workers 1 and all cores.
``serial`` runs only with one worker, except ``openmp``, which parallelises inside one call and
is always run by the ``serial`` runner with workers = OpenMP threads. The ``serial``, one-worker
cell of every kernel and variant is always measured: every speed-up needs it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gilfree import ceiling
from gilfree._checks import integer
from gilfree.comparison import Cell, CellResult, Comparison, options_key
from gilfree.harness import GIL_WINDOW_S, KernelOnRunner, PeerContender, Prepared, listen_to, measure
from gilfree.info import cores
from gilfree.kernels import SIZES, VARIANTS, Inputs, build_info, get, names
from gilfree.probe import GilHold, idle_baseline
from gilfree.runners import make_runner, resolve_workers, runner_class

#: Runners of the default matrix, in the order their pools are started.
DEFAULT_RUNNERS = ("serial", "threads", "processes")
#: Timed rounds per cell (after the listened run). Why 3: each round also runs the cell's
#: baseline, and the default matrix must stay near a minute on 2 cores; the best of 3 already
#: steps over a run hit by a stall, and 5 adds ~40%.
DEFAULT_REPEAT = 3
#: The ``python`` variant runs at this size, or at the requested size if that is smaller. Why:
#: pure Python is 50-100x slower than the compiled loop, so at the default size its rows alone
#: would take many minutes; at ``tiny`` (0.1-7 ms a run) a process pool's dispatch would hide
#: what the GIL does, so ``small`` (7-160 ms a run) is the size that shows it.
PYTHON_SIZE = "small"
#: The variant name of a peer's cells (their runner is the peer's name).
PEER = "peer"
#: How ``settings.statistic`` names the method (gilfree.harness.timing).
STATISTIC = "times: median of the timed runs; speed-up: best/best of interleaved rounds"


def python_size(size: str) -> str:
    """The size the ``python`` variant runs at when the others run at ``size``."""
    return min(size, PYTHON_SIZE, key=SIZES.index)


#: Called before each step of a run with (steps done, steps in all, what comes next).
Progress = Callable[[int, int, str], None]

#: A pool: (runner name, workers, options key).
Pool = tuple[str, int, tuple[tuple[str, Any], ...]]


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
    #: ``compare --workload``: what was asked for (MODULE:OBJ, or the workload's name)
    workload: str | None = None

    def pools(self) -> list[Pool]:
        """The pools of the kernel (or workload) cells, in the order they are started (peers
        have none)."""
        order = {name: i for i, name in enumerate(self.runners)}
        pairs = {(c.runner, c.workers, c.options) for c in self.cells if c.kind != "peer"}
        return sorted(pairs, key=lambda p: (order.get(p[0], -1), p[0], p[2], p[1]))

    def make_runner(self, pool: Pool) -> Any:
        """A runner for a pool: the plan's options for that runner, plus the cell's own."""
        name, workers, options = pool
        return make_runner(name, workers, **{**self.runner_options.get(name, {}), **dict(options)})

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
            "python_size": None if self.workload is not None else python_size(self.size),
            "repeat": self.repeat,
            "gil_window_s": GIL_WINDOW_S,
            "statistic": STATISTIC,
            "peers": self.peers,
            "runner_options": self.runner_options,
            "workload": self.workload,
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
    same cores are best split (runner ``dask``, options ``n_workers`` and ``threads_per_worker``).
    ``peers`` adds the installed peers (Numba, NumPy, numexpr, joblib: ``gilfree.peers``) as rows
    of variant ``peer``, their speed-ups over gilfree's own ``nogil`` serial cell. Every bad
    value raises ``ValueError`` (or ``TypeError``) naming it, before anything runs.
    """
    from gilfree.runners import names as runner_names

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
    rs = _available_runners(_names("runners", runners, runner_names()))
    if workers is None:
        ws = sorted({1, cores()})
    else:
        if isinstance(workers, (str, bytes)):
            raise TypeError("workers must be a list of integers, not a string")
        ws = sorted({resolve_workers(w) for w in workers})
        if not ws:
            raise ValueError("workers must not be empty")

    def vsize(v: str) -> str:
        return python_size(size) if v == "python" else size

    cells: list[Cell] = []
    for k in ks:
        for v in vs:
            cells.append(Cell(k, v, "serial", 1, vsize(v)))  # the baseline of every speed-up
            if v == "openmp":
                cells.extend(Cell(k, v, "serial", w, vsize(v)) for w in ws)
                continue
            for r in rs:
                if r != "serial":
                    cells.extend(Cell(k, v, r, w, vsize(v)) for w in ws)
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
                    cells.append(Cell(k, v, "serial", 1, vsize(v)))
                    for p, t in lays:
                        opts = options_key({"n_workers": p, "threads_per_worker": t})
                        cells.append(Cell(k, v, "dask", p * t, vsize(v), options=opts))
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
                    cells.extend(
                        Cell(k, PEER, peer.name, w, size, kind="peer") for w in (ws if peer.parallel else [1])
                    )
    cells = list(dict.fromkeys(cells))
    used = ["serial", *(r for r in rs if r != "serial")]
    options = {name: dict(o) for name, o in (runner_options or {}).items()}
    return Plan(cells, ks, vs, used, ws, size, repeat, notes, options, peer_names)


# -- running -----------------------------------------------------------------------------------


def _baseline_of(cell: Cell) -> Cell | None:
    """The cell a cell's speed-up is measured against (None for a baseline itself)."""
    if cell.is_baseline:
        return None
    variant = "nogil" if cell.kind == "peer" else cell.variant
    return Cell(cell.kernel, variant, "serial", 1, cell.size)


def measure_cell(
    cell: Cell, prepared: Prepared, baseline: Prepared | None, repeat: int, idle: GilHold
) -> CellResult:
    """The listened run (warm-up, GIL figures), then ``repeat`` rounds against the baseline."""
    out = CellResult(
        cell.kernel, cell.variant, cell.runner, cell.workers, cell.size, True, cell.kind, cell.options_dict
    )
    heard = listen_to(prepared, idle)
    out.matched &= heard.matched is not False
    out.gil, out.gil_verdict = heard.hold, heard.verdict
    m = measure(prepared, baseline, repeat=repeat, warmup=0, workers=cell.workers)
    s = m.series
    out.matched &= m.matched
    out.wall_runs_s, out.cpu_runs_s = s.wall_s, s.cpu_s
    out.wall_s, out.cpu_s = s.median_wall_s, s.median_cpu_s
    last = s.last
    out.n_chunks = len(last.chunk_s) or 1
    out.serial_fallback = any(x.done.inline for x in s.samples)
    if m.speedup is not None and m.baseline is not None:
        out.baseline_runs_s = m.baseline.wall_s
        out.speedup = m.speedup.value
        out.speedup_range = [m.speedup.low, m.speedup.high]
        out.flags = list(m.speedup.flags)
    elif cell.is_baseline:
        out.speedup = 1.0
    if out.speedup is not None:
        out.efficiency = out.speedup / cell.workers
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
    with make_runner("serial") as serial:
        baselines: dict[Cell, Prepared] = {}

        def baseline(cell: Cell) -> Prepared | None:
            b = _baseline_of(cell)
            if b is None:
                return None
            if b not in baselines:
                baselines[b] = KernelOnRunner(get(b.kernel), b.variant, serial).prepare(
                    inputs[b.kernel, b.size]
                )
            return baselines[b]

        for pool in plan.pools():
            cells = [c for c in plan.cells if c.kind == "kernel" and (c.runner, c.workers, c.options) == pool]
            label = cells[0].label
            try:
                runner = plan.make_runner(pool)
                startup = runner.start()
            except Exception as exc:
                for c in cells:
                    step(f"{c.kernel} {c.variant} {label} x{c.workers}")
                    results[c] = _failed(c, f"the {label} pool did not start: {_one_line(exc)}")
                continue
            try:
                for c in cells:
                    step(f"{c.kernel} {c.variant} {label} x{c.workers}")
                    try:
                        k = get(c.kernel)
                        p = KernelOnRunner(k, c.variant, runner).prepare(inputs[c.kernel, c.size])
                        results[c] = measure_cell(as_run(c, runner), p, baseline(c), plan.repeat, idle)
                        results[c].schedule = runner.schedule
                        facts = runner.describe()
                        results[c].start_method = facts.get("start_method")
                        results[c].transport = facts.get("transport")
                    except Exception as exc:
                        results[c] = _failed(c, _one_line(exc))
                    results[c].startup_s = startup
            finally:
                runner.close()
        for c in (c for c in plan.cells if c.kind == "peer"):
            step(f"{c.kernel} peer {c.runner} x{c.workers}")
            try:
                with contextlib.ExitStack() as peer_stack:
                    contender = PeerContender(get(c.kernel), c.runner, c.workers)
                    p = contender.prepare(inputs[c.kernel, c.size], peer_stack)
                    results[c] = measure_cell(c, p, baseline(c), plan.repeat, idle)
            except Exception as exc:
                results[c] = _failed(c, _one_line(exc))
    if progress is not None:
        progress(total, total, "done")

    # Memory-bound kernels: their GB/s against this machine's read ceiling for the same inputs,
    # measured now that every pool is closed (gilfree.ceiling; about 0.1 s at default sizes).
    if any(c.kernel in ceiling.MEMORY_BOUND for c in plan.cells):
        machine["memory_bound"] = ceiling.judge(results.values(), inputs)

    return Comparison(
        machine=machine,
        settings=plan.settings(),
        idle=idle,
        switch_interval_s=sys.getswitchinterval(),
        cells=[results[c] for c in plan.cells],
        notes=plan.notes,
        total_s=time.perf_counter() - t_start,
    )


def as_run(cell: Cell, runner: Any) -> Cell:
    """The cell as its (started) runner runs it: a Dask cluster's own processes x threads.

    Why: a cluster has the layout it has. One at a scheduler address gets all its threads
    whatever ``workers`` asked (``--workers 1`` on a 1x2 cluster uses both threads), and an
    embedded one picks a layout for the count. So a dask cell's ``workers`` is the cluster's
    thread count, which its efficiency and "above workers" flag are taken against, and its
    options name the layout: ``n_workers`` and ``threads_per_worker`` (the label ``dask 1x2``),
    or, for workers with different thread counts, ``layout`` (``1x2+1x1``). Other runners'
    cells are as planned.
    """
    extra = runner.describe().get("extra") or {}
    threads = extra.get("threads_per_process")
    if cell.runner != "dask" or not threads:
        return cell
    options = {
        k: v for k, v in cell.options_dict.items() if k not in ("n_workers", "threads_per_worker", "layout")
    }
    if len(set(threads)) == 1:
        options.update(n_workers=len(threads), threads_per_worker=threads[0])
    else:
        options["layout"] = extra["layout"]
    return replace(cell, workers=sum(threads), options=options_key(options))


def _failed(cell: Cell, error: str) -> CellResult:
    return CellResult(
        cell.kernel,
        cell.variant,
        cell.runner,
        cell.workers,
        cell.size,
        False,
        cell.kind,
        cell.options_dict,
        error=error,
    )


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


# -- the user's own workload ---------------------------------------------------------------------

#: Up to this many cores, a workload runs at every worker count 1..N; above it, at the powers
#: of two and N. Why: each count is a cell of a few timed rounds; 1..64 would take an hour.
EVERY_WORKER_COUNT_UP_TO = 8


def workload_workers(n: int | None = None) -> list[int]:
    """The worker counts of a workload's matrix on ``n`` cores (default: this machine's)."""
    n = cores() if n is None else n
    if n <= EVERY_WORKER_COUNT_UP_TO:
        return list(range(1, n + 1))
    return sorted({1 << k for k in range(n.bit_length()) if 1 << k <= n} | {n})


def plan_workload(
    workload: Any,
    runners: Iterable[str] | None = None,
    workers: Iterable[int] | None = None,
    repeat: int = DEFAULT_REPEAT,
    *,
    runner_options: dict[str, dict[str, Any]] | None = None,
    target: str | None = None,
) -> Plan:
    """Validate a workload's matrix and call its function once on its first chunk.

    Runners: every runner gilfree has that imports here (serial, threads, processes, dask, ...),
    or those named; workers: :func:`workload_workers`. Raises ``WorkloadError`` (a
    ``ValueError``) for a workload that cannot run, before any pool starts.
    """
    from gilfree.runners import names as runner_names
    from gilfree.workload import Workload, WorkloadError

    if not isinstance(workload, Workload):
        raise WorkloadError(f"expected a gilfree.Workload, got {type(workload).__name__}")
    repeat = integer("repeat", repeat, minimum=1)
    notes: list[str] = []
    given = _names("runners", runners, runner_names())
    if given is not None:
        rs = _available_runners(given)
    else:
        rs = []
        for name in runner_names():
            try:
                runner_class(name)
                rs.append(name)
            except ImportError as exc:
                notes.append(f"runner {name!r} left out: {exc}")
    if isinstance(workers, (str, bytes)):
        raise TypeError("workers must be a list of integers, not a string")
    ws = workload_workers() if workers is None else sorted({resolve_workers(w) for w in workers})
    if not ws:
        raise ValueError("workers must not be empty")
    workload.validate(max(ws))
    if workload.check is None:
        notes.append(f"workload {workload.name!r} has no check: matched says only that every run completed")
    name, size = workload.name, workload.size
    cells = [Cell(name, "workload", "serial", 1, size, kind="workload")]
    cells += [Cell(name, "workload", r, w, size, kind="workload") for r in rs if r != "serial" for w in ws]
    used = ["serial", *(r for r in rs if r != "serial")]
    options = {n: dict(o) for n, o in (runner_options or {}).items()}
    return Plan(cells, [name], ["workload"], used, ws, size, repeat, notes, options, [], target or name)


def _busy_s() -> tuple[float | None, float]:
    """(CPU seconds every process here has used, those this process and its descendants have,
    reaped or still alive): how busy the rest of the machine kept its cores during a run is the
    difference of the two's growth. Live descendants count too: a fork server, or Dask's
    nannies, reap the workers they started, not this process."""
    own = os.times()
    mine = own.user + own.system + own.children_user + own.children_system
    try:
        import psutil

        c = psutil.cpu_times()
    except Exception:  # no figures on this platform
        return None, mine
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            mine += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:  # gone since it was listed: its time is in os.times() once reaped
            pass
    fields = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(getattr(c, f, 0.0) for f in fields), mine


def run_workload(plan: Plan, workload: Any, progress: Progress | None = None) -> Comparison:
    """Run a workload's plan: each cell listened to, then timed in rounds interleaved with the
    serial one-worker run; each pool cell also gets its dispatch cost and (processes, dask) the
    bytes a run moves; then the recommendation (:func:`gilfree.recommend.recommend`)."""
    from gilfree.harness import WorkloadOnRunner
    from gilfree.harness.workloads import dispatch_s
    from gilfree.info import collect
    from gilfree.recommend import SHARED_CORES, recommend

    t_start = time.perf_counter()
    busy_start = _busy_s()
    machine = collect()
    machine.pop("kernels", None)
    total, done = len(plan.cells), 0
    idle = idle_baseline()
    results: dict[Cell, CellResult] = {}
    with make_runner("serial") as serial:
        base = WorkloadOnRunner(workload, serial).prepare()
        for pool in plan.pools():
            cells = [c for c in plan.cells if (c.runner, c.workers, c.options) == pool]
            try:
                runner = plan.make_runner(pool)
                startup = runner.start()
            except Exception as exc:
                for c in cells:
                    results[c] = _failed(c, f"the {c.label} pool did not start: {_one_line(exc)}")
                done += len(cells)
                continue
            try:
                for c in cells:
                    if progress is not None:
                        progress(done, total, f"{c.kernel} {c.label} x{c.workers}")
                    done += 1
                    try:
                        contender = WorkloadOnRunner(workload, runner)
                        p = contender.prepare()
                        r = measure_cell(c, p, None if c.is_baseline else base, plan.repeat, idle)
                        facts = runner.describe()
                        r.schedule, r.start_method = runner.schedule, facts.get("start_method")
                        r.transport = facts.get("transport")
                        if c.runner != "serial":
                            r.dispatch_s = dispatch_s(runner, contender.n_chunks)
                            r.bytes_moved = contender.bytes_moved()
                        results[c] = r
                    except Exception as exc:
                        results[c] = _failed(c, _one_line(exc))
                    results[c].startup_s = startup
            finally:
                runner.close()
    if progress is not None:
        progress(total, total, "done")
    cells = [results[c] for c in plan.cells]
    wall, (everyone, mine) = time.perf_counter() - t_start, _busy_s()
    others = None
    if everyone is not None and busy_start[0] is not None and wall > 0:
        others = max(0.0, (everyone - busy_start[0] - (mine - busy_start[1])) / wall)
    notes = list(plan.notes)
    if others is not None and others > SHARED_CORES:
        notes.append(f"the machine was shared: other processes kept {others:.1f} cores busy on average")
    advice = recommend(cells, gil_enabled=bool(machine.get("gil_enabled", True)), others_cores=others)
    return Comparison(
        machine=machine,
        settings=plan.settings(),
        idle=idle,
        switch_interval_s=sys.getswitchinterval(),
        cells=cells,
        notes=notes,
        total_s=time.perf_counter() - t_start,
        recommendation=advice.to_dict(),
    )


def compare_workload(
    workload: Any,
    runners: Iterable[str] | None = None,
    workers: Iterable[int] | None = None,
    repeat: int = DEFAULT_REPEAT,
    progress: Progress | None = None,
    *,
    runner_options: dict[str, dict[str, Any]] | None = None,
) -> Comparison:
    """``gilfree compare --workload`` from Python: a ``Workload`` (or ``"MODULE:OBJ"``) on every
    runner at workers 1..N, the same ``Comparison`` as for kernels, with a recommendation."""
    target = None
    if isinstance(workload, str):
        from gilfree.workload import load

        target, workload = workload, load(workload)
    p = plan_workload(workload, runners, workers, repeat, runner_options=runner_options, target=target)
    return run_workload(p, workload, progress)
