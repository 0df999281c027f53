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
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gilfree._cancel import Cancelled, CancelToken
from gilfree.runners import _shm
from gilfree.runners._base import (
    ChunkOutcome,
    Runner,
    WorkerCrashed,
    attach_origin,
    call_chunk,
    check_timeout,
    describe_exit,
    format_traceback,
)
from gilfree.runners.registry import register

TRANSPORTS = ("shm", "pickle")
START_METHODS = ("fork", "forkserver", "spawn")
#: Environment variables that cap the threads of BLAS and OpenMP libraries loaded later.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
#: How long a worker gets to exit after being asked (or after SIGTERM) before the next step.
_GRACE_S = 1.0
_PROTOCOL = pickle.HIGHEST_PROTOCOL
#: A worker that has not said "ready" by then is taken as failed (spawn imports NumPy: ~0.1 s).
_START_TIMEOUT_S = 60.0
#: The longest the caller blocks in one wait, so that Ctrl-C and a CancelToken are seen promptly.
_STEP_S = 0.05


def default_start_method() -> str:
    """``fork`` on Linux, where it is cheap and safe enough; ``spawn`` elsewhere (macOS: fork is unsafe)."""
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return "spawn"


class _Worker:
    """One process, the parent's end of its pipe, and the chunk it runs (None when idle)."""

    __slots__ = ("attached", "chunk", "conn", "lifeline", "process")

    def __init__(self, process: Any, conn: Any, lifeline: Any) -> None:
        self.process = process
        self.conn = conn
        self.lifeline = lifeline
        self.chunk: int | None = None
        self.attached = False  # holds shared-memory attachments of the current run

    @property
    def pid(self) -> int | None:
        return self.process.pid


@register
class ProcessRunner(Runner):
    """``workers`` processes started once; chunks are handed to whichever worker is free."""

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
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
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
        return [w.pid for w in self._workers if w.pid is not None]

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> float:
        """Start the pool, or replace workers that died or were killed since the last run.

        The time a rebuild takes is reported in ``startup_s``, so it never lands in a run's
        ``wall_s`` (``run`` calls ``start`` before its timing starts).
        """
        if self.startup_s is not None and len(self._workers) < self.workers:
            t0 = time.perf_counter()
            try:
                self._spawn(self.workers - len(self._workers))
            except BaseException:
                self.close()
                raise
            self.startup_s = time.perf_counter() - t0
        return super().start()

    def _start(self) -> None:
        if self.transport == "shm":
            _shm.ensure_tracker()
        if self.start_method == "forkserver":
            # The fork server (one per process, started on first use) imports NumPy and gilfree
            # once, so each worker forked from it starts in milliseconds, not a tenth of a second.
            self._ctx.set_forkserver_preload(["gilfree.runners.processes"])
        try:
            self._spawn(self.workers)
        except BaseException:
            self._close()
            raise

    def _spawn(self, n: int) -> None:
        """Start ``n`` workers and wait until each has imported what it needs and said so."""
        new = []
        for _ in range(n):
            parent, child = self._ctx.Pipe(duplex=True)
            # The lifeline carries nothing: the worker watches it for EOF, which comes when the
            # caller closes it or dies, and then exits even in the middle of a long chunk.
            life_r, life_w = self._ctx.Pipe(duplex=False)
            # Forked children inherit the caller's ends of every pipe open at fork time; they
            # close them first, so that each worker sees EOF when the caller dies.
            inherited = []
            if self.start_method == "fork":
                inherited = [parent, life_w, *(c for w in self._workers for c in (w.conn, w.lifeline))]
            process = self._ctx.Process(
                target=_worker_main,
                args=(child, life_r, inherited),
                name=f"gilfree-worker-{len(self._workers)}",
                daemon=True,
            )
            try:
                process.start()
            except BaseException:
                parent.close()
                life_w.close()
                raise
            finally:
                child.close()
                life_r.close()
            worker = _Worker(process, parent, life_w)
            self._workers.append(worker)
            new.append(worker)
        waiting = {w.conn: w for w in new}
        sentinels = {w.process.sentinel: w for w in new}
        deadline = time.perf_counter() + _START_TIMEOUT_S
        while waiting:
            left = deadline - time.perf_counter()
            ready_list = multiprocessing.connection.wait([*waiting, *sentinels], max(0.0, min(_STEP_S, left)))
            if not ready_list and left <= 0:
                raise RuntimeError(
                    f"{len(waiting)} {self.start_method} worker process(es) did not start within "
                    f"{_START_TIMEOUT_S:.0f} s"
                )
            for ready in ready_list:
                w = waiting.get(ready) or sentinels[ready]  # type: ignore[call-overload]
                if w.conn not in waiting:
                    continue
                try:
                    msg = _recv(w.conn)
                except (EOFError, OSError):
                    w.process.join(_GRACE_S)
                    raise RuntimeError(
                        f"a {self.start_method} worker process failed to start: "
                        f"{describe_exit(w.process.exitcode)} (its stderr says why)"
                    ) from None
                if msg[0] != "ready":  # pragma: no cover - protocol error
                    raise RuntimeError(f"unexpected message from a starting worker: {msg[0]!r}")
                del waiting[w.conn], sentinels[w.process.sentinel]

    def _close(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            if w.chunk is None:
                with contextlib.suppress(OSError, ValueError):
                    w.conn.send_bytes(pickle.dumps(None))
        deadline = time.perf_counter() + _GRACE_S
        for w in workers:
            w.process.join(max(0.0, deadline - time.perf_counter()))
        _kill([w for w in workers if w.process.exitcode is None])
        for w in workers:
            _dispose(w)
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
            pickle.dumps(func, protocol=_PROTOCOL)
        except Exception as exc:
            raise TypeError(
                f"func must be picklable to run in worker processes (a module-level function), "
                f"got {func!r}: {exc}"
            ) from None
        timeout = check_timeout(timeout)
        with self._lock:  # one run at a time: the workers and their pipes are not shared
            return self._map(func, chunks, timeout, cancel)

    def _map(self, func, chunks, timeout, cancel) -> list[ChunkOutcome]:
        self.start()
        if not chunks:
            return []
        spare, self._kept = self._kept, []
        placement = None
        ok = False
        try:
            if self.transport == "shm":
                placement = _shm.Placement(chunks, spare)
                if placement.dropped:  # sent before any chunk, so workers detach before they attach
                    self._send_release(placement.dropped)
            specs = placement.specs if placement is not None else chunks
            outcomes = self._dispatch(func, chunks, specs, timeout, cancel)
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

    def _dispatch(self, func, chunks, specs, timeout, cancel) -> list[ChunkOutcome]:
        """Hand chunks to free workers, one at a time each, and collect the replies in order."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        outcomes: list[ChunkOutcome | None] = [None] * len(chunks)
        pending = deque(range(len(chunks)))
        idle = deque(self._workers)
        busy: dict[Any, _Worker] = {}  # conn or sentinel -> worker
        with_cancel = cancel is not None
        while pending or busy:
            while pending and idle:
                w = idle.popleft()
                if w.process.exitcode is not None:  # died while idle (killed from outside): replace it
                    self._workers.remove(w)
                    _dispose(w)
                    self._spawn(1)
                    idle.append(self._workers[-1])
                    continue
                i = pending.popleft()
                self._send_task(w, i, func, chunks[i], specs[i], with_cancel)
                busy[w.conn] = busy[w.process.sentinel] = w
            if cancel is not None and cancel.cancelled:
                raise Cancelled("stopped by the caller's CancelToken")
            # Short waits: a SIGINT that the kernel delivers to another thread of this process
            # does not interrupt this wait, so Ctrl-C (and the cancel token) is seen within 50 ms.
            wait_s = _STEP_S if deadline is None else max(0.0, min(_STEP_S, deadline - time.perf_counter()))
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
                msg = self._receive(w, i)
                w.chunk = None  # it replied, so it is idle and healthy
                if msg[0] == "err":
                    raise _remote_error(i, *msg[2:])
                _, _, value, wall, cpu, diffs = msg
                for j, where, values in diffs:
                    _shm.apply_diff(chunks[i][j], where, values)
                outcomes[i] = ChunkOutcome(value, wall, cpu)
                idle.append(w)
        return outcomes  # type: ignore[return-value]

    def _send_task(self, w: _Worker, i: int, func, chunk, spec, with_cancel: bool) -> None:
        readonly = () if self.transport == "shm" else _readonly_positions(chunk)
        try:
            data = pickle.dumps(("task", i, func, spec, readonly, with_cancel), protocol=_PROTOCOL)
        except Exception as exc:
            raise TypeError(
                f"chunk {i} cannot be sent to a worker process: its arguments must be picklable ({exc})"
            ) from None
        w.chunk = i  # from here on, an interrupted send leaves this worker suspect: it is killed
        w.attached = w.attached or self.transport == "shm"
        try:
            w.conn.send_bytes(data)
        except (OSError, ValueError):
            w.process.join(_GRACE_S)
            raise WorkerCrashed(i, w.process.exitcode, w.pid) from None

    def _receive(self, w: _Worker, i: int | None) -> tuple:
        """The worker's reply, or WorkerCrashed when it died without one."""
        assert i is not None
        try:
            if w.conn.poll():
                return _recv(w.conn)
        except (EOFError, OSError):
            pass
        except Exception as exc:  # the reply arrived but does not unpickle here
            raise RuntimeError(f"the result of chunk {i} cannot be unpickled in the caller: {exc}") from exc
        w.process.join(_GRACE_S)
        raise WorkerCrashed(i, w.process.exitcode, w.pid)

    def _send_release(self, names: list[str] | None) -> None:
        """Tell the idle workers to detach from ``names`` (None: every segment)."""
        release = pickle.dumps(("release", names), protocol=_PROTOCOL)
        for w in self._workers:
            if w.chunk is None and w.attached and w.process.exitcode is None:
                try:
                    w.conn.send_bytes(release)
                    if names is None:
                        w.attached = False
                except (OSError, ValueError):  # it died since
                    w.chunk = -1

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
            _kill([w for w in doomed if w.process.exitcode is None])
            for w in doomed:
                _dispose(w)


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


def _recv(conn: Any) -> Any:
    return pickle.loads(conn.recv_bytes())


def _kill(workers: list[_Worker]) -> None:
    """SIGTERM, then SIGKILL for any that are still there after a grace period; reap them all."""
    for w in workers:
        with contextlib.suppress(OSError, ValueError):
            w.process.terminate()
    deadline = time.perf_counter() + _GRACE_S
    for w in workers:
        w.process.join(max(0.0, deadline - time.perf_counter()))
    for w in workers:
        if w.process.exitcode is None:
            w.process.kill()
            w.process.join()


def _dispose(w: _Worker) -> None:
    """Close the pipes and the Process object of a worker that has exited."""
    w.conn.close()
    w.lifeline.close()
    if w.process.exitcode is None:  # pragma: no cover - callers kill first
        w.process.kill()
        w.process.join()
    w.process.close()


def _remote_error(i: int, exc_bytes: bytes | None, remote_tb: str, summary: str) -> BaseException:
    """The worker's exception, rebuilt here, with the chunk index and its traceback attached."""
    exc: BaseException | None = None
    if exc_bytes is not None:
        try:
            exc = pickle.loads(exc_bytes)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"chunk {i} raised {summary} (the exception cannot be rebuilt here)")
    return attach_origin(exc, i, remote_tb)


# -- the worker ------------------------------------------------------------------------------


def _worker_main(conn: Any, lifeline: Any, inherited: list[Any]) -> None:
    """A worker's life: limit threads, say ready, then run chunks until told to stop."""
    for c in inherited:
        c.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    threading.Thread(target=_watch_lifeline, args=(lifeline,), name="gilfree-lifeline", daemon=True).start()
    for var in THREAD_ENV:
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(limits=1)  # noqa: F841 - held for the worker's life
    attachments = _shm.Attachments()
    conn.send_bytes(pickle.dumps(("ready", os.getpid()), protocol=_PROTOCOL))
    while True:
        try:
            msg = _recv(conn)
        except (EOFError, OSError):  # the caller is gone
            return
        if msg is None:
            return
        if msg[0] == "release":
            attachments.release(msg[1])
            continue
        _, i, func, spec, readonly, with_cancel = msg
        del msg
        reply = _run_task(i, func, spec, readonly, with_cancel, attachments)
        del spec
        try:
            data = pickle.dumps(reply, protocol=_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps(_error_reply(i, exc), protocol=_PROTOCOL)
        del reply
        conn.send_bytes(data)


def _watch_lifeline(lifeline: Any) -> None:
    """Exit the worker when the caller goes away, even while a chunk runs (a nogil one at once;
    a chunk that holds the GIL lets this thread run only when it ends)."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()  # the caller never sends: this returns by EOF
    os._exit(1)


def _run_task(i, func, spec, readonly, with_cancel, attachments) -> tuple:
    try:
        args = [attachments.get(a) if isinstance(a, _shm.ShmRef) else a for a in spec]
        for j in readonly:
            args[j].flags.writeable = False
        # Pickled arrays are private copies: note what the chunk changes, to send only that back.
        tracked = [
            (j, a.copy())
            for j, a in enumerate(args)
            if isinstance(a, np.ndarray) and a.flags.writeable and not isinstance(spec[j], _shm.ShmRef)
        ]
        outcome = call_chunk(func, args, CancelToken() if with_cancel else None)
        diffs = []
        for j, before in tracked:
            d = _shm.diff(before, args[j])
            if d is not None:
                diffs.append((j, *d))
        return ("ok", i, outcome.value, outcome.wall_s, outcome.cpu_s, diffs)
    except BaseException as exc:
        return _error_reply(i, exc)


def _error_reply(i: int, exc: BaseException) -> tuple:
    try:
        exc_bytes: bytes | None = pickle.dumps(exc, protocol=_PROTOCOL)
    except Exception:
        exc_bytes = None
    return ("err", i, exc_bytes, format_traceback(exc), f"{type(exc).__name__}: {exc}")
