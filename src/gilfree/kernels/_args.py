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

from gilfree._checks import integer

if TYPE_CHECKING:
    import numpy as np

__all__ = ["array", "integer", "real", "span"]

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
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


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
