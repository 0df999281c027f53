"""The six kernels of the catalogue, each a ``Kernel`` object, and the registry of names.

Each kernel's compiled module is chosen here, once, at import: setup.py builds the hot kernels
once per instruction-set path (``_sum_squares`` is the baseline, ``_sum_squares_avx2`` and
``_sum_squares_avx512`` the same source with other flags), and the best path this CPU runs is
taken, unless ``GILFREE_ISA`` names one. A path is imported only after the CPU check says the
CPU can run it: an AVX-512 module may use AVX-512 instructions from its first line.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from gilfree._cancel import ISA_PATHS, cpu_supports
from gilfree._checks import IsaError
from gilfree.kernels import _mandelbrot, _reference
from gilfree.kernels._base import Inputs, Kernel

__all__ = ["ISA_ENV", "ISA_PATHS", "REGISTRY", "get", "isa_choice", "kernel_for", "names"]

#: The environment variable that forces a path: baseline, avx2 or avx512 (unset, empty or
#: ``auto``: the best this CPU runs). Read once, when gilfree.kernels is first imported.
ISA_ENV = "GILFREE_ISA"


def _read_only(a: np.ndarray) -> np.ndarray:
    """Inputs that kernels only read are made read-only. Why: a runner that moves arrays to
    other processes copies writable ones back after the run (it cannot know what a kernel
    wrote); a read-only input says it never changes, and a kernel that tried would fail."""
    a.flags.writeable = False
    return a


class Mandelbrot(Kernel):
    """Escape counts over a W x H grid: compute-bound, rows of uneven cost, written in place."""

    name = "mandelbrot"
    sizes: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"width": 64, "height": 48, "max_iter": 64},
        "small": {"width": 240, "height": 180, "max_iter": 128},
        "default": {"width": 1200, "height": 900, "max_iter": 256},
        "large": {"width": 3200, "height": 2400, "max_iter": 256},
    }
    view = (-2.0, 0.6, -1.2, 1.2)
    outputs = (0,)  # out: every cell of a chunk's rows is written, none is read
    ns_per_unit = 2.6  # per point-iteration, counting a point as 8 + max_iter / 4 iterations

    def work_units(self, inputs: Inputs) -> float:
        out, *_, max_iter = inputs.args
        return out.shape[1] * inputs.units * (8 + max_iter / 4)

    def build(self, rng: np.random.Generator, width: int, height: int, max_iter: int) -> Inputs:
        out = np.full((height, width), -1, dtype=np.int32)  # poisoned: every cell must be written
        return Inputs(self.name, (out, *self.view, max_iter), 0, height)

    @staticmethod
    def _row_cost(inputs: Inputs) -> np.ndarray:
        out, x0, x1, y0, y1, it = inputs.args
        coarse = np.empty((out.shape[0], max(1, out.shape[1] // 16)), dtype=np.int32)
        _mandelbrot.nogil(coarse, x0, x1, y0, y1, it)
        return coarse.sum(axis=1, dtype=np.float64) + coarse.shape[1]

    def unit_cost(self, inputs: Inputs, lo: int, hi: int, samples: int) -> np.ndarray:
        # Why: rows through the set cost up to max_iter per point, rows outside it a few.
        # A grid with 1/16 of the columns, computed once per inputs, ranks the rows well.
        # Inputs.cached: computed once even when threads split the same inputs at once.
        inputs.cached("row_cost", lambda: self._row_cost(inputs))
        rows = inputs.cache["row_cost"][lo:hi]
        return np.add.reduceat(rows, np.linspace(0, rows.size, samples, endpoint=False).astype(int))

    def reset_outputs(self, inputs: Inputs) -> None:
        inputs.args[0].fill(-1)  # as built: every cell must be written again

    def compute_reference(self, inputs: Inputs) -> int:
        out, *view = inputs.args
        image = _reference.mandelbrot_reference(out.shape, *view)
        inputs.cache["image"] = image
        return int(image.sum(dtype=np.int64))

    def check(self, inputs: Inputs, value: Any) -> bool:
        expected = self.reference(inputs)
        return value == expected and bool(np.array_equal(inputs.args[0], inputs.cache["image"]))


class Integrate(Kernel):
    """Midpoint rule for the integral of 4/(1+x^2) on [0, 1] with n steps (= pi): compute-bound, uniform."""

    name = "integrate"
    # Why: n = 2e8 serial, 32 lanes, on the Zen 5 development machine: 94.9 ms baseline, 46.9 ms
    # avx2, 23.5 ms avx512 (GILFREE_ISA=<path> benchmarks/targets.py --only numba).
    ns_per_unit = 0.47
    ns_per_unit_isa: ClassVar[dict[str, float]] = {"avx2": 0.24, "avx512": 0.12}
    sizes: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"n": 50_000},
        "small": {"n": 1_000_000},
        "default": {"n": 200_000_000},
        "large": {"n": 1_000_000_000},
    }

    def build(self, rng: np.random.Generator, n: int) -> Inputs:
        return Inputs(self.name, (n,), 0, n)

    def compute_reference(self, inputs: Inputs) -> float:
        return _reference.integrate_reference(inputs.args[0])


class SumSquares(Kernel):
    """Sum of x_i^2 over a float64 array: memory-bound."""

    name = "sum_squares"
    ns_per_unit = 0.4
    sizes: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"n": 2_000},
        "small": {"n": 200_000},
        "default": {"n": 20_000_000},
        "large": {"n": 100_000_000},
    }

    def build(self, rng: np.random.Generator, n: int) -> Inputs:
        return Inputs(self.name, (_read_only(rng.standard_normal(n)),), 0, n)

    def compute_reference(self, inputs: Inputs) -> float:
        return _reference.sum_squares_reference(inputs.args[0])


class Pairwise(Kernel):
    """Sum of Euclidean distances over all pairs of n points in 3-D: O(n^2), triangular rows."""

    name = "pairwise"
    # Why: per pair; n = 14,000 serial, 16 lanes, on the Zen 5 development machine: 97.3 ms
    # baseline, 51.8 ms avx2, 25.2 ms avx512 (GILFREE_ISA=<path> benchmarks/targets.py --only numba).
    ns_per_unit = 1.0
    ns_per_unit_isa: ClassVar[dict[str, float]] = {"avx2": 0.53, "avx512": 0.27}

    def work_units(self, inputs: Inputs) -> float:
        n = inputs.args[0].shape[0]
        return n * (n - 1) / 2

    sizes: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"n": 150},
        "small": {"n": 1_000},
        "default": {"n": 14_000},
        "large": {"n": 30_000},
    }

    def build(self, rng: np.random.Generator, n: int) -> Inputs:
        return Inputs(self.name, (_read_only(rng.random((n, 3))),), 0, n)

    def unit_cost(self, inputs: Inputs, lo: int, hi: int, samples: int) -> np.ndarray:
        # Why: row i pairs with the n - 1 - i rows after it, so an equal-row split of the
        # triangle gives the first chunk most of the pairs; equal pair counts balance it.
        n = inputs.args[0].shape[0]
        mid = lo + (hi - lo) * (np.arange(samples) + 0.5) / samples
        return np.maximum(n - 1 - mid, 0.0) + 1.0

    def compute_reference(self, inputs: Inputs) -> float:
        return _reference.pairwise_reference(inputs.args[0])


class Primes(Kernel):
    """Count of primes in [lo, hi): integer work whose cost grows with the range."""

    name = "primes"
    ns_per_unit = 1.8  # per unit of the cost hint below

    def work_units(self, inputs: Inputs) -> float:
        # The cost hint at the range's 2/3 point, times the count: close to its mean, and cheap.
        x = max(inputs.lo + 2 * inputs.units / 3, 3.0)
        return inputs.units * (4.0 + math.sqrt(x) / (3.0 * math.log(x)))

    sizes: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"lo": 0, "hi": 20_000},
        "small": {"lo": 0, "hi": 200_000},
        "default": {"lo": 0, "hi": 3_500_000},
        "large": {"lo": 0, "hi": 12_000_000},
    }

    def build(self, rng: np.random.Generator, lo: int, hi: int) -> Inputs:
        return Inputs(self.name, (lo, hi), lo, hi)

    def unit_cost(self, inputs: Inputs, lo: int, hi: int, samples: int) -> np.ndarray:
        # Why: a prime p costs sqrt(p)/3 trial divisions and primes thin out as 1/ln p,
        # so the cost near x grows as sqrt(x)/ln(x); composites cost a few divisions each.
        mid = lo + (hi - lo) * (np.arange(samples) + 0.5) / samples
        return 4.0 + np.sqrt(mid) / (3.0 * np.log(np.maximum(mid, 3.0)))

    def compute_reference(self, inputs: Inputs) -> int:
        return _reference.primes_reference(*inputs.args)


class Histogram(Kernel):
    """Counts of float64 values in B equal bins over [lo, hi): private per-chunk histograms, added."""

    name = "histogram"
    ns_per_unit = 1.0
    sizes: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {"n": 2_000, "bins": 64},
        "small": {"n": 200_000, "bins": 256},
        "default": {"n": 20_000_000, "bins": 256},
        "large": {"n": 100_000_000, "bins": 1024},
    }

    def build(self, rng: np.random.Generator, n: int, bins: int) -> Inputs:
        x = rng.standard_normal(n) * 1.5
        # A few values outside [lo, hi) and a few NaNs, which are not counted.
        if n:
            x[rng.integers(0, n, size=max(1, n // 1000))] = np.nan
        return Inputs(self.name, (_read_only(x), -4.0, 4.0, bins), 0, n)

    def compute_reference(self, inputs: Inputs) -> np.ndarray:
        return _reference.histogram_reference(*inputs.args)


# -- instruction-set paths --------------------------------------------------------------------


def _module_name(kernel: str, path: str) -> str:
    return f"gilfree.kernels._{kernel}" + ("" if path == "baseline" else f"_{path}")


def built_paths(kernel: str) -> tuple[str, ...]:
    """The paths this build has for a kernel: the baseline, and each module that exists (found
    without importing it, so also the paths this CPU cannot run)."""
    return tuple(
        p
        for p in ISA_PATHS
        if p == "baseline" or importlib.util.find_spec(_module_name(kernel, p)) is not None
    )


def cpu_paths() -> tuple[str, ...]:
    """The paths this CPU (and OS) can run, whether or not this build has them."""
    return tuple(p for p in ISA_PATHS if cpu_supports(p))


def forced_path(value: str | None, built: set[str]) -> str | None:
    """What ``GILFREE_ISA`` asks for, checked: None for the automatic choice; a clear error for
    a name that is no path, a path this CPU cannot run, or one this build does not have."""
    value = (value or "").strip()
    if value in ("", "auto"):
        return None
    if value not in ISA_PATHS:
        raise IsaError(
            f"{ISA_ENV}={value!r} is not an instruction-set path; expected one of "
            f"{', '.join(ISA_PATHS)} (or unset or 'auto' for the best this CPU runs)"
        )
    if not cpu_supports(value):
        raise IsaError(
            f"{ISA_ENV}={value}: this CPU cannot run the {value} path "
            f"(it runs {', '.join(cpu_paths())}); unset {ISA_ENV} to take the best it runs"
        )
    if value not in built:
        raise IsaError(
            f"{ISA_ENV}={value}: this build of gilfree has no {value} path "
            f"(built: {', '.join(p for p in ISA_PATHS if p in built)}; setup.py leaves a path out "
            "when GILFREE_ISA_PATHS omits it or the compiler cannot build it)"
        )
    return value


def choose_path(built: tuple[str, ...], forced: str | None) -> str:
    """One kernel's path: the forced one where the kernel has it (a kernel built for the
    baseline alone runs that), else the widest this CPU runs."""
    if forced is not None:
        return forced if forced in built else "baseline"
    return next(p for p in reversed(ISA_PATHS) if p in built and cpu_supports(p))


def _load(kernel: str, path: str) -> ModuleType:
    return importlib.import_module(_module_name(kernel, path))


def _travel_as_kernel(kernel: str, module: ModuleType) -> None:
    """Pickled (processes, dask), a path's function travels as "the kernel's nogil", not as
    the module it came from: a worker on another host then runs its own choice, instead of
    importing a module that host's CPU may not be able to run."""
    for variant in ("gil", "nogil", "openmp"):
        func = getattr(module, variant)
        func.__module__, func.__qualname__ = "gilfree.kernels", f"{kernel}.{variant}"
        # Where it really lives, for a worker in this process's own interpreters, which import
        # it by name from the same build (gilfree.runners.interpreters.func_ref).
        func.__gilfree_home__ = f"{module.__name__}:{variant}"


KINDS: tuple[type[Kernel], ...] = (Mandelbrot, Integrate, SumSquares, Pairwise, Primes, Histogram)
PYTHON = {
    "mandelbrot": _reference.mandelbrot,
    "integrate": _reference.integrate,
    "sum_squares": _reference.sum_squares,
    "pairwise": _reference.pairwise,
    "primes": _reference.primes,
    "histogram": _reference.histogram,
}

_BUILT = {kind.name: built_paths(kind.name) for kind in KINDS}
_FORCED = forced_path(os.environ.get(ISA_ENV), {p for paths in _BUILT.values() for p in paths})
_CHOSEN = {name: choose_path(built, _FORCED) for name, built in _BUILT.items()}


def isa_choice() -> dict[str, Any]:
    """What was chosen at import, and from what: for ``gilfree info`` and compare's JSON."""
    return {
        "kernels": dict(_CHOSEN),
        "built": [p for p in ISA_PATHS if any(p in b for b in _BUILT.values())],
        "cpu": list(cpu_paths()),
        "forced": _FORCED,
    }


def kernel_for(name: str, path: str) -> Kernel:
    """A kernel object bound to one path's module, beside the registry's own: to time the
    baseline against the chosen path in one process. The path must be one this CPU runs and
    this build has for the kernel (the checks of ``GILFREE_ISA``)."""
    kind = type(get(name))
    path = forced_path(path, set(_BUILT[name])) or _CHOSEN[name]  # "auto": the registry's choice
    return kind(_load(name, path), PYTHON[name], path)


def _registry() -> dict[str, Kernel]:
    kernels = {}
    for kind in KINDS:
        path = _CHOSEN[kind.name]
        module = _load(kind.name, path)
        if path != "baseline":
            _travel_as_kernel(kind.name, module)
        kernels[kind.name] = kind(module, PYTHON[kind.name], path)
    return kernels


REGISTRY: dict[str, Kernel] = _registry()


def names() -> list[str]:
    """The kernels' names, in catalogue order."""
    return list(REGISTRY)


def get(name: str | Kernel) -> Kernel:
    """A kernel by name; a clear error for an unknown one."""
    if isinstance(name, Kernel):
        return name
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kernel {name!r}; expected one of {', '.join(REGISTRY)}") from None
