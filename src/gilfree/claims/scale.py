"""Claim 10: to scale past one machine you need processes. gilfree's answer is dask.distributed:
one worker process per machine, and nogil kernels on that worker's threads."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import gilfree
from gilfree.claims._core import INCONCLUSIVE, NOT_MEASURED, ONLY_IF, Claim, Figures, Verdict, fmt_x
from gilfree.claims._procs import no_leftovers
from gilfree.info import cores
from gilfree.kernels import REGISTRY
from gilfree.runners import make_runner

#: The extra that brings the dask runner's dependencies.
EXTRA = "dask"
#: The dask run "spread the work" when it beat one thread by this much. Why: a cluster's
#: scheduling costs milliseconds per task; on 2 or more cores, 1.3x shows it still paid off.
SPREAD_X = 1.3


def dask_runner() -> tuple[Any | None, str]:
    """The module ``gilfree.runners.dask`` if it and dask.distributed import; else why not."""
    if importlib.util.find_spec("gilfree.runners.dask") is None:
        return None, "this gilfree has no dask runner (gilfree.runners.dask)"
    try:
        return importlib.import_module("gilfree.runners.dask"), ""
    except ImportError as exc:
        return None, f"the dask runner needs dask.distributed ({exc})"


def measure_dask(quick: bool) -> Figures:
    """A nogil mandelbrot on a local dask cluster, next to one thread and a thread pool.

    The cluster runs it twice: the first run pays for scattering the inputs and warming the
    workers; the verdict uses the better of the two, as the thread figures use a warm pool.
    """
    module, reason = dask_runner()
    if module is None:
        return {"dask_measured": False, "reason": f"{reason}; pip install 'gilfree[{EXTRA}]'"}
    # Why these sizes: a cluster spends milliseconds a task on scheduling and transfers,
    # so the work must be long enough (0.3 s; 2 s in the full run) for that not to dominate.
    k = REGISTRY["mandelbrot"]
    inputs = k.make_inputs("default" if quick else "large")
    n = cores()
    serial = gilfree.run(k, "nogil", runner="serial", inputs=inputs)
    threads = gilfree.run(k, "nogil", runner="threads", workers=n, inputs=inputs)
    with no_leftovers(), make_runner("dask", n) as cluster:
        first = cluster.run(k, "nogil", inputs)
        second = cluster.run(k, "nogil", inputs)
        startup = cluster.startup_s
    best = min(first.wall_s, second.wall_s)
    return {
        "dask_measured": True,
        "workers_n": n,
        "serial_s": serial.wall_s,
        "threads_s": threads.wall_s,
        "threads_x": serial.wall_s / threads.wall_s,
        "dask_first_s": first.wall_s,
        "dask_s": best,
        "dask_startup_s": startup,
        "dask_x": serial.wall_s / best,
        "dask_matched": bool(first.matched and second.matched),
    }


def verdict_dask(f: Figures) -> Verdict:
    if not f["dask_measured"]:
        return Verdict(NOT_MEASURED, f["reason"])
    why = (
        f"a local dask cluster ran nogil mandelbrot {fmt_x(f['dask_x'])} faster than one thread "
        f"(start-up {f['dask_startup_s']:.1f} s); threads alone {fmt_x(f['threads_x'])}"
    )
    if not f["dask_matched"]:
        return Verdict(INCONCLUSIVE, "the dask run did not match the reference: " + why)
    if f["workers_n"] >= 2 and f["dask_x"] < SPREAD_X:
        if f["threads_x"] < SPREAD_X:
            return Verdict(INCONCLUSIVE, "no free core now, for threads either: " + why)
        return Verdict(INCONCLUSIVE, "the cluster did not spread the work: " + why)
    return Verdict(ONLY_IF, why, condition="'processes' means one per machine, with nogil threads inside it")


def headline_dask(f: Figures) -> str:
    if not f["dask_measured"]:
        return f"not measured: install gilfree[{EXTRA}]"
    return (
        f"dask LocalCluster: {fmt_x(f['dask_x'])} over 1 thread (start-up {f['dask_startup_s']:.1f} s); "
        f"threads {fmt_x(f['threads_x'])}"
    )


CLAIMS = [
    Claim(10, "To scale past one machine you need processes.", measure_dask, verdict_dask, headline_dask)
]
