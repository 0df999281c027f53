"""A downstream project keeps its GIL release in CI with gilfree's plugin, and nothing else.

In a temporary folder: a tiny Cython extension with one function that releases the GIL
(``with nogil:`` around a ``noexcept nogil`` core) and one that holds it (the same core,
called with the GIL), built in place, and the project's own tests, which import only
``pytest`` and the extension. Their pytest run (a subprocess, the plugin loaded by its
``pytest11`` entry point) passes on the first and fails on the second with the plugin's
message. The extension also holds the README's first trap: ``cpdef ... nogil`` called from
Python keeps the GIL.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from .conftest import gil_enabled

pytestmark = [
    pytest.mark.slow,
    pytest.mark.thread_unsafe(reason="builds an extension and runs pytest in a subprocess"),
    pytest.mark.skipif(not importlib.util.find_spec("Cython"), reason="needs Cython (pip install cython)"),
    pytest.mark.skipif(
        not shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]), reason="needs a C compiler"
    ),
    pytest.mark.skipif(
        bool(sysconfig.get_config_var("Py_GIL_DISABLED")) or not gil_enabled(),
        reason="on a free-threaded build nothing holds the GIL",
    ),
]

EXTENSION = """
# cython: language_level=3, boundscheck=False, wraparound=False

cdef double _core(long n) noexcept nogil:
    # Sums a sequence that no compiler folds away: a few hundred microseconds for 200_000.
    cdef double s = 0.0
    cdef long i
    for i in range(n):
        s += (i % 7) * 0.5 + s * 1e-9
    return s


def releases(long n):
    \"\"\"Checks in Python first, then the core inside `with nogil:`.\"\"\"
    if n < 0:
        raise ValueError("n must be >= 0")
    cdef double r
    with nogil:
        r = _core(n)
    return r


def holds(long n):
    \"\"\"The same core called with the GIL held: a `nogil` core does not release it by itself.\"\"\"
    if n < 0:
        raise ValueError("n must be >= 0")
    return _core(n)


cpdef double cpdef_nogil(long n) nogil:
    \"\"\"The README's first trap: `cpdef ... nogil` called from Python keeps the GIL.\"\"\"
    return _core(n)
"""

PROJECT_TESTS = """
import pytest

import demo_ext

N = 200_000


@pytest.mark.releases_gil(demo_ext.releases, N)
def test_releases_keeps_releasing():
    assert demo_ext.releases(10) == demo_ext.holds(10)


@pytest.mark.releases_gil(demo_ext.holds, N)
def test_holds_would_fail_the_build():
    pass


@pytest.mark.holds_gil
def test_holds_is_known_to_hold(gil_probe):
    gil_probe(demo_ext.holds, N)


@pytest.mark.holds_gil(demo_ext.cpdef_nogil, N)
def test_cpdef_nogil_holds():
    pass

"""


def test_a_downstream_project_keeps_its_gil_release_with_the_plugin(tmp_path):
    (tmp_path / "demo_ext.pyx").write_text(EXTENSION)
    build = (
        "from setuptools import setup; from Cython.Build import cythonize; "
        "setup(name='demo_ext', ext_modules=cythonize('demo_ext.pyx', quiet=True), "
        "script_args=['build_ext', '--inplace', '-q'])"
    )
    built = subprocess.run(
        [sys.executable, "-c", build], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_demo.py").write_text(textwrap.dedent(PROJECT_TESTS))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = run.stdout + run.stderr
    got = {m[2]: m[1] for m in re.finditer(r"^(PASSED|FAILED|ERROR|SKIPPED) \S+::(\w+)", run.stdout, re.M)}
    want = {
        "test_releases_keeps_releasing": "PASSED",
        "test_holds_would_fail_the_build": "FAILED",
        "test_holds_is_known_to_hold": "PASSED",
        "test_cpdef_nogil_holds": "PASSED",
    }
    if got != want and "inconclusive" in out:
        pytest.skip(f"the machine stayed too busy for the downstream project's probes to tell: {got}")
    assert got == want, out
    assert run.returncode == 1, out
    message = "gilfree: expected demo_ext.holds to release the GIL, but it "
    assert message in out, out
    if message + "was inconclusive" not in out:
        assert message + "holds the GIL" in out, out
