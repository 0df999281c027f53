"""The protocol every runner follows, and the worker-count rules.

Runners are executors: a life cycle (``start``, ``close``, a context manager) and one
``map(func, chunks, *, timeout, cancel, outputs)`` that calls ``func(*chunk, cancel=token)``
for each chunk and returns the outcomes in order. They know nothing of kernels, and nothing
here imports ``gilfree.kernels``: splitting, combining, checking, timing, the serial fallback
and the ``openmp`` case are the harness's (:mod:`gilfree.harness`).
"""

from __future__ import annotations

import abc
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from gilfree._checks import integer
from gilfree.info import cores, worker_limit

SCHEDULES = ("static", "dynamic")
#: chunks per worker under the dynamic schedule
DYNAMIC_CHUNKS_PER_WORKER = 8


def resolve_workers(workers: int | None, available: int | None = None) -> int:
    """Worker counts as scikit-learn and joblib read them.

    ``None`` means every core this process may use; a negative count ``-k`` means all but
    ``k - 1`` of them (``-1`` = all, ``-2`` = all but one); ``0`` is an error, and so is a count
    above :func:`gilfree.info.worker_limit` (a typo that would exhaust the system).
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
    limit = worker_limit()
    if w > limit:
        raise ValueError(
            f"workers={w} is more than gilfree starts on {n} cores (at most {limit}: "
            "64 per core, at least 256)"
        )
    return w


def check_timeout(timeout: object) -> float | None:
    """``timeout`` as every runner takes it: ``None``, or a finite number of seconds above 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, got {type(timeout).__name__}")
    if not (0 < timeout < float("inf")):
        raise ValueError(f"timeout must be > 0 seconds and finite, or None; got {timeout!r}")
    return float(timeout)


@dataclass
class ChunkOutcome:
    """What one chunk gave back, timed where it ran.

    The one clock a runner reads: only the thread or process that ran a chunk can say how long
    it took and what CPU it used. Runs are timed by the harness, never here.
    """

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


def has_origin(exc: BaseException) -> bool:
    """Whether :func:`attach_origin` has named a chunk on ``exc`` already (in a worker, say)."""
    notes = [*getattr(exc, "__notes__", ()), *(a for a in exc.args if isinstance(a, str))]
    return any(str(n).startswith("raised by chunk") for n in notes)


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


class Runner(abc.ABC):
    """A pool of workers, created once, reused across runs, and released on exit.

    Subclasses declare what they can do, as joblib's backends do: ``uses_threads`` (workers
    share this interpreter and its memory, so the caller's CPU clock sees their work and a
    call may run in the calling thread instead), ``shares_memory`` (chunks reach workers
    without copies).
    """

    name: ClassVar[str]
    uses_threads: ClassVar[bool]
    shares_memory: ClassVar[bool]

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
        ``TimeoutError`` is raised. ``outputs`` names argument positions that chunks only
        write, row by row, and never read: a runner that copies data elsewhere may skip
        sending them; the others ignore it.
        """

    def n_chunks(self) -> int:
        """How many chunks a run is cut into when none are given: one per worker, or more if dynamic."""
        return self.workers * (DYNAMIC_CHUNKS_PER_WORKER if self.schedule == "dynamic" else 1)

    def describe(self) -> dict[str, Any]:
        """Runner-specific facts for a run's record (start method, transport, layout)."""
        return {}

    def run(
        self, kernel: Any, variant: str = "nogil", inputs: Any = None, chunks: Any = None, **options: Any
    ) -> Any:
        """One kernel run on this pool: ``gilfree.harness.run_kernel(self, ...)``.

        Kept so that ``with make_runner(...) as r: r.run("pairwise", "nogil")`` goes on working;
        the splitting, timing and checking are the harness's, which this only calls.
        """
        from gilfree.harness import run_kernel

        return run_kernel(self, kernel, variant, inputs, chunks, **options)
