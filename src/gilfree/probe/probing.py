"""Probing a callable: call it under the heartbeat, then judge; and naming one on the command line."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gilfree.probe.heartbeat import GilHold, idle_baseline, listen
from gilfree.probe.verdicts import Verdict, verdict

#: How long ``probe`` keeps calling, at least, so the heartbeat sees a few hundred ticks.
PROBE_MIN_TIME_S = 0.3


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
