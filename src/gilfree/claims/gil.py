"""Claims about the GIL itself: only one thread runs (1), it switches every few instructions (2),
and C code that releases it runs in parallel (7)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from gilfree.claims._core import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_MEASURED,
    ONLY_IF,
    Claim,
    Figures,
    Verdict,
    fmt_ms,
    fmt_x,
    median,
)
from gilfree.claims._procs import default_method, free_core_share, no_leftovers
from gilfree.harness import KernelOnRunner, Prepared, calls, interleave
from gilfree.info import cores, gil_status
from gilfree.kernels import REGISTRY, Inputs, Kernel
from gilfree.runners import Runner, make_runner

#: A speed-up on 2 workers at or above this means two really ran at once. Why: the ideal is
#: 2.0; 1.5 leaves room for an uneven split and a busy machine, and sits far above what
#: taking turns can give.
PARALLEL_X = 1.5
#: A speed-up on 2 workers at or below this means they took turns. Why: turn-taking gives
#: 1.0 (a little less with switching overhead); noise alone rarely adds 30%.
SERIAL_X = 1.3
#: Parallel efficiency (speed-up / workers) at which "runs in parallel" is earned. Why:
#: gilfree's target on a quiet machine is 0.97; 0.8 allows for load from other processes.
EFFICIENT = 0.8
#: Below this efficiency the kernels did not run in parallel to any useful degree.
INEFFICIENT = 0.6
#: The machine "had the cores free" when spinning processes got at least this share of them.
#: Why: processes do not share a GIL, so below this any thread figure measures the load.
FREE_CORES = 0.75
#: A median GIL hold within this factor of ``sys.getswitchinterval()`` "follows the interval".
#: Why: the switch happens one interval after the waiting thread asks, plus the wake-up of
#: the waiting thread: above 1x, well under 2x; below 0.5x would mean something else forced it.
INTERVAL_BAND = (0.5, 2.0)
#: At most this many loop iterations per turn would be "switches every few instructions".
#: Why: one iteration of the measuring loop is about ten bytecodes.
FEW_ITERATIONS = 100


# -- claim 1: only one thread can be running at once --------------------------------------------


def _python_inputs(quick: bool) -> Inputs:
    # integrate's python variant: about 70 ns a step in pure Python.
    n = 1_500_000 if quick else 4_000_000
    return REGISTRY["integrate"].build(np.random.default_rng(0), n=n)


def _kernel_inputs(kernel: Kernel, quick: bool) -> Inputs:
    """About 0.07 s (quick) or 0.25 s (full: the default size) of one core's work."""
    if not quick:
        return kernel.make_inputs("default")
    quick_params: dict[str, dict[str, Any]] = {
        "mandelbrot": {"width": 600, "height": 450, "max_iter": 256},
        "integrate": {"n": 50_000_000},
        "pairwise": {"n": 7_000},
        "primes": {"lo": 0, "hi": 1_100_000},
    }
    inputs = kernel.build(np.random.default_rng(0), **quick_params[kernel.name])
    inputs.size = "quick"
    return inputs


@dataclass
class _Timing:
    """One timed run."""

    wall_s: float


def _best_in_turns(repeat: int, *runs: Prepared) -> list[_Timing]:
    """The fastest of ``repeat`` runs of each, in interleaved rounds (``gilfree.harness``).

    Why in rounds and why the best: see :mod:`gilfree.harness.timing`, which says it once.
    """
    series = interleave({str(i): p for i, p in enumerate(runs)}, max(1, repeat), warmup=0, check=False)
    return [_Timing(series[str(i)].best_wall_s) for i in range(len(runs))]


def _kernel_run(runner: Runner, kernel: Kernel, variant: str, inputs: Inputs) -> Prepared:
    """A run of the kernel on a started runner (its pool's start-up is not in the time)."""
    return KernelOnRunner(kernel, variant, runner).prepare(inputs)


@contextlib.contextmanager
def _process_pool(workers: int) -> Iterator[Any]:
    """A warm pool of processes (the platform's default start method); gone on exit."""
    from gilfree.kernels import _reference

    with no_leftovers():
        pool = mp.get_context(default_method()).Pool(workers)
        try:
            pool.starmap(_reference.integrate, [(1000, 0, 1000)] * workers, chunksize=1)  # warm up
            yield pool
        finally:
            pool.terminate()
            pool.join()


def measure_one_thread(quick: bool) -> Figures:
    """Pure Python in 1 and 2 threads and 2 processes; the gil and nogil kernel in 2 threads."""
    from gilfree.kernels import _reference

    repeat = 2 if quick else 3
    k = REGISTRY["integrate"]
    py, kin = _python_inputs(quick), _kernel_inputs(k, quick)
    py_chunks = k.split(py, 2)
    # The pool first: fork from a process that runs no other threads yet.
    with (
        _process_pool(2) as pool,
        make_runner("serial", 1) as one,
        make_runner("threads", 2) as two,
    ):
        py_1, py_2t, py_2p, gil_1, gil_2t, nogil_1, nogil_2t = _best_in_turns(
            repeat,
            _kernel_run(one, k, "python", py),
            _kernel_run(two, k, "python", py),
            calls({"pool": lambda: pool.starmap(_reference.integrate, py_chunks, chunksize=1)})["pool"],
            _kernel_run(one, k, "gil", kin),
            _kernel_run(two, k, "gil", kin),
            _kernel_run(one, k, "nogil", kin),
            _kernel_run(two, k, "nogil", kin),
        )
    status = gil_status()
    return {
        "cores_n": cores(),
        "build": status["build"],
        "gil_enabled": status["gil_enabled"],
        "process_start_method": default_method(),
        "python_1_thread_s": py_1.wall_s,
        "python_2_threads_s": py_2t.wall_s,
        "python_2_processes_s": py_2p.wall_s,
        "python_2_threads_x": py_1.wall_s / py_2t.wall_s,
        "python_2_processes_x": py_1.wall_s / py_2p.wall_s,
        "gil_kernel_1_thread_s": gil_1.wall_s,
        "gil_kernel_2_threads_s": gil_2t.wall_s,
        "gil_kernel_2_threads_x": gil_1.wall_s / gil_2t.wall_s,
        "nogil_kernel_1_thread_s": nogil_1.wall_s,
        "nogil_kernel_2_threads_s": nogil_2t.wall_s,
        "nogil_kernel_2_threads_x": nogil_1.wall_s / nogil_2t.wall_s,
    }


def verdict_one_thread(f: Figures) -> Verdict:
    py, proc = f["python_2_threads_x"], f["python_2_processes_x"]
    gil, nogil = f["gil_kernel_2_threads_x"], f["nogil_kernel_2_threads_x"]
    figures = f"2 threads: Python {fmt_x(py)}, gil C {fmt_x(gil)}, nogil C {fmt_x(nogil)}"
    figures += f"; 2 processes {fmt_x(proc)}"
    if f["cores_n"] < 2:
        return Verdict(NOT_MEASURED, f"one core here: nothing can run at once, threads or not ({figures})")
    if proc < PARALLEL_X and nogil < PARALLEL_X:
        return Verdict(INCONCLUSIVE, f"even processes did not speed up: no free second core now ({figures})")
    # What the interpreter says about its GIL outranks what a timing suggests: load that comes
    # and goes can throw a timing off, not the GIL's state. A GIL build always has the GIL on
    # (figures saved before gil_enabled was measured may lack it).
    gil_on = f.get("gil_enabled", True if f.get("build") == "gil" else None)
    if py >= PARALLEL_X:
        if gil_on:
            return Verdict(
                INCONCLUSIVE,
                f"pure Python ran {fmt_x(py)} in 2 threads with the GIL on, which the GIL rules out: "
                f"the timing is off (load changed between runs?); rerun when quiet ({figures})",
            )
        return Verdict(FAILS, f"threads ran Python bytecode side by side: no GIL here ({figures})")
    if gil_on is False:
        return Verdict(
            INCONCLUSIVE,
            f"the GIL is off, yet pure Python gained only {fmt_x(py)} in 2 threads: machine too busy? "
            f"({figures})",
        )
    if py <= SERIAL_X and gil <= SERIAL_X and nogil >= PARALLEL_X:
        return Verdict(ONLY_IF, figures, condition="the thread runs Python bytecode or C that holds the GIL")
    if py <= SERIAL_X and gil <= SERIAL_X and nogil <= SERIAL_X:
        return Verdict(HOLDS, f"no kind of work ran faster in 2 threads ({figures})")
    return Verdict(
        INCONCLUSIVE, f"speed-ups between {SERIAL_X}x and {PARALLEL_X}x: rerun when quiet ({figures})"
    )


def headline_one_thread(f: Figures) -> str:
    return (
        f"2 threads: Python {fmt_x(f['python_2_threads_x'])}, gil {fmt_x(f['gil_kernel_2_threads_x'])}, "
        f"nogil {fmt_x(f['nogil_kernel_2_threads_x'])}; 2 processes {fmt_x(f['python_2_processes_x'])}"
    )


# -- claim 2: the active thread switches every 10 instructions or so ----------------------------


def _spin(me: int, cell: list[int], log: list[tuple[float, int, int]], stop: list[bool]) -> None:
    """Count loop iterations; on getting the CPU back from the other thread, log (time, me, count)."""
    clock, append = time.perf_counter, log.append
    i = 0
    while not stop[0]:
        i += 1
        if cell[0] != me:
            cell[0] = me
            append((clock(), me, i))


def _holds(log: list[tuple[float, int, int]]) -> tuple[list[float], list[int]]:
    """Hold times (s) and loop iterations per turn from the takeover log of two threads."""
    holds, iters = [], []
    last_seen: dict[int, tuple[int, int]] = {}  # thread -> (log index, count) of its last takeover
    for k, (_, me, i) in enumerate(log):
        if me in last_seen:
            k0, i0 = last_seen[me]
            if k0 + 1 < len(log) and k0 > 0:  # skip the very first turn (start-up)
                holds.append(log[k0 + 1][0] - log[k0][0])
                iters.append(i - i0)
        last_seen[me] = (k, i)
    return holds, iters


def _switching(interval: float, seconds: float) -> tuple[float, float, int]:
    """Median hold (s), median iterations per turn and number of turns at one switch interval."""
    old = sys.getswitchinterval()
    cell, log, stop = [-1], [], [False]
    threads = [threading.Thread(target=_spin, args=(me, cell, log, stop), daemon=True) for me in (0, 1)]
    try:
        sys.setswitchinterval(interval)
        for t in threads:
            t.start()
        time.sleep(seconds)
    finally:
        stop[0] = True
        for t in threads:
            if t.ident is not None:  # started
                t.join()
        sys.setswitchinterval(old)
    holds, iters = _holds(log)
    return median(holds), median(iters), len(holds)


def measure_switching(quick: bool) -> Figures:
    """How long one CPU-bound thread keeps the GIL, at the default interval and two others."""
    default = sys.getswitchinterval()
    settings = sorted({0.001, default, 0.020})
    figures: Figures = {"gil_enabled": gil_status()["gil_enabled"], "default_interval_ms": default * 1e3}
    for interval in settings:
        # At least ~12 turns at the longest interval.
        seconds = max(0.25, 12 * interval) if quick else max(0.6, 30 * interval)
        hold, iters, turns = _switching(interval, seconds)
        tag = f"switch_{interval * 1e3:g}ms".replace(".", "_")
        figures[f"{tag}_interval_ms"] = interval * 1e3
        figures[f"{tag}_hold_median_ms"] = hold * 1e3
        figures[f"{tag}_iterations_per_turn_n"] = iters
        figures[f"{tag}_turns_n"] = turns
    return figures


def _settings(f: Figures) -> list[tuple[float, float, float]]:
    """(interval ms, median hold ms, iterations per turn) for each setting measured."""
    out = []
    for key, interval in f.items():
        if key.startswith("switch_") and key.endswith("_interval_ms"):
            tag = key[: -len("_interval_ms")]
            out.append((interval, f[f"{tag}_hold_median_ms"], f[f"{tag}_iterations_per_turn_n"]))
    return sorted(out)


def verdict_switching(f: Figures) -> Verdict:
    rows = _settings(f)
    holds = ", ".join(f"{fmt_ms(h)} at {i:g} ms" for i, h, _ in rows)
    iters = median([n for *_, n in rows])
    if not f["gil_enabled"]:
        return Verdict(FAILS, f"no GIL here: both threads ran at once (median turn {holds})")
    lo, hi = INTERVAL_BAND
    if all(lo <= h / i <= hi for i, h, _ in rows) and iters > FEW_ITERATIONS:
        return Verdict(
            FAILS, f"it switches on a timer: median hold {holds}; ~{iters:,.0f} loop iterations a turn"
        )
    if iters <= FEW_ITERATIONS:
        return Verdict(HOLDS, f"a turn lasted only ~{iters:.0f} loop iterations (median hold {holds})")
    return Verdict(INCONCLUSIVE, f"hold times did not follow the interval ({holds}): machine too busy?")


def headline_switching(f: Figures) -> str:
    return "median GIL hold: " + ", ".join(f"{fmt_ms(h)} at {i:g} ms" for i, h, _ in _settings(f))


# -- claim 7: C extensions that release the GIL run in parallel ---------------------------------

COMPUTE_BOUND = ("mandelbrot", "integrate", "pairwise", "primes")


def _worker_counts(n: int) -> list[int]:
    """1..n, thinned to powers of two (and n) on big machines to bound the run time."""
    if n <= 4:
        return list(range(1, n + 1))
    counts = [1]
    while counts[-1] * 2 < n:
        counts.append(counts[-1] * 2)
    return [*counts, n]


def measure_c_parallel(quick: bool) -> Figures:
    """nogil and gil kernels in a thread pool at 1..cores workers, against one thread.

    Before and after, as a control, ``free_core_share``: how many of the cores processes
    could get at the time, so that a busy machine is not mistaken for a kernel that holds on.
    """
    repeat = 2 if quick else 3
    n = cores()
    counts = [w for w in _worker_counts(n) if w > 1]
    figures: Figures = {"cores_n": n}
    free = [free_core_share(n)] if n > 1 else []
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(make_runner("serial", 1))
        pools = {w: stack.enter_context(make_runner("threads", w)) for w in counts}
        for name in COMPUTE_BOUND:
            k = REGISTRY[name]
            inputs = _kernel_inputs(k, quick)
            for variant in ("nogil", "gil"):
                # gil gains nothing from more threads: measuring it at all cores says so.
                ws = counts if variant == "nogil" else counts[-1:]
                serial, *timings = _best_in_turns(
                    repeat,
                    _kernel_run(one, k, variant, inputs),
                    *(_kernel_run(pools[w], k, variant, inputs) for w in ws),
                )
                figures[f"{name}_{variant}_serial_s"] = serial.wall_s
                for w, t in zip(ws, timings, strict=True):
                    figures[f"{name}_{variant}_{w}_threads_x"] = serial.wall_s / t.wall_s
                    figures[f"{name}_{variant}_{w}_threads_efficiency_frac"] = serial.wall_s / t.wall_s / w
    if n > 1:
        free.append(free_core_share(n))
        figures["free_cores_frac"] = sum(free) / len(free)
    return figures


def _at_all_cores(f: Figures, variant: str, what: str) -> list[float]:
    n = f["cores_n"]
    return [
        f[f"{k}_{variant}_{n}_threads_{what}"]
        for k in COMPUTE_BOUND
        if f"{k}_{variant}_{n}_threads_{what}" in f
    ]


def verdict_c_parallel(f: Figures) -> Verdict:
    n = f["cores_n"]
    if n < 2:
        return Verdict(NOT_MEASURED, "one core here: nothing can run in parallel")
    eff = median(_at_all_cores(f, "nogil", "efficiency_frac"))
    x = median(_at_all_cores(f, "nogil", "x"))
    gil = median(_at_all_cores(f, "gil", "x"))
    free = f["free_cores_frac"]
    figures = f"nogil {fmt_x(x)} on {n} threads (efficiency {eff:.2f}), gil {fmt_x(gil)}; median of 4 kernels"
    if eff >= EFFICIENT:
        return Verdict(HOLDS, figures)
    if free < FREE_CORES:
        return Verdict(
            INCONCLUSIVE, f"only {free * n:.1f} of {n} cores were free, even to processes: {figures}"
        )
    if eff < INEFFICIENT:
        return Verdict(FAILS, figures)
    return Verdict(INCONCLUSIVE, f"efficiency {INEFFICIENT}-{EFFICIENT}: rerun when quiet ({figures})")


def headline_c_parallel(f: Figures) -> str:
    n = f["cores_n"]
    if n < 2:
        return "one core"
    return (
        f"{n} threads, median of 4 kernels: nogil {fmt_x(median(_at_all_cores(f, 'nogil', 'x')))} "
        f"(efficiency {median(_at_all_cores(f, 'nogil', 'efficiency_frac')):.2f}), "
        f"gil {fmt_x(median(_at_all_cores(f, 'gil', 'x')))}"
    )


CLAIMS = [
    Claim(
        1,
        "Only one thread can be running at once.",
        measure_one_thread,
        verdict_one_thread,
        headline_one_thread,
    ),
    Claim(
        2,
        "The active thread switches every 10 instructions or so.",
        measure_switching,
        verdict_switching,
        headline_switching,
    ),
    Claim(
        7,
        "C extensions that release the GIL run in parallel.",
        measure_c_parallel,
        verdict_c_parallel,
        headline_c_parallel,
    ),
]
