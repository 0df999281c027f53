"""Argument checks shared by every variant of every kernel.

The compiled entry points call these before touching memory, so a bad argument gets a
``TypeError`` or ``ValueError`` that names it, and the ``python``, ``gil``, ``nogil`` and
``openmp`` variants reject exactly the same inputs (as numcodecs does: check in Python, then
only the C call inside ``with nogil:``).
"""

from __future__ import annotations

import math

import numpy as np

from gilfree._checks import integer

__all__ = ["array", "integer", "real", "span"]


def array(name: str, a: object, dtype: type, ndim: int, *, writable: bool = False) -> np.ndarray:
    """Check that ``a`` is a C-contiguous ``ndim``-D array of ``dtype`` (writable if an output)."""
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


def real(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
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
