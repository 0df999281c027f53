"""What to run a workload on, drawn from its measured cells: :func:`recommend`, a pure function.

It reads only what the cells hold (speed-ups, flags, GIL verdicts, dispatch costs, bytes
moved), so it can be tested with made-up figures, and ``gilfree compare --workload`` prints
its answer under the table and writes it into the JSON (``recommendation``).

The answer is the fastest runner x workers, by how much, and why, in one line:

* "releases the GIL: threads x2 1.95x; processes pay 64 MB of copies a run"
* "holds the GIL (in slices, as pure Python does): threads gain nothing; processes x2 1.80x"
* "too little work per chunk: dispatch 40 µs against 12 µs of work; stay serial"
* "too noisy to tell: ..." when the harness flagged the figures the choice rests on.

and a second line with the break-even work per chunk from which each pool pays on this
machine: with ``n`` workers, ``n`` chunks of ``w`` seconds each take ``d + w`` on a pool whose
dispatch costs ``d``, against ``n * w`` serially, so the pool pays from ``w > d / (n - 1)``
(:func:`break_even` has the rule for more chunks than workers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gilfree.comparison import CellResult

#: A runner must beat serial by this factor to be recommended. Why: paired ratios of one cell
#: on a quiet 2-core host spread by a few percent run to run; a gain under 10% may not repeat,
#: and a pool costs start-up and memory that serial does not.
MIN_GAIN = 1.10
#: Threads are recommended over a faster runner whose speed-up is within this share of theirs,
#: or that one of their own rounds reached. Why: threads copy nothing and start in
#: microseconds; an edge within the run-to-run spread is not worth pickling the data for.
PREFER_THREADS_WITHIN = 0.05
#: Flagged cells within this share of the chosen speed-up (or the chosen cell itself, when
#: flagged) make the answer "too noisy to tell". Why: a speed-up is a ratio of best runs, the
#: optimistic end since noise only adds time, so a flagged cell more than 10% (the margin of
#: ``MIN_GAIN``) below the choice cannot overturn it however noisy its rounds were.
NOISY_NEAR = 0.10
#: Other processes keeping this many cores busy on average during the run make the answer
#: "too noisy to tell". Why: the figures cannot show it (a cell and its baseline slow down
#: alike, so paired ratios agree) but a quarter core taken from a 2-worker cell is an eighth
#: of its cores, more than the 10% gain (``MIN_GAIN``) a recommendation needs.
SHARED_CORES = 0.25
#: Copies are named in the line from this many bytes a run. Why: under a megabyte, copying
#: costs well under a millisecond at memory speed and explains no loss.
COPIES_WORTH_NAMING = 1_000_000

RELEASES, HOLDS, SLICES = "releases", "holds", "holds in slices"


@dataclass
class Recommendation:
    """The answer: a runner and worker count (``None``: stay serial, or cannot tell), and why."""

    runner: str | None
    workers: int | None
    speedup: float | None
    reason: str
    line: str
    break_even_s: dict[str, float] = field(default_factory=dict)
    break_even_line: str = ""
    others_cores: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt_time(seconds: float) -> str:
    """``4e-05`` -> ``40 µs``; ``0.0012`` -> ``1.2 ms``; ``2.5`` -> ``2.5 s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def fmt_bytes(n: int) -> str:
    """``64_000_000`` -> ``64 MB`` (decimal megabytes, as a disk or a network counts them)."""
    if n >= 10_000_000:
        return f"{n / 1e6:.0f} MB"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} kB"


def _cell(c: CellResult) -> str:
    return f"{c.label} x{c.workers} {c.speedup:.2f}x"


def _gil(cells: Sequence[CellResult], gil_enabled: bool) -> str | None:
    """The function's GIL behaviour: the serial cell's verdict (the function alone), else the
    threads cells' with the most workers; ``"gil off"`` on a free-threaded build without it."""
    if not gil_enabled:
        return "gil off"
    serial = [c for c in cells if c.runner == "serial" and c.workers == 1 and c.gil_verdict]
    threads = sorted((c for c in cells if c.runner == "threads" and c.gil_verdict), key=lambda c: -c.workers)
    first = next(iter([*serial, *threads]), None)
    return None if first is None else first.gil_verdict


def break_even(cells: Sequence[CellResult]) -> dict[str, float]:
    """Per pool runner, the work per chunk (s) from which it beats serial, at the largest worker
    count measured with a dispatch cost: ``c`` chunks of ``w`` on ``n`` workers take
    ``d + c w / n`` against ``c w``, so the pool pays from ``w > d n / (c (n - 1))`` (with one
    chunk a worker, ``d / (n - 1)``)."""
    out: dict[str, float] = {}
    for c in sorted(cells, key=lambda c: c.workers):
        if c.dispatch_s is not None and c.workers >= 2 and c.runner != "serial" and not c.options:
            chunks = max(c.n_chunks or c.workers, 1)
            out[c.runner] = c.dispatch_s * c.workers / (chunks * (c.workers - 1))
    return out


def _best(cells: Sequence[CellResult], runner: str | None = None) -> CellResult | None:
    pool = [c for c in cells if runner is None or c.runner == runner]
    return max(pool, key=lambda c: (c.speedup or 0.0, -c.workers), default=None)


def _tie(threads: CellResult, best: CellResult) -> bool:
    """Threads are as good as ``best``: within ``PREFER_THREADS_WITHIN`` of it, or reaching its
    speed-up in one of their own rounds (the rounds cannot tell the two apart); and a gain."""
    t, b = threads.speedup or 0.0, best.speedup or 0.0
    reached = threads.speedup_range is not None and threads.speedup_range[1] >= b
    return t >= MIN_GAIN and (t >= b * (1 - PREFER_THREADS_WITHIN) or reached)


def recommend(
    cells: Sequence[CellResult], *, gil_enabled: bool = True, others_cores: float | None = None
) -> Recommendation:
    """The runner x workers to use for a workload, why, and the break-even work per chunk.

    ``others_cores``: how many cores other processes kept busy on average while the cells
    ran (``None``: not known); above ``SHARED_CORES`` the answer is "too noisy to tell".
    """
    ok = [c for c in cells if c.error is None and c.speedup is not None and c.matched]
    pools = [c for c in ok if c.runner != "serial"]
    serial = next((c for c in ok if c.runner == "serial" and c.workers == 1), None)
    even = break_even(ok)
    even_line = ""
    if even:
        parts = [f"{r} from {fmt_time(s)}" for r, s in even.items()]
        even_line = f"break-even work per chunk here: {', '.join(parts)} (from the dispatch cost)"

    def answer(choice: CellResult | None, reason: str, line: str) -> Recommendation:
        if choice is None:
            return Recommendation(None, None, None, reason, line, even, even_line, others_cores)
        c = choice
        return Recommendation(c.runner, c.workers, c.speedup, reason, line, even, even_line, others_cores)

    if not pools:
        failed = [c for c in cells if c.runner != "serial"]
        why = "every pool cell failed" if failed else "only serial was measured"
        return answer(None, "no gain", f"nothing to compare: {why}")
    gil = _gil(ok, gil_enabled)
    best = _best(pools)
    assert best is not None and best.speedup is not None
    threads = _best(pools, "threads")
    procs = _best(pools, "processes")
    choice = best
    if threads is not None and _tie(threads, best):
        choice = threads
    assert choice.speedup is not None
    if others_cores is not None and others_cores > SHARED_CORES:
        return answer(
            None,
            "noisy",
            f"too noisy to tell: other processes kept {others_cores:.1f} cores busy during the run "
            f"(best here: {_cell(best)}); rerun on a quieter machine",
        )
    near = [c for c in pools if c.flags and (c.speedup or 0.0) >= choice.speedup * (1 - NOISY_NEAR)]
    if near:
        c = near[0]
        spread = ""
        if c.speedup_range:
            spread = f" ran from {c.speedup_range[0]:.2f}x to {c.speedup_range[1]:.2f}x round by round"
        return answer(
            None,
            "noisy",
            f"too noisy to tell: {c.label} x{c.workers}{spread or ' was flagged ' + ', '.join(c.flags)}; "
            "rerun on a quieter machine, or with more --repeat",
        )

    held = gil in (HOLDS, SLICES)
    held_words = "holds the GIL (in slices, as pure Python does)" if gil == SLICES else "holds the GIL"
    if choice.speedup < MIN_GAIN:
        return answer(None, *_stay_serial(best, threads, procs, serial, gil, held_words))

    copies = ""
    if procs is not None and procs.bytes_moved and procs.bytes_moved >= COPIES_WORTH_NAMING:
        copies = f"processes pay {fmt_bytes(procs.bytes_moved)} of copies a run ({_cell(procs)})"
    elif procs is not None:
        copies = _cell(procs)
    if choice.runner == "threads":
        head = {"gil off": "the GIL is off", RELEASES: "releases the GIL"}.get(gil or "", "threads scale")
        reason = {"gil off": "gil off", RELEASES: "releases"}.get(gil or "", "scales")
        tail = f"; {copies}" if copies and choice is not procs else ""
        return answer(choice, reason, f"{head}: {_cell(choice)}{tail}")
    if choice.runner == "processes":
        mine = f"processes x{choice.workers} {choice.speedup:.2f}x"
        if held:
            gain = threads is not None and (threads.speedup or 0.0) >= MIN_GAIN
            words = f"only {_cell(threads)}" if gain and threads else "threads gain nothing"
            return answer(choice, "holds", f"{held_words}: {words}; {mine}")
        against = f" against {_cell(threads)}" if threads else ""
        head = "releases the GIL, yet processes win" if gil == RELEASES else "processes win"
        return answer(choice, "scales", f"{head}: {mine}{against}")
    others = [_cell(threads) if threads else "", _cell(procs) if procs else ""]
    rest = "; ".join(o for o in others if o)
    return answer(choice, "scales", f"{_cell(choice)}" + (f"; {rest}" if rest else ""))


def _stay_serial(
    best: CellResult,
    threads: CellResult | None,
    procs: CellResult | None,
    serial: CellResult | None,
    gil: str | None,
    held_words: str,
) -> tuple[str, str]:
    """Why no pool pays: too little work per chunk, the GIL, or no gain at all (reason, line)."""
    # The pool that could have paid: threads if nothing says the GIL is held, else processes.
    pool = procs if gil in (HOLDS, SLICES) and procs is not None else threads or procs
    if pool is not None and serial is not None and serial.wall_s and pool.dispatch_s is not None:
        work = serial.wall_s / max(1, pool.n_chunks or pool.workers)
        if pool.dispatch_s > work:
            return (
                "too little work",
                f"too little work per chunk: dispatch {fmt_time(pool.dispatch_s)} against "
                f"{fmt_time(work)} of work; stay serial",
            )
    fastest = f"best: {_cell(best)}"
    if gil in (HOLDS, SLICES):
        copies = ""
        if procs is not None and procs.bytes_moved and procs.bytes_moved >= COPIES_WORTH_NAMING:
            copies = f", and processes pay {fmt_bytes(procs.bytes_moved)} of copies a run"
        return "holds", f"{held_words}: threads gain nothing{copies}; stay serial ({fastest})"
    return "no gain", f"no runner gains {MIN_GAIN:.2f}x over serial; stay serial ({fastest})"
