"""The GIL is really released by ``nogil`` and really held by ``gil``: a heartbeat thread tells.

Assertions are on counts of heartbeat ticks, not on seconds, so they hold on a noisy machine.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from gilfree.kernels import REGISTRY, Cancelled, CancelToken

from .conftest import gil_enabled


class Heartbeat:
    """A Python thread that records when it gets to run, waking every millisecond."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.times.append(time.perf_counter())
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _longest_stall(f, *args) -> tuple[float, int, float]:
    """The longest time the heartbeat could not run during the call, as a share of the call.

    Why a gap and not a count: the heartbeat may win the GIL while the call still checks its
    arguments in Python, and again after it returns and before this thread reads the clock
    (on a loaded machine, several times). Those ticks sit at the edges; a GIL-holding loop
    still leaves one gap that covers nearly the whole call, and a nogil loop leaves none.
    """
    with Heartbeat() as hb:
        t0 = time.perf_counter()
        f(*args)
        t1 = time.perf_counter()
    stamps = [t0, *(t for t in hb.times if t0 < t < t1), t1]
    gap = max(b - a for a, b in itertools.pairwise(stamps))
    return gap / (t1 - t0), len(stamps) - 2, t1 - t0


@pytest.mark.thread_unsafe(
    reason="counts a heartbeat's ticks per ms: copies at once measure CPU oversubscription, not the GIL"
)
@pytest.mark.parametrize("name", ["mandelbrot", "integrate", "pairwise", "primes"])
def test_nogil_lets_the_heartbeat_tick_and_gil_stops_it(name):
    k = REGISTRY[name]
    inputs = k.make_inputs("default")
    stall_nogil, ticks_nogil, t_nogil = _longest_stall(k.nogil, *inputs.whole())
    stall_gil, ticks_gil, t_gil = _longest_stall(k.gil, *inputs.whole())
    # nogil: the heartbeat keeps ticking (about once a millisecond when a core is free).
    assert ticks_nogil >= 10 and stall_nogil < 0.5, (ticks_nogil, stall_nogil, t_nogil)
    if gil_enabled():
        # gil: it cannot run at all while the compiled loop runs, i.e. nearly the whole call.
        assert stall_gil > 0.9, (ticks_gil, stall_gil, t_gil)
    else:
        assert stall_gil < 0.5, "with no GIL, even the gil variant leaves other threads running"


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
