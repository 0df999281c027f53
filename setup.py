"""Build the compiled kernels: one table of extensions, one loop, OpenMP chosen per compiler.

Environment:
  GILFREE_OPENMP=0          build without OpenMP (the ``openmp`` variants are then absent)
  GILFREE_REQUIRE_OPENMP=1  fail the build if OpenMP cannot be used, instead of going without
A failed compile is an error: there is no pure-Python fallback.
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = Path("src/gilfree/kernels")

# name -> sources; every module is compiled with the same flags and directives.
EXTENSIONS = {
    "gilfree._cancel": [Path("src/gilfree/_cancel.pyx")],
    "gilfree.kernels._mandelbrot": [KERNELS / "_mandelbrot.pyx"],
    "gilfree.kernels._integrate": [KERNELS / "_integrate.pyx"],
    "gilfree.kernels._sum_squares": [KERNELS / "_sum_squares.pyx"],
    "gilfree.kernels._pairwise": [KERNELS / "_pairwise.pyx"],
    "gilfree.kernels._primes": [KERNELS / "_primes.pyx"],
    "gilfree.kernels._histogram": [KERNELS / "_histogram.pyx"],
}

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
    "embedsignature": True,
    "freethreading_compatible": True,
    # Safe in subinterpreters with their own GIL (PEP 684), for the ``interpreters`` runner.
    # Cython emits the module slot that says so only on its module-state code path, hence
    # CYTHON_USE_MODULE_STATE below, with CYTHON_USE_TYPE_SPECS (cdef classes as heap types, one
    # per interpreter: a static type shared between interpreters corrupts their allocators).
    # The modules keep no C state at module level.
    "subinterpreters_compatible": "own_gil",
}

# Per compiler type: optimisation, and the flags that turn OpenMP on (compile, link). This
# table is the one place for compiler flags: local builds and cibuildwheel get the same.
# -ffp-contract=off keeps a*b+c as two roundings, so every variant matches the reference
# bit for bit on machines with FMA; -fno-math-errno lets sqrt inline. -g0 drops the debug
# info that Python's own CFLAGS (-g) would add, about 80% of each module's size; the symbol
# table stays, so tracebacks from gdb or perf still name functions. It comes after CFLAGS,
# so it wins over a -g there too. MSVC writes no debug info unless asked (/Zi, /Z7).
FLAGS = {
    "unix": (["-O3", "-g0", "-ffp-contract=off", "-fno-math-errno"], ["-fopenmp"], ["-fopenmp"]),
    "mingw32": (["-O3", "-g0", "-ffp-contract=off", "-fno-math-errno"], ["-fopenmp"], ["-fopenmp"]),
    "msvc": (["/O2", "/fp:precise"], ["/openmp"], []),
}
MACOS_OPENMP = (["-Xpreprocessor", "-fopenmp"], ["-lomp"])

OMP_PROBE = "#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n"


def _env_flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() not in ("0", "false", "no", "off", "")


class BuildExt(build_ext):
    """Pick flags for the compiler actually in use, and probe OpenMP by compiling a program."""

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        base, omp_compile, omp_link = FLAGS.get(ctype, FLAGS["unix"])
        if sys.platform == "darwin" and ctype == "unix":
            omp_compile, omp_link = MACOS_OPENMP
        use_omp = _env_flag("GILFREE_OPENMP", "1")
        if use_omp and not self._links(omp_compile, omp_link):
            if _env_flag("GILFREE_REQUIRE_OPENMP", "0"):
                raise RuntimeError(
                    f"GILFREE_REQUIRE_OPENMP=1 but the {ctype} compiler cannot build with OpenMP "
                    f"({' '.join(omp_compile)} {' '.join(omp_link)})"
                )
            print(f"gilfree: OpenMP not available with the {ctype} compiler; building without it")
            use_omp = False
        elif not use_omp and _env_flag("GILFREE_REQUIRE_OPENMP", "0"):
            raise RuntimeError("GILFREE_OPENMP=0 contradicts GILFREE_REQUIRE_OPENMP=1")
        print(f"gilfree: compiler={ctype} openmp={'on' if use_omp else 'off'}")
        for ext in self.extensions:
            ext.extra_compile_args = base + (omp_compile if use_omp else [])
            ext.extra_link_args = omp_link if use_omp else []
        super().build_extensions()

    def _links(self, compile_args, link_args) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp, "omp_probe.c")
            src.write_text(OMP_PROBE)
            try:
                objs = self.compiler.compile([str(src)], output_dir=tmp, extra_postargs=compile_args)
                self.compiler.link_executable(objs, "omp_probe", output_dir=tmp, extra_postargs=link_args)
            except Exception:  # any compile or link failure means "no OpenMP"
                return False
        return True


extensions = [
    Extension(
        name,
        [str(s) for s in sources],
        include_dirs=[str(KERNELS), np.get_include()],
        define_macros=[
            ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
            ("CYTHON_USE_MODULE_STATE", "1"),
            ("CYTHON_USE_TYPE_SPECS", "1"),
        ],
    )
    for name, sources in EXTENSIONS.items()
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=COMPILER_DIRECTIVES, include_path=["src"]),
    cmdclass={"build_ext": BuildExt},
)
