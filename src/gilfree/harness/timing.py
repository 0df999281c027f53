"""How gilfree times anything: warm-up, interleaved rounds, and the statistics, in one place.

Every timing that ``gilfree compare``, the benchmark suite, ``benchmarks/targets.py`` and the
claims report comes from :func:`interleave` (or :func:`measure`, its two-contender form).

* **A prepared call.** A contender is made ready once, outside every timed region (pools
  started, chunks cut, Numba compiled): :class:`Prepared`. Its ``call()`` is the timed region:
  the work, and the combining of its parts. Outputs are reset before a run and the result is
  checked after it, both untimed.
* **Interleaved rounds.** The host's speed drifts over a long run (another guest, turbo, the
  page cache): two series timed one after the other sample two stretches of it, and their ratio
  measures the drift as much as the code. So the contenders run in rounds, one run of each per
  round, the order reversed every other round (A B, B A, ...), and both series sample the same
  stretch of time.

The statistics, chosen once, here:

* A **time** shown to a user (``wall ms``, ``CPU ms``) is the **median** of the timed runs: what
  a run typically costs on this machine, which one stall neither hides nor shows.
* A **ratio** of two contenders (a speed-up, gilfree against a peer, a target) is the ratio of
  the **best** run of each interleaved series. Why: noise on a shared host only ever adds time,
  and it hits single runs (a stall of tens of milliseconds), so the fastest run of each series
  is the closest to what the code itself costs, and the interleaving keeps drift out of the
  comparison. Measured on the 2-core development machine (``python benchmarks/statistic.py``):
  see that script's docstring for the figures.
* The **spread** of a ratio is the lowest and highest of the paired ratios (round *i*'s
  baseline over round *i*'s run), reported beside it. A ratio above its worker count (by more
  than ``IMPOSSIBLE_MARGIN``) or with a spread wider than ``NOISY_SPREAD`` is **flagged**, not
  shown as fact.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A speed-up above ``workers x (1 + IMPOSSIBLE_MARGIN)`` is flagged "above workers". Why: N
#: workers cannot do more than N times the work; a few percent over it is within the timer's
#: and the host's noise (a memory-bound kernel can gain from the caches of two cores, but not
#: by more than that), anything more means the baseline ran in a slower stretch of time.
IMPOSSIBLE_MARGIN = 0.05
#: A ratio whose paired ratios spread over more than this share of it is flagged "noisy". Why:
#: on a quiet machine the paired ratios of a 100 ms cell lie within a few percent of each other;
#: a quarter means single runs were hit by stalls, and the best-of ratio may be one lucky run.
NOISY_SPREAD = 0.25

FLAG_ABOVE_WORKERS = "above workers"
FLAG_NOISY = "noisy"


@dataclass
class Done:
    """What one prepared call gave back."""

    value: Any
    #: CPU seconds spent elsewhere (worker processes); ``None``: read this process's clock
    cpu_s: float | None = None
    #: each chunk's wall time where it ran (empty: one call, no chunks)
    chunk_s: Sequence[float] = ()
    #: it ran in the calling thread: too little work to be worth dispatching
    inline: bool = False


def _nothing() -> None:
    return None


@dataclass
class Prepared:
    """A contender made ready: ``call()`` is the timed region, the rest stays outside it."""

    call: Callable[[], Done]
    #: before every run, untimed (outputs written in place are poisoned, so a check proves it)
    reset: Callable[[], None] = _nothing
    #: after a run, untimed: does the value match the reference? ``None``: nothing to check
    check: Callable[[Any], bool] | None = None
    label: str = ""


@dataclass
class Sample:
    """One timed run."""

    wall_s: float
    cpu_s: float
    done: Done
    matched: bool | None


def run_once(p: Prepared, *, reset: bool = True, check: bool = True) -> Sample:
    """Reset, time ``p.call()`` with the wall and CPU clocks, then check: one run."""
    if reset:
        p.reset()
    w0, c0 = time.perf_counter(), time.process_time()
    done = p.call()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    if done.cpu_s is not None:
        cpu = done.cpu_s
    matched = p.check(done.value) if check and p.check is not None else None
    return Sample(wall, cpu, done, matched)


@dataclass
class Series:
    """One contender's timed runs, in the order they ran."""

    samples: list[Sample] = field(default_factory=list)
    #: runs outside the series (warm-ups) that did not match the reference
    mismatches: int = 0

    @property
    def wall_s(self) -> list[float]:
        return [s.wall_s for s in self.samples]

    @property
    def cpu_s(self) -> list[float]:
        return [s.cpu_s for s in self.samples]

    @property
    def median_wall_s(self) -> float:
        return float(statistics.median(self.wall_s))

    @property
    def median_cpu_s(self) -> float:
        return float(statistics.median(self.cpu_s))

    @property
    def best_wall_s(self) -> float:
        return min(self.wall_s)

    @property
    def matched(self) -> bool:
        """Every checked run matched (a series with nothing to check counts as matched)."""
        return not self.mismatches and all(s.matched is not False for s in self.samples)

    @property
    def last(self) -> Done:
        return self.samples[-1].done


def interleave(
    prepared: dict[str, Prepared], repeat: int, *, warmup: int = 1, check: bool = True
) -> dict[str, Series]:
    """``warmup`` untimed runs of each, then ``repeat`` rounds of one timed run of each.

    The order is reversed every other round (A B, B A, ...), so that a drift in the host's
    speed during a round falls on both sides alike.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    names = list(prepared)
    series = {name: Series() for name in names}
    for _ in range(warmup):
        for name in names:
            if run_once(prepared[name], check=check).matched is False:
                series[name].mismatches += 1  # a wrong warm-up is a wrong cell too
    for r in range(repeat):
        for name in names if r % 2 == 0 else reversed(names):
            series[name].samples.append(run_once(prepared[name], check=check))
    return series


@dataclass
class Ratio:
    """``baseline / cell`` from interleaved series: the ratio of bests, its spread and flags."""

    value: float
    low: float
    high: float
    flags: list[str] = field(default_factory=list)

    @property
    def spread(self) -> float:
        """(highest - lowest paired ratio) / the ratio."""
        return (self.high - self.low) / self.value if self.value else float("inf")


def ratio(baseline: Series, cell: Series, workers: int | None = None) -> Ratio:
    """The speed-up of ``cell`` over ``baseline`` (see the module docstring), flagged where it
    cannot be true (above ``workers``) or is too noisy to judge."""
    value = baseline.best_wall_s / cell.best_wall_s
    paired = [b / c for b, c in zip(baseline.wall_s, cell.wall_s, strict=False) if c > 0]
    low, high = (min(paired), max(paired)) if paired else (value, value)
    out = Ratio(value, low, high)
    if workers is not None and value > workers * (1 + IMPOSSIBLE_MARGIN):
        out.flags.append(FLAG_ABOVE_WORKERS)
    if out.spread > NOISY_SPREAD:
        out.flags.append(FLAG_NOISY)
    return out


@dataclass
class Measurement:
    """A contender's series, and its ratio to the baseline it was interleaved with (if any)."""

    series: Series
    baseline: Series | None = None
    speedup: Ratio | None = None

    @property
    def matched(self) -> bool:
        return self.series.matched


def measure(
    cell: Prepared,
    baseline: Prepared | None = None,
    *,
    repeat: int,
    warmup: int = 1,
    workers: int | None = None,
) -> Measurement:
    """Time ``cell`` in rounds interleaved with ``baseline``; the speed-up of one over the other."""
    if baseline is None:
        return Measurement(interleave({"cell": cell}, repeat, warmup=warmup)["cell"])
    both = interleave({"baseline": baseline, "cell": cell}, repeat, warmup=warmup)
    return Measurement(both["cell"], both["baseline"], ratio(both["baseline"], both["cell"], workers))


def best_of(repeat: int, func: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """The fastest of ``repeat`` calls of one callable, in seconds (for ratios: see above)."""
    p = Prepared(lambda: Done(func(*args, **kwargs)))
    return interleave({"f": p}, max(1, repeat), warmup=0, check=False)["f"].best_wall_s


def median_of(repeat: int, func: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """The median of ``repeat`` calls of one callable, in seconds (for times: see above)."""
    p = Prepared(lambda: Done(func(*args, **kwargs)))
    return interleave({"f": p}, max(1, repeat), warmup=0, check=False)["f"].median_wall_s


def calls(funcs: dict[str, Callable[[], Any]]) -> dict[str, Prepared]:
    """Plain zero-argument callables as prepared contenders (nothing to reset or check)."""
    return {name: Prepared(lambda f=f: Done(f()), label=name) for name, f in funcs.items()}
