"""The compiled kernels on the user's own arrays, in one call each, shaped like NumPy.

``gilfree.histogram(x, bins, range)`` returns what ``numpy.histogram(x, bins, range)`` returns,
bit for bit, counts and edges; ``gilfree.sum_squares(x)`` is ``x @ x``. Each runs on
``runner="threads"`` by default (``processes``, ``openmp``, ``serial``, or a started
:class:`~gilfree.runners.Runner` to reuse a pool), with ``workers`` as everywhere in gilfree.
Nothing is checked against a reference unless ``check=True``. Bad input gets the errors the
kernels' variants give (``x`` must be a C-contiguous float64 array: no silent copy).

**How the histogram keeps NumPy's edges.** NumPy's bins are ``[e_i, e_i+1)`` with the edges
``e = linspace(first, last, bins + 1)`` and the last bin closed; the kernel's bin is computed,
``floor((v - lo) * bins / (hi - lo))``, over a half-open ``[lo, hi)``. The two rules agree
except for values within a few units in the last place of an edge, which is where round data
(0.1 steps, integers) sits. So the kernel runs twice, with ``hi`` nudged down and up until
its computed thresholds are provably at or below, and at or above, every one of NumPy's edges
(:func:`bracket`, checked by evaluating the kernel's own arithmetic at the edges). Between
the two runs' thresholds lie only values that close to an edge: where both runs count the
same below an edge, none do, and the count below it is exact. An edge with values that close
gets one exact pass (the kernel with one bin ``[first, e_i)``); data on many edges goes to
NumPy's own loop, per chunk, on the same pool.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from gilfree.harness import KernelOnRunner, WorkloadOnRunner, dispatch_cost, runs_inline
from gilfree.kernels import Inputs, Kernel, _args, build_info, get
from gilfree.kernels import histogram as _histogram
from gilfree.runners import Runner, make_runner, resolve_workers
from gilfree.workload import Workload

__all__ = ["RUNNERS", "bracket", "histogram", "kernel_bin", "sum_squares"]

RUNNERS = ("threads", "processes", "openmp", "serial")
#: Unresolved edges settled by one exact kernel pass each, at most; more go to NumPy's loop.
#: Why: one pass of the kernel over 2e7 values took 34 ms against numpy.histogram's 374 ms
#: (one thread, the 2-core development machine), so up to about ten passes still win; 8
#: leaves room, and data on many edges (a grid of round values) needs NumPy's loop anyway.
MAX_EXACT_PASSES = 8
#: The range (min, max) is found on the pool's threads from this many values. Why: a map on a
#: warm thread pool costs some 25 µs and min + max read about 2 values a nanosecond, so below
#: a million values the calling thread is as fast.
PARALLEL_RANGE_MIN = 1 << 20
#: Values per block when one chunk runs two passes (min and max, or the two histogram runs):
#: the second reads the block from the cache. Why: 2^17 float64 are 1 MB, within L2 or L3;
#: min and max of 2e7 values took 7.1 ms so against 12 ms one after the other, and the two
#: histogram runs 29 ms against 40 ms (one thread, the 2-core development machine).
BLOCK = 1 << 17
#: The first nudge of ``hi``, in units in the last place of the range, per bin. Why: the
#: kernel's threshold for bin i and NumPy's edge e_i differ by a few units; a nudge of d moves
#: threshold i by about i * d / bins, so threshold 1 needs d of some bins x units to clear it.
FIRST_NUDGE_ULPS = 8


@contextlib.contextmanager
def _pool(runner: str | Runner, workers: int | None) -> Iterator[tuple[Runner, str]]:
    """The runner to use and the kernel variant it runs: a name makes (and closes) a pool."""
    if isinstance(runner, Runner):
        yield runner, "nogil"
        return
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}; expected one of {', '.join(RUNNERS)}, or a Runner")
    if runner == "openmp":
        if not build_info()["openmp"]:
            raise ValueError("runner 'openmp' is absent: gilfree was built without OpenMP")
        with make_runner("serial", resolve_workers(workers)) as r:
            yield r, "openmp"
        return
    with make_runner(runner, workers) as r:
        yield r, "nogil"


def _run(kernel: Kernel, variant: str, runner: Runner, args: tuple[Any, ...], units: int) -> Any:
    """One kernel run over ``args`` on ``runner``, by the harness (its split, combine and serial
    fallback for work too small to dispatch), unchecked."""
    inputs = Inputs(kernel.name, args, 0, units)
    return KernelOnRunner(kernel, variant, runner).prepare(inputs).call().value


def _values(x: Any) -> np.ndarray:
    """``x`` as a read-only 1-D view, or the variants' error: C-contiguous float64 (any shape,
    as NumPy flattens it); no copy is ever made in silence. Read-only, so that worker
    processes never copy it back: these functions only read it."""
    if isinstance(x, np.ndarray) and x.ndim != 1 and x.flags.c_contiguous:
        x = x.reshape(-1)
    view = _args.array("x", x, np.float64, 1).view()
    view.flags.writeable = False
    return view


def _cuts(n: int, parts: int) -> list[tuple[int, int]]:
    return [(a, b) for a, b in pairwise([n * k // parts for k in range(parts + 1)]) if b > a]


def _check_range(range_: Any) -> tuple[Any, Any]:
    if isinstance(range_, (str, bytes)) or not isinstance(range_, Sequence) or len(range_) != 2:
        raise TypeError(f"range must be (lo, hi), two real numbers, or None; got {range_!r}")
    for v in range_:  # finite and ordered: NumPy checks that, with its own messages
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"range must be (lo, hi), two real numbers, or None; got {range_!r}")
    return range_[0], range_[1]


# -- the range ------------------------------------------------------------------------------


def _min_max_part(x: np.ndarray) -> tuple[Any, Any]:
    """``(x.min(), x.max())`` block by block, so the second reduction reads from the cache."""
    lows, highs = [], []
    for a in range(0, x.size, BLOCK):
        block = x[a : a + BLOCK]
        lows.append(block.min())
        highs.append(block.max())
    return np.min(lows), np.max(highs)  # NumPy's min and max carry a NaN through


def _min_max_join(parts: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    return np.min([p[0] for p in parts]), np.max([p[1] for p in parts])


def _min_max(x: np.ndarray, runner: Runner) -> tuple[Any, Any]:
    """``(x.min(), x.max())``, as NumPy finds them, on the pool's threads when ``x`` is large."""
    if x.size == 0:
        return 0, 1  # NumPy's range for an empty array
    if runner.name != "threads" or runner.workers < 2 or x.size < PARALLEL_RANGE_MIN:
        return _min_max_part(x)
    work = Workload.slices(_min_max_part, x, combine=_min_max_join)
    return WorkloadOnRunner(work, runner).prepare().call().value


# -- NumPy's edges from the kernel's bins -----------------------------------------------------


def kernel_bin(v: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """The bin the histogram kernel computes for each value of ``v`` in ``[lo, hi)``: its own
    arithmetic, one IEEE operation at a time (``setup.py`` compiles with no contraction)."""
    scale = np.float64(bins) / (np.float64(hi) - np.float64(lo))
    k = np.trunc((np.asarray(v, dtype=np.float64) - np.float64(lo)) * scale).astype(np.int64)
    return np.minimum(k, bins - 1)


def bracket(edges: np.ndarray) -> tuple[float, float] | None:
    """``(hi_low, hi_high)``: with ``lo = edges[0]``, the kernel's threshold of every inner bin
    i lies at or below ``edges[i]`` with ``hi_low`` and at or above it with ``hi_high``; and
    ``hi_low <= last < hi_high``. ``None`` when no small nudge does it (a range only a few
    units in the last place wide per bin)."""
    bins = edges.size - 1
    first, last = float(edges[0]), float(edges[-1])
    inner = edges[1:-1]
    below = np.nextafter(inner, -np.inf)
    index = np.arange(1, bins)
    width = (last - first) / bins
    delta = FIRST_NUDGE_ULPS * bins * float(np.spacing(max(abs(first), abs(last), last - first)))
    while delta < width / 8:
        lo_hi = last - delta
        hi_hi = float(np.nextafter(last, math.inf)) + delta
        usable = math.isfinite(hi_hi) and (bins == 1 or lo_hi > edges[-2])
        if (
            usable
            and bool(np.all(kernel_bin(inner, first, lo_hi, bins) >= index))
            and bool(np.all(kernel_bin(below, first, hi_hi, bins) < index))
        ):
            return lo_hi, hi_hi
        delta *= 4
    return None


def _two_runs(
    x: np.ndarray,
    first: float,
    hi_low: float,
    hi_high: float,
    bins: int,
    start: int,
    stop: int,
    num_threads: int | None = None,
) -> np.ndarray:
    """Both kernel runs of :func:`bracket` over ``x[start:stop]``, block by block (``BLOCK``):
    counts of shape (2, bins). ``num_threads``: the ``openmp`` variant with that many threads."""
    out = np.zeros((2, bins), dtype=np.int64)
    for a in range(start, stop, BLOCK):
        b = min(a + BLOCK, stop)
        if num_threads is None:
            out[0] += _histogram.nogil(x, first, hi_low, bins, a, b)
            out[1] += _histogram.nogil(x, first, hi_high, bins, a, b)
        else:
            out[0] += _histogram.openmp(x, first, hi_low, bins, a, b, num_threads=num_threads)
            out[1] += _histogram.openmp(x, first, hi_high, bins, a, b, num_threads=num_threads)
    return out


def _both_runs(
    x: np.ndarray, first: float, his: tuple[float, float], bins: int, runner: Runner, variant: str
) -> np.ndarray:
    """:func:`_two_runs` over all of ``x``: in one call for ``openmp`` and ``serial`` (and on a
    thread pool, when the work is too small to dispatch: the harness's rule), else one chunk
    per worker on the pool, summed."""
    n = x.size
    if variant == "openmp":
        return _two_runs(x, first, *his, bins, 0, n, runner.workers)
    estimate_s = 2 * n * _histogram.ns_per_unit * 1e-9
    if runner.name == "serial" or (
        runner.uses_threads and runs_inline(estimate_s, dispatch_cost(runner, runner.workers))
    ):
        return _two_runs(x, first, *his, bins, 0, n)
    work = Workload(
        _two_runs,
        lambda k: [(x, first, *his, bins, a, b) for a, b in _cuts(n, k)],
        combine=lambda parts: np.sum(parts, axis=0),
    )
    return WorkloadOnRunner(work, runner).prepare().call().value


def _np_part(x: np.ndarray, bins: int, range_: tuple[Any, Any]) -> np.ndarray:
    return np.histogram(x, bins, range_)[0]


def _numpy_counts(x: np.ndarray, bins: int, range_: tuple[Any, Any], runner: Runner) -> np.ndarray:
    """NumPy's own loop on chunks of ``x`` (its ufuncs release the GIL), summed: exact, since a
    value's bin depends only on the edges, which every chunk computes alike."""
    work = Workload(
        _np_part,
        lambda n: [(x[a:b], bins, range_) for a, b in _cuts(x.size, n)],
        combine=lambda parts: np.sum(parts, axis=0),
    )
    if runner.name == "serial":
        return _np_part(x, bins, range_)
    return WorkloadOnRunner(work, runner).prepare().call().value


def _counts(
    x: np.ndarray,
    edges: np.ndarray,
    range_: tuple[Any, Any],
    everything_inside: bool,
    runner: Runner,
    variant: str,
) -> np.ndarray:
    """The counts in NumPy's bins (see the module docstring)."""
    bins = edges.size - 1
    if x.size == 0:
        return np.zeros(bins, dtype=np.int64)
    nudged = bracket(edges)
    if nudged is None:
        return _numpy_counts(x, bins, range_, runner)
    kernel, first = get("histogram"), float(edges[0])
    low, high = _both_runs(x, first, nudged, bins, runner, variant)
    below = np.zeros(bins + 1, dtype=np.int64)  # below[i]: values in [first, e_i)
    low_prefix, high_prefix = np.cumsum(low)[:-1], np.cumsum(high)[:-1]
    below[1:-1] = low_prefix
    unsettled = [int(i) + 1 for i in np.flatnonzero(low_prefix != high_prefix)]
    if everything_inside:  # range=None: every value lies in [min, max], and none is NaN
        below[-1] = x.size
    elif low.sum() == high.sum():
        below[-1] = low.sum()
    else:
        unsettled.append(bins)
    if len(unsettled) > MAX_EXACT_PASSES:
        return _numpy_counts(x, bins, range_, runner)
    for i in unsettled:
        stop = float(edges[i]) if i < bins else float(np.nextafter(edges[-1], math.inf))
        if not math.isfinite(stop):
            return _numpy_counts(x, bins, range_, runner)
        below[i] = _run(kernel, variant, runner, (x, first, stop, 1), x.size)[0]
    return np.diff(below)


def histogram(
    x: np.ndarray,
    bins: int = 10,
    range: tuple[float, float] | None = None,  # NumPy's name for it
    *,
    workers: int | None = None,
    runner: str | Runner = "threads",
    check: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.histogram(x, bins, range)`` for ``bins`` equal bins: the same counts (int64) and
    edges, computed by the compiled kernel on ``workers`` threads (or ``runner``).

    ``range=None`` is ``(x.min(), x.max())``; the last bin includes its upper edge; values
    outside the range are not counted; a NaN makes ``range=None`` an error, as in NumPy, and
    is not counted within a given range. ``check=True`` also runs ``numpy.histogram`` and
    raises ``RuntimeError`` if anything differs.
    """
    values = _values(x)
    if isinstance(bins, (str, bytes)) or np.ndim(bins) != 0:
        raise TypeError(
            "bins must be an integer number of equal bins; for edges or 'auto' use numpy.histogram"
        )
    n_bins = _args.integer("bins", bins, minimum=1)
    with _pool(runner, workers) as (pool, variant):
        if range is None:
            lo, hi = _min_max(values, pool)
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise ValueError(f"autodetected range of [{lo}, {hi}] is not finite")
            range_ = (lo, hi)
        else:
            range_ = _check_range(range)
        edges = np.histogram_bin_edges(values[:0], n_bins, range_)  # NumPy's edges and errors
        counts = _counts(values, edges, range_, range is None, pool, variant)
    if check:
        want, want_edges = np.histogram(values, n_bins, range)
        if not (np.array_equal(counts, want) and np.array_equal(edges, want_edges)):
            raise RuntimeError("gilfree.histogram does not match numpy.histogram on these values")
    return counts, edges


def sum_squares(
    x: np.ndarray, *, workers: int | None = None, runner: str | Runner = "threads", check: bool = False
) -> float:
    """The sum of ``x**2`` (``x @ x``) by the compiled kernel, each chunk's partial sum added
    with ``math.fsum``: equal to NumPy's within rounding, not bit for bit (the order of
    additions differs). ``check=True`` compares with the kernel's reference (rtol 1e-12)."""
    values = _values(x)
    kernel = get("sum_squares")
    with _pool(runner, workers) as (pool, variant):
        total = float(_run(kernel, variant, pool, (values,), values.size))
    if check:
        inputs = Inputs(kernel.name, (values,), 0, values.size)
        if not kernel.check(inputs, total):
            raise RuntimeError("gilfree.sum_squares does not match its reference on these values")
    return total
