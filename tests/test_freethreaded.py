"""Free-threaded CPython: the GIL stays off, ``gilfree info`` says so, and shared state is locked.

The subprocess tests need a free-threaded interpreter with gilfree installed: this one when
it is free-threaded, or the one ``GILFREE_FT_PYTHON`` names (.ci/run sets it); else they skip.
The locking tests run on every build: a compute that sleeps lets threads interleave with the
GIL too, so they fail without the locks on either build.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
import threading
import time

import pytest

from gilfree import info
from gilfree.kernels import Inputs
from gilfree.runners.threads import ThreadRunner

from .conftest import free_threaded_build, free_threaded_python

SUBPROCESS = pytest.mark.thread_unsafe(reason="starts an interpreter: nothing in this process to stress")

# Imports gilfree, calls every variant of every kernel once, and reports the GIL's state
# after each step. Warnings are errors: CPython warns (RuntimeWarning) when an extension
# module without free-threading support switches the GIL back on at import.
FIRST_CALLS = """
import json, sys, warnings
warnings.simplefilter("error")
steps = [("start", sys._is_gil_enabled())]
import gilfree
from gilfree.kernels import REGISTRY
steps.append(("import gilfree", sys._is_gil_enabled()))
for name, k in REGISTRY.items():
    for v in k.variants:
        inputs = k.make_inputs("tiny")
        assert k.check(inputs, k.variant(v)(*inputs.whole())), (name, v)
        steps.append((f"{name}.{v}", sys._is_gil_enabled()))
print(json.dumps(steps))
"""


def _env(**extra: str) -> dict[str, str]:
    """This environment without PYTHON_GIL (so the test does not depend on how it was run)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    env.update(extra)
    return env


def _ft_python() -> str:
    path = free_threaded_python()
    if path is None:
        pytest.skip("no free-threaded interpreter: run on 3.13t or set GILFREE_FT_PYTHON")
    return path


@SUBPROCESS
def test_gil_stays_off_after_import_and_every_kernels_first_call():
    if not free_threaded_build():
        pytest.skip("a GIL build: the GIL is always on")
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_CALLS], env=_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)
    assert len(steps) >= 2 + 6 * 3  # start, import, six kernels x at least three variants
    assert [step for step, enabled in steps if enabled] == []
    assert "GIL" not in proc.stderr, proc.stderr


@SUBPROCESS
@pytest.mark.parametrize("python_gil", [None, "1"])
def test_info_reports_the_free_threaded_build_and_the_gil_now(python_gil):
    python = _ft_python()
    env = _env() if python_gil is None else _env(PYTHON_GIL=python_gil)
    run = [python, "-m", "gilfree", "info"]
    proc = subprocess.run([*run, "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{python} -m gilfree info failed (gilfree installed there?)\n{proc.stderr}"
    facts = json.loads(proc.stdout)
    assert facts["build"] == "free-threaded"
    assert facts["gil_enabled"] is (python_gil == "1")
    table = subprocess.run(run, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    expected = "GIL re-enabled (PYTHON_GIL=1)" if python_gil else "free-threaded, GIL off now"
    assert expected in table.stdout


def test_describe_gil_reads_as_one_line_for_each_state(monkeypatch):
    monkeypatch.delenv("PYTHON_GIL", raising=False)
    assert info.describe_gil({"build": "gil", "gil_enabled": True}) == "GIL build (the GIL is always on)"
    ft = {"build": "free-threaded"}
    assert info.describe_gil({**ft, "gil_enabled": False}) == "free-threaded, GIL off now"
    assert "imported module" in info.describe_gil({**ft, "gil_enabled": True})
    monkeypatch.setenv("PYTHON_GIL", "1")
    assert info.describe_gil({**ft, "gil_enabled": True}) == "free-threaded, GIL re-enabled (PYTHON_GIL=1)"


def test_describe_gil_of_this_interpreter_matches_its_status():
    text = info.describe_gil()
    status = info.gil_status()
    assert text.startswith("free-threaded" if status["build"] == "free-threaded" else "GIL build")
    assert ("GIL off now" in text) == (not status["gil_enabled"])


def test_inputs_cache_computes_once_when_threads_ask_at_once():
    inputs = Inputs("demo", (), 0, 0)
    calls: list[int] = []
    lock = threading.Lock()

    def compute() -> object:
        with lock:
            calls.append(1)
        time.sleep(0.02)  # a slow reference: without the cache lock every thread computes it
        return object()

    barrier = threading.Barrier(8)
    got: list[object] = [None] * 8

    def ask(i: int) -> None:
        barrier.wait()
        got[i] = inputs.cached("reference", compute)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(g is got[0] for g in got)


def test_inputs_survive_pickle_and_copy_with_a_lock_of_their_own():
    inputs = Inputs("demo", (3,), 0, 3, size="tiny", seed=1)
    assert inputs.cached("x", lambda: 42) == 42
    for clone in (pickle.loads(pickle.dumps(inputs)), copy.deepcopy(inputs), copy.copy(inputs)):
        assert clone == inputs and clone.cache["x"] == 42
        assert clone._cache_lock is not inputs._cache_lock
        assert clone.cached("y", lambda: 7) == 7


def test_a_runner_started_by_many_threads_at_once_starts_one_pool():
    class CountingRunner(ThreadRunner):
        starts = 0

        def _start(self) -> None:
            self.starts += 1  # under the runner's lock, when start() holds it
            time.sleep(0.02)  # widen the window a second start would slip into
            super()._start()

    runner = CountingRunner(2)
    barrier = threading.Barrier(6)
    values: list[list[int]] = []

    def use() -> None:
        barrier.wait()
        values.append([o.value for o in runner.map(lambda x: x * 2, [(1,), (2,)])])

    threads = [threading.Thread(target=use) for _ in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert values == [[2, 4]] * 6
        assert runner.starts == 1
        assert len(runner._threads) == 2
    finally:
        runner.close()
    assert runner._threads == []
