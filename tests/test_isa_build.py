"""The sdist builds with the baseline alone, and such a build says so instead of failing.

What a compiler that cannot build the other paths gets (setup.py probes each path, as it
probes OpenMP), forced here with ``GILFREE_ISA_PATHS=baseline``. Building takes about a
minute, so this runs only when ``GILFREE_SDIST`` names an sdist (``tools/check_wheel.sh``
sets it), like ``tests/test_build_without_openmp.py``, whose helpers it uses:

- the build log's line says ``isa=baseline``; the wheel holds no per-path module;
- ``gilfree info --json`` reports ``built: ["baseline"]`` and every kernel on the baseline;
  the table says "baseline only";
- the kernels still match their references; ``GILFREE_ISA=avx2`` is a clear error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.test_build_without_openmp import BUILD_TIMEOUT_S, _pip_wheel, _python, source  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def baseline_wheel(source, tmp_path_factory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("wheel")
    proc = _pip_wheel(source, out, GILFREE_ISA_PATHS="baseline")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert re.search(r"gilfree: compiler=\S+ openmp=\S+ isa=baseline$", log, re.MULTILINE), log[-4000:]
    (wheel,) = out.glob("gilfree-*.whl")
    return wheel


@pytest.fixture(scope="module")
def baseline_site(baseline_wheel, tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(baseline_wheel),
        ],
        check=True,
        timeout=BUILD_TIMEOUT_S,
    )
    return site


def test_the_wheel_holds_no_other_path(baseline_wheel):
    with zipfile.ZipFile(baseline_wheel) as zf:
        compiled = [n for n in zf.namelist() if n.endswith((".so", ".pyd"))]
    assert len(compiled) == 7, compiled  # _cancel and the six kernels
    assert not [n for n in compiled if re.search(r"_(avx2|avx512)\.", n)], compiled


def test_info_reports_the_baseline_alone(baseline_site):
    proc = _python(baseline_site, "-m", "gilfree", "info", "--json")
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["isa_paths"]["built"] == ["baseline"]
    assert set(facts["isa"].values()) == {"baseline"}
    table = _python(baseline_site, "-m", "gilfree", "info")
    assert table.returncode == 0, table.stderr
    assert "baseline only" in " ".join(table.stdout.split())


def test_kernels_run_and_other_paths_are_a_clear_error(baseline_site):
    script = r"""
import pathlib
import gilfree
from gilfree.kernels import REGISTRY

assert pathlib.Path(gilfree.__file__).resolve().is_relative_to(pathlib.Path.cwd().resolve()), gilfree.__file__
for name, k in REGISTRY.items():
    assert k.isa == "baseline", (name, k.isa)
    inputs = k.make_inputs("tiny")
    assert k.check(inputs, k.nogil(*inputs.whole())), name
print("ok")
"""
    proc = _python(baseline_site, "-c", script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ok"
    env_forced = subprocess.run(
        [sys.executable, "-c", "import gilfree.kernels"],
        env={**_clean_env(baseline_site), "GILFREE_ISA": "avx2"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=baseline_site,
    )
    assert env_forced.returncode != 0
    last = env_forced.stderr.strip().splitlines()[-1]
    # A CPU without AVX2 is told that first; one with it, that this build has no such path.
    assert "GILFREE_ISA=avx2: this build of gilfree has no avx2 path" in last or "cannot run" in last, last


def _clean_env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GILFREE_")}
    env["PYTHONPATH"] = str(site)
    return env
