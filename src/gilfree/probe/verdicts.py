"""Verdict: does a callable release the GIL?
-----------------------------------------
:func:`verdict` turns the figures into one of three answers. It is a pure function (figures
in, verdict out); :func:`probe` measures and then calls it. Let ``si`` be the switch
interval and the *idle* figures those of the same heartbeat around a plain ``time.sleep``:

1. **holds** when ``blocked_fraction >= HOLDS_MIN_BLOCKED`` (0.9) and the longest wait for
   the GIL, ``gil_max_ms``, is at least ``HOLDS_MIN_STALL_INTERVALS`` (4) switch intervals
   (20 ms by default), stretched by ``1 / (1 - cpu_wait_fraction)`` on a busy machine: the
   heartbeat was kept out for almost the whole run, in stretches far longer than the
   interpreter's forced switch. Only a call that keeps the GIL without returning to the
   interpreter loop does that.
2. **holds in slices** when at least a quarter of the ticks waited half a switch interval
   longer for the GIL than idle (``gil_p75_ms - idle.gil_p75_ms >=
   SLICES_MIN_WAIT_INTERVALS * si``): the GIL was held, but handed over at the switch
   interval, as pure Python does. A C call that holds the GIL for less than a few switch
   intervals, called over and over, looks the same, and is reported the same: the heartbeat
   can only see how long it is kept out.
3. **releases** otherwise: most ticks waited no longer for the GIL than when idle.

Why these figures and not the p99: on a busy machine the operating system's scheduler also
delays the heartbeat, now and then by tens of milliseconds, whether or not the GIL is free.
Those delays reach the p99 and the maximum (and the blocked fraction, which they can push to
0.35), much less the p75, and hardly at all the GIL wait, from which the wait for a core is
taken out. The GIL held in slices delays most ticks; with several threads taking turns some
ticks still find it free at once, which is why the p75 and not the median. The p99 and
maximum are still reported: on a quiet machine they show how long the longest hold was (for
a ``nogil`` kernel they stay near idle). Measured on the shared 2-core development machine
with four extra busy processes (load 14): 30 of 30 verdicts right for a ``gil`` kernel, a
``nogil`` kernel and a pure-Python loop; without taking out the wait for a core, the ``nogil``
kernel was judged "holds in slices" 12 times in 15 at load 10.

On a free-threaded build with the GIL off, nothing holds a GIL and every call "releases".
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from gilfree.probe.heartbeat import GilHold

RELEASES = "releases"
HOLDS = "holds"
HOLDS_IN_SLICES = "holds in slices"
VERDICTS = (RELEASES, HOLDS_IN_SLICES, HOLDS)

#: A call "holds" only if the heartbeat was blocked for at least this share of the run.
#: Why: a call that keeps the GIL for L ms between heartbeat ticks blocks about
#: (L - 1) / (L + 1) of a run at a 1 ms period, which is 0.9 at L = 20 ms (four switch
#: intervals); pure Python, handing over every 5 ms, blocks 0.65-0.8; a busy machine's
#: scheduler, stealing the CPU from a heartbeat whose GIL is free, 0-0.35 (measured on the
#: shared 2-core development machine at load 6).
HOLDS_MIN_BLOCKED = 0.9
#: ... and only if its longest wait for the GIL (``gil_max_ms``) was at least this many
#: switch intervals. Why: pure Python hands the GIL over every switch interval, so the
#: heartbeat waits about one interval, two or three when threads convoy on a loaded machine
#: (measured: 11-17 ms at 5 ms); a longer wait means a call kept the GIL without returning
#: to the interpreter loop.
HOLDS_MIN_STALL_INTERVALS = 4.0
#: The stall that makes a hold is scaled by 1 / (the share of time the heartbeat got a core),
#: down to this share. Why: pure Python hands the GIL over only when its thread runs; with the
#: heartbeat waiting for a core half the time (four busy processes on 2 cores), the holder
#: does too, and its slices stretched to 20-40 ms (measured) where they are 5 ms on a quiet
#: machine. A call that really holds the GIL stalls the heartbeat for the whole call, far
#: beyond either. The floor keeps a starved heartbeat from calling everything a slice.
CPU_SHARE_FLOOR = 0.1
#: "holds in slices" when the p75 tick waited this many switch intervals more than idle.
#: Why: when the GIL is held in slices, most ticks wait for the next forced switch, about
#: one interval; when it is free, most ticks are as punctual as idle (tens of microseconds),
#: even on a busy machine. Half an interval sits far from both.
SLICES_MIN_WAIT_INTERVALS = 0.5


@dataclass(frozen=True)
class Verdict:
    """Does a callable release the GIL: ``label`` (one of ``VERDICTS``) and why."""

    label: str
    reason: str

    def __str__(self) -> str:
        return self.label


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
    idle_p75 = idle.gil_wait_p75_ms if idle is not None else 0.0
    if hold.ticks == 0:
        return Verdict(HOLDS, f"the heartbeat never ran in {hold.duration_s * 1e3:.1f} ms")
    stall = hold.gil_wait_max_ms / si_ms
    # A busy machine stretches the holder's slices too: it waits for a core while it holds
    # the GIL. The heartbeat's own wait for a core says by how much (see CPU_SHARE_FLOOR).
    cpu_share = max(1.0 - (hold.cpu_wait_fraction or 0.0), CPU_SHARE_FLOOR)
    if hold.blocked_fraction >= HOLDS_MIN_BLOCKED and stall * cpu_share >= HOLDS_MIN_STALL_INTERVALS:
        return Verdict(
            HOLDS,
            f"the heartbeat was blocked {hold.blocked_fraction:.0%} of the time, "
            f"in stalls of up to {hold.gil_wait_max_ms:.1f} ms ({stall:.0f} switch intervals)",
        )
    p75 = hold.gil_wait_p75_ms
    wait = (p75 - idle_p75) / si_ms
    if wait >= SLICES_MIN_WAIT_INTERVALS:
        return Verdict(
            HOLDS_IN_SLICES,
            f"a quarter of the heartbeats waited {p75:.1f} ms or more for the GIL (idle "
            f"{idle_p75:.2f} ms), about {wait:.1f} switch intervals of {si_ms:g} ms: "
            "the GIL was held and handed over in slices",
        )
    return Verdict(
        RELEASES,
        f"three quarters of the heartbeats waited at most {p75:.2f} ms for the GIL (idle "
        f"{idle_p75:.2f} ms); blocked {hold.blocked_fraction:.0%} of the time",
    )
