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

__all__ = ["integrate", "mandelbrot", "pairwise", "primes", "sum_squares"]


def _stop_if(cancel: CancelToken | None, name: str) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled(f"{name} cancelled")


def mandelbrot(out, x_min, x_max, y_min, y_max, max_iter, start=0, stop=None, cancel=None):
    """Pure-Python escape counts of rows [start, stop) into ``out``; returns their sum."""
    from gilfree.kernels._mandelbrot import _check

    out, x_min, x_max, y_min, y_max, max_iter, start, stop = _check(
        out, x_min, x_max, y_min, y_max, max_iter, start, stop
    )
    height, width = out.shape
    # A memoryview (in a subinterpreter) takes a row as a buffer of the same format, 1-D.
    flat = out.cast("B").cast("i") if isinstance(out, memoryview) else None
    dx = (x_max - x_min) / max(width, 1)  # an empty grid has no points to place
    dy = (y_max - y_min) / max(height, 1)
    total = 0
    for r in range(start, stop):
        _stop_if(cancel, "mandelbrot")
        ci = y_min + (r + 0.5) * dy
        row = [0] * width
        for c in range(width):
            cr = x_min + (c + 0.5) * dx
            zr = zi = 0.0
            n = 0
            while n < max_iter:
                zr2 = zr * zr
                zi2 = zi * zi
                if zr2 + zi2 > 4.0:
                    break
                zi = 2.0 * zr * zi + ci
                zr = zr2 - zi2 + cr
                n += 1
            row[c] = n
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
    pts = points.tolist()
    sqrt = math.sqrt
    total = 0.0
    for i in range(start, stop):
        _stop_if(cancel, "pairwise")
        xi, yi, zi = pts[i]
        acc = 0.0
        for xj, yj, zj in pts[i + 1 :]:
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
    count = 0
    for b in range(start, stop, 1024):
        _stop_if(cancel, "primes")
        count += sum(1 for i in range(b, min(b + 1024, stop)) if _is_prime(i))
    return count
