"""Claim 5: moving an array to a worker, by pickling, by shared memory, or to a thread (no copy)."""

from __future__ import annotations

import contextlib
import functools
import multiprocessing as mp
import os
import queue
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gilfree.claims import _workers
from gilfree.claims._core import (
    FAILS,
    HOLDS,
    ONLY_IF,
    Claim,
    Figures,
    Verdict,
    fmt_bytes,
    fmt_gbps,
    fmt_ms,
)
from gilfree.claims._procs import default_method, no_leftovers
from gilfree.runners import _shm

MB = 1 << 20
#: Moving data "has more overhead" when it takes at least this many times as long as handing a
#: thread the same array. Why: 2x is well clear of timer noise at every size measured.
MORE_X = 2.0


# -- claim 5: IPC is more complicated, with more overhead -----------------------------------------


class _Worker:
    """A process that answers arrays sent to it, started before any timing."""

    def __init__(self, target: Callable[[Any], None]) -> None:
        ctx = mp.get_context(default_method())
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _by_pickle(w: _Worker, a: np.ndarray) -> float:
    t0 = time.perf_counter()
    w.conn.send(a)
    w.conn.recv()
    return time.perf_counter() - t0


def _by_shared_memory(w: _Worker, a: np.ndarray) -> float:
    """gilfree's own transport: the processes runner's Placement (one copy into a segment),
    the worker attaching a view through Attachments, the segment unlinked at the end."""
    t0 = time.perf_counter()
    placement = _shm.Placement([(a,)])
    try:
        w.conn.send(placement.specs[0][0])
        w.conn.recv()
        return time.perf_counter() - t0
    finally:
        placement.close()


def _by_thread(inbox: queue.SimpleQueue, outbox: queue.SimpleQueue, a: np.ndarray) -> float:
    t0 = time.perf_counter()
    inbox.put(a)
    outbox.get()
    return time.perf_counter() - t0


def _thread_receiver(inbox: queue.SimpleQueue, outbox: queue.SimpleQueue) -> None:
    while (a := inbox.get()) is not None:
        outbox.put(float(a[-1]))


def _sizes(quick: bool) -> list[int]:
    return [1 << 10, 1 << 20, 64 << 20] + ([] if quick else [1 << 30])


def _repeats(nbytes: int, quick: bool) -> int:
    if nbytes <= 1 << 10:
        return 50 if quick else 200
    if nbytes <= 1 << 20:
        return 10 if quick else 30
    if nbytes <= 64 << 20:
        return 3 if quick else 5
    return 1


def _size_tag(nbytes: int) -> str:
    return fmt_bytes(nbytes).replace(" ", "").lower()


def measure_transfer(quick: bool) -> Figures:
    """Hand a float64 array to a worker: by pickling, by shared memory, and to a thread."""
    f: Figures = {"process_start_method": default_method()}
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    receiver = threading.Thread(target=_thread_receiver, args=(inbox, outbox), daemon=True)
    with no_leftovers(), contextlib.ExitStack() as stack:
        if os.name == "posix":
            # Start the resource tracker before forking, so the worker shares it instead of
            # starting its own (which would warn about segments the parent already unlinked).
            from multiprocessing import resource_tracker

            resource_tracker.ensure_running()
        pickled = _Worker(_workers.receive_pickled)
        stack.callback(pickled.close)
        shared = _Worker(_workers.receive_shared)
        stack.callback(shared.close)
        receiver.start()
        stack.callback(receiver.join)
        stack.callback(inbox.put, None)
        for nbytes in _sizes(quick):
            a = np.arange(nbytes // 8, dtype=np.float64)
            tag = _size_tag(nbytes)
            n = _repeats(nbytes, quick)
            for how, once in (
                ("pickle", functools.partial(_by_pickle, pickled, a)),
                ("shm", functools.partial(_by_shared_memory, shared, a)),
                ("thread", functools.partial(_by_thread, inbox, outbox, a)),
            ):
                if nbytes <= 1 << 20:
                    once()  # warm up: imports and first calls are not the transfer
                s = statistics.median(once() for _ in range(n))
                f[f"{how}_{tag}_ms"] = s * 1e3
                f[f"{how}_{tag}_gbps"] = nbytes / s / 1e9
            del a, once  # free the array before the next, larger one
    f["sizes_n"] = len(_sizes(quick))
    return f


def _tags(f: Figures) -> list[str]:
    return [k[len("thread_") : -len("_ms")] for k in f if k.startswith("thread_") and k.endswith("_ms")]


def verdict_transfer(f: Figures) -> Verdict:
    tags = _tags(f)
    small, big = tags[0], tags[-1]
    # Sizes at which pickling costs MORE_X a thread's hand-over or more.
    costly = [t for t in tags if f[f"pickle_{t}_ms"] >= MORE_X * f[f"thread_{t}_ms"]]
    shm_more = f[f"shm_{big}_ms"] >= MORE_X * f[f"thread_{big}_ms"]
    why = (
        f"{big.upper()}: thread {fmt_ms(f[f'thread_{big}_ms'])} (no copy), shared memory "
        f"{fmt_ms(f[f'shm_{big}_ms'])} ({fmt_gbps(f[f'shm_{big}_gbps'])}), pickling "
        f"{fmt_ms(f[f'pickle_{big}_ms'])} ({fmt_gbps(f[f'pickle_{big}_gbps'])}); {small.upper()} round trip: "
        f"thread {fmt_ms(f[f'thread_{small}_ms'])}, pipe {fmt_ms(f[f'pickle_{small}_ms'])}"
    )
    if big not in costly:
        return Verdict(FAILS, why)
    if not shm_more:
        return Verdict(ONLY_IF, why, condition="data is pickled: shared memory is as cheap as a thread")
    if len(costly) == len(tags):
        return Verdict(HOLDS, why)
    # Small messages: waking the worker costs about the same either way.
    first = tags[max(i for i, t in enumerate(tags) if t not in costly) + 1]
    return Verdict(ONLY_IF, why, condition=f"arrays are {first.upper()} or more")


def headline_transfer(f: Figures) -> str:
    big = _tags(f)[-1]
    return (
        f"{big.upper()}: pickle {fmt_ms(f[f'pickle_{big}_ms'])}, shared memory "
        f"{fmt_ms(f[f'shm_{big}_ms'])}, thread {fmt_ms(f[f'thread_{big}_ms'])}"
    )


CLAIMS = [
    Claim(
        5,
        "IPC is more complicated, with more overhead.",
        measure_transfer,
        verdict_transfer,
        headline_transfer,
    ),
]
