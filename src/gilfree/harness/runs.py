"""One kernel run on one runner, as ``gilfree.run`` and ``Runner.run`` give it: a :class:`Result`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gilfree.harness.contenders import KernelOnRunner
from gilfree.harness.timing import run_once
from gilfree.kernels import Inputs, Kernel, get
from gilfree.runners import Runner


@dataclass
class Result:
    """One run: the value, whether it matched the reference, and how long it took."""

    kernel: str
    variant: str
    runner: str
    workers: int
    value: Any
    matched: bool | None
    wall_s: float
    cpu_s: float
    chunk_s: list[float]
    schedule: str = "static"
    serial_fallback: bool = False
    start_method: str | None = None
    transport: str | None = None
    startup_s: float | None = None
    size: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_s)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        v = d["value"]
        d["value"] = v.tolist() if hasattr(v, "tolist") else v
        d["n_chunks"] = self.n_chunks
        return d


def run_kernel(
    runner: Runner,
    kernel: str | Kernel,
    variant: str = "nogil",
    inputs: Inputs | None = None,
    chunks: Sequence[Sequence[Any]] | None = None,
    *,
    size: str = "default",
    timeout: float | None = None,
    check: bool = True,
) -> Result:
    """Split, map, combine and (unless ``check=False``) check one kernel run on ``runner``.

    The pool's start-up is not in ``wall_s``; it is ``startup_s``. Outputs are not reset: a run
    over given ``chunks`` writes only their rows, and the rest of the array is the caller's.
    """
    k = get(kernel)
    k.variant(variant)  # an unknown or absent variant is an error before anything starts
    if inputs is None:
        inputs = k.make_inputs(size)
    runner.start()
    prepared = KernelOnRunner(k, variant, runner, chunks, timeout).prepare(inputs)
    sample = run_once(prepared, reset=False, check=check)
    done = sample.done
    chunk_s = list(done.chunk_s) if done.chunk_s else [sample.wall_s]
    return Result(
        kernel=k.name,
        variant=variant,
        runner=runner.name,
        workers=runner.workers,
        value=done.value,
        matched=sample.matched,
        wall_s=sample.wall_s,
        cpu_s=sample.cpu_s,
        chunk_s=chunk_s,
        schedule=runner.schedule,
        serial_fallback=done.inline,
        startup_s=runner.startup_s,
        size=inputs.size,
        **runner.describe(),
    )
