"""pytest-benchmark suite: one group per kernel, contenders from one table (as cbor2 does).

Run: ``pytest benchmarks/ --benchmark-only`` (needs ``pip install -e ".[bench]"``).
Pool start-up and Numba's compilation happen in the fixture, outside the timed region;
each contender gets a warm-up round before its timed rounds.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the benchmarks' own helper modules

from contenders import contenders

from gilfree.kernels import REGISTRY

#: ``GILFREE_BENCH_KERNELS=mandelbrot,integrate`` narrows the suite.
KERNELS = [k for k in os.environ.get("GILFREE_BENCH_KERNELS", ",".join(REGISTRY)).split(",") if k]


def pytest_generate_tests(metafunc):
    if "contender" in metafunc.fixturenames:
        rows = [c for k in KERNELS for c in contenders(k)]
        metafunc.parametrize("contender", rows, ids=[f"{c.kernel}:{c.name}" for c in rows])
