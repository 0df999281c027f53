"""Each kernel against its contenders; extra_info carries speed-up, efficiency and GIL hold.

pytest-benchmark times the rounds of each contender's prepared call. The speed-up in
``extra_info`` is the harness's (``gilfree.harness.measure``): the contender in rounds
interleaved with its kernel's baseline, measured in the same test, so it does not depend on
which other tests ran or in what order.
"""

from __future__ import annotations

import contextlib

import pytest
from contenders import contenders

from gilfree.harness import listen_to, measure
from gilfree.kernels import REGISTRY
from gilfree.probe import idle_baseline

_INPUTS: dict[str, object] = {}
_IDLE: list = []
#: Rounds of the interleaved speed-up measurement (each also runs the baseline once).
SPEEDUP_ROUNDS = 3


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
    if not _IDLE:
        _IDLE.append(idle_baseline())
    baseline_row = next(c for c in contenders(contender.kernel) if c.baseline)
    with contextlib.ExitStack() as stack:
        prepared = contender.prepare(inputs, stack)
        benchmark.pedantic(prepared.call, setup=prepared.reset, rounds=5, iterations=1, warmup_rounds=1)
        heard = listen_to(prepared, _IDLE[0])
        speedup = efficiency = spread = None
        if not contender.baseline:
            base = baseline_row.prepare(inputs, stack)
            m = measure(prepared, base, repeat=SPEEDUP_ROUNDS, warmup=0, workers=contender.workers)
            assert m.speedup is not None
            speedup, spread = m.speedup.value, [m.speedup.low, m.speedup.high]
            efficiency = speedup / contender.workers
        else:
            speedup, efficiency = 1.0, 1.0
    benchmark.extra_info.update(
        {
            "workers": contender.workers,
            "variant": contender.variant,
            "runner": contender.runner,
            "speedup": speedup,
            "speedup_range": spread,
            "efficiency": efficiency,
            "gil_p99_ms": heard.hold.p99_ms,
            "gil_blocked_fraction": heard.hold.blocked_fraction,
            "gil_verdict": heard.verdict,
        }
    )
