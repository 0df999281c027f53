"""Contenders: anything that can be prepared into a timed call over given inputs.

* :class:`KernelOnRunner`: a gilfree kernel variant on a runner. Here, and only here, are the
  kernel's chunks cut, the outcomes combined, the serial fallback decided, and the ``openmp``
  variant (which parallelises inside one call) run; the runner only executes ``map``.
* :class:`PeerContender`: a peer (Numba, NumPy, numexpr, joblib: :mod:`gilfree.peers`).

Both prepare into a :class:`~gilfree.harness.timing.Prepared`, which the harness times the
same way: the work and the combining of its parts inside the timed region, preparation,
resetting and checking outside it.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gilfree._cancel import CancelToken
from gilfree.harness.timing import Done, Prepared, interleave
from gilfree.kernels import Inputs, Kernel
from gilfree.runners import Runner
from gilfree.runners.serial import run_inline

#: A run is not dispatched to a pool when its estimated work is under this many times what
#: handing out its chunks and collecting them costs on that pool, measured (``dispatch_cost``).
#: Why: on n workers dispatching saves at most (1 - 1/n) of the work, so it pays from about
#: twice the dispatch cost; kernels' estimates are right within a factor of a few, and 10x
#: keeps a wrong estimate from making a parallel run slower than serial.
FALLBACK_MULTIPLE = 10.0
#: No-op rounds timed for a pool's dispatch cost. Why: a handful is enough for a best-of,
#: and costs well under a millisecond on a warm thread pool.
DISPATCH_ROUNDS = 5

_DISPATCH: weakref.WeakKeyDictionary[Runner, dict[int, float]] = weakref.WeakKeyDictionary()


def _noop(*_args: Any, cancel: Any = None) -> None:
    return None


def dispatch_cost(runner: Runner, n_chunks: int) -> float:
    """Seconds one ``map`` of ``n_chunks`` no-op chunks takes on this (started) runner, best of
    a few; measured once per runner and chunk count."""
    costs = _DISPATCH.setdefault(runner, {})
    if n_chunks not in costs:
        chunks = [()] * n_chunks
        p = Prepared(lambda: Done(runner.map(_noop, chunks)))
        costs[n_chunks] = interleave({"noop": p}, DISPATCH_ROUNDS, warmup=1, check=False)["noop"].best_wall_s
    return costs[n_chunks]


def runs_inline(estimate_s: float, dispatch_s: float) -> bool:
    """The serial fallback: too little work to be worth dispatching (pure, for tests)."""
    return estimate_s < FALLBACK_MULTIPLE * dispatch_s


class Contender(Protocol):
    """What the harness measures: a kind (``kernel``, ``peer``, ``workload``) and a prepare step."""

    kind: str

    def prepare(self, inputs: Inputs, stack: contextlib.ExitStack) -> Prepared: ...


@dataclass
class KernelOnRunner:
    """A kernel variant run by a (started) runner, over ``chunks`` or the runner's own split."""

    kernel: Kernel
    variant: str
    runner: Runner
    chunks: Sequence[Sequence[Any]] | None = None
    timeout: float | None = None
    #: allow the serial fallback on a thread pool (``runs_inline``)
    fallback: bool = True
    kind: str = "kernel"

    def prepare(self, inputs: Inputs, stack: contextlib.ExitStack | None = None) -> Prepared:
        k, runner = self.kernel, self.runner
        func = k.variant(self.variant)
        runner.start()
        reset = lambda: k.reset_outputs(inputs)  # noqa: E731
        check = lambda value: k.check(inputs, value)  # noqa: E731
        label = f"{k.name} {self.variant} {runner.name} x{runner.workers}"
        if self.variant == "openmp":
            return Prepared(self._openmp(func, inputs), reset, check, label)
        timeout, outputs = self.timeout, k.outputs
        # Only a thread pool can hand its work to the calling thread and still be itself: a
        # process or a cluster would then not be measured at all. Decided before the split:
        # cutting chunks by a cost hint can cost more than tiny work itself.
        if (
            self.fallback
            and self.chunks is None
            and runner.uses_threads
            and runner.name != "serial"
            and runs_inline(k.estimate_s(inputs, self.variant), dispatch_cost(runner, runner.n_chunks()))
        ):
            whole = [inputs.whole()]

            def inline() -> Done:
                outcomes = run_inline(func, whole, timeout=timeout, cancel=CancelToken())
                return Done(k.combine([o.value for o in outcomes]), None, [o.wall_s for o in outcomes], True)

            return Prepared(inline, reset, check, label)
        chunks = self.chunks if self.chunks is not None else k.split(inputs, runner.n_chunks())
        elsewhere = not runner.uses_threads  # the CPU was spent in other processes

        def mapped() -> Done:
            outcomes = runner.map(func, chunks, timeout=timeout, cancel=CancelToken(), outputs=outputs)
            value = k.combine([o.value for o in outcomes])
            cpu = sum(o.cpu_s for o in outcomes) if elsewhere else None
            return Done(value, cpu, [o.wall_s for o in outcomes])

        return Prepared(mapped, reset, check, label)

    def _openmp(self, func: Any, inputs: Inputs) -> Any:
        """``openmp`` parallelises inside one call: run here, with ``workers`` OpenMP threads."""
        runner = self.runner
        if not runner.uses_threads:
            raise ValueError(
                f"variant 'openmp' runs its own threads inside one call; use runner 'serial' or "
                f"'threads' (workers = OpenMP threads), not {runner.name!r}"
            )
        if self.chunks is not None:
            raise ValueError("variant 'openmp' takes no chunks: it splits its range itself")
        if self.timeout is not None:
            raise ValueError("variant 'openmp' cannot be given a timeout: OpenMP regions run to the end")
        whole, n = inputs.whole(), runner.workers
        return lambda: Done(func(*whole, num_threads=n))


@dataclass
class PeerContender:
    """A peer's version of a kernel with ``workers`` threads (``gilfree.peers``)."""

    kernel: Kernel
    peer: str
    workers: int
    kind: str = "peer"

    def prepare(self, inputs: Inputs, stack: contextlib.ExitStack) -> Prepared:
        from gilfree import peers

        k = self.kernel
        call = peers.get(self.peer).build(k, inputs, self.workers, stack)
        if call is None:
            raise ValueError(f"peer {self.peer!r} has no version of {k.name}")
        return Prepared(
            lambda: Done(call()),
            lambda: k.reset_outputs(inputs),
            lambda value: k.check(inputs, value),
            f"{k.name} {self.peer} x{self.workers}",
        )
