"""The peers gilfree is measured against, written to the same math as its kernels.

Used by ``gilfree compare --peers`` and by the benchmark suite (``benchmarks/``).

Numba (``njit(nogil=True)``, run in threads like gilfree's ``nogil``, and ``parallel=True``
with ``prange``), NumPy, numexpr and joblib's threading backend. Each peer is what a user
would naturally write: no ``fastmath``, one accumulator where the natural loop has one.
A peer whose package is missing is reported as missing, never faked.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gilfree.kernels import Inputs, Kernel, _reference


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


#: which Numba flavours exist per kernel (histogram has no race-free prange form)
NUMBA_FLAVOURS = {
    k: ("njit", "parallel") for k in ("mandelbrot", "integrate", "sum_squares", "pairwise", "primes")
}
NUMBA_FLAVOURS["histogram"] = ("njit",)
NUMEXPR_KERNELS = ("integrate", "sum_squares")

MISSING = {m: f'{m} is not installed (pip install "gilfree[bench]")' for m in ("numba", "numexpr", "joblib")}


def _numba_kernels() -> dict[str, dict[str, Callable[..., Any]]]:
    """Compile on first use; returns {kernel: {"njit": f(*chunk), "parallel": f(*whole)}}."""
    from numba import njit, prange

    @njit(nogil=True)
    def _mandelbrot_row(out, x_min, dx, ci, max_iter, r):
        """One row of escape counts into out[r]; the sum of the row."""
        total = 0
        for c in range(out.shape[1]):
            cr = x_min + (c + 0.5) * dx
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter:
                zr2 = zr * zr
                zi2 = zi * zi
                if zr2 + zi2 > 4.0:
                    break
                zi = 2.0 * zr * zi + ci
                zr = zr2 - zi2 + cr
                n += 1
            out[r, c] = n
            total += n
        return total

    # Each outer loop is written once with prange and compiled twice: without parallel=True
    # Numba runs prange as range, so the njit and parallel=True peers share their source.
    def mandelbrot(out, x_min, x_max, y_min, y_max, max_iter, start, stop):
        height, width = out.shape
        dx = (x_max - x_min) / width
        dy = (y_max - y_min) / height
        total = 0
        for r in prange(start, stop):
            total += _mandelbrot_row(out, x_min, dx, y_min + (r + 0.5) * dy, max_iter, r)
        return total

    def integrate(n, start, stop):
        h = 1.0 / n
        s = 0.0
        for i in prange(start, stop):
            x = (i + 0.5) * h
            s += 4.0 / (1.0 + x * x)
        return s * h

    def sum_squares(x, start, stop):
        s = 0.0
        for i in prange(start, stop):
            s += x[i] * x[i]
        return s

    @njit(nogil=True)
    def _pairwise_row(points, i):
        """Sum of |p_i - p_j| for j > i."""
        xi, yi, zi = points[i, 0], points[i, 1], points[i, 2]
        total = 0.0
        for j in range(i + 1, points.shape[0]):
            dx = points[j, 0] - xi
            dy = points[j, 1] - yi
            dz = points[j, 2] - zi
            total += math.sqrt(dx * dx + dy * dy + dz * dz)
        return total

    def pairwise(points, start, stop):
        total = 0.0
        for i in prange(start, stop):
            total += _pairwise_row(points, i)
        return total

    _is_prime = njit(nogil=True)(_reference._is_prime)  # the python variant's own test

    def primes(lo, hi, start, stop):
        c = 0
        for i in prange(start, stop):
            if _is_prime(i):
                c += 1
        return c

    @njit(nogil=True)
    def histogram(x, lo, hi, bins, start, stop):
        counts = np.zeros(bins, dtype=np.int64)
        scale = bins / (hi - lo)
        for i in range(start, stop):
            v = x[i]
            if lo <= v < hi:
                k = int((v - lo) * scale)
                if k >= bins:
                    k = bins - 1
                counts[k] += 1
        return counts

    loops = {"mandelbrot": mandelbrot, "integrate": integrate, "sum_squares": sum_squares}
    loops |= {"pairwise": pairwise, "primes": primes}
    compiled: dict[str, dict[str, Callable[..., Any]]] = {
        name: {"njit": njit(nogil=True)(f), "parallel": njit(nogil=True, parallel=True)(f)}
        for name, f in loops.items()
    }
    compiled["histogram"] = {"njit": histogram}
    return compiled


_NUMBA: dict[str, dict[str, Callable[..., Any]]] | None = None


def numba_kernels() -> dict[str, dict[str, Callable[..., Any]]]:
    global _NUMBA
    if _NUMBA is None:
        _NUMBA = _numba_kernels()
    return _NUMBA


def numpy_whole(kernel: str) -> Callable[..., Any] | None:
    """A vectorised NumPy (or BLAS) version over the whole input, where one is natural."""
    if kernel == "sum_squares":
        return lambda x, start, stop: float(x[start:stop] @ x[start:stop])
    if kernel == "integrate":

        def integrate(n, start, stop):
            h = 1.0 / n
            total = 0.0
            for b in range(start, stop, 1 << 22):
                x = (np.arange(b, min(b + (1 << 22), stop), dtype=np.float64) + 0.5) * h
                total += float(np.sum(4.0 / (1.0 + x * x)))
            return total * h

        return integrate
    if kernel == "histogram":

        def histogram(x, lo, hi, bins, start, stop):
            v = x[start:stop]
            v = v[(v >= lo) & (v < hi)]
            k = np.minimum(((v - lo) * (bins / (hi - lo))).astype(np.int64), bins - 1)
            return np.bincount(k, minlength=bins)

        return histogram
    return None


def numexpr_whole(kernel: str) -> Callable[..., Any] | None:
    if not available("numexpr"):
        return None
    import numexpr as ne

    if kernel == "sum_squares":
        return lambda x, start, stop: float(ne.evaluate("sum(v * v)", local_dict={"v": x[start:stop]}))
    if kernel == "integrate":

        def integrate(n, start, stop):
            h = 1.0 / n
            total = 0.0
            for b in range(start, stop, 1 << 22):
                i = np.arange(b, min(b + (1 << 22), stop), dtype=np.float64)
                total += float(
                    ne.evaluate("sum(4.0 / (1.0 + ((i + 0.5) * h) ** 2))", local_dict={"i": i, "h": h})
                )
            return total * h

        return integrate
    return None


# -- the table of peers --------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """One peer: what it needs installed, whether it takes workers, and how to set it up.

    ``build(kernel, inputs, workers, stack)`` does everything that must stay out of a timed
    region (Numba compilation, a warm pool, thread-count settings undone by ``stack``) and
    returns a zero-argument callable whose value ``Kernel.check`` accepts, or None when the
    peer has no version of that kernel.
    """

    name: str
    needs: str | None
    parallel: bool
    build: Callable[[Kernel, Inputs, int, contextlib.ExitStack], Callable[[], Any] | None]

    @property
    def missing(self) -> str | None:
        if self.needs and not available(self.needs):
            return MISSING.get(self.needs, f"{self.needs} is not installed")
        return None


def _numba_njit(k: Kernel, inputs: Inputs, workers: int, stack: contextlib.ExitStack):
    f = numba_kernels()[k.name]["njit"]
    f(*inputs.whole())  # compile outside the timed region
    return lambda: f(*inputs.whole())


def _numba_threads(k: Kernel, inputs: Inputs, workers: int, stack: contextlib.ExitStack):
    """Numba ``njit(nogil=True)`` in gilfree's thread pool, over gilfree's chunks."""
    from gilfree.runners import make_runner

    f = numba_kernels()[k.name]["njit"]
    f(*inputs.whole())
    runner = stack.enter_context(make_runner("threads", workers))
    chunks = k.split(inputs, workers)
    return lambda: k.combine([o.value for o in runner.map(f, chunks)])


def _numba_parallel(k: Kernel, inputs: Inputs, workers: int, stack: contextlib.ExitStack):
    if "parallel" not in NUMBA_FLAVOURS.get(k.name, ()):
        return None
    import numba

    f = numba_kernels()[k.name]["parallel"]
    old = numba.get_num_threads()
    numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
    stack.callback(numba.set_num_threads, old)
    f(*inputs.whole())
    return lambda: f(*inputs.whole())


def _numpy(k: Kernel, inputs: Inputs, workers: int, stack: contextlib.ExitStack):
    f = numpy_whole(k.name)
    if f is None:
        return None
    from threadpoolctl import threadpool_limits

    stack.enter_context(threadpool_limits(workers))
    return lambda: f(*inputs.whole())


def _numexpr(k: Kernel, inputs: Inputs, workers: int, stack: contextlib.ExitStack):
    f = numexpr_whole(k.name)
    if f is None:
        return None
    import numexpr

    old = numexpr.set_num_threads(workers)
    stack.callback(numexpr.set_num_threads, old)
    return lambda: f(*inputs.whole())


def _joblib(k: Kernel, inputs: Inputs, workers: int, stack: contextlib.ExitStack):
    """joblib's threading backend over the same nogil kernel and the same chunks."""
    from joblib import Parallel, delayed

    parallel = stack.enter_context(Parallel(n_jobs=workers, prefer="threads"))
    chunks = k.split(inputs, workers)
    return lambda: k.combine(parallel(delayed(k.nogil)(*c) for c in chunks))


PEERS: tuple[Peer, ...] = (
    Peer("numba-njit", "numba", False, _numba_njit),
    Peer("numba-threads", "numba", True, _numba_threads),
    Peer("numba-parallel", "numba", True, _numba_parallel),
    Peer("numpy", "numpy", True, _numpy),
    Peer("numexpr", "numexpr", True, _numexpr),
    Peer("joblib-threads", "joblib", True, _joblib),
)


def names() -> list[str]:
    return [p.name for p in PEERS]


def get(name: str) -> Peer:
    for p in PEERS:
        if p.name == name:
            return p
    raise ValueError(f"unknown peer {name!r}; expected one of {', '.join(names())}")


def has_version(peer: Peer, kernel: str) -> bool:
    """Whether the peer has a version of this kernel (without building anything)."""
    if peer.name == "numba-parallel":
        return "parallel" in NUMBA_FLAVOURS.get(kernel, ())
    if peer.name == "numpy":
        return numpy_whole(kernel) is not None
    if peer.name == "numexpr":
        return kernel in NUMEXPR_KERNELS
    return True
