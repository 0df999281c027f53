"""The threads-vs-processes folklore, measured here: each claim a measurement and a verdict.

``run_claims(quick=True)`` measures every claim and judges it; ``CLAIMS`` lists them. Each
claim's verdict function is pure (figures in, verdict out), so the thresholds behind it can
be tested with made-up figures; the thresholds are named constants in the claim's module.

Nothing outlives a run: processes, threads, sockets and shared memory are released on
error and on Ctrl-C too, and multiprocessing's own helper processes (forkserver, resource
tracker) are stopped if the run started them.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable

from gilfree.claims import costs, gil, ipc, killing, latency, scale, subinterpreters
from gilfree.claims._core import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    KINDS,
    NOT_MEASURED,
    ONLY_IF,
    Claim,
    ClaimResult,
    Figures,
    Verdict,
    unit_of,
)
from gilfree.claims._procs import no_leftovers

CLAIMS: dict[int, Claim] = {
    c.number: c
    for c in sorted(
        gil.CLAIMS
        + costs.CLAIMS
        + ipc.CLAIMS
        + killing.CLAIMS
        + latency.CLAIMS
        + scale.CLAIMS
        + subinterpreters.CLAIMS,
        key=lambda c: c.number,
    )
}

__all__ = [
    "CLAIMS",
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "KINDS",
    "NOT_MEASURED",
    "ONLY_IF",
    "Claim",
    "ClaimResult",
    "Figures",
    "Verdict",
    "judge",
    "markdown_table",
    "parse_only",
    "run_claim",
    "run_claims",
    "unit_of",
]


def parse_only(text: str | Iterable[int] | None) -> list[int]:
    """Claim numbers from "1,3,5" (or an iterable of ints); None means all of them."""
    if text is None:
        return list(CLAIMS)
    items = text.split(",") if isinstance(text, str) else list(text)
    numbers = []
    for item in items:
        try:
            n = int(str(item).strip())
        except ValueError:
            raise ValueError(f"only must list claim numbers like 1,3,5; got {item!r}") from None
        if n not in CLAIMS:
            raise ValueError(f"there is no claim {n}; claims are numbered {min(CLAIMS)} to {max(CLAIMS)}")
        if n not in numbers:
            numbers.append(n)
    if not numbers:
        raise ValueError("only must name at least one claim")
    return numbers


def judge(claim: Claim, figures: Figures, seconds: float = 0.0) -> ClaimResult:
    """Apply a claim's verdict and headline to figures (measured, or loaded from JSON)."""
    return ClaimResult(claim, figures, claim.verdict(figures), seconds, headline=claim.headline(figures))


def run_claim(number: int, quick: bool = False) -> ClaimResult:
    """Measure and judge one claim. A failed measurement is reported, not raised (Ctrl-C is)."""
    claim = CLAIMS[parse_only([number])[0]]
    t0 = time.perf_counter()
    try:
        with no_leftovers():
            figures = claim.measure(quick)
    except Exception as exc:
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return ClaimResult(
            claim,
            {},
            Verdict(NOT_MEASURED, f"the measurement failed: {tb}"),
            time.perf_counter() - t0,
            error="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            headline="measurement failed",
        )
    return judge(claim, figures, time.perf_counter() - t0)


def run_claims(
    only: str | Iterable[int] | None = None,
    quick: bool = False,
    progress: Callable[[Claim, int, int], None] | None = None,
) -> list[ClaimResult]:
    """Measure and judge the claims in ``only`` (all by default), in order.

    ``progress(claim, index, total)`` is called before each claim is measured.
    """
    numbers = parse_only(only)
    results = []
    with no_leftovers():
        for i, n in enumerate(numbers):
            if progress is not None:
                progress(CLAIMS[n], i, len(numbers))
            results.append(run_claim(n, quick))
    return results


def markdown_table(results: Iterable[ClaimResult]) -> str:
    """The results as a GitHub Markdown table: claim, figure measured here, verdict and why."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    rows = ["| # | claim | measured here | verdict: why |", "| ---: | --- | --- | --- |"]
    for r in results:
        verdict = f"**{cell(r.verdict.label)}**: {cell(r.verdict.why)}"
        rows.append(f"| {r.claim.number} | {cell(r.claim.text)} | {cell(r.headline)} | {verdict} |")
    return "\n".join(rows)
