"""The contender table: gilfree's variant x runner x workers, and each peer, per kernel.

One row per contender; ``benchmarks/conftest.py`` turns the rows into test parameters and
``targets.py`` picks rows by name. ``prepare`` makes the harness's contender for the row
(:mod:`gilfree.harness`), which does everything that must stay out of the timed region
(starting a pool, compiling Numba) and returns a :class:`~gilfree.harness.Prepared` call.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from gilfree import peers
from gilfree.harness import KernelOnRunner, PeerContender, Prepared
from gilfree.info import cores
from gilfree.kernels import REGISTRY, Inputs
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
