"""What a process worker costs next to a thread: to start (claim 3) and in memory (claim 4)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import psutil

from gilfree.claims import _workers
from gilfree.claims._core import (
    FAILS,
    HOLDS,
    NOT_MEASURED,
    ONLY_IF,
    Claim,
    Figures,
    Verdict,
    fmt_mb,
    fmt_ms,
    fmt_x,
    ratio,
)
from gilfree.claims._procs import available_methods, no_leftovers
from gilfree.harness import median_of

MB = 1 << 20

#: At or below this many times a thread's start-up, a process start is "a bit slower".
#: Why: an order of magnitude is where "a bit" stops being a fair description.
A_BIT_X = 10.0
#: A process "has a larger footprint" when its own memory (USS) is at least this many times a
#: thread's, and at least LARGER_MB more. Why: a factor keeps noise in a tiny thread delta from
#: deciding; the floor in MB keeps two tiny figures from counting as "larger".
LARGER_X = 2.0
LARGER_MB = 1.0


# -- claim 3: spawning processes is a bit slower than spawning threads ----------------------------


def _thread_start_join() -> None:
    t = threading.Thread(target=int)
    t.start()
    t.join()


def _process_start_join(ctx: Any) -> None:
    # A standard-library target: the child imports nothing of gilfree's beyond what the
    # start method itself brings (for spawn: the parent's main module).
    p = ctx.Process(target=time.sleep, args=(0,))
    p.start()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f"a {ctx.get_start_method()} child failed to start (exit code {p.exitcode})")


def _median_ms(repeat: int, func: Callable[..., Any], *args: Any) -> float:
    """A start-up cost as a user meets it: the median (``gilfree.harness.timing`` says why)."""
    return median_of(repeat, func, *args) * 1e3


@contextlib.contextmanager
def _ballast(nbytes: int) -> Iterator[np.ndarray]:
    """``nbytes`` of NumPy memory in the parent, every page touched (so it is really resident)."""
    a = np.ones(nbytes // 8, dtype=np.float64)
    try:
        yield a
    finally:
        del a


def measure_start_cost(quick: bool) -> Figures:
    """Start-and-join of a thread, and of a process per start method, light parent and heavy."""
    reps = {"thread": 50, "fork": 8, "forkserver": 4, "spawn": 3} if quick else {
        "thread": 200, "fork": 20, "forkserver": 10, "spawn": 6}  # fmt: skip
    heavy = (256 if quick else 1024) * MB
    main = sys.modules.get("__main__")
    # spawn and forkserver children run the parent's main module again (its imports included).
    f: Figures = {
        "parent_heavy_mb": heavy / MB,
        "main_module": os.path.basename(getattr(main, "__file__", "") or "-"),
    }
    with no_leftovers():
        for load in ("light", "heavy"):
            with contextlib.ExitStack() as stack:
                if load == "heavy":
                    stack.enter_context(_ballast(heavy))
                f[f"thread_{load}_ms"] = _median_ms(reps["thread"], _thread_start_join)
                for method in available_methods():
                    if quick and load == "heavy" and method != "fork":
                        continue  # only fork copies the parent; the full run shows the others
                    ctx = mp.get_context(method)
                    if method == "forkserver" and load == "light":
                        # The first start also starts the fork server: counted apart.
                        t0 = time.perf_counter()
                        _process_start_join(ctx)
                        f["forkserver_first_ms"] = (time.perf_counter() - t0) * 1e3
                    ms = _median_ms(reps[method], _process_start_join, ctx)
                    f[f"{method}_{load}_ms"] = ms
                    f[f"{method}_{load}_vs_thread_x"] = ratio(ms, f[f"thread_{load}_ms"])
    return f


def _ratios(f: Figures) -> dict[str, dict[str, float]]:
    """{method: {"light": x, "heavy": x}}: each start method's cost in thread starts."""
    out: dict[str, dict[str, float]] = {}
    for key, x in f.items():
        if key.endswith("_vs_thread_x") and x is not None:
            method, load = key[: -len("_vs_thread_x")].rsplit("_", 1)
            out.setdefault(method, {})[load] = x
    return out


def verdict_start_cost(f: Figures) -> Verdict:
    r = _ratios(f)
    if not r:
        return Verdict(NOT_MEASURED, "no process start method available here")
    summary = ", ".join(f"{m} {fmt_x(x['light'])}" for m, x in r.items() if "light" in x)
    if "heavy" in r.get("fork", {}):
        summary += f"; fork from a {f['parent_heavy_mb']:.0f} MB parent {fmt_x(r['fork']['heavy'])}"
    # A method is "a bit slower" only if it stays so with a heavy parent too.
    cheap = [m for m, x in r.items() if max(x.values()) <= A_BIT_X]
    if len(cheap) == len(r):
        return Verdict(HOLDS, f"a process start costs {summary} a thread's")
    if not cheap:
        return Verdict(FAILS, f"over {A_BIT_X:g}x a thread's start every way: {summary}")
    return Verdict(
        ONLY_IF, f"a process start vs a thread's: {summary}", condition=f"you use {' or '.join(cheap)}"
    )


def headline_start_cost(f: Figures) -> str:
    parts = [f"thread {fmt_ms(f.get('thread_light_ms'))}"]
    parts += [f"{m} {fmt_ms(f[f'{m}_light_ms'])}" for m in available_methods() if f"{m}_light_ms" in f]
    if "fork_heavy_ms" in f:
        parts.append(f"fork, {f['parent_heavy_mb']:.0f} MB parent {fmt_ms(f['fork_heavy_ms'])}")
    return "; ".join(parts)


# -- claim 4: processes have a larger memory footprint --------------------------------------------


def _mem(info: Any) -> dict[str, float | None]:
    pss = getattr(info, "pss", None)
    return {"rss": info.rss / MB, "uss": info.uss / MB, "pss": None if pss is None else pss / MB}


def _thread_footprint(n: int = 8) -> dict[str, float | None]:
    """Memory that ``n`` idle threads add to this process, per thread."""
    me = psutil.Process()
    go, ready = threading.Event(), threading.Barrier(n + 1)

    def idle() -> None:
        ready.wait()
        go.wait()

    threads = [threading.Thread(target=idle, daemon=True) for _ in range(n)]
    before = _mem(me.memory_full_info())
    try:
        for t in threads:
            t.start()
        ready.wait(timeout=10)
        after = _mem(me.memory_full_info())
    finally:
        go.set()
        for t in threads:
            if t.ident is not None:
                t.join()
    return {k: None if after[k] is None else (after[k] - before[k]) / n for k in before}  # type: ignore[operator]


def _process_footprint(method: str) -> dict[str, float | None]:
    """Memory of one idle worker process that has imported NumPy and gilfree's kernels."""
    ctx = mp.get_context(method)
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_workers.idle, args=(child,), daemon=True)
    try:
        p.start()
        child.close()
        if not parent.poll(60):
            raise TimeoutError(f"a {method} worker did not start within 60 s")
        parent.recv()
        return _mem(psutil.Process(p.pid).memory_full_info())
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join()
        parent.close()


def measure_footprint(quick: bool) -> Figures:
    """RSS, USS and PSS of a thread (its delta), a forked worker and a spawned worker."""
    f: Figures = {"parent_rss_mb": psutil.Process().memory_info().rss / MB}
    for key, value in _thread_footprint().items():
        f[f"thread_{key}_mb"] = value
    with no_leftovers():
        for method in ("fork", "spawn"):
            if method not in available_methods():
                continue
            mem = _process_footprint(method)
            for key, value in mem.items():
                f[f"{method}_{key}_mb"] = value
            f[f"{method}_shared_mb"] = mem["rss"] - mem["uss"]  # type: ignore[operator]
            f[f"{method}_shared_frac"] = (mem["rss"] - mem["uss"]) / mem["rss"]  # type: ignore[operator]
    return f


def _larger(uss: float | None, thread_uss: float) -> bool:
    if uss is None:
        return False
    base = max(thread_uss, 0.0)
    return uss >= max(LARGER_X * base, base + LARGER_MB)


def verdict_footprint(f: Figures) -> Verdict:
    t = f["thread_uss_mb"]
    fork, spawn = f.get("fork_uss_mb"), f.get("spawn_uss_mb")
    own = f"own memory (USS): thread {fmt_mb(t)}, fork {fmt_mb(fork)}, spawn {fmt_mb(spawn)}"
    shared = ""
    if f.get("fork_shared_frac") is not None:
        shared = f"; {f['fork_shared_frac']:.0%} of a forked child's RSS is shared"
    fork_big, spawn_big = _larger(fork, t), _larger(spawn, t)
    if fork_big and spawn_big:
        return Verdict(HOLDS, own + shared)
    if spawn_big:
        return Verdict(ONLY_IF, own + shared, condition="processes are spawned, or memory is counted by RSS")
    if fork is None and spawn is None:
        return Verdict(NOT_MEASURED, "no process start method to measure here")
    return Verdict(FAILS, own + shared)


def headline_footprint(f: Figures) -> str:
    parts = [f"USS/RSS: thread {fmt_mb(f['thread_uss_mb'])}"]
    for m in ("fork", "spawn"):
        if f.get(f"{m}_uss_mb") is not None:
            parts.append(f"{m} {fmt_mb(f[f'{m}_uss_mb'])} / {fmt_mb(f[f'{m}_rss_mb'])}")
    if f.get("fork_shared_frac") is not None:
        parts.append(f"fork RSS shared {f['fork_shared_frac']:.0%}")
    return "; ".join(parts)


CLAIMS = [
    Claim(
        3,
        "Spawning processes is a bit slower than spawning threads.",
        measure_start_cost,
        verdict_start_cost,
        headline_start_cost,
    ),
    Claim(
        4,
        "Processes have a larger memory footprint.",
        measure_footprint,
        verdict_footprint,
        headline_footprint,
    ),
]
