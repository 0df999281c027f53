"""Functions that run in worker processes: module-level, so fork, forkserver and spawn can all
find them by name. Each one talks to its parent over a pipe and returns when told to."""

from __future__ import annotations

import time
from typing import Any


def idle(conn: Any) -> None:
    """Say "ready" once imported and settled, then wait for any message and exit.

    Why it imports NumPy and gilfree's kernels: a worker that runs gilfree's kernels pays for
    them, so that is what a process worker really costs in memory.
    """
    import numpy  # noqa: F401

    import gilfree.kernels  # noqa: F401

    conn.send("ready")
    conn.recv()
    conn.close()


def spin(conn: Any) -> None:
    """A pure-Python busy loop that never looks at a flag: only a signal can stop it."""
    conn.send("running")
    conn.close()
    i = 0
    while True:
        i += 1


def spin_on_go(conn: Any, seconds: float) -> int:
    """On "go", spin like :func:`spin_for`: CPU load that is not in the parent's interpreter.

    Started before the parent's heartbeat thread, so that nothing is forked from a process
    that runs threads.
    """
    conn.recv()
    conn.close()
    return spin_for(seconds)


def spin_for(seconds: float) -> int:
    """A pure-Python busy loop for ``seconds``."""
    clock = time.perf_counter
    end = clock() + seconds
    i = 0
    while clock() < end:
        i += 1
    return i


def receive_pickled(conn: Any) -> None:
    """Receive arrays by pickling through the pipe; answer each with its last element."""
    while True:
        msg = conn.recv()
        if msg is None:
            break
        conn.send(float(msg[-1]) if len(msg) else 0.0)
    conn.close()


def receive_shared(conn: Any) -> None:
    """Receive a ShmRef (gilfree's shared-memory transport); attach a NumPy view, no copy."""
    from gilfree.runners import _shm

    while True:
        ref = conn.recv()
        if ref is None:
            break
        attachments = _shm.Attachments()
        try:
            view = attachments.get(ref)
            last = float(view[-1]) if view.size else 0.0
            del view
        finally:
            attachments.release()
        conn.send(last)
    conn.close()


def echo_client(addr: tuple[str, int], requests: int, budget_s: float, gap_s: float, conn: Any) -> None:
    """On "go", time round trips of 64-byte messages to an echo server; send back the seconds.

    It runs in its own process so that only the server side lives under the parent's GIL.
    Requests are ``gap_s`` apart (untimed), as a server's clients are: so the server really
    waits for each one, rather than finding the next already there.
    """
    import socket

    msg = b"x" * 64
    rtts: list[float] = []
    try:
        conn.recv()  # "go": the server and whatever runs beside it are up
        with socket.create_connection(addr, timeout=10) as c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            end = time.perf_counter() + budget_s
            for _ in range(requests):
                t0 = time.perf_counter()
                echo_once(c, msg)
                rtts.append(time.perf_counter() - t0)
                if t0 > end:
                    break
                time.sleep(gap_s)
        conn.send(rtts)
    except BaseException as exc:
        conn.send(exc)
    finally:
        conn.close()


def echo_once(sock: Any, msg: bytes) -> None:
    """Send ``msg`` and read until as many bytes came back: one echo round trip."""
    sock.sendall(msg)
    got = 0
    while got < len(msg):
        chunk = sock.recv(len(msg))
        if not chunk:
            raise ConnectionError("the echo server closed the connection")
        got += len(chunk)


def cpu_during(seconds: float) -> float:
    """Spin for ``seconds`` of wall time; return the CPU seconds this process got meanwhile."""
    c0 = time.process_time()
    spin_for(seconds)
    return time.process_time() - c0
