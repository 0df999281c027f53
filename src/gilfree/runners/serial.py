"""The calling thread, one chunk after another: the baseline every speed-up is measured against."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gilfree._cancel import Cancelled, CancelToken
from gilfree.runners._base import ChunkOutcome, Runner, attach_origin, call_chunk, check_timeout
from gilfree.runners.registry import register


@register
class SerialRunner(Runner):
    """No pool. ``workers`` only matters for the ``openmp`` variant (its OpenMP threads)."""

    name = "serial"
    uses_threads = True
    shares_memory = True

    def __init__(self, workers: int | None = 1, *, schedule: str = "static") -> None:
        super().__init__(workers, schedule=schedule)

    def n_chunks(self) -> int:
        return 1

    def map(
        self,
        func: Callable[..., Any],
        chunks: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
        cancel: Any = None,
        outputs: Sequence[int] = (),
    ) -> list[ChunkOutcome]:
        return run_inline(func, chunks, timeout=timeout, cancel=cancel)


def run_inline(func, chunks, *, timeout=None, cancel=None) -> list[ChunkOutcome]:
    """Chunks in the calling thread; a timeout is enforced between and (cooperatively) inside chunks."""
    timeout = check_timeout(timeout)
    token = cancel if cancel is not None else CancelToken()
    deadline = None if timeout is None else time.perf_counter() + timeout
    timer = None
    if timeout is not None:
        timer = threading.Timer(timeout, token.cancel)
        timer.daemon = True
        timer.start()
    outcomes = []
    try:
        for i, chunk in enumerate(chunks):
            try:
                outcomes.append(call_chunk(func, chunk, token))
            except Cancelled:
                if deadline is not None and time.perf_counter() >= deadline:
                    raise TimeoutError(f"the run took longer than timeout={timeout} s") from None
                raise
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                raise attach_origin(exc, i) from None
    finally:
        if timer is not None:
            timer.cancel()
    return outcomes
