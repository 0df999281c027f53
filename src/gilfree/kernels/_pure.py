"""The ``python`` variants: pure Python in the loop, and the GIL-bound baseline.

The same math as the compiled cores, written as plain loops, with the same arguments and the
same checks (each kernel's ``_check``). Kept apart from the NumPy references in
``_reference.py`` (which re-exports them) because this module imports nothing heavy: it runs
in subinterpreters (the ``interpreters`` runner), where NumPy cannot be imported and arrays
arrive as ``memoryview`` objects, which every loop here reads and writes as well as arrays.
``histogram``'s python variant returns a NumPy array, so it stays in ``_reference.py``.
"""

from __future__ import annotations

import math
from array import array

from gilfree._cancel import Cancelled, CancelToken

# The compiled modules whose _check each loop calls, loaded with this module rather than on a
# loop's first call: a worker of the interpreters runner imports its function's module under
# the runner's import lock, and a first import inside a running chunk would escape it.
from gilfree.kernels import _integrate, _mandelbrot, _pairwise, _primes, _sum_squares  # noqa: F401
from gilfree.kernels._args import token

__all__ = ["integrate", "mandelbrot", "pairwise", "primes", "sum_squares"]

#: How often the python variants read the cancel flag where one unit of work has no bound.
#: Why: on the 2-core development machine pure Python took 175 ns a mandelbrot iteration and
#: 110 ns a trial-division step (a pair is of the same order), so 8192 of them are 1 to 1.4
#: ms, as the compiled cores' 2**18 are at their speed.
MANDELBROT_POLL = 8192
PAIRWISE_POLL = 8192
PRIMES_POLL = 8192  # trial-division steps


def _stop_if(cancel: CancelToken | None, name: str) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled(f"{name} cancelled")


def mandelbrot(out, x_min, x_max, y_min, y_max, max_iter, start=0, stop=None, cancel=None):
    """Pure-Python escape counts of rows [start, stop) into ``out``; returns their sum."""
    from gilfree.kernels._mandelbrot import _check

    out, x_min, x_max, y_min, y_max, max_iter, start, stop = _check(
        out, x_min, x_max, y_min, y_max, max_iter, start, stop
    )
    token(cancel)
    height, width = out.shape
    # A memoryview (in a subinterpreter) takes a row as a buffer of the same format, 1-D.
    flat = out.cast("B").cast("i") if isinstance(out, memoryview) else None
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
        if flat is None:
            out[r] = row
        else:
            flat[r * width : (r + 1) * width] = array("i", row)
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
