"""Runners: serial, threads, processes (and dask) behind one protocol.

``with make_runner("threads", workers=2) as r: r.run("mandelbrot", "nogil")``
"""

from gilfree.runners._base import SCHEDULES, ChunkOutcome, Result, Runner, WorkerCrashed, resolve_workers
from gilfree.runners.registry import make_runner, names, register, runner_class

__all__ = [
    "SCHEDULES",
    "ChunkOutcome",
    "Result",
    "Runner",
    "WorkerCrashed",
    "make_runner",
    "names",
    "register",
    "resolve_workers",
    "runner_class",
]
