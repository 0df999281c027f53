"""The GIL is really released by ``nogil`` and really held by ``gil``: a heartbeat thread tells.

Assertions are on counts of heartbeat ticks, not on seconds, so they hold on a noisy machine.
"""

from __future__ import annotations

import threading
import time

import pytest

from gilfree.kernels import REGISTRY, Cancelled, CancelToken

from .conftest import gil_enabled


class Heartbeat:
    """A Python thread that counts how often it gets to run, waking every millisecond."""

    def __init__(self) -> None:
        self.ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.ticks += 1
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _ticks_during(f, *args) -> tuple[int, float]:
    with Heartbeat() as hb:
        before = hb.ticks
        t0 = time.perf_counter()
        f(*args)
        elapsed = time.perf_counter() - t0
        return hb.ticks - before, elapsed


@pytest.mark.thread_unsafe(
    reason="counts a heartbeat's ticks per ms: copies at once measure CPU oversubscription, not the GIL"
)
@pytest.mark.parametrize("name", ["mandelbrot", "integrate", "pairwise", "primes"])
def test_nogil_lets_the_heartbeat_tick_and_gil_stops_it(name):
    k = REGISTRY[name]
    inputs = k.make_inputs("default")
    ticks_nogil, t_nogil = _ticks_during(k.nogil, *inputs.whole())
    ticks_gil, t_gil = _ticks_during(k.gil, *inputs.whole())
    # ~1 tick per ms when free; at least a fifth of that even on a loaded 2-core machine.
    assert ticks_nogil >= max(10, t_nogil * 1000 / 5), (ticks_nogil, t_nogil)
    if gil_enabled():
        # The GIL is held for the whole call: the heartbeat may run once as the call returns.
        assert ticks_gil <= 2, (ticks_gil, t_gil)
    else:
        assert ticks_gil >= 10, "with no GIL, even the gil variant leaves other threads running"


def test_cancel_token_stops_a_running_nogil_kernel_quickly():
    k = REGISTRY["primes"]
    token = CancelToken()
    errors: list[BaseException] = []

    def work():
        try:
            k.nogil(0, 10**9, cancel=token)  # minutes of work if not cancelled
        except BaseException as exc:  # recorded for the assert below
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    token.cancel()
    t.join(timeout=5)
    stopped_after = time.perf_counter() - t0
    assert not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], Cancelled)
    assert stopped_after < 1.0  # about a millisecond in practice; generous for a loaded machine
    assert token.cancelled


def test_cancel_token_before_the_call_stops_every_variant(variant):
    token = CancelToken()
    token.cancel()
    k = REGISTRY["mandelbrot"]
    with pytest.raises(Cancelled):
        k.variant(variant)(*k.make_inputs("tiny").whole(), cancel=token)
    token.reset()
    assert not token.cancelled


def test_thread_safety_eight_threads_same_kernel_different_inputs(kernel, compiled_variant):
    """Eight threads call the same kernel at once, each on its own inputs, all correct."""
    inputs = [kernel.make_inputs("small", seed=s) for s in range(8)]
    results: list = [None] * 8
    barrier = threading.Barrier(8)
    f = kernel.variant(compiled_variant)

    def work(i: int) -> None:
        barrier.wait()
        results[i] = f(*inputs[i].whole())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        assert kernel.check(inputs[i], results[i]), kernel.name
