"""The compiled modules' ``.pyi`` stubs sit next to them and match them (``mypy.stubtest``).

Run against an installed wheel (tools/check_wheel.sh) this also proves the wheel ships the
stubs and ``py.typed``: stubtest finds the stubs where the compiled modules were imported from.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = ["gilfree._cancel"] + [
    f"gilfree.kernels.{name}"
    for name in ("_mandelbrot", "_integrate", "_sum_squares", "_pairwise", "_primes", "_histogram")
]
ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")


@pytest.mark.parametrize("module", MODULES)
def test_stub_next_to_compiled_module(module):
    mod = importlib.import_module(module)
    compiled = Path(mod.__file__)
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
        [sys.executable, "-m", "mypy.stubtest", "--allowlist", str(ALLOWLIST), *MODULES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
