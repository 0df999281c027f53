"""The user's own code as something gilfree can measure: a :class:`Workload`.

A workload is the answer to "how is my work cut?": the function, how to make the chunks for
*n* workers, how to combine the parts, and optionally how to check the result. gilfree's
runners call ``func(*chunk)`` for each chunk; the harness
(:class:`gilfree.harness.WorkloadOnRunner`) times it like a kernel, and
``gilfree compare --workload MODULE:OBJ`` runs it on every runner at workers 1..N.

Most work is many independent calls, so two shorthands cover it:

* ``Workload.map(func, items)``: ``func(item)`` for every item; the parts are the results in
  item order.
* ``Workload.slices(func, array)``: ``func(array[a:b])`` on contiguous slices along the first
  axis; arrays come back concatenated.

The function need not accept ``cancel=``: runners pass their cancel token to gilfree's own
wrapper, never to it. What worker processes need (:meth:`Workload.check_for_processes`): the
function must pickle (a ``def`` at the top level of a module, not a lambda or a function
defined inside another), and its module must import in the worker (under ``spawn`` and
``forkserver``, not ``__main__``).
"""

from __future__ import annotations

import importlib
import inspect
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from gilfree._checks import integer

__all__ = ["Each", "Workload", "WorkloadError", "load"]


class WorkloadError(ValueError):
    """A workload that cannot be run as given: one line that names what is wrong."""


def _a(obj: Any) -> str:
    """``an int``, ``a list``: the type of ``obj`` with its article, for messages."""
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def count(n: int) -> str:
    """``20_000_000`` -> ``20M``, ``1500`` -> ``1.5k``, ``64`` -> ``64``: short, for a table's size column."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def describe(func: Any) -> str:
    """``zlib.compress``, ``mymod.f``: how messages name a callable."""
    inner = getattr(func, "func", None) if isinstance(func, Each) else None
    if inner is not None:
        return f"each({describe(inner)})"
    module = getattr(func, "__module__", None) or ""
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return f"{module}.{name}" if module and module != "builtins" else name


@dataclass(frozen=True)
class Each:
    """``func`` over a list of items, one call each: the chunk function of ``Workload.map``.

    A class rather than a closure, so that it pickles (by reference to ``func``) into worker
    processes.
    """

    func: Callable[..., Any]

    def __call__(self, items: Sequence[Any]) -> list[Any]:
        f = self.func
        return [f(item) for item in items]


def _flatten(parts: Sequence[Sequence[Any]]) -> list[Any]:
    return [x for part in parts for x in part]


def _join(parts: Sequence[Any]) -> Any:
    """Slices' parts: arrays concatenated along the first axis, anything else as the list."""
    if parts and all(isinstance(p, np.ndarray) and p.ndim >= 1 for p in parts):
        return np.concatenate(parts)
    return list(parts)


def _bounds(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    """``n_chunks`` contiguous ranges of about equal length; empty ones dropped."""
    edges = [n_items * k // n_chunks for k in range(n_chunks + 1)]
    return [(a, b) for a, b in pairwise(edges) if b > a]


class Workload:
    """The user's function, how to cut its work for ``n`` workers, how to combine and check it.

    ``func(*chunk)`` is called for each chunk of ``chunks(n)``, a sequence of argument tuples
    (``n`` is the worker count; more chunks than workers is fine). ``combine(parts)`` turns the
    parts, in chunk order, into the result (default: the list of parts). ``check(result)``
    says whether a result is right; without it, a run counts as matched when it completes.
    ``name`` and ``size`` label the table's rows (default: the function's name; no size).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        chunks: Callable[[int], Sequence[Sequence[Any]]],
        combine: Callable[[list[Any]], Any] | None = None,
        check: Callable[[Any], bool] | None = None,
        *,
        name: str | None = None,
        size: str = "-",
    ) -> None:
        if not callable(func):
            raise WorkloadError(f"func must be callable, got {type(func).__name__}")
        if not callable(chunks):
            raise WorkloadError(
                f"chunks must be a function of the worker count n that returns the chunks, "
                f"got {type(chunks).__name__}"
            )
        for what, f in (("combine", combine), ("check", check)):
            if f is not None and not callable(f):
                raise WorkloadError(f"{what} must be callable or None, got {type(f).__name__}")
        self.func = func
        self._chunks = chunks
        self.combine: Callable[[list[Any]], Any] = combine if combine is not None else list
        self.check = check
        self.name = name or getattr(getattr(func, "func", func), "__name__", None) or "workload"
        self.size = size

    def __repr__(self) -> str:
        return f"<gilfree.Workload {self.name!r}: {describe(self.func)}, {self.size}>"

    # -- the shorthands --------------------------------------------------------------------

    @classmethod
    def map(
        cls,
        func: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        combine: Callable[[list[Any]], Any] | None = None,
        check: Callable[[Any], bool] | None = None,
        chunks_per_worker: int = 1,
        name: str | None = None,
    ) -> Workload:
        """``func(item)`` for every item, the items cut into ``chunks_per_worker`` contiguous
        groups per worker; the result is the list of ``func``'s results in item order (or
        ``combine`` of that list)."""
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise WorkloadError(f"items must be a sequence (a list or tuple), got {type(items).__name__}")
        if not callable(func):
            raise WorkloadError(f"func must be callable, got {type(func).__name__}")
        per = integer("chunks_per_worker", chunks_per_worker, minimum=1)
        items = list(items)

        def chunks(n: int) -> list[tuple[Any, ...]]:
            return [(items[a:b],) for a, b in _bounds(len(items), n * per)]

        def join(parts: list[Any]) -> Any:
            flat = _flatten(parts)
            return flat if combine is None else combine(flat)

        name = name or getattr(func, "__name__", None)
        return cls(Each(func), chunks, join, check, name=name, size=f"{len(items)} items")

    @classmethod
    def slices(
        cls,
        func: Callable[[Any], Any],
        array: np.ndarray,
        *,
        combine: Callable[[list[Any]], Any] | None = None,
        check: Callable[[Any], bool] | None = None,
        chunks_per_worker: int = 1,
        name: str | None = None,
    ) -> Workload:
        """``func(array[a:b])`` on contiguous slices along the first axis (views: threads copy
        nothing); the parts are concatenated when they are arrays, else listed, unless
        ``combine`` is given. Pass a read-only array if ``func`` does not write into it:
        worker processes then need not copy the slices back."""
        if not isinstance(array, np.ndarray) or array.ndim < 1:
            raise WorkloadError(
                f"array must be a numpy.ndarray with at least one axis, got {type(array).__name__}"
            )
        per = integer("chunks_per_worker", chunks_per_worker, minimum=1)

        def chunks(n: int) -> list[tuple[Any, ...]]:
            return [(array[a:b],) for a, b in _bounds(array.shape[0], n * per)]

        name = name or getattr(func, "__name__", None)
        size = f"{count(array.shape[0])} rows" if array.ndim > 1 else f"{count(array.shape[0])} values"
        return cls(func, chunks, combine or _join, check, name=name, size=size)

    # -- what the harness asks ---------------------------------------------------------------

    @property
    def target(self) -> Callable[..., Any]:
        """The user's own function (inside ``Each`` for ``Workload.map``)."""
        return self.func.func if isinstance(self.func, Each) else self.func

    def make_chunks(self, n: int) -> list[tuple[Any, ...]]:
        """``chunks(n)``, checked: a non-empty sequence of argument tuples."""
        n = integer("n", n, minimum=1)
        made = self._chunks(n)
        if isinstance(made, (str, bytes)) or not isinstance(made, Sequence):
            raise WorkloadError(
                f"chunks({n}) of workload {self.name!r} returned {_a(made)}, not a "
                "sequence of argument tuples (a list: a generator can be read only once)"
            )
        if len(made) == 0:
            raise WorkloadError(f"chunks({n}) of workload {self.name!r} returned no chunks")
        out = []
        for i, chunk in enumerate(made):
            if isinstance(chunk, (str, bytes)) or not isinstance(chunk, Sequence):
                raise WorkloadError(
                    f"chunks({n})[{i}] of workload {self.name!r} is {_a(chunk)}, not a "
                    f"tuple of arguments for {describe(self.target)}; wrap one argument as (x,)"
                )
            out.append(tuple(chunk))
        return out

    def validate(self, n: int) -> Any:
        """Make the chunks for ``n`` workers and call the function on the first, in this thread.

        Why: a workload that cannot run should fail here, in one line, before any pool starts;
        the call also compiles what compiles on first use (Numba), outside every timed run.
        """
        first = self.make_chunks(n)[0]
        try:
            return self.func(*first)
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise WorkloadError(
                f"{describe(self.target)} raised {type(exc).__name__} on its first chunk"
                + (f": {text[0]}" if text else "")
            ) from exc

    def check_for_processes(self, start_method: str) -> None:
        """Raise :class:`WorkloadError` if worker processes cannot run this function."""
        func = self.target
        where = describe(func)
        qualname = getattr(func, "__qualname__", "") or ""
        if getattr(func, "__name__", "") == "<lambda>":
            raise WorkloadError(
                f"processes need a function they can import: {where} is a lambda; define it with "
                "def at the top level of a module"
            )
        if "<locals>" in qualname:
            raise WorkloadError(
                f"processes need a function they can import: {where} is defined inside another "
                "function; move it to the top level of a module"
            )
        if getattr(func, "__module__", None) == "__main__" and start_method != "fork":
            raise WorkloadError(
                f"processes started by {start_method} import the function's module, and {where} "
                "is in __main__; put it in a module (a .py file beside the script) and import it"
            )
        try:
            pickle.dumps(self.func, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise WorkloadError(
                f"processes need a picklable function: {where} does not pickle "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
            ) from None


def load(spec: str) -> Workload:
    """``MODULE:OBJ`` -> the :class:`Workload` there.

    ``OBJ`` (a dotted path) is a ``Workload``, or a function callable without arguments that
    returns one (so that a module builds its data only when asked). Every failure is a
    one-line :class:`WorkloadError`.
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise WorkloadError(f"expected MODULE:OBJ (such as examples.zlib_blobs:workload), got {spec!r}")
    module_name, _, path = spec.partition(":")
    if not module_name or not path or not all(p.isidentifier() for p in path.split(".")):
        raise WorkloadError(f"expected MODULE:OBJ (such as examples.zlib_blobs:workload), got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkloadError(f"cannot import {module_name!r}: {exc}") from None
    except Exception as exc:
        raise WorkloadError(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from None
    for i, attr in enumerate(path.split(".")):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            where = ".".join([module_name, *path.split(".")[:i]])
            raise WorkloadError(f"{where} has no attribute {attr!r}") from None
    if isinstance(obj, Workload):
        return obj
    hint = "make one with gilfree.Workload.map(f, items) or gilfree.Workload(f, chunks, combine)"
    if not callable(obj):
        raise WorkloadError(f"{spec} is {_a(obj)}, not a gilfree.Workload; {hint}")
    try:
        inspect.signature(obj).bind()
    except TypeError:
        raise WorkloadError(
            f"{spec} is a function that takes arguments, not a gilfree.Workload; {hint}"
        ) from None
    except ValueError:  # no signature (a builtin): not a factory of workloads either
        raise WorkloadError(f"{spec} is {_a(obj)}, not a gilfree.Workload; {hint}") from None
    try:
        made = obj()
    except Exception as exc:
        raise WorkloadError(f"{spec}() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(made, Workload):
        raise WorkloadError(f"{spec}() returned {_a(made)}, not a gilfree.Workload; {hint}")
    return made
