"""Probing a callable: call it under the heartbeat, then judge; and naming one on the command line.

How :func:`probe` calls, and why:

* **Under a short switch interval**, ``PROBE_SWITCH_INTERVAL_S`` (0.1 ms), set with
  ``sys.setswitchinterval`` and restored after. Bytecode then hands the GIL over within about
  0.1 ms, while a C call that keeps the GIL still keeps it until it returns: the two differ
  by their length, not by whether the call outlasts the default 5 ms interval. This is
  process-wide while the probe runs: other threads hand over more often too.
* **In batches made from C.** The interpreter can hand the GIL over only between bytecodes,
  and a Python loop has bytecode between any two calls. So ``probe`` times a few calls, then
  makes about ``BATCH_S`` (10 ms) of calls at a time through ``itertools.starmap`` drained by
  a ``collections.deque`` (:func:`~gilfree.probe.heartbeat.listen` with ``batch``). A C
  function that keeps the GIL then keeps it for the whole batch, however short one call is;
  one that releases it still does, and a Python function still runs bytecode. A C function
  behind a Python wrapper (``json.loads``, ``np.sort``) is called through the wrapper's
  bytecode: it reads "holds" from about 1 ms a call, and shorter ones as "holds in slices".
* **Long enough for a few ticks**: at least ``min_time`` and four calls.
* **Again if inconclusive**, up to ``tries`` times (a busy spell passes).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gilfree.probe.heartbeat import GilHold, idle_baseline, listen
from gilfree.probe.verdicts import INCONCLUSIVE, MIN_TICKS, Verdict, verdict

#: How long ``probe`` keeps calling, at least, so the heartbeat sees a few hundred ticks.
PROBE_MIN_TIME_S = 0.3
#: ``min_time`` above this is refused. Why: a probe is a question of seconds; an hour is a typo.
PROBE_MAX_MIN_TIME_S = 3600.0
#: The switch interval the probe runs under. Why: pure Python then makes the heartbeat wait
#: 0.16-0.19 ms a tick (measured on the 2-core development machine), far below a GIL-holding
#: C call of 1 ms, and far above a free GIL (0.01 ms); shorter would only add handovers.
PROBE_SWITCH_INTERVAL_S = 1e-4
#: A batch of calls made from C lasts about this long. Why: twenty times the bound for a long
#: stall at the probe's interval (0.5 ms), so a holding batch cannot pass for a slice, and
#: short enough that ``min_time`` is kept to within a few percent.
BATCH_S = 0.01
#: ... and has at most this many calls (a call of a few ns would otherwise ask for millions).
MAX_BATCH = 100_000
#: The calls timed before the probe, to size its batches: at least one, for about this long.
CALIBRATE_S = 0.005
#: How many times ``probe`` measures at most while the verdict is inconclusive.
PROBE_TRIES = 3


@contextlib.contextmanager
def switch_interval(seconds: float | None) -> Iterator[None]:
    """``sys.setswitchinterval(seconds)`` inside the block, the old value after (None: as is)."""
    old = sys.getswitchinterval()
    if seconds is not None:
        sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def per_call_s(call: Callable[[], Any], budget: float = CALIBRATE_S) -> float:
    """How long one ``call()`` takes: as many calls as fit in ``budget`` seconds, at least one.

    The first calls are the warm-up too; an error in the callable surfaces here, before any
    heartbeat starts.
    """
    clock = time.perf_counter
    n, t0 = 0, clock()
    while True:
        call()
        n += 1
        elapsed = clock() - t0
        if elapsed >= budget:
            return elapsed / n


def batch_size(per_call: float) -> int:
    """How many calls make one batch of about ``BATCH_S`` seconds."""
    return max(1, min(MAX_BATCH, round(BATCH_S / max(per_call, 1e-9))))


@dataclass
class ProbeResult:
    """What ``probe`` found: the figures during the calls, the idle baseline, the verdict."""

    target: str
    calls: int
    hold: GilHold
    idle: GilHold
    switch_interval_s: float
    verdict: Verdict
    gil_enabled: bool
    #: calls per batch made from C (1: a Python loop), and how many measurements were made
    batch: int = 1
    tries: int = 1
    per_call_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.per_call_s = self.hold.duration_s / max(self.calls, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verdict": self.verdict.label,
            "reason": self.verdict.reason,
            "confidence": self.verdict.confidence,
            "shares": self.verdict.figures,
            "calls": self.calls,
            "per_call_s": self.per_call_s,
            "batch": self.batch,
            "tries": self.tries,
            "switch_interval_s": self.switch_interval_s,
            "gil_enabled": self.gil_enabled,
            "figures": self.hold.to_dict(extra=True),
            "idle": self.idle.to_dict(extra=True),
        }

    def describe(self) -> str:
        """The verdict, its reason and the deciding figures, in a few lines (for a test failure)."""
        f = self.verdict.figures
        h, i = self.hold, self.idle
        lines = [
            f"{self.target}: {self.verdict.label} the GIL (confidence {self.verdict.confidence})",
            f"  why: {self.verdict.reason}",
            f"  {self.calls} call(s), {self.per_call_s * 1e3:.3g} ms each, {self.batch} per batch; "
            f"switch interval {self.switch_interval_s * 1e3:g} ms; {self.tries} measurement(s)",
            f"  heartbeat: {h.ticks} ticks in {h.duration_s:.2f} s; GIL wait p25/p50/p75/max "
            f"{h.gil_wait_p25_ms:.2f}/{h.gil_wait_p50_ms:.2f}/{h.gil_wait_p75_ms:.2f}/"
            f"{h.gil_wait_max_ms:.2f} ms (idle p50 {i.gil_wait_p50_ms:.2f} ms)",
        ]
        if f:
            lines.append(
                f"  shares of the run: free {f.get('free', 0):.2f}, slices {f.get('slice', 0):.2f}, "
                f"long stalls {f.get('long', 0):.2f} (free <= {f['free_bound_ms']:.2f} ms, long >= "
                f"{f['long_bound_ms']:.2f} ms); wait for a core {f['busy']:.0%}"
            )
        if not self.gil_enabled:
            lines.append("  the GIL is off in this interpreter: nothing can hold it")
        return "\n".join(lines)


def probe(
    func: Callable[..., Any],
    *args: Any,
    min_time: float = PROBE_MIN_TIME_S,
    period: float = 0.001,
    target: str | None = None,
    switch_interval_s: float | None = PROBE_SWITCH_INTERVAL_S,
    tries: int = PROBE_TRIES,
    **kwargs: Any,
) -> ProbeResult:
    """Does ``func(*args, **kwargs)`` release the GIL? Call it under a heartbeat for at least
    ``min_time`` seconds and four calls, then judge (see the module docstring for how).

    ``switch_interval_s=None`` probes at the interpreter's own switch interval. The idle
    baseline is measured just before each measurement, on the same machine state. To pass
    ``func`` a keyword named like one of these options, bind it with ``functools.partial``.
    Not thread-safe: the switch interval is the process's.
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    if not (isinstance(min_time, (int, float)) and 0 < min_time <= PROBE_MAX_MIN_TIME_S):
        raise ValueError(f"min_time must be > 0 and <= {PROBE_MAX_MIN_TIME_S:g} seconds, got {min_time!r}")
    si_ok = isinstance(switch_interval_s, (int, float)) and 0 < switch_interval_s < math.inf
    if switch_interval_s is not None and not si_ok:
        raise ValueError(f"switch_interval_s must be a positive number of seconds, got {switch_interval_s!r}")
    if not (isinstance(tries, int) and tries >= 1):
        raise ValueError(f"tries must be an integer >= 1, got {tries!r}")
    call = functools.partial(func, *args, **kwargs) if args or kwargs else func
    one = per_call_s(call)
    batch = batch_size(one)
    window = max(float(min_time), (MIN_TICKS + 1) * one)
    attempt = 0
    while True:
        attempt += 1
        with switch_interval(switch_interval_s):
            si = sys.getswitchinterval()
            idle = idle_baseline(period=period)
            hold, calls, _ = listen(call, window, period, batch=batch)
        judged = verdict(hold, idle, si)
        if judged.label != INCONCLUSIVE or attempt >= tries:
            break
    return ProbeResult(
        target=target or str(getattr(func, "__qualname__", None) or repr(func)),
        calls=calls,
        hold=hold,
        idle=idle,
        switch_interval_s=si,
        verdict=judged,
        gil_enabled=getattr(sys, "_is_gil_enabled", lambda: True)(),
        batch=batch,
        tries=attempt,
    )


def load_callable(spec: str) -> tuple[Callable[..., Any], Any]:
    """``MODULE:ATTR.PATH`` (or ``MODULE.FUNC``) -> the callable, and the gilfree ``Kernel`` the
    path went through (``gilfree.kernels:mandelbrot.nogil`` -> mandelbrot), or ``None``.

    Raises ``ValueError`` with one line for anything that is not an importable callable.
    """
    from gilfree.kernels import Kernel

    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"expected MODULE:FUNC, got {spec!r}")
    if ":" in spec:
        module_name, _, path = spec.partition(":")
        candidates = [(module_name, path)]
    else:  # time.sleep: the longest importable module prefix, the rest an attribute path
        parts = spec.split(".")
        candidates = [(".".join(parts[:i]), ".".join(parts[i:])) for i in range(len(parts) - 1, 0, -1)]
    error = f"expected MODULE:FUNC (such as time:sleep), got {spec!r}"
    for module_name, path in candidates:
        if not module_name or not path or not all(p.isidentifier() for p in path.split(".")):
            continue
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as exc:
            error = f"cannot import module {module_name!r}: {exc}"
            continue
        kernel = None
        for i, attr in enumerate(path.split(".")):
            try:
                obj = getattr(obj, attr)
            except AttributeError as exc:
                where = ".".join([module_name, *path.split(".")[:i]])
                raise ValueError(f"{where} has no attribute {attr!r}") from exc
            if isinstance(obj, Kernel):
                kernel = obj
        if not callable(obj):
            raise ValueError(f"{spec} is a {type(obj).__name__}, not a callable")
        return obj, kernel
    raise ValueError(error)
