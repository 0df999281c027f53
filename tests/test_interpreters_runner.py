"""The interpreters runner: one subinterpreter per worker, each with its own GIL.

Skipped where the runner is unavailable (before 3.12, or 3.12-3.13 without the backport). The
functions the workers run are stdlib functions or gilfree's kernels: a worker imports ``func``
by name, and this module (which imports NumPy) cannot be imported in a subinterpreter.
"""

from __future__ import annotations

import operator
import threading
import time

import numpy as np
import pytest

from gilfree._cancel import Cancelled, CancelToken
from gilfree.runners import make_runner

try:
    from gilfree.runners import interpreters
except ImportError as exc:  # no subinterpreters here: say why in the skip
    pytestmark = pytest.mark.skip(reason=str(exc))
    interpreters = None  # type: ignore[assignment]

MANDEL = (-2.0, 1.0, -1.5, 1.5, 60)


def _live_interpreters() -> int:
    return len(interpreters._api.list_all())


def _pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("gilfree-interp-")]


@pytest.fixture
def runner():
    with make_runner("interpreters", 2) as r:
        yield r


def test_map_runs_chunks_in_order_and_closes_everything():
    before = _live_interpreters()
    with make_runner("interpreters", 2) as r:
        assert r.startup_s is not None and len(r.interpreter_ids()) == 2
        assert _live_interpreters() == before + 2
        outcomes = r.map(operator.add, [(1, 2), (3, 4), (5, 6)])
        assert [o.value for o in outcomes] == [3, 7, 11]
        assert all(o.wall_s >= 0 and o.cpu_s >= 0 for o in outcomes)
        assert r.map(operator.add, []) == []
    assert _live_interpreters() == before
    assert _pool_threads() == []
    r.close()  # safe twice


def _failing_create(monkeypatch, failures: int) -> list[int]:
    """Make the first ``failures`` creations fail as CPython's creation race does."""
    real, calls = interpreters._api.create, []

    def create():
        calls.append(1)
        if len(calls) <= failures:
            raise interpreters._api.InterpreterError("interpreter creation failed")
        return real()

    monkeypatch.setattr(interpreters._api, "create", create)
    return calls


def test_a_creation_that_fails_now_and_then_is_tried_again(monkeypatch):
    calls = _failing_create(monkeypatch, interpreters.CREATE_TRIES - 1)
    before = _live_interpreters()
    with make_runner("interpreters", 2) as r:
        assert [o.value for o in r.map(operator.add, [(1, 2), (3, 4)])] == [3, 7]
    assert len(calls) == interpreters.CREATE_TRIES + 1  # the failed tries, then both workers
    assert _live_interpreters() == before and _pool_threads() == []


def test_a_creation_that_always_fails_is_one_clear_error_and_leaves_nothing(monkeypatch):
    _failing_create(monkeypatch, 10**6)
    before = _live_interpreters()
    with pytest.raises(RuntimeError, match="a subinterpreter failed to start: interpreter creation failed"):
        make_runner("interpreters", 2).start()
    assert _live_interpreters() == before and _pool_threads() == []


def test_arrays_arrive_as_memoryviews_and_outputs_are_written_in_place(runner):
    from gilfree.kernels import _mandelbrot

    out = np.zeros((40, 30), np.int32)
    chunks = [(out, *MANDEL, 0, 20), (out, *MANDEL, 20, 40)]
    got = runner.map(_mandelbrot.nogil, chunks, cancel=CancelToken())
    ref = np.zeros_like(out)
    total = _mandelbrot.nogil(ref, *MANDEL)
    assert sum(o.value for o in got) == total
    np.testing.assert_array_equal(out, ref)


def test_gil_variant_and_read_only_inputs(runner):
    from gilfree.kernels import _sum_squares

    x = np.arange(1000, dtype=np.float64)
    x.flags.writeable = False
    got = runner.map(_sum_squares.gil, [(x, 0, 500), (x, 500, 1000)])
    assert sum(o.value for o in got) == pytest.approx(float(np.dot(x, x)))


def test_bad_input_is_rejected_with_the_kernels_message(runner):
    from gilfree.kernels import _mandelbrot

    with pytest.raises(TypeError, match="out must have dtype int32") as info:
        runner.map(_mandelbrot.gil, [(np.zeros((4, 4), np.float64), *MANDEL)])
    assert any("raised by chunk 0" in n for n in info.value.__notes__)


def test_a_chunk_that_raises_is_noted_with_its_index(runner):
    with pytest.raises(ZeroDivisionError) as info:
        runner.map(operator.truediv, [(1, 1), (1, 0), (2, 1)])
    notes = "\n".join(info.value.__notes__)
    assert "raised by chunk 1" in notes and "ZeroDivisionError" in notes
    assert [o.value for o in runner.map(operator.neg, [(1,), (2,)])] == [-1, -2]  # still usable


def test_plain_values_are_pickled_and_big_results_come_back(runner):
    got = runner.map(operator.mul, [([1, 2], 3), ("ab", 100_000)])
    assert got[0].value == [1, 2, 1, 2, 1, 2]
    assert got[1].value == "ab" * 100_000  # bigger than the reply buffer


@pytest.mark.parametrize(
    "func, why",
    [(lambda: None, "lambda"), (operator.add.__call__, "module-level"), (print.__self__, "callable")],
)
def test_func_must_be_importable_by_name(runner, func, why):
    with pytest.raises(TypeError, match=why):
        runner.map(func, [()])


def test_a_function_whose_module_imports_numpy_fails_clearly(runner):
    with pytest.raises(ImportError) as info:
        runner.map(_live_interpreters, [()])
    assert "numpy issue 24755" in "\n".join(info.value.__notes__)


def test_a_timeout_stops_a_kernel_through_its_token(runner):
    from gilfree.kernels import _integrate

    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"timeout=0\.2"):
        runner.map(_integrate.nogil, [(10**12, 0, 10**12)] * 2, timeout=0.2, cancel=CancelToken())
    assert time.perf_counter() - t0 < 2.0
    assert [o.value for o in runner.map(operator.neg, [(3,)])] == [-3]  # not stuck


def test_a_stuck_chunk_times_out_on_time_and_blocks_the_runner_until_it_ends():
    before = _live_interpreters()
    r = make_runner("interpreters", 2)
    try:
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError, match=r"chunk\(s\) \[0\] ignored the cancel token"):
            r.map(time.sleep, [(1.5,)], timeout=0.2)
        assert time.perf_counter() - t0 < 1.0
        with pytest.raises(RuntimeError, match="unusable until"):
            r.map(operator.neg, [(1,)])
        time.sleep(1.6)
        assert [o.value for o in r.map(operator.neg, [(1,)])] == [-1]
    finally:
        r.close()
    assert _live_interpreters() == before


def test_close_does_not_wait_for_a_stuck_chunk_and_its_interpreter_goes_when_it_ends():
    before = _live_interpreters()
    r = make_runner("interpreters", 1)
    with pytest.raises(TimeoutError):
        r.map(time.sleep, [(1.0,)], timeout=0.1)
    t0 = time.perf_counter()
    r.close()
    assert time.perf_counter() - t0 < 3.0
    deadline = time.perf_counter() + 5
    while (_pool_threads() or _live_interpreters() > before) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert _pool_threads() == [] and _live_interpreters() == before


def test_the_callers_token_stops_the_run(runner):
    from gilfree.kernels import _integrate

    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        runner.map(_integrate.nogil, [(10**12, 0, 10**12), (10**12, 0, 10**12)], cancel=token)
    assert time.perf_counter() - t0 < 2.0


def test_bad_arguments_are_refused_before_any_work(runner):
    with pytest.raises(TypeError, match="chunks must be a sequence"):
        runner.map(operator.neg, 3)
    with pytest.raises(TypeError, match=r"chunks\[0\] must be a tuple"):
        runner.map(operator.neg, [3])
    with pytest.raises(ValueError, match="timeout"):
        runner.map(operator.neg, [(1,)], timeout=-1)
    with pytest.raises(TypeError, match="neither shareable nor picklable"):
        runner.map(operator.neg, [(threading.Lock(),)])


def test_a_gil_holding_chunk_leaves_the_callers_interpreter_free():
    """The point of the runner: each interpreter has its own GIL. A ``gil`` chunk in a thread
    would hold the caller's GIL for its whole length; in a worker interpreter the caller's
    threads go on running (read on a clock, not a speed-up: the machine may be busy)."""
    from gilfree.kernels import _primes

    with make_runner("interpreters", 1) as r:
        r.map(_primes.gil, [(0, 10)])
        result: list = []
        t = threading.Thread(target=lambda: result.extend(r.map(_primes.gil, [(0, 4_000_000)])))
        gaps, last = [], time.perf_counter()
        t.start()
        while t.is_alive():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
        t.join()
    (outcome,) = result
    assert outcome.value == 283146
    assert max(gaps) < 0.5 * outcome.wall_s


@pytest.fixture(scope="module")
def shared_runner():
    with make_runner("interpreters", 2) as r:
        yield r


@pytest.mark.parametrize("variant", ["python", "gil", "nogil"])
@pytest.mark.parametrize("kernel", ["mandelbrot", "integrate", "primes", "pairwise", "sum_squares"])
def test_kernel_variants_match_the_reference_in_workers(shared_runner, kernel, variant):
    result = shared_runner.run(kernel, variant, size="tiny")
    assert result.matched is True and result.runner == "interpreters"
    assert result.transport == "memoryview"


def test_workers_never_import_numpy(shared_runner):
    shared_runner.run("mandelbrot", "python", size="tiny")
    shared_runner.run("sum_squares", "nogil", size="tiny")
    got = shared_runner.map(eval, [("'numpy' in __import__('sys').modules",)] * 2)
    assert [o.value for o in got] == [False, False]


def test_runs_from_two_threads_at_once_take_turns(shared_runner):
    results: dict[int, list] = {}

    def run(k: int) -> None:
        results[k] = [o.value for o in shared_runner.map(operator.mul, [(k, j) for j in range(6)])]

    threads = [threading.Thread(target=run, args=(k,)) for k in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: [k * j for j in range(6)] for k in (1, 2, 3)}
