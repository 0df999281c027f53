"""gilfree: parallel CPU compute in Python threads by releasing the GIL, measured side by side.

The public names are imported on first use (PEP 562). Why: pytest imports
``gilfree.pytest_plugin`` at start-up in every project where gilfree is installed, which runs
this file first; importing NumPy and the compiled kernels here cost about 120 ms on each
pytest run (measured: ``pytest --co -q`` in an empty folder, with and without
``-p no:gilfree``).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CancelToken",
    "Cancelled",
    "Kernel",
    "Result",
    "Workload",
    "WorkloadError",
    "__version__",
    "build_info",
    "compare_workload",
    "histogram",
    "names",
    "run",
    "sum_squares",
]

#: Each public name and the module it comes from.
_PUBLIC = {
    "run": "gilfree.api",
    "CancelToken": "gilfree.kernels",
    "Cancelled": "gilfree.kernels",
    "Kernel": "gilfree.kernels",
    "build_info": "gilfree.kernels",
    "names": "gilfree.kernels",
    "Result": "gilfree.harness",
    "histogram": "gilfree.arrays",
    "sum_squares": "gilfree.arrays",
    "Workload": "gilfree.workload",
    "WorkloadError": "gilfree.workload",
    "compare_workload": "gilfree.compare",
}

if TYPE_CHECKING:
    from gilfree.api import run
    from gilfree.arrays import histogram, sum_squares
    from gilfree.compare import compare_workload
    from gilfree.harness import Result
    from gilfree.kernels import Cancelled, CancelToken, Kernel, build_info, names
    from gilfree.workload import Workload, WorkloadError


def __getattr__(name: str) -> Any:
    """A public name, or a subpackage (``gilfree.kernels``), imported when first asked for."""
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"gilfree.{name}") is not None:
        return importlib.import_module(f"gilfree.{name}")
    raise AttributeError(f"module 'gilfree' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
