"""Type stub for ``gilfree.kernels._sum_squares_avx2``: ``_sum_squares.pyx`` built for the avx2 path.

The same source as ``_sum_squares`` with other compiler flags (setup.py's ISA_PATHS), so the
same names: this stub re-exports ``_sum_squares.pyi``'s, public ones and ``_check``.
"""

from gilfree.kernels._sum_squares import *  # noqa: F403
from gilfree.kernels._sum_squares import _check as _check

# The instruction set the module was compiled for, from the compiler's macros: "avx2".
ISA: str
