"""The processes runner's handles on its worker processes: start them, wait until each is ready,
kill and reap them. Plumbing only: which chunk goes where is :mod:`gilfree.runners.processes`'s.
"""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import time
from typing import Any

from gilfree.runners._base import describe_exit
from gilfree.runners._process_worker import Ready, describe_message, recv, worker_main

#: How long a worker gets to exit after being asked (or after SIGTERM) before the next step.
GRACE_S = 1.0
#: A worker that has not said "ready" by then is taken as failed (spawn imports NumPy: ~0.1 s).
START_TIMEOUT_S = 60.0
#: The longest the caller blocks in one wait, so that Ctrl-C and a CancelToken are seen promptly.
STEP_S = 0.05


class Worker:
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


def spawn(ctx: Any, start_method: str, workers: list[Worker], n: int) -> list[Worker]:
    """Start ``n`` workers, appended to ``workers`` as each starts (so that closing the pool after a
    failure stops them too), and wait until each has imported what it needs and said so."""
    new = []
    for _ in range(n):
        parent, child = ctx.Pipe(duplex=True)
        # The lifeline carries nothing: the worker watches it for EOF, which comes when the
        # caller closes it or dies, and then exits even in the middle of a long chunk.
        life_r, life_w = ctx.Pipe(duplex=False)
        # Forked children inherit the caller's ends of every pipe open at fork time; they
        # close them first, so that each worker sees EOF when the caller dies.
        inherited = []
        if start_method == "fork":
            inherited = [parent, life_w, *(c for w in workers for c in (w.conn, w.lifeline))]
        process = ctx.Process(
            target=worker_main,
            args=(child, life_r, inherited),
            name=f"gilfree-worker-{len(workers)}",
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
        worker = Worker(process, parent, life_w)
        workers.append(worker)
        new.append(worker)
    waiting = {w.conn: w for w in new}
    sentinels = {w.process.sentinel: w for w in new}
    deadline = time.perf_counter() + START_TIMEOUT_S
    while waiting:
        left = deadline - time.perf_counter()
        ready_list = multiprocessing.connection.wait([*waiting, *sentinels], max(0.0, min(STEP_S, left)))
        if not ready_list and left <= 0:
            raise RuntimeError(
                f"{len(waiting)} {start_method} worker process(es) did not start within "
                f"{START_TIMEOUT_S:.0f} s"
            )
        for ready in ready_list:
            w = waiting.get(ready) or sentinels[ready]  # type: ignore[call-overload]
            if w.conn not in waiting:
                continue
            try:
                msg = recv(w.conn)
            except (EOFError, OSError):
                w.process.join(GRACE_S)
                raise RuntimeError(
                    f"a {start_method} worker process failed to start: "
                    f"{describe_exit(w.process.exitcode)} (its stderr says why)"
                ) from None
            if not isinstance(msg, Ready) or msg.pid != w.pid:  # pragma: no cover - protocol error
                raise RuntimeError(
                    f"worker process {w.pid} said {describe_message(msg)} instead of being ready"
                )
            del waiting[w.conn], sentinels[w.process.sentinel]
    return new


def kill(workers: list[Worker]) -> None:
    """SIGTERM, then SIGKILL for any that are still there after a grace period; reap them all."""
    for w in workers:
        with contextlib.suppress(OSError, ValueError):
            w.process.terminate()
    deadline = time.perf_counter() + GRACE_S
    for w in workers:
        w.process.join(max(0.0, deadline - time.perf_counter()))
    for w in workers:
        if w.process.exitcode is None:
            w.process.kill()
            w.process.join()


def dispose(w: Worker) -> None:
    """Close the pipes and the Process object of a worker that has exited."""
    w.conn.close()
    w.lifeline.close()
    if w.process.exitcode is None:  # pragma: no cover - callers kill first
        w.process.kill()
        w.process.join()
    w.process.close()
