"""A persistent pool of threads: chunks are views of the caller's arrays, nothing is copied.

Speed-up comes only from code that releases the GIL (``nogil``, ``openmp``); ``gil`` and
``python`` chunks run one at a time however many threads there are, which is the point
the comparison makes. On a free-threaded build with the GIL off they run at once too.

Shared state is locked, never left to the GIL; the bookkeeping of a run, its timeout and a
stuck chunk are :mod:`gilfree.runners._batch`'s, shared with the interpreters runner.

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

from gilfree.runners._base import ChunkOutcome, Runner, call_chunk, check_timeout
from gilfree.runners._batch import Batch, StuckGuard, wait
from gilfree.runners.registry import register

#: How long ``close()`` waits for a thread to finish (longer only for a stuck chunk, left behind).
CLOSE_JOIN_S = 1.0
#: How often the caller wakes while it waits, to check its deadline.
_STEP_S = 0.05


class _Batch(Batch):
    """One ``map`` call: chunk ``i`` is ``func(*chunks[i])``, with the run's token."""

    __slots__ = ("chunks", "func")

    def __init__(self, func, chunks, token) -> None:
        super().__init__(len(chunks), token)
        self.func = func
        self.chunks = chunks

    def call(self, i: int, worker: Any) -> ChunkOutcome:
        return call_chunk(self.func, self.chunks[i], self.token)


@register
class ThreadRunner(Runner):
    """``workers`` threads started once; ``map`` queues chunks, free threads take them."""

    name = "threads"
    uses_threads = True
    shares_memory = True

    def _start(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._stuck = StuckGuard("threads", "a thread cannot be killed")
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
        self._stuck.check()
        if not chunks:
            return []
        batch = _Batch(func, chunks, cancel)
        put = self._queue.put
        for i in range(len(chunks)):
            put((batch, i))
        return wait(batch, self._stuck, timeout, step=_STEP_S, where="their threads, which cannot be killed")
