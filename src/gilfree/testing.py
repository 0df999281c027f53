"""Assertions for a test suite: does this callable release the GIL, or hold it?

::

    from gilfree.testing import assert_releases_gil, assert_holds_gil

    def test_compute_releases_the_gil():
        assert_releases_gil(mymodule.compute, data)      # returns the probe's result

Each one probes ``func(*args, **kwargs)`` (:func:`gilfree.probe.probe`) up to ``tries`` times,
stopping at the verdict it wants, and fails with the figures and the verdict's reason
otherwise. Why several tries, and a pass on any: a busy machine can only make a call look
*less* free (and a holding call cannot look free), so one good measurement settles it, and a
bad one may be the machine's. Options ``min_time``, ``tries`` (and ``slices``) are keywords
of the assertion; to pass ``func`` a keyword with one of those names, bind it with
``functools.partial``.

The pytest plugin (:mod:`gilfree.pytest_plugin`) wraps these in a fixture and markers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from gilfree.probe.probing import PROBE_MIN_TIME_S, ProbeResult, probe
from gilfree.probe.verdicts import HOLDS, HOLDS_IN_SLICES, INCONCLUSIVE, RELEASES

#: How many measurements an assertion makes, at most, before it fails.
TRIES = 3

__all__ = ["GilAssertionError", "GilProbeInconclusive", "assert_holds_gil", "assert_releases_gil"]


class GilAssertionError(AssertionError):
    """The callable did not do what the assertion asked; ``result`` is the last probe's."""

    def __init__(self, message: str, result: ProbeResult, verdicts: list[str]) -> None:
        super().__init__(message)
        self.result = result
        self.verdicts = verdicts


class GilProbeInconclusive(GilAssertionError):
    """Every measurement was inconclusive: the machine was too busy to tell."""


def _name(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _expect(
    want: Collection[str],
    what: str,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    min_time: float,
    tries: int,
) -> ProbeResult:
    if not (isinstance(tries, int) and tries >= 1):
        raise ValueError(f"tries must be an integer >= 1, got {tries!r}")
    verdicts: list[str] = []
    for _ in range(tries):
        result = probe(func, *args, min_time=min_time, target=_name(func), tries=1, **kwargs)
        verdicts.append(result.verdict.label)
        if result.verdict.label in want:
            return result
    got = f"{result.verdict.label} the GIL" if result.verdict.label != INCONCLUSIVE else "was inconclusive"
    message = (
        f"gilfree: expected {result.target} to {what}, but it {got} "
        f"({len(verdicts)} measurement(s): {', '.join(verdicts)})\n{result.describe()}"
    )
    if all(v == INCONCLUSIVE for v in verdicts):
        raise GilProbeInconclusive(message, result, verdicts)
    raise GilAssertionError(message, result, verdicts)


def assert_releases_gil(
    func: Callable[..., Any],
    *args: Any,
    min_time: float = PROBE_MIN_TIME_S,
    tries: int = TRIES,
    **kwargs: Any,
) -> ProbeResult:
    """Fail unless ``func(*args, **kwargs)`` releases the GIL; the probe's result if it does.

    "Partly releases" fails: part of each call keeps other threads waiting. On a
    free-threaded build with the GIL off, every call passes.
    """
    return _expect({RELEASES}, "release the GIL", func, args, kwargs, min_time, tries)


def assert_holds_gil(
    func: Callable[..., Any],
    *args: Any,
    min_time: float = PROBE_MIN_TIME_S,
    tries: int = TRIES,
    slices: bool = True,
    **kwargs: Any,
) -> ProbeResult:
    """Fail unless ``func(*args, **kwargs)`` holds the GIL; the probe's result if it does.

    ``slices=True`` counts "holds in slices" (bytecode, handing the GIL over at the switch
    interval) as holding; ``False`` asks for C code that keeps it through each call. On a
    free-threaded build with the GIL off this always fails: nothing can hold a GIL.
    """
    want = {HOLDS, HOLDS_IN_SLICES} if slices else {HOLDS}
    return _expect(want, "hold the GIL", func, args, kwargs, min_time, tries)
