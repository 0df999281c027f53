"""One fixture parametrised over every kernel, one over every variant (as propcache does)."""

from __future__ import annotations

import faulthandler
import os
import sys
import sysconfig

import pytest

from gilfree.kernels import REGISTRY, VARIANTS, build_info

faulthandler.enable(file=sys.stderr, all_threads=True)

COMPILED = [v for v in VARIANTS if v != "python" and (v != "openmp" or build_info()["openmp"])]


def gil_enabled() -> bool:
    return getattr(sys, "_is_gil_enabled", lambda: True)()


@pytest.fixture(params=list(REGISTRY))
def kernel(request):
    return REGISTRY[request.param]


@pytest.fixture(params=["python", *COMPILED])
def variant(request):
    return request.param


@pytest.fixture(params=COMPILED)
def compiled_variant(request):
    return request.param


# -- the installed-wheel check (tools/check_wheel.sh, cibuildwheel's test step) -----------------
def pytest_sessionfinish(session, exitstatus):
    """With GILFREE_EXPECT_INSTALLED=1, fail the run if any test used gilfree from outside site-packages.

    Checked at the very end, so a module that any test imported late is caught too.
    """
    from tests import _installed

    if not _installed.expected():
        return
    bad = _installed.foreign_modules()
    if bad:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"{_installed.ENV}=1 but gilfree was imported from outside {_installed.install_roots()}:"]
        lines += [f"  {line}" for line in bad]
        for line in lines:
            (reporter.write_line if reporter else print)(line)


# -- free-threaded Python --------------------------------------------------------------------
#
# The suite runs on GIL builds and on free-threaded ones (3.13t), and on the free-threaded
# build also under pytest-run-parallel (``pytest --parallel-threads=4``), which runs every
# test in 4 threads at once with its fixtures shared. Rules for every test:
#
# * Never assume a GIL. What the GIL decides (``gil`` or ``python`` variants not scaling in
#   threads, a heartbeat stalled by a ``gil`` call, claim verdicts) must branch on
#   ``gil_enabled()``, as tests/test_gil_release.py does: on a free-threaded build with the
#   GIL off they scale and the heartbeat runs.
# * A test that cannot run in 4 copies at once gets
#   ``@pytest.mark.thread_unsafe(reason="...")`` with the reason: it counts the process's
#   threads or processes, starts subprocesses or pools of processes, asserts on timing or on
#   a heartbeat, sets process-wide state (``sys.setswitchinterval``, environment, signal
#   handlers), or is too slow to run 4 times (say so: "slow, not unsafe").
#   The plugin already runs tests using capsys, capfd or monkeypatch in one thread.
# * Everything else must pass in 4 threads: make inputs inside the test (or treat shared
#   fixtures as read-only), and assert on what the test itself made.


def free_threaded_build() -> bool:
    """Is this interpreter a free-threaded build (whether or not the GIL is on right now)?"""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def free_threaded_python() -> str | None:
    """A free-threaded interpreter with gilfree installed, or None.

    ``GILFREE_FT_PYTHON`` (set by .ci/run) names one; without it, this interpreter if it is
    free-threaded. Never builds one: the shared tool takes minutes the first time.
    """
    path = os.environ.get("GILFREE_FT_PYTHON")
    if path:
        return path
    return sys.executable if free_threaded_build() else None
