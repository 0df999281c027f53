"""Claim 6: what stops a worker: terminate() for a process, nothing for a Python thread, and
cooperative cancellation for a nogil kernel."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

from gilfree.claims import _workers
from gilfree.claims._core import (
    FAILS,
    HOLDS,
    ONLY_IF,
    Claim,
    Figures,
    Verdict,
    fmt_ms,
)
from gilfree.claims._procs import default_method, no_leftovers
from gilfree.kernels import Cancelled, CancelToken, primes

#: A worker that stops within this many ms of the request stopped "at once". Why: a person
#: perceives 100 ms as immediate, and no supervisor waits less before escalating.
PROMPT_MS = 100.0


# -- claim 6: child processes are killable, threads are not ---------------------------------------


def _kill_process() -> tuple[float, bool]:
    """ms from ``terminate()`` to a joined process running a loop that never checks anything."""
    ctx = mp.get_context(default_method())
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_workers.spin, args=(child,), daemon=True)
    try:
        p.start()
        child.close()
        if not parent.poll(60):
            raise TimeoutError("the spinning worker did not start within 60 s")
        parent.recv()
        time.sleep(0.02)
        t0 = time.perf_counter()
        p.terminate()
        p.join(10)
        return (time.perf_counter() - t0) * 1e3, not p.is_alive()
    finally:
        if p.is_alive():
            p.kill()
            p.join()
        parent.close()


def _python_thread(grace: float) -> tuple[float, int, float]:
    """A pure-Python loop in a thread: no kill exists; it is still running ``grace`` s later.

    Returns (seconds it ran on after we would have killed it, loop iterations in that time,
    ms to stop it cooperatively with a flag afterwards).
    """
    stop, count = [False], [0]

    def loop() -> None:
        while not stop[0]:
            count[0] += 1

    t = threading.Thread(target=loop, daemon=True)
    try:
        t.start()
        time.sleep(0.02)
        # The kill request: threading has no Thread.kill or Thread.terminate to call.
        t0, c0 = time.perf_counter(), count[0]
        time.sleep(grace)
        ran_on = time.perf_counter() - t0 if t.is_alive() else 0.0
        iterations = count[0] - c0
    finally:
        t1 = time.perf_counter()
        stop[0] = True
        t.join()
        flag_ms = (time.perf_counter() - t1) * 1e3
    return ran_on, iterations, flag_ms


def _cancel_nogil() -> tuple[float, bool]:
    """ms from ``token.cancel()`` to the end of a nogil kernel that would run for hours."""
    token = CancelToken()
    seen: list[BaseException] = []

    def work() -> None:
        try:
            primes.nogil(0, 10**10, cancel=token)
        except Cancelled as exc:
            seen.append(exc)

    t = threading.Thread(target=work, daemon=True)
    try:
        t.start()
        time.sleep(0.05)
        t0 = time.perf_counter()
        token.cancel()
        t.join()
        return (time.perf_counter() - t0) * 1e3, bool(seen)
    finally:
        token.cancel()
        if t.ident is not None:
            t.join()


def measure_killability(quick: bool) -> Figures:
    """Stop a spinning process, a pure-Python thread and a nogil kernel; time each."""
    with no_leftovers():
        proc_ms, proc_stopped = _kill_process()
    grace = 0.2 if quick else 1.0
    ran_on, iterations, flag_ms = _python_thread(grace)
    cancel_ms, cancelled = _cancel_nogil()
    return {
        "process_terminate_ms": proc_ms,
        "process_stopped": proc_stopped,
        "thread_has_kill": hasattr(threading.Thread, "kill") or hasattr(threading.Thread, "terminate"),
        "thread_ran_on_after_kill_s": ran_on,
        "thread_iterations_after_kill_n": iterations,
        "thread_flag_stop_ms": flag_ms,
        "nogil_cancel_ms": cancel_ms,
        "nogil_cancelled": cancelled,
    }


def verdict_killability(f: Figures) -> Verdict:
    process_ok = f["process_stopped"] and f["process_terminate_ms"] <= PROMPT_MS
    thread_unkillable = not f["thread_has_kill"] and f["thread_iterations_after_kill_n"] > 0
    coop_ok = f["nogil_cancelled"] and f["nogil_cancel_ms"] <= PROMPT_MS
    why = (
        f"terminate() stopped a process in {fmt_ms(f['process_terminate_ms'])}; a Python thread has no kill "
        f"and ran on {f['thread_ran_on_after_kill_s']:.1f} s; a nogil kernel stopped "
        f"{fmt_ms(f['nogil_cancel_ms'])} after token.cancel()"
    )
    if process_ok and thread_unkillable and coop_ok:
        return Verdict(ONLY_IF, why, condition="the thread's code cannot be asked to stop")
    if process_ok and thread_unkillable:
        return Verdict(HOLDS, why)
    return Verdict(FAILS, why)


def headline_killability(f: Figures) -> str:
    return (
        f"process terminate(): {fmt_ms(f['process_terminate_ms'])}; Python thread: no kill, ran on "
        f"{f['thread_ran_on_after_kill_s']:.1f} s; nogil cancel: {fmt_ms(f['nogil_cancel_ms'])}"
    )


CLAIMS = [
    Claim(
        6,
        "Child processes are killable; threads are not.",
        measure_killability,
        verdict_killability,
        headline_killability,
    ),
]
