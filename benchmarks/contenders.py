"""The contender table: gilfree's variant x runner x workers, and each peer, per kernel.

One row per contender; ``benchmarks/conftest.py`` turns the rows into test parameters and
``targets.py`` picks rows by name. Preparing a contender (compiling Numba, starting a pool)
happens in ``prepare``, outside any timed region.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gilfree import peers
from gilfree.info import cores
from gilfree.kernels import REGISTRY, Inputs
from gilfree.runners import make_runner, runner_class

COMPUTE_BOUND = ("mandelbrot", "integrate", "pairwise", "primes")


@dataclass
class Contender:
    """One way of computing a kernel; ``prepare`` returns a zero-argument callable to time."""

    kernel: str
    name: str
    variant: str  # gilfree variant, or the peer's flavour
    runner: str  # gilfree runner, or the peer's name
    workers: int
    needs: str | None = None  # the module a peer needs
    baseline: bool = False  # the group's serial baseline for speed-ups
    build: Callable[[Contender, Inputs, contextlib.ExitStack], Callable[[], Any]] = field(
        default=None,
        repr=False,  # type: ignore[assignment]
    )

    @property
    def missing(self) -> str | None:
        """Why this contender cannot run here, or None."""
        if self.needs and not peers.available(self.needs):
            return peers.MISSING.get(self.needs, f"{self.needs} is not installed")
        if self.runner == "processes":
            try:
                runner_class("processes")
            except ImportError as exc:
                return f"the processes runner is unavailable: {exc}"
        return None

    def prepare(self, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
        return self.build(self, inputs, stack)


def _gilfree(c: Contender, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
    runner = stack.enter_context(make_runner(c.runner, c.workers))
    kernel = REGISTRY[c.kernel]
    chunks = None if c.variant == "openmp" else kernel.split(inputs, runner.n_chunks())
    return lambda: runner.run(kernel, c.variant, inputs, chunks, check=False).value


def _numba_serial(c: Contender, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
    f = peers.numba_kernels()[c.kernel]["njit"]
    f(*inputs.whole())  # compile outside the timed region
    return lambda: f(*inputs.whole())


def _numba_threads(c: Contender, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
    """Numba ``njit(nogil=True)`` in gilfree's thread pool, over gilfree's chunks."""
    f = peers.numba_kernels()[c.kernel]["njit"]
    f(*inputs.whole())
    runner = stack.enter_context(make_runner("threads", c.workers))
    chunks = REGISTRY[c.kernel].split(inputs, c.workers)

    def call() -> Any:
        return [o.value for o in runner.map(f, chunks)]

    return call


def _numba_parallel(c: Contender, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
    f = peers.numba_kernels()[c.kernel]["parallel"]
    peers.numba_threads(c.workers)
    f(*inputs.whole())
    return lambda: f(*inputs.whole())


def _numpy(c: Contender, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
    from threadpoolctl import threadpool_limits

    stack.enter_context(threadpool_limits(c.workers))
    f = peers.numpy_whole(c.kernel)
    return lambda: f(*inputs.whole())


def _numexpr(c: Contender, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
    import numexpr

    old = numexpr.set_num_threads(c.workers)
    stack.callback(numexpr.set_num_threads, old)
    f = peers.numexpr_whole(c.kernel)
    return lambda: f(*inputs.whole())


def _joblib(c: Contender, inputs: Inputs, stack: contextlib.ExitStack) -> Callable[[], Any]:
    """joblib's threading backend over the same nogil kernel and the same chunks."""
    from joblib import Parallel

    parallel = stack.enter_context(Parallel(n_jobs=c.workers, prefer="threads"))
    f = REGISTRY[c.kernel].nogil
    chunks = REGISTRY[c.kernel].split(inputs, c.workers)
    return lambda: peers.joblib_threads(f, chunks, c.workers, parallel)


def contenders(kernel: str, workers: int | None = None) -> list[Contender]:
    """Every contender for one kernel, baseline first; ``workers`` defaults to all cores."""
    n = workers or cores()
    k = REGISTRY[kernel]
    rows = [
        Contender(kernel, "gilfree-nogil-serial", "nogil", "serial", 1, baseline=True, build=_gilfree),
        Contender(kernel, f"gilfree-nogil-threads-{n}", "nogil", "threads", n, build=_gilfree),
        Contender(kernel, f"gilfree-gil-threads-{n}", "gil", "threads", n, build=_gilfree),
        Contender(kernel, f"gilfree-nogil-processes-{n}", "nogil", "processes", n, build=_gilfree),
    ]
    if "openmp" in k.variants:
        rows.append(Contender(kernel, f"gilfree-openmp-{n}", "openmp", "serial", n, build=_gilfree))
    rows += [
        Contender(kernel, "numba-njit-serial", "njit", "numba", 1, needs="numba", build=_numba_serial),
        Contender(kernel, f"numba-njit-threads-{n}", "njit", "numba", n, needs="numba", build=_numba_threads),
    ]
    if "parallel" in peers.NUMBA_FLAVOURS.get(kernel, ()):
        rows.append(
            Contender(
                kernel, f"numba-parallel-{n}", "parallel", "numba", n, needs="numba", build=_numba_parallel
            )
        )
    if peers.numpy_whole(kernel) is not None:
        rows.append(Contender(kernel, f"numpy-{n}", "numpy", "numpy", n, build=_numpy))
    if kernel in peers.NUMEXPR_KERNELS:
        rows.append(
            Contender(kernel, f"numexpr-{n}", "numexpr", "numexpr", n, needs="numexpr", build=_numexpr)
        )
    rows.append(Contender(kernel, f"joblib-threads-{n}", "nogil", "joblib", n, needs="joblib", build=_joblib))
    return rows
