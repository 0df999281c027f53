"""Argument checks shared by every variant of every kernel.

The compiled entry points call these before touching memory, so a bad argument gets a
``TypeError`` or ``ValueError`` that names it, and the ``python``, ``gil``, ``nogil`` and
``openmp`` variants reject exactly the same inputs (as numcodecs does: check in Python, then
only the C call inside ``with nogil:``).

NumPy is not imported here at module level: in a subinterpreter (the ``interpreters`` runner)
NumPy cannot be imported, and arrays arrive there as ``memoryview`` objects of the caller's
buffers, which :func:`array` checks through the buffer protocol alone.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from gilfree._cancel import CancelToken
from gilfree._checks import integer
from gilfree.info import WORKERS_LIMIT_FLOOR, WORKERS_PER_CORE_LIMIT, worker_limit

if TYPE_CHECKING:
    import numpy as np

__all__ = ["INT64_MAX", "array", "integer", "num_threads", "real", "span", "token"]

#: The largest value of a C ``long long``: counts and indices the cores hold in one.
INT64_MAX = 2**63 - 1

#: dtype name -> the struct format codes a memoryview of such an array may carry
#: (NumPy exports int64 as "l" on LP64 platforms, "q" on Windows).
BUFFER_FORMATS = {
    "int32": ("i", "=i", "<i"),
    "int64": ("q", "l", "=q", "<q", "=l", "<l"),
    "float64": ("d", "=d", "<d"),
}


def array(name: str, a: object, dtype: Any, ndim: int, *, writable: bool = False) -> np.ndarray:
    """Check that ``a`` is a C-contiguous ``ndim``-D array of ``dtype`` (writable if an output).

    ``dtype`` is a NumPy dtype or its name. A ``memoryview`` is checked the same way through
    the buffer protocol (format, dimensions, contiguity, read-only), without NumPy.
    """
    if isinstance(a, memoryview):
        return _buffer(name, a, getattr(dtype, "__name__", str(dtype)), ndim, writable)  # type: ignore[return-value]
    import numpy as np

    want = np.dtype(dtype)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of {want}, got {type(a).__name__}")
    if isinstance(a, np.ma.MaskedArray):
        # The compiled cores read the data under the mask and the Python loops see the
        # masked values as None: no variant could honour the mask, so none accepts it.
        raise TypeError(
            f"{name} must be a plain numpy.ndarray, not a masked array (no variant can honour "
            f"the mask); pass {name}.filled(value), or numpy.asarray({name}) for the data under it"
        )
    if a.dtype != want:
        raise TypeError(f"{name} must have dtype {want}, got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {a.ndim}-D with shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; pass numpy.ascontiguousarray({name})")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} is read-only, but the kernel writes its output into it")
    return a


def _buffer(name: str, m: memoryview, dtype: str, ndim: int, writable: bool) -> memoryview:
    """:func:`array`'s checks on a memoryview, with the same messages."""
    if m.format not in BUFFER_FORMATS.get(dtype, (dtype,)):
        raise TypeError(f"{name} must have dtype {dtype}, got a buffer of format {m.format!r}")
    if m.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {m.ndim}-D with shape {m.shape}")
    if not m.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; pass numpy.ascontiguousarray({name})")
    if writable and m.readonly:
        raise ValueError(f"{name} is read-only, but the kernel writes its output into it")
    return m


def _numpy_scalars() -> tuple[type, ...]:
    """NumPy's scalar types if NumPy is loaded (nobody can pass one otherwise)."""
    np = sys.modules.get("numpy")
    return () if np is None else (np.integer, np.floating)


def real(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, *_numpy_scalars())):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:  # an int past the float range (10**400): name it, as for inf
        raise ValueError(f"{name} must be finite, got an integer too large for a float") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def token(cancel: object) -> CancelToken | None:
    """Check that ``cancel`` is a ``CancelToken`` or None (before any work, in every variant)."""
    if cancel is not None and not isinstance(cancel, CancelToken):
        raise TypeError(f"cancel must be a gilfree.CancelToken or None, got {type(cancel).__name__}")
    return cancel


def num_threads(value: object) -> int:
    """Check an ``openmp`` variant's ``num_threads``: at least 1, at most ``worker_limit()``.

    Why a limit: libgomp segfaults at 200,000 threads and exits the process at 50,000
    ("Thread creation failed"), so an absurd count must be refused before the parallel
    region starts. The limit is ``gilfree.info.worker_limit()``, the one for every worker count.
    """
    n = integer("num_threads", value, minimum=1)
    limit = worker_limit()
    if n > limit:
        raise ValueError(
            f"num_threads must be <= {limit} (gilfree.info.worker_limit(): "
            f"{WORKERS_PER_CORE_LIMIT} per core, at least {WORKERS_LIMIT_FLOOR}), got {n}"
        )
    return n


def span(start: object, stop: object, lo: int, hi: int) -> tuple[int, int]:
    """Check a chunk's ``[start, stop)`` against the kernel's whole range ``[lo, hi)``.

    ``start=None`` means ``lo`` and ``stop=None`` means ``hi``. An empty range is allowed.
    """
    s = lo if start is None else integer("start", start, minimum=-(2**63))
    e = hi if stop is None else integer("stop", stop, minimum=-(2**63))
    if s < lo or s > hi:
        raise ValueError(f"start={s} is outside the range [{lo}, {hi}]")
    if e < s or e > hi:
        raise ValueError(f"stop={e} must be within [start={s}, {hi}]")
    return s, e
