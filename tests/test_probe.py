"""The GIL-hold meter: its verdict's rules on made-up figures, the heartbeat, and the probe's
mechanics (batches from C, the switch interval, retries).

Real callables, judged against their C source, are in tests/test_validation.py; the command
line's faults in tests/test_probe_cli.py.
"""

from __future__ import annotations

import functools
import itertools
import os
import platform
import sys
import threading
import time

import pytest

from gilfree import probe
from gilfree.kernels import REGISTRY
from gilfree.probe import (
    HIGH,
    HOLDS,
    HOLDS_IN_SLICES,
    INCONCLUSIVE,
    LOW,
    PARTLY_RELEASES,
    RELEASES,
    GilHold,
    verdict,
)
from gilfree.probe.probing import switch_interval

from .conftest import gil_enabled

pytestmark = pytest.mark.thread_unsafe(reason="a heartbeat thread times its own lateness")

SI = 1e-4  # the probe's switch interval: a tick is free up to 0.05 ms, long from 0.5 ms


def figures(*groups: tuple[int, float], cpu_wait=0.0, worker_wait=0.0, duration=None) -> GilHold:
    """Made-up figures: ``(count, GIL wait in ms)`` groups of ticks, as the heartbeat reports them."""
    waits = [w for n, w in groups for _ in range(n)]
    s = sorted(waits) or [0.0]
    # each tick's lateness: its GIL wait plus a wait for a core making up cpu_wait of its time
    lates = [w + cpu_wait * (1.0 + w) / (1.0 - cpu_wait) if cpu_wait < 1 else w for w in waits]

    def q(f: float) -> float:
        return s[min(len(s) - 1, int(f * len(s)))]

    total_ms = sum(1.0 + w for w in waits)
    return GilHold(
        ticks=len(waits),
        duration_s=duration if duration is not None else total_ms / 1e3,
        p50_ms=q(0.5),
        p99_ms=q(0.99),
        max_ms=s[-1],
        blocked_fraction=sum(max(0.0, w - 1.0) for w in waits) / max(total_ms, 1e-9),
        p75_ms=q(0.75),
        cpu_wait_fraction=cpu_wait,
        gil_p75_ms=q(0.75),
        gil_max_ms=s[-1],
        p25_ms=q(0.25),
        gil_p25_ms=q(0.25),
        gil_p50_ms=q(0.5),
        worker_cpu_wait_fraction=worker_wait,
        ticks_ms=tuple(zip(lates, waits, strict=True)),
    )


IDLE = figures((95, 0.07))


def label(hold: GilHold, idle: GilHold | None = IDLE, si: float = SI) -> str:
    return verdict(hold, idle, si).label


# -- the rules, on made-up figures ----------------------------------------------------------------


def test_punctual_ticks_mean_releases():
    v = verdict(figures((300, 0.07)), IDLE, SI)
    assert (v.label, v.confidence) == (RELEASES, HIGH)
    assert "free 100%" in v.reason
    # A few late ticks (the scheduler, a short hold at the call's entry) do not change it.
    assert label(figures((290, 0.07), (10, 0.3), (1, 3.0))) == RELEASES


def test_waiting_a_switch_interval_means_slices():
    v = verdict(figures((250, 0.07 + 0.19)), IDLE, SI)
    assert (v.label, v.confidence) == (HOLDS_IN_SLICES, HIGH)
    assert "as bytecode does" in v.reason


def test_long_stalls_mean_holds():
    v = verdict(figures((25, 10.0)), IDLE, SI)
    assert (v.label, v.confidence) == (HOLDS, HIGH)
    assert "C code kept it" in v.reason and "10.0 ms" in v.reason


def test_free_for_part_of_the_time_means_partly_releases():
    # Free for 1 ms at a time, then held in 10 ms stalls: about half the run each.
    v = verdict(figures((100, 0.07), (10, 10.0)), IDLE, SI)
    assert v.label == PARTLY_RELEASES
    assert "free 49%" in v.reason and "stalls of up to 10.0 ms" in v.reason
    # ... or held in slices, as a Python function that calls a releasing C function does.
    v = verdict(figures((100, 0.07), (80, 0.3)), IDLE, SI)
    assert v.label == PARTLY_RELEASES and "in slices" in v.reason


def test_free_time_the_workers_wait_for_a_core_explains_is_not_a_release():
    # A worker that hands the GIL over and then waits for a core leaves it free meanwhile.
    gappy = figures((100, 0.07), (10, 10.0), worker_wait=0.45)
    assert label(gappy) == HOLDS
    assert label(figures((100, 0.07), (10, 10.0), worker_wait=0.3)) == PARTLY_RELEASES


def test_bins_flip_at_their_bounds():
    # free: at most half a switch interval (0.05 ms) later than idle (here: a perfect idle).
    assert label(figures((300, 0.05)), None) == RELEASES
    assert label(figures((300, 0.051)), None) == HOLDS_IN_SLICES
    # long: from 4 switch intervals plus the 0.1 ms handover allowance (0.5 ms).
    assert label(figures((100, 0.49)), None) == HOLDS_IN_SLICES
    assert label(figures((100, 0.51)), None) == HOLDS
    # ... its interval part stretched on a busy machine: worker waiting 20%, 0.4 / 0.8 + 0.1 ms.
    assert label(figures((100, 0.59), worker_wait=0.2), None) == HOLDS_IN_SLICES
    assert label(figures((100, 0.61), worker_wait=0.2), None) == HOLDS
    # releases from 80% of the time free (80 free ticks of 1 ms against one long one).
    assert label(figures((80, 0.0), (1, 19.0)), None) == RELEASES
    assert label(figures((80, 0.0), (1, 19.5)), None) == PARTLY_RELEASES
    # ... and against the idle baseline: a machine that is slow even idle is not "held".
    slow_idle = figures((95, 0.4))
    assert label(figures((300, 0.42)), slow_idle) == RELEASES


def test_the_same_rules_at_the_interpreters_switch_interval():
    """What the comparison harness asks, at 5 ms: its gil, nogil and python cells."""
    assert label(figures((3, 200.0)), IDLE, 0.005) == HOLDS  # a 0.2 s call holding the GIL
    assert label(figures((100, 0.08)), IDLE, 0.005) == RELEASES  # a nogil kernel
    assert label(figures((20, 5.1)), IDLE, 0.005) == HOLDS_IN_SLICES  # pure Python
    assert label(figures((15, 12.0)), IDLE, 0.005) == HOLDS_IN_SLICES  # threads convoying
    assert label(figures((10, 45.0)), IDLE, 0.005) == HOLDS  # two Python threads hogging it


def test_the_wait_for_a_core_is_not_blamed_on_the_gil():
    # Late ticks whose lateness was spent waiting for a core (0.43 of 0.5 ms): the GIL was free.
    late = figures((300, 0.07))
    plain = {"p50_ms": 0.5, "p75_ms": 0.5, "max_ms": 0.5, "cpu_wait_fraction": 0.3}
    late = GilHold(**{**late.to_dict(), **plain})
    late.ticks_ms = tuple((0.5, 0.07) for _ in range(300))
    v = verdict(late, IDLE, SI)
    assert (v.label, v.confidence) == (RELEASES, LOW)  # low: the machine was busy
    # ... but a heartbeat that spends most of its time waiting for a core measures the machine.
    late.ticks_ms = tuple((6.0, 0.07) for _ in range(300))
    assert label(late) == INCONCLUSIVE


def test_too_busy_a_machine_is_inconclusive():
    for held, busy, who in (
        ((300, 0.07), {"cpu_wait": 0.5}, "heartbeat"),
        ((25, 10.0), {"worker_wait": 0.6}, "worker"),
    ):
        v = verdict(figures(held, **busy), IDLE, SI)
        assert (v.label, v.confidence) == (INCONCLUSIVE, LOW)
        assert f"the {who} waited for a core" in v.reason and "too busy to tell" in v.reason
    # A heartbeat stalled on a held GIL wakes every switch interval to ask for it, and each
    # wake-up waits for a core on a busy machine: that says nothing about the machine.
    assert label(figures((25, 10.0), cpu_wait=0.6)) == HOLDS
    # Stalls far beyond what losing a core explains are C code, even with a starved worker.
    assert label(figures((5, 60.0), worker_wait=0.6)) == HOLDS
    assert label(figures((250, 0.26), worker_wait=0.6)) == INCONCLUSIVE  # slices, or a stretched hold?
    # A worker waiting for a core cannot make a free GIL look held: releases stands, unsure.
    v = verdict(figures((300, 0.07), worker_wait=0.6), IDLE, SI)
    assert (v.label, v.confidence) == (RELEASES, LOW)
    # ... unless its wait could explain the free time: then it may be a hold with gaps.
    assert label(figures((300, 0.07), worker_wait=0.9)) == INCONCLUSIVE
    assert label(figures((2, 0.07))) == INCONCLUSIVE  # two ticks are too few to weigh
    noisy_idle = figures((60, 0.07), (40, 0.5))  # even idle, 40% of the ticks were late
    v = verdict(figures((300, 0.07)), noisy_idle, SI)
    assert v.label == INCONCLUSIVE and "too noisy" in v.reason


def test_confidence_is_low_near_a_bound_or_on_a_busy_machine():
    assert verdict(figures((300, 0.07), worker_wait=0.1), IDLE, SI).confidence == HIGH
    busy = verdict(figures((300, 0.07), worker_wait=0.25), IDLE, SI)
    assert (busy.label, busy.confidence) == (RELEASES, LOW)
    near = verdict(figures((85, 0.0), (1, 14.0)), None, SI)  # 85% free: 5 points past 80%
    assert (near.label, near.confidence) == (RELEASES, LOW)
    assert near.figures["free"] == pytest.approx(0.85, abs=0.01)


def test_no_tick_at_all():
    assert label(GilHold(0, 0.3, 0.0, 0.0, 0.0, 0.0)) == HOLDS  # 0.3 s without a chance to run
    assert label(GilHold(0, 0.0003, 0.0, 0.0, 0.0, 0.0)) == INCONCLUSIVE  # too short to tell


def test_a_tick_or_two_each_kept_out_by_a_long_stall_is_a_hold_seen():
    """A 150 ms call that holds the GIL lets the heartbeat in once: too few ticks to weigh
    shares, but each one says the GIL was held the whole time (compare's listened run of a
    ``gil`` kernel is one such call)."""
    assert label(figures((1, 150.0))) == HOLDS
    assert label(figures((2, 55.0))) == HOLDS
    assert label(figures((2, 0.07))) == INCONCLUSIVE  # few ticks, but punctual: nothing to tell
    assert label(figures((2, 0.3))) == INCONCLUSIVE  # stalls shorter than a hold must last


def test_figures_without_their_ticks_fall_back_to_the_quantiles():
    """A GilHold read back from JSON has no per-tick list: its quantiles stand in."""
    old_idle = GilHold(95, 0.1, 0.08, 0.2, 0.3, 0.0, p75_ms=0.09)
    assert label(GilHold(300, 0.3, 0.08, 0.2, 0.3, 0.0, p75_ms=0.09), old_idle) == RELEASES
    assert label(GilHold(3, 0.3, 100.0, 100.0, 100.0, 0.99, p75_ms=100.0), old_idle) == HOLDS
    assert label(GilHold(50, 0.3, 0.3, 0.4, 0.5, 0.1, p75_ms=0.3), old_idle) == HOLDS_IN_SLICES


def test_verdict_rejects_bad_arguments():
    with pytest.raises(TypeError, match="hold must be a GilHold"):
        verdict({"p50_ms": 1.0})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="idle must be a GilHold"):
        verdict(figures((3, 1.0)), 0.1)  # type: ignore[arg-type]
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="switch_interval must be a positive number"):
            verdict(figures((3, 1.0)), IDLE, bad)


# -- the heartbeat -------------------------------------------------------------------------------


def test_heartbeat_reports_the_wait_for_a_core_where_the_os_does():
    with probe.Heartbeat() as hb:
        time.sleep(0.05)
    h = hb.result()
    if h.cpu_wait_fraction is None:
        pytest.skip("this OS does not report a thread's wait for a core")
    assert 0.0 <= h.cpu_wait_fraction <= 1.0
    assert 0.0 <= h.gil_p75_ms <= h.p75_ms + 1e-9 and 0.0 <= h.gil_max_ms <= h.max_ms + 1e-9


def _kernel_at_least(major: int, minor: int) -> bool:
    release = platform.release().split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


def test_heartbeat_asks_for_a_short_slice_and_keeps_its_nice_value():
    """On Linux 6.12+ (x86_64, aarch64) the slice is granted; the thread's nice value is kept."""
    box = {}

    def thread():
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + 1)  # this thread only
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        box["granted"] = probe.request_short_slice()
        box["nice"] = (nice, os.getpriority(os.PRIO_PROCESS, 0))

    t = threading.Thread(target=thread)
    t.start()
    t.join()
    before, after = box["nice"]
    assert after == before, "asking for a short slice changed the thread's nice value"
    with probe.Heartbeat() as hb:
        time.sleep(0.01)
    assert hb.result().short_slice == box["granted"]
    supported = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64")
    if supported and _kernel_at_least(6, 12):
        assert box["granted"] is True
    else:
        assert box["granted"] in (None, False)


def test_heartbeat_can_keep_the_default_slice():
    with probe.Heartbeat(short_slice=False) as hb:
        time.sleep(0.01)
    assert hb.result().short_slice is None


def test_ticks_before_the_window_do_not_count():
    """A hold from the window's first instant: no tick from the heartbeat's settling counts."""
    if not gil_enabled():
        pytest.skip("with the GIL off nothing holds it")
    with probe.Heartbeat() as hb:
        sum(range(4_000_000))  # C, no bytecode: tens of ms with the GIL held
    h = hb.result()
    assert h.ticks >= 1, h
    # The first tick that counts is the one the hold kept waiting (a busy machine may add a
    # punctual one at the end, while this thread waits for a core to close the window).
    assert h.ticks_ms[0][0] > 10.0 and h.max_ms > 10.0, h.ticks_ms
    assert "ticks_ms" not in h.to_dict()  # kept out of JSON


def test_listen_batches_calls_from_c():
    counter = itertools.count()
    hold, calls, value = probe.listen(counter.__next__, 0.02, batch=7)
    assert calls % 7 == 0 and calls >= 7
    assert value == calls - 1  # the last call's value
    assert hold.ticks > 0
    for bad in (0, -1, 1.5, None):
        with pytest.raises(ValueError, match="batch must be an integer"):
            probe.listen(counter.__next__, 0.01, batch=bad)  # type: ignore[arg-type]


def test_a_short_holding_c_call_is_a_long_stall_only_when_batched_from_c():
    """Why the probe batches: called in a Python loop, a 20 us C call that keeps the GIL lets
    the heartbeat in after each call and reads like bytecode; batched from C, it holds."""
    if not gil_enabled():
        pytest.skip("with the GIL off nothing holds it")
    call = functools.partial(sum, range(2000))
    want = {1: HOLDS_IN_SLICES, 500: HOLDS}
    seen: dict[int, list[str]] = {1: [], 500: []}
    for batch, expect in want.items():
        for _ in range(5):  # a busy machine can make a measurement inconclusive
            with switch_interval(SI):
                idle = probe.idle_baseline()
                hold, _, _ = probe.listen(call, 0.15, batch=batch)
            seen[batch].append(verdict(hold, idle, SI).label)
            if seen[batch][-1] == expect:
                break
    assert {b: s[-1] for b, s in seen.items()} == want, seen


def test_listen_reports_the_workers_wait_for_a_core_where_the_os_does():
    hold, _, _ = probe.listen(lambda: None, 0.02)
    if hold.cpu_wait_fraction is None:
        pytest.skip("this OS does not report a thread's wait for a core")
    assert hold.worker_cpu_wait_fraction is not None and 0.0 <= hold.worker_cpu_wait_fraction <= 1.0


# -- probing -------------------------------------------------------------------------------------


def test_probe_calls_for_at_least_min_time_and_four_calls():
    calls = []
    result = probe.probe(calls.append, 1, min_time=0.05)
    assert len(calls) > result.calls  # and a few more before, to size the batches
    assert result.hold.duration_s >= 0.05 and result.calls >= 4
    assert result.batch > 1  # list.append is fast: batched from C
    slow = probe.probe(time.sleep, 0.03, min_time=0.01)
    assert slow.calls >= 4 and slow.batch == 1


def test_probe_restores_the_switch_interval_even_when_the_call_fails():
    before = sys.getswitchinterval()
    result = probe.probe(time.sleep, 0.001, min_time=0.02)
    assert result.switch_interval_s == pytest.approx(probe.PROBE_SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() == before
    n = itertools.count()

    def fails_later() -> None:
        if next(n) > 50:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        probe.probe(fails_later, min_time=0.05)
    assert sys.getswitchinterval() == before
    own = probe.probe(time.sleep, 0.001, min_time=0.02, switch_interval_s=None)
    assert own.switch_interval_s == before


def test_probe_measures_again_while_inconclusive(monkeypatch):
    from gilfree.probe import probing

    judged = []

    def always_inconclusive(hold, idle, si):
        judged.append(hold)
        return probe.Verdict(INCONCLUSIVE, "made up", LOW)

    monkeypatch.setattr(probing, "verdict", always_inconclusive)
    result = probe.probe(time.sleep, 0.001, min_time=0.02, tries=2)
    assert result.tries == 2 and len(judged) == 2 and result.verdict.label == INCONCLUSIVE
    monkeypatch.undo()
    assert probe.probe(time.sleep, 0.001, min_time=0.02).tries == 1


def test_probe_rejects_bad_options():
    for bad in (0, -1, float("inf"), float("nan"), 4000):
        with pytest.raises(ValueError, match="min_time must be > 0 and <= 3600"):
            probe.probe(time.sleep, 0.001, min_time=bad)
    for bad in (0, float("inf"), "fast"):
        with pytest.raises(ValueError, match="switch_interval_s must be a positive number"):
            probe.probe(time.sleep, 0.001, switch_interval_s=bad)
    with pytest.raises(ValueError, match="tries must be an integer"):
        probe.probe(time.sleep, 0.001, tries=0)
    with pytest.raises(TypeError, match="func must be callable"):
        probe.probe(42)


def test_probe_result_describes_itself():
    result = probe.probe(time.sleep, 0.001, min_time=0.02, target="time:sleep")
    d = result.to_dict()
    assert d["verdict"] == result.verdict.label and d["confidence"] in (HIGH, LOW)
    assert set(d["shares"]) >= {"free", "slice", "long", "busy", "free_bound_ms", "long_bound_ms"}
    text = result.describe()
    assert text.startswith("time:sleep: ") and result.verdict.reason in text and "shares of the run" in text


# -- naming the callable and its arguments --------------------------------------------------------


def test_load_callable_forms():
    assert probe.load_callable("time:sleep") == (time.sleep, None)
    assert probe.load_callable("time.sleep") == (time.sleep, None)
    func, kernel = probe.load_callable("gilfree.kernels:mandelbrot.nogil")
    assert kernel is REGISTRY["mandelbrot"] and func is kernel.nogil
    for bad, message in [
        ("nope_module:f", "cannot import module 'nope_module'"),
        ("math:nope", "math has no attribute 'nope'"),
        ("math:pi", "is a float, not a callable"),
        ("sleep", "expected MODULE:FUNC"),
        ("time:", "expected MODULE:FUNC"),
    ]:
        with pytest.raises(ValueError, match=message):
            probe.load_callable(bad)


def test_parse_call_args_and_bytes():
    from gilfree.cli import words

    args, kwargs = words.parse_call_args(["0.5", "abc", "b'xy'", "[1, 2]", "level=9", "'a=b'"])
    assert args == [0.5, "abc", b"xy", [1, 2], "a=b"]
    assert kwargs == {"level": 9}
    assert words.parse_bytes("16M") == 16 << 20
    assert words.parse_bytes("1000") == 1000
    assert words.parse_bytes("2kb") == 2048
    for bad in ("0", "x", "-5", "1.5M"):
        with pytest.raises(ValueError):
            words.parse_bytes(bad)
