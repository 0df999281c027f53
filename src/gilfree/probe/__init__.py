"""The GIL-hold meter and its verdicts: does a callable release the GIL?

* :mod:`gilfree.probe.heartbeat`: the heartbeat thread and its figures (:class:`GilHold`),
  and :func:`listen`, the one listening loop (the comparison harness uses it too);
* :mod:`gilfree.probe.verdicts`: :func:`verdict`, a pure function from figures to an answer;
* :mod:`gilfree.probe.probing`: :func:`probe`, which measures a callable and judges it.

Everything is re-exported here, so ``from gilfree.probe import ...`` keeps working.
"""

from gilfree.probe.heartbeat import (
    HEARTBEAT_SLICE_NS,
    IDLE_BASELINE_S,
    GilHold,
    Heartbeat,
    idle_baseline,
    listen,
    request_short_slice,
)
from gilfree.probe.probing import PROBE_MIN_TIME_S, ProbeResult, load_callable, probe
from gilfree.probe.verdicts import (
    CPU_SHARE_FLOOR,
    HOLDS,
    HOLDS_IN_SLICES,
    HOLDS_MIN_BLOCKED,
    HOLDS_MIN_STALL_INTERVALS,
    RELEASES,
    SLICES_MIN_WAIT_INTERVALS,
    VERDICTS,
    Verdict,
    verdict,
)

__all__ = [
    "CPU_SHARE_FLOOR",
    "HEARTBEAT_SLICE_NS",
    "HOLDS",
    "HOLDS_IN_SLICES",
    "HOLDS_MIN_BLOCKED",
    "HOLDS_MIN_STALL_INTERVALS",
    "IDLE_BASELINE_S",
    "PROBE_MIN_TIME_S",
    "RELEASES",
    "SLICES_MIN_WAIT_INTERVALS",
    "VERDICTS",
    "GilHold",
    "Heartbeat",
    "ProbeResult",
    "Verdict",
    "idle_baseline",
    "listen",
    "load_callable",
    "probe",
    "request_short_slice",
    "verdict",
]
