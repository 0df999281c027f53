"""What the dask runner runs inside Dask's worker processes: each chunk, and the calls that stop
a run and find out what happened to it. Workers import this module when they unpickle
:func:`run_chunk`; the caller's side is :mod:`gilfree.runners.dask`.

A chunk runs inside guards that keep one bad chunk from hurting the worker or the next run:

- **its cancel token**, one per run and process, set by :func:`stop_run` (Dask cannot
  interrupt a thread);
- **a record that it is running**: in this process (so the caller can tell a chunk that
  ignores its token from one that stopped), and as an empty file named after the run, the
  chunk and this process in a folder of the machine's temporary directory, removed when the
  chunk ends. A process that dies in a chunk (``os._exit``, a signal, a segfault) leaves its
  files behind: they say which chunks were running in it each time it died, which Dask's own
  ``KilledWorker`` cannot (it blames whichever task reached the limit of deaths first, often
  one that only shared the process);
- **no way out of the worker**: a ``SystemExit`` or ``KeyboardInterrupt`` raised by a chunk
  would end the worker process (Dask's nanny does not always bring it back); it travels to
  the caller inside :class:`ChunkExit` instead, and is raised there as itself;
- **a result that can travel**: it is pickled once here, as Dask will pickle it, so that one
  that cannot be is an error of this chunk, not a failed transfer that Dask logs at length
  and that leaves the connection broken.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gilfree._cancel import Cancelled, CancelToken
from gilfree.runners._base import ChunkOutcome, call_chunk, format_traceback

#: Blocks of this many bytes when the worker compares an output's rows before and after a
#: chunk: one comparison of a whole 100 MB range would allocate a 100 MB mask.
_COMPARE_BLOCK = 1 << 20

#: One cancel token per run in each worker process, so ``stop_run`` (sent to every worker
#: with ``Client.run``) stops that run's chunks within a millisecond of work. Old entries are
#: dropped: run ids are never reused, and only runs still under way need their token.
_RUN_TOKENS: dict[str, CancelToken] = {}
_RUN_TOKENS_KEPT = 256
#: run id -> indices of its chunks running in this process now
_RUNNING: dict[str, set[int]] = {}
_LOCK = threading.Lock()


#: How old the file of a chunk whose process died must be before any worker may sweep it away
#: (a run that failed removes its own files; one that survived a killed worker leaves them).
_STALE_S = 600.0


def _marker_dir() -> Path | None:
    """This user's folder for the running-chunk files, made if need be; None if it cannot be
    trusted (not a folder of ours, with other users kept out) or made."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    path = Path(tempfile.gettempdir()) / f"gilfree-dask-chunks-{uid if uid is not None else 'user'}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or (uid is not None and (st.st_uid != uid or st.st_mode & 0o077)):
        return None
    return path


def run_token(run_id: str) -> CancelToken:
    with _LOCK:
        token = _RUN_TOKENS.get(run_id)
        if token is None:
            token = _RUN_TOKENS[run_id] = CancelToken()
            while len(_RUN_TOKENS) > _RUN_TOKENS_KEPT:
                del _RUN_TOKENS[next(iter(_RUN_TOKENS))]
        return token


def stop_run(run_id: str) -> dict[str, Any]:
    """Runs in each worker process: stop the chunks of ``run_id`` that run or will run here,
    and say which are still running (``running``) and which were running in a worker process
    of this machine when it died (``died_in``: ``(chunk, pid)`` pairs, whose files go now)."""
    run_token(run_id).cancel()
    with _LOCK:
        running = sorted(_RUNNING.get(run_id, ()))
    died_in = [(index, pid) for index, pid, _ in dead_markers(f"{run_id}-", remove=True)]
    return {"pid": os.getpid(), "running": running, "died_in": died_in}


def dead_markers(prefix: str, remove: bool, older_than: float = 0.0) -> list[tuple[int, int, str]]:
    """``(chunk, pid, run id)`` of the files under ``prefix`` left by processes that are gone."""
    folder = _marker_dir()
    if folder is None:
        return []
    found = []
    with contextlib.suppress(OSError):
        for path in folder.glob(f"{prefix}*"):
            parts = path.name.rsplit("-", 2)
            if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
                continue
            run_id, index, pid = parts
            if _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                if older_than and time.time() - path.stat().st_mtime < older_than:
                    continue
                found.append((int(index), int(pid), run_id))
                if remove:
                    path.unlink()
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive, and not one of ours
        return True
    return True


@contextlib.contextmanager
def _running(run_id: str, index: int) -> Iterator[None]:
    """Record chunk ``index`` as running here, in this process and on disk (see the docstring)."""
    with _LOCK:
        _RUNNING.setdefault(run_id, set()).add(index)
    folder = _marker_dir()
    marker = None if folder is None else folder / f"{run_id}-{index}-{os.getpid()}"
    if marker is not None:
        try:
            marker.touch()
        except OSError:  # no writable temporary folder: KilledWorker is then Dask's guess
            marker = None
    try:
        yield
    finally:
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.unlink()
        with _LOCK:
            left = _RUNNING.get(run_id)
            if left is not None:
                left.discard(index)
                if not left:
                    del _RUNNING[run_id]


class ChunkExit(Exception):
    """A ``SystemExit``, ``KeyboardInterrupt`` or other ``BaseException`` raised by a chunk,
    carried to the caller as an ordinary exception so that the worker process lives on."""

    def __init__(self, original: BaseException, remote_tb: str) -> None:
        super().__init__(original, remote_tb)
        self.original, self.remote_tb = original, remote_tb

    def __str__(self) -> str:
        return f"the chunk raised {type(self.original).__name__}: {self.original}"

    def rebuild(self) -> BaseException:
        """The chunk's exception made again from its type and arguments. Why: the one that
        comes through Dask has its arguments but not what they set (``SystemExit.code`` is None)."""
        try:
            return type(self.original)(*self.original.args)
        except Exception:
            return self.original


def worker_facts() -> str:
    """Runs in each worker process at start: which gilfree it has. Unpickling this function
    imports this module, and with it the compiled kernels, in start-up rather than in the
    first timed run."""
    import gilfree

    dead_markers("", remove=True, older_than=_STALE_S)  # what killed workers of past runs left
    return gilfree.__version__


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Byte equality (NaN equals itself), compared block by block to stay in cache."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    x = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    y = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    return all(
        np.array_equal(x[i : i + _COMPARE_BLOCK], y[i : i + _COMPARE_BLOCK])
        for i in range(0, x.size, _COMPARE_BLOCK)
    )


@dataclass(frozen=True)
class Output:
    """Stands for an output array (a kernel's ``outputs``) in a chunk sent to a worker.

    Why: a chunk only writes its rows of such an array and reads none, so its contents need not
    travel. The worker allocates an empty array of the same shape (pages that are never written
    are never touched) and sends back the chunk's rows.
    """

    shape: tuple[int, ...]
    dtype: str

    def allocate(self) -> np.ndarray:
        return np.empty(self.shape, dtype=self.dtype)


def run_chunk(
    func: Callable[..., Any], run_id: str, index: int, watch: Sequence[int], *chunk: Any
) -> tuple[ChunkOutcome, dict[int, np.ndarray]]:
    """One chunk on a worker thread: its outcome, and the rows it wrote of each output or watched array.

    An output (an ``Output`` argument) becomes a fresh array, and the chunk's rows of it
    travel back. The watched arrays (writable in the caller) are first passed read-only. A chunk that runs
    so has provably written none of them (NumPy and Cython refuse writes to a read-only
    buffer), and nothing travels back: the case of every input array. Only a chunk that fails
    read-only, as an output such as mandelbrot's ``out`` makes it, runs again with them
    writable; its rows ``[start, stop)`` are compared before and after, and those that changed
    are sent back. Why not always compare: the copy and the comparison of a 100 MB input would
    cost more than a memory-bound kernel itself.
    """
    token = run_token(run_id)
    if token.cancelled:
        raise Cancelled("the run was stopped before this chunk began")
    fresh = [pos for pos, a in enumerate(chunk) if isinstance(a, Output)]
    if fresh:
        chunk = tuple(a.allocate() if isinstance(a, Output) else a for a in chunk)
    with _running(run_id, index):
        try:
            outcome, written = _run_watched(func, token, watch, chunk)
        except Exception:
            raise
        except BaseException as exc:  # SystemExit and the like would end this worker process
            raise ChunkExit(exc, format_traceback(exc)) from None
        if fresh:  # outputs are only found in chunks that end with their rows' start and stop
            start, stop = chunk[-2], chunk[-1]
            for pos in fresh:
                written[pos] = chunk[pos][start:stop]
        _check_result(outcome.value)
    return outcome, written


def _check_result(value: Any) -> None:
    """Pickle the chunk's value as Dask will (pickle, then cloudpickle; array buffers out of
    band, so they are not copied), and fail here, as this chunk's error, if it cannot be.

    Not with ``distributed.protocol.pickle.dumps`` itself: that logs every failure at length."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return
    import cloudpickle

    def drop(_buffer: Any) -> None:
        pass

    try:
        pickle.dumps(value, protocol=5, buffer_callback=drop)
    except Exception:
        try:
            cloudpickle.dumps(value, protocol=5, buffer_callback=drop)
        except Exception as exc:
            raise TypeError(
                f"the chunk returned a {type(value).__module__}.{type(value).__qualname__}, which "
                f"cannot be pickled to travel back to the caller ({type(exc).__name__}: {exc})"
            ) from None


def _run_watched(
    func: Callable[..., Any], token: CancelToken, watch: Sequence[int], chunk: Sequence[Any]
) -> tuple[ChunkOutcome, dict[int, np.ndarray]]:
    """``run_chunk`` for the watched arrays: their rows that the chunk changed."""
    if not watch:
        return call_chunk(func, chunk, token), {}
    frozen = list(chunk)
    for pos in watch:
        frozen[pos] = view = chunk[pos].view()
        view.flags.writeable = False
    try:
        return call_chunk(func, frozen, token), {}
    except Cancelled:
        raise
    except Exception:  # it needs to write into one of them (a real error happens again below)
        pass
    start, stop = chunk[-2], chunk[-1]
    before = [(pos, chunk[pos][start:stop].copy()) for pos in watch]
    outcome = call_chunk(func, chunk, token)
    written = {}
    for pos, old in before:
        new = chunk[pos][start:stop]
        if not same_bytes(old, new):
            written[pos] = new.copy()
    return outcome, written
