"""The processes runner's worker side: the messages on a worker's pipe, and the worker's loop.

Messages are named tuples, as loky names its messages, so that both ends read fields rather
than positions. Every task carries the number of its run and the index of its chunk, and every
reply carries them back: the caller checks each reply against the chunk it handed out and
takes any other answer as a broken worker, never as that chunk's result.

caller -> worker: :class:`Task`, :class:`Release` (detach shared-memory segments), ``None``
(exit). worker -> caller: :class:`Ready` once at start, :class:`Done` or :class:`Failed` for
each task, :class:`Released` when a ``Release`` asks for an answer.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from typing import Any, NamedTuple

import numpy as np

from gilfree._cancel import CancelToken
from gilfree.runners import _shm
from gilfree.runners._base import call_chunk, format_traceback

#: Environment variables that cap the threads of BLAS and OpenMP libraries loaded later.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
PROTOCOL = pickle.HIGHEST_PROTOCOL


class Task(NamedTuple):
    """Run chunk ``index`` of run ``run``: ``func(*spec)``, arrays in ``spec`` as ``ShmRef``s
    (shm transport) or copies (pickle), ``readonly`` positions made read-only first."""

    run: int
    index: int
    func: Any
    spec: tuple
    readonly: tuple[int, ...]
    with_cancel: bool


class Release(NamedTuple):
    """Detach from the segments ``names`` (None: every one); answer :class:`Released` if ``ack``."""

    names: list[str] | None
    ack: bool = False


class Ready(NamedTuple):
    pid: int


class Released(NamedTuple):
    pid: int


class Done(NamedTuple):
    """Chunk ``index`` of run ``run`` returned ``value``; ``diffs`` are what it wrote (pickle)."""

    run: int
    index: int
    value: Any
    wall_s: float
    cpu_s: float
    diffs: list


class Failed(NamedTuple):
    """Chunk ``index`` of run ``run`` raised: the exception pickled (None if it does not pickle),
    the worker's traceback, and ``Type: message`` for when it cannot be rebuilt."""

    run: int
    index: int
    exc_bytes: bytes | None
    remote_tb: str
    summary: str


def recv(conn: Any) -> Any:
    return pickle.loads(conn.recv_bytes())


def send(conn: Any, msg: Any) -> None:
    conn.send_bytes(pickle.dumps(msg, protocol=PROTOCOL))


def describe_message(msg: Any) -> str:
    """A message, for an error: its kind and, for a reply, the run and chunk it answers."""
    if isinstance(msg, (Done, Failed)):
        return f"{type(msg).__name__} for chunk {msg.index} of run {msg.run}"
    return type(msg).__name__ if isinstance(msg, tuple) and hasattr(msg, "_fields") else repr(msg)[:80]


def worker_main(conn: Any, lifeline: Any, inherited: list[Any]) -> None:
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
    send(conn, Ready(os.getpid()))
    while True:
        try:
            msg = recv(conn)
        except (EOFError, OSError):  # the caller is gone
            return
        if msg is None:
            return
        if isinstance(msg, Release):
            attachments.release(msg.names)
            if msg.ack:
                send(conn, Released(os.getpid()))
            continue
        reply = _run_task(msg, attachments)
        del msg
        try:
            data = pickle.dumps(reply, protocol=PROTOCOL)
        except Exception as exc:  # the chunk's value does not pickle
            data = pickle.dumps(_failed(reply.run, reply.index, exc), protocol=PROTOCOL)
        del reply
        conn.send_bytes(data)


def _watch_lifeline(lifeline: Any) -> None:
    """Exit the worker when the caller goes away, even while a chunk runs (a nogil one at once;
    a chunk that holds the GIL lets this thread run only when it ends)."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()  # the caller never sends: this returns by EOF
    os._exit(1)


def _run_task(task: Task, attachments: _shm.Attachments) -> Done | Failed:
    spec = task.spec
    try:
        args = [attachments.get(a) if isinstance(a, _shm.ShmRef) else a for a in spec]
        for j in task.readonly:
            args[j].flags.writeable = False
        # Pickled arrays are private copies: note what the chunk changes, to send only that back.
        tracked = [
            (j, a.copy())
            for j, a in enumerate(args)
            if isinstance(a, np.ndarray) and a.flags.writeable and not isinstance(spec[j], _shm.ShmRef)
        ]
        outcome = call_chunk(task.func, args, CancelToken() if task.with_cancel else None)
        diffs = []
        for j, before in tracked:
            d = _shm.diff(before, args[j])
            if d is not None:
                diffs.append((j, *d))
        return Done(task.run, task.index, outcome.value, outcome.wall_s, outcome.cpu_s, diffs)
    except BaseException as exc:
        return _failed(task.run, task.index, exc)


def _failed(run: int, index: int, exc: BaseException) -> Failed:
    try:
        exc_bytes: bytes | None = pickle.dumps(exc, protocol=PROTOCOL)
    except Exception:
        exc_bytes = None
    return Failed(run, index, exc_bytes, format_traceback(exc), f"{type(exc).__name__}: {exc}")
