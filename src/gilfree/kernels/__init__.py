"""gilfree's compiled kernels: ``from gilfree.kernels import mandelbrot; mandelbrot.nogil(...)``.

Each kernel has ``python``, ``gil`` and ``nogil`` variants with one signature (plus ``openmp``
when built with OpenMP), ``make_inputs(size, seed)``, ``split``, ``combine`` and a reference.
"""

from gilfree._cancel import Cancelled, CancelToken, build_info
from gilfree.kernels._base import SIZES, VARIANTS, Chunk, Inputs, Kernel
from gilfree.kernels.registry import REGISTRY, get, names

mandelbrot = REGISTRY["mandelbrot"]
integrate = REGISTRY["integrate"]
sum_squares = REGISTRY["sum_squares"]
pairwise = REGISTRY["pairwise"]
primes = REGISTRY["primes"]
histogram = REGISTRY["histogram"]

__all__ = [
    "SIZES",
    "VARIANTS",
    "CancelToken",
    "Cancelled",
    "Chunk",
    "Inputs",
    "Kernel",
    "build_info",
    "get",
    "histogram",
    "integrate",
    "mandelbrot",
    "names",
    "pairwise",
    "primes",
    "sum_squares",
]
