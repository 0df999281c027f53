"""Per-chunk dispatch overhead of the thread runner on a warm pool, in microseconds.

    python benchmarks/dispatch.py [--workers 2] [--chunks 20000] [--trips 2000] [--repeat 5]
                                  [--processes] [--json FILE]

Two figures, with a chunk that does nothing (so all that is timed is the handing over):

- **batched**: one ``map`` of ``--chunks`` empty chunks; the wall time divided by the chunk
  count, i.e. what each extra chunk costs when many are queued at once;
- **round trip**: ``--trips`` calls of ``map`` with one empty chunk each; the wall time per
  call, i.e. hand one chunk to a sleeping worker, wake it, and wait for it to finish.

The same two figures for ``concurrent.futures.ThreadPoolExecutor`` are the yardstick (DESIGN.md:
14 us batched, 40 us round trip on the reference machine), and, with ``--processes``, for the
processes runner (fork, shm; a fork pool measured 73-200 us there). The issue's target is at
most 20 us per chunk on a warm thread pool. Pools are started and warmed before timing; each
figure is the best of ``--repeat``. Exit status 1 if the thread runner misses the target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gilfree.info import collect
from gilfree.runners import make_runner

TARGET_US = 20.0


def nothing(cancel: Any = None) -> None:
    """An empty chunk: module-level so that worker processes can unpickle it."""
    return None


def best_us(run: Callable[[], None], per: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best / per * 1e6


def figures(batched: Callable[[], None], round_trips: Callable[[], None], chunks, trips, repeat) -> dict:
    return {
        "batched_us": best_us(batched, chunks, repeat),
        "round_trip_us": best_us(round_trips, trips, repeat),
    }


def runner_figures(name: str, workers: int, chunks: int, trips: int, repeat: int, **options) -> dict:
    empty = [()] * chunks
    with make_runner(name, workers, **options) as r:
        r.map(nothing, empty[: 100 * workers])  # warm: threads started, code paths hot

        def batched() -> None:
            r.map(nothing, empty)

        def round_trips() -> None:
            for _ in range(trips):
                r.map(nothing, [()])

        return figures(batched, round_trips, chunks, trips, repeat)


def executor_figures(workers: int, chunks: int, trips: int, repeat: int) -> dict:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(nothing, [None] * (100 * workers)))

        def batched() -> None:
            list(pool.map(nothing, [None] * chunks))

        def round_trips() -> None:
            for _ in range(trips):
                pool.submit(nothing).result()

        return figures(batched, round_trips, chunks, trips, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunks", type=int, default=20_000, help="chunks in the batched map")
    parser.add_argument("--trips", type=int, default=2_000, help="one-chunk maps for the round trip")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--processes", action="store_true", help="also measure the processes runner")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    rows = {
        "gilfree threads": runner_figures("threads", args.workers, args.chunks, args.trips, args.repeat),
        "ThreadPoolExecutor": executor_figures(args.workers, args.chunks, args.trips, args.repeat),
    }
    if args.processes:  # far slower per chunk: fewer of them
        rows["gilfree processes (fork)"] = runner_figures(
            "processes", args.workers, args.chunks // 10, args.trips // 10, args.repeat, start_method="fork"
        )

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"per-chunk dispatch overhead, warm pool of {args.workers}, best of {args.repeat}")
    for col in ("pool", "batched", "round trip", f"threads, batched <= {TARGET_US:.0f} us"):
        table.add_column(col, justify="right" if col != "pool" else "left")
    passed = True
    for name, f in rows.items():
        verdict = ""
        if name == "gilfree threads":
            ok = f["batched_us"] <= TARGET_US
            passed = ok
            verdict = "[green]PASS[/]" if ok else "[red]MISS[/]"
        table.add_row(name, f"{f['batched_us']:.1f} us", f"{f['round_trip_us']:.1f} us", verdict)
    Console(width=max(100, Console().width)).print(table)
    if args.json:
        facts = collect()
        facts.pop("kernels", None)
        with open(args.json, "w") as fh:
            json.dump({"machine": facts, "workers": args.workers, "figures": rows}, fh, indent=2)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
