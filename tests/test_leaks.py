"""Nothing is left behind: no child process, no /dev/shm segment, no live thread, no memory growth.

Checked after normal runs, raised exceptions, killed workers, timeouts and Ctrl-C. Ctrl-C is
a real SIGINT sent to a child Python process that runs gilfree (and, in this process, to
ourselves). Child processes enable faulthandler with a deadline, so a hang there prints
tracebacks too, and the parent kills them and shows their output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from gilfree.kernels import REGISTRY, CancelToken, primes
from gilfree.runners import WorkerCrashed, make_runner
from gilfree.runners._shm import segment_prefix

from .test_runner_faults import faulty

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.thread_unsafe(reason="counts the process's children, threads and /dev/shm entries"),
]

SHM = Path("/dev/shm")
ENDLESS = primes.build(None, lo=0, hi=10**10)
PROCESS_OPTIONS = [
    {"start_method": "fork", "transport": "shm"},
    {"start_method": "fork", "transport": "pickle"},
    {"start_method": "forkserver", "transport": "shm"},
    {"start_method": "spawn", "transport": "shm"},
]


def our_segments(pid: int | None = None) -> list[str]:
    """The shared-memory segments a process of ours created and did not unlink."""
    if not SHM.is_dir():  # pragma: no cover - no /dev/shm (macOS): nothing to list
        return []
    prefix = segment_prefix(pid)
    return sorted(p.name for p in SHM.iterdir() if p.name.startswith(prefix))


def live_children() -> set[int]:
    return {c.pid for c in psutil.Process().children(recursive=True) if c.status() != psutil.STATUS_ZOMBIE}


@pytest.fixture(scope="module")
def baseline():
    """Children that multiprocessing keeps for the whole process (resource tracker, fork server).

    They are started here, once, so that they are not counted as leaks of the first test.
    """
    for options in PROCESS_OPTIONS:
        with make_runner("processes", 1, **options) as r:
            r.run("integrate", "nogil", size="tiny")
    return live_children()


@pytest.fixture(autouse=True)
def no_leaks(baseline):
    threads = threading.active_count()
    yield
    deadline = time.monotonic() + 5
    while live_children() - baseline and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live_children() - baseline == set(), "child processes left running"
    assert our_segments() == [], "shared-memory segments left in /dev/shm"
    assert threading.active_count() == threads, "threads left running"


# -- in this process --------------------------------------------------------------------------


@pytest.mark.parametrize("options", PROCESS_OPTIONS, ids=lambda o: "-".join(o.values()))
def test_normal_runs_leave_nothing(options):
    with make_runner("processes", 2, schedule="dynamic", **options) as r:
        for name in REGISTRY:
            assert r.run(name, "nogil", size="tiny").matched
            # Between runs only the last run's segments remain, kept for the next run.
            assert our_segments() == sorted(r.segments)
            assert len(r.segments) <= len(REGISTRY[name].make_inputs("tiny").args)
    assert r.pids() == []


@pytest.mark.parametrize("runner", ["serial", "threads"])
def test_in_process_runners_leave_nothing(runner):
    with make_runner(runner, 2) as r:
        for name in REGISTRY:
            assert r.run(name, "nogil", size="small").matched


def test_raised_exceptions_leave_nothing():
    with make_runner("threads", 2) as r, pytest.raises(Exception, match="broken"):
        r.map(faulty, [(1, "raise"), (2, "raise")])
    with make_runner("processes", 2, start_method="fork") as r, pytest.raises(Exception, match="broken"):
        r.map(faulty, [(0, "raise"), (1, "raise")])


def test_killed_workers_leave_nothing():
    import numpy as np

    out = np.zeros(4)
    with make_runner("processes", 2, start_method="fork") as r:
        for how in ("exit", "sigkill"):
            with pytest.raises(WorkerCrashed):
                r.map(faulty, [(0, how), (1, how), (2, how)])
            # with an array in flight, so that a segment was placed
            with pytest.raises(WorkerCrashed):
                r.map(_write_then_die, [(out, 0), (out, 1)])
            assert our_segments() == []


def _write_then_die(a, i, cancel=None):
    a[i] = 1.0
    if i == 1:
        os._exit(5)
    time.sleep(60)


def test_timeouts_leave_nothing():
    with make_runner("threads", 2) as r, pytest.raises(TimeoutError):
        r.run(primes, "nogil", ENDLESS, timeout=0.2)
    for options in PROCESS_OPTIONS[:2]:
        with make_runner("processes", 2, **options) as r:
            with pytest.raises(TimeoutError):
                r.run(primes, "nogil", ENDLESS, timeout=0.2)
            # with an array in flight (chunks given: the cost hint would take long at this depth)
            deep = REGISTRY["mandelbrot"].build(None, 400, 300, 10**6)
            chunks = [(*deep.args, 0, 150), (*deep.args, 150, 300)]
            with pytest.raises(TimeoutError):
                r.run("mandelbrot", "nogil", deep, chunks, timeout=0.2)


@pytest.mark.parametrize("runner", ["threads", "processes"])
def test_ctrl_c_here_leaves_nothing_and_the_runner_usable(runner):
    with make_runner(runner, 2) as r:
        timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                r.run(primes, "nogil", ENDLESS)
        finally:
            timer.cancel()
            timer.join()
        assert r.run("integrate", "nogil", size="small").matched


# -- 500 runs keep memory flat ----------------------------------------------------------------


def _rss(pids: list[int]) -> int:
    return sum(psutil.Process(p).memory_info().rss for p in [os.getpid(), *pids])


@pytest.mark.parametrize("runner", ["threads", "processes"])
def test_500_runs_keep_resident_memory_flat(runner):
    k = REGISTRY["mandelbrot"]
    inputs = k.make_inputs("tiny")
    with make_runner(runner, 2, **({"start_method": "fork"} if runner == "processes" else {})) as r:
        chunks = k.split(inputs, 4)

        def once():
            assert k.check(inputs, k.combine([o.value for o in r.map(k.nogil, chunks, cancel=CancelToken())]))
            assert r.run(k, "nogil", inputs).matched

        for _ in range(50):  # warm up: allocator pools, caches, lazily imported modules
            once()
        pids = r.pids() if runner == "processes" else []
        before = _rss(pids)
        for _ in range(250):  # 2 runs each: 500 runs
            once()
        grown = _rss(pids) - before
        assert r.pids() == pids if runner == "processes" else True
    assert grown < 20 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB over 500 runs"


# -- Ctrl-C and a killed caller, in a child process -------------------------------------------

CHILD = textwrap.dedent(
    """
    import faulthandler, os, sys
    faulthandler.enable()
    faulthandler.dump_traceback_later(60, exit=True)  # a hang prints tracebacks, then exits
    from gilfree.kernels import primes
    from gilfree.runners import make_runner

    runner = sys.argv[1]
    options = {"start_method": sys.argv[2]} if runner == "processes" else {}
    with make_runner(runner, 2, **options) as r:
        pids = r.pids() if runner == "processes" else []
        print("READY", *pids, flush=True)
        r.run(primes, "nogil", primes.build(None, lo=0, hi=10**10))
    """
)


def _start_child(*args: str) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the child did not start: {line}{out}\n{err}")
    time.sleep(0.3)  # let the run get going
    return proc, [int(p) for p in line.split()[1:]]


def _finish(proc: subprocess.Popen, limit: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the child did not exit within {limit} s; its output:\n{out}\n{err}")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _all_gone(pids: list[int], limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not [p for p in pids if _alive(p)]:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    ("runner", "start_method"), [("threads", ""), ("processes", "fork"), ("processes", "spawn")]
)
def test_ctrl_c_in_a_child_process_stops_it_and_leaves_nothing(runner, start_method):
    proc, workers = _start_child(runner, start_method)
    assert len(workers) == (2 if runner == "processes" else 0)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = _finish(proc, 30)
    took = time.monotonic() - t0
    assert "KeyboardInterrupt" in err, err
    assert proc.returncode != 0
    assert took < 3.0, f"the child took {took:.2f} s to stop after SIGINT"
    assert _all_gone(workers), "worker processes outlived the interrupted caller"
    assert our_segments(proc.pid) == []
    assert "leaked" not in err and "resource_tracker" not in err, err


def test_workers_exit_when_the_caller_is_killed():
    proc, workers = _start_child("processes", "fork")
    proc.kill()
    proc.wait()
    assert _all_gone(workers, limit=10), "workers outlived a caller killed with SIGKILL"
    # A SIGKILLed caller cannot unlink; multiprocessing's resource tracker does, once the last
    # process holding it (the workers) is gone.
    deadline = time.monotonic() + 5
    while our_segments(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert our_segments(proc.pid) == []
