"""A pure-Python function: bytecode that holds the GIL, handing it over every switch interval.

    gilfree compare --workload examples.pure_python:workload

Counting primes below 600,000 by trial division, in 64 ranges, one call each. On a GIL build
two threads take turns; two processes each have their own interpreter and GIL. The check is
gilfree's compiled prime counter over the same range.
"""

from __future__ import annotations

from gilfree import Workload
from gilfree.kernels import primes


def count_primes(bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    count = 0
    for n in range(max(lo, 2), hi):
        if n % 2 == 0:
            count += n == 2
            continue
        d = 3
        while d * d <= n:
            if n % d == 0:
                break
            d += 2
        else:
            count += 1
    return count


class Counted:
    """The check: the ranges' counts add up to the compiled kernel's count (untimed)."""

    def __init__(self, hi: int) -> None:
        self.expected = primes.nogil(0, hi)

    def __call__(self, result: int) -> bool:
        return result == self.expected


def workload(below: int = 600_000, ranges: int = 64) -> Workload:
    bounds = [(below * k // ranges, below * (k + 1) // ranges) for k in range(ranges)]
    # Ranges higher up cost more (longer trial divisions): 8 chunks a worker, handed to
    # whichever worker is free, keep the workers busy alike.
    return Workload.map(
        count_primes,
        bounds,
        combine=sum,
        check=Counted(below),
        chunks_per_worker=8,
        name="python primes",
    )
