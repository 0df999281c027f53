"""nogil mandelbrot on Dask LocalClusters of different layouts, against the same kernel serial.

    python benchmarks/dask_layouts.py                      # 1x2 and 2x1 at size default
    python benchmarks/dask_layouts.py --layouts 1x2,2x1,2x2 --repeat 7 --size large

Prints, for each layout (processes x threads), the best and median wall time of ``--repeat``
runs on a warm cluster (start-up excluded, reported apart), next to serial and to threads in
one process, the speed-up of the best over serial's best, and the best time of a run at size
``tiny``: what each run costs apart from the work (for Dask: scatter, futures, results). The
target from the issue: 1 x 2 reaches at least 1.7x on a quiet 2-core machine. Needs the
``dask`` extra.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from gilfree.kernels import get
from gilfree.runners import make_runner
from gilfree.runners.layouts import parse_layouts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", default="mandelbrot")
    parser.add_argument("--size", default="default")
    parser.add_argument("--layouts", default="1x2,2x1", help="PROCESSESxTHREADS,... (default 1x2,2x1)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--schedule", default="static", choices=("static", "dynamic"))
    args = parser.parse_args(argv)

    kernel = get(args.kernel)
    inputs = kernel.make_inputs(args.size)
    kernel.reference(inputs)  # computed once, outside every timing
    layouts = parse_layouts(args.layouts)
    runners = {"serial": make_runner("serial")}
    for total in sorted({p * t for p, t in layouts}):  # threads in one process: the figure to reach
        runners[f"threads x {total}"] = make_runner("threads", total, schedule=args.schedule)
    for p, t in layouts:
        runners[f"dask {p} x {t}"] = make_runner(
            "dask", n_workers=p, threads_per_worker=t, schedule=args.schedule, scheduler="local"
        )
    times: dict[str, list[float]] = {name: [] for name in runners}
    tiny = kernel.make_inputs("tiny")
    fixed: dict[str, list[float]] = {name: [] for name in runners}
    try:
        for r in runners.values():
            r.start()
            r.run(kernel, "nogil", inputs)  # warm: first-call costs are not the figure
        # Rounds, each runner once per round: on a shared machine, load that comes and goes
        # then hits every runner alike instead of whichever ran during it.
        for _ in range(args.repeat):
            for name, r in runners.items():
                result = r.run(kernel, "nogil", inputs)
                if not result.matched:
                    raise SystemExit(f"{name} gave a wrong result")
                times[name].append(result.wall_s)
                # The same kernel at size tiny: what a run costs apart from the work itself.
                fixed[name].append(r.run(kernel, "nogil", tiny, check=False).wall_s)
        print(f"{kernel.name} nogil, size {args.size}, best of {args.repeat} interleaved rounds")
        head = f"{'runner':<16}{'best s':>9}{'median s':>10}{'speed-up':>10}"
        print(f"{head}{'tiny run ms':>13}{'start-up s':>12}")
        base = min(times["serial"])
        for name, r in runners.items():
            best, med = min(times[name]), statistics.median(times[name])
            startup = f"{r.startup_s:.2f}" if name.startswith("dask") else ""
            print(
                f"{name:<16}{best:>9.4f}{med:>10.4f}{base / best:>10.2f}"
                f"{min(fixed[name]) * 1e3:>13.1f}{startup:>12}"
            )
    finally:
        for r in runners.values():
            r.close()
    return 0


if __name__ == "__main__":  # the guard Dask's spawned worker processes need
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.1f} s in all)", file=sys.stderr)
    sys.exit(code)
