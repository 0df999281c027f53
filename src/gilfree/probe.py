"""The GIL-hold meter: a Python heartbeat thread that measures its own lateness.

The heartbeat asks to wake every ``period`` (1 ms) and records how late each wake-up was.
A Python thread can only wake up when it gets the GIL, so:

* **p99 / max lateness** (ms): how long the heartbeat waited, at worst, for a chance to run.
  Idle, this is the OS's timer slack (about 0.1 ms); under a kernel that releases the GIL it
  stays there; under a call that holds the GIL it grows to the whole call.
* **blocked fraction**: the share of the measured time during which the heartbeat could not
  run, counting only the part of each wait beyond one period
  (``sum(max(0, lateness - period)) / duration``). Idle or nogil: about 0; a call that holds
  the GIL throughout: about 1; pure-Python threads, which hand the GIL over every switch
  interval (5 ms), fall in between.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class GilHold:
    """What the heartbeat saw during one measurement."""

    ticks: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    blocked_fraction: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Heartbeat:
    """Context manager: ``with Heartbeat() as hb: work(); hb.result()``.

    The thread starts on enter and stops on exit; it never outlives the ``with`` block.
    """

    def __init__(self, period: float = 0.001) -> None:
        if not period > 0:
            raise ValueError(f"period must be > 0 seconds, got {period}")
        self.period = period
        self._lateness: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="gilfree-heartbeat", daemon=True)
        self._t0 = self._t1 = 0.0

    def _beat(self) -> None:
        clock, sleep, period = time.perf_counter, time.sleep, self.period
        late: list[float] = []
        self._started.set()
        due = clock() + period
        while not self._stop.is_set():
            sleep(max(0.0, due - clock()))
            now = clock()
            late.append(now - due)
            due = now + period
        with self._lock:
            self._lateness = late

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        self._started.wait()
        time.sleep(2 * self.period)  # let it settle into its rhythm before the work starts
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._t1 = time.perf_counter()
        self._stop.set()
        self._thread.join()

    def result(self) -> GilHold:
        """Lateness figures over the measured window (call after the ``with`` block)."""
        with self._lock:
            late = sorted(self._lateness)
        duration = max(self._t1 - self._t0, 1e-9)
        if not late:
            return GilHold(0, duration, 0.0, 0.0, 0.0, 0.0)

        def pct(q: float) -> float:
            return late[min(len(late) - 1, int(q * len(late)))] * 1e3

        blocked = sum(max(0.0, x - self.period) for x in late)
        return GilHold(
            ticks=len(late),
            duration_s=duration,
            p50_ms=pct(0.50),
            p99_ms=pct(0.99),
            max_ms=late[-1] * 1e3,
            blocked_fraction=min(1.0, blocked / duration),
        )


def measure(func, *args: Any, period: float = 0.001, **kwargs: Any) -> tuple[Any, GilHold]:
    """Call ``func(*args, **kwargs)`` under a heartbeat; return its value and the GIL-hold figures."""
    with Heartbeat(period) as hb:
        value = func(*args, **kwargs)
    return value, hb.result()
