"""The GIL is really released by ``nogil`` and really held by ``gil``: gilfree's own pytest
plugin tells (the ``releases_gil`` marker and the ``gil_probe`` fixture), as it would in any
extension's CI.

``small`` inputs take 1-4 ms a call, shorter than a few switch intervals: the probe still
tells a release from a hold there. The ``gil`` variant is asked to hold at ``default`` size
(0.2 s a call): its Python-level argument checks hand the GIL over between calls, and a C
call behind such checks reads "holds" only from about a millisecond a call (see
``gilfree.probe.probing``).
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from gilfree.kernels import REGISTRY, Cancelled, CancelToken
from gilfree.testing import GilProbeInconclusive

from .conftest import gil_enabled

KERNELS = ["mandelbrot", "integrate", "pairwise", "primes"]


@contextlib.contextmanager
def busy_is_a_skip():
    """Every measurement inconclusive is the machine's doing, not a wrong verdict: skip, saying so."""
    try:
        yield
    except GilProbeInconclusive as exc:
        pytest.skip(f"the machine stayed too busy to tell: {exc.result.verdict.reason}")


@pytest.mark.thread_unsafe(reason="probes set the switch interval and time a heartbeat")
@pytest.mark.releases_gil
@pytest.mark.parametrize("size", ["tiny", "small"])
@pytest.mark.parametrize("name", KERNELS)
def test_nogil_releases_the_gil(name, size, gil_probe):
    k = REGISTRY[name]
    with busy_is_a_skip():
        gil_probe(k.nogil, *k.make_inputs(size).whole())


@pytest.mark.thread_unsafe(reason="probes set the switch interval and time a heartbeat")
@pytest.mark.parametrize("name", KERNELS)
def test_gil_holds_the_gil(name, gil_probe):
    k = REGISTRY[name]
    inputs = k.make_inputs("default").whole()
    with busy_is_a_skip():
        if gil_enabled():
            gil_probe.holds(k.gil, *inputs, slices=False)  # C code keeps it, not bytecode
        else:
            gil_probe.releases(k.gil, *inputs)  # with no GIL, even the gil variant lets others run


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
