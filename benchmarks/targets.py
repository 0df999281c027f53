"""Measure gilfree against its performance targets, in one process run; exit 1 if one is missed.

    python benchmarks/targets.py [--repeat 7] [--json FILE]

Every figure is a ratio of two timings taken here, interleaved (A, B, A, B, ...) so that a
change in machine load hits both sides; each side's time is its best of ``--repeat`` runs.
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
from gilfree.info import cores
from gilfree.kernels import REGISTRY
from gilfree.runners import make_runner
from gilfree.runners.threads import SERIAL_THRESHOLD_S

COMPUTE_BOUND = ("mandelbrot", "integrate", "pairwise", "primes")


@dataclass
class Check:
    name: str
    figure: float
    target: str
    passed: bool
    detail: str = ""


def best_of(calls: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Each callable's best time, the callables interleaved run by run."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeat):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def efficiency_and_openmp(workers: int, repeat: int) -> list[Check]:
    checks = []
    with make_runner("serial") as serial, make_runner("threads", workers) as threads:
        for name in COMPUTE_BOUND:
            k = REGISTRY[name]
            inputs = k.make_inputs("default")
            chunks = k.split(inputs, workers)
            calls = {
                "serial": lambda: serial.run(k, "nogil", inputs, check=False),
                "threads": lambda: threads.run(k, "nogil", inputs, chunks, check=False),
            }
            if "openmp" in k.variants:
                calls["openmp"] = lambda: k.openmp(*inputs.whole(), num_threads=workers)
            t = best_of(calls, repeat)
            eff = t["serial"] / t["threads"] / workers
            checks.append(
                Check(
                    f"efficiency nogil+threads x{workers} {name}",
                    eff,
                    ">= 0.97",
                    eff >= 0.97,
                    f"serial {t['serial'] * 1e3:.1f} ms, threads {t['threads'] * 1e3:.1f} ms",
                )
            )
            if "openmp" in t:
                ratio = t["threads"] / t["openmp"]
                checks.append(
                    Check(
                        f"nogil+threads / openmp x{workers} {name}",
                        ratio,
                        "<= 1.05",
                        ratio <= 1.05,
                        f"openmp {t['openmp'] * 1e3:.1f} ms",
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
        t = best_of(
            {"gilfree": lambda: k.nogil(*inputs.whole()), "numba": lambda: f(*inputs.whole())}, repeat
        )
        ratio = t["gilfree"] / t["numba"]
        checks.append(
            Check(
                f"nogil serial / numba njit {name}",
                ratio,
                "<= 1.05",
                ratio <= 1.05,
                f"gilfree {t['gilfree'] * 1e3:.1f} ms, numba {t['numba'] * 1e3:.1f} ms",
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
            g = best_of({"gilfree": lambda: threads.run(k, "nogil", inputs, chunks, check=False)}, repeat)
            b = best_of({"blas": lambda: x @ x}, repeat)
            time.sleep(0.5)
            t = {"gilfree": min(t["gilfree"], g["gilfree"]), "blas": min(t["blas"], b["blas"])}
    gbs = {key: x.nbytes / v / 1e9 for key, v in t.items()}
    ratio = gbs["gilfree"] / gbs["blas"]
    return [
        Check(
            f"sum_squares 1e8 read bandwidth vs a @ a, x{workers}",
            ratio,
            ">= 0.90",
            ratio >= 0.90,
            f"gilfree {gbs['gilfree']:.1f} GB/s, OpenBLAS ddot {gbs['blas']:.1f} GB/s",
        )
    ]


def dispatch(workers: int, repeat: int) -> list[Check]:
    def noop(*_args: Any, cancel: Any = None) -> None:
        return None

    checks = []
    with make_runner("threads", workers) as threads, make_runner("serial") as serial:
        batch = [()] * 2000
        threads.map(noop, batch)
        per_chunk = min(best_of({"b": lambda: threads.map(noop, batch)}, repeat).values()) / len(batch)
        checks.append(
            Check(
                "thread dispatch per chunk (warm, batched)", per_chunk * 1e6, "<= 15 us", per_chunk <= 15e-6
            )
        )
        worst = 0.0
        detail = []
        for name, k in REGISTRY.items():
            inputs = k.make_inputs("tiny")
            if k.estimate_s(inputs) >= SERIAL_THRESHOLD_S:
                continue
            t = best_of(
                {
                    "serial": lambda: serial.run(k, "nogil", inputs, check=False),
                    "threads": lambda: threads.run(k, "nogil", inputs, check=False),
                },
                repeat * 20,
            )
            speed = t["serial"] / t["threads"]
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
            t = best_of(
                {
                    "gilfree": lambda: k.combine([o.value for o in threads.map(k.nogil, chunks)]),
                    "joblib": joblib,
                },
                repeat,
            )
            ratio = t["gilfree"] / t["joblib"]
            checks.append(
                Check(
                    f"threads runner / joblib threads {name}",
                    ratio,
                    "<= 1.00",
                    ratio <= 1.0,
                    f"gilfree {t['gilfree'] * 1e3:.2f} ms, joblib {t['joblib'] * 1e3:.2f} ms",
                )
            )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="best of this many runs per side")
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
            print(f"{mark}  {c.name:48s} {c.figure:8.3f}  target {c.target:9s} {c.detail}", flush=True)
    missed = [c for c in checks if not c.passed]
    print(f"\n{len(checks) - len(missed)} of {len(checks)} targets met on {cores()} cores")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(c) for c in checks], fh, indent=2)
    return 1 if missed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
