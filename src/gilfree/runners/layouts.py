"""Process x thread layouts for a given number of cores: the choice a user past one machine makes.

A layout ``(processes, threads)`` is ``processes`` worker processes with ``threads`` threads
each. nogil kernels scale in threads, GIL-bound code only in processes, and processes are the
only way onto more machines; ``compare`` shows every layout of the same total side by side.
This module needs no Dask, so the CLI can list and check layouts without the ``dask`` extra.
"""

from __future__ import annotations

import re

from gilfree._checks import integer

_LAYOUT = re.compile(r"^\s*(\d+)\s*[xX*]\s*(\d+)\s*$")


def layouts(total: int, *, max_processes: int | None = None) -> list[tuple[int, int]]:
    """Every ``(processes, threads)`` with ``processes * threads == total``, fewest processes first.

    ``layouts(2) == [(1, 2), (2, 1)]``; ``layouts(4) == [(1, 4), (2, 2), (4, 1)]``.
    ``max_processes`` drops layouts with more processes (each one is a Python interpreter
    with its own copy of the inputs).
    """
    total = integer("total", total, minimum=1)
    if max_processes is not None:
        max_processes = integer("max_processes", max_processes, minimum=1)
    return [
        (p, total // p)
        for p in range(1, total + 1)
        if total % p == 0 and (max_processes is None or p <= max_processes)
    ]


def parse_layout(text: str) -> tuple[int, int]:
    """``"2x2"`` -> ``(2, 2)``: processes x threads, as ``--layouts 1x2,2x1,2x2`` spells them."""
    if not isinstance(text, str):
        raise TypeError(f"layout must be a string like '2x1', not {type(text).__name__}")
    m = _LAYOUT.match(text)
    if not m or int(m[1]) < 1 or int(m[2]) < 1:
        raise ValueError(f"layout {text!r} is not PROCESSESxTHREADS with both at least 1 (e.g. '2x1')")
    return int(m[1]), int(m[2])


def parse_layouts(text: str) -> list[tuple[int, int]]:
    """``"1x2,2x1,2x2"`` -> ``[(1, 2), (2, 1), (2, 2)]``, duplicates dropped, order kept."""
    if not isinstance(text, str):
        raise TypeError(f"layouts must be a string like '1x2,2x1', not {type(text).__name__}")
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("layouts must name at least one PROCESSESxTHREADS layout (e.g. '1x2,2x1')")
    return list(dict.fromkeys(parse_layout(p) for p in parts))


def resolve_layout(
    workers: int,
    n_workers: int | None = None,
    threads_per_worker: int | None = None,
    *,
    explicit: bool = True,
) -> tuple[int, int]:
    """The ``(processes, threads)`` a local Dask cluster gets for ``workers`` cores.

    The rule, and why:

    - neither given: ``1 x workers``. nogil kernels scale in threads, and one process holds
      one copy of the scattered inputs and sends nothing between processes on this machine;
    - ``n_workers=p`` only: ``p x workers // p`` (at least 1 thread);
    - ``threads_per_worker=t`` only: ``workers // t x t`` (at least 1 process);
    - both: exactly ``n_workers x threads_per_worker``.

    ``explicit`` says the caller chose ``workers`` (rather than "all cores"); then a count that
    the given side does not divide, or that differs from both sides' product, is an error
    instead of a silent change of the total.
    """
    workers = integer("workers", workers, minimum=1)
    p = None if n_workers is None else integer("n_workers", n_workers, minimum=1)
    t = None if threads_per_worker is None else integer("threads_per_worker", threads_per_worker, minimum=1)
    if p is not None and t is not None:
        if explicit and p * t != workers:
            raise ValueError(
                f"workers={workers} does not match n_workers={p} x threads_per_worker={t}; "
                "give workers=None or a matching count"
            )
        return p, t
    given, name = (p, "n_workers") if p is not None else (t, "threads_per_worker")
    if given is None:
        return 1, workers
    if explicit and workers % given:
        raise ValueError(f"workers={workers} is not a multiple of {name}={given}")
    other = max(1, workers // given)
    return (given, other) if p is not None else (other, given)
