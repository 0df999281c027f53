"""The harness: interleaved rounds, the statistics and flags, contenders, the listened run."""

from __future__ import annotations

import inspect

import pytest

from gilfree.harness import (
    Done,
    KernelOnRunner,
    Prepared,
    Sample,
    Series,
    interleave,
    listen_to,
    measure,
    ratio,
    verdict_shown,
)
from gilfree.harness.timing import FLAG_ABOVE_WORKERS, FLAG_NOISY
from gilfree.kernels import REGISTRY
from gilfree.probe import HOLDS, HOLDS_IN_SLICES, RELEASES, idle_baseline
from gilfree.runners import make_runner, names, runner_class


def _series(*walls: float) -> Series:
    return Series([Sample(w, w, Done(None), True) for w in walls])


def test_rounds_reverse_their_order_so_drift_falls_on_both_sides():
    order: list[str] = []

    def contender(name: str) -> Prepared:
        return Prepared(lambda: (order.append(name), Done(name))[1])

    series = interleave({"a": contender("a"), "b": contender("b")}, 3, warmup=1)
    assert order == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then A B, B A, A B
    assert [len(s.samples) for s in series.values()] == [3, 3]


def test_a_ratio_is_best_over_best_with_the_paired_spread():
    r = ratio(_series(2.0, 2.2, 2.1), _series(1.0, 1.3, 1.05), workers=2)
    assert r.value == pytest.approx(2.0 / 1.0)
    assert (r.low, r.high) == pytest.approx((2.2 / 1.3, 2.0 / 1.0))
    assert r.flags == []


def test_a_speedup_above_the_worker_count_is_flagged():
    # The baseline ran in a slow stretch: 3.2x on 2 workers cannot be true.
    r = ratio(_series(3.2, 3.2, 3.2), _series(1.0, 1.0, 1.0), workers=2)
    assert FLAG_ABOVE_WORKERS in r.flags
    assert FLAG_ABOVE_WORKERS not in ratio(_series(2.08), _series(1.0), workers=2).flags  # within 5%


def test_a_wide_spread_is_flagged_noisy():
    r = ratio(_series(2.0, 2.0, 2.0), _series(1.0, 1.6, 1.0), workers=2)
    assert FLAG_NOISY in r.flags
    assert FLAG_NOISY not in ratio(_series(2.0, 2.0), _series(1.0, 1.05)).flags


def test_a_wrong_result_in_the_warm_up_makes_the_series_unmatched():
    p = Prepared(lambda: Done(1), check=lambda value: False)
    assert not interleave({"p": p}, 1)["p"].matched


def test_measure_interleaves_a_cell_with_its_baseline():
    k = REGISTRY["integrate"]
    inputs = k.make_inputs("tiny")
    with make_runner("serial") as serial, make_runner("threads", 2) as threads:
        base = KernelOnRunner(k, "nogil", serial).prepare(inputs)
        cell = KernelOnRunner(k, "nogil", threads, fallback=False).prepare(inputs)
        m = measure(cell, base, repeat=3, workers=2)
    assert m.matched and m.baseline is not None and m.speedup is not None
    assert len(m.series.samples) == len(m.baseline.samples) == 3
    assert m.speedup.value == pytest.approx(m.baseline.best_wall_s / m.series.best_wall_s)


def test_openmp_runs_in_one_call_on_an_in_process_runner_only():
    k = REGISTRY["integrate"]
    if "openmp" not in k.variants:
        pytest.skip("built without OpenMP")
    inputs = k.make_inputs("tiny")
    with (
        make_runner("processes", 1) as procs,
        pytest.raises(ValueError, match="variant 'openmp' runs its own threads"),
    ):
        KernelOnRunner(k, "openmp", procs).prepare(inputs)


@pytest.mark.parametrize("name", names())
def test_every_runner_implements_the_whole_map_signature(name):
    try:
        cls = runner_class(name)
    except ImportError as exc:
        pytest.skip(f"{name} unavailable: {exc}")
    params = inspect.signature(cls.map).parameters
    assert {"func", "chunks", "timeout", "cancel", "outputs"} <= set(params)


def test_a_verdict_is_shown_only_where_the_listened_run_could_show_it():
    si = 0.005
    assert verdict_shown(RELEASES, 0.002, 0.002, si) is None  # shorter than a switch interval
    assert verdict_shown(RELEASES, 0.010, 0.010, si) is None  # a 10 ms hold would look the same
    assert verdict_shown(RELEASES, 0.100, 0.050, si) == RELEASES
    assert verdict_shown(HOLDS_IN_SLICES, 0.010, 0.010, si) == HOLDS_IN_SLICES  # seen: shown
    assert verdict_shown(HOLDS, 0.030, 0.030, si) == HOLDS


def test_the_listened_run_checks_its_result_and_counts_its_calls():
    k = REGISTRY["sum_squares"]
    inputs = k.make_inputs("tiny")
    with make_runner("serial") as serial:
        heard = listen_to(KernelOnRunner(k, "nogil", serial).prepare(inputs), idle_baseline(), 0.05)
    assert heard.matched is True and heard.calls >= 1
    assert heard.hold.duration_s >= 0.05
