"""split into 1..7 chunks, run each, combine: the same as one run over everything."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from gilfree.kernels import REGISTRY


@pytest.mark.parametrize("n_chunks", range(1, 8))
def test_split_then_combine_equals_whole(kernel, compiled_variant, n_chunks):
    size = "small"
    whole_inputs = kernel.make_inputs(size, seed=3)
    whole = kernel.nogil(*whole_inputs.whole())
    inputs = kernel.make_inputs(size, seed=3)
    f = kernel.variant(compiled_variant)
    chunks = kernel.split(inputs, n_chunks)
    assert len(chunks) == n_chunks
    value = kernel.combine([f(*c) for c in chunks])
    if isinstance(whole, float):
        assert math.isclose(value, whole, rel_tol=1e-12)
    elif isinstance(whole, np.ndarray):
        assert np.array_equal(value, whole)
    else:
        assert value == whole
    if kernel.name == "mandelbrot":
        assert np.array_equal(inputs.args[0], whole_inputs.args[0])


def test_chunks_cover_the_range_exactly(kernel):
    inputs = kernel.make_inputs("small")
    for n in range(1, 20):
        bounds = [c[-2:] for c in kernel.split(inputs, n)]
        assert bounds[0][0] == inputs.lo and bounds[-1][1] == inputs.hi
        assert all(a[1] == b[0] for a, b in pairwise(bounds))


def test_chunks_are_views_not_copies():
    k = REGISTRY["sum_squares"]
    inputs = k.make_inputs("small")
    for chunk in k.split(inputs, 4):
        assert chunk[0] is inputs.args[0]


def test_more_chunks_than_units_drops_empty_ones():
    k = REGISTRY["pairwise"]
    inputs = k.build(np.random.default_rng(0), n=3)
    assert len(k.split(inputs, 7)) == 3


def test_pairwise_split_balances_pair_counts_not_rows():
    k = REGISTRY["pairwise"]
    inputs = k.make_inputs("default")
    n = inputs.args[0].shape[0]
    pairs = [sum(n - 1 - i for i in range(a, b)) for *_, a, b in k.split(inputs, 2)]
    assert abs(pairs[0] - pairs[1]) / sum(pairs) < 0.01


def test_primes_split_gives_later_ranges_fewer_numbers():
    k = REGISTRY["primes"]
    widths = [b - a for *_, a, b in k.split(k.make_inputs("default"), 3)]
    assert widths[0] > widths[1] > widths[2]


def test_mandelbrot_split_balances_measured_cost():
    """Each chunk's real iteration count is within 10% of an equal share."""
    k = REGISTRY["mandelbrot"]
    inputs = k.make_inputs("small")
    costs = [k.nogil(*c) + c[-1] - c[-2] for c in k.split(inputs, 3)]
    assert max(costs) / (sum(costs) / 3) < 1.1


def test_combine_of_nothing_is_an_error(kernel):
    with pytest.raises(ValueError, match="partials"):
        kernel.combine([])
