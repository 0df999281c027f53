"""A comparison's results as data: cells, their figures, and the JSON round trip, in one place.

``compare`` fills these in, ``report`` renders them, ``compare --python`` reads them back from
each interpreter's JSON (:func:`from_dict`). :data:`FIELDS` documents every field that
:func:`to_dict` writes (``gilfree compare --json``); a test holds the two together.

Times are in seconds, ``null`` where a figure does not exist (a failed cell). A new field may be
added without changing :data:`SCHEMA`; a field removed or changing meaning gets a new number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from gilfree.probe import GilHold

SCHEMA = "gilfree-compare/1"

#: Every field of the JSON, by where it sits, with what it means.
FIELDS: dict[str, dict[str, str]] = {
    "": {
        "schema": 'the schema\'s name and number, "gilfree-compare/1"',
        "machine": "gilfree.info.collect() less the kernel list: versions, build, GIL, cores, compiler, "
        "instruction-set paths; and the memory-bound kernels against the read ceiling",
        "settings": "what was asked: kernels, variants, runners, workers, size, repeat, ...",
        "switch_interval_s": "sys.getswitchinterval() during the run",
        "idle": "the heartbeat's GIL-hold figures with nothing running: the baseline",
        "notes": "what was left out of the matrix, and why",
        "total_s": "the whole run, inputs and references included",
        "cells": "one object per cell, in table order",
        "recommendation": "compare --workload: what to run it on, drawn from the cells; null for kernels",
    },
    "machine": {
        "gilfree": "gilfree's version",
        "python": "the interpreter's version",
        "implementation": "CPython, ...",
        "executable": "the interpreter that ran",
        "build": '"gil" or "free-threaded"',
        "gil_enabled": "whether the GIL was on",
        "cores": "cores this process may run on",
        "platform": "platform.platform()",
        "machine": "platform.machine(): x86_64, aarch64, ...",
        "compiler": "the compiler the kernels were built with, read from the binary",
        "openmp": "whether the kernels were built with OpenMP",
        "openmp_version": "the OpenMP version (yyyymm), 0 without",
        "isa": 'the instruction-set path each kernel ran: {"sum_squares": "avx512", ...}',
        "isa_paths": "baseline: what the baseline is compiled for (sse2, neon); built: the paths "
        "this build has; cpu: the paths this CPU runs; forced: GILFREE_ISA, or null",
        "memory_bound": "only when sum_squares or histogram ran (gilfree.ceiling)",
        "interpreters": "compare --python: each interpreter's own machine facts (only then)",
    },
    "machine.memory_bound": {
        "method": "how the read ceiling was measured",
        "kernels": "one object per memory-bound kernel and size",
    },
    "machine.memory_bound.kernels[]": {
        "kernel": "sum_squares or histogram",
        "size": "the inputs' size",
        "bytes": "the bytes one run reads",
        "ceiling_gb_s": 'read GB/s of the same array by N threads: {"1": 30.2, "2": 41.0}; '
        "null when too small to time",
        "note": "why there is no ceiling, or null",
        "cells": "per cell: variant, runner, workers, gb_s (from its best run), of_ceiling "
        "(gb_s / the ceiling at its workers, at most the cores)",
    },
    "settings": {
        "kernels": "kernel names",
        "variants": "python, gil, nogil, openmp",
        "runners": "runner names",
        "workers": "worker counts",
        "size": "the size of every variant but python",
        "python_size": "the size the python variant ran at",
        "repeat": "timed rounds per cell",
        "gil_window_s": "how long each listened run lasted at least",
        "statistic": "how times and ratios were taken (gilfree.harness.timing)",
        "peers": "peer names, with --peers",
        "runner_options": "options per runner name, e.g. the dask scheduler",
        "pythons": "compare --python: the interpreters' labels (only then)",
        "workload": "compare --workload: the MODULE:OBJ (or name) measured; null for kernels",
    },
    "cells[]": {
        "kind": '"kernel" (a gilfree variant on a runner), "peer", or "workload" (the user\'s own)',
        "kernel": "the kernel, or the workload's name",
        "variant": 'python, gil, nogil, openmp; "peer" for a peer; "workload" for a workload',
        "runner": "the runner's name, or the peer's",
        "options": 'runner options that make the cell, e.g. {"n_workers": 1, "threads_per_worker": 2}',
        "workers": "workers (for dask: processes x threads)",
        "size": "the inputs' size (a workload's own label, e.g. \"64 items\")",
        "matched": "every run of the cell (listened and timed) matched the reference",
        "wall_s": "median wall time of the timed runs",
        "cpu_s": "median CPU time of the timed runs (all threads; for processes, the workers')",
        "wall_runs_s": "each timed run's wall time, in order",
        "cpu_runs_s": "each timed run's CPU time",
        "baseline_runs_s": "the baseline's runs interleaved with this cell's (null for a baseline)",
        "startup_s": "starting this cell's pool, not timed",
        "speedup": "best baseline run / best run of this cell, from interleaved rounds",
        "speedup_range": "[lowest, highest] of the paired ratios (round by round)",
        "efficiency": "speedup / workers",
        "flags": 'what makes the speed-up doubtful: "above workers", "noisy"',
        "gil": "the listened run's GIL-hold figures and verdict; null when the cell failed",
        "n_chunks": "chunks per run",
        "schedule": "static or dynamic",
        "serial_fallback": "the run went to the calling thread: too little work to dispatch",
        "start_method": "processes: fork, forkserver or spawn",
        "transport": "processes: shm or pickle; dask: scatter",
        "error": "one line, when the cell failed",
        "bytes_moved": "workload cells on processes or dask: bytes sent to the workers and back per run "
        "(pickled, or copied into shared memory and out again if writable); null elsewhere",
        "dispatch_s": "workload cells on a pool: one map of as many no-op chunks on that pool, best of 5",
        "interpreter": 'compare --python: the interpreter, e.g. "3.13.5t"',
    },
    "cells[].gil": {
        "ticks": "heartbeat wake-ups measured",
        "duration_s": "how long the heartbeat listened",
        "p50_ms": "median lateness",
        "p75_ms": "the lateness a quarter of the ticks exceeded",
        "p99_ms": "p99 lateness",
        "max_ms": "the worst lateness",
        "blocked_fraction": "share of the run the heartbeat could not run",
        "cpu_wait_fraction": "share it waited for a core (Linux; else null)",
        "gil_p75_ms": "p75 lateness less the wait for a core",
        "gil_max_ms": "worst lateness less the wait for a core",
        "short_slice": "the heartbeat got a 0.1 ms time slice (Linux 6.12+)",
        "verdict": 'releases, holds, "holds in slices"; null when the run could not show it',
    },
    "recommendation": {
        "runner": "the runner to use, or null: stay serial, or too noisy to tell",
        "workers": "its worker count (null with runner)",
        "speedup": "that cell's speed-up over serial (null with runner)",
        "reason": 'why, as a word: "releases", "holds", "gil off", "scales", "too little work", '
        '"no gain", "noisy"',
        "line": "the recommendation in one line, as printed under the table",
        "break_even_s": "runner -> work per chunk (s) from which it pays here, from its dispatch cost",
        "break_even_line": "the break-even as printed under the table",
        "others_cores": "cores other processes kept busy on average during the run (null: unknown)",
    },
}


@dataclass(frozen=True, order=True)
class Cell:
    """One cell of the matrix: what to run (not yet how it went), as structured keys."""

    kernel: str
    variant: str  # python, gil, nogil, openmp; "peer" for a peer
    runner: str  # a runner's name, or a peer's
    workers: int
    size: str
    kind: str = "kernel"
    #: runner options that make this cell, as sorted (name, value) pairs (hashable)
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def options_dict(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def label(self) -> str:
        """The runner as the table shows it: ``dask 1x2`` for a dask layout."""
        o = self.options_dict
        if "n_workers" in o and "threads_per_worker" in o:
            return f"{self.runner} {o['n_workers']}x{o['threads_per_worker']}"
        return self.runner

    @property
    def is_baseline(self) -> bool:
        """The serial one-worker cell of a variant (or a workload): what its other cells are
        measured against."""
        return self.kind in ("kernel", "workload") and self.runner == "serial" and self.workers == 1


def options_key(options: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((options or {}).items()))


@dataclass
class CellResult:
    """How one cell went. Times are in seconds; ``None`` where the cell failed."""

    kernel: str
    variant: str
    runner: str
    workers: int
    size: str
    matched: bool
    kind: str = "kernel"
    options: dict[str, Any] = field(default_factory=dict)
    wall_s: float | None = None
    cpu_s: float | None = None
    wall_runs_s: list[float] = field(default_factory=list)
    cpu_runs_s: list[float] = field(default_factory=list)
    baseline_runs_s: list[float] | None = None
    startup_s: float | None = None
    speedup: float | None = None
    speedup_range: list[float] | None = None
    efficiency: float | None = None
    flags: list[str] = field(default_factory=list)
    gil: GilHold | None = None
    gil_verdict: str | None = None  # None: the listened run could not show it
    n_chunks: int | None = None
    schedule: str | None = None
    serial_fallback: bool = False
    start_method: str | None = None
    transport: str | None = None
    error: str | None = None
    interpreter: str | None = None  # set by ``compare --python`` (gilfree.pythons)
    bytes_moved: int | None = None  # workload cells on processes or dask
    dispatch_s: float | None = None  # workload cells on a pool

    @property
    def cell(self) -> Cell:
        return Cell(
            self.kernel,
            self.variant,
            self.runner,
            self.workers,
            self.size,
            self.kind,
            options_key(self.options),
        )

    @property
    def label(self) -> str:
        return self.cell.label


@dataclass
class Comparison:
    """A finished matrix: machine facts, settings, the idle heartbeat, and one result per cell."""

    machine: dict[str, Any]
    settings: dict[str, Any]
    idle: GilHold
    switch_interval_s: float
    cells: list[CellResult]
    notes: list[str]
    total_s: float
    #: ``compare --workload``: :func:`gilfree.recommend.recommend`'s answer, as in the JSON
    recommendation: dict[str, Any] | None = None

    @property
    def all_matched(self) -> bool:
        return all(c.matched for c in self.cells)

    def kernels(self) -> list[str]:
        return list(dict.fromkeys(c.kernel for c in self.cells))


# -- the JSON round trip ----------------------------------------------------------------------


def _finite(obj: Any) -> Any:
    """NaN and infinities are not JSON: they become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def cell_to_dict(c: CellResult) -> dict[str, Any]:
    d = asdict(c)
    d["gil"] = None if c.gil is None else {**c.gil.to_dict(), "verdict": c.gil_verdict}
    del d["gil_verdict"]
    return d


def cell_from_dict(d: Mapping[str, Any], **override: Any) -> CellResult:
    d = dict(d)
    gil = d.pop("gil", None)
    verdict = None
    if gil is not None:
        gil = dict(gil)
        verdict = gil.pop("verdict", None)
        gil = GilHold(**gil)
    known = {f.name for f in fields(CellResult)}
    d = {k: v for k, v in d.items() if k in known}
    return CellResult(**{**d, **override}, gil=gil, gil_verdict=verdict)


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The comparison as JSON-ready data, following :data:`FIELDS`."""
    return _finite(
        {
            "schema": SCHEMA,
            "machine": comparison.machine,
            "settings": comparison.settings,
            "switch_interval_s": comparison.switch_interval_s,
            "idle": comparison.idle.to_dict(),
            "notes": comparison.notes,
            "total_s": comparison.total_s,
            "cells": [cell_to_dict(c) for c in comparison.cells],
            "recommendation": comparison.recommendation,
        }
    )


def from_dict(d: Mapping[str, Any], *, interpreter: str | None = None) -> Comparison:
    """The way back from :func:`to_dict` (``interpreter`` labels every cell, for ``--python``)."""
    if d.get("schema", SCHEMA) != SCHEMA:
        raise ValueError(f"expected a {SCHEMA} document, got schema {d.get('schema')!r}")
    extra = {} if interpreter is None else {"interpreter": interpreter}
    return Comparison(
        machine=dict(d["machine"]),
        settings=dict(d["settings"]),
        idle=GilHold(**d["idle"]),
        switch_interval_s=d["switch_interval_s"],
        cells=[cell_from_dict(c, **extra) for c in d["cells"]],
        notes=list(d["notes"]),
        total_s=d["total_s"],
        recommendation=d.get("recommendation"),
    )
