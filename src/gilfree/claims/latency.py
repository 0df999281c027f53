"""Claims about waiting: responsive UIs beside background work (8), and I/O-bound threads (9)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import socket
import socketserver
import statistics
import threading
import time
from collections.abc import Callable, Iterator

from gilfree.claims import _workers
from gilfree.claims._core import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    ONLY_IF,
    Claim,
    Figures,
    Verdict,
    fmt_ms,
    fmt_x,
    ratio,
)
from gilfree.claims._procs import default_method, no_leftovers
from gilfree.kernels import integrate
from gilfree.probe import Heartbeat

#: A UI stays responsive when its event loop is late by at most one frame at 60 Hz, 99 times
#: in 100. Why: that is the budget a smooth UI works to; beyond it a person sees stutter.
FRAME_MS = 1000 / 60
#: A round trip this many times slower beside a CPU-bound thread is a convoy. Why: 10x is far
#: beyond loopback noise (tens of microseconds) and well under what the GIL does (100x or more).
CONVOY_X = 10.0
#: N threads doing blocking I/O "scale" when they reach this share of N times one thread's
#: throughput. Why: the ideal is N; half of it still proves the waits overlapped.
IO_EFFICIENCY = 0.5
#: The thread count the verdict judges: present in quick and full runs, and few enough that
#: the Python work per request (client and server share this interpreter) stays well under
#: one core; the full run adds 64 threads to show where that ceiling lies.
JUDGED_THREADS = 16
#: Below this speed-up, N I/O threads did not overlap at all.
NO_OVERLAP_X = 1.3
#: Time between a client's requests in claim 8 (not timed). Why: with none, the next request
#: is often in the socket before the server thread lets go of the GIL, and the measurement
#: would depend on how fast the OS wakes the CPU-bound thread rather than on the GIL.
REQUEST_GAP_S = 0.001
#: Simulated service time of the loopback server in claim 9: a remote call's latency.
SERVICE_S = 0.002

BACKGROUNDS = ("idle", "python", "gil", "nogil", "process")


# -- claim 8: threads allow responsive UIs --------------------------------------------------------


def _kernel_calls(func: Callable[..., object], call_s: float, seconds: float) -> Callable[[], None]:
    """Repeated calls of integrate's ``gil`` or ``nogil`` core, each about ``call_s`` long."""
    n = max(1, int(call_s / (integrate.ns_per_unit * 1e-9)))

    def work() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            func(n, 0, n)

    return work


def _lateness(background: str, seconds: float, call_s: float) -> tuple[float, float]:
    """p99 and max heartbeat lateness (ms) while ``background`` runs for ``seconds``."""
    if background == "idle":
        with Heartbeat() as hb:
            time.sleep(seconds)
        r = hb.result()
        return r.p99_ms, r.max_ms
    if background == "process":
        ctx = mp.get_context(default_method())
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_workers.spin_on_go, args=(child, seconds), daemon=True)
        with no_leftovers():
            try:
                p.start()  # before the heartbeat thread exists: fork no running threads
                child.close()
                with Heartbeat() as hb:
                    parent.send("go")
                    p.join()
            finally:
                if p.is_alive():
                    p.kill()
                    p.join()
                parent.close()
        r = hb.result()
        return r.p99_ms, r.max_ms
    if background == "python":
        target: Callable[[], object] = lambda: _workers.spin_for(seconds)  # noqa: E731
    else:
        target = _kernel_calls(getattr(integrate, background), call_s, seconds)
    t = threading.Thread(target=target, daemon=True)
    with Heartbeat() as hb:
        t.start()
        t.join()
    r = hb.result()
    return r.p99_ms, r.max_ms


@contextlib.contextmanager
def _echo_thread(srv: socket.socket) -> Iterator[None]:
    """A thread that echoes one connection on ``srv``; joined on exit, unblocked if need be."""
    srv.settimeout(10)
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = srv.accept()
            held.append(conn)
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while data := conn.recv(64):
                    conn.sendall(data)

    t = threading.Thread(target=serve, name="gilfree-echo", daemon=True)
    t.start()
    try:
        yield
    finally:
        t.join(2)  # normally over: the client closed its end before reporting
        if t.is_alive():  # an error or Ctrl-C here: wake it from accept() or recv()
            for s in (*held, srv):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            t.join()


@contextlib.contextmanager
def _beside(kind: str) -> Iterator[None]:
    """A CPU-bound thread running beside the block: pure Python or a nogil kernel."""
    if kind == "alone":
        yield
        return
    stop = [False]

    def python() -> None:
        while not stop[0]:
            pass

    n = int(0.005 / (integrate.ns_per_unit * 1e-9))  # 5 ms calls

    def nogil() -> None:
        while not stop[0]:
            integrate.nogil(n, 0, n)

    t = threading.Thread(target=python if kind == "python" else nogil, daemon=True)
    t.start()
    try:
        time.sleep(0.01)
        yield
    finally:
        stop[0] = True
        t.join()


def _round_trips(kind: str, requests: int, budget_s: float) -> float:
    """Median round trip (ms) to an echo thread in this process, beside ``kind``.

    The client is another process, so the only GIL in the path is the server's, as when a
    thread serves the network. It is started before any thread here, and waits for "go".
    """
    ctx = mp.get_context(default_method())
    parent, child = ctx.Pipe()
    with no_leftovers(), contextlib.closing(socket.create_server(("127.0.0.1", 0))) as srv:
        addr = srv.getsockname()[:2]
        args = (addr, requests, budget_s, REQUEST_GAP_S, child)
        p = ctx.Process(target=_workers.echo_client, args=args, daemon=True)
        try:
            p.start()
            child.close()
            with _echo_thread(srv), _beside(kind):
                parent.send("go")
                if not parent.poll(budget_s + 30):
                    raise TimeoutError("the echo client did not report within its budget")
                rtts = parent.recv()
        finally:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
            parent.close()
    if isinstance(rtts, BaseException):
        raise rtts
    return statistics.median(rtts) * 1e3


def measure_responsiveness(quick: bool) -> Figures:
    """Heartbeat lateness beside each kind of background work; round trips beside a CPU thread."""
    seconds = 0.3 if quick else 1.0
    call_s = 0.05 if quick else 0.1
    f: Figures = {"window_s": seconds, "kernel_call_ms": call_s * 1e3}
    for bg in BACKGROUNDS:
        p99, mx = _lateness(bg, seconds, call_s)
        f[f"{bg}_p99_ms"], f[f"{bg}_max_ms"] = p99, mx
    budget = 0.5 if quick else 2.0
    for kind, n in (("alone", 300 if quick else 1000), ("python", 100 if quick else 300), ("nogil", 300)):
        f[f"rtt_{kind}_ms"] = _round_trips(kind, n, budget)
    f["convoy_python_x"] = ratio(f["rtt_python_ms"], f["rtt_alone_ms"])
    f["convoy_nogil_x"] = ratio(f["rtt_nogil_ms"], f["rtt_alone_ms"])
    return f


def verdict_responsiveness(f: Figures) -> Verdict:
    ok = {bg: f[f"{bg}_p99_ms"] <= FRAME_MS for bg in BACKGROUNDS}
    lat = ", ".join(f"{bg} {fmt_ms(f[f'{bg}_p99_ms'])}" for bg in BACKGROUNDS)
    why = f"p99 lateness: {lat}"
    if not ok["gil"]:
        why += f"; a GIL-holding call froze it for {fmt_ms(f['gil_max_ms'])}"
    convoy = f.get("convoy_python_x")
    if convoy is not None and convoy >= CONVOY_X:
        why += f"; I/O round trip {fmt_x(convoy)} slower beside a Python thread (convoy)"
    if not ok["idle"]:
        return Verdict(INCONCLUSIVE, f"even idle the loop was late: machine too busy ({why})")
    if all(ok.values()) and (convoy is None or convoy < CONVOY_X):
        return Verdict(HOLDS, why)
    if ok["nogil"] and ok["process"]:
        cond = "background work releases the GIL"
        if ok["python"]:
            cond = "background work is pure Python or releases the GIL"
        if convoy is not None and convoy >= CONVOY_X:
            cond += ", and latency-bound I/O is not beside CPU-bound Python"
        return Verdict(ONLY_IF, why, condition=cond)
    return Verdict(FAILS, why)


def headline_responsiveness(f: Figures) -> str:
    return (
        f"p99 late: idle {fmt_ms(f['idle_p99_ms'])}, Python {fmt_ms(f['python_p99_ms'])}, "
        f"gil {fmt_ms(f['gil_p99_ms'])}, nogil {fmt_ms(f['nogil_p99_ms'])}, process "
        f"{fmt_ms(f['process_p99_ms'])}; round trip {fmt_ms(f['rtt_alone_ms'])} -> "
        f"{fmt_ms(f['rtt_python_ms'])} beside Python"
    )


# -- claim 9: threads are a great option for I/O-bound applications -------------------------------


class _SlowEcho(socketserver.BaseRequestHandler):
    """Answer each 64-byte request after SERVICE_S: a remote service seen from the client."""

    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := self.request.recv(64):
            time.sleep(SERVICE_S)
            self.request.sendall(data)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False  # server_close() joins every handler thread
    block_on_close = True
    allow_reuse_address = True
    # The default backlog of 5 drops the SYNs of simultaneous clients beyond it, and TCP
    # retries them a whole second later: that, not the GIL, would cap the throughput.
    request_queue_size = 256


@contextlib.contextmanager
def _slow_server() -> Iterator[tuple[str, int]]:
    srv = _Server(("127.0.0.1", 0), _SlowEcho)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield srv.server_address[:2]
    finally:
        srv.shutdown()
        t.join()
        srv.server_close()


def _client(addr: tuple[str, int], requests: int, errors: list[BaseException]) -> None:
    msg = b"y" * 64
    try:
        with socket.create_connection(addr, timeout=10) as c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(requests):
                _workers.echo_once(c, msg)
    except BaseException as exc:
        errors.append(exc)


def _throughput(addr: tuple[str, int], threads: int, requests_each: int) -> float:
    """Requests a second that ``threads`` client threads get through, each blocking on I/O."""
    errors: list[BaseException] = []
    pool = [threading.Thread(target=_client, args=(addr, requests_each, errors)) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return threads * requests_each / elapsed


def measure_io(quick: bool) -> Figures:
    """Throughput of 1 and of N client threads against a loopback server that takes 2 ms a request."""
    counts = (1, 16) if quick else (1, 4, 16, 64)
    each = 25 if quick else 100
    f: Figures = {"service_ms": SERVICE_S * 1e3, "max_threads_n": counts[-1]}
    with _slow_server() as addr:
        for n in counts:
            f[f"threads_{n}_per_s"] = _throughput(addr, n, each)
    for n in counts[1:]:
        f[f"threads_{n}_x"] = f[f"threads_{n}_per_s"] / f["threads_1_per_s"]
    return f


def verdict_io(f: Figures) -> Verdict:
    n = JUDGED_THREADS
    x = f[f"threads_{n}_x"]
    why = (
        f"{n} threads did {fmt_x(x)} the requests a second of 1 thread "
        f"({f[f'threads_{n}_per_s']:.0f}/s vs {f['threads_1_per_s']:.0f}/s)"
    )
    most = f["max_threads_n"]
    if most != n:
        why += f", {most} threads {fmt_x(f[f'threads_{most}_x'])}"
    if x >= IO_EFFICIENCY * n:
        return Verdict(HOLDS, why + ": a blocking call releases the GIL")
    if x < NO_OVERLAP_X:
        return Verdict(FAILS, why + ": the waits did not overlap")
    return Verdict(INCONCLUSIVE, why + f": under {IO_EFFICIENCY:.0%} of ideal, machine busy?")


def headline_io(f: Figures) -> str:
    counts = dict.fromkeys((JUDGED_THREADS, f["max_threads_n"]))
    parts = [f"{n} threads {fmt_x(f[f'threads_{n}_x'])}" for n in counts]
    return f"requests/s over 1 thread ({f['threads_1_per_s']:.0f}/s): " + ", ".join(parts)


CLAIMS = [
    Claim(
        8,
        "Threads allow responsive UIs.",
        measure_responsiveness,
        verdict_responsiveness,
        headline_responsiveness,
    ),
    Claim(9, "Threads are a great option for I/O-bound applications.", measure_io, verdict_io, headline_io),
]
