"""Type stub for the compiled ``gilfree.kernels._mandelbrot`` module (see ``_mandelbrot.pyx``)."""

import numpy as np
from numpy.typing import NDArray

from gilfree._cancel import Cancelled as Cancelled
from gilfree._cancel import CancelToken

def _check(
    out: NDArray[np.int32],
    x_min: float,
    x_max: float,
    y_min: float,
    y_max: float,
    max_iter: int,
    start: int | None,
    stop: int | None,
) -> tuple[NDArray[np.int32], float, float, float, float, int, int, int]: ...
def gil(
    out: NDArray[np.int32],
    x_min: float,
    x_max: float,
    y_min: float,
    y_max: float,
    max_iter: int,
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
) -> int: ...
def nogil(
    out: NDArray[np.int32],
    x_min: float,
    x_max: float,
    y_min: float,
    y_max: float,
    max_iter: int,
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
) -> int: ...
def openmp(
    out: NDArray[np.int32],
    x_min: float,
    x_max: float,
    y_min: float,
    y_max: float,
    max_iter: int,
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
    num_threads: int | None = None,
) -> int: ...
