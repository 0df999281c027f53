"""The listened run: a prepared call repeated under the heartbeat, kept apart from timed runs.

The heartbeat is one more Python thread wanting the GIL and a core, so it never runs beside a
timed run; it gets a run of its own, repeated until ``GIL_WINDOW_S`` has passed. The loop is
:func:`gilfree.probe.listen`, the same one ``gilfree probe`` uses.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from gilfree.harness.timing import Prepared
from gilfree.probe import PARTLY_RELEASES, RELEASES, GilHold, listen, verdict
from gilfree.probe.verdicts import HOLDS_MIN_STALL_INTERVALS

#: The heartbeat run is repeated until it has lasted this long. Why: at a 1 ms period, 0.1 s
#: gives some 100 ticks free and 15 when pure Python makes each one wait a switch interval,
#: enough for a p75; short cells cost at most a few seconds more in all.
GIL_WINDOW_S = 0.1

#: A call gets a GIL verdict only if it lasted at least this many switch intervals. Why: a call
#: shorter than one interval cannot keep the heartbeat waiting, whether it holds the GIL or not;
#: what the heartbeat sees then is the harness between calls.
VERDICT_MIN_RUN_INTERVALS = 1.0


@dataclass
class Listened:
    """The GIL figures of a contender's listened run, its verdict (or None), and its check."""

    hold: GilHold
    verdict: str | None
    matched: bool | None
    calls: int
    longest_s: float


def verdict_shown(label: str, call_s: float, longest_s: float, switch_interval_s: float) -> str | None:
    """The verdict a cell may show, or ``None`` where the listened run could not show it (pure).

    A call shorter than a switch interval shows nothing. "releases" (and "partly releases")
    needs more: a hold is seen as one only when it lasts ``HOLDS_MIN_STALL_INTERVALS`` switch
    intervals, so when the longest single piece of work (a chunk, or the call) is shorter than
    that, a chunk that held the GIL would look the same, and the verdict is withheld.
    """
    if call_s < VERDICT_MIN_RUN_INTERVALS * switch_interval_s:
        return None
    if label in (RELEASES, PARTLY_RELEASES) and longest_s < HOLDS_MIN_STALL_INTERVALS * switch_interval_s:
        return None
    return label


def listen_to(p: Prepared, idle: GilHold, window_s: float = GIL_WINDOW_S) -> Listened:
    """Reset once, call ``p`` under the heartbeat until ``window_s`` has passed, check the last."""
    import time

    p.reset()  # poisoning is the harness's work, not the call's: once, before the window
    walls: list[float] = []
    longest = [0.0]

    def call():
        t0 = time.perf_counter()
        done = p.call()
        wall = time.perf_counter() - t0
        walls.append(wall)
        longest[0] = max(longest[0], max(done.chunk_s, default=wall))
        return done

    hold, calls, done = listen(call, window_s)
    matched = p.check(done.value) if p.check is not None else None
    si = sys.getswitchinterval()
    label = verdict(hold, idle, si).label
    call_s = sorted(walls)[len(walls) // 2]
    return Listened(hold, verdict_shown(label, call_s, longest[0], si), matched, calls, longest[0])
