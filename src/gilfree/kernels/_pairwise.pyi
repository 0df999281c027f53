"""Type stub for the compiled ``gilfree.kernels._pairwise`` module (see ``_pairwise.pyx``)."""

import numpy as np
from numpy.typing import NDArray

from gilfree._cancel import Cancelled as Cancelled
from gilfree._cancel import CancelToken

# ``points`` is float64 with shape (n, 3), C-contiguous.
def _check(
    points: NDArray[np.float64], start: int | None, stop: int | None
) -> tuple[NDArray[np.float64], int, int]: ...
def gil(
    points: NDArray[np.float64], start: int = 0, stop: int | None = None, cancel: CancelToken | None = None
) -> float: ...
def nogil(
    points: NDArray[np.float64], start: int = 0, stop: int | None = None, cancel: CancelToken | None = None
) -> float: ...
def openmp(
    points: NDArray[np.float64],
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
    num_threads: int | None = None,
) -> float: ...
