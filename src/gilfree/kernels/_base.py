"""What every kernel offers: variants, inputs at named sizes, chunking rules and a reference check.

Runners see only "a callable and its chunk arguments": a chunk is the tuple of positional
arguments for a variant, ending with ``start, stop``. Kernels whose units cost unequal
amounts give a cost hint (``unit_cost``), and ``split`` cuts equal-cost ranges from it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from gilfree._cancel import build_info
from gilfree.kernels._args import integer

SIZES = ("tiny", "small", "default", "large")
VARIANTS = ("python", "gil", "nogil", "openmp")

Chunk = tuple[Any, ...]


@dataclass
class Inputs:
    """The arguments of one problem, and the range of units that chunks cut up."""

    kernel: str
    args: tuple[Any, ...]
    lo: int
    hi: int
    size: str | None = None
    seed: int | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Not a dataclass field, so asdict/repr/== never see it; dropped when pickled.
        # Reentrant, so a ``compute`` may itself use ``cached`` on the same inputs.
        self._cache_lock = threading.RLock()

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``cache[key]``, computed by ``compute()`` the first time, once even across threads.

        Why a lock: ``if key not in cache: cache[key] = compute()`` is two steps. Threads that
        check the same inputs at once (runs sharing inputs, a test under pytest-run-parallel)
        could each find the key missing and each compute it: with the GIL that happens when
        ``compute`` releases it (NumPy does), and on a free-threaded build at any time. That
        is not wrong, only wasteful (a mandelbrot reference at size ``large`` takes seconds),
        but the lock makes it one step. Hits take no lock: a dict lookup is atomic, and a
        key is only set after its value (and anything ``compute`` stored too) is complete.
        """
        try:
            return self.cache[key]
        except KeyError:
            pass
        with self._cache_lock:
            if key not in self.cache:
                self.cache[key] = compute()
            return self.cache[key]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_cache_lock"]  # a lock cannot be pickled or copied; each copy gets its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cache_lock = threading.RLock()

    @property
    def units(self) -> int:
        return self.hi - self.lo

    def whole(self) -> Chunk:
        """The single chunk that covers everything."""
        return (*self.args, self.lo, self.hi)


class Kernel:
    """One compiled core, exposed as variants, with the rules for chunking it."""

    name: str = ""
    sizes: ClassVar[dict[str, dict[str, Any]]] = {}
    #: relative tolerance for float results against the reference (integers must match exactly)
    rtol: float = 1e-12
    #: Rough serial cost of one unit in nanoseconds for the compiled loop, and how many times
    #: slower the pure-Python loop is. Measured on the 2-core development machine; only the
    #: order of magnitude matters (runners use it to decide whether work is worth dispatching).
    ns_per_unit: float = 1.0
    python_slowdown: float = 50.0
    #: ``ns_per_unit`` on the instruction-set paths where it differs from the baseline's (the
    #: same machine's ratio applied to the figure above); the kernel object takes its path's.
    ns_per_unit_isa: ClassVar[dict[str, float]] = {}
    #: Positions in ``Inputs.args`` of arrays the kernel only writes: each chunk writes every
    #: one of its rows ``[start, stop)`` and reads none. A runner that moves data to other
    #: machines may then hand a chunk fresh memory instead of the array's contents.
    outputs: ClassVar[tuple[int, ...]] = ()

    def __init__(self, module: ModuleType, python: Callable[..., Any], isa: str = "baseline") -> None:
        self._module = module
        #: the instruction-set path of ``module``: baseline, avx2 or avx512 (chosen at import
        #: by ``gilfree.kernels.registry``; ``GILFREE_ISA`` forces one)
        self.isa = isa
        self.ns_per_unit = self.ns_per_unit_isa.get(isa, type(self).ns_per_unit)
        self.python = python
        self.gil = module.gil
        self.nogil = module.nogil
        self._openmp = module.openmp

    def __repr__(self) -> str:
        return f"<gilfree kernel {self.name!r}: {', '.join(self.variants)}>"

    # -- variants --------------------------------------------------------------------------

    @property
    def openmp(self) -> Callable[..., Any]:
        if not build_info()["openmp"]:
            raise AttributeError(
                f"{self.name}.openmp is absent: gilfree was built without OpenMP "
                "(rebuild with a compiler that supports it, and without GILFREE_OPENMP=0)"
            )
        return self._openmp

    @property
    def variants(self) -> tuple[str, ...]:
        return VARIANTS if build_info()["openmp"] else VARIANTS[:3]

    def variant(self, name: str) -> Callable[..., Any]:
        """The callable for a variant name; a clear error for an unknown or absent one."""
        if name not in VARIANTS:
            raise ValueError(f"unknown variant {name!r}; expected one of {', '.join(VARIANTS)}")
        if name not in self.variants:
            raise ValueError(f"variant {name!r} is absent: gilfree was built without OpenMP")
        return getattr(self, name)

    # -- inputs ----------------------------------------------------------------------------

    def make_inputs(self, size: str = "default", seed: int = 0) -> Inputs:
        """Fresh inputs at a named size (``tiny``, ``small``, ``default``, ``large``)."""
        if size not in self.sizes:
            raise ValueError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")
        seed = integer("seed", seed)
        inputs = self.build(np.random.default_rng(seed), **self.sizes[size])
        inputs.size, inputs.seed = size, seed
        return inputs

    def build(self, rng: np.random.Generator, **params: Any) -> Inputs:
        """Inputs from explicit parameters (what ``make_inputs`` does for a named size)."""
        raise NotImplementedError

    # -- chunking --------------------------------------------------------------------------

    def unit_cost(self, inputs: Inputs, lo: int, hi: int, samples: int) -> np.ndarray | None:
        """Relative cost of ``samples`` equal slices of [lo, hi); None means uniform."""
        return None

    def split(self, inputs: Inputs, n_chunks: int) -> list[Chunk]:
        """Cut the units into ``n_chunks`` contiguous ranges of about equal cost.

        Empty ranges are dropped, so fewer chunks come back when there are fewer units.
        """
        n_chunks = integer("n_chunks", n_chunks, minimum=1)
        bounds = self.cut(inputs, n_chunks)
        return [(*inputs.args, a, b) for a, b in pairwise(bounds) if b > a]

    def cut(self, inputs: Inputs, n_chunks: int) -> list[int]:
        lo, hi = inputs.lo, inputs.hi
        samples = min(hi - lo, 4096)
        cost = self.unit_cost(inputs, lo, hi, samples) if samples else None
        if cost is None or n_chunks == 1:
            return [lo + (hi - lo) * k // n_chunks for k in range(n_chunks + 1)]
        # Cumulative cost at the sample edges, then invert it by linear interpolation.
        edges = lo + (hi - lo) * np.arange(samples + 1) / samples
        cum = np.concatenate(([0.0], np.cumsum(np.asarray(cost, dtype=np.float64))))
        targets = cum[-1] * np.arange(n_chunks + 1) / n_chunks
        cuts = np.rint(np.interp(targets, cum, edges)).astype(np.int64)
        cuts[0], cuts[-1] = lo, hi
        return [int(c) for c in np.maximum.accumulate(cuts)]

    def combine(self, partials: Sequence[Any]) -> Any:
        """Sum the chunks' partial results (arrays element-wise)."""
        if len(partials) == 0:
            raise ValueError("partials must not be empty")
        if isinstance(partials[0], np.ndarray):
            return np.sum(np.stack(partials), axis=0)
        return math.fsum(partials) if isinstance(partials[0], float) else sum(partials)

    def estimate_s(self, inputs: Inputs, variant: str = "nogil") -> float:
        """A rough guess of the serial seconds this work takes: right within a factor of a few."""
        seconds = self.work_units(inputs) * self.ns_per_unit * 1e-9
        return seconds * (self.python_slowdown if variant == "python" else 1.0)

    def work_units(self, inputs: Inputs) -> float:
        return float(inputs.units)

    # -- checking --------------------------------------------------------------------------

    def reference(self, inputs: Inputs) -> Any:
        """The expected value, computed independently of the cores (cached on the inputs)."""
        return inputs.cached("reference", lambda: self.compute_reference(inputs))

    def compute_reference(self, inputs: Inputs) -> Any:
        raise NotImplementedError

    def reset_outputs(self, inputs: Inputs) -> None:
        """Poison what the kernel writes in place, so a check after the next run proves that run
        wrote it (and not an earlier one). Kernels that only return values have nothing to do."""

    def check(self, inputs: Inputs, value: Any) -> bool:
        """Does a run's combined value (and any output written in place) match the reference?"""
        expected = self.reference(inputs)
        if isinstance(expected, np.ndarray):
            return bool(np.array_equal(np.asarray(value), expected))
        if isinstance(expected, float):
            return math.isclose(value, expected, rel_tol=self.rtol, abs_tol=1e-300)
        return bool(value == expected)
