"""The GIL-hold meter and its verdicts: does a callable release the GIL?

* :mod:`gilfree.probe.heartbeat`: the heartbeat thread and its figures (:class:`GilHold`),
  and :func:`listen`, the one listening loop (the comparison harness uses it too);
* :mod:`gilfree.probe.verdicts`: :func:`verdict`, a pure function from figures to an answer;
* :mod:`gilfree.probe.probing`: :func:`probe`, which measures a callable and judges it;
* :mod:`gilfree.probe.isolated`: the same in a child process, for the command line.

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
from gilfree.probe.probing import (
    PROBE_MAX_MIN_TIME_S,
    PROBE_MIN_TIME_S,
    PROBE_SWITCH_INTERVAL_S,
    ProbeResult,
    load_callable,
    probe,
    switch_interval,
)
from gilfree.probe.verdicts import (
    HIGH,
    HOLDS,
    HOLDS_IN_SLICES,
    INCONCLUSIVE,
    LOW,
    PARTLY_RELEASES,
    RELEASES,
    VERDICTS,
    Verdict,
    verdict,
)

__all__ = [
    "HEARTBEAT_SLICE_NS",
    "HIGH",
    "HOLDS",
    "HOLDS_IN_SLICES",
    "IDLE_BASELINE_S",
    "INCONCLUSIVE",
    "LOW",
    "PARTLY_RELEASES",
    "PROBE_MAX_MIN_TIME_S",
    "PROBE_MIN_TIME_S",
    "PROBE_SWITCH_INTERVAL_S",
    "RELEASES",
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
    "switch_interval",
    "verdict",
]
