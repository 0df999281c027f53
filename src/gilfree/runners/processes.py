"""A persistent pool of worker processes: the classic way around the GIL, and what it costs.

Why a hand-written pool (``multiprocessing.Process`` + one ``Pipe`` per worker) rather than
``concurrent.futures.ProcessPoolExecutor``:

- **Crash attribution.** Each worker runs one chunk at a time and the parent knows which, so
  when a worker's sentinel fires with no reply, :class:`WorkerCrashed` names that chunk and the
  signal. ``ProcessPoolExecutor`` marks *every* pending future with ``BrokenProcessPool`` and
  cannot say which task killed it; it must also be thrown away whole.
- **Per-worker kill.** A timeout, Ctrl-C or a failed chunk terminates exactly the workers
  that run chunks and keeps the idle ones; the executor can only cancel queued tasks (until
  Python 3.14 it has no way to kill a running one) and shuts down by joining them.
- **No leaks by construction.** There is no feeder or management thread in the caller, so
  nothing can be left running there; every path (success, exception, timeout, crash,
  Ctrl-C) goes through one ``finally`` that kills what must die, tells idle workers to drop
  their attachments, and unlinks the run's shared-memory segments.

Options: ``start_method`` ``fork`` (the default on Linux), ``forkserver`` or ``spawn`` (the
default elsewhere, where fork is missing or unsafe); ``transport`` ``shm`` (the default: arrays
placed once per run in shared memory, see :mod:`gilfree.runners._shm`) or ``pickle`` (copies,
to show what copying costs). Workers limit BLAS and OpenMP to one thread each with
threadpoolctl, so N workers never run N x cores threads, and ignore SIGINT: Ctrl-C reaches the
caller, which kills them. Dead workers are replaced by ``start()``, before the next run's
timing starts, and the rebuild is reported in ``startup_s``.

**One runner, many threads.** A runner may be shared by threads: their runs take turns on
the one pool, each holding the pool for the whole run (one lock covers ``start``, the
replacement of dead workers, ``map`` and ``close``, so no thread can respawn or dispose a
worker while another dispatches to it). A ``timeout`` counts the wait for the pool too, and
a cancel token is read while waiting. Every task is tagged with its run and chunk and every
reply is checked against them (:mod:`gilfree.runners._process_worker`), so a reply can never
be taken for another chunk's. ``close()`` from another thread stops the run under way (it
raises ``RuntimeError``) and runs still waiting for the pool, instead of waiting for them.

The worker's side (its loop and the messages) is :mod:`gilfree.runners._process_worker`;
starting, killing and reaping the processes is :mod:`gilfree.runners._process_pool`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import pickle
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gilfree._cancel import Cancelled
from gilfree.runners import _shm
from gilfree.runners._base import (
    ChunkOutcome,
    Runner,
    WorkerCrashed,
    attach_origin,
    check_timeout,
)
from gilfree.runners._process_pool import GRACE_S, START_TIMEOUT_S, STEP_S, Worker, dispose, kill, spawn
from gilfree.runners._process_worker import (
    PROTOCOL,
    THREAD_ENV,
    Done,
    Failed,
    Release,
    Released,
    Task,
    describe_message,
    recv,
    send,
)
from gilfree.runners.registry import register

__all__ = ["START_METHODS", "THREAD_ENV", "TRANSPORTS", "ProcessRunner", "default_start_method"]

TRANSPORTS = ("shm", "pickle")
START_METHODS = ("fork", "forkserver", "spawn")


def default_start_method() -> str:
    """``fork`` on Linux, where it is cheap and safe enough; ``spawn`` elsewhere (macOS: fork is unsafe)."""
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


@register
class ProcessRunner(Runner):
    """``workers`` processes started once; chunks are handed to whichever worker is free.

    Safe to share between threads: runs take turns on the pool (see the module docstring).
    """

    name = "processes"
    uses_threads = False
    shares_memory = True  # with the default transport, shm; False for an instance with pickle

    def __init__(
        self,
        workers: int | None = None,
        *,
        schedule: str = "static",
        start_method: str | None = None,
        transport: str = "shm",
    ) -> None:
        super().__init__(workers, schedule=schedule)
        if start_method is None:
            start_method = default_start_method()
        if not isinstance(start_method, str):
            raise TypeError(f"start_method must be a str or None, got {type(start_method).__name__}")
        available = multiprocessing.get_all_start_methods()
        if start_method not in available:
            raise ValueError(
                f"start method {start_method!r} is not available on this platform ({sys.platform}); "
                f"available: {', '.join(available)}"
            )
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; expected one of {', '.join(TRANSPORTS)}")
        self.start_method = start_method
        self.transport = transport
        self.shares_memory = transport == "shm"  # type: ignore[misc]
        self._ctx = multiprocessing.get_context(start_method)
        self._workers: list[Worker] = []
        # The one lock of the pool: life cycle and runs (the base class's reentrant lock).
        self._lock = self._life_lock
        self._runs = 0  # the number of the last run, which tags its tasks and replies
        self._closes = 0  # closes so far: a run that waited across one does not restart the pool
        self._closers = 0  # close() calls waiting for the pool: the run under way stops for them
        self._closers_lock = threading.Lock()
        self._kept: list[Any] = []  # the last run's shared-memory segments, for the next (see _shm)

    def __repr__(self) -> str:
        return (
            f"<ProcessRunner workers={self.workers} schedule={self.schedule} "
            f"start_method={self.start_method} transport={self.transport}>"
        )

    def describe(self) -> dict[str, Any]:
        return {"start_method": self.start_method, "transport": self.transport}

    @property
    def segments(self) -> list[str]:
        """Names of the shared-memory segments kept from the last run for the next one."""
        return [shm.name for shm in self._kept]

    def pids(self) -> list[int]:
        """The worker processes' ids (empty when the pool is not started)."""
        return [w.pid for w in list(self._workers) if w.pid is not None]

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> float:
        """Start the pool, or replace workers that died or were killed since the last run.

        The time a rebuild takes is reported in ``startup_s``, so it never lands in a run's
        ``wall_s`` (``run`` calls ``start`` before its timing starts). Waits for a run that
        another thread has under way: the pool is not changed under it.
        """
        with self._lock:
            if self.startup_s is not None and len(self._workers) < self.workers:
                t0 = time.perf_counter()
                try:
                    spawn(self._ctx, self.start_method, self._workers, self.workers - len(self._workers))
                except BaseException:
                    self.close()
                    raise
                self.startup_s = time.perf_counter() - t0
            return super().start()

    def close(self) -> None:
        """Stop every worker; safe twice. A run under way in another thread is stopped first
        (it raises ``RuntimeError``), and runs waiting for the pool fail rather than restart it."""
        with self._closers_lock:
            self._closers += 1
        try:
            with self._lock:
                self._closes += 1
                super().close()
        finally:
            with self._closers_lock:
                self._closers -= 1

    def _start(self) -> None:
        if self.transport == "shm":
            _shm.ensure_tracker()
        if self.start_method == "forkserver":
            # The fork server (one per process, started on first use) imports NumPy and gilfree
            # once, so each worker forked from it starts in milliseconds, not a tenth of a second.
            self._ctx.set_forkserver_preload(["gilfree.runners.processes"])
        try:
            spawn(self._ctx, self.start_method, self._workers, self.workers)
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            if w.chunk is None:
                with contextlib.suppress(OSError, ValueError):
                    send(w.conn, None)
        deadline = time.perf_counter() + GRACE_S
        for w in workers:
            w.process.join(max(0.0, deadline - time.perf_counter()))
        kill([w for w in workers if w.process.exitcode is None])
        for w in workers:
            dispose(w)
        kept, self._kept = self._kept, []
        _shm.unlink(kept)

    # -- work ------------------------------------------------------------------------------

    def map(
        self,
        func: Callable[..., Any],
        chunks: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
        cancel: Any = None,
        outputs: Sequence[int] = (),
    ) -> list[ChunkOutcome]:
        if not callable(func):
            raise TypeError(f"func must be callable, got {type(func).__name__}")
        chunks = _check_chunks(chunks)
        try:
            pickle.dumps(func, protocol=PROTOCOL)
        except Exception as exc:
            raise TypeError(
                f"func must be picklable to run in worker processes (a module-level function), "
                f"got {func!r}: {exc}"
            ) from None
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.perf_counter() + timeout
        closes = self._closes
        self._acquire(deadline, timeout, cancel)  # one run at a time: the workers and pipes are shared
        try:
            if self._closes != closes:
                raise RuntimeError("the runner was closed (by another thread) while this run waited for it")
            self._runs += 1
            return self._map(func, chunks, deadline, timeout, cancel)
        finally:
            self._lock.release()

    def _acquire(self, deadline: float | None, timeout: float | None, cancel: Any) -> None:
        """Take the pool, waiting in short steps for a run of another thread to end."""
        while not self._lock.acquire(timeout=STEP_S):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("stopped by the caller's CancelToken while waiting for the pool")
            if deadline is not None and time.perf_counter() >= deadline:
                raise TimeoutError(
                    f"the run took longer than timeout={timeout} s waiting for another thread's run "
                    "on this runner to end; none of its chunks ran"
                )

    def _map(self, func, chunks, deadline, timeout, cancel) -> list[ChunkOutcome]:
        self.start()
        if not chunks:
            return []
        spare, self._kept = self._kept, []
        placement = None
        ok = False
        try:
            if self.transport == "shm":
                placement = _shm.Placement(chunks, spare, settle=self._settle)
                if placement.dropped:  # sent before any chunk, so workers detach before they attach
                    self._send_release(placement.dropped)
            specs = placement.specs if placement is not None else chunks
            outcomes = self._dispatch(func, chunks, specs, deadline, timeout, cancel)
            if placement is not None:
                placement.copy_back()
            ok = True
            return outcomes
        finally:
            try:
                self._after_run(detach=not ok)
            finally:
                if placement is not None:
                    if ok:
                        self._kept = placement.keep()
                    else:
                        placement.close()

    def _dispatch(self, func, chunks, specs, deadline, timeout, cancel) -> list[ChunkOutcome]:
        """Hand chunks to free workers, one at a time each, and collect the replies in order."""
        run = self._runs
        outcomes: list[ChunkOutcome | None] = [None] * len(chunks)
        pending = deque(range(len(chunks)))
        idle = deque(self._workers)
        busy: dict[Any, Worker] = {}  # conn or sentinel -> worker
        with_cancel = cancel is not None
        while pending or busy:
            while pending and idle:
                w = idle.popleft()
                if w.process.exitcode is not None:  # died while idle (killed from outside): replace it
                    self._workers.remove(w)
                    dispose(w)
                    idle.extend(spawn(self._ctx, self.start_method, self._workers, 1))
                    continue
                i = pending.popleft()
                self._send_task(w, Task(run, i, func, specs[i], self._readonly(chunks[i]), with_cancel))
                busy[w.conn] = busy[w.process.sentinel] = w
            if cancel is not None and cancel.cancelled:
                raise Cancelled("stopped by the caller's CancelToken")
            if self._closers:
                raise RuntimeError("the runner was closed (by another thread) while this run was under way")
            # Short waits: a SIGINT that the kernel delivers to another thread of this process
            # does not interrupt this wait, so Ctrl-C (and the cancel token) is seen within 50 ms.
            wait_s = STEP_S if deadline is None else max(0.0, min(STEP_S, deadline - time.perf_counter()))
            ready = multiprocessing.connection.wait(list(busy), wait_s)
            if not ready and deadline is not None and time.perf_counter() >= deadline:
                running = sorted(w.chunk for w in self._workers if w.chunk is not None)  # type: ignore[type-var]
                raise TimeoutError(
                    f"the run took longer than timeout={timeout} s; the worker processes running "
                    f"chunks {running} were killed"
                )
            for r in ready:
                w = busy.get(r)
                if w is None:  # its conn and sentinel were both ready: handled already
                    continue
                i = w.chunk
                del busy[w.conn], busy[w.process.sentinel]
                msg = self._receive(w, run, i)
                w.chunk = None  # it answered this chunk, so it is idle and healthy
                if isinstance(msg, Failed):
                    raise _remote_error(i, msg)
                for j, where, values in msg.diffs:
                    _shm.apply_diff(chunks[i][j], where, values)
                outcomes[i] = ChunkOutcome(msg.value, msg.wall_s, msg.cpu_s)
                idle.append(w)
        return outcomes  # type: ignore[return-value]

    def _readonly(self, chunk: Sequence[Any]) -> tuple[int, ...]:
        return () if self.transport == "shm" else _readonly_positions(chunk)

    def _send_task(self, w: Worker, task: Task) -> None:
        try:
            data = pickle.dumps(task, protocol=PROTOCOL)
        except Exception as exc:
            raise TypeError(
                f"chunk {task.index} cannot be sent to a worker process: its arguments must be "
                f"picklable ({exc})"
            ) from None
        w.chunk = task.index  # from here on, an interrupted send leaves this worker suspect: it is killed
        w.attached = w.attached or self.transport == "shm"
        try:
            w.conn.send_bytes(data)
        except (OSError, ValueError):
            w.process.join(GRACE_S)
            raise WorkerCrashed(task.index, w.process.exitcode, w.pid) from None

    def _receive(self, w: Worker, run: int, i: int | None) -> Done | Failed:
        """The worker's reply to chunk ``i`` of ``run``; WorkerCrashed when it died without one.

        Any other message means the worker is out of step with this run: it is not taken as
        the chunk's result, and the worker (still marked busy) is killed and replaced.
        """
        assert i is not None
        try:
            msg = recv(w.conn) if w.conn.poll() else None
        except (EOFError, OSError):
            msg = None
        except Exception as exc:  # the reply arrived but does not unpickle here
            raise RuntimeError(f"the result of chunk {i} cannot be unpickled in the caller: {exc}") from exc
        if msg is None:
            w.process.join(GRACE_S)
            raise WorkerCrashed(i, w.process.exitcode, w.pid)
        if not isinstance(msg, (Done, Failed)) or (msg.run, msg.index) != (run, i):
            raise RuntimeError(
                f"worker process {w.pid}, given chunk {i} of run {run}, answered {describe_message(msg)}; "
                "it is out of step and was replaced"
            )
        return msg

    def _send_release(self, names: list[str] | None) -> None:
        """Tell the idle workers to detach from ``names`` (None: every segment)."""
        release = pickle.dumps(Release(names), protocol=PROTOCOL)
        for w in self._workers:
            if w.chunk is None and w.attached and w.process.exitcode is None:
                try:
                    w.conn.send_bytes(release)
                    if names is None:
                        w.attached = False
                except (OSError, ValueError):  # it died since
                    w.chunk = -1

    def _settle(self, names: list[str]) -> None:
        """Make every worker detach from ``names``, and from whatever earlier releases named,
        and wait until each says it has: a segment's pages are freed only when the last
        mapping goes, so a full /dev/shm gets the room of the unlinked ones back."""
        asked = []
        for w in self._workers:
            if w.chunk is None and w.process.exitcode is None:
                try:
                    send(w.conn, Release(names, ack=True))
                    asked.append(w)
                except (OSError, ValueError):  # it died since
                    w.chunk = -1
        deadline = time.perf_counter() + START_TIMEOUT_S
        for w in asked:
            left = max(0.0, deadline - time.perf_counter())
            ready = multiprocessing.connection.wait([w.conn, w.process.sentinel], left)
            try:
                msg = recv(w.conn) if w.conn in ready else None
            except (EOFError, OSError):
                msg = None
            if not isinstance(msg, Released):
                w.chunk = -1  # dead, silent or out of step: killed after the run, and replaced

    def _after_run(self, detach: bool = True) -> None:
        """Kill the workers still running chunks (after a failure) and, if ``detach``, let the
        others detach from every segment (a run that succeeded keeps them for the next).

        Killed workers are joined before the caller unlinks the run's segments, so none can
        attach (and register) a segment after it is gone. ``start()`` replaces them.
        """
        if detach:
            self._send_release(None)
        doomed = [w for w in self._workers if w.chunk is not None or w.process.exitcode is not None]
        if doomed:
            self._workers = [w for w in self._workers if w not in doomed]
            kill([w for w in doomed if w.process.exitcode is None])
            for w in doomed:
                dispose(w)


# -- helpers used in the caller -------------------------------------------------------------


def _check_chunks(chunks: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    if isinstance(chunks, (str, bytes)) or not isinstance(chunks, Sequence):
        raise TypeError(f"chunks must be a sequence of argument tuples, got {type(chunks).__name__}")
    for i, chunk in enumerate(chunks):
        if isinstance(chunk, (str, bytes)) or not isinstance(chunk, Sequence):
            raise TypeError(f"chunks[{i}] must be a tuple of arguments, got {type(chunk).__name__}")
    return list(chunks)


def _readonly_positions(chunk: Sequence[Any]) -> tuple[int, ...]:
    return tuple(j for j, a in enumerate(chunk) if isinstance(a, np.ndarray) and not a.flags.writeable)


def _remote_error(i: int, msg: Failed) -> BaseException:
    """The worker's exception, rebuilt here, with the chunk index and its traceback attached."""
    exc: BaseException | None = None
    if msg.exc_bytes is not None:
        try:
            exc = pickle.loads(msg.exc_bytes)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"chunk {i} raised {msg.summary} (the exception cannot be rebuilt here)")
    return attach_origin(exc, i, msg.remote_tb)
