"""Type stub for the compiled ``gilfree._cancel`` module (see ``_cancel.pyx``)."""

from typing import TypedDict

from typing_extensions import disjoint_base

class _BuildInfo(TypedDict):
    # What the compiler really built, read from the binary.
    compiler: str
    openmp: bool
    openmp_version: int
    openmp_max_threads: int
    # The instruction set the baseline was compiled for: sse2, neon, ...
    isa: str

class Cancelled(Exception):
    """A kernel stopped early because its CancelToken was set."""

# A cdef class: its C layout (the int flag) means it cannot share a subclass with another
# such base, which stubtest checks.
@disjoint_base
class CancelToken:
    """A flag shared between the caller and running kernels; set it to stop them early."""

    def cancel(self) -> None: ...
    def reset(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...
    def __reduce__(self) -> tuple[type[CancelToken], tuple[()]]: ...

def build_info() -> _BuildInfo: ...

ISA_PATHS: tuple[str, ...]

def cpu_supports(path: str) -> bool: ...
