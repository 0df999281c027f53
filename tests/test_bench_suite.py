"""The pytest-benchmark suite (``gilfree.benchmarks``, ``gilfree bench``) keeps pytest-benchmark's rules.

Each run here is a real one, in a subprocess, made short: one kernel at ``tiny``, a test or two
selected with ``-k``, one round or three. What is checked is how the suite behaves, not what
it measures.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from gilfree.cli import main

pytestmark = [
    pytest.mark.slow,
    pytest.mark.thread_unsafe(reason="runs the benchmark suite in subprocesses; it times runs"),
]

needs_bench = pytest.mark.skipif(
    importlib.util.find_spec("pytest_benchmark") is None,
    reason='the suite needs the bench extra: pip install "gilfree[bench]"',
)
PYTEST = [sys.executable, "-m", "pytest", "--pyargs", "gilfree.benchmarks", "--benchmark-only"]
PYTEST += ["-p", "no:cacheprovider", "-q"]


def _suite(tmp_path, kernels: str, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run the suite on ``kernels`` at size tiny; its output and the benchmarks of its JSON."""
    out = tmp_path / "bench.json"
    env = {**os.environ, "GILFREE_BENCH_KERNELS": kernels, "GILFREE_BENCH_SIZE": "tiny"}
    proc = subprocess.run(
        [*PYTEST, *args, f"--benchmark-json={out}"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())["benchmarks"] if out.exists() else []


@needs_bench
def test_speedup_does_not_need_the_baseline_test_to_run(tmp_path):
    """The issue's ``-k "mandelbrot and numba-njit"``: the baseline test is deselected, yet the
    speed-up is there, measured in the test itself against the baseline's own runs."""
    if importlib.util.find_spec("numba") is None:
        pytest.skip("the numba-njit contender needs numba (the bench extra)")
    _, benches = _suite(tmp_path, "mandelbrot", "-k", "mandelbrot and numba-njit", "--benchmark-max-time=0")
    (bench,) = benches
    assert bench["name"] == "test_kernel[mandelbrot:numba-njit-1]"
    info = bench["extra_info"]
    assert info["speedup"] is not None and info["speedup"] > 0
    assert info["efficiency"] == pytest.approx(info["speedup"] / info["workers"])
    assert info["matched"] is True


@needs_bench
@pytest.mark.parametrize("kernel", ["mandelbrot", "integrate"], ids=["pedantic-with-reset", "benchmark-call"])
def test_pytest_benchmark_options_govern_the_rounds(tmp_path, kernel):
    """mandelbrot writes its output in place (pedantic with an untimed reset), integrate does
    not (plain ``benchmark(...)``): both take their rounds from --benchmark-min-rounds and
    --benchmark-max-time, and save their parameter as a plain string."""
    proc, benches = _suite(
        tmp_path,
        kernel,
        "-k",
        "nogil-threads",
        "--benchmark-min-rounds=3",
        "--benchmark-max-time=0",
    )
    (bench,) = benches
    assert bench["stats"]["rounds"] == 3
    assert bench["params"] == {"contender": f"{kernel}:{bench['name'].split(':', 1)[1].rstrip(']')}"}
    assert bench["extra_info"]["speedup"] is not None
    assert "UNSERIALIZABLE" not in json.dumps(bench)
    assert "Unknown config option" not in proc.stdout + proc.stderr


@needs_bench
def test_gilfree_bench_runs_the_installed_suite(tmp_path):
    argv = [sys.executable, "-m", "gilfree", "bench", "--kernels", "integrate", "--size", "tiny"]
    argv += ["--", "-k", "nogil-serial", "--benchmark-disable"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert not (tmp_path / ".pytest_cache").exists()  # -p no:cacheprovider


def test_gilfree_bench_wants_pytest_arguments_after_a_double_dash(capsys):
    assert main(["bench", "--kernels", "nope"]) == 2
    assert "--kernels: expected some of" in capsys.readouterr().err
    assert main(["bench", "--size", "huge"]) == 2
    assert "--size: expected one of" in capsys.readouterr().err


def test_gilfree_bench_without_pytest_benchmark_names_the_extra(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pytest_benchmark" else real(name, *a)
    )
    assert main(["bench"]) == 2
    assert 'pip install "gilfree[bench]"' in capsys.readouterr().err


def test_the_bench_extra_has_what_the_suite_and_its_options_need():
    try:
        requires = importlib.metadata.requires("gilfree") or []
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - gilfree is installed
        pytest.skip("gilfree's metadata is not installed")
    bench = {r.split(";")[0].replace(" ", "") for r in requires if 'extra == "bench"' in r}
    names = {r.split(">")[0].split("=")[0] for r in bench}
    # --benchmark-histogram needs pygal and pygaljs: pytest-benchmark's own [histogram] extra
    assert "pytest-benchmark[histogram]" in names
    assert "pytest-timeout" in names  # the project's pytest config sets `timeout`
