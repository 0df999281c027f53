"""The verdict: does a callable release the GIL? A pure function from heartbeat figures.

:func:`verdict` reads one measurement (:class:`~gilfree.probe.heartbeat.GilHold`), the same
heartbeat's idle baseline, and the switch interval ``si`` in force while it was measured. Each
tick's wait for the GIL, less the idle heartbeat's typical wait, falls into one of three bins:

* **free**: at most ``SLICES_MIN_WAIT_INTERVALS`` (half) a switch interval: the GIL was free;
* **slice**: longer, up to ``HOLDS_MIN_STALL_INTERVALS`` (4) switch intervals plus
  ``HANDOFF_MS``: the heartbeat waited for the interpreter's forced switch, which bytecode
  honours at the next instruction;
* **long**: longer still: something kept the GIL without running bytecode, i.e. C code.

Each tick stands for the time since the one before (its period plus its lateness), so the
bins give *shares of the run*. The answers:

1. **inconclusive** when the heartbeat waited for a core at least ``INCONCLUSIVE_BUSY``
   (half) of the time it was not stalled on the GIL, when fewer than ``MIN_TICKS`` ticks
   were seen, or when the idle baseline itself does not read "free": the machine, not the
   call, decided the figures. Why not stalled: a thread waiting for a held GIL wakes every
   switch interval to ask for it, and on a busy machine each wake-up waits for a core, so a
   long stall piles up "waits for a core" that say nothing about the machine;
2. **releases** when the GIL was free at least ``RELEASES_MIN_FREE`` of the run, and
   ``PARTLY_MIN_FREE`` more than the worker's own wait for a core explains (a worker
   waiting for a core after handing the GIL over leaves it free, whatever the call does);
3. **partly releases** when it was free for less, but still that much more than the worker's
   wait explains, and held the rest;
4. **holds** when the long share is at least the slice share: C code kept the GIL;
5. **holds in slices** otherwise: bytecode held it and handed it over at the switch interval.

Rules 4 and 5 become **inconclusive** when the worker waited for a core at least half the
run: a worker descheduled while it holds the GIL keeps the heartbeat out for a scheduler
slice or several (milliseconds), which neither a slice nor a stall of C code can be told
from; unless the typical stall is longer than ``BEYOND_SCHEDULER_MS``, which only C code
does.

On a busy machine the worker waits for a core while it holds the GIL, which stretches the
slices it hands over: the switch-interval part of the long bound is divided by the share of
the run the busier of the two threads got a core. Why that part only: the stretch comes from
the worker losing its core *within* an interval, common at 5 ms (measured: slices of 20-40 ms
at load 14), rare at the probe's 0.1 ms (pure Python's p90 wait stayed at 0.19-0.22 ms at
load 2-3), while a wrapped C call's waits do not grow to match.

The verdict's ``confidence`` is ``"high"`` when its deciding share clears its bound by
``CLEAR_MARGIN`` and the machine was quiet (both threads waited for a core less than
``LOW_CONFIDENCE_BUSY`` of the run), ``"low"`` otherwise.

The probe measures under a short switch interval (``PROBE_SWITCH_INTERVAL_S``, 0.1 ms) and
calls C functions in batches from C, so that a GIL-holding C call of any length is one long
stall and pure Python waits about 0.1 ms a tick (see :mod:`gilfree.probe.probing`). The
comparison harness measures at the interpreter's own interval (5 ms), and the same rules
apply with that ``si``. On a free-threaded build with the GIL off, every call "releases".
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from gilfree.probe.heartbeat import GilHold

RELEASES = "releases"
PARTLY_RELEASES = "partly releases"
HOLDS_IN_SLICES = "holds in slices"
HOLDS = "holds"
INCONCLUSIVE = "inconclusive"
VERDICTS = (RELEASES, PARTLY_RELEASES, HOLDS_IN_SLICES, HOLDS, INCONCLUSIVE)
HIGH, LOW = "high", "low"

#: A tick waited for the GIL when it was this many switch intervals later than idle. Why: held
#: by bytecode, a tick waits the whole switch interval and then the handover (measured on the
#: 2-core development machine at si = 0.1 ms: 0.16-0.19 ms more than idle; at 5 ms: 5 ms);
#: free, it is as punctual as idle (within 0.01 ms, even on a busy machine, once its own wait
#: for a core is taken out). Half an interval sits far from both.
SLICES_MIN_WAIT_INTERVALS = 0.5
#: A wait is "long" (C code held the GIL) beyond this many switch intervals ...
#: Why: pure Python hands over after one interval, two or three when threads convoy on a
#: loaded machine (measured: 11-17 ms at 5 ms); a longer wait means the GIL was kept without
#: returning to the interpreter loop.
HOLDS_MIN_STALL_INTERVALS = 4.0
#: ... plus this allowance for the handover itself, in ms. Why: after the forced switch the
#: waiting thread must be woken and scheduled. Measured on the 2-core development machine at
#: a 0.1 ms interval, pure Python kept the heartbeat 0.18-0.19 ms a tick in the median and
#: 0.19-0.22 ms at the p90, quiet or at load 2-3 (rarer waits of milliseconds, when the
#: worker lost its core, were 0-13% of the time); a C call of 1-2 ms behind a Python wrapper
#: kept it 0.9-1.0 ms. A bound of 0.5 ms sits between; at 5 ms the allowance is negligible.
HANDOFF_MS = 0.1
#: "releases" when the GIL was free at least this share of the run. Why: a releasing call
#: leaves the GIL held only for its entry and exit (measured: free 0.97-1.0 for sha256, zlib,
#: np.dot and time.sleep); a quarter held in stalls or slices is a part that holds.
RELEASES_MIN_FREE = 0.8
#: "partly releases" when the GIL was free this share of the run more than the worker's wait
#: for a core explains. Why: a worker that hands the GIL over and then waits for a core
#: leaves it free for as long as it waits, whatever the call does (measured: a holding
#: call at load 2-3 looked 10-14% free with its worker waiting 40-50%); the margin keeps
#: those gaps from reading as a partial release.
PARTLY_MIN_FREE = 0.15
#: "inconclusive" when the heartbeat waited for a core this share of the run (or the worker
#: did, for "holds" and "holds in slices"). Why: then the scheduler, not the GIL, decided
#: when the heartbeat ran (measured at load 3-4 on 2 cores: worker waits of 40-57%).
INCONCLUSIVE_BUSY = 0.5
#: At a worker's wait of ``INCONCLUSIVE_BUSY`` or more, "holds" still stands when the median
#: GIL wait is at least this (ms). Why: a worker that loses its core while holding the GIL
#: gets it back within a few scheduler slices; measured at load 14 on 2 cores, pure Python's
#: waits stretched to 20-40 ms, never 50.
BEYOND_SCHEDULER_MS = 50.0
#: Confidence is "low" when either thread waited for a core this share of the run or more.
LOW_CONFIDENCE_BUSY = 0.2
#: ... or when the deciding share cleared its bound by less than this (a share, 0-1).
CLEAR_MARGIN = 0.1
#: Fewer ticks than this in the window: too few to weigh.
MIN_TICKS = 3


@dataclass(frozen=True)
class Verdict:
    """Does a callable release the GIL: ``label`` (one of ``VERDICTS``), why, how sure.

    ``figures`` holds the shares and bounds the verdict was drawn from (see the module
    docstring): ``free``, ``slice`` and ``long`` shares of the run, ``free_bound_ms`` and
    ``long_bound_ms``, ``busy`` (the larger wait for a core).
    """

    label: str
    reason: str
    confidence: str = HIGH
    figures: dict[str, float] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return self.label


def _shares(hold: GilHold, idle_ms: float, free_ms: float, long_ms: float) -> tuple[float, float, float]:
    """The shares of the run whose ticks found the GIL free, waited a slice, waited long."""
    ticks = hold.ticks_ms
    if not ticks:  # figures without the ticks (a reloaded JSON cell): 100 ticks from the quantiles
        stand_in = [hold.gil_wait_p25_ms] * 25 + [hold.gil_wait_p50_ms] * 25 + [hold.gil_wait_p75_ms] * 49
        ticks = tuple((q, q) for q in [*stand_in, hold.gil_wait_max_ms])
    bins = [0.0, 0.0, 0.0]
    for late, gil in ticks:
        wait = gil - idle_ms
        bins[0 if wait <= free_ms else 2 if wait >= long_ms else 1] += hold.period_ms + late
    total = sum(bins) or 1.0
    return bins[0] / total, bins[1] / total, bins[2] / total


def _heartbeat_busy(hold: GilHold, stall_ms: float) -> float:
    """The share of its time the heartbeat waited for a core, over the ticks not stalled on
    the GIL (shorter than ``stall_ms``); see rule 1 for why. Without ticks: the run's share."""
    if not hold.ticks_ms:
        return hold.cpu_wait_fraction or 0.0
    waited = spent = 0.0
    for late, gil in hold.ticks_ms:
        if gil < stall_ms:
            waited += max(0.0, late - gil)
            spent += hold.period_ms + late
    return waited / spent if spent else 0.0


def verdict(hold: GilHold, idle: GilHold | None = None, switch_interval: float | None = None) -> Verdict:
    """The verdict for heartbeat figures (see the module docstring for the rules).

    Pure: it reads only its arguments, so it can be checked with made-up figures. ``idle`` is
    the heartbeat's baseline with nothing running (``None``: a perfect heartbeat, lateness 0);
    ``switch_interval`` is in seconds (``None``: this interpreter's ``sys.getswitchinterval()``).
    """
    if not isinstance(hold, GilHold):
        raise TypeError(f"hold must be a GilHold, got {type(hold).__name__}")
    if idle is not None and not isinstance(idle, GilHold):
        raise TypeError(f"idle must be a GilHold or None, got {type(idle).__name__}")
    si = sys.getswitchinterval() if switch_interval is None else switch_interval
    if not (isinstance(si, (int, float)) and si > 0 and math.isfinite(si)):
        raise ValueError(f"switch_interval must be a positive number of seconds, got {switch_interval!r}")
    si_ms = si * 1e3
    heartbeat_wait = _heartbeat_busy(hold, HOLDS_MIN_STALL_INTERVALS * si_ms + HANDOFF_MS)
    busy = max(heartbeat_wait, hold.worker_cpu_wait_fraction or 0.0)
    free_ms = SLICES_MIN_WAIT_INTERVALS * si_ms
    # A busy machine stretches the slices: the worker loses its core while it holds the GIL.
    stretch = 1.0 / max(1.0 - busy, 1.0 - INCONCLUSIVE_BUSY)
    long_ms = HOLDS_MIN_STALL_INTERVALS * si_ms * stretch + HANDOFF_MS
    idle_ms = idle.gil_wait_p50_ms if idle is not None else 0.0
    figures = {"busy": busy, "free_bound_ms": free_ms, "long_bound_ms": long_ms, "switch_interval_ms": si_ms}
    worker_wait = hold.worker_cpu_wait_fraction or 0.0

    if hold.ticks == 0:
        if hold.duration_s * 1e3 >= long_ms:
            figures.update(free=0.0, slice=0.0, long=1.0)
            return Verdict(HOLDS, f"the heartbeat never ran in {hold.duration_s * 1e3:.1f} ms", HIGH, figures)
        return Verdict(INCONCLUSIVE, "no heartbeat in a window too short to tell", LOW, figures)
    free, sliced, long = _shares(hold, idle_ms, free_ms, long_ms)
    figures.update(free=free, slice=sliced, long=long)

    def inconclusive(why: str) -> Verdict:
        return Verdict(INCONCLUSIVE, why, LOW, figures)

    def too_busy(who: str, share: float) -> Verdict:
        why = f"the {who} waited for a core {share:.0%} of the time: the machine is too busy to tell"
        return inconclusive(why)

    if heartbeat_wait >= INCONCLUSIVE_BUSY:
        return too_busy("heartbeat", heartbeat_wait)
    if hold.ticks < MIN_TICKS:
        # Few ticks because each one was kept out by a long stall is a hold seen, not too few to
        # weigh: a heartbeat that got in once in a 150 ms call waited those 150 ms for the GIL.
        if long >= RELEASES_MIN_FREE and hold.gil_wait_max_ms >= long_ms:
            return Verdict(
                HOLDS,
                f"the heartbeat got in only {hold.ticks} time(s) in {hold.duration_s * 1e3:.0f} ms, kept "
                f"out in stalls of up to {hold.gil_wait_max_ms:.1f} ms ({long:.0%} of the time): "
                "C code kept the GIL",
                HIGH,
                figures,
            )
        return inconclusive(f"only {hold.ticks} heartbeat(s) in {hold.duration_s:.2f} s: too few to tell")
    if idle is not None and idle.ticks >= MIN_TICKS:
        idle_free = _shares(idle, idle_ms, free_ms, long_ms)[0]
        if idle_free < RELEASES_MIN_FREE:
            return inconclusive(
                f"even idle, the heartbeat was punctual only {idle_free:.0%} of the time: "
                "the machine is too noisy to tell at this switch interval"
            )

    stalls = f"stalls of up to {hold.gil_wait_max_ms:.1f} ms"
    shares = f"free {free:.0%}, in slices {sliced:.0%}, in long stalls {long:.0%} of the time"
    unexplained = free - worker_wait  # the free time the worker's gaps cannot account for
    if free >= RELEASES_MIN_FREE and unexplained >= PARTLY_MIN_FREE:
        label, margin = RELEASES, min(free - RELEASES_MIN_FREE, unexplained - PARTLY_MIN_FREE)
        reason = f"the heartbeat found the GIL free {free:.0%} of the time ({shares})"
    elif unexplained >= PARTLY_MIN_FREE:
        label = PARTLY_RELEASES
        margin = min(unexplained - PARTLY_MIN_FREE, RELEASES_MIN_FREE - free)
        how = f"in {stalls}" if long >= sliced else "in slices, as bytecode does"
        reason = (
            f"the GIL was free {free:.0%} of the time and held the rest, {how} ({shares}; "
            f"the worker waited for a core {worker_wait:.0%})"
        )
    elif long >= sliced:
        label, margin = HOLDS, (long - sliced) / 2
        reason = (
            f"the GIL was held {long:.0%} of the time in {stalls}, longer than bytecode keeps it "
            f"({long_ms:.2f} ms at a {si_ms:g} ms switch interval): C code kept it ({shares})"
        )
    else:
        label, margin = HOLDS_IN_SLICES, (sliced - long) / 2
        reason = (
            f"the heartbeat waited about a switch interval ({si_ms:g} ms) for most ticks: the GIL "
            f"was held and handed over in slices, as bytecode does ({shares})"
        )
    beyond = label == HOLDS and hold.gil_wait_p50_ms - idle_ms >= BEYOND_SCHEDULER_MS
    if label in (HOLDS, HOLDS_IN_SLICES) and worker_wait >= INCONCLUSIVE_BUSY and not beyond:
        return too_busy("worker", worker_wait)
    confident = margin >= CLEAR_MARGIN and busy < LOW_CONFIDENCE_BUSY
    return Verdict(label, reason, HIGH if confident else LOW, figures)
