"""Process plumbing for the claims: start methods, and leaving nothing behind.

multiprocessing starts two helper processes of its own on first use and keeps them for the
life of the parent: the forkserver (start method ``forkserver``) and the resource tracker
(``spawn``, ``forkserver`` and shared memory). ``no_leftovers`` stops the ones that were not
running before it, and ends any child process started inside it that is still alive.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections.abc import Iterator

import psutil

#: The start methods a claim compares, in order of cost.
START_METHODS = ("fork", "forkserver", "spawn")


def available_methods() -> list[str]:
    """The start methods this platform offers, of the three the claims compare."""
    have = set(mp.get_all_start_methods())
    return [m for m in START_METHODS if m in have]


def default_method() -> str:
    """The start method a plain ``multiprocessing.Process`` would use here."""
    return mp.get_context().get_start_method()


def _forkserver_pid() -> int | None:
    from multiprocessing import forkserver

    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def _tracker_pid() -> int | None:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)


def stop_helpers(forkserver: bool, tracker: bool) -> None:
    """Stop multiprocessing's forkserver and resource tracker (private but stable since 3.8)."""
    if forkserver and _forkserver_pid() is not None:
        from multiprocessing import forkserver as fs

        with contextlib.suppress(Exception):
            fs._forkserver._stop()
    if tracker and _tracker_pid() is not None:
        from multiprocessing import resource_tracker as rt

        with contextlib.suppress(Exception):
            rt._resource_tracker._stop()


def _children() -> set[int]:
    try:
        return {p.pid for p in psutil.Process().children(recursive=False)}
    except psutil.Error:
        return set()


@contextlib.contextmanager
def no_leftovers() -> Iterator[None]:
    """On exit (normal, error or Ctrl-C), stop whatever processes were started inside.

    "Started inside" means: a child of this process that was not there on entry. The claims
    join their own workers; this is the safety net for a worker left by an error or Ctrl-C.
    (``psutil.Process.wait`` reaps only the child it killed, never another's.)
    """
    before = _children()
    had_forkserver = _forkserver_pid() is not None
    had_tracker = _tracker_pid() is not None
    try:
        yield
    finally:
        for pid in _children() - before:
            if pid in (_forkserver_pid(), _tracker_pid()):
                continue
            with contextlib.suppress(psutil.Error):
                child = psutil.Process(pid)
                child.kill()
                child.wait(5)
        stop_helpers(forkserver=not had_forkserver, tracker=not had_tracker)


def free_core_share(n: int, seconds: float = 0.2) -> float:
    """The share of ``n`` cores that ``n`` spinning processes got over ``seconds``.

    About 1 on a machine with ``n`` idle cores; lower when other programs compete for them.
    Processes, not threads: no GIL is involved, so this is the control for any speed-up
    measured in threads. Call it with no other threads running (it forks).
    """
    from gilfree.claims import _workers

    with no_leftovers():
        pool = mp.get_context(default_method()).Pool(n)
        try:
            cpu = pool.map(_workers.cpu_during, [seconds] * n, chunksize=1)
        finally:
            pool.terminate()
            pool.join()
    return min(1.0, sum(cpu) / (seconds * n))
