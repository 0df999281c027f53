"""The ``python`` variants (pure Python in the loop) and the NumPy references that check results.

The ``python`` variants are the GIL-bound baseline: the same math as the compiled cores,
written as plain loops, with the same arguments and the same checks. The references are
written independently (vectorised NumPy, or a sieve) and are what ``Kernel.check`` trusts.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from gilfree._cancel import Cancelled, CancelToken
from gilfree.kernels._args import token

#: How often the python variants read the cancel flag where one unit of work has no bound.
#: Why: on the 2-core development machine pure Python took 175 ns a mandelbrot iteration and
#: 110 ns a trial-division step (a pair is of the same order), so 8192 of them are 1 to 1.4
#: ms, as the compiled cores' 2**18 are at their speed.
MANDELBROT_POLL = 8192
PAIRWISE_POLL = 8192
PRIMES_POLL = 8192  # trial-division steps


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


def _stop_if(cancel: CancelToken | None, name: str) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled(f"{name} cancelled")


# -- python variants ---------------------------------------------------------------------


def mandelbrot(out, x_min, x_max, y_min, y_max, max_iter, start=0, stop=None, cancel=None):
    """Pure-Python escape counts of rows [start, stop) into ``out``; returns their sum."""
    from gilfree.kernels._mandelbrot import _check

    out, x_min, x_max, y_min, y_max, max_iter, start, stop = _check(
        out, x_min, x_max, y_min, y_max, max_iter, start, stop
    )
    token(cancel)
    height, width = out.shape
    dx = (x_max - x_min) / max(width, 1)  # an empty grid has no points to place
    dy = (y_max - y_min) / max(height, 1)
    total = 0
    left = MANDELBROT_POLL  # iterations (each point counts one more) until the next read
    for r in range(start, stop):
        _stop_if(cancel, "mandelbrot")
        ci = y_min + (r + 0.5) * dy
        row = [0] * width
        for c in range(width):
            cr = x_min + (c + 0.5) * dx
            zr = zi = 0.0
            n = 0
            while True:  # stretches of at most `left` iterations, as the compiled core runs
                lim = max_iter if max_iter - n <= left else n + left
                n0 = n
                while n < lim:
                    zr2 = zr * zr
                    zi2 = zi * zi
                    if zr2 + zi2 > 4.0:
                        break
                    zi = 2.0 * zr * zi + ci
                    zr = zr2 - zi2 + cr
                    n += 1
                left -= n - n0 + 1
                if n < lim or lim == max_iter:  # escaped, or ran all max_iter
                    break
                _stop_if(cancel, "mandelbrot")
                left = MANDELBROT_POLL
            row[c] = n
            if left <= 0:
                _stop_if(cancel, "mandelbrot")
                left = MANDELBROT_POLL
        out[r] = row
        total += sum(row)
    return total


def integrate(n, start=0, stop=None, cancel=None):
    """Pure-Python midpoint-rule partial sum over steps [start, stop) of n."""
    from gilfree.kernels._integrate import _check

    n, start, stop = _check(n, start, stop)
    token(cancel)
    h = 1.0 / n
    total = 0.0
    for b in range(start, stop, 4096):
        _stop_if(cancel, "integrate")
        acc = 0.0
        for i in range(b, min(b + 4096, stop)):
            x = (i + 0.5) * h
            acc += 4.0 / (1.0 + x * x)
        total += acc
    return total * h


def sum_squares(x, start=0, stop=None, cancel=None):
    """Pure-Python sum of x[i]**2 over [start, stop)."""
    from gilfree.kernels._sum_squares import _check

    x, start, stop = _check(x, start, stop)
    token(cancel)
    total = 0.0
    for b in range(start, stop, 65536):
        _stop_if(cancel, "sum_squares")
        acc = 0.0
        for v in x[b : min(b + 65536, stop)].tolist():
            acc += v * v
        total += acc
    return total


def pairwise(points, start=0, stop=None, cancel=None):
    """Pure-Python sum of |p_i - p_j| over j > i for rows i in [start, stop)."""
    from gilfree.kernels._pairwise import _check

    points, start, stop = _check(points, start, stop)
    token(cancel)
    pts = points.tolist()
    n = len(pts)
    sqrt = math.sqrt
    total = 0.0
    for i in range(start, stop):
        _stop_if(cancel, "pairwise")
        xi, yi, zi = pts[i]
        acc = 0.0
        for j in range(i + 1, n, PAIRWISE_POLL):
            if j > i + 1:
                _stop_if(cancel, "pairwise")
            for xj, yj, zj in pts[j : j + PAIRWISE_POLL]:
                dx = xj - xi
                dy = yj - yi
                dz = zj - zi
                acc += sqrt(dx * dx + dy * dy + dz * dz)
        total += acc
    return total


def _is_prime(n: int) -> bool:
    if n < 4:
        return n >= 2
    if n % 2 == 0 or n % 3 == 0:
        return False
    d = 5
    while d * d <= n:
        if n % d == 0 or n % (d + 2) == 0:
            return False
        d += 6
    return True


def primes(lo, hi, start=None, stop=None, cancel=None):
    """Pure-Python count of primes in [start, stop) by trial division."""
    from gilfree.kernels._primes import _check

    lo, hi, start, stop = _check(lo, hi, start, stop)
    token(cancel)
    count = 0
    for b in range(start, stop, 1024):
        _stop_if(cancel, "primes")
        end = min(b + 1024, stop)
        if end <= 2**32:  # at most 10,923 steps a number: the block is bounded
            count += sum(1 for i in range(b, end) if _is_prime(i))
        else:
            count += _count_primes_polled(b, end, cancel)
    return count


def _count_primes_polled(lo: int, hi: int, cancel: CancelToken | None) -> int:
    """``_is_prime`` over [lo, hi), reading the flag every PRIMES_POLL trial-division steps.

    Past 2**32 one number is no bound: a prime near 2**63 takes 5 * 10**8 steps, minutes in
    pure Python. ``_is_prime`` itself stays as it is (the Numba peers compile it).
    """
    count = 0
    left = PRIMES_POLL
    for n in range(lo, hi):
        if n < 4 or n % 2 == 0 or n % 3 == 0:
            count += _is_prime(n)
            continue
        d = 5
        while d * d <= n:
            if n % d == 0 or n % (d + 2) == 0:
                break
            d += 6
            left -= 1
            if left <= 0:
                _stop_if(cancel, "primes")
                left = PRIMES_POLL
        else:
            count += 1
    return count


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
