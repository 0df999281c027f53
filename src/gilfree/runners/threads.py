"""A persistent pool of threads: chunks are views of the caller's arrays, nothing is copied.

Speed-up comes only from kernels that release the GIL (``nogil``, ``openmp``); ``gil`` and
``python`` chunks run one at a time however many threads there are, which is the point
the comparison makes. On a free-threaded build with the GIL off they run at once too.

Shared state is locked, never left to the GIL: see ``_Batch``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gilfree.kernels import Cancelled, CancelToken
from gilfree.runners._base import ChunkOutcome, Runner, attach_origin, call_chunk
from gilfree.runners.registry import register
from gilfree.runners.serial import run_inline

#: Below this much estimated work (seconds, one core) ``run`` does not dispatch at all.
#: Why: handing a chunk to a warm worker and collecting it costs tens of microseconds
#: (``benchmarks/dispatch.py`` measures it); at 0.5 ms of work that is under 10% even if the
#: estimate is 2x too high, and below it a parallel run could lose to serial.
SERIAL_THRESHOLD_S = 0.0005


class _Batch:
    """One ``map`` call: its chunks, their outcomes, and the count still to finish.

    Worker threads share it, so ``errors`` and ``remaining`` are read and written only under
    ``lock`` (with no GIL, nothing else orders them). ``outcomes[i]`` is written by the one
    thread that runs chunk ``i`` and read by the caller after ``done`` is set, which happens
    under the lock after every write: that gives the ordering without locking each store.
    """

    __slots__ = ("chunks", "done", "errors", "func", "lock", "outcomes", "remaining", "token")

    def __init__(self, func, chunks, token) -> None:
        self.func = func
        self.chunks = chunks
        self.token = token
        self.outcomes: list[ChunkOutcome | None] = [None] * len(chunks)
        self.errors: dict[int, BaseException] = {}
        self.remaining = len(chunks)
        self.lock = threading.Lock()
        self.done = threading.Event()

    def run(self, i: int) -> None:
        try:
            with self.lock:  # read under the lock, as it is written: no GIL to rely on
                failed = bool(self.errors)
            if failed:  # another chunk failed: skip the rest
                raise Cancelled("skipped after another chunk failed")
            self.outcomes[i] = call_chunk(self.func, self.chunks[i], self.token)
        except BaseException as exc:
            with self.lock:
                self.errors[i] = exc
            if self.token is not None:
                self.token.cancel()
        finally:
            with self.lock:
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()


def _wait_step(deadline: float | None) -> float:
    """Wait in short steps, so Ctrl-C is seen at once and the deadline to the millisecond."""
    return 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.perf_counter()))


@register
class ThreadRunner(Runner):
    """``workers`` threads started once; ``map`` queues chunks, free threads take them."""

    name = "threads"
    uses_threads = True
    shares_memory = True

    def _start(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"gilfree-thread-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for t in self._threads:
            t.start()

    def _close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()
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
    ) -> list[ChunkOutcome]:
        self.start()
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
                    self._stop(batch)
                    raise TimeoutError(f"the run took longer than timeout={timeout} s")
        except KeyboardInterrupt:
            self._stop(batch)
            raise
        if batch.errors:
            # The first real failure; the Cancelled of chunks stopped because of it are noise.
            real = {i: e for i, e in batch.errors.items() if not isinstance(e, Cancelled)} or batch.errors
            i = min(real)
            raise attach_origin(real[i], i)
        return batch.outcomes  # type: ignore[return-value]

    @staticmethod
    def _stop(batch: _Batch) -> None:
        """Ask running chunks to stop, and wait for them: threads cannot be killed."""
        with batch.lock:
            batch.errors.setdefault(-1, Cancelled("stopped by the caller"))
        if batch.token is not None:
            batch.token.cancel()
        batch.done.wait()

    def _timed_map(self, kernel, variant, inputs, func, chunks, timeout):
        if kernel.estimate_s(inputs, variant) < SERIAL_THRESHOLD_S:
            w0, c0 = time.perf_counter(), time.process_time()
            outcomes = run_inline(func, [inputs.whole()], timeout=timeout, cancel=CancelToken())
            return outcomes, time.perf_counter() - w0, time.process_time() - c0, True
        return super()._timed_map(kernel, variant, inputs, func, chunks, timeout)
