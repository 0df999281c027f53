"""The runner protocol on the in-process runners: results, worker rules, names, faults."""

from __future__ import annotations

import threading

import pytest

import gilfree
from gilfree.harness import dispatch_cost, runs_inline
from gilfree.runners import make_runner, resolve_workers


def test_resolve_workers_follows_joblib():
    assert resolve_workers(None, 4) == 4
    assert resolve_workers(3, 4) == 3
    assert resolve_workers(-1, 4) == 4
    assert resolve_workers(-2, 4) == 3
    with pytest.raises(ValueError, match="workers must not be 0"):
        resolve_workers(0, 4)
    with pytest.raises(ValueError, match="workers=-5 leaves no worker"):
        resolve_workers(-5, 4)
    with pytest.raises(TypeError, match="workers must be an integer"):
        resolve_workers(1.5, 4)


def test_unknown_runner_and_schedule_are_named():
    with pytest.raises(ValueError, match="unknown runner 'gpu'"):
        make_runner("gpu")
    with pytest.raises(ValueError, match="unknown schedule 'random'"):
        make_runner("threads", 2, schedule="random")


@pytest.mark.parametrize("runner", ["serial", "threads"])
@pytest.mark.parametrize("schedule", ["static", "dynamic"])
def test_run_matches_reference(kernel, runner, schedule):
    result = gilfree.run(
        kernel.name, "nogil", runner, 2 if runner == "threads" else 1, size="small", schedule=schedule
    )
    assert result.matched is True
    assert result.wall_s > 0 and result.cpu_s >= 0
    assert result.runner == runner and result.variant == "nogil"


def test_threads_fall_back_to_serial_below_the_threshold(kernel):
    inputs = kernel.make_inputs("tiny")
    with make_runner("threads", 2) as r:
        result = r.run(kernel, "nogil", inputs)
        cost = dispatch_cost(r, 2)
    assert result.serial_fallback == runs_inline(kernel.estimate_s(inputs), cost)
    assert result.matched


def test_the_serial_fallback_weighs_work_against_the_measured_dispatch_cost():
    assert runs_inline(0.0001, 50e-6)  # 0.1 ms of work, 50 us to dispatch: not worth it
    assert not runs_inline(0.1, 50e-6)
    assert runs_inline(0.01, 5e-3)  # a slow pool (5 ms a map) needs far more work


def test_the_dispatch_cost_is_measured_and_kept_per_runner():
    with make_runner("threads", 2) as r:
        first = dispatch_cost(r, 2)
        assert 0 < first < 0.05
        assert dispatch_cost(r, 2) == first  # measured once


def test_resolve_workers_refuses_absurd_counts():
    from gilfree.info import worker_limit

    assert resolve_workers(worker_limit(), 4) == worker_limit()
    with pytest.raises(ValueError, match="workers=100000 is more than"):
        resolve_workers(100000, 4)


@pytest.mark.thread_unsafe(reason="counts the process's threads: copies run at once start pools of their own")
def test_pool_is_reused_and_released():
    before = threading.active_count()
    with make_runner("threads", 3) as r:
        assert threading.active_count() == before + 3
        for _ in range(5):
            assert r.run("integrate", "nogil", size="small").matched
        assert threading.active_count() == before + 3
    assert threading.active_count() == before


def test_an_exception_in_a_chunk_reaches_the_caller_and_the_runner_stays_usable():
    def boom(i, cancel=None):
        if i == 2:
            raise KeyError("chunk two")
        return i

    with make_runner("threads", 2) as r:
        with pytest.raises(KeyError, match="chunk two") as info:
            r.map(boom, [(i,) for i in range(4)])
        assert "raised by chunk 2" in "".join(getattr(info.value, "__notes__", []))
        assert [o.value for o in r.map(boom, [(0,), (1,)])] == [0, 1]


def test_timeout_stops_a_nogil_kernel_in_a_thread():
    with make_runner("threads", 2) as r, pytest.raises(TimeoutError):
        r.run("primes", "nogil", gilfree.kernels.primes.build(None, lo=0, hi=10**9), timeout=0.2)


def test_openmp_variant_runs_in_one_call_with_workers_as_threads():
    if "openmp" not in gilfree.kernels.mandelbrot.variants:
        pytest.skip("built without OpenMP")
    result = gilfree.run("mandelbrot", "openmp", "serial", 2, size="small")
    assert result.matched and result.n_chunks == 1
