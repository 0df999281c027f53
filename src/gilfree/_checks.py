"""Checks of plain Python values shared by every layer (kernels, runners, harness, compare).

Kept apart from ``gilfree.kernels._args`` (which checks arrays, with NumPy) so that runners
can check their own arguments without importing the kernels.
"""

from __future__ import annotations

import operator


def integer(name: str, value: object, *, minimum: int = 0, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer (not a float, not a bool) in ``[minimum, maximum]``.

    ``maximum`` (none by default) is where a C type's range, or a sane limit, ends: a value
    past it gets a ``ValueError`` naming the argument, not a bare ``OverflowError`` later.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


class IsaError(RuntimeError):
    """``GILFREE_ISA`` names no path, or one this CPU or this build lacks (raised when the
    kernels are imported). It lives here so the CLI can catch it without importing them."""
