"""``gilfree.histogram`` against ``numpy.histogram`` on the same values, with the same result.

    python benchmarks/histogram_vs_numpy.py [--n 20000000] [--bins 64] [--workers 2] [--rounds 7]

Both get the same float64 array (standard normal, seed 0) and ``range=None``, so each finds
the range (min, max) itself; gilfree runs on a thread pool of ``--workers`` threads, started
once, outside the timing. The results are compared first (counts and edges must be equal),
then the two are timed in interleaved rounds by the harness (``gilfree.harness.interleave``),
and the ratio is the best NumPy run over the best gilfree run, flagged where the rounds
disagree (the statistics: ``gilfree.harness.timing``). The machine's load average is printed
too: on a shared machine, say so beside the figure.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import gilfree
from gilfree.harness import calls, interleave, ratio
from gilfree.runners import make_runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000_000)
    parser.add_argument("--bins", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    x = np.random.default_rng(0).standard_normal(args.n)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    with make_runner("threads", args.workers) as pool:
        mine, theirs = gilfree.histogram(x, args.bins, runner=pool), np.histogram(x, args.bins)
        same = np.array_equal(mine[0], theirs[0]) and np.array_equal(mine[1], theirs[1])
        series = interleave(
            calls(
                {
                    "numpy": lambda: np.histogram(x, args.bins),
                    "gilfree": lambda: gilfree.histogram(x, args.bins, runner=pool),
                }
            ),
            args.rounds,
        )
    r = ratio(series["numpy"], series["gilfree"])
    flags = f" [{', '.join(r.flags)}]" if r.flags else ""
    print(f"histogram of {args.n:,} float64, {args.bins} bins, range=None; equal to numpy.histogram: {same}")
    print(
        f"numpy.histogram {series['numpy'].best_wall_s * 1e3:.1f} ms, gilfree.histogram on "
        f"{args.workers} threads {series['gilfree'].best_wall_s * 1e3:.1f} ms (best of {args.rounds})"
    )
    print(f"gilfree / numpy: {r.value:.1f}x (round by round {r.low:.1f}x to {r.high:.1f}x){flags}")
    if load is not None:
        print(f"load average before the run: {load[0]:.2f} on {os.cpu_count()} cores")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
