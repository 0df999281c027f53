"""``gilfree.testing`` and the pytest plugin: the assertions, the fixture, the markers, and
that the plugin changes nothing in a project that does not use it, nor its start-up.

The plugin is exercised the way a downstream project sees it: a pytest run in a subprocess,
in a temporary folder, with gilfree installed (its ``pytest11`` entry point).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time

import pytest

from gilfree.probe import HOLDS, HOLDS_IN_SLICES, RELEASES
from gilfree.testing import GilAssertionError, assert_holds_gil, assert_releases_gil

from .conftest import gil_enabled

pytestmark = pytest.mark.thread_unsafe(reason="probes set the switch interval; starts pytest in a subprocess")

needs_gil = pytest.mark.skipif(not gil_enabled(), reason="with the GIL off nothing holds it")


# -- gilfree.testing ------------------------------------------------------------------------------


def test_assert_releases_gil_returns_the_result():
    result = assert_releases_gil(time.sleep, 0.001, min_time=0.05)
    assert result.verdict.label == RELEASES and result.target == "time.sleep"


@needs_gil
def test_assert_holds_gil_returns_the_result():
    result = assert_holds_gil(sum, range(5000), min_time=0.05, slices=False)
    assert result.verdict.label == HOLDS and result.target == "sum"


@needs_gil
def test_a_failed_assertion_carries_the_figures_and_the_reason():
    with pytest.raises(GilAssertionError) as caught:
        assert_releases_gil(sum, range(5000), min_time=0.05, tries=2)
    message = str(caught.value)
    assert message.startswith("gilfree: expected sum to release the GIL, but it holds the GIL")
    assert "why: " in message and "GIL wait p25/p50/p75/max" in message and "shares of the run" in message
    assert caught.value.result.verdict.label == HOLDS and len(caught.value.verdicts) == 2
    with pytest.raises(GilAssertionError, match=r"expected time\.sleep to hold the GIL, but it") as caught:
        assert_holds_gil(time.sleep, 0.001, min_time=0.05, tries=2)
    # Never read as holding; on a loaded machine a try may read "partly releases" (the calling
    # thread, holding the GIL between sleeps, waits for a core): that still fails the assertion.
    assert not set(caught.value.verdicts) & {HOLDS, HOLDS_IN_SLICES}
    with pytest.raises(ValueError, match="tries must be an integer"):
        assert_releases_gil(time.sleep, 0.001, tries=0)


# -- the plugin, as another project sees it -------------------------------------------------------


def run_pytest(folder, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def outcomes(output: str) -> dict[str, str]:
    """``test name -> PASSED / FAILED / ERROR`` from pytest's ``-rA`` summary."""
    return {m[2]: m[1] for m in re.finditer(r"^(PASSED|FAILED|ERROR) \S+::(\w+)", output, re.M)}


PROJECT_TESTS = """
import sys
import time

import pytest


def test_untouched_by_the_plugin():  # first: before any probe imported anything
    assert "gilfree.probe" not in sys.modules and "numpy" not in sys.modules
    assert sys.getswitchinterval() == 0.005


@pytest.mark.releases_gil(time.sleep, 0.001)
def test_marker_with_a_releasing_call():
    pass


@pytest.mark.holds_gil(sum, range(5000))
def test_marker_with_a_holding_call():
    pass


@pytest.mark.releases_gil(sum, range(5000))
def test_marker_with_a_holding_call_that_should_release():
    pass


@pytest.mark.releases_gil
def test_fixture_in_a_marked_test(gil_probe):
    gil_probe(time.sleep, 0.001)


@pytest.mark.releases_gil
def test_fixture_in_a_marked_test_that_holds(gil_probe):
    gil_probe(sum, range(5000))


@pytest.mark.releases_gil
def test_marked_but_probes_nothing():
    pass


@pytest.mark.releases_gil(time.sleep, 0.001)
def test_marked_whose_body_fails():
    assert 1 == 2, "the body's own failure"


def test_fixture_without_a_marker_only_measures(gil_probe):
    assert gil_probe(sum, range(5000)).verdict.label == "holds"
    gil_probe.releases(time.sleep, 0.001)
"""


@needs_gil
def test_plugin_markers_and_fixture(tmp_path):
    (tmp_path / "test_project.py").write_text(PROJECT_TESTS)
    done = run_pytest(tmp_path)
    got = outcomes(done.stdout)
    assert got == {
        "test_untouched_by_the_plugin": "PASSED",
        "test_marker_with_a_releasing_call": "PASSED",
        "test_marker_with_a_holding_call": "PASSED",
        "test_marker_with_a_holding_call_that_should_release": "FAILED",
        "test_fixture_in_a_marked_test": "PASSED",
        "test_fixture_in_a_marked_test_that_holds": "FAILED",
        "test_marked_but_probes_nothing": "FAILED",
        "test_marked_whose_body_fails": "FAILED",
        "test_fixture_without_a_marker_only_measures": "PASSED",
    }, done.stdout + done.stderr
    out = done.stdout
    assert "gilfree: expected sum to release the GIL, but it holds the GIL" in out
    assert "marked releases_gil but probed nothing" in out
    assert "the body's own failure" in out


def test_plugin_registers_its_markers_and_can_be_turned_off(tmp_path):
    markers = run_pytest(tmp_path, "--markers").stdout
    assert "@pytest.mark.releases_gil(func=None, *args, **kwargs)" in markers
    assert "@pytest.mark.holds_gil(func=None, *args, **kwargs)" in markers
    (tmp_path / "test_uses_fixture.py").write_text("def test_it(gil_probe):\n    pass\n")
    off = run_pytest(tmp_path, "-p", "no:gilfree")
    assert "fixture 'gil_probe' not found" in off.stdout
    assert "releases_gil" not in run_pytest(tmp_path, "-p", "no:gilfree", "--markers").stdout


def test_a_project_that_does_not_use_the_plugin_runs_the_same(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent(
            """
            import sys

            def test_one():
                assert sys.getswitchinterval() == 0.005

            def test_two():
                assert "numpy" not in sys.modules
            """
        )
    )
    on, off = run_pytest(tmp_path), run_pytest(tmp_path, "-p", "no:gilfree")
    # The same with and without gilfree's plugin. (Another installed plugin may import NumPy
    # itself, as pytest-run-parallel does on 3.13t: then test_two fails in both runs alike.)
    assert on.returncode == off.returncode, on.stdout + on.stderr
    assert outcomes(on.stdout) == outcomes(off.stdout)
    assert outcomes(on.stdout)["test_one"] == "PASSED"


def test_loading_the_plugin_imports_nothing_heavy():
    """What pytest imports at start-up: the plugin and gilfree's package, no NumPy, no kernels."""
    code = (
        "import sys, pytest; before = set(sys.modules); import gilfree.pytest_plugin; "
        "print(sorted(m for m in set(sys.modules) - before if not m.startswith('_')))"
    )
    added = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(added) == ["gilfree", "gilfree.pytest_plugin"], added
    # The import itself, as -X importtime counts it (cumulative microseconds), well under 50 ms.
    timing = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest; import gilfree.pytest_plugin"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    cumulative_us = int(re.search(r"\|\s*(\d+) \| gilfree\.pytest_plugin$", timing, re.M)[1])
    assert cumulative_us < 50_000, timing
