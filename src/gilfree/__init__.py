"""gilfree: parallel CPU compute in Python threads by releasing the GIL, measured side by side."""

from gilfree.api import run
from gilfree.arrays import histogram, sum_squares
from gilfree.harness import Result
from gilfree.kernels import Cancelled, CancelToken, Kernel, build_info, names
from gilfree.workload import Workload, WorkloadError

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


def __getattr__(name: str) -> object:
    # ``gilfree.compare_workload``: looked up when asked for, since ``gilfree.compare`` reads
    # the whole matrix machinery that ``import gilfree`` does not need.
    if name == "compare_workload":
        from gilfree.compare import compare_workload

        return compare_workload
    raise AttributeError(f"module 'gilfree' has no attribute {name!r}")
