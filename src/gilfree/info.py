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


def collect() -> dict[str, Any]:
    import gilfree
    from gilfree.kernels import REGISTRY, build_info

    build = build_info()
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
        "kernels": {name: list(k.variants) for name, k in REGISTRY.items()},
    }
