"""Type stub for ``gilfree.kernels._histogram_avx512``: ``_histogram.pyx`` built for the avx512 path.

The same source as ``_histogram`` with other compiler flags (setup.py's ISA_PATHS), so the
same names: this stub re-exports ``_histogram.pyi``'s, public ones and ``_check``.
"""

from gilfree.kernels._histogram import *  # noqa: F403
from gilfree.kernels._histogram import _check as _check

# The instruction set the module was compiled for, from the compiler's macros: "avx512".
ISA: str
