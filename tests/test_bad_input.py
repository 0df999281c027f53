"""Bad arguments get a TypeError or ValueError that names the argument, in every variant."""

from __future__ import annotations

import numpy as np
import pytest

from gilfree.kernels import REGISTRY

F64 = np.arange(10, dtype=np.float64)
PTS = np.zeros((4, 3))
OUT = np.zeros((4, 5), dtype=np.int32)


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


# (kernel, args, exception, text the message must contain)
CASES = [
    ("sum_squares", (F64.astype(np.float32),), TypeError, "x must have dtype float64"),
    ("sum_squares", ([1.0, 2.0],), TypeError, "x must be a numpy.ndarray"),
    ("sum_squares", (np.arange(20.0)[::2],), ValueError, "x must be C-contiguous"),
    ("sum_squares", (np.zeros((2, 2)),), ValueError, "x must be 1-D"),
    ("sum_squares", (F64, -1, 5), ValueError, "start=-1"),
    ("sum_squares", (F64, 0, 11), ValueError, "stop=11"),
    ("sum_squares", (F64, 6, 5), ValueError, "stop=5"),
    ("sum_squares", (F64, 1.5, 5), TypeError, "start must be an integer"),
    ("mandelbrot", (OUT.astype(np.int64), -2, 1, -1, 1, 10), TypeError, "out must have dtype int32"),
    ("mandelbrot", (_read_only(OUT), -2, 1, -1, 1, 10), ValueError, "out is read-only"),
    ("mandelbrot", (OUT.T.copy().T, -2, 1, -1, 1, 10), ValueError, "out must be C-contiguous"),
    ("mandelbrot", (OUT, -2, 1, -1, 1, -3), ValueError, "max_iter must be >= 0"),
    ("mandelbrot", (OUT, 1, -2, -1, 1, 10), ValueError, "x_min must be < x_max"),
    ("mandelbrot", (OUT, -2, 1, -1, float("nan"), 10), ValueError, "y_max must be finite"),
    ("mandelbrot", (OUT, -2, 1, -1, 1, 10, 0, 5), ValueError, "stop=5"),
    ("mandelbrot", (OUT, "a", 1, -1, 1, 10), TypeError, "x_min must be a real number"),
    ("integrate", (-5,), ValueError, "n must be >= 1"),
    ("integrate", (0,), ValueError, "n must be >= 1"),
    ("integrate", (10.0,), TypeError, "n must be an integer"),
    ("integrate", (10, 0, 11), ValueError, "stop=11"),
    ("pairwise", (np.zeros((4, 2)),), ValueError, "points must have shape (n, 3)"),
    ("pairwise", (PTS.astype(np.float32),), TypeError, "points must have dtype float64"),
    ("pairwise", (np.zeros((3, 4))[:, :3],), ValueError, "points must be C-contiguous"),
    ("primes", (-1, 10), ValueError, "lo must be >= 0"),
    ("primes", (10, 5), ValueError, "hi must be >= lo"),
    ("primes", (0, 10, 0, 20), ValueError, "stop=20"),
    ("primes", (5, 10, 2, 8), ValueError, "start=2"),
    ("histogram", (F64, 0.0, 1.0, 0), ValueError, "bins must be >= 1"),
    ("histogram", (F64, 0.0, 1.0, -4), ValueError, "bins must be >= 1"),
    ("histogram", (F64, 1.0, 1.0, 4), ValueError, "lo must be < hi"),
    ("histogram", (F64, 2.0, 1.0, 4), ValueError, "lo must be < hi"),
    ("histogram", (F64, float("nan"), 1.0, 4), ValueError, "lo must be finite"),
    ("histogram", (F64.astype(np.int64), 0.0, 1.0, 4), TypeError, "x must have dtype float64"),
    # Issue 14, item 12: past a C type's range, masked arrays, a cancel that is no token.
    ("integrate", (2**63,), ValueError, "n must be <= 9223372036854775807, got 9223372036854775808"),
    ("integrate", (2**63, 0, 10), ValueError, "n must be <= 9223372036854775807"),
    ("integrate", (10, 2**64, 5), ValueError, "start=18446744073709551616"),
    ("integrate", (10, 0, 10, 1), TypeError, "cancel must be a gilfree.CancelToken or None, got int"),
    ("integrate", (10, 0, 0, "stop"), TypeError, "cancel must be a gilfree.CancelToken or None, got str"),
    ("sum_squares", (F64, 0, 10, 1), TypeError, "cancel must be a gilfree.CancelToken or None"),
    ("pairwise", (PTS, 0, 4, True), TypeError, "cancel must be a gilfree.CancelToken or None, got bool"),
    ("primes", (0, 10, None, None, 1), TypeError, "cancel must be a gilfree.CancelToken or None"),
    ("histogram", (F64, 0.0, 1.0, 4, 0, 10, 1.0), TypeError, "cancel must be a gilfree.CancelToken"),
    ("mandelbrot", (OUT, -2, 1, -1, 1, 10, 0, 4, 1), TypeError, "cancel must be a gilfree.CancelToken"),
    ("sum_squares", (np.ma.array(F64, mask=F64 > 5),), TypeError, "x must be a plain numpy.ndarray"),
    ("sum_squares", (np.ma.array(F64),), TypeError, "x must be a plain numpy.ndarray, not a masked array"),
    ("histogram", (np.ma.array(F64, mask=F64 > 5), 0.0, 1.0, 4), TypeError, "x must be a plain"),
    ("pairwise", (np.ma.array(PTS, mask=PTS > 0),), TypeError, "points must be a plain numpy.ndarray"),
    ("mandelbrot", (np.ma.array(OUT), -2, 1, -1, 1, 10), TypeError, "out must be a plain numpy.ndarray"),
    ("histogram", (F64, 0.0, 1.0, 2**24 + 1), ValueError, "bins must be <= 16777216, got 16777217"),
    ("histogram", (F64, 0.0, 1.0, 2**40), ValueError, "bins must be <= 16777216"),
    ("histogram", (F64, 0.0, 1.0, 2**63), ValueError, "bins must be <= 16777216"),
    ("histogram", (F64, 0.0, 10**400, 4), ValueError, "hi must be finite, got an integer too large"),
    ("mandelbrot", (OUT, -(10**400), 1, -1, 1, 10), ValueError, "x_min must be finite"),
    ("mandelbrot", (OUT, -2, 1, -1, 1, 2**31), ValueError, "max_iter must fit in int32"),
    ("primes", (0, 2**63 + 1), ValueError, "hi must be <= 2**63"),
]


@pytest.mark.parametrize(("name", "args", "exc", "text"), CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_bad_argument_is_named(name, args, exc, text, variant):
    f = REGISTRY[name].variant(variant)
    with pytest.raises(exc) as info:
        f(*args)
    assert text in str(info.value)


@pytest.mark.parametrize(("name", "args", "exc", "text"), CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_every_variant_gives_the_same_error(name, args, exc, text):
    """Not only the same type and the named argument: the same message, word for word."""
    kernel = REGISTRY[name]
    seen = {}
    for variant in kernel.variants:
        try:
            kernel.variant(variant)(*args)
        except Exception as error:  # any outcome is recorded, and all must be the same
            seen[variant] = (type(error), str(error))
        else:
            seen[variant] = (None, "returned")
    assert len(set(seen.values())) == 1, seen
    assert seen["python"][0] is exc


def test_bad_input_leaves_output_untouched(variant):
    out = np.full((4, 5), -1, dtype=np.int32)
    with pytest.raises(ValueError):
        REGISTRY["mandelbrot"].variant(variant)(out, -2, 1, -1, 1, 10, 3, 9)
    assert (out == -1).all()


def test_unknown_variant_and_kernel_are_named(kernel):
    from gilfree.kernels import get

    with pytest.raises(ValueError, match="unknown variant 'fast'"):
        kernel.variant("fast")
    with pytest.raises(ValueError, match="unknown kernel 'nope'"):
        get("nope")


def test_unknown_size_and_bad_seed(kernel):
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        kernel.make_inputs("huge")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        kernel.make_inputs("tiny", seed=-1)


def test_split_rejects_zero_chunks(kernel):
    with pytest.raises(ValueError, match="n_chunks must be >= 1"):
        kernel.split(kernel.make_inputs("tiny"), 0)


def test_openmp_rejects_zero_threads():
    from gilfree.kernels import build_info

    if not build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        REGISTRY["integrate"].openmp(100, num_threads=0)
    with pytest.raises(TypeError, match="num_threads must be an integer, got float"):
        REGISTRY["integrate"].openmp(100, num_threads=2.0)
