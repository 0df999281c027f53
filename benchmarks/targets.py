"""Measure gilfree against its performance targets, in one process run; exit 1 if one is missed.

    python benchmarks/targets.py [--repeat 7] [--json FILE]

Every figure is a ratio of two timings taken here by the harness (``gilfree.harness``): the
contenders in interleaved rounds, so that a change in machine load hits both sides, and the
ratio of their best runs, with the spread of the round-by-round ratios printed beside it.
Needs the ``bench`` extra (numba, joblib, threadpoolctl). Not part of CI: it needs a quiet
machine, and its verdicts are about this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from threadpoolctl import threadpool_limits

from gilfree import peers
from gilfree.harness import Ratio, Series, calls, dispatch_cost, interleave, ratio, runs_inline
from gilfree.info import cores
from gilfree.kernels import REGISTRY
from gilfree.runners import make_runner

COMPUTE_BOUND = ("mandelbrot", "integrate", "pairwise", "primes")


@dataclass
class Check:
    name: str
    figure: float
    target: str
    passed: bool
    detail: str = ""
    #: the round-by-round ratios' [lowest, highest], in the figure's own terms
    spread: tuple[float, float] | None = None


def timed(funcs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, Series]:
    """Each callable's series, the callables in interleaved rounds after one warm-up each."""
    return interleave(calls(funcs), repeat, warmup=1, check=False)


def best(series: dict[str, Series]) -> dict[str, float]:
    return {name: s.best_wall_s for name, s in series.items()}


def scaled(r: Ratio, factor: float = 1.0, invert: bool = False) -> tuple[float, tuple[float, float]]:
    """A ratio's value and spread, divided by ``factor`` (efficiency) or inverted (a time ratio)."""
    if invert:
        return 1 / r.value, (1 / r.high, 1 / r.low)
    return r.value / factor, (r.low / factor, r.high / factor)


def efficiency_and_openmp(workers: int, repeat: int) -> list[Check]:
    checks = []
    with make_runner("serial") as serial, make_runner("threads", workers) as threads:
        for name in COMPUTE_BOUND:
            k = REGISTRY[name]
            inputs = k.make_inputs("default")
            chunks = k.split(inputs, workers)
            funcs = {
                "serial": lambda: serial.run(k, "nogil", inputs, check=False),
                "threads": lambda: threads.run(k, "nogil", inputs, chunks, check=False),
            }
            if "openmp" in k.variants:
                funcs["openmp"] = lambda: k.openmp(*inputs.whole(), num_threads=workers)
            series = timed(funcs, repeat)
            t = best(series)
            eff, spread = scaled(ratio(series["serial"], series["threads"]), workers)
            checks.append(
                Check(
                    f"efficiency nogil+threads x{workers} {name}",
                    eff,
                    ">= 0.97",
                    eff >= 0.97,
                    f"serial {t['serial'] * 1e3:.1f} ms, threads {t['threads'] * 1e3:.1f} ms",
                    spread,
                )
            )
            if "openmp" in t:
                value, spread = scaled(ratio(series["openmp"], series["threads"]), invert=True)
                checks.append(
                    Check(
                        f"nogil+threads / openmp x{workers} {name}",
                        value,
                        "<= 1.05",
                        value <= 1.05,
                        f"openmp {t['openmp'] * 1e3:.1f} ms",
                        spread,
                    )
                )
    return checks


def against_numba(repeat: int) -> list[Check]:
    if not peers.available("numba"):
        return [Check("nogil serial / numba njit", float("nan"), "<= 1.05", False, peers.MISSING["numba"])]
    checks = []
    nk = peers.numba_kernels()
    for name in ("mandelbrot", "integrate", "pairwise"):
        k = REGISTRY[name]
        inputs = k.make_inputs("default")
        f = nk[name]["njit"]
        f(*inputs.whole())  # compile outside the timing
        whole = inputs.whole()
        series = timed({"gilfree": lambda: k.nogil(*whole), "numba": lambda: f(*whole)}, repeat)
        t = best(series)
        value, spread = scaled(ratio(series["numba"], series["gilfree"]), invert=True)
        checks.append(
            Check(
                f"nogil serial / numba njit {name}",
                value,
                "<= 1.05",
                value <= 1.05,
                f"gilfree {t['gilfree'] * 1e3:.1f} ms, numba {t['numba'] * 1e3:.1f} ms",
                spread,
            )
        )
    return checks


def bandwidth(workers: int, repeat: int) -> list[Check]:
    k = REGISTRY["sum_squares"]
    inputs = k.make_inputs("large")
    x = inputs.args[0]
    # Not interleaved run by run, unlike the other checks: OpenBLAS's threads spin for a while
    # after each call and would take the cores from a gilfree run right after one. So each side
    # runs in blocks of its own, the blocks alternate, and BLAS gets a pause to park its threads.
    t = {"gilfree": float("inf"), "blas": float("inf")}
    with make_runner("threads", workers) as threads, threadpool_limits(workers):
        chunks = k.split(inputs, workers)
        for _ in range(3):
            g = best(timed({"gilfree": lambda: threads.run(k, "nogil", inputs, chunks, check=False)}, repeat))
            b = best(timed({"blas": lambda: x @ x}, repeat))
            time.sleep(0.5)
            t = {"gilfree": min(t["gilfree"], g["gilfree"]), "blas": min(t["blas"], b["blas"])}
    gbs = {key: x.nbytes / v / 1e9 for key, v in t.items()}
    share = gbs["gilfree"] / gbs["blas"]
    return [
        Check(
            f"sum_squares 1e8 read bandwidth vs a @ a, x{workers}",
            share,
            ">= 0.90",
            share >= 0.90,
            f"gilfree {gbs['gilfree']:.1f} GB/s, OpenBLAS ddot {gbs['blas']:.1f} GB/s",
        )
    ]


def dispatch(workers: int, repeat: int) -> list[Check]:
    def noop(*_args: Any, cancel: Any = None) -> None:
        return None

    checks = []
    with make_runner("threads", workers) as threads, make_runner("serial") as serial:
        batch = [()] * 2000
        per_chunk = best(timed({"b": lambda: threads.map(noop, batch)}, repeat))["b"] / len(batch)
        checks.append(
            Check(
                "thread dispatch per chunk (warm, batched)", per_chunk * 1e6, "<= 15 us", per_chunk <= 15e-6
            )
        )
        worst = 0.0
        detail = []
        for name, k in REGISTRY.items():
            inputs = k.make_inputs("tiny")
            if not runs_inline(k.estimate_s(inputs), dispatch_cost(threads, threads.n_chunks())):
                continue
            series = timed(
                {
                    "serial": lambda: serial.run(k, "nogil", inputs, check=False),
                    "threads": lambda: threads.run(k, "nogil", inputs, check=False),
                },
                repeat * 20,
            )
            speed = ratio(series["serial"], series["threads"]).value
            worst = max(worst, 1 / speed)
            detail.append(f"{name} {speed:.2f}x")
        checks.append(
            Check(
                "under the threshold: threads vs serial, worst",
                1 / worst if worst else 1.0,
                ">= 0.95x",
                worst <= 1 / 0.95,
                ", ".join(detail),
            )
        )
    return checks


def against_joblib(workers: int, repeat: int) -> list[Check]:
    if not peers.available("joblib"):
        return [
            Check("threads runner vs joblib threads", float("nan"), "<= 1.00", False, peers.MISSING["joblib"])
        ]
    checks = []
    with make_runner("threads", workers) as threads, contextlib.ExitStack() as stack:
        for name in COMPUTE_BOUND:
            k = REGISTRY[name]
            inputs = k.make_inputs("default")
            chunks = k.split(inputs, workers)
            joblib = peers.get("joblib-threads").build(k, inputs, workers, stack)
            series = timed(
                {
                    "gilfree": lambda: k.combine([o.value for o in threads.map(k.nogil, chunks)]),
                    "joblib": joblib,
                },
                repeat,
            )
            t = best(series)
            value, spread = scaled(ratio(series["joblib"], series["gilfree"]), invert=True)
            checks.append(
                Check(
                    f"threads runner / joblib threads {name}",
                    value,
                    "<= 1.00",
                    value <= 1.0,
                    f"gilfree {t['gilfree'] * 1e3:.2f} ms, joblib {t['joblib'] * 1e3:.2f} ms",
                    spread,
                )
            )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds (best of each side)")
    parser.add_argument("--workers", type=int, default=min(2, cores()))
    parser.add_argument("--json", metavar="FILE", help="write the checks as JSON")
    args = parser.parse_args(argv)
    np.random.seed(0)
    checks: list[Check] = []
    for step in (
        lambda: efficiency_and_openmp(args.workers, args.repeat),
        lambda: against_numba(args.repeat),
        lambda: bandwidth(args.workers, args.repeat),
        lambda: dispatch(args.workers, args.repeat),
        lambda: against_joblib(args.workers, args.repeat),
    ):
        for c in step():
            checks.append(c)
            mark = "PASS" if c.passed else "MISS"
            spread = f"[{c.spread[0]:.3f}-{c.spread[1]:.3f}]" if c.spread else ""
            print(
                f"{mark}  {c.name:48s} {c.figure:8.3f} {spread:15s} target {c.target:9s} {c.detail}",
                flush=True,
            )
    missed = [c for c in checks if not c.passed]
    print(f"\n{len(checks) - len(missed)} of {len(checks)} targets met on {cores()} cores")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(c) for c in checks], fh, indent=2)
    return 1 if missed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
