"""Each kernel against its contenders; extra_info carries speed-up, efficiency and GIL hold.

pytest-benchmark times the rounds of each contender's prepared call. The speed-up in
``extra_info`` is the harness's (``gilfree.harness.measure``): the contender in rounds
interleaved with its kernel's baseline, measured in the same test, so it does not depend on
which other tests ran or in what order.
"""

from __future__ import annotations

import contextlib

import pytest

from gilfree.benchmarks.contenders import by_id, contenders, size_of
from gilfree.harness import listen_to, measure
from gilfree.kernels import REGISTRY
from gilfree.probe import idle_baseline

_INPUTS: dict[tuple[str, str], object] = {}
_IDLE: list = []
#: Rounds of the interleaved speed-up measurement (each also runs the baseline once).
SPEEDUP_ROUNDS = 3


def _inputs(kernel: str):
    key = (kernel, size_of(kernel))
    if key not in _INPUTS:
        _INPUTS[key] = REGISTRY[kernel].make_inputs(key[1])
    return _INPUTS[key]


def test_kernel(benchmark, contender):
    row = by_id(contender)
    reason = row.missing
    if reason:
        pytest.skip(reason)
    benchmark.group = row.kernel
    inputs = _inputs(row.kernel)
    if not _IDLE:
        _IDLE.append(idle_baseline())
    baseline_row = next(c for c in contenders(row.kernel) if c.baseline)
    with contextlib.ExitStack() as stack:
        prepared = row.prepare(inputs, stack)
        benchmark.pedantic(prepared.call, setup=prepared.reset, rounds=5, iterations=1, warmup_rounds=1)
        heard = listen_to(prepared, _IDLE[0])
        speedup = efficiency = spread = None
        if not row.baseline:
            base = baseline_row.prepare(inputs, stack)
            m = measure(prepared, base, repeat=SPEEDUP_ROUNDS, warmup=0, workers=row.workers)
            assert m.speedup is not None
            speedup, spread = m.speedup.value, [m.speedup.low, m.speedup.high]
            efficiency = speedup / row.workers
        else:
            speedup, efficiency = 1.0, 1.0
    benchmark.extra_info.update(
        {
            "size": size_of(row.kernel),
            "workers": row.workers,
            "variant": row.variant,
            "runner": row.runner,
            "speedup": speedup,
            "speedup_range": spread,
            "efficiency": efficiency,
            "gil_p99_ms": heard.hold.p99_ms,
            "gil_blocked_fraction": heard.hold.blocked_fraction,
            "gil_verdict": heard.verdict,
            "matched": heard.matched,
        }
    )
