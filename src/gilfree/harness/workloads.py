"""A user's :class:`~gilfree.workload.Workload` on a runner: a contender timed like the kernels.

:class:`WorkloadOnRunner` prepares into a :class:`~gilfree.harness.timing.Prepared` as
:class:`~gilfree.harness.contenders.KernelOnRunner` does: the pool started and the chunks cut
outside the timed region, the ``map`` and the ``combine`` inside it, the check after it. So a
workload's cells are measured by the same ``measure()``, interleaved with its serial baseline.

There is no serial fallback here: a user's workload runs on the runner that was asked for,
however little work it holds, because how much that costs is what the user wants to see.
"""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gilfree.harness.contenders import DISPATCH_ROUNDS
from gilfree.harness.timing import Done, Prepared, interleave
from gilfree.runners import Runner
from gilfree.workload import Workload, describe


def call_part(func: Any, *args: Any, cancel: Any = None) -> Any:
    """What runners call for a workload's chunk: ``func(*args)``, the cancel token kept back.

    Why: runners pass ``cancel=`` to whatever they call, and a user's function need not take it.
    Module-level, so that worker processes import it by name.
    """
    return func(*args)


def _nothing(_: Any = None) -> None:
    return None


def dispatch_s(runner: Runner, n_chunks: int) -> float:
    """Seconds one ``map`` of ``n_chunks`` no-op workload chunks takes on this (started) runner,
    best of a few: what handing out chunks costs before any work or data.

    Why not ``contenders.dispatch_cost``: its chunks are empty tuples, and the dask runner
    reads a chunk's last two arguments (a kernel's ``start, stop``); these chunks have the
    shape of a workload's, ``(func, argument)``.
    """
    tasks = [(_nothing, None)] * n_chunks
    p = Prepared(lambda: Done(runner.map(call_part, tasks)))
    return interleave({"noop": p}, DISPATCH_ROUNDS, warmup=1, check=False)["noop"].best_wall_s


def _pickled_size(obj: Any) -> int:
    if isinstance(obj, np.ndarray) and not obj.dtype.hasobject:
        return obj.nbytes + 256  # the data, and a header of some hundred bytes: no need to pickle it
    try:
        return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return 0


def bytes_sent(tasks: list[tuple[Any, ...]], transport: str | None) -> int:
    """Bytes a process pool moves to its workers for one run of ``tasks`` (pure, for tests).

    ``pickle``: every task pickled whole. ``shm``: every distinct array copied once into shared
    memory, and again back out if it is writable (the runner cannot know whether a worker
    wrote it), plus the rest of each task pickled.
    """
    if transport != "shm":
        return sum(_pickled_size(t) for t in tasks)
    arrays: dict[int, np.ndarray] = {}
    rest = 0
    for task in tasks:
        for a in task:
            if isinstance(a, np.ndarray) and not a.dtype.hasobject:
                arrays.setdefault(id(a), a)
        rest += _pickled_size(tuple(None if isinstance(a, np.ndarray) else a for a in task))
    copied = sum(a.nbytes * (2 if a.flags.writeable else 1) for a in arrays.values())
    return copied + rest


@dataclass
class WorkloadOnRunner:
    """A workload run by a (started) runner: ``chunks(runner.workers)``, mapped, combined."""

    workload: Workload
    runner: Runner
    timeout: float | None = None
    kind: str = "workload"
    _tasks: list[tuple[Any, ...]] = field(default_factory=list, init=False, repr=False)
    _parts: list[Any] = field(default_factory=list, init=False, repr=False)

    def prepare(self, inputs: Any = None, stack: contextlib.ExitStack | None = None) -> Prepared:
        """The contender's timed call. ``inputs`` and ``stack`` are unused: the workload holds
        its own data. Raises ``WorkloadError`` when the runner's processes cannot run it."""
        w, runner = self.workload, self.runner
        facts = runner.describe()
        # gilfree's process pool pickles the function, so its workers import it by name. (Dask
        # uses cloudpickle, which sends lambdas and __main__ functions by value.)
        if runner.name == "processes" and "start_method" in facts:
            w.check_for_processes(facts["start_method"])
        runner.start()
        self._tasks = tasks = [(w.func, *chunk) for chunk in w.make_chunks(runner.workers)]
        timeout = self.timeout
        elsewhere = not runner.uses_threads  # the CPU was spent in other processes

        def mapped() -> Done:
            outcomes = runner.map(call_part, tasks, timeout=timeout)
            parts = [o.value for o in outcomes]
            self._parts = parts  # kept for bytes_moved(), read after the timed runs
            cpu = sum(o.cpu_s for o in outcomes) if elsewhere else None
            return Done(w.combine(parts), cpu, [o.wall_s for o in outcomes])

        label = f"{w.name} {runner.name} x{runner.workers}"
        return Prepared(mapped, check=w.check, label=label)

    @property
    def n_chunks(self) -> int:
        return len(self._tasks)

    def bytes_moved(self) -> int | None:
        """Bytes one run moved between this process and a process pool's workers: the tasks
        sent (:func:`bytes_sent`) and the parts returned, pickled. ``None`` for runners in this
        process (nothing is moved) or before a run. Computed after the timed runs, untimed."""
        facts = self.runner.describe()
        if "transport" not in facts or not self._tasks:
            return None
        return bytes_sent(self._tasks, facts["transport"]) + sum(_pickled_size(p) for p in self._parts)

    def __str__(self) -> str:
        return f"{describe(self.workload.target)} on {self.runner.name} x{self.runner.workers}"
