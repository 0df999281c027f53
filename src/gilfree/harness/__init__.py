"""The harness: the one place where contenders are prepared, run and timed.

    kernels -> runners -> harness -> compare / claims / benchmarks -> report -> cli

* :mod:`~gilfree.harness.timing`: ``measure`` and ``interleave`` (warm-up, interleaved rounds,
  the statistics and why), ``Prepared``, ``Series``, ``Ratio``.
* :mod:`~gilfree.harness.contenders`: a kernel variant on a runner, a peer; the serial fallback
  and the ``openmp`` case.
* :mod:`~gilfree.harness.listening`: the heartbeat's own run and the verdict it may show.
* :mod:`~gilfree.harness.runs`: one kernel run as a :class:`Result` (``gilfree.run``).
* :mod:`~gilfree.harness.workloads`: a user's ``Workload`` on a runner.
"""

from gilfree.harness.contenders import (
    Contender,
    KernelOnRunner,
    PeerContender,
    dispatch_cost,
    runs_inline,
)
from gilfree.harness.listening import GIL_WINDOW_S, Listened, listen_to, verdict_shown
from gilfree.harness.runs import Result, run_kernel
from gilfree.harness.timing import (
    Done,
    Measurement,
    Prepared,
    Ratio,
    Sample,
    Series,
    best_of,
    calls,
    interleave,
    measure,
    median_of,
    ratio,
    run_once,
)
from gilfree.harness.workloads import WorkloadOnRunner

__all__ = [
    "GIL_WINDOW_S",
    "Contender",
    "Done",
    "KernelOnRunner",
    "Listened",
    "Measurement",
    "PeerContender",
    "Prepared",
    "Ratio",
    "Result",
    "Sample",
    "Series",
    "WorkloadOnRunner",
    "best_of",
    "calls",
    "dispatch_cost",
    "interleave",
    "listen_to",
    "measure",
    "median_of",
    "ratio",
    "run_kernel",
    "run_once",
    "runs_inline",
    "verdict_shown",
]
