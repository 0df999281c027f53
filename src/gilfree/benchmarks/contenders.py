"""The contender table: gilfree's variant x runner x workers, and each peer, per kernel.

One row per contender; ``gilfree/benchmarks/conftest.py`` makes the rows' ids (``kernel:name``)
the tests' parameters, and the test looks its row up by id (:func:`by_id`), so the parameter
pytest-benchmark saves is a plain string. ``prepare`` makes the harness's contender for the
row (:mod:`gilfree.harness`), which does everything that must stay out of the timed region
(starting a pool, compiling Numba) and returns a :class:`~gilfree.harness.Prepared` call.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from gilfree import peers
from gilfree.harness import KernelOnRunner, PeerContender, Prepared
from gilfree.info import cores
from gilfree.kernels import REGISTRY, SIZES, Inputs
from gilfree.runners import make_runner, runner_class


@dataclass
class Contender:
    """One way of computing a kernel: a gilfree variant x runner, or a peer."""

    kernel: str
    name: str
    variant: str  # the gilfree variant, or "peer"
    runner: str  # the gilfree runner, or the peer's name
    workers: int
    baseline: bool = False  # the group's serial baseline for speed-ups

    @property
    def id(self) -> str:
        """The test id and saved parameter: ``kernel:name``."""
        return f"{self.kernel}:{self.name}"

    @property
    def missing(self) -> str | None:
        """Why this contender cannot run here, or None."""
        if self.variant == "peer":
            return peers.get(self.runner).missing
        try:
            runner_class(self.runner)
        except ImportError as exc:
            return f"the {self.runner} runner is unavailable: {exc}"
        return None

    def prepare(self, inputs: Inputs, stack: contextlib.ExitStack) -> Prepared:
        kernel = REGISTRY[self.kernel]
        if self.variant == "peer":
            return PeerContender(kernel, self.runner, self.workers).prepare(inputs, stack)
        runner = stack.enter_context(make_runner(self.runner, self.workers))
        return KernelOnRunner(kernel, self.variant, runner).prepare(inputs)


#: ``GILFREE_BENCH_KERNELS=mandelbrot,integrate`` narrows the suite to those kernels.
KERNELS_ENV = "GILFREE_BENCH_KERNELS"


def kernels() -> list[str]:
    """The kernels the suite runs: :data:`KERNELS_ENV`'s, or all of them."""
    chosen = [k for k in os.environ.get(KERNELS_ENV, "").split(",") if k]
    unknown = [k for k in chosen if k not in REGISTRY]
    if unknown:
        raise ValueError(
            f"{KERNELS_ENV}: unknown kernel(s) {', '.join(unknown)}; expected some of {', '.join(REGISTRY)}"
        )
    return chosen or list(REGISTRY)


#: ``GILFREE_BENCH_SIZE=tiny`` runs every kernel at that size (for a quick check of the suite).
SIZE_ENV = "GILFREE_BENCH_SIZE"


def size_of(kernel: str) -> str:
    """The inputs' size: :data:`SIZE_ENV`'s, else ``default`` (``large`` for ``sum_squares``,
    whose ``default`` is too short to measure memory bandwidth)."""
    size = os.environ.get(SIZE_ENV, "").strip()
    if size and size not in SIZES:
        raise ValueError(f"{SIZE_ENV}: unknown size {size!r}; expected one of {', '.join(SIZES)}")
    return size or ("large" if kernel == "sum_squares" else "default")


def contenders(kernel: str, workers: int | None = None) -> list[Contender]:
    """Every contender for one kernel, baseline first; ``workers`` defaults to all cores."""
    n = workers or cores()
    rows = [
        Contender(kernel, "gilfree-nogil-serial", "nogil", "serial", 1, baseline=True),
        Contender(kernel, f"gilfree-nogil-threads-{n}", "nogil", "threads", n),
        Contender(kernel, f"gilfree-gil-threads-{n}", "gil", "threads", n),
        Contender(kernel, f"gilfree-nogil-processes-{n}", "nogil", "processes", n),
    ]
    if "openmp" in REGISTRY[kernel].variants:
        rows.append(Contender(kernel, f"gilfree-openmp-{n}", "openmp", "serial", n))
    for p in peers.PEERS:
        if peers.has_version(p, kernel):
            w = n if p.parallel else 1
            rows.append(Contender(kernel, f"{p.name}-{w}", "peer", p.name, w))
    return rows


def by_id(contender_id: str) -> Contender:
    """The row whose test id is ``contender_id`` (``"mandelbrot:gilfree-nogil-serial"``)."""
    kernel = contender_id.split(":", 1)[0]
    for row in contenders(kernel):
        if row.id == contender_id:
            return row
    raise KeyError(f"no contender {contender_id!r}")
