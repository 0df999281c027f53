"""What every claim is made of: a measurement, a pure verdict, and the figures between them.

A measurement returns raw figures as a flat dict whose keys end in their unit (``_ms``,
``_x``, ...; see :data:`UNITS`), so the JSON carries the units and a verdict function can be
tested with synthetic figures. A verdict function is pure: figures in, :class:`Verdict` out,
with thresholds that are named constants in the claim's module.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Figures = dict[str, Any]

#: Unit of a figure, read from the end of its key (longest suffix first).
UNITS: dict[str, str] = {
    "_per_s": "1/s",
    "_gbps": "GB/s",
    "_frac": "fraction",
    "_ms": "ms",
    "_us": "us",
    "_mb": "MB",
    "_s": "s",
    "_x": "x (ratio)",
    "_n": "count",
}

#: Verdict kinds. ``inconclusive`` is for figures that fall between the thresholds (a noisy
#: machine); ``not measured`` is for a claim this interpreter or install cannot measure.
HOLDS = "holds"
FAILS = "does not hold"
ONLY_IF = "holds only if"
INCONCLUSIVE = "inconclusive"
NOT_MEASURED = "not measured"
KINDS = (HOLDS, FAILS, ONLY_IF, INCONCLUSIVE, NOT_MEASURED)


def unit_of(key: str) -> str:
    """The unit a figure's key names; "" for flags and labels (bool or str values)."""
    for suffix in sorted(UNITS, key=len, reverse=True):
        if key.endswith(suffix):
            return UNITS[suffix]
    return ""


@dataclass(frozen=True)
class Verdict:
    """``kind`` is one of :data:`KINDS`; ``condition`` completes "holds only if ..."."""

    kind: str
    why: str
    condition: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if (self.kind == ONLY_IF) != bool(self.condition):
            raise ValueError("a condition goes with kind 'holds only if', and only with it")

    @property
    def label(self) -> str:
        return f"{ONLY_IF} {self.condition}" if self.kind == ONLY_IF else self.kind


@dataclass(frozen=True)
class Claim:
    """One piece of folklore: how to measure it, how to judge it, and its headline figure."""

    number: int
    text: str  # the claim, in a short paraphrase
    measure: Callable[[bool], Figures]  # measure(quick) -> figures
    verdict: Callable[[Figures], Verdict]
    headline: Callable[[Figures], str]  # the figure measured here, with its unit


@dataclass
class ClaimResult:
    claim: Claim
    figures: Figures
    verdict: Verdict
    seconds: float
    error: str | None = None
    headline: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.claim.number,
            "claim": self.claim.text,
            "figure": self.headline,
            "verdict": self.verdict.label,
            "kind": self.verdict.kind,
            "why": self.verdict.why,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "figures": {k: {"value": v, "unit": unit_of(k)} for k, v in self.figures.items()},
        }


# -- small measuring helpers shared by the claims ---------------------------------------------


def median(values: list[float]) -> float:
    """The median of figures already measured (timing itself is ``gilfree.harness``'s)."""
    return statistics.median(values) if values else float("nan")


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_x(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.1f} ms"
    if ms >= 0.001:
        return f"{ms * 1e3:.0f} us"
    return f"{ms * 1e6:.0f} ns"


def fmt_gbps(gbps: float | None) -> str:
    if gbps is None:
        return "n/a"
    return f"{gbps:.1f} GB/s" if gbps >= 1 else f"{gbps:.2g} GB/s"


def fmt_mb(mb: float | None) -> str:
    if mb is None:
        return "n/a"
    return f"{mb:.1f} MB" if abs(mb) < 100 else f"{mb:.0f} MB"


def fmt_bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} B"
