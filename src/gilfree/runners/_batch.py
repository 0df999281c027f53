"""One ``map`` call's bookkeeping, for the runners whose workers are threads of this process
(``threads``; ``interpreters``, whose threads drive subinterpreters).

Both hand chunks to worker threads through a queue, wait for them in the calling thread with a
deadline, stop them through a cancel token, and leave a chunk that ignores its token running
(a thread cannot be killed, nor an interpreter that runs code destroyed): the runner refuses
new work until it ends. That policy lives here once; a runner says how a chunk is called and
how its workers are told to stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from gilfree._cancel import Cancelled
from gilfree.runners._base import ChunkOutcome, attach_origin, has_origin

#: How long running chunks get to stop after their token is set (timeout, Ctrl-C). Why: gilfree's
#: kernels read the token about once a millisecond, so they stop within a few; 0.2 s covers a
#: busy machine, and beyond it a chunk is taken to ignore the token.
STOP_GRACE_S = 0.2


class Batch:
    """One ``map`` call: its outcomes, errors, the chunks running and the count still to finish.

    Worker threads share it, so ``errors``, ``running`` and ``remaining`` are read and written
    only under ``lock`` (with no GIL, nothing else orders them). ``outcomes[i]`` is written by
    the one thread that runs chunk ``i`` and read by the caller after ``done`` is set, which
    happens under the lock after every write: that gives the ordering without locking each store.
    A subclass says how chunk ``i`` runs (``call``), and may add what happens under the lock as
    a chunk begins (``begin``) and as a run is stopped (``halt``).
    """

    __slots__ = ("done", "errors", "lock", "outcomes", "remaining", "running", "token")

    def __init__(self, n: int, token: Any) -> None:
        self.token = token
        self.outcomes: list[ChunkOutcome | None] = [None] * n
        self.errors: dict[int, BaseException] = {}
        self.running: set[int] = set()
        self.remaining = n
        self.lock = threading.Lock()
        self.done = threading.Event()

    def call(self, i: int, worker: Any) -> ChunkOutcome:
        raise NotImplementedError

    def begin(self, worker: Any) -> None:
        """Under the lock, as a chunk starts on ``worker``."""

    def halt(self) -> None:
        """Under the lock, as the run is stopped: tell running chunks to stop."""

    def run(self, i: int, worker: Any = None) -> None:
        """Chunk ``i``, in a worker thread: skipped if another failed, its failure stops the rest."""
        try:
            with self.lock:  # read under the lock, as it is written: no GIL to rely on
                failed = bool(self.errors)
                if not failed:
                    self.running.add(i)
                    self.begin(worker)
            if failed:  # another chunk failed, or the caller stopped the run: skip the rest
                raise Cancelled("skipped after another chunk failed")
            self.outcomes[i] = self.call(i, worker)
        except BaseException as exc:
            self.stop(i, exc)
        finally:
            with self.lock:
                self.running.discard(i)
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()

    def stop(self, i: int, exc: BaseException) -> None:
        """Note a failure (``i = -1``: the caller stopped the run) and stop every running chunk."""
        with self.lock:
            self.errors.setdefault(i, exc)
            self.halt()
        if self.token is not None:
            self.token.cancel()

    def still_running(self) -> list[int]:
        with self.lock:
            return sorted(self.running)

    def result(self) -> list[ChunkOutcome]:
        """The outcomes in order, or the first real failure, with its chunk's index noted."""
        if not self.errors:
            return self.outcomes  # type: ignore[return-value]
        # The first real failure; the Cancelled of chunks stopped because of it are noise.
        real = {i: e for i, e in self.errors.items() if not isinstance(e, Cancelled)} or self.errors
        i = min(real)
        if i < 0 or has_origin(real[i]):
            raise real[i]  # the caller's stop, or a worker's exception that says its chunk already
        raise attach_origin(real[i], i)


class StuckGuard:
    """A runner's stuck chunk: the batch whose chunks ignored their token after a stop."""

    def __init__(self, runner: str, why: str) -> None:
        self.runner, self.why = runner, why
        self.batch: Batch | None = None

    def check(self) -> None:
        """Refuse new work while chunks of a stopped run still run."""
        stuck = self.batch
        if stuck is None:
            return
        if not stuck.done.is_set():
            raise RuntimeError(
                f"this {self.runner} runner is unusable until chunk(s) {stuck.still_running()} of an "
                f"earlier run finish: they ignored their cancel token after a timeout ({self.why}); "
                "close it and use another runner"
            )
        self.batch = None

    def stop(self, batch: Batch) -> list[int]:
        """Stop running chunks and give them ``STOP_GRACE_S``; the chunks still running."""
        batch.stop(-1, Cancelled("stopped by the caller"))
        if batch.done.wait(STOP_GRACE_S):
            return []
        self.batch = batch
        return batch.still_running()


def wait(
    batch: Batch,
    guard: StuckGuard,
    timeout: float | None,
    *,
    step: float,
    where: str,
    tick: Callable[[], None] | None = None,
) -> list[ChunkOutcome]:
    """Wait for ``batch`` in the calling thread, waking every ``step`` s (``tick`` then runs):
    past ``timeout`` the run is stopped and ``TimeoutError`` raised, naming the chunks still
    running (in ``where``), and Ctrl-C stops it too. Then its outcomes, or its first failure."""
    deadline = None if timeout is None else time.perf_counter() + timeout
    try:
        while not batch.done.wait(
            step if deadline is None else max(0.0, min(step, deadline - time.perf_counter()))
        ):
            if tick is not None:
                tick()
            if deadline is not None and time.perf_counter() >= deadline:
                left = guard.stop(batch)
                msg = f"the run took longer than timeout={timeout} s"
                if left:
                    msg += (
                        f"; chunk(s) {left} ignored the cancel token and are still running in "
                        f"{where}: this runner refuses new work until they finish"
                    )
                raise TimeoutError(msg)
    except KeyboardInterrupt:
        guard.stop(batch)
        raise
    return batch.result()
