"""The compiled modules' ``.pyi`` stubs sit next to them and match them (``mypy.stubtest``).

Run against an installed wheel (tools/check_wheel.sh) this also proves the wheel ships the
stubs and ``py.typed``: stubtest finds the stubs where the compiled modules were imported from.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from gilfree.kernels import registry

KERNEL_NAMES = ("mandelbrot", "integrate", "sum_squares", "pairwise", "primes", "histogram")
# Every compiled module this build has: each kernel's baseline, and its other instruction-set
# paths where setup.py built them (``_sum_squares_avx2``: the same source, so a stub that
# re-exports the baseline's), found without importing them (this CPU may not run them all).
MODULES = ["gilfree._cancel"] + [
    f"gilfree.kernels._{name}" + ("" if path == "baseline" else f"_{path}")
    for name in KERNEL_NAMES
    for path in registry.built_paths(name)
]
# stubtest imports what it checks: only the paths this CPU can run (an AVX-512 module may use
# AVX-512 instructions as soon as it is loaded).
_CANNOT_RUN = tuple(f"_{p}" for p in registry.ISA_PATHS if p not in registry.cpu_paths())
RUNNABLE = [m for m in MODULES if not m.endswith(_CANNOT_RUN)]
ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")


@pytest.mark.parametrize("module", MODULES)
def test_stub_next_to_compiled_module(module):
    spec = importlib.util.find_spec(module)  # not imported: this CPU may not run every path
    assert spec is not None and spec.origin is not None, module
    compiled = Path(spec.origin)
    assert compiled.suffix in (".so", ".pyd"), f"{module} is not compiled: {compiled}"
    stub = compiled.with_name(module.rsplit(".", 1)[1] + ".pyi")
    assert stub.is_file(), f"no stub {stub.name} next to {compiled}"


def test_py_typed_marker():
    import gilfree

    assert Path(gilfree.__file__).with_name("py.typed").is_file()


def test_stubtest(tmp_path):
    """Every stub agrees with its compiled module; only Cython artefacts are allowlisted."""
    pytest.importorskip("mypy.stubtest", reason="mypy is not installed (it is in the 'typecheck' extra)")
    # cwd=tmp_path: stubtest writes a .mypy_cache into the working directory.
    proc = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--allowlist", str(ALLOWLIST), *RUNNABLE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
