"""A Numba function compiled with ``nogil=True``: machine code that runs without the GIL.

    gilfree compare --workload examples.numba_nogil:workload

200 steps of the logistic map from each of 2 million starting points, summed, over slices
of the array. ``@njit(nogil=True)`` releases the GIL for the whole call, so threads run the
slices at once. The first call compiles; gilfree makes it before any timing (and each
worker process under spawn compiles its own on its first call, in the untimed warm-up).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from gilfree import Workload


@njit(nogil=True)
def logistic_sum(a: np.ndarray) -> float:
    total = 0.0
    for v in a:
        x = v
        for _ in range(200):
            x = 3.9 * x * (1.0 - x)
        total += x
    return total


class Close:
    """The check: the sum of the parts equals one call on the whole array, to 1e-9 (untimed)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.expected: float | None = None

    def __call__(self, result: float) -> bool:
        if self.expected is None:
            self.expected = logistic_sum(self.x)
        return math.isclose(result, self.expected, rel_tol=1e-9)


def workload(n: int = 2_000_000) -> Workload:
    x = np.random.default_rng(0).uniform(0.01, 0.99, n)
    x.flags.writeable = False  # read only: worker processes need not copy the slices back
    return Workload.slices(logistic_sum, x, combine=sum, check=Close(x), name="numba logistic")
