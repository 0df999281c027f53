"""Speed-up of the thread and process runners over serial, against the runner issue's targets.

    python benchmarks/runners_speedup.py [--workers 2] [--repeat 5] [--size default] [--json FILE]

In one process run, with ``default`` sizes, on ``mandelbrot``, ``integrate``, ``pairwise``
and ``primes``:

- nogil + threads vs serial nogil: target >= 1.85x at 2 workers (the GIL is released);
- gil + threads vs serial gil: target <= 1.1x (the GIL serialises the chunks);
- nogil + processes (fork, shm) vs serial nogil: target >= 1.7x.

Each time is the best of ``--repeat`` runs, the contenders interleaved run by run (serial,
threads, ..., serial, threads, ...) so that a change in machine load hits every side. The pools
are started before any timing, and ``Result.wall_s`` excludes start-up. The first run of each
contender is checked against the reference. Exit status 1 if a target is missed. Not a test:
its verdicts are about this machine, and need it quiet.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

from gilfree.info import collect
from gilfree.kernels import REGISTRY, SIZES
from gilfree.runners import make_runner

KERNELS = ("mandelbrot", "integrate", "pairwise", "primes")
#: (label, variant, runner name, how the ratio must compare to the target, target)
COMPARISONS = (
    ("nogil: threads", "nogil", "threads", ">=", 1.85),
    ("gil: threads", "gil", "threads", "<=", 1.10),
    ("nogil: processes", "nogil", "processes", ">=", 1.70),
)


@dataclass
class Row:
    kernel: str
    comparison: str
    serial_s: float
    parallel_s: float
    speedup: float
    target: str
    passed: bool


def measure(workers: int, repeat: int, size: str, kernels: list[str]) -> list[Row]:
    runners = {
        "serial": make_runner("serial", 1),
        "threads": make_runner("threads", workers),
        "processes": make_runner("processes", workers, start_method="fork", transport="shm"),
    }
    rows = []
    try:
        for r in runners.values():
            r.start()  # pools up before any timing
        for name in kernels:
            k = REGISTRY[name]
            inputs = k.make_inputs(size)
            contenders = {(c[1], runner) for c in COMPARISONS for runner in ("serial", c[2])}
            best = dict.fromkeys(sorted(contenders), float("inf"))
            for rep in range(repeat):
                for variant, runner in best:
                    result = runners[runner].run(k, variant, inputs, check=rep == 0)
                    if rep == 0 and not result.matched:
                        raise SystemExit(f"{name} {variant} on {runner} does not match the reference")
                    best[variant, runner] = min(best[variant, runner], result.wall_s)
            for label, variant, parallel, op, target in COMPARISONS:
                serial_s, parallel_s = best[variant, "serial"], best[variant, parallel]
                ratio = serial_s / parallel_s
                passed = ratio >= target if op == ">=" else ratio <= target
                rows.append(Row(name, label, serial_s, parallel_s, ratio, f"{op} {target:.2f}x", passed))
            print(f"measured {name}", file=sys.stderr)
    finally:
        for r in runners.values():
            r.close()
    return rows


def render(rows: list[Row], workers: int, size: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"speed-up over serial (same variant), {workers} workers, size {size}, best of runs",
        caption="processes: fork, shm transport; start-up excluded everywhere",
    )
    for col in ("kernel", "variant: runner", "serial", "parallel", "speed-up", "target", "verdict"):
        table.add_column(col, justify="right" if col in ("serial", "parallel", "speed-up") else "left")
    for r in rows:
        table.add_row(
            r.kernel,
            r.comparison,
            f"{r.serial_s * 1e3:.1f} ms",
            f"{r.parallel_s * 1e3:.1f} ms",
            f"{r.speedup:.2f}x",
            r.target,
            "[green]PASS[/]" if r.passed else "[red]MISS[/]",
        )
    Console(width=max(100, Console().width)).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="runs per contender; the best counts")
    parser.add_argument("--size", default="default", choices=SIZES)
    parser.add_argument("--kernels", default=",".join(KERNELS), help="comma-separated kernel names")
    parser.add_argument("--json", metavar="FILE", help="also write the rows and machine facts as JSON")
    args = parser.parse_args(argv)
    kernels = [k for k in args.kernels.split(",") if k]
    unknown = [k for k in kernels if k not in REGISTRY]
    if unknown:
        parser.error(f"unknown kernel(s): {', '.join(unknown)}")
    rows = measure(args.workers, args.repeat, args.size, kernels)
    render(rows, args.workers, args.size)
    if args.json:
        facts = collect()
        facts.pop("kernels", None)
        with open(args.json, "w") as f:
            json.dump({"machine": facts, "rows": [asdict(r) for r in rows]}, f, indent=2)
    missed = [r for r in rows if not r.passed]
    print(f"{len(rows) - len(missed)} of {len(rows)} targets met", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
