"""``gilfree.histogram`` and ``gilfree.sum_squares``: NumPy's results on the user's arrays.

The histogram must equal ``numpy.histogram`` bit for bit, counts and edges, including where
the kernel's computed bins and NumPy's edges disagree: values on or next to an edge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gilfree
from gilfree import arrays
from gilfree.kernels import build_info
from gilfree.kernels import histogram as histogram_kernel
from gilfree.kernels import sum_squares as sum_squares_kernel
from gilfree.runners import make_runner

pytestmark = pytest.mark.thread_unsafe(reason="starts pools; histogram counts its kernel runs")

RUNNERS = ["threads", "serial", *(["openmp"] if build_info()["openmp"] else [])]


def same_as_numpy(x, bins=10, range=None, **options):
    got = gilfree.histogram(x, bins, range, **options)
    want = np.histogram(x, bins, range)
    assert got[0].dtype == np.int64 and got[1].dtype == want[1].dtype
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    return got


RNG = np.random.default_rng(7)
NORMAL = RNG.standard_normal(300_000)
DATA = {
    "normal": NORMAL,
    "round tenths": np.round(RNG.uniform(0, 1, 200_000), 1),
    "integers": RNG.integers(0, 100, 200_000).astype(np.float64),
    "its own edges": np.histogram_bin_edges(NORMAL, 64),
    "constant": np.full(1000, 3.0),
    "one value": np.array([2.5]),
    "around zero": np.r_[-1e-300, -0.0, 0.0, 1e-300, -5.0, 5.0, RNG.uniform(-5, 5, 10_000)],
    "far from zero": 1e6 + RNG.standard_normal(50_000) * 1e-6,
    "huge": RNG.standard_normal(10_000) * 1e300,
}


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize("bins", [1, 2, 10, 64, 255])
def test_histogram_equals_numpy_with_range_none(name, bins):
    same_as_numpy(DATA[name], bins)


@pytest.mark.parametrize(
    "given", [(-1, 1), (0.0, 0.3), (-5.0, 5.0), (0, 100), (0.0, 1.0), (2.5, 2.5), (-1e-300, 1e-300)]
)
@pytest.mark.parametrize("name", ["normal", "round tenths", "integers", "around zero"])
@pytest.mark.parametrize("bins", [1, 10, 100])
def test_histogram_equals_numpy_with_a_range(name, given, bins):
    same_as_numpy(DATA[name], bins, given)


def test_values_on_the_top_edge_count_in_the_last_bin():
    x = np.array([0.0, 0.5, 1.0, 1.0])
    counts, _ = same_as_numpy(x, 4)
    assert counts[-1] == 2 and counts.sum() == x.size
    assert histogram_kernel.nogil(x, 0.0, 1.0, 4)[-1] == 0  # the half-open kernel alone: neither 1.0
    same_as_numpy(np.r_[x, 1.0 + 1e-16, 2.0], 4, (0.0, 1.0))


def test_nan_is_not_counted_in_a_given_range_and_is_an_error_without_one():
    x = np.r_[NORMAL[:1000], np.nan, np.nan]
    same_as_numpy(x, 16, (-2, 2))
    with pytest.raises(ValueError, match=r"autodetected range of \[nan, nan\] is not finite"):
        gilfree.histogram(x, 16)


def test_an_empty_array_is_numpys_zeros_over_zero_to_one():
    same_as_numpy(np.array([], dtype=np.float64), 5)


def test_two_million_values_equal_numpy_on_every_runner():
    x = np.random.default_rng(0).standard_normal(2_000_000)
    for runner in RUNNERS:
        same_as_numpy(x, 64, runner=runner)
        same_as_numpy(np.round(x, 2), 64, runner=runner)  # round values: the exact passes
    with make_runner("threads", 2) as pool:  # a started pool, kept for several calls
        same_as_numpy(x, 64, runner=pool)
        same_as_numpy(x, 50, (-1, 1), runner=pool, check=True)


def test_processes_equal_numpy():
    x = np.random.default_rng(1).standard_normal(400_000)
    same_as_numpy(x, 64, runner="processes", workers=2)
    same_as_numpy(np.round(x, 1), 20, (-2, 2), runner="processes", workers=2)


@pytest.mark.slow
def test_twenty_million_values_equal_numpy():
    """The issue's figure: 2e7 float64 on 2 threads (the speed is benchmarks/histogram_vs_numpy.py's)."""
    same_as_numpy(np.random.default_rng(0).standard_normal(20_000_000), 64, workers=2)


def test_usual_data_takes_two_kernel_passes_and_no_numpy(monkeypatch):
    seen = []
    monkeypatch.setattr(arrays, "_numpy_counts", lambda *a: seen.append("numpy"))
    monkeypatch.setattr(arrays, "_run", lambda *a: seen.append("exact pass"))
    gilfree.histogram(NORMAL, 64)
    assert seen == []


def test_kernel_bin_is_the_kernels_own_arithmetic():
    """The bracketing rests on ``kernel_bin`` computing exactly what the compiled core does:
    one value at a time, at and beside the edges where the two rules can disagree."""
    for lo, hi, bins in [(-3.7, 4.1, 64), (0.0, 1.0, 10), (1e6 - 1e-3, 1e6 + 1e-3, 7), (-5.0, 5.0, 255)]:
        edges = np.linspace(lo, hi, bins + 1)
        values = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
        values = values[(values >= lo) & (values < hi)]
        for v in values:
            counts = histogram_kernel.nogil(np.array([v]), lo, hi, bins)
            assert int(np.flatnonzero(counts)[0]) == int(arrays.kernel_bin(np.array([v]), lo, hi, bins)[0])


def test_bracket_puts_the_kernels_thresholds_either_side_of_every_edge():
    edges = np.histogram_bin_edges(NORMAL, 64)
    lo_hi, hi_hi = arrays.bracket(edges)
    inner, index = edges[1:-1], np.arange(1, 64)
    assert (arrays.kernel_bin(inner, edges[0], lo_hi, 64) >= index).all()
    assert (arrays.kernel_bin(np.nextafter(inner, -np.inf), edges[0], hi_hi, 64) < index).all()
    assert lo_hi <= edges[-1] < hi_hi
    # Bins some thousand units in the last place wide leave no room to nudge: NumPy's loop.
    assert arrays.bracket(np.histogram_bin_edges(DATA["far from zero"], 64)) is None


def test_nd_arrays_are_flattened_as_numpy_does():
    same_as_numpy(NORMAL[:10_000].reshape(100, 100), 8)


def test_sum_squares_matches_numpy_on_every_runner():
    x = np.random.default_rng(2).standard_normal(1_000_001)
    want = float(x @ x)
    for runner in [*RUNNERS, "processes"]:
        got = gilfree.sum_squares(x, runner=runner, workers=2)
        assert math.isclose(got, want, rel_tol=1e-12), runner
    assert gilfree.sum_squares(x, check=True) == pytest.approx(want, rel=1e-12)
    assert gilfree.sum_squares(np.array([], dtype=np.float64)) == 0.0


# -- bad input: the variants' errors ------------------------------------------------------------


def variant_error(func, *args):
    with pytest.raises((TypeError, ValueError)) as info:
        func(*args)
    return type(info.value), str(info.value)


@pytest.mark.parametrize(
    "x",
    [[1.0, 2.0], np.arange(10), np.arange(20.0)[::2], np.float64(1.0)],
    ids=["list", "int64", "strided", "scalar"],
)
def test_bad_arrays_get_the_variants_errors(x):
    want = variant_error(histogram_kernel.nogil, x, 0.0, 1.0, 4)
    assert variant_error(gilfree.histogram, x) == want
    assert variant_error(gilfree.sum_squares, x) == variant_error(sum_squares_kernel.nogil, x)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"bins": 0}, ValueError, "bins must be >= 1, got 0"),
        ({"bins": 2.5}, TypeError, "bins must be an integer, got float"),
        ({"bins": "auto"}, TypeError, "for edges or 'auto' use numpy.histogram"),
        ({"bins": [0, 1, 2]}, TypeError, "for edges or 'auto' use numpy.histogram"),
        ({"range": (1, 0)}, ValueError, "max must be larger than min in range parameter"),
        ({"range": (0, np.inf)}, ValueError, r"supplied range of \[0, inf\] is not finite"),
        ({"range": 5}, TypeError, r"range must be \(lo, hi\)"),
        ({"range": ("a", "b")}, TypeError, r"range must be \(lo, hi\)"),
        ({"runner": "gpu"}, ValueError, "unknown runner 'gpu'"),
        ({"workers": 0}, ValueError, "workers must not be 0"),
    ],
)
def test_bad_options_are_named(options, error, message):
    with pytest.raises(error, match=message):
        gilfree.histogram(NORMAL[:100], **options)
