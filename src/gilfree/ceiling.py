"""The machine's own read ceiling: how fast this machine reads an array, with 1 and N threads.

Memory-bound kernels (``sum_squares``, ``histogram``) are judged against it rather than
against a figure from another host: a kernel's GB/s over the ceiling's, measured in the same
run, on the same array (so in cache if that array fits there, in memory if not), at the same
thread count.

The read is STREAM-like: each of N threads reads its own contiguous slice once, all started
together, and the time is the slowest thread's. The loop is NumPy's ``minimum.reduce`` over
the array's bytes seen as unsigned integers, once as ``uint32`` and once as ``uint64``, and
the ceiling is the faster of the two. Why that one: it only reads; NumPy compiles it for
AVX2/AVX-512 and picks the path at run time, as gilfree does; an integer minimum has no NaN
branch and no dependency chain that could be slower than memory; and it releases the GIL,
so N threads read at once. Why two widths: NumPy's loops differ by type and CPU. On the
2-core development host (AMD EPYC Zen 5 KVM guest, 1e8 float64, one thread, quiet;
``python benchmarks/targets.py --only ceiling`` prints each width) the ``uint32`` minimum read
40.7-41.2 GB/s and the ``uint64`` one 33.1-34.5; with ``uint64`` alone, gilfree's
``sum_squares`` (41 GB/s) read at 1.19 of the "ceiling". Neither gilfree's nor BLAS's code is
the ceiling, so neither is judged by itself. It is the fastest read NumPy has, not the
hardware's limit: a share a little above 1 is still possible.

Cheap by design: the best of 3 reads per width and thread count, so about 0.1 s for 2 x 160 MB
arrays at 1 and 2 threads (0.044 s for one, on the Zen 5 development host). ``gilfree
compare`` calls :func:`judge` only when a memory-bound kernel ran; ``benchmarks/targets.py``
reports the same shares.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from gilfree.info import cores

#: the kernels whose figures are bytes per second, judged against the read ceiling
MEMORY_BOUND = ("sum_squares", "histogram")
#: Below this many bytes a read takes less than about half a millisecond, and starting the
#: threads is no longer small beside it: no ceiling is measured, and the note says why.
MIN_BYTES = 16 * 2**20
READS = 3
#: the views read, each timed on its own; the ceiling is the fastest
WIDTHS = (np.uint32, np.uint64)
METHOD = (
    "STREAM-like read: numpy minimum.reduce over the array as uint32 and as uint64, N threads "
    f"on N contiguous slices at once, best of {READS} reads of each width"
)


def read_bytes(inputs: Any) -> np.ndarray:
    """The bytes a memory-bound kernel reads: its array over the inputs' range."""
    return inputs.args[0][inputs.lo : inputs.hi]


def read_gb_s(
    x: np.ndarray, threads: int = 1, reads: int = READS, widths: tuple[type, ...] = WIDTHS
) -> float:
    """The best GB/s (1e9 bytes a second) of ``reads`` reads of all of ``x`` by ``threads``
    threads at once, each reading one contiguous slice, per width in ``widths``."""
    raw = np.ascontiguousarray(x).reshape(-1).view(np.uint8)
    raw = raw[: raw.size - raw.size % 8]
    if threads < 1 or raw.size // 8 < threads:
        raise ValueError(f"cannot read {raw.size // 8} words with {threads} threads")
    bounds = [(raw.size // 8) * t // threads * 8 for t in range(threads + 1)]
    slices = [[raw[a:b].view(w) for w in widths] for a, b in itertools.pairwise(bounds)]
    start, done = threading.Barrier(threads + 1), threading.Barrier(threads + 1)

    def read(views: list[np.ndarray]) -> None:
        for _ in range(reads):
            for view in views:
                start.wait()
                np.minimum.reduce(view)
                done.wait()

    workers = [threading.Thread(target=read, args=(s,), daemon=True) for s in slices]
    for w in workers:
        w.start()
    best = float("inf")
    try:
        for _ in range(reads * len(widths)):
            start.wait()
            t0 = time.perf_counter()
            done.wait()
            best = min(best, time.perf_counter() - t0)
    finally:
        for w in workers:
            w.join()
    return raw.nbytes / best / 1e9


def ceiling(x: np.ndarray, thread_counts: Iterable[int]) -> dict[str, float] | None:
    """The read ceiling of ``x`` at each thread count (capped at this process's cores), keyed
    by the count as text (JSON keys); None when ``x`` is below :data:`MIN_BYTES`."""
    if x.nbytes < MIN_BYTES:
        return None
    counts = sorted({max(1, min(int(n), cores())) for n in thread_counts})
    return {str(n): read_gb_s(x, n) for n in counts}


def judge(cells: Iterable[Any], inputs: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
    """For ``gilfree compare``: each memory-bound cell's GB/s against the read ceiling of its
    own inputs, at its worker count (at most the cores). ``cells`` are ``CellResult``s;
    ``inputs`` maps (kernel, size) to the run's inputs. A cell's GB/s is from its best timed
    run, as the ceiling is the best of its reads."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for c in cells:
        if c.kernel in MEMORY_BOUND:
            groups.setdefault((c.kernel, c.size), []).append(c)
    out = []
    for (kernel, size), group in groups.items():
        x = read_bytes(inputs[kernel, size])
        limits = ceiling(x, [1, *(c.workers for c in group)])
        rows = []
        for c in group:
            best = min(c.wall_runs_s) if c.wall_runs_s else None
            gb_s = x.nbytes / best / 1e9 if best else None
            limit = None if limits is None else limits[str(max(1, min(c.workers, cores())))]
            rows.append(
                {
                    "variant": c.variant,
                    "runner": c.label,
                    "workers": c.workers,
                    "gb_s": gb_s,
                    "of_ceiling": None if gb_s is None or limit is None else gb_s / limit,
                }
            )
        note = None
        if limits is None:
            note = f"{x.nbytes / 1e6:.3g} MB: too small to time a read apart from starting threads"
        out.append(
            {
                "kernel": kernel,
                "size": size,
                "bytes": int(x.nbytes),
                "ceiling_gb_s": limits,
                "note": note,
                "cells": rows,
            }
        )
    return {"method": METHOD, "kernels": out}
