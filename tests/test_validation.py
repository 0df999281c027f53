"""The probe against callables no one here wrote: the standard library and NumPy.

Each case's expected verdict comes from its C source, cited in ``why``: the function that
does the work, and whether it calls ``Py_BEGIN_ALLOW_THREADS`` (NumPy:
``NPY_BEGIN_ALLOW_THREADS`` / ``NPY_BEGIN_THREADS*``) around it. CPython citations are to
CPython 3.13.5's source (``Modules/...``); the 3.11 to 3.14 releases make the same choices
for these calls. NumPy citations are to NumPy 2.x (``numpy/_core/src/...``).

The set mixes calls shorter than the default 5 ms switch interval (marked ``short``) with
long ones, releasing and holding alike, and pure Python. It is robust on a busy 2-core
machine: the probe takes each tick's wait for a core out of its figures and measures again
when the machine was too busy to tell, and each case is asked up to ``TRIES`` times, stopping
at the expected verdict (a busy spell makes a call look less free, never more). A case the
machine never lets the probe measure (only "inconclusive") is skipped, with the reason: that
is not a wrong verdict.

``python -m tests.test_validation --runs 3`` prints the README's table of expected and
measured verdicts.
"""

from __future__ import annotations

import bz2
import hashlib
import json
import math
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest

from gilfree import probe
from gilfree.probe import HOLDS, HOLDS_IN_SLICES, INCONCLUSIVE, PARTLY_RELEASES, RELEASES

pytestmark = [
    pytest.mark.thread_unsafe(reason="a heartbeat thread times its own lateness"),
    pytest.mark.slow,
]

#: How many conclusive measurements a case gets, at most, before its last verdict is taken ...
TRIES = 3
#: ... and how many inconclusive ones (the machine too busy) it waits out, a pause apart.
BUSY_TRIES = 6
BUSY_PAUSE_S = 0.5


def gil_enabled() -> bool:
    return getattr(sys, "_is_gil_enabled", lambda: True)()


@cache
def data() -> dict[str, Any]:
    """The inputs, made once on first use (not at import: collection stays fast)."""
    rng = np.random.default_rng(0)
    floats = rng.random(300_000).tolist()
    return {
        "8M": rng.bytes(8 << 20),
        "1M": rng.bytes(1 << 20),
        "256K": rng.bytes(256 << 10),
        "2000B": rng.bytes(2000),
        "floats": floats,
        "A": rng.random((400, 400)),
        "x": rng.random(1_000_000),
        "x_small": rng.random(100_000),
        "objects": rng.random(20_000).astype(object),
        "json": json.dumps(floats[:50_000]),
        "zeros.z": zlib.compress(bytes(64 << 20), 1),
    }


@dataclass(frozen=True)
class Case:
    """A callable, its expected verdict, and the C source that says so."""

    name: str
    call: Callable[[], tuple[Callable[..., Any], tuple[Any, ...]]]
    expect: str
    why: str
    short: bool = False  # shorter than the default 5 ms switch interval


CASES = [
    # -- releases ---------------------------------------------------------------------------
    Case(
        "time.sleep(0.3)",
        lambda: (time.sleep, (0.3,)),
        RELEASES,
        "Modules/timemodule.c pysleep(): Py_BEGIN_ALLOW_THREADS around clock_nanosleep()/select()",
    ),
    Case(
        "time.sleep(0.0002)",
        lambda: (time.sleep, (0.0002,)),
        RELEASES,
        "the same pysleep(), for 0.2 ms",
        short=True,
    ),
    Case(
        "hashlib.sha256(8 MiB)",
        lambda: (hashlib.sha256, (data()["8M"],)),
        RELEASES,
        "Modules/_hashopenssl.c _hashlib_HASH(): Py_BEGIN_ALLOW_THREADS around EVP_hash() when "
        "view.len >= HASHLIB_GIL_MINSIZE (2048, Modules/hashlib.h)",
    ),
    Case(
        "hashlib.sha256(256 KiB)",
        lambda: (hashlib.sha256, (data()["256K"],)),
        RELEASES,
        "the same branch of _hashlib_HASH(), about 0.1 ms a call",
        short=True,
    ),
    Case(
        "zlib.compress(8 MiB)",
        lambda: (zlib.compress, (data()["8M"],)),
        RELEASES,
        "Modules/zlibmodule.c zlib_compress_impl(): Py_BEGIN_ALLOW_THREADS around deflate()",
    ),
    Case(
        "zlib.crc32(8 MiB)",
        lambda: (zlib.crc32, (data()["8M"],)),
        RELEASES,
        "Modules/zlibmodule.c zlib_crc32_impl(): Py_BEGIN_ALLOW_THREADS around the crc32() loop "
        "when data->len > 1024*5",
        short=True,
    ),
    Case(
        "bz2.compress(1 MiB)",
        lambda: (bz2.compress, (data()["1M"],)),
        RELEASES,
        "Lib/bz2.py compress() -> Modules/_bz2module.c compress(): Py_BEGIN_ALLOW_THREADS around "
        "BZ2_bzCompress()",
    ),
    Case(
        "np.dot(400x400 float64)",
        lambda: (np.dot, (data()["A"], data()["A"])),
        RELEASES,
        "numpy/_core/src/common/cblasfuncs.c cblas_matrixproduct(): NPY_BEGIN_ALLOW_THREADS around gemm()",
        short=True,
    ),
    Case(
        "np.sort(1e6 float64)",
        lambda: (np.sort, (data()["x"],)),
        RELEASES,
        "numpy/_core/src/multiarray/item_selection.cpp _new_sortlike(): "
        "NPY_BEGIN_THREADS_DESCR, which releases unless the dtype needs the Python API",
    ),
    Case(
        "np.sqrt(1e5 float64)",
        lambda: (np.sqrt, (data()["x_small"],)),
        RELEASES,
        "numpy/_core/src/umath/ufunc_object.c try_trivial_single_output_loop(): "
        "NPY_BEGIN_THREADS_THRESHOLDED unless the loop needs the Python API",
        short=True,
    ),
    # -- holds: C code that keeps the GIL ---------------------------------------------------
    Case(
        "math.factorial(100_000)",
        lambda: (math.factorial, (100_000,)),
        HOLDS,
        "Modules/mathmodule.c math_factorial() and the long multiplications of "
        "Objects/longobject.c: no Py_BEGIN_ALLOW_THREADS in either file",
    ),
    Case(
        "math.factorial(15_000)",
        lambda: (math.factorial, (15_000,)),
        HOLDS,
        "the same, about 3-5 ms a call (read as 'holds in slices' before issue 16)",
        short=True,
    ),
    Case(
        "math.factorial(2_000)",
        lambda: (math.factorial, (2_000,)),
        HOLDS,
        "the same, under 0.1 ms a call",
        short=True,
    ),
    Case(
        "sorted(3e5 floats)",
        lambda: (sorted, (data()["floats"],)),
        HOLDS,
        "Python/bltinmodule.c builtin_sorted() -> Objects/listobject.c list_sort_impl(): no "
        "Py_BEGIN_ALLOW_THREADS in either file",
    ),
    Case(
        "sorted(5000 floats)",
        lambda: (sorted, (data()["floats"][:5000],)),
        HOLDS,
        "the same, about 0.3 ms a call",
        short=True,
    ),
    Case(
        "sum(range(200_000))",
        lambda: (sum, (range(200_000),)),
        HOLDS,
        "Python/bltinmodule.c builtin_sum_impl(): no Py_BEGIN_ALLOW_THREADS",
        short=True,
    ),
    Case(
        "sum(range(5000))",
        lambda: (sum, (range(5000),)),
        HOLDS,
        "the same, about 0.05 ms a call",
        short=True,
    ),
    Case(
        "hashlib.sha256(2000 B)",
        lambda: (hashlib.sha256, (data()["2000B"],)),
        HOLDS,
        "Modules/_hashopenssl.c _hashlib_HASH(): below HASHLIB_GIL_MINSIZE (2048) EVP_hash() "
        "runs in the else branch, with the GIL held; a few microseconds a call",
        short=True,
    ),
    Case(
        "json.loads(50k floats)",
        lambda: (json.loads, (data()["json"],)),
        HOLDS,
        "Lib/json/decoder.py raw_decode() -> Modules/_json.c scanner_call() / "
        "scan_once_unicode(): no Py_BEGIN_ALLOW_THREADS in _json.c",
    ),
    Case(
        "np.array(list of 20k floats)",
        lambda: (np.array, (data()["floats"][:20_000],)),
        HOLDS,
        "numpy/_core/src/multiarray/array_coercion.c PyArray_DiscoverDTypeAndShape() and "
        "PyArray_AssignFromCache(): read each Python float through the C API, with the GIL",
        short=True,
    ),
    Case(
        "np.sort(20k objects)",
        lambda: (np.sort, (data()["objects"],)),
        HOLDS,
        "_new_sortlike(): NPY_BEGIN_THREADS_DESCR does not release for the object dtype "
        "(NPY_NEEDS_PYAPI); the comparisons call PyObject_RichCompare",
    ),
    # -- holds in slices: pure Python -------------------------------------------------------
    Case(
        "statistics.mean(3e5 floats)",
        lambda: (statistics.mean, (data()["floats"],)),
        HOLDS_IN_SLICES,
        "Lib/statistics.py mean() -> _sum(): a Python loop over the data (bytecode)",
    ),
    Case(
        "statistics.mean(1000 floats)",
        lambda: (statistics.mean, (data()["floats"][:1000],)),
        HOLDS_IN_SLICES,
        "the same, about 0.25 ms a call",
        short=True,
    ),
    # -- partly releases --------------------------------------------------------------------
    Case(
        "zlib.decompress(64 MiB of zeros)",
        lambda: (zlib.decompress, (data()["zeros.z"],)),
        PARTLY_RELEASES,
        "Modules/zlibmodule.c zlib_decompress_impl(): Py_BEGIN_ALLOW_THREADS around each "
        "inflate(), but OutputBuffer_Finish() -> _BlocksOutputBuffer_Finish() "
        "(Include/internal/pycore_blocks_output_buffer.h) allocates the 64 MiB result and "
        "memcpy()s every block into it with the GIL held",
    ),
]


def expected(case: Case) -> str:
    """With the GIL off (a free-threaded build), nothing holds it."""
    return case.expect if gil_enabled() else RELEASES


def probe_case(case: Case, tries: int = TRIES) -> tuple[list[str], probe.ProbeResult]:
    """Probe up to ``tries`` times, stopping at the expected verdict; the verdicts and the last
    result. An inconclusive measurement (too busy a machine) is not counted, up to
    ``BUSY_TRIES`` of them, with a pause before the next: a busy spell may pass."""
    func, args = case.call()
    seen: list[str] = []
    busy = 0
    while len(seen) - busy < tries and busy < BUSY_TRIES:
        result = probe.probe(func, *args, target=case.name, tries=1)
        seen.append(result.verdict.label)
        if seen[-1] == expected(case):
            break
        if seen[-1] == INCONCLUSIVE:
            busy += 1
            time.sleep(BUSY_PAUSE_S)
    return seen, result


#: Verdicts a case must never get, whatever the machine does: a call that holds is never
#: "releases", and the reverse.
NEVER = {RELEASES: {HOLDS, HOLDS_IN_SLICES}, HOLDS: {RELEASES}, HOLDS_IN_SLICES: {RELEASES}}


def test_the_set_is_wide_enough():
    assert len(CASES) >= 15
    kinds = {(c.expect, c.short) for c in CASES}
    assert {(RELEASES, True), (HOLDS, True), (HOLDS_IN_SLICES, True)} <= kinds
    assert {(RELEASES, False), (HOLDS, False), (HOLDS_IN_SLICES, False), (PARTLY_RELEASES, False)} <= kinds
    assert len({c.name for c in CASES}) == len(CASES)


#: A partial release sits between "releases" and "holds", and a loaded machine pushes single
#: measurements to either side (the memcpy with the GIL held waits for a core), so it gets more
#: tries; past them, on a machine busier than its cores, a neighbouring verdict is a skip.
PARTLY_TRIES = 6


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validation_set(case):
    seen, result = probe_case(case, PARTLY_TRIES if case.expect == PARTLY_RELEASES else TRIES)
    if seen[-1] == INCONCLUSIVE:  # not a wrong verdict: the machine never let it measure
        pytest.skip(f"the machine stayed too busy to tell ({len(seen)} tries): {result.verdict.reason}")
    load = os.getloadavg()[0]
    if case.expect == PARTLY_RELEASES and seen[-1] != PARTLY_RELEASES and load > (os.cpu_count() or 1):
        busy = f"load average {load:.1f} on {os.cpu_count()} cores"
        pytest.skip(f"{busy}: too busy to see a partial release ({seen})")
    assert seen[-1] == expected(case), f"{seen}\n{result.describe()}\nC source: {case.why}"
    assert not NEVER.get(expected(case), set()) & set(seen), f"{seen}\n{result.describe()}"


# -- the README's table ---------------------------------------------------------------------------


def table(runs: int) -> str:
    """A Markdown table: each case, its expectation, and the verdict of each of ``runs`` runs."""
    lines = [
        "| call | per call | C source | expected | " + " | ".join(f"run {i + 1}" for i in range(runs)) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in range(runs)) + " |",
    ]
    right = 0
    for case in CASES:
        cells, per_call = [], 0.0
        for _ in range(runs):
            seen, result = probe_case(case)
            per_call = result.per_call_s
            ok = seen[-1] == expected(case)
            right += ok
            note = f" ({len(seen)} tries)" if len(seen) > 1 else ""
            cells.append(f"{seen[-1]}, {result.verdict.confidence}{note}" + ("" if ok else " **wrong**"))
        when = f"{per_call * 1e3:.3g} ms"
        source = case.why.split(":")[0]
        lines.append(f"| `{case.name}` | {when} | {source} | {expected(case)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{right} of {runs * len(CASES)} verdicts as expected.")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="the probe's validation set as a Markdown table")
    parser.add_argument("--runs", type=int, default=3)
    print(table(parser.parse_args().runs))
