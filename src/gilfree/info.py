"""What this interpreter and this build of gilfree can do: the facts ``gilfree info`` prints."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from typing import Any


def gil_status() -> dict[str, Any]:
    """Is this a free-threaded build, and is the GIL on right now (``PYTHON_GIL=1`` can turn it on)."""
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return {
        "build": "free-threaded" if free_threaded else "gil",
        "gil_enabled": True if is_enabled is None else bool(is_enabled()),
    }


def describe_gil(status: dict[str, Any] | None = None) -> str:
    """One line for ``gilfree info``: the build, and on a free-threaded one the GIL's state now.

    On a free-threaded build the GIL comes back with ``PYTHON_GIL=1`` or ``-X gil=1``, or when
    a module that does not declare free-threading support is imported (CPython warns then).
    """
    status = gil_status() if status is None else status
    if status["build"] != "free-threaded":
        return "GIL build (the GIL is always on)"
    if not status["gil_enabled"]:
        return "free-threaded, GIL off now"
    if sys._xoptions.get("gil") == "1":
        why = "-X gil=1"
    elif os.environ.get("PYTHON_GIL") == "1":
        why = "PYTHON_GIL=1"
    else:
        why = "by an imported module without free-threading support"
    return f"free-threaded, GIL re-enabled ({why})"


def cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


#: Most workers (threads, processes, OpenMP threads) per core that gilfree will start, and the
#: least limit on any machine. Why: a compute pool gains nothing past one worker per core, and
#: a count in the tens of thousands is a typo that exhausts the system instead (100,000
#: threads left 22,329 running after ``can't start new thread``; libgomp segfaulted at
#: 200,000 OpenMP threads and exited the process at 50,000).
WORKERS_PER_CORE_LIMIT = 64
WORKERS_LIMIT_FLOOR = 256


def worker_limit() -> int:
    """The largest worker or thread count gilfree accepts here: ``max(256, 64 x cores)``."""
    return max(WORKERS_LIMIT_FLOOR, WORKERS_PER_CORE_LIMIT * cores())


class Fact(dict):  # type: ignore[type-arg]
    """A fact that is a mapping in ``gilfree info --json`` (and compare's JSON) and one line in
    ``gilfree info``'s table, which prints ``str(value)`` for each fact."""

    def __init__(self, data: dict[str, Any], line: str) -> None:
        super().__init__(data)
        self.line = line

    def __str__(self) -> str:
        return self.line


def isa_facts(choice: dict[str, Any], baseline: str) -> tuple[Fact, Fact]:
    """``isa``: the path each kernel runs; ``isa_paths``: the paths built, the paths this CPU
    runs, and ``GILFREE_ISA`` when it forced one. ``baseline`` is what the baseline was
    compiled for (sse2 on x86-64, neon on aarch64)."""
    from gilfree._cancel import ISA_PATHS

    by_path: dict[str, list[str]] = {}
    for kernel, path in choice["kernels"].items():
        by_path.setdefault(path, []).append(kernel)
    by_path = dict(sorted(by_path.items(), key=lambda item: -ISA_PATHS.index(item[0])))  # widest first
    how = f"forced by GILFREE_ISA={choice['forced']}" if choice["forced"] else "chosen at import"
    line = "; ".join(
        f"{path}{f' ({baseline})' if path == 'baseline' else ''}: {', '.join(kernels)}"
        for path, kernels in by_path.items()
    )
    built = choice["built"]
    missing = [p for p in choice["cpu"] if p not in built]
    paths_line = (
        f"built: {', '.join(built)}"
        + (" only" if built == ["baseline"] else "")
        + (f" (no {', '.join(missing)} path in this build)" if missing else "")
        + f"; this CPU runs: {', '.join(choice['cpu'])}"
    )
    isa = Fact(choice["kernels"], f"{line} ({how})")
    paths = Fact(
        {"baseline": baseline, "built": built, "cpu": choice["cpu"], "forced": choice["forced"]}, paths_line
    )
    return isa, paths


def collect() -> dict[str, Any]:
    import gilfree
    from gilfree.kernels import REGISTRY, build_info
    from gilfree.kernels.registry import isa_choice

    build = build_info()
    isa, isa_paths = isa_facts(isa_choice(), build["isa"])
    return {
        "gilfree": gilfree.__version__,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        **gil_status(),
        "cores": cores(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "compiler": build["compiler"],
        "openmp": build["openmp"],
        "openmp_version": build["openmp_version"],
        "isa": isa,
        "isa_paths": isa_paths,
        "kernels": {name: list(k.variants) for name, k in REGISTRY.items()},
    }
