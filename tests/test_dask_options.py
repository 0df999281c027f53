"""The dask runner's parts that need no cluster: layouts, the --scheduler option, the missing extra."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
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


# -- scheduler addresses: checked before anything connects -------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("TLS://scheduler.example:443", "tls://scheduler.example:443"),
        ("10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        (" tcp://[::1]:8786 ", "tcp://[::1]:8786"),
    ],
)
def test_good_scheduler_addresses_are_normalised(address, expected):
    from gilfree.runners._address import check_scheduler_address

    assert check_scheduler_address(address) == expected


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("ucx://127.0.0.1:1", "ucx:// needs the distributed-ucxx package"),
        ("inproc://127.0.0.1:1", "inproc:// reaches only a scheduler inside this process"),
        ("http://127.0.0.1:8787", "http:// is not a Dask scheduler address"),
        ("tcp://127.0.0.1:notaport", "the port must be a number from 1 to 65535, got 'notaport'"),
        ("tcp://127.0.0.1:0", "the port must be from 1 to 65535, got 0"),
        ("tcp://127.0.0.1:70000", "the port must be from 1 to 65535, got 70000"),
        ("tcp://127.0.0.1", "it needs a host and a port"),
        ("tcp://:8786", "needs a host and a port"),
        ("tcp://::1:8786", "an IPv6 host goes in brackets"),
        ("tcp://host name:8786", "is not a host name or IP address"),
        ("tcp://127.0.0.1:8786/status", "there is a path after the port"),
    ],
)
def test_bad_scheduler_addresses_say_what_is_wrong(address, message):
    from gilfree.runners._address import check_scheduler_address

    with pytest.raises(ValueError, match=re.escape(message)):
        check_scheduler_address(address)
    with pytest.raises(UsageError, match=r"^--scheduler .+: .*" + re.escape(message)):
        check_scheduler_option(_parse(["--scheduler", address]), ["dask"])


def _without_dask_tls(tmp_path) -> dict[str, str]:
    """The environment with no TLS credentials in Dask's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_DISTRIBUTED__COMM__TLS")}
    env["DASK_CONFIG"] = str(tmp_path)  # an empty folder: no YAML of the user's
    return env


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tls://127.0.0.1:1", "a tls:// scheduler needs TLS credentials"),
        ("ucx://127.0.0.1:1", "ucx:// needs the distributed-ucxx package"),
        ("tcp://127.0.0.1:notaport", "the port must be a number"),
    ],
)
def test_gilfree_run_refuses_a_bad_scheduler_in_one_line(address, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gilfree", "run", "sum_squares", "--runner", "dask", "--scheduler", address],
        capture_output=True, text=True, timeout=120, env=_without_dask_tls(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    if message.startswith("a tls://") and importlib.util.find_spec("distributed") is None:
        # Without Dask there is no configuration to read credentials from: the line names the extra.
        assert lines[0].startswith("gilfree run: error: ") and "gilfree[dask]" in lines[0], lines[0]
        return
    assert lines[0].startswith(f"gilfree run: error: --scheduler {address}: ") and message in lines[0]
