"""Type stub for ``gilfree.kernels._histogram_avx2``: ``_histogram.pyx`` built for the avx2 path.

The same source as ``_histogram`` with other compiler flags (setup.py's ISA_PATHS), so the
same functions: this stub re-exports ``_histogram.pyi``'s.
"""

from gilfree.kernels._histogram import Cancelled as Cancelled
from gilfree.kernels._histogram import _check as _check
from gilfree.kernels._histogram import gil as gil
from gilfree.kernels._histogram import nogil as nogil
from gilfree.kernels._histogram import openmp as openmp

# The instruction set the module was compiled for, from the compiler's macros: "avx2".
ISA: str
