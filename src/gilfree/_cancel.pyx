"""Cooperative cancellation: a flag that compiled cores read between blocks, without the GIL.

A thread cannot be killed, so a long nogil kernel can only be stopped by asking it to stop.
The flag is an int read with an atomic load; the cores poll it every block of work
(about a millisecond or less), return early, and the entry point raises ``Cancelled``.
"""
from gilfree.kernels._common cimport (
    GILFREE_COMPILER, GILFREE_HAVE_OPENMP, GILFREE_ISA, GILFREE_OPENMP_VERSION,
    gilfree_cpu_has, gilfree_load_flag, gilfree_store_flag, omp_get_max_threads,
)


class Cancelled(Exception):
    """A kernel stopped early because its CancelToken was set."""


cdef class CancelToken:
    """A flag shared between the caller and running kernels; set it to stop them early."""

    def __cinit__(self):
        self.flag = 0

    def cancel(self) -> None:
        gilfree_store_flag(&self.flag, 1)

    def reset(self) -> None:
        gilfree_store_flag(&self.flag, 0)

    @property
    def cancelled(self) -> bool:
        return gilfree_load_flag(&self.flag) != 0

    def __reduce__(self):
        # A token is process-local: a copy in another process starts clear.
        return (CancelToken, ())

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"


def build_info() -> dict:
    """What the compiler really built: read from the binary, not from setup.py's intentions."""
    return {
        "compiler": GILFREE_COMPILER.decode(),
        "openmp": bool(GILFREE_HAVE_OPENMP),
        "openmp_version": int(GILFREE_OPENMP_VERSION),
        "openmp_max_threads": int(omp_get_max_threads()),
        "isa": GILFREE_ISA.decode(),
    }


#: The instruction-set paths, in the order the registry prefers them (last first).
ISA_PATHS = ("baseline", "avx2", "avx512")


def cpu_supports(path: str) -> bool:
    """Can this CPU, under this OS, run the code of an instruction-set path? (The compiler's
    own check, ``__builtin_cpu_supports``; on a target without one, only ``baseline``.)"""
    if path not in ISA_PATHS:
        raise ValueError(f"unknown instruction-set path {path!r}; expected one of {', '.join(ISA_PATHS)}")
    return bool(gilfree_cpu_has(ISA_PATHS.index(path)))
