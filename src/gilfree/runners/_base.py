"""The protocol every runner follows, the worker-count rules, and the Result of a run.

Runners know nothing about kernels beyond "a picklable callable and its chunk arguments":
``map(func, chunks)`` calls ``func(*chunk, cancel=token)`` for each chunk and returns the
outcomes in order. ``run(kernel, variant, inputs)`` adds the kernel's split, combine and
reference check around ``map``, and times it.
"""

from __future__ import annotations

import abc
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from gilfree._checks import integer
from gilfree.info import cores
from gilfree.kernels import CancelToken, Inputs, Kernel, get

SCHEDULES = ("static", "dynamic")
#: chunks per worker under the dynamic schedule
DYNAMIC_CHUNKS_PER_WORKER = 8


def resolve_workers(workers: int | None, available: int | None = None) -> int:
    """Worker counts as scikit-learn and joblib read them.

    ``None`` means every core this process may use; a negative count ``-k`` means all but
    ``k - 1`` of them (``-1`` = all, ``-2`` = all but one); ``0`` is an error.
    """
    n = cores() if available is None else available
    if workers is None:
        return n
    w = integer("workers", workers, minimum=-(2**31))
    if w == 0:
        raise ValueError("workers must not be 0: use None for all cores, or a positive or negative count")
    if w < 0:
        if n + 1 + w < 1:
            raise ValueError(f"workers={w} leaves no worker on {n} cores")
        return n + 1 + w
    return w


@dataclass
class ChunkOutcome:
    """What one chunk gave back, timed where it ran."""

    value: Any
    wall_s: float
    cpu_s: float


def call_chunk(func: Callable[..., Any], chunk: Sequence[Any], cancel: Any) -> ChunkOutcome:
    """Run one chunk and time it with the clocks of the thread that runs it."""
    w0, c0 = time.perf_counter(), time.thread_time()
    value = func(*chunk) if cancel is None else func(*chunk, cancel=cancel)
    return ChunkOutcome(value, time.perf_counter() - w0, time.thread_time() - c0)


def attach_origin(exc: BaseException, index: int, remote_tb: str | None = None) -> BaseException:
    """Say which chunk failed (and, from a process, its traceback) on the exception itself."""
    note = f"raised by chunk {index}"
    if remote_tb:
        note += f"; the worker's traceback:\n{remote_tb}"
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10
        exc.args = (*exc.args, note)
    return exc


class WorkerCrashed(RuntimeError):
    """A worker process died (``os._exit``, a signal, a segfault) while it ran a chunk.

    ``index`` is the chunk it was running, ``exitcode`` the process's exit status (negative:
    the signal that killed it), ``pid`` the process. The runner replaces the dead worker
    before its next run, so it stays usable.
    """

    def __init__(self, index: int, exitcode: int | None, pid: int | None = None) -> None:
        self.index, self.exitcode, self.pid = index, exitcode, pid
        super().__init__(
            f"the worker process{'' if pid is None else f' (pid {pid})'} running chunk {index} died: "
            f"{describe_exit(exitcode)}; the runner replaces it before its next run"
        )

    def __reduce__(self):
        return (type(self), (self.index, self.exitcode, self.pid))


def describe_exit(exitcode: int | None) -> str:
    """``-11`` -> ``killed by signal SIGSEGV``; ``3`` -> ``exit status 3``."""
    if exitcode is None:
        return "it closed its pipe (exit status unknown)"
    if exitcode < 0:
        import signal

        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def format_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


@dataclass
class Result:
    """One run: the value, whether it matched the reference, and how long it took."""

    kernel: str
    variant: str
    runner: str
    workers: int
    value: Any
    matched: bool | None
    wall_s: float
    cpu_s: float
    chunk_s: list[float]
    schedule: str = "static"
    serial_fallback: bool = False
    start_method: str | None = None
    transport: str | None = None
    startup_s: float | None = None
    size: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_s)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        v = d["value"]
        d["value"] = v.tolist() if hasattr(v, "tolist") else v
        d["n_chunks"] = self.n_chunks
        return d


class Runner(abc.ABC):
    """A pool of workers, created once, reused across runs, and released on exit.

    Subclasses declare what they can do with ``uses_threads`` (workers share this
    interpreter), ``shares_memory`` (chunks reach workers without copies) and
    ``uses_outputs`` (``map`` takes ``outputs=``; ``run`` passes a kernel's outputs only to
    such runners, so a runner written without it still works).
    """

    name: ClassVar[str]
    uses_threads: ClassVar[bool]
    shares_memory: ClassVar[bool]
    uses_outputs: ClassVar[bool] = False

    def __init__(self, workers: int | None = None, *, schedule: str = "static") -> None:
        self.workers = resolve_workers(workers)
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
        self.schedule = schedule
        self.startup_s: float | None = None
        # start() and close() check, then act: two threads calling map() on a runner not yet
        # started would each create a pool, and one would leak. The lock makes each one step.
        # Reentrant, so a subclass's start() or _start() may call close() on failure.
        self._life_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} workers={self.workers} schedule={self.schedule}>"

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> float:
        """Create the pool if it is not there yet; returns the seconds that took."""
        with self._life_lock:
            if self.startup_s is None:
                t0 = time.perf_counter()
                self._start()
                self.startup_s = time.perf_counter() - t0
            return self.startup_s

    def close(self) -> None:
        """Release every worker; safe to call twice."""
        with self._life_lock:
            if self.startup_s is not None:
                self.startup_s = None
                self._close()

    def _start(self) -> None:  # noqa: B027 - a runner without a pool has nothing to start
        pass

    def _close(self) -> None:  # noqa: B027
        pass

    # -- work ------------------------------------------------------------------------------

    @abc.abstractmethod
    def map(
        self,
        func: Callable[..., Any],
        chunks: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
        cancel: Any = None,
        outputs: Sequence[int] = (),
    ) -> list[ChunkOutcome]:
        """``func(*chunk, cancel=cancel)`` for every chunk, outcomes in chunk order.

        An exception in a chunk is raised here with the chunk's index noted on it; the
        other chunks are cancelled. Past ``timeout`` seconds the work is stopped and
        ``TimeoutError`` is raised. ``outputs`` (a kernel's ``outputs``; only runners with
        ``uses_outputs`` take it) names argument positions that chunks only write, row by
        row, and never read: a runner that copies data elsewhere may skip sending them.
        """

    def n_chunks(self) -> int:
        """How many chunks ``run`` cuts when none are given: one per worker, or more if dynamic."""
        return self.workers * (DYNAMIC_CHUNKS_PER_WORKER if self.schedule == "dynamic" else 1)

    def run(
        self,
        kernel: str | Kernel,
        variant: str = "nogil",
        inputs: Inputs | None = None,
        chunks: Sequence[Sequence[Any]] | None = None,
        *,
        size: str = "default",
        timeout: float | None = None,
        check: bool = True,
    ) -> Result:
        """Split, map, combine and check one kernel; the pool's start-up is not in ``wall_s``."""
        k = get(kernel)
        func = k.variant(variant)
        if inputs is None:
            inputs = k.make_inputs(size)
        self.start()
        fallback = False
        if variant == "openmp":
            outcomes, wall, cpu = self._run_openmp(func, inputs, chunks, timeout)
        else:
            outcomes, wall, cpu, fallback = self._timed_map(k, variant, inputs, func, chunks, timeout)
        value = k.combine([o.value for o in outcomes])
        return Result(
            kernel=k.name,
            variant=variant,
            runner=self.name,
            workers=self.workers,
            value=value,
            matched=k.check(inputs, value) if check else None,
            wall_s=wall,
            cpu_s=cpu,
            chunk_s=[o.wall_s for o in outcomes],
            schedule=self.schedule,
            serial_fallback=fallback,
            startup_s=self.startup_s,
            size=inputs.size,
            **self.describe(),
        )

    def describe(self) -> dict[str, Any]:
        """Runner-specific fields of a Result (start method, transport)."""
        return {}

    def _timed_map(self, kernel, variant, inputs, func, chunks, timeout):
        """Split (unless chunks were given), then map and time; returns (outcomes, wall, cpu, fallback)."""
        if chunks is None:
            chunks = kernel.split(inputs, self.n_chunks())
        w0, c0 = time.perf_counter(), time.process_time()
        hints = {"outputs": kernel.outputs} if self.uses_outputs else {}
        outcomes = self.map(func, chunks, timeout=timeout, cancel=CancelToken(), **hints)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if not self.uses_threads:
            cpu = sum(o.cpu_s for o in outcomes)  # the CPU was spent in other processes
        return outcomes, wall, cpu, False

    def _run_openmp(self, func, inputs, chunks, timeout):
        """``openmp`` parallelises inside one call: run it here with ``workers`` OpenMP threads."""
        if not self.uses_threads:
            raise ValueError(
                f"variant 'openmp' runs its own threads inside one call; use runner 'serial' or "
                f"'threads' (workers = OpenMP threads), not {self.name!r}"
            )
        if chunks is not None:
            raise ValueError("variant 'openmp' takes no chunks: it splits its range itself")
        if timeout is not None:
            raise ValueError("variant 'openmp' cannot be given a timeout: OpenMP regions run to the end")
        w0, c0 = time.perf_counter(), time.process_time()
        value = func(*inputs.whole(), num_threads=self.workers)
        wall = time.perf_counter() - w0
        return [ChunkOutcome(value, wall, 0.0)], wall, time.process_time() - c0
