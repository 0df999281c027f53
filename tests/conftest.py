"""One fixture parametrised over every kernel, one over every variant (as propcache does)."""

from __future__ import annotations

import faulthandler
import sys

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
