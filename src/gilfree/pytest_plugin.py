"""pytest plugin: keep an extension's GIL release in place, in its own CI.

Installing gilfree registers this plugin (entry point ``pytest11``, name ``gilfree``). It
adds a fixture and two markers, and nothing else: no option, no autouse fixture, and a hook
that does nothing for a test without a marker. Loading it imports nothing beyond pytest
itself; gilfree's probe is imported by the first test that uses it. ``-p no:gilfree`` turns
it off.

* ``gil_probe``: a fixture. ``gil_probe(func, *args, **kwargs)`` probes the call and returns
  the :class:`~gilfree.probe.ProbeResult`; in a test marked ``releases_gil`` or ``holds_gil``
  it also fails the test unless the call does as marked. ``gil_probe.releases(...)`` and
  ``gil_probe.holds(...)`` assert in any test.
* ``@pytest.mark.releases_gil``: this test's callable must release the GIL. Either name it
  in the marker, ``@pytest.mark.releases_gil(mymodule.compute, data)``, and the plugin
  probes it after the test body passes, or call ``gil_probe(func, *args)`` in the test (for
  inputs made in the test or by a fixture). A marked test that probes nothing fails.
* ``@pytest.mark.holds_gil``: the same, for a callable that must hold it.

A failure reads ``gilfree: expected ... to release the GIL, but it holds the GIL`` with the
figures and the verdict's reason (:mod:`gilfree.testing`).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from gilfree.probe import ProbeResult

MARKERS = {
    "releases_gil": "releases_gil(func=None, *args, **kwargs): the test's callable (named here, "
    "or passed to the gil_probe fixture) must release the GIL (gilfree)",
    "holds_gil": "holds_gil(func=None, *args, **kwargs): the test's callable (named here, or "
    "passed to the gil_probe fixture) must hold the GIL (gilfree)",
}

#: How many calls each running test probed (kept off the item: works with any pytest).
_PROBED: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)


def _mark(node: pytest.Item) -> pytest.Mark | None:
    marks = [m for m in (node.get_closest_marker(name) for name in MARKERS) if m is not None]
    if len(marks) > 1:
        pytest.fail("marked both releases_gil and holds_gil: pick one", pytrace=False)
    return marks[0] if marks else None


def _check(mark_name: str | None, func: Callable[..., Any], args: tuple, kwargs: dict) -> ProbeResult:
    from gilfree import testing

    if mark_name == "releases_gil":
        return testing.assert_releases_gil(func, *args, **kwargs)
    if mark_name == "holds_gil":
        return testing.assert_holds_gil(func, *args, **kwargs)
    from gilfree.probe import probe

    return probe(func, *args, **kwargs)


class GilProbe:
    """The ``gil_probe`` fixture: probe callables, asserting what the test's marker asks."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node
        mark = _mark(node)
        self.expect = mark.name if mark is not None else None

    def __call__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> ProbeResult:
        """Probe ``func(*args, **kwargs)``; in a marked test, fail unless it does as marked."""
        _PROBED[self._node] = _PROBED.get(self._node, 0) + 1
        return _check(self.expect, func, args, kwargs)

    def releases(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> ProbeResult:
        """Fail unless the call releases the GIL (``gilfree.testing.assert_releases_gil``)."""
        _PROBED[self._node] = _PROBED.get(self._node, 0) + 1
        return _check("releases_gil", func, args, kwargs)

    def holds(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> ProbeResult:
        """Fail unless the call holds the GIL (``gilfree.testing.assert_holds_gil``)."""
        _PROBED[self._node] = _PROBED.get(self._node, 0) + 1
        return _check("holds_gil", func, args, kwargs)


@pytest.fixture
def gil_probe(request: pytest.FixtureRequest) -> GilProbe:
    """Probe whether callables release the GIL (see ``gilfree.pytest_plugin``)."""
    return GilProbe(request.node)


@pytest.hookimpl(trylast=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """After a marked test's body passed (pytest's own hook ran it, and raised if it failed):
    probe the marker's callable, or check that the test probed one.

    A plain hook rather than a wrapper: it works with any pytest, and does nothing at all for
    a test without a marker.
    """
    mark = _mark(item)
    if mark is None:
        return
    probed = _PROBED.pop(item, 0)
    if mark.args:
        func, *args = mark.args
        if not callable(func):
            pytest.fail(f"{mark.name}(...) needs a callable first, got {func!r}", pytrace=False)
        from gilfree.testing import GilAssertionError

        failure = None
        try:
            _check(mark.name, func, tuple(args), dict(mark.kwargs))
        except GilAssertionError as exc:
            failure = str(exc)  # failed outside the handler: no "during handling" chain
        if failure is not None:
            pytest.fail(failure, pytrace=False)
    elif not probed:
        pytest.fail(
            f"marked {mark.name} but probed nothing: name the callable in the marker, "
            f"@pytest.mark.{mark.name}(func, *args), or call gil_probe(func, *args) in the test",
            pytrace=False,
        )
