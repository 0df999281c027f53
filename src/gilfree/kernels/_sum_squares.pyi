"""Type stub for the compiled ``gilfree.kernels._sum_squares`` module (see ``_sum_squares.pyx``)."""

import numpy as np
from numpy.typing import NDArray

from gilfree._cancel import Cancelled as Cancelled
from gilfree._cancel import CancelToken

def _check(
    x: NDArray[np.float64], start: int | None, stop: int | None
) -> tuple[NDArray[np.float64], int, int]: ...
def gil(
    x: NDArray[np.float64], start: int = 0, stop: int | None = None, cancel: CancelToken | None = None
) -> float: ...
def nogil(
    x: NDArray[np.float64], start: int = 0, stop: int | None = None, cancel: CancelToken | None = None
) -> float: ...
def openmp(
    x: NDArray[np.float64],
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
    num_threads: int | None = None,
) -> float: ...
