"""The sdist builds without OpenMP, and such a build says so instead of failing.

Building takes about a minute, so this runs only when ``GILFREE_SDIST`` names an sdist:
``tools/check_wheel.sh`` sets it (CI runs that script). It checks the two build switches:

- ``GILFREE_OPENMP=0`` builds; ``gilfree info --json`` reports ``"openmp": false``; no kernel
  lists the ``openmp`` variant; asking for it is a clear ``ValueError``/``AttributeError``.
- ``GILFREE_OPENMP=0`` with ``GILFREE_REQUIRE_OPENMP=1`` fails with a message naming both.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SDIST = os.environ.get("GILFREE_SDIST", "")
BUILD_TIMEOUT_S = 600
KERNELS = ("mandelbrot", "integrate", "sum_squares", "pairwise", "primes", "histogram")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The sdist unpacked (pip never caches wheels built from a local directory)."""
    if not SDIST:
        pytest.skip("set GILFREE_SDIST=path/to/gilfree-*.tar.gz (tools/check_wheel.sh does) to build it")
    root = tmp_path_factory.mktemp("sdist")
    with tarfile.open(SDIST) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12, and security releases of 3.10/3.11
            tar.extractall(root, filter="data")
        else:
            tar.extractall(root)
    (unpacked,) = root.iterdir()
    return unpacked


def _pip_wheel(source: Path, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Build a wheel; ``-v`` shows the backend's output (setup.py's "gilfree: compiler=..." line)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GILFREE_")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(source)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def no_openmp_site(source, tmp_path_factory) -> Path:
    """A folder holding gilfree built from the sdist with GILFREE_OPENMP=0."""
    out = tmp_path_factory.mktemp("wheel")
    proc = _pip_wheel(source, out, GILFREE_OPENMP="0")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert re.search(r"gilfree: compiler=\S+ openmp=off", proc.stdout + proc.stderr), proc.stdout[-4000:]
    (wheel,) = out.glob("gilfree-*.whl")
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=BUILD_TIMEOUT_S,
    )
    return site


def _python(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with the no-OpenMP build first on the path (its deps come from here)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GILFREE_")}
    environ["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, *args], env=environ, capture_output=True, text=True, timeout=120, cwd=site
    )


def test_info_reports_no_openmp(no_openmp_site):
    proc = _python(no_openmp_site, "-m", "gilfree", "info", "--json")
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["openmp"] is False
    assert facts["openmp_version"] == 0
    assert set(facts["kernels"]) == set(KERNELS)
    for name, variants in facts["kernels"].items():
        assert variants == ["python", "gil", "nogil"], name
    # The table form says so too, and does not crash.
    table = _python(no_openmp_site, "-m", "gilfree", "info")
    assert table.returncode == 0, table.stderr
    assert "openmp" in table.stdout and "False" in table.stdout


def test_openmp_variant_absent_with_clear_errors(no_openmp_site):
    script = r"""
import pathlib, sys
import gilfree
from gilfree.kernels import REGISTRY, build_info

assert pathlib.Path(gilfree.__file__).resolve().is_relative_to(pathlib.Path.cwd().resolve()), gilfree.__file__
assert build_info()["openmp"] is False
for name, k in REGISTRY.items():
    assert "openmp" not in k.variants, (name, k.variants)
    try:
        k.variant("openmp")
    except ValueError as exc:
        assert "built without OpenMP" in str(exc), exc
    else:
        raise AssertionError(f"{name}.variant('openmp') did not raise")
    try:
        k.openmp
    except AttributeError as exc:
        assert "without OpenMP" in str(exc), exc
    else:
        raise AssertionError(f"{name}.openmp did not raise")
try:
    gilfree.run("integrate", variant="openmp", runner="serial", size="tiny")
except ValueError as exc:
    assert "without OpenMP" in str(exc), exc
else:
    raise AssertionError("gilfree.run(variant='openmp') did not raise")
result = gilfree.run("integrate", variant="nogil", runner="threads", workers=2, size="tiny")
assert result.matched, result
print("ok")
"""
    proc = _python(no_openmp_site, "-c", script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"


def test_openmp_off_and_required_is_a_clear_build_error(source, tmp_path):
    proc = _pip_wheel(source, tmp_path, GILFREE_OPENMP="0", GILFREE_REQUIRE_OPENMP="1")
    assert proc.returncode != 0
    assert "GILFREE_OPENMP=0 contradicts GILFREE_REQUIRE_OPENMP=1" in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("*.whl"))
