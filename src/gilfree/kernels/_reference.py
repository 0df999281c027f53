"""The ``python`` variants (pure Python in the loop) and the NumPy references that check results.

The ``python`` variants are the GIL-bound baseline: the same math as the compiled cores,
written as plain loops, with the same arguments and the same checks. Their loops live in
``_pure.py``, which imports no NumPy (they also run in subinterpreters), and are re-exported
here under the same names; ``histogram``'s, which returns a NumPy array, is here. The
references are written independently (vectorised NumPy, or a sieve) and are what
``Kernel.check`` trusts.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from gilfree.kernels._args import token
from gilfree.kernels._pure import (
    MANDELBROT_POLL,
    PAIRWISE_POLL,
    PRIMES_POLL,
    _count_primes_polled,  # noqa: F401 - under its old name
    _is_prime,  # noqa: F401 - gilfree.peers compiles it with Numba
    _stop_if,
    integrate,
    mandelbrot,
    pairwise,
    primes,
    sum_squares,
)

__all__ = [
    "MANDELBROT_POLL",
    "PAIRWISE_POLL",
    "PRIMES_POLL",
    "bin_scaling",
    "histogram",
    "histogram_reference",
    "integrate",
    "integrate_reference",
    "mandelbrot",
    "mandelbrot_reference",
    "pairwise",
    "pairwise_reference",
    "primes",
    "primes_reference",
    "sum_squares",
    "sum_squares_reference",
]


def bin_scaling(lo: float, hi: float, bins: int) -> tuple[float, float, float]:
    """``(s, lo * s, bins / (hi * s - lo * s))``: the histogram's bin rule, as the core has it.

    A value's bin is ``floor((v * s - lo * s) * scale)``. With s = 1 that is
    ``(v - lo) * (bins / (hi - lo))``; s = 2**-8 when ``hi - lo`` overflows or ``bins / (hi -
    lo)`` is subnormal, and s = 2**600 when ``bins / (hi - lo)`` overflows. A power of two
    scales exactly, so the bin is the same fraction of the range, and nothing overflows.
    """
    w = hi - lo
    s = 1.0
    if math.isinf(w) or bins / w < sys.float_info.min:
        s = math.ldexp(1.0, -8)
    elif math.isinf(bins / w):
        s = math.ldexp(1.0, 600)
    lo_s = lo * s
    return s, lo_s, bins / (hi * s - lo_s)


# -- python variants ---------------------------------------------------------------------
# The loops live in _pure.py (no NumPy: they also run in subinterpreters) and are re-exported
# above under the same names; histogram's returns a NumPy array, so it is here.


def histogram(x, lo, hi, bins, start=0, stop=None, cancel=None):
    """Pure-Python counts of x[start:stop] in ``bins`` equal bins over [lo, hi); NaN ignored."""
    from gilfree.kernels._histogram import _check

    x, lo, hi, bins, start, stop = _check(x, lo, hi, bins, start, stop)
    token(cancel)
    s, lo_s, scale = bin_scaling(lo, hi, bins)
    counts = [0] * bins
    for b in range(start, stop, 65536):
        _stop_if(cancel, "histogram")
        for v in x[b : min(b + 65536, stop)].tolist():
            if lo <= v < hi:
                counts[min(int((v * s - lo_s) * scale), bins - 1)] += 1
    return np.array(counts, dtype=np.int64)


# -- NumPy references --------------------------------------------------------------------


def mandelbrot_reference(out_shape, x_min, x_max, y_min, y_max, max_iter) -> np.ndarray:
    """Escape counts for the whole grid, vectorised over the points still iterating."""
    height, width = out_shape
    dx = (x_max - x_min) / max(width, 1)  # an empty grid has no points to place
    dy = (y_max - y_min) / max(height, 1)
    cr = np.broadcast_to(x_min + (np.arange(width) + 0.5) * dx, (height, width)).ravel()
    ci = np.repeat(y_min + (np.arange(height) + 0.5) * dy, width)
    counts = np.zeros(height * width, dtype=np.int32)
    live = np.arange(height * width)
    zr = np.zeros(live.size)
    zi = np.zeros(live.size)
    for _ in range(max_iter):
        zr2 = zr * zr
        zi2 = zi * zi
        keep = zr2 + zi2 <= 4.0
        live, zr, zi, zr2, zi2 = live[keep], zr[keep], zi[keep], zr2[keep], zi2[keep]
        if live.size == 0:
            break
        zi = 2.0 * zr * zi + ci[live]
        zr = zr2 - zi2 + cr[live]
        counts[live] += 1
    return counts.reshape(height, width)


def integrate_reference(n: int) -> float:
    """NumPy pairwise summation over blocks of 2**20 steps, then math.fsum of the blocks."""
    h = 1.0 / n
    parts = []
    for b in range(0, n, 1 << 20):
        x = (np.arange(b, min(b + (1 << 20), n), dtype=np.float64) + 0.5) * h
        parts.append(float(np.sum(4.0 / (1.0 + x * x))))
    return math.fsum(parts) * h


def sum_squares_reference(x: np.ndarray) -> float:
    parts = [float(np.dot(x[b : b + (1 << 22)], x[b : b + (1 << 22)])) for b in range(0, x.size, 1 << 22)]
    return math.fsum(parts)


def pairwise_reference(points: np.ndarray) -> float:
    """Blocks of rows against the rows after them; the block's own square keeps j > i only."""
    n = points.shape[0]
    parts = []
    for a in range(0, n, 512):
        b = min(a + 512, n)
        d2 = np.zeros((b - a, n - a))
        for k in range(3):
            diff = points[a:b, k, None] - points[None, a:, k]
            d2 += diff * diff
        d = np.sqrt(d2)
        parts.append(float(np.triu(d[:, : b - a], 1).sum()) + float(d[:, b - a :].sum()))
    return math.fsum(parts)


def primes_reference(lo: int, hi: int) -> int:
    """Segmented sieve of Eratosthenes over [lo, hi): independent of trial division."""
    if hi <= 2 or hi <= lo:
        return 0
    root = math.isqrt(hi - 1)
    small = np.ones(root + 1, dtype=bool)
    small[:2] = False
    for p in range(2, math.isqrt(root) + 1):
        if small[p]:
            small[p * p :: p] = False
    count = 0
    for a in range(lo, hi, 1 << 24):
        b = min(a + (1 << 24), hi)
        seg = np.ones(b - a, dtype=bool)
        for p in np.flatnonzero(small).tolist():
            first = max(p * p, (a + p - 1) // p * p)
            seg[first - a :: p] = False
        seg[: max(0, 2 - a)] = False
        count += int(seg.sum())
    return count


def histogram_reference(x: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    s, lo_s, scale = bin_scaling(lo, hi, bins)
    inside = x[(x >= lo) & (x < hi)]
    k = np.minimum(((inside * s - lo_s) * scale).astype(np.int64), bins - 1)
    return np.bincount(k, minlength=bins).astype(np.int64)
