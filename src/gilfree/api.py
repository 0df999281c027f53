"""``gilfree.run``: one kernel, one variant, one runner, one result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gilfree.kernels import Inputs, Kernel
from gilfree.runners import Result, make_runner


def run(
    kernel: str | Kernel,
    variant: str = "nogil",
    runner: str = "threads",
    workers: int | None = None,
    size: str = "default",
    inputs: Inputs | None = None,
    chunks: Sequence[Sequence[Any]] | None = None,
    timeout: float | None = None,
    **runner_options: Any,
) -> Result:
    """Run ``kernel`` once and return a :class:`~gilfree.runners.Result`.

    ``runner`` is a name (``serial``, ``threads``, ``processes``, ``dask``); ``workers`` follows
    the joblib rules (``None`` = all cores, ``-1`` = all, ``-2`` = all but one, ``0`` is an
    error); ``runner_options`` go to the runner (``schedule``, ``start_method``, ...). The
    pool is started and released around this one run, and its start-up time is reported in
    ``Result.startup_s``, not in ``Result.wall_s``.
    """
    if runner == "serial" and workers is None:
        workers = 1
    with make_runner(runner, workers, **runner_options) as r:
        return r.run(kernel, variant, inputs, chunks, size=size, timeout=timeout)
