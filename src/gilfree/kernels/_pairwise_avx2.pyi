"""Type stub for ``gilfree.kernels._pairwise_avx2``: ``_pairwise.pyx`` built for the avx2 path.

The same source as ``_pairwise`` with other compiler flags (setup.py's ISA_PATHS), so the
same functions: this stub re-exports ``_pairwise.pyi``'s.
"""

from gilfree.kernels._pairwise import Cancelled as Cancelled
from gilfree.kernels._pairwise import _check as _check
from gilfree.kernels._pairwise import gil as gil
from gilfree.kernels._pairwise import nogil as nogil
from gilfree.kernels._pairwise import openmp as openmp

# The instruction set the module was compiled for, from the compiler's macros: "avx2".
ISA: str
