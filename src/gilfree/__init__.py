"""gilfree: parallel CPU compute in Python threads by releasing the GIL, measured side by side."""

from gilfree.api import run
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
    "names",
    "run",
]
