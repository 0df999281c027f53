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
* **p50 and p75 lateness** (ms): the typical tick, and the tick a quarter of the ticks were
  later than. Idle or nogil they are the timer slack; when the GIL is held by pure Python they
  are about one switch interval (``sys.getswitchinterval()``), because the heartbeat gets
  the GIL only when the holder is forced to hand it over.
* **CPU wait fraction** (Linux): the share of the measured time the heartbeat was ready to
  run but waiting for a core, read from the kernel's per-thread scheduler statistics
  (``/proc/self/task/<tid>/schedstat``). About 0 on a quiet machine; on a busy one it says
  how much of the lateness was the machine's and not the GIL's. ``None`` elsewhere.
* **GIL wait p75 / max** (``gil_p75_ms``, ``gil_max_ms``): the p75 and maximum of each tick's
  lateness less its wait for a core, so what is left is the wait for the GIL. They equal the
  plain p75 and maximum where the OS does not report the wait for a core.

The heartbeat stands for a thread that must answer quickly (a UI, a server's accept loop), and
asks the OS what such a thread would ask: on Linux 6.12 and later, a short time slice
(``HEARTBEAT_SLICE_NS``, 0.1 ms, through ``sched_setattr``). Why: with every core busy with
nogil workers, the kernel's scheduler (EEVDF) otherwise lets a woken heartbeat wait for the
running worker's slice to end, seen at the next timer tick (4 ms at 250 Hz): measured on the
2-core development machine under 2 nogil threads (``python benchmarks/heartbeat.py --rounds
3``), 1-20 ticks in 1000 were 3 ms or more late without it (p99 up to 4.2 ms, the worst
21 ms), 0-7 with it (p99 up to 2.4 ms, the worst 6 ms). A short slice buys no more CPU, only an
earlier turn. ``GilHold.short_slice`` says whether it was granted (``None``: not Linux or not
tried).

Verdict: does a callable release the GIL?
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

import importlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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
    #: the tick a quarter of the ticks were later than (added after the others: keyword it)
    p75_ms: float = 0.0
    #: share of the run the heartbeat was ready but waiting for a core (Linux; None elsewhere)
    cpu_wait_fraction: float | None = None
    #: p75 and max of each tick's lateness less its wait for a core: the wait for the GIL
    #: (equal to ``p75_ms`` and ``max_ms`` where the OS does not say; see the module docstring)
    gil_p75_ms: float | None = None
    gil_max_ms: float | None = None
    #: whether the heartbeat got its short time slice (Linux 6.12+); None where not tried
    short_slice: bool | None = None

    @property
    def gil_wait_p75_ms(self) -> float:
        return self.p75_ms if self.gil_p75_ms is None else self.gil_p75_ms

    @property
    def gil_wait_max_ms(self) -> float:
        return self.max_ms if self.gil_max_ms is None else self.gil_max_ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Heartbeat:
    """Context manager: ``with Heartbeat() as hb: work(); hb.result()``.

    The thread starts on enter and stops on exit; it never outlives the ``with`` block.
    ``short_slice=False`` keeps the OS's default time slice (to measure what the short one
    buys: ``benchmarks/heartbeat.py``).
    """

    def __init__(self, period: float = 0.001, *, short_slice: bool = True) -> None:
        if not period > 0:
            raise ValueError(f"period must be > 0 seconds, got {period}")
        self.period = period
        self.short_slice = short_slice
        self._lateness: list[float] = []
        self._cpu_wait: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="gilfree-heartbeat", daemon=True)
        self._t0 = self._t1 = 0.0
        self._short_slice: bool | None = None

    def _beat(self) -> None:
        clock, sleep, period = time.perf_counter, time.sleep, self.period
        late: list[float] = []
        waits: list[float] = []
        self._short_slice = request_short_slice() if self.short_slice else None
        runqueue = _RunQueueClock.for_this_thread()
        try:
            self._started.set()
            prev = runqueue.read() if runqueue else 0
            due = clock() + period
            while not self._stop.is_set():
                sleep(max(0.0, due - clock()))
                now = clock()
                late.append(now - due)
                if runqueue:
                    cur = runqueue.read()
                    waits.append((cur - prev) * 1e-9)
                    prev = cur
                due = now + period
        finally:
            if runqueue:
                runqueue.close()
            with self._lock:
                self._lateness, self._cpu_wait = late, waits

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
            raw, waits = list(self._lateness), list(self._cpu_wait)
        duration = max(self._t1 - self._t0, 1e-9)
        if not raw:
            return GilHold(0, duration, 0.0, 0.0, 0.0, 0.0, short_slice=self._short_slice)
        late = sorted(raw)

        def pct(xs: list[float], q: float) -> float:
            return xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3

        blocked = sum(max(0.0, x - self.period) for x in late)
        hold = GilHold(
            ticks=len(late),
            duration_s=duration,
            p50_ms=pct(late, 0.50),
            p99_ms=pct(late, 0.99),
            max_ms=late[-1] * 1e3,
            blocked_fraction=min(1.0, blocked / duration),
            p75_ms=pct(late, 0.75),
            short_slice=self._short_slice,
        )
        if len(waits) == len(raw):
            gil = sorted(max(0.0, x - w) for x, w in zip(raw, waits, strict=True))
            hold.cpu_wait_fraction = min(1.0, sum(waits) / duration)
            hold.gil_p75_ms, hold.gil_max_ms = pct(gil, 0.75), gil[-1] * 1e3
        return hold


#: The time slice the heartbeat thread asks for, in ns (Linux accepts 0.1 ms to 100 ms).
HEARTBEAT_SLICE_NS = 100_000
#: ``sched_setattr``'s number per machine; elsewhere the heartbeat does not ask.
_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}


def request_short_slice(slice_ns: int = HEARTBEAT_SLICE_NS) -> bool | None:
    """Ask Linux for a short time slice for the calling thread; whether it was granted.

    Keeps the thread's policy and nice value. ``None`` where there is nothing to ask (not
    Linux, an unknown machine, a policy other than the default) or no way to read the answer
    back; ``False`` where the kernel refused or kept its own slice (before 6.12 it ignores the
    request), read back from ``/proc/self/task/<tid>/sched``. See the module docstring for why.
    """
    number = _SCHED_SETATTR.get(os.uname().machine) if sys.platform.startswith("linux") else None
    if number is None or os.sched_getscheduler(0) != os.SCHED_OTHER:
        return None
    import ctypes

    class SchedAttr(ctypes.Structure):  # struct sched_attr, SCHED_ATTR_SIZE_VER0 (48 bytes)
        _fields_ = [
            ("size", ctypes.c_uint32), ("policy", ctypes.c_uint32), ("flags", ctypes.c_uint64),
            ("nice", ctypes.c_int32), ("priority", ctypes.c_uint32), ("runtime", ctypes.c_uint64),
            ("deadline", ctypes.c_uint64), ("period", ctypes.c_uint64),
        ]  # fmt: skip

    nice = os.getpriority(os.PRIO_PROCESS, 0)  # on Linux, the calling thread's
    attr = SchedAttr(ctypes.sizeof(SchedAttr), os.SCHED_OTHER, 0, nice, 0, slice_ns, 0, 0)
    try:
        if ctypes.CDLL(None, use_errno=True).syscall(number, 0, ctypes.byref(attr), 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    try:  # the kernel's own record (kernels built without scheduler statistics have none)
        with open(f"/proc/self/task/{threading.get_native_id()}/sched") as f:
            line = next((x for x in f if x.startswith("se.slice")), "")
    except OSError:
        return None
    return line.split(":")[-1].strip() == str(slice_ns) if line else None


class _RunQueueClock:
    """This thread's total wait for a core (ns), from Linux's ``/proc/thread-self/schedstat``.

    Its second field is the time the thread was runnable but not running. It is read with
    libc's ``pread`` through ``ctypes.PyDLL``, which keeps the GIL held: ``os.pread`` would
    release it, and the heartbeat would then have to win the GIL twice per tick.
    """

    def __init__(self, fd: int, pread: Any) -> None:
        import ctypes

        self._fd, self._pread = fd, pread
        self._buf = ctypes.create_string_buffer(128)

    @classmethod
    def for_this_thread(cls) -> _RunQueueClock | None:
        """A clock for the calling thread, or None where the OS does not keep one."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            import ctypes

            fd = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
        except (OSError, ImportError):
            return None
        try:
            pread = ctypes.PyDLL(None).pread
            pread.restype = ctypes.c_ssize_t
            pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]
            clock = cls(fd, pread)
            clock.read()
        except (OSError, AttributeError, ValueError, IndexError):
            os.close(fd)
            return None
        return clock

    def read(self) -> int:
        n = self._pread(self._fd, self._buf, len(self._buf), 0)
        if n <= 0:
            raise OSError(f"reading schedstat gave {n}")
        return int(self._buf.raw[:n].split()[1])

    def close(self) -> None:
        os.close(self._fd)


def listen(call: Callable[[], Any], min_time: float, period: float = 0.001) -> tuple[GilHold, int, Any]:
    """``call()`` over and over under a heartbeat until ``min_time`` seconds have passed.

    Returns the heartbeat's figures, the number of calls and the last call's value. The one
    listening loop: ``probe`` and the harness's listened run both use it, so a cell's GIL
    figures and a probe's are measured alike.
    """
    calls = 0
    value = None
    clock = time.perf_counter
    with Heartbeat(period) as hb:
        t0 = clock()
        while True:
            value = call()
            calls += 1
            if clock() - t0 >= min_time:
                break
    return hb.result(), calls, value


# -- the verdict ---------------------------------------------------------------------------

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
#: How long ``probe`` keeps calling, at least, so the heartbeat sees a few hundred ticks.
PROBE_MIN_TIME_S = 0.3
#: How long the idle baseline listens to a plain ``time.sleep``.
IDLE_BASELINE_S = 0.1


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


def idle_baseline(duration: float = IDLE_BASELINE_S, period: float = 0.001) -> GilHold:
    """The heartbeat's figures while this thread only sleeps: the machine's own timer slack."""
    with Heartbeat(period) as hb:
        time.sleep(duration)
    return hb.result()


# -- probing a callable ----------------------------------------------------------------------


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
    per_call_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.per_call_s = self.hold.duration_s / max(self.calls, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verdict": self.verdict.label,
            "reason": self.verdict.reason,
            "calls": self.calls,
            "per_call_s": self.per_call_s,
            "switch_interval_s": self.switch_interval_s,
            "gil_enabled": self.gil_enabled,
            "figures": self.hold.to_dict(),
            "idle": self.idle.to_dict(),
        }


def probe(
    func: Callable[..., Any],
    *args: Any,
    min_time: float = PROBE_MIN_TIME_S,
    period: float = 0.001,
    target: str | None = None,
    **kwargs: Any,
) -> ProbeResult:
    """Does ``func(*args, **kwargs)`` release the GIL? Call it under a heartbeat until at least
    ``min_time`` seconds have passed (so the heartbeat sees enough ticks), then judge.

    The idle baseline is measured just before, on the same machine state.
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    if not (isinstance(min_time, (int, float)) and min_time > 0):
        raise ValueError(f"min_time must be > 0 seconds, got {min_time!r}")
    idle = idle_baseline(period=period)
    hold, calls, _ = listen(lambda: func(*args, **kwargs), min_time, period)
    si = sys.getswitchinterval()
    return ProbeResult(
        target=target or getattr(func, "__qualname__", repr(func)),
        calls=calls,
        hold=hold,
        idle=idle,
        switch_interval_s=si,
        verdict=verdict(hold, idle, si),
        gil_enabled=getattr(sys, "_is_gil_enabled", lambda: True)(),
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
