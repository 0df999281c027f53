"""Each kernel against its contenders; extra_info carries speed-up, efficiency and GIL hold."""

from __future__ import annotations

import contextlib

import pytest

from gilfree.kernels import REGISTRY
from gilfree.probe import Heartbeat

_INPUTS: dict[str, object] = {}
_BASELINE_S: dict[str, float] = {}


def _inputs(kernel: str):
    if kernel not in _INPUTS:
        _INPUTS[kernel] = REGISTRY[kernel].make_inputs("large" if kernel == "sum_squares" else "default")
    return _INPUTS[kernel]


def test_kernel(benchmark, contender):
    reason = contender.missing
    if reason:
        pytest.skip(reason)
    benchmark.group = contender.kernel
    inputs = _inputs(contender.kernel)
    with contextlib.ExitStack() as stack:
        call = contender.prepare(inputs, stack)
        benchmark.pedantic(call, rounds=5, iterations=1, warmup_rounds=1)
        with Heartbeat() as hb:
            call()
        hold = hb.result()
    median = benchmark.stats.stats.median
    if contender.baseline:
        _BASELINE_S[contender.kernel] = median
    base = _BASELINE_S.get(contender.kernel)
    speedup = base / median if base else None
    benchmark.extra_info.update(
        {
            "workers": contender.workers,
            "variant": contender.variant,
            "runner": contender.runner,
            "speedup": speedup,
            "efficiency": speedup / contender.workers if speedup else None,
            "gil_p99_ms": hold.p99_ms,
            "gil_blocked_fraction": hold.blocked_fraction,
        }
    )
