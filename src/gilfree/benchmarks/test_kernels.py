"""Each kernel against its contenders; extra_info carries speed-up, efficiency and GIL hold.

pytest-benchmark times the rounds of each contender's prepared call, and its own options
govern them (``--benchmark-min-rounds``, ``--benchmark-max-time``, ``--benchmark-warmup``,
``--benchmark-disable``, ...):

* A kernel that only returns values is timed with ``benchmark(call)``: pytest-benchmark
  calibrates, warms up and chooses the rounds as it does for any test.
* A kernel that writes an output in place (``mandelbrot``) must have it poisoned before
  every round, untimed, so that the round is known to have written it: only
  ``benchmark.pedantic(setup=...)`` runs something untimed before each round, and pedantic
  takes fixed rounds and one iteration. So the rounds are what pytest-benchmark itself would
  choose (:func:`pedantic_rounds`: ``--benchmark-max-time`` over one run's time, at least
  ``--benchmark-min-rounds``; ``--benchmark-warmup`` as warm-up rounds); options about
  iterations (``--benchmark-min-time``, ``--benchmark-calibration-precision``) and
  ``--benchmark-precision`` do not apply to it.

The speed-up in ``extra_info`` is the harness's (``gilfree.harness.measure``): the contender
in rounds interleaved with its kernel's baseline, measured in the same test, so it does not
depend on which other tests ran or in what order.
"""

from __future__ import annotations

import contextlib
import math
import time

import pytest

from gilfree.benchmarks.contenders import by_id, contenders, size_of
from gilfree.harness import Prepared, listen_to, measure
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


def pedantic_rounds(config: pytest.Config, run_s: float) -> tuple[int, int]:
    """(rounds, warm-up rounds) for ``benchmark.pedantic``, chosen as pytest-benchmark's own
    ``benchmark(...)`` chooses them from its options for a run of ``run_s`` seconds."""
    min_rounds = int(config.getoption("benchmark_min_rounds"))
    max_time = float(config.getoption("benchmark_max_time"))
    rounds = max(min_rounds, math.ceil(max_time / run_s) if run_s > 0 else min_rounds, 1)
    warmup = config.getoption("benchmark_warmup") and config.getoption("benchmark_warmup_iterations")
    return rounds, min(rounds, max(1, int(warmup))) if warmup else 0


def _time(benchmark, request: pytest.FixtureRequest, prepared: Prepared, writes_outputs: bool) -> None:
    if not writes_outputs:
        benchmark(prepared.call)
        return
    rounds, warmup = 1, 0
    if benchmark.enabled:
        prepared.reset()  # one run, as pytest-benchmark's calibration makes, for its length
        t0 = time.perf_counter()
        prepared.call()
        rounds, warmup = pedantic_rounds(request.config, time.perf_counter() - t0)
    benchmark.pedantic(prepared.call, setup=prepared.reset, rounds=rounds, warmup_rounds=warmup, iterations=1)


def test_kernel(benchmark, request, contender):
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
        _time(benchmark, request, prepared, bool(REGISTRY[row.kernel].outputs))
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
