"""The dask runner's parts that need no cluster: layouts, the --scheduler option, the missing extra."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from gilfree.cli import UsageError, add_scheduler_option, check_scheduler_option, scheduler_options
from gilfree.runners.layouts import layouts, parse_layout, parse_layouts, resolve_layout


def test_layouts_are_every_factorisation_fewest_processes_first():
    assert layouts(1) == [(1, 1)]
    assert layouts(2) == [(1, 2), (2, 1)]
    assert layouts(4) == [(1, 4), (2, 2), (4, 1)]
    assert layouts(12, max_processes=3) == [(1, 12), (2, 6), (3, 4)]
    assert all(p * t == 6 for p, t in layouts(6))


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_layouts_reject_a_bad_total(bad):
    with pytest.raises((TypeError, ValueError), match="total"):
        layouts(bad)


def test_parse_layouts():
    assert parse_layout("2x1") == (2, 1)
    assert parse_layout(" 2 X 2 ") == (2, 2)
    assert parse_layouts("1x2,2x1,2x2,1x2") == [(1, 2), (2, 1), (2, 2)]
    for bad in ("2", "0x2", "2x0", "axb", "2x2x2"):
        with pytest.raises(ValueError, match="PROCESSESxTHREADS"):
            parse_layout(bad)
    with pytest.raises(ValueError, match="at least one"):
        parse_layouts(" , ")
    with pytest.raises(TypeError, match="layout"):
        parse_layout(2)


def test_resolve_layout_rule():
    assert resolve_layout(2) == (1, 2)  # threads first: nogil kernels scale in threads
    assert resolve_layout(4, n_workers=2) == (2, 2)
    assert resolve_layout(4, threads_per_worker=1) == (4, 1)
    # Both sides given: exactly them, unless an explicit count disagrees.
    assert resolve_layout(2, n_workers=3, threads_per_worker=2, explicit=False) == (3, 2)
    with pytest.raises(ValueError, match="does not match"):
        resolve_layout(4, n_workers=3, threads_per_worker=2)
    # "All cores" (not explicit) rounds down, at least 1; an explicit count must divide.
    assert resolve_layout(2, n_workers=3, explicit=False) == (3, 1)
    with pytest.raises(ValueError, match="not a multiple of n_workers=2"):
        resolve_layout(3, n_workers=2)
    with pytest.raises(ValueError, match="threads_per_worker"):
        resolve_layout(2, threads_per_worker=0)


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_scheduler_option(parser)
    return parser.parse_args(argv)


def test_scheduler_option_maps_to_the_dask_runner_only():
    args = _parse(["--scheduler", "tcp://127.0.0.1:8786"])
    assert scheduler_options(args, "dask") == {"scheduler": "tcp://127.0.0.1:8786"}
    assert scheduler_options(args, "threads") == {}
    check_scheduler_option(args, ["threads", "dask"])
    with pytest.raises(UsageError, match="only to the dask runner"):
        check_scheduler_option(args, ["threads"])
    with pytest.raises(UsageError, match="needs an address"):
        check_scheduler_option(_parse(["--scheduler", " "]), ["dask"])
    none = _parse([])
    assert scheduler_options(none, "dask") == {}
    check_scheduler_option(none, ["threads"])


def test_missing_extra_names_what_to_install():
    """Without dask.distributed, asking for the runner says which extra to install."""
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from gilfree.runners import make_runner\n"
        "make_runner('dask')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert 'pip install "gilfree[dask]"' in proc.stderr
