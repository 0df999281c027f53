"""Runners: serial, threads, processes (and dask) behind one protocol.

``with make_runner("threads", workers=2) as r: r.map(func, chunks)``; a kernel run on a kept
pool is ``r.run("mandelbrot", "nogil")``, which the harness does.
"""

from typing import Any

from gilfree.runners._base import (
    SCHEDULES,
    ChunkOutcome,
    Runner,
    WorkerCrashed,
    check_timeout,
    resolve_workers,
)
from gilfree.runners.registry import make_runner, names, register, runner_class

__all__ = [
    "SCHEDULES",
    "ChunkOutcome",
    "Result",
    "Runner",
    "WorkerCrashed",
    "check_timeout",
    "make_runner",
    "names",
    "register",
    "resolve_workers",
    "runner_class",
]


def __getattr__(name: str) -> Any:
    # ``gilfree.runners.Result`` is where a kernel run's record used to live; it is the harness's
    # now (runners know nothing of kernels), and is looked up there only when asked for.
    if name == "Result":
        from gilfree.harness import Result

        return Result
    raise AttributeError(f"module 'gilfree.runners' has no attribute {name!r}")
