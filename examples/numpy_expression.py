"""A NumPy expression over slices of one array: ufuncs release the GIL while they loop.

    gilfree compare --workload examples.numpy_expression:workload

``exp(-x**2 / 2) * cos(3 x)`` over 2 million float64, cut into one slice per worker. Each
ufunc call drops the GIL for its loop, so threads compute the slices at once, on views of
the same array; processes copy each slice in and its result (as large) back.
"""

from __future__ import annotations

import numpy as np

from gilfree import Workload


def expression(a: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * a * a) * np.cos(3.0 * a)


class Close:
    """The check: the result equals the expression on the whole array, to 1e-12 (untimed)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.expected: np.ndarray | None = None

    def __call__(self, result: np.ndarray) -> bool:
        if self.expected is None:
            self.expected = expression(self.x)
        return result.shape == self.x.shape and bool(np.allclose(result, self.expected, rtol=1e-12, atol=0))


def workload(n: int = 2_000_000) -> Workload:
    x = np.random.default_rng(0).standard_normal(n)
    x.flags.writeable = False  # read only: worker processes need not copy the slices back
    return Workload.slices(expression, x, check=Close(x), name="numpy expr")
