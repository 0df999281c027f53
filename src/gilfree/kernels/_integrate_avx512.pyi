"""Type stub for ``gilfree.kernels._integrate_avx512``: ``_integrate.pyx`` built for the avx512 path.

The same source as ``_integrate`` with other compiler flags (setup.py's ISA_PATHS), so the
same functions: this stub re-exports ``_integrate.pyi``'s.
"""

from gilfree.kernels._integrate import Cancelled as Cancelled
from gilfree.kernels._integrate import _check as _check
from gilfree.kernels._integrate import gil as gil
from gilfree.kernels._integrate import nogil as nogil
from gilfree.kernels._integrate import openmp as openmp

# The instruction set the module was compiled for, from the compiler's macros: "avx512".
ISA: str
