"""Type stub for the compiled ``gilfree.kernels._integrate`` module (see ``_integrate.pyx``)."""

from gilfree._cancel import Cancelled as Cancelled
from gilfree._cancel import CancelToken

def _check(n: int, start: int | None, stop: int | None) -> tuple[int, int, int]: ...
def gil(n: int, start: int = 0, stop: int | None = None, cancel: CancelToken | None = None) -> float: ...
def nogil(n: int, start: int = 0, stop: int | None = None, cancel: CancelToken | None = None) -> float: ...
def openmp(
    n: int,
    start: int = 0,
    stop: int | None = None,
    cancel: CancelToken | None = None,
    num_threads: int | None = None,
) -> float: ...
