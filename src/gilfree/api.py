"""``gilfree.run``: one kernel, one variant, one runner, one result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gilfree.harness import Result, run_kernel
from gilfree.kernels import Inputs, Kernel
from gilfree.runners import make_runner


def run(
    kernel: str | Kernel,
    variant: str = "nogil",
    runner: str = "threads",
    workers: int | None = None,
    size: str = "default",
    inputs: Inputs | None = None,
    chunks: Sequence[Sequence[Any]] | None = None,
    timeout: float | None = None,
    check: bool = True,
    **runner_options: Any,
) -> Result:
    """Run ``kernel`` once and return a :class:`~gilfree.harness.Result`.

    ``runner`` is a name (``serial``, ``threads``, ``processes``, ``dask``); ``workers`` follows
    the joblib rules (``None`` = the runner's default: all cores, or one for ``serial``; ``-1`` =
    all, ``-2`` = all but one; ``0`` is an error); ``runner_options`` go to the runner
    (``schedule``, ``start_method``, ...). The pool is started and released around this one run,
    and its start-up time is reported in ``Result.startup_s``, not in ``Result.wall_s``.
    ``check=False`` skips the reference check (``Result.matched`` is then ``None``).
    """
    with make_runner(runner, workers, **runner_options) as r:
        return run_kernel(r, kernel, variant, inputs, chunks, size=size, timeout=timeout, check=check)
