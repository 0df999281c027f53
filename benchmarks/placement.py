"""What a run costs the processes runner apart from the work: placing the inputs in shared
memory and handing the chunks over, on a warm pool.

    python benchmarks/placement.py [--kernel sum_squares] [--size small] [--runs 200]

Runs the kernel's ``nogil`` variant through ``processes`` (2 workers, fork, shm) ``--runs``
times in a row, five times, and prints the best wall time and caller CPU time per run next to
the same kernel run serially. At ``sum_squares`` ``small`` (a 1.6 MB input, 0.07 ms of work)
nearly all of it is placement and dispatch.
"""

from __future__ import annotations

import argparse
import time

from gilfree.kernels import get
from gilfree.runners import make_runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", default="sum_squares")
    parser.add_argument("--size", default="small")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args(argv)
    kernel = get(args.kernel)
    inputs = kernel.make_inputs(args.size)
    chunks = kernel.split(inputs, 2)
    with make_runner("processes", 2, start_method="fork") as pool, make_runner("serial") as serial:
        for _ in range(20):  # warm: workers attached, code paths hot
            pool.map(kernel.nogil, chunks)
        best = []
        for _ in range(5):
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.runs):
                pool.map(kernel.nogil, chunks)
            best.append(((time.perf_counter() - w0) / args.runs, (time.process_time() - c0) / args.runs))
        wall, cpu = min(best)
        work = min(serial.run(kernel, "nogil", inputs, check=False).wall_s for _ in range(20))
    print(
        f"{kernel.name} {args.size}, processes x2: {wall * 1e3:.2f} ms a run, caller CPU {cpu * 1e3:.2f} ms "
        f"(serial run: {work * 1e3:.2f} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
