"""The kernel-level faults of issue 14, each kept fixed: no crash, no wrong answer, no hang.

Item 2: an absurd OpenMP thread count is a ValueError, not a segfault (run in a subprocess,
so a crash fails the test instead of killing the run). Item 3: ``integrate`` near 2**63.
Item 4: ``histogram`` over a range whose width or bins-per-width is not finite. Item 5: a
CancelToken stops unbounded work (one long row, one long point, one long prime) quickly.
Item 12 (one message from every variant) is in tests/test_bad_input.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

from gilfree.info import worker_limit
from gilfree.kernels import REGISTRY, Cancelled, CancelToken, _reference, build_info
from gilfree.kernels._reference import histogram_reference

from .conftest import COMPILED, gil_enabled

needs_openmp = pytest.mark.skipif(not build_info()["openmp"], reason="built without OpenMP")

# -- item 2: OpenMP thread counts ---------------------------------------------------------


@pytest.mark.thread_unsafe(reason="starts a subprocess")
@needs_openmp
def test_openmp_thread_count_over_the_limit_is_a_value_error_not_a_crash():
    """Before: 200,000 threads segfaulted (rc 139), 50,000 made libgomp exit the process."""
    script = textwrap.dedent(
        """
        import json
        from gilfree.kernels import REGISTRY
        seen = {}
        for name, k in REGISTRY.items():
            for n in (200_000, 50_000):
                try:
                    k.openmp(*k.make_inputs("tiny").whole(), num_threads=n)
                    seen[f"{name} {n}"] = "ran"
                except Exception as exc:
                    seen[f"{name} {n}"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(seen))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    seen = json.loads(proc.stdout)
    assert len(seen) == 2 * len(REGISTRY)
    for case, outcome in seen.items():
        assert outcome.startswith("ValueError: num_threads must be <= "), (case, outcome)
        assert str(worker_limit()) in outcome and "worker_limit()" in outcome, (case, outcome)


@needs_openmp
@pytest.mark.parametrize("n", [2**31, 2**63, 10**30, worker_limit() + 1])
def test_openmp_thread_count_that_does_not_fit_names_num_threads(kernel, n):
    """Before: 2**31 gave a bare OverflowError ("value too large to convert to int")."""
    inputs = kernel.make_inputs("tiny")
    with pytest.raises(ValueError, match=rf"num_threads must be <= {worker_limit()} .*got {n}$"):
        kernel.openmp(*inputs.whole(), num_threads=n)


@needs_openmp
def test_openmp_thread_count_at_a_normal_value_still_runs(kernel):
    inputs = kernel.make_inputs("tiny")
    assert kernel.check(inputs, kernel.openmp(*inputs.whole(), num_threads=3))


# -- item 3: integrate near 2**63 ---------------------------------------------------------

BIG = 2**63 - 1
NEAR_2_63 = [
    (BIG, BIG - 5000, BIG - 4990),  # openmp returned 0.0
    (BIG, BIG - 11, BIG),  # nogil and gil never returned
    (BIG, BIG - 10_000, BIG),  # several blocks, the last one ending at 2**63 - 1
    (BIG, BIG - 4096, BIG),  # one block ending exactly there
    (2**62 + 5, 2**53 - 3000, 2**53 + 3000),  # a block straddling 2**53
]


@pytest.mark.thread_unsafe(reason="starts a subprocess")
def test_integrate_near_2_63_agrees_with_the_python_variant():
    """Run in a subprocess with a timeout: before the fix the gil variant hung uninterruptibly.

    Past 2**53 each term converts its own step index, as the python variant does, so the
    compiled variants agree with it bit for bit (every range here is one OpenMP block).
    """
    script = textwrap.dedent(
        f"""
        import json
        from gilfree.kernels import REGISTRY
        k = REGISTRY["integrate"]
        print(json.dumps({{v: [k.variant(v)(*c) for c in {NEAR_2_63!r}] for v in {COMPILED!r}}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout)
    want = [REGISTRY["integrate"].python(*c) for c in NEAR_2_63]
    assert all(w > 0 for w in want)
    for variant, values in got.items():
        assert values == want, variant


def test_integrate_near_2_63_matches_the_midpoint_sum():
    """The python variant's own answer is the midpoint rule's: h * sum of 4 / (1 + x^2)."""
    n, a, b = NEAR_2_63[0]
    h = 1.0 / n
    expected = math.fsum(4.0 / (1.0 + ((i + 0.5) * h) ** 2) for i in range(a, b)) * h
    assert math.isclose(REGISTRY["integrate"].python(n, a, b), expected, rel_tol=1e-14)
    assert math.isclose(expected, 2.168404344971009e-18, rel_tol=1e-12)  # the issue's figure


# -- item 4: histogram over extreme ranges --------------------------------------------------

DBL_MAX = sys.float_info.max
TINY = 5e-324  # the smallest subnormal

EXTREME_RANGES = [
    (-1e308, 1e308, 4),  # hi - lo overflows to inf
    (-DBL_MAX, DBL_MAX, 3),
    (-DBL_MAX, DBL_MAX, 1000),
    (0.0, DBL_MAX, 2),  # bins / (hi - lo) is subnormal
    (-1e-300, DBL_MAX, 3),
    (0.0, 1e-320, 2),  # bins / (hi - lo) overflows to inf
    (0.0, 7 * TINY, 7),  # seven subnormals, one a bin
    (-1e-310, 1e-310, 1000),
    (1e-300, 1e-300 + 1e-310, 5),
    (-4.0, 4.0, 64),  # an ordinary range: the rule is unchanged there
]


def _values(lo: float, hi: float, seed: int) -> np.ndarray:
    """Values spread over [lo, hi] (computed without overflow), its edges, and the uncounted."""
    u = np.random.default_rng(seed).random(300)
    inside = lo * (1.0 - u) + hi * u
    edges = [lo, hi, np.nextafter(hi, -np.inf), np.nextafter(lo, np.inf), np.nan, np.inf, -np.inf]
    return np.concatenate([inside, edges])


def _exact_bin(v: float, lo: float, hi: float, bins: int) -> Fraction:
    return (Fraction(v) - Fraction(lo)) * bins / (Fraction(hi) - Fraction(lo))


@pytest.mark.parametrize(("lo", "hi", "bins"), EXTREME_RANGES)
def test_histogram_over_extreme_ranges_every_variant_agrees_with_exact_bins(lo, hi, bins, variant):
    x = _values(lo, hi, seed=bins)
    x.flags.writeable = False
    counts = REGISTRY["histogram"].variant(variant)(x, lo, hi, bins)
    # Every variant and the NumPy reference, bit for bit.
    assert np.array_equal(counts, histogram_reference(x, lo, hi, bins))
    # And the bins are the exact ones, but for values within rounding of a bin edge.
    s, lo_s, scale = _reference.bin_scaling(lo, hi, bins)
    for v in x[(x >= lo) & (x < hi)].tolist():
        k = min(int((v * s - lo_s) * scale), bins - 1)
        exact = _exact_bin(v, lo, hi, bins)
        want = min(math.floor(exact), bins - 1)
        if k != want:
            assert abs(exact - round(exact)) < Fraction(1, 10**12), (v, k, float(exact))
    assert counts.sum() == np.count_nonzero((x >= lo) & (x < hi))


def test_histogram_issue_reproducers_give_the_right_counts(variant):
    """Before: [4 0 0 0] and [2 0] from the compiled variants; the python variant raised."""
    f = REGISTRY["histogram"].variant(variant)
    assert f(np.array([-5e307, 0.0, 5e307, 9e307]), -1e308, 1e308, 4).tolist() == [0, 1, 1, 2]
    assert f(np.array([6e-321, 1e-321]), 0.0, 1e-320, 2).tolist() == [1, 1]


def test_histogram_rule_is_unchanged_on_ordinary_ranges():
    """Scaling by a power of two only where a step would overflow: s is 1 everywhere else."""
    bin_scaling = _reference.bin_scaling
    assert bin_scaling(-4.0, 4.0, 256) == (1.0, -4.0, 256 / 8.0)
    assert bin_scaling(-1e300, 1e300, 10)[0] == 1.0
    assert bin_scaling(-1e308, 1e308, 4)[0] == 2.0**-8
    assert bin_scaling(0.0, 1e-320, 2)[0] == 2.0**600


# -- item 5: cancellation on a bounded amount of work --------------------------------------


def _stops_within(f, args, seconds: float, *, after: float = 0.2) -> float:
    """Call ``f(*args, cancel=token)`` in a thread, cancel after ``after`` s; return the delay."""
    token = CancelToken()
    outcome: list[BaseException | object] = []

    def work():
        try:
            outcome.append(f(*args, cancel=token))
        except BaseException as exc:  # recorded for the asserts below
            outcome.append(exc)

    t = threading.Thread(target=work, daemon=True)  # daemon: a regression must not hang the run
    t.start()
    time.sleep(after)
    assert t.is_alive() and not outcome, "the call ended before it was cancelled"
    t0 = time.perf_counter()
    token.cancel()
    t.join(timeout=10)
    delay = time.perf_counter() - t0
    assert not t.is_alive(), f"still running {delay:.1f} s after cancel()"
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled), outcome
    assert delay < seconds, f"stopped {delay:.3f} s after cancel(); the flag is read about every ms"
    return delay


def _cancellable_variants() -> list[str]:
    # A gil variant holds the GIL for the whole call, so no other thread can call cancel().
    return ["python", *(v for v in COMPILED if v != "gil" or not gil_enabled())]


@pytest.mark.thread_unsafe(reason="asserts on how soon a cancelled call returns")
@pytest.mark.parametrize("variant", _cancellable_variants())
@pytest.mark.parametrize(
    ("shape", "max_iter"),
    [((64, 800), 10**6), ((1, 1), 2**31 - 1)],
    ids=["rows-of-seconds", "one-point-of-seconds"],
)
def test_mandelbrot_cancel_stops_within_half_a_second(variant, shape, max_iter):
    """Before: read once per row, so a timeout of 0.2 s fired after 5.6 s (and never, for one
    point of 2**31 - 1 iterations). A view inside the set makes every point run max_iter."""
    out = np.full(shape, -1, dtype=np.int32)
    _stops_within(REGISTRY["mandelbrot"].variant(variant), (out, -0.1, 0.1, -0.1, 0.1, max_iter), 0.5)


@pytest.mark.thread_unsafe(reason="asserts on how soon a cancelled call returns")
@pytest.mark.parametrize("variant", _cancellable_variants())
def test_primes_cancel_stops_within_one_number_near_2_63(variant):
    """Before: read every 1024 numbers; near 2**63 one prime takes seconds (minutes in Python)."""
    _stops_within(REGISTRY["primes"].variant(variant), (2**63 - 10_000, 2**63), 0.5, after=0.1)


def test_pairwise_long_rows_read_in_stretches_still_sum_every_pair(compiled_variant):
    """Rows longer than the 2**18 pairs between reads of the flag: every pair counted once."""
    pts = np.random.default_rng(3).random((2**18 + 11, 3))
    value = REGISTRY["pairwise"].variant(compiled_variant)(pts, 0, 3)
    expected = math.fsum(float(np.sqrt(((pts[i + 1 :] - pts[i]) ** 2).sum(axis=1)).sum()) for i in range(3))
    assert math.isclose(value, expected, rel_tol=1e-12)


def test_cancelled_before_the_call_stops_long_units_at_once(kernel, variant):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        kernel.variant(variant)(*kernel.make_inputs("tiny").whole(), cancel=token)
