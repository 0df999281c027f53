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


def cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
