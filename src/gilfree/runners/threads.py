"""A persistent pool of threads: chunks are views of the caller's arrays, nothing is copied.

Speed-up comes only from code that releases the GIL (``nogil``, ``openmp``); ``gil`` and
``python`` chunks run one at a time however many threads there are, which is the point
the comparison makes. On a free-threaded build with the GIL off they run at once too.

Shared state is locked, never left to the GIL: see ``_Batch``.

A thread cannot be killed. On a timeout (or Ctrl-C) the runner sets the run's cancel token,
which every gilfree kernel reads about once a millisecond, and gives running chunks
``STOP_GRACE_S`` to stop. A chunk that ignores the token is left running in its thread:
``map`` raises ``TimeoutError`` on time all the same, naming it, and the runner refuses new
work (``RuntimeError``) until that chunk has finished; ``close()`` does not wait for it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gilfree._cancel import Cancelled
from gilfree.runners._base import ChunkOutcome, Runner, attach_origin, call_chunk, check_timeout
from gilfree.runners.registry import register

#: How long running chunks get to stop after their token is set (timeout, Ctrl-C). Why: gilfree's
#: kernels read the token about once a millisecond, so they stop within a few; 0.2 s covers a
#: busy machine, and beyond it a chunk is taken to ignore the token.
STOP_GRACE_S = 0.2
#: How long ``close()`` waits for a thread to finish (longer only for a stuck chunk, left behind).
CLOSE_JOIN_S = 1.0


class _Batch:
    """One ``map`` call: its chunks, their outcomes, and the count still to finish.

    Worker threads share it, so ``errors``, ``running`` and ``remaining`` are read and written
    only under ``lock`` (with no GIL, nothing else orders them). ``outcomes[i]`` is written by
    the one thread that runs chunk ``i`` and read by the caller after ``done`` is set, which
    happens under the lock after every write: that gives the ordering without locking each store.
    """

    __slots__ = ("chunks", "done", "errors", "func", "lock", "outcomes", "remaining", "running", "token")

    def __init__(self, func, chunks, token) -> None:
        self.func = func
        self.chunks = chunks
        self.token = token
        self.outcomes: list[ChunkOutcome | None] = [None] * len(chunks)
        self.errors: dict[int, BaseException] = {}
        self.running: set[int] = set()
        self.remaining = len(chunks)
        self.lock = threading.Lock()
        self.done = threading.Event()

    def run(self, i: int) -> None:
        try:
            with self.lock:  # read under the lock, as it is written: no GIL to rely on
                failed = bool(self.errors)
                if not failed:
                    self.running.add(i)
            if failed:  # another chunk failed, or the caller stopped the run: skip the rest
                raise Cancelled("skipped after another chunk failed")
            self.outcomes[i] = call_chunk(self.func, self.chunks[i], self.token)
        except BaseException as exc:
            with self.lock:
                self.errors[i] = exc
            if self.token is not None:
                self.token.cancel()
        finally:
            with self.lock:
                self.running.discard(i)
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()

    def still_running(self) -> list[int]:
        with self.lock:
            return sorted(self.running)


@register
class ThreadRunner(Runner):
    """``workers`` threads started once; ``map`` queues chunks, free threads take them."""

    name = "threads"
    uses_threads = True
    shares_memory = True

    def _start(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stuck: _Batch | None = None
        try:
            for i in range(self.workers):
                t = threading.Thread(target=self._work, name=f"gilfree-thread-{i}", daemon=True)
                t.start()
                self._threads.append(t)
        except BaseException:
            self._close()  # a failed start stops the threads it made
            raise

    def _close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.perf_counter() + CLOSE_JOIN_S
        for t in self._threads:
            t.join(max(0.0, deadline - time.perf_counter()))
        # A thread still alive runs a chunk that ignored its token; it exits when that ends.
        self._threads = []

    def _work(self) -> None:
        get = self._queue.get
        while True:
            job = get()
            if job is None:
                return
            batch, i = job
            batch.run(i)

    def map(
        self,
        func: Callable[..., Any],
        chunks: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
        cancel: Any = None,
        outputs: Sequence[int] = (),
    ) -> list[ChunkOutcome]:
        timeout = check_timeout(timeout)
        self.start()
        stuck = self._stuck
        if stuck is not None:
            if not stuck.done.is_set():
                raise RuntimeError(
                    f"this threads runner is unusable until chunk(s) {stuck.still_running()} of an "
                    "earlier run finish: they ignored their cancel token after a timeout (a thread "
                    "cannot be killed); close it and use another runner"
                )
            self._stuck = None
        if not chunks:
            return []
        batch = _Batch(func, chunks, cancel)
        put = self._queue.put
        for i in range(len(chunks)):
            put((batch, i))
        deadline = None if timeout is None else time.perf_counter() + timeout
        try:
            while not batch.done.wait(
                0.05 if deadline is None else max(0.0, min(0.05, deadline - time.perf_counter()))
            ):
                if deadline is not None and time.perf_counter() >= deadline:
                    left = self._stop(batch)
                    msg = f"the run took longer than timeout={timeout} s"
                    if left:
                        msg += (
                            f"; chunk(s) {left} ignored the cancel token and are still running in "
                            "their threads, which cannot be killed: this runner refuses new work "
                            "until they finish"
                        )
                    raise TimeoutError(msg)
        except KeyboardInterrupt:
            self._stop(batch)
            raise
        if batch.errors:
            # The first real failure; the Cancelled of chunks stopped because of it are noise.
            real = {i: e for i, e in batch.errors.items() if not isinstance(e, Cancelled)} or batch.errors
            i = min(real)
            raise attach_origin(real[i], i)
        return batch.outcomes  # type: ignore[return-value]

    def _stop(self, batch: _Batch) -> list[int]:
        """Ask running chunks to stop and give them ``STOP_GRACE_S``; the chunks still running."""
        with batch.lock:
            batch.errors.setdefault(-1, Cancelled("stopped by the caller"))
        if batch.token is not None:
            batch.token.cancel()
        if batch.done.wait(STOP_GRACE_S):
            return []
        self._stuck = batch
        return batch.still_running()
