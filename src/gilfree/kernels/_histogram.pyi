"""Type stub for the compiled ``gilfree.kernels._histogram`` module (see ``_histogram.pyx``)."""

import numpy as np
from numpy.typing import NDArray

from gilfree._cancel import Cancelled as Cancelled
from gilfree._cancel import CancelToken

# The most bins a call accepts (the counts are bins int64s, one row per OpenMP thread).
MAX_BINS: int

def _check(
    x: NDArray[np.float64], lo: float, hi: float, bins: int, start: int | None, stop: int | None
) -> tuple[NDArray[np.float64], float, float, int, int, int]: ...
def gil(
    x: NDArray[np.float64],
    lo: float,
    hi: float,
    bins: int,
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
) -> NDArray[np.int64]: ...
def nogil(
    x: NDArray[np.float64],
    lo: float,
    hi: float,
    bins: int,
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
) -> NDArray[np.int64]: ...
def openmp(
    x: NDArray[np.float64],
    lo: float,
    hi: float,
    bins: int,
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
    num_threads: int | None = None,
) -> NDArray[np.int64]: ...
