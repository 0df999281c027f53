"""Which statistic turns interleaved rounds into a speed-up: the measurement behind the choice.

    python benchmarks/statistic.py [--passes 10] [--repeat 3] [--kernel mandelbrot] [--workers 2]

Each pass is what ``gilfree compare`` does for one cell: one listened-free warm-up, then
``--repeat`` rounds interleaved with the serial baseline (``gilfree.harness.interleave``).
From the same runs it computes three statistics, and prints, over the passes, how each one
spreads and how far it strays from the worker count:

* ``best/best``: the baseline's best run over the cell's best run (what the harness uses);
* ``median of paired``: the median of the round-by-round ratios;
* ``median/median``: the baseline's median run over the cell's median run.

A statistic that reads lower in some passes is one that single stalls reach. Run it on a
quiet machine, and again with load beside it, to see which holds.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from gilfree.harness import KernelOnRunner, interleave
from gilfree.info import cores
from gilfree.kernels import get
from gilfree.runners import make_runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kernel", default="mandelbrot")
    parser.add_argument("--variant", default="nogil")
    parser.add_argument("--runner", default="threads")
    parser.add_argument("--workers", type=int, default=min(2, cores()))
    parser.add_argument("--size", default="default")
    args = parser.parse_args(argv)
    k = get(args.kernel)
    inputs = k.make_inputs(args.size)
    stats: dict[str, list[float]] = {"best/best": [], "median of paired": [], "median/median": []}
    with make_runner("serial") as serial, make_runner(args.runner, args.workers) as pool:
        base = KernelOnRunner(k, args.variant, serial).prepare(inputs)
        cell = KernelOnRunner(k, args.variant, pool).prepare(inputs)
        for _ in range(args.passes):
            s = interleave({"base": base, "cell": cell}, args.repeat, warmup=1)
            b, c = s["base"], s["cell"]
            paired = [x / y for x, y in zip(b.wall_s, c.wall_s, strict=True)]
            stats["best/best"].append(b.best_wall_s / c.best_wall_s)
            stats["median of paired"].append(statistics.median(paired))
            stats["median/median"].append(b.median_wall_s / c.median_wall_s)
    print(
        f"{args.kernel} {args.variant} {args.runner} x{args.workers} ({args.size}): "
        f"{args.passes} passes of {args.repeat} interleaved rounds"
    )
    print(f"{'statistic':18s} {'mean':>6s} {'min':>6s} {'max':>6s} {'stdev':>6s}  passes")
    for name, xs in stats.items():
        print(
            f"{name:18s} {statistics.mean(xs):6.3f} {min(xs):6.3f} {max(xs):6.3f} "
            f"{statistics.stdev(xs) if len(xs) > 1 else 0.0:6.3f}  " + " ".join(f"{x:.2f}" for x in xs)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
