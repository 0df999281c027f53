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
* **GIL wait p25 / p50 / p75 / max** (``gil_p75_ms``, ...): quantiles of each tick's
  lateness less its wait for a core, so what is left is the wait for the GIL. They equal the
  plain quantiles where the OS does not report the wait for a core. ``GilHold.ticks_ms``
  keeps every tick's (lateness, GIL wait), which the verdict weighs by time.
* **worker CPU wait fraction**: the same wait for a core, for the thread making the calls
  (:func:`listen` measures it): a worker that waits for a core while it holds the GIL makes
  the heartbeat late, and one waiting to take the GIL back leaves it free.

Only ticks that ran inside the measured window count (and were due before it closed): those
before it, while the heartbeat settles, saw no work, and would make a hold look partly free.

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
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import repeat, starmap
from typing import Any

#: How long ``idle_baseline`` listens to a plain ``time.sleep``.
IDLE_BASELINE_S = 0.1


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
    #: the tick three quarters of the ticks were later than; p25 and p50 of the GIL wait
    p25_ms: float | None = None
    gil_p25_ms: float | None = None
    gil_p50_ms: float | None = None
    #: share of the run the thread making the calls was ready but waiting for a core (Linux,
    #: measured by ``listen``; None where not measured)
    worker_cpu_wait_fraction: float | None = None
    #: the heartbeat's period, and each tick's (lateness, GIL wait) in ms; left out of
    #: ``to_dict`` (a JSON cell stays small): the verdict falls back to the quantiles without
    period_ms: float = 1.0
    ticks_ms: tuple[tuple[float, float], ...] = field(default=(), repr=False)

    @property
    def gil_wait_p25_ms(self) -> float:
        for x in (self.gil_p25_ms, self.p25_ms):
            if x is not None:
                return x
        return self.gil_wait_p50_ms

    @property
    def gil_wait_p50_ms(self) -> float:
        return self.p50_ms if self.gil_p50_ms is None else self.gil_p50_ms

    @property
    def gil_wait_p75_ms(self) -> float:
        return self.p75_ms if self.gil_p75_ms is None else self.gil_p75_ms

    @property
    def gil_wait_max_ms(self) -> float:
        return self.max_ms if self.gil_max_ms is None else self.gil_max_ms

    def to_dict(self, *, extra: bool = False) -> dict[str, Any]:
        """The figures as a dict: those of the comparison's JSON schema (``gilfree-compare/1``),
        and with ``extra`` the later ones too (the probe's JSON). Never the per-tick list."""
        d = asdict(self)
        del d["ticks_ms"]
        return d if extra else {k: v for k, v in d.items() if k in _SCHEMA_FIELDS}


#: The figures a comparison cell's JSON carries (``gilfree.report``'s schema).
_SCHEMA_FIELDS = frozenset(
    [
        "ticks",
        "duration_s",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "blocked_fraction",
        "p75_ms",
        "cpu_wait_fraction",
        "gil_p75_ms",
        "gil_max_ms",
        "short_slice",
    ]
)


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
        self._dues: list[float] = []
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
        dues: list[float] = []
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
                dues.append(due)
                if runqueue:
                    cur = runqueue.read()
                    waits.append((cur - prev) * 1e-9)
                    prev = cur
                due = now + period
        finally:
            if runqueue:
                runqueue.close()
            with self._lock:
                self._lateness, self._dues, self._cpu_wait = late, dues, waits

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
            raw, dues, waits = list(self._lateness), list(self._dues), list(self._cpu_wait)
        duration = max(self._t1 - self._t0, 1e-9)
        # A tick counts if it ran after the window opened (so it was kept waiting by the work,
        # if at all) and was due before it closed.
        keep = [i for i, due in enumerate(dues) if due + raw[i] >= self._t0 and due < self._t1]
        waits = [waits[i] for i in keep] if len(waits) == len(raw) else []
        raw = [raw[i] for i in keep]
        if not raw:
            return GilHold(
                0, duration, 0.0, 0.0, 0.0, 0.0, short_slice=self._short_slice, period_ms=self.period * 1e3
            )
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
            p25_ms=pct(late, 0.25),
            period_ms=self.period * 1e3,
        )
        gil_raw = raw
        if waits:
            gil_raw = [max(0.0, x - w) for x, w in zip(raw, waits, strict=True)]
            gil = sorted(gil_raw)
            hold.cpu_wait_fraction = min(1.0, sum(waits) / duration)
            hold.gil_p25_ms, hold.gil_p50_ms = pct(gil, 0.25), pct(gil, 0.50)
            hold.gil_p75_ms, hold.gil_max_ms = pct(gil, 0.75), gil[-1] * 1e3
        hold.ticks_ms = tuple((x * 1e3, g * 1e3) for x, g in zip(raw, gil_raw, strict=True))
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


def listen(
    call: Callable[[], Any], min_time: float, period: float = 0.001, *, batch: int = 1
) -> tuple[GilHold, int, Any]:
    """``call()`` over and over under a heartbeat until ``min_time`` seconds have passed.

    Returns the heartbeat's figures, the number of calls and the last call's value. The one
    listening loop: ``probe`` and the harness's listened run both use it, so a cell's GIL
    figures and a probe's are measured alike. The figures include this thread's own wait for
    a core (``worker_cpu_wait_fraction``) where the OS reports it.

    ``batch > 1`` makes ``batch`` calls at a time from C (``itertools.starmap`` drained by a
    ``collections.deque``), with no bytecode between them. Why: the interpreter hands the GIL
    over only between bytecodes, so a C function that keeps the GIL, called in a Python loop,
    lets another thread in after every call and reads like pure Python; called from C, it
    keeps the GIL for the whole batch, which the heartbeat cannot miss however short one call
    is. A releasing call still releases, and pure Python still hands over in slices.
    """
    if not (isinstance(batch, int) and batch >= 1):
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    calls = 0
    value = None
    clock = time.perf_counter
    worker = _RunQueueClock.for_this_thread()
    waited = 0
    try:
        with Heartbeat(period) as hb:
            waited = -worker.read() if worker else 0
            t0 = clock()
            while True:
                value = call() if batch == 1 else deque(starmap(call, repeat((), batch)), maxlen=1)[0]
                calls += batch
                if clock() - t0 >= min_time:
                    break
            waited += worker.read() if worker else 0
    finally:
        if worker:
            worker.close()
    hold = hb.result()
    if worker:
        hold.worker_cpu_wait_fraction = min(1.0, waited * 1e-9 / hold.duration_s)
    return hold, calls, value


def idle_baseline(duration: float = IDLE_BASELINE_S, period: float = 0.001) -> GilHold:
    """The heartbeat's figures while this thread only sleeps: the machine's own timer slack."""
    with Heartbeat(period) as hb:
        time.sleep(duration)
    return hb.result()
