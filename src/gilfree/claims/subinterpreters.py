"""Claim 11: subinterpreters give processes' parallelism at threads' cost.

Measured on the three pools gilfree has (threads, processes, interpreters), each with the
same worker count: start-up per worker, dispatch per chunk, memory per worker, the cost of
moving one array to the workers, and the speed-up of pure-Python work (the ``python`` variant
of mandelbrot, which only processes and interpreters can run in parallel on a GIL build).
"""

from __future__ import annotations

import gc
import importlib
import time
from typing import Any

import numpy as np
import psutil

from gilfree.claims._core import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_MEASURED,
    ONLY_IF,
    Claim,
    Figures,
    Verdict,
    fmt_mb,
    fmt_ms,
    fmt_x,
    median,
)
from gilfree.claims._procs import no_leftovers
from gilfree.harness import KernelOnRunner, measure
from gilfree.info import cores
from gilfree.kernels import REGISTRY
from gilfree.runners import make_runner

EXTRA = "interpreters"
POOLS = ("threads", "processes", "interpreters")
MB = 1 << 20

#: Interpreters have "processes' parallelism" when their speed-up on pure Python is at least
#: this share of the processes' one. Why: both run chunks on separate GILs; 0.9 leaves room
#: for a busy machine's noise, not for a serialised run (which would give about 1/workers).
PARALLEL_SHARE = 0.9
#: ... and at least this speed-up on 2 or more workers: below it nothing ran in parallel.
PARALLEL_MIN_X = 1.3
#: A cost is "a thread's" when it is at most this many times the threads' figure, or at most
#: THREAD_SLACK above it (in the figure's unit). Why: an order of magnitude is where "like a
#: thread" stops being a fair description; the slack keeps two tiny figures from counting.
THREAD_X = 10.0
THREAD_SLACK = {"startup_ms": 1.0, "dispatch_us": 20.0, "memory_mb": 1.0, "move_ms": 0.5}
COSTS = tuple(THREAD_SLACK)


def interpreters_runner() -> tuple[Any | None, str]:
    """The module ``gilfree.runners.interpreters`` if it imports here; else why not."""
    try:
        return importlib.import_module("gilfree.runners.interpreters"), ""
    except ImportError as exc:
        return None, str(exc)


def _uss_mb(proc: psutil.Process) -> float:
    return proc.memory_full_info().uss / MB


def _pool_memory_mb(runner: Any, before_mb: float) -> float:
    """Memory the pool's workers hold: this process's growth, plus worker processes' own."""
    me = psutil.Process()
    gc.collect()
    grown = max(0.0, _uss_mb(me) - before_mb)
    if runner.name == "processes":
        grown += sum(_uss_mb(psutil.Process(pid)) for pid in runner.pids())
    return grown


def _pool_figures(name: str, n: int, repeat: int, x: np.ndarray) -> dict[str, float]:
    """Start-up and memory per worker, dispatch per chunk, and moving ``x`` once, for one pool."""
    from gilfree.kernels import _sum_squares

    starts = []
    for _ in range(repeat):
        with make_runner(name, n) as r:
            starts.append(r.startup_s / n)
    before = _uss_mb(psutil.Process())
    with make_runner(name, n) as r:
        # A warm pool whose workers have loaded a kernel, as a pool that runs gilfree does.
        r.map(_sum_squares.nogil, [(x[:8], 0, 1)] * n)
        memory = _pool_memory_mb(r, before) / n
        chunks = [()] * (4 * n)
        dispatch = []
        for _ in range(repeat + 2):
            t0 = time.perf_counter()
            r.map(int, chunks)
            dispatch.append((time.perf_counter() - t0) / len(chunks))
        moves = []
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            r.map(_sum_squares.nogil, [(x, 0, 1)] * n)  # reads one element: the rest is moving x
            moves.append(time.perf_counter() - t0)
    return {
        "startup_ms": median(starts) * 1e3,
        "dispatch_us": min(dispatch) * 1e6,
        "memory_mb": memory,
        "move_ms": min(moves) * 1e3,
    }


def _python_speedup(name: str, n: int, inputs: Any, repeat: int) -> float:
    """Pure-Python mandelbrot on the pool over one thread, timed in interleaved rounds (the
    harness's ``measure``: a drifting host falls on both sides alike), ratio of bests."""
    k = REGISTRY["mandelbrot"]
    with make_runner("serial") as s, make_runner(name, n) as r:
        serial = KernelOnRunner(k, "python", s).prepare(inputs)
        pool = KernelOnRunner(k, "python", r).prepare(inputs)
        m = measure(pool, serial, repeat=repeat, workers=n)
    assert m.speedup is not None
    return m.speedup.value


def measure_interpreters(quick: bool) -> Figures:
    module, reason = interpreters_runner()
    if module is None:
        return {"interp_measured": False, "reason": reason}
    n = max(2, min(cores(), 4))
    repeat = 3 if quick else 7
    x = np.ones((8 if quick else 64) * MB // 8)
    # Why small: pure Python at "small" runs for a fraction of a second, long enough that a
    # pool's dispatch (tens of microseconds) cannot hide the parallelism, short enough to repeat.
    inputs = REGISTRY["mandelbrot"].make_inputs("small")
    figures: Figures = {"interp_measured": True, "workers_n": n, "array_mb": x.nbytes / MB}
    with no_leftovers():
        for name in POOLS:
            for key, value in _pool_figures(name, n, repeat, x).items():
                figures[f"{name}_{key}"] = value
        for name in POOLS:
            figures[f"{name}_python_x"] = _python_speedup(name, n, inputs, repeat)
    return figures


def _thread_like(f: Figures, cost: str) -> bool:
    mine, theirs = f[f"interpreters_{cost}"], f[f"threads_{cost}"]
    return mine <= max(THREAD_X * theirs, theirs + THREAD_SLACK[cost])


def verdict_interpreters(f: Figures) -> Verdict:
    if not f["interp_measured"]:
        return Verdict(NOT_MEASURED, f["reason"])
    ix, px = f["interpreters_python_x"], f["processes_python_x"]
    costs = ", ".join(
        f"{c.split('_')[0]} {_fmt(c, f['interpreters_' + c])} (threads {_fmt(c, f['threads_' + c])}, "
        f"processes {_fmt(c, f['processes_' + c])})"
        for c in COSTS
    )
    why = f"pure-Python mandelbrot x{f['workers_n']}: interpreters {fmt_x(ix)}, processes {fmt_x(px)}; "
    why += costs
    if px < PARALLEL_MIN_X and ix < PARALLEL_MIN_X:
        return Verdict(INCONCLUSIVE, "no free core now, for processes either: " + why)
    if ix < PARALLEL_MIN_X or ix < PARALLEL_SHARE * px:
        return Verdict(FAILS, "interpreters did not run pure Python in parallel as processes did: " + why)
    dear = [c for c in COSTS if not _thread_like(f, c)]
    if not dear:
        return Verdict(HOLDS, why)
    if len(dear) == len(COSTS):
        return Verdict(FAILS, "their parallelism costs more than threads' on every count: " + why)
    names = " and ".join(c.split("_")[0] for c in dear)
    return Verdict(
        ONLY_IF,
        why,
        condition=f"the pool is started once and kept ({names} per worker cost more than a thread's)",
    )


def _fmt(cost: str, value: float) -> str:
    if cost == "memory_mb":
        return fmt_mb(value)
    if cost == "dispatch_us":
        return fmt_ms(value / 1e3)
    return fmt_ms(value)


def headline_interpreters(f: Figures) -> str:
    if not f["interp_measured"]:
        return f"not measured: needs Python 3.14, or pip install 'gilfree[{EXTRA}]' on 3.12-3.13"
    return (
        f"python x{f['workers_n']}: {fmt_x(f['interpreters_python_x'])} (processes "
        f"{fmt_x(f['processes_python_x'])}); start-up {fmt_ms(f['interpreters_startup_ms'])}/worker "
        f"(threads {fmt_ms(f['threads_startup_ms'])}, processes {fmt_ms(f['processes_startup_ms'])})"
    )


CLAIMS = [
    Claim(
        11,
        "Subinterpreters give processes' parallelism at threads' cost.",
        measure_interpreters,
        verdict_interpreters,
        headline_interpreters,
    )
]
