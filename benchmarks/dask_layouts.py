"""nogil mandelbrot on Dask LocalClusters of different layouts, against the same kernel serial.

    python benchmarks/dask_layouts.py                      # 1x2 and 2x1 at size default
    python benchmarks/dask_layouts.py --layouts 1x2,2x1,2x2 --repeat 7 --size large

Prints, for each layout (processes x threads), the best wall time of ``--repeat`` runs on a
warm cluster (start-up excluded, reported apart) and the speed-up over serial nogil. The
target from the issue: 1 x 2 reaches at least 1.7x on a quiet 2-core machine. Needs the
``dask`` extra.
"""

from __future__ import annotations

import argparse
import sys
import time

from gilfree.kernels import get
from gilfree.runners import make_runner
from gilfree.runners.layouts import parse_layouts


def best_of(runner, kernel, inputs, repeat: int) -> float:
    """Best wall time of ``repeat`` checked runs (the first, which warms the workers, is extra)."""
    runner.run(kernel, "nogil", inputs)
    times = []
    for _ in range(repeat):
        result = runner.run(kernel, "nogil", inputs)
        if not result.matched:
            raise SystemExit(f"{runner!r} gave a wrong result")
        times.append(result.wall_s)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", default="mandelbrot")
    parser.add_argument("--size", default="default")
    parser.add_argument("--layouts", default="1x2,2x1", help="PROCESSESxTHREADS,... (default 1x2,2x1)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--schedule", default="static", choices=("static", "dynamic"))
    args = parser.parse_args(argv)

    kernel = get(args.kernel)
    inputs = kernel.make_inputs(args.size)
    kernel.reference(inputs)  # computed once, outside every timing
    with make_runner("serial") as serial:
        base = best_of(serial, kernel, inputs, args.repeat)
    print(f"{kernel.name} nogil, size {args.size}, best of {args.repeat}")
    print(f"{'runner':<22}{'best s':>9}{'speed-up':>10}{'start-up s':>12}")
    print(f"{'serial':<22}{base:>9.4f}{1.0:>10.2f}{'':>12}")
    layouts = parse_layouts(args.layouts)
    for total in sorted({p * t for p, t in layouts}):  # threads in one process: the figure to reach
        with make_runner("threads", total, schedule=args.schedule) as threads:
            best = best_of(threads, kernel, inputs, args.repeat)
        print(f"{f'threads x {total}':<22}{best:>9.4f}{base / best:>10.2f}{'':>12}")
    for p, t in layouts:
        with make_runner("dask", n_workers=p, threads_per_worker=t, schedule=args.schedule) as dask:
            best = best_of(dask, kernel, inputs, args.repeat)
            startup = dask.startup_s
        print(f"{f'dask {p} x {t}':<22}{best:>9.4f}{base / best:>10.2f}{startup:>12.2f}")
    return 0


if __name__ == "__main__":  # the guard Dask's spawned worker processes need
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.1f} s in all)", file=sys.stderr)
    sys.exit(code)
