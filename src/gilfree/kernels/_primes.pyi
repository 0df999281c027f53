"""Type stub for the compiled ``gilfree.kernels._primes`` module (see ``_primes.pyx``)."""

from gilfree._cancel import Cancelled as Cancelled
from gilfree._cancel import CancelToken

# ``start=None`` means ``lo``: the range defaults to all of [lo, hi).
def _check(lo: int, hi: int, start: int | None, stop: int | None) -> tuple[int, int, int, int]: ...
def gil(
    lo: int, hi: int, start: int | None = None, stop: int | None = None, cancel: CancelToken | None = None
) -> int: ...
def nogil(
    lo: int, hi: int, start: int | None = None, stop: int | None = None, cancel: CancelToken | None = None
) -> int: ...
def openmp(
    lo: int,
    hi: int,
    start: int | None = None,
    stop: int | None = None,
    cancel: CancelToken | None = None,
    num_threads: int | None = None,
) -> int: ...
