"""Faults: a chunk that raises, a worker that dies, a run past its timeout, a caller that cancels.

After each one the error names the chunk, the other chunks are stopped, nothing is left
running, and the same runner object runs the next job correctly.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import threading
import time

import psutil
import pytest

import gilfree
from gilfree.kernels import Cancelled, CancelToken, primes
from gilfree.runners import WorkerCrashed, make_runner

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.thread_unsafe(reason="kills worker processes and sends signals"),
]

#: Far more work than any test waits for: only a timeout, a kill or a cancel ends it.
ENDLESS = primes.build(None, lo=0, hi=10**10)


class ChunkError(Exception):
    pass


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("this exception does not pickle")


def faulty(i, how, cancel=None):
    """Chunk ``i`` of a job: ``how`` says what chunk 1 does; chunk 0 works for a long while."""
    if i == 0:
        time.sleep(60)
        return 0
    if i != 1:
        return i
    if how == "raise":
        raise ChunkError(f"chunk {i} is broken")
    if how == "unpicklable":
        raise Unpicklable("no way back")
    if how == "exit":
        os._exit(3)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how in ("segfault", "sigsegv"):
        faulthandler.disable()  # the crash is the point: no traceback dump in the test output
        if how == "segfault":
            ctypes.string_at(0)
        os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError(how)


def quick(i, cancel=None):
    return i * i


def sleepy(seconds, cancel=None):
    time.sleep(seconds)
    return seconds


def notes(exc: BaseException) -> str:
    """What attach_origin added: exception notes (3.11+), or the last argument (3.10)."""
    return "".join(getattr(exc, "__notes__", [])) or str(exc.args[-1])


def _gone(pids):
    """True when none of the processes is alive (a zombie counts as gone)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


def _collectable(pid: int) -> bool:
    """Has our child ``pid`` exited, in a way that waitpid would report (without reaping it)?"""
    if hasattr(os, "waitid"):
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
    time.sleep(0.5)  # pragma: no cover - no waitid (macOS): give it time
    return _gone([pid])


def _usable(r):
    assert [o.value for o in r.map(quick, [(i,) for i in range(5)])] == [0, 1, 4, 9, 16]
    assert r.run("mandelbrot", "nogil", size="tiny").matched


@pytest.fixture
def processes():
    with make_runner("processes", 3, start_method="fork") as r:
        yield r


@pytest.fixture(params=["fork", "spawn"])
def any_processes(request):
    with make_runner("processes", 3, start_method=request.param) as r:
        yield r


# -- an exception in a chunk -----------------------------------------------------------------


@pytest.mark.parametrize("runner", ["serial", "threads"])
def test_an_exception_in_a_chunk_names_it_in_process(runner):
    with make_runner(runner, 2) as r:
        with pytest.raises(ChunkError, match="chunk 1 is broken") as info:
            r.map(faulty, [(1, "raise"), (2, "raise")])
        assert "raised by chunk 0" in notes(info.value)
        _usable(r)


def test_an_exception_in_a_worker_comes_back_with_its_traceback(any_processes):
    processes = any_processes
    old = processes.pids()
    t0 = time.perf_counter()
    with pytest.raises(ChunkError, match="chunk 1 is broken") as info:
        processes.map(faulty, [(0, "raise"), (1, "raise"), (2, "raise")])
    assert time.perf_counter() - t0 < 30, "chunk 0 (sleeping 60 s) should have been cancelled"
    text = notes(info.value)
    assert "raised by chunk 1; the worker's traceback:" in text
    assert "in faulty" in text and 'raise ChunkError(f"chunk {i} is broken")' in text
    # The worker running chunk 0 was killed (chunk 2's too, if it had not replied yet); the
    # worker whose chunk raised is healthy and stays.
    killed = set(old) - set(processes.pids())
    assert 1 <= len(killed) <= 2 and _gone(killed)
    _usable(processes)
    assert len(processes.pids()) == 3


def test_an_exception_that_does_not_pickle_still_names_the_chunk():
    with make_runner("processes", 2, start_method="fork") as r:
        with pytest.raises(RuntimeError, match=r"chunk 1 raised Unpicklable: no way back") as info:
            r.map(faulty, [(2, "x"), (1, "unpicklable")])
        assert "in faulty" in notes(info.value)
        _usable(r)


# -- a worker that dies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "exitcode"),
    [("exit", 3), ("sigkill", -signal.SIGKILL), ("segfault", -signal.SIGSEGV), ("sigsegv", -signal.SIGSEGV)],
)
def test_a_dying_worker_raises_worker_crashed_naming_the_chunk(how, exitcode):
    with make_runner("processes", 3, start_method="fork") as r:
        old = r.pids()
        t0 = time.perf_counter()
        with pytest.raises(WorkerCrashed, match="running chunk 1 died") as info:
            r.map(faulty, [(0, how), (1, how), (2, how)])
        assert time.perf_counter() - t0 < 30
        assert info.value.index == 1 and info.value.exitcode == exitcode
        assert info.value.pid in old
        # The dead worker and the one still running chunk 0 are gone (chunk 2's too, if it had
        # not replied yet); the pool is rebuilt.
        assert _gone([info.value.pid]) and 2 <= len(set(old) - set(r.pids())) <= 3
        _usable(r)
        assert len(r.pids()) == 3 and _gone(set(old) - set(r.pids()))


def test_a_dying_spawned_worker_is_named_too():
    with make_runner("processes", 2, start_method="spawn") as r:
        with pytest.raises(WorkerCrashed, match=r"chunk 1 died: exit status 3"):
            r.map(faulty, [(2, "exit"), (1, "exit")])
        _usable(r)


def test_a_worker_killed_while_idle_is_replaced(processes):
    victim = processes.pids()[0]
    os.kill(victim, signal.SIGKILL)
    # Wait until its death can be collected (psutil shows a zombie a little before waitpid
    # reports it; a worker dying *as* a chunk is handed to it is taken for that chunk's crash).
    deadline = time.monotonic() + 10
    while not _collectable(victim):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    _usable(processes)
    assert victim not in processes.pids() and len(processes.pids()) == 3


# -- timeouts and cancellation ---------------------------------------------------------------


def test_a_timeout_kills_the_worker_processes(processes):
    old = processes.pids()
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"timeout=0.3 s; the worker processes running chunks \[0, 1, 2\]"):
        processes.map(sleepy, [(60,), (60,), (60,)], timeout=0.3)
    assert time.perf_counter() - t0 < 10
    assert _gone(old)
    _usable(processes)


def test_a_timeout_stops_a_compiled_kernel_in_processes():
    with make_runner("processes", 2, start_method="fork") as r:
        with pytest.raises(TimeoutError):
            r.run(primes, "nogil", ENDLESS, timeout=0.3)
        _usable(r)


@pytest.mark.parametrize("variant", ["nogil"])
def test_a_timeout_stops_a_kernel_in_threads_cooperatively(variant):
    """Threads cannot be killed: the kernel reads the cancel flag and returns within ~10 ms.

    Only ``nogil``: a ``gil`` kernel in a worker thread holds the GIL for its whole loop, so
    the waiting thread never runs to notice the deadline (that is what the GIL means).
    """
    before = threading.active_count()
    with make_runner("threads", 2) as r:
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError):
            r.run(primes, variant, ENDLESS, timeout=0.2)
        overshoot = time.perf_counter() - t0 - 0.2
        assert overshoot < 1.0, f"the kernel took {overshoot * 1e3:.0f} ms to stop after the timeout"
        _usable(r)
    assert threading.active_count() == before


def test_a_cancel_token_stops_processes_too():
    token = CancelToken()
    with make_runner("processes", 2, start_method="fork") as r:
        old = r.pids()
        timer = threading.Timer(0.2, token.cancel)
        timer.start()
        try:
            with pytest.raises(Cancelled, match="stopped by the caller"):
                r.map(sleepy, [(60,), (60,)], cancel=token)
        finally:
            timer.cancel()
        assert _gone(old)
        _usable(r)


def test_gilfree_run_passes_the_timeout_on():
    with pytest.raises(TimeoutError):
        gilfree.run(primes, "nogil", "processes", 2, inputs=ENDLESS, timeout=0.3, start_method="fork")


# -- one runner, many threads, crashing workers ------------------------------------------------


def hammered(i, kind, cancel=None):
    """A chunk of the threads-hammering test: ``ok`` returns ``i * i``, the others kill the worker."""
    if kind == "exit":
        os._exit(7)
    if kind == "segfault":
        faulthandler.disable()
        ctypes.string_at(0)
    return i * i


def test_one_runner_shared_by_8_threads_while_workers_crash():
    """8 threads share one pool; some chunks os._exit or segfault. Every map either returns the
    right values or raises WorkerCrashed naming one of its crashing chunks, never another
    error, never a stall; afterwards the pool is whole and no process is left over."""
    import random
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # one per interpreter, kept: not a leak of this test
    before = {c.pid for c in psutil.Process().children(recursive=True)}
    errors: list[str] = []
    counts = {"ok": 0, "crashed": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + 6.0

    def hammer(r, seed):
        rng = random.Random(seed)
        for _ in range(60):
            if time.monotonic() > stop_at:
                return
            n = rng.randint(1, 4)
            kinds = ["ok"] * n
            if rng.random() < 0.35:
                kinds[rng.randrange(n)] = rng.choice(["exit", "segfault"])
            crashing = {j for j, k in enumerate(kinds) if k != "ok"}
            try:
                r.start()  # as the harness does before it times a run: replaces dead workers
                values = [o.value for o in r.map(hammered, [(j, k) for j, k in enumerate(kinds)], timeout=30)]
            except WorkerCrashed as exc:
                if exc.index not in crashing:
                    errors.append(f"WorkerCrashed for chunk {exc.index}, crashing chunks {crashing}: {exc}")
                with lock:
                    counts["crashed"] += 1
            except BaseException as exc:
                errors.append(f"{kinds}: {type(exc).__name__}: {exc}")
            else:
                if crashing:
                    errors.append(f"{kinds}: returned {values} though chunks {crashing} crash")
                elif values != [j * j for j in range(n)]:
                    errors.append(f"{kinds}: wrong values {values}")
                with lock:
                    counts["ok"] += 1

    with make_runner("processes", 3) as r:
        threads = [threading.Thread(target=hammer, args=(r, seed)) for seed in range(8)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "a map stalled"
        assert time.monotonic() - t0 < 60
        assert errors == []
        assert counts["ok"] > 0 and counts["crashed"] > 0, counts
        r.start()  # replaces the workers the last crashes took
        assert len(r.pids()) == 3
        _usable(r)
        pool = set(r.pids())
    assert _gone(pool)
    left = {c.pid for c in psutil.Process().children(recursive=True)} - before
    assert _gone(left), f"processes left over: {left}"


def test_close_from_another_thread_stops_the_run_under_way():
    with make_runner("processes", 2, start_method="fork") as r:
        old = r.pids()
        box: dict[str, BaseException] = {}

        def run():
            try:
                r.map(sleepy, [(60,), (60,)])
            except BaseException as exc:
                box["error"] = exc

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.3)
        t0 = time.perf_counter()
        r.close()
        assert time.perf_counter() - t0 < 10
        t.join(10)
        assert not t.is_alive()
        assert isinstance(box.get("error"), RuntimeError) and "closed" in str(box["error"])
        assert r.pids() == [] and _gone(old)
        _usable(r)  # a closed runner starts again when used


def test_a_timeout_counts_the_wait_for_another_threads_run():
    with make_runner("processes", 1, start_method="fork") as r:
        t = threading.Thread(target=r.map, args=(sleepy, [(1.5,)]))
        t.start()
        time.sleep(0.3)
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError, match="waiting for another thread's run"):
            r.map(quick, [(2,)], timeout=0.3)
        assert time.perf_counter() - t0 < 1.2
        t.join(10)
        _usable(r)
