"""``gilfree probe`` on the command line: its output, and its faults (issue 14, item 11).

Each fault ends with exit status 2 and one line naming what was wrong, never a traceback:
a call that never returns (``--timeout``), one that fails on a later call, ``--bytes`` too
large for memory, ``--min-time`` or ``--timeout`` not finite, and a target that prints while
``--json`` wants stdout for itself.
"""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from gilfree.cli import main
from gilfree.probe import HOLDS, HOLDS_IN_SLICES, INCONCLUSIVE, PARTLY_RELEASES, RELEASES

from .conftest import gil_enabled

pytestmark = pytest.mark.thread_unsafe(reason="starts child processes and sets the environment")

LABELS = (RELEASES, PARTLY_RELEASES, HOLDS_IN_SLICES, HOLDS, INCONCLUSIVE)


@pytest.fixture
def targets(tmp_path, monkeypatch):
    """A module of misbehaving targets, importable in the probe's child process."""
    (tmp_path / "gilfree_test_targets.py").write_text(
        textwrap.dedent(
            """
            import os
            import sys

            calls = 0

            def fails_on_second_call():
                global calls
                calls += 1
                if calls >= 2:
                    raise RuntimeError("boom on call %d" % calls)

            def chatty():
                print("hello from the target")
                os.write(1, b"and from C, to fd 1\\n")
                sys.stdout.flush()

            def spins_forever():
                while True:
                    pass

            def exits():
                raise SystemExit(3)
            """
        )
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "gilfree_test_targets"


def one_line_error(captured) -> str:
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("gilfree probe: error:"), err
    assert "Traceback" not in captured.err and captured.out == ""
    return err


# -- what it prints -------------------------------------------------------------------------------


def test_cli_probe_json(capsys):
    assert main(["probe", "time:sleep", "0.01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] in LABELS and out["confidence"] in ("high", "low")
    assert out["target"] == "time:sleep" and out["calls"] >= 1
    assert set(out["figures"]) >= {"p50_ms", "p75_ms", "p99_ms", "max_ms", "blocked_fraction", "ticks"}
    assert set(out["shares"]) >= {"free", "slice", "long"}


def test_cli_probe_kernel_inputs_and_table(capsys):
    target = "gilfree.kernels:integrate.gil"
    assert main(["probe", target, "--kernel-inputs", "default", "--min-time", "0.2"]) == 0
    out = capsys.readouterr().out
    assert target in out and "blocked fraction" in out and "confidence" in out
    if gil_enabled():
        assert "holds the GIL" in out or "inconclusive the GIL" in out


def test_cli_probe_bytes(capsys):
    assert main(["probe", "zlib:crc32", "--bytes", "1M", "--min-time", "0.05", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["calls"] >= 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope_module:f"], "cannot import module 'nope_module'"),
        (["math:pi"], "not a callable"),
        (["time:sleep", "--kernel-inputs", "tiny"], "--kernel-inputs needs a kernel variant"),
        (["gilfree.kernels:integrate.nogil", "--kernel-inputs", "huge"], "unknown size 'huge'"),
        (["time:sleep", "-1"], "calling time:sleep raised ValueError"),
        (["zlib:compress", "--bytes", "lots"], "--bytes: expected a byte count"),
        (["time:sleep", "0.01", "--min-time", "soon"], "--min-time: expected seconds"),
        (["zlib:compress", "--bytes", "1K", "--kernel-inputs", "tiny"], "not both"),
        (["time:sleep", "0.01", "--min-time", "5", "--timeout", "2"], "--timeout: 2 s leaves no time"),
    ],
)
def test_cli_probe_bad_callable_exits_2_in_one_line(capsys, argv, message):
    assert main(["probe", *argv]) == 2
    assert message in one_line_error(capsys.readouterr())


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["time:sleep", "1e9"],  # never returns, GIL released
        ["gilfree_test_targets:spins_forever"],  # never returns, pure Python
    ],
    ids=["sleeps", "spins"],
)
def test_a_call_that_never_returns_times_out(capsys, targets, argv):
    t0 = time.perf_counter()
    rc = main(["probe", *argv, "--timeout", "3"])
    elapsed = time.perf_counter() - t0
    err = one_line_error(capsys.readouterr())
    assert rc == 2 and "did not finish within --timeout 3 s" in err
    assert elapsed < 20, elapsed


def test_a_call_that_keeps_the_gil_forever_times_out_too(capsys):
    """A C call holding the GIL stops every thread of its interpreter: only a process can quit it."""
    t0 = time.perf_counter()
    rc = main(["probe", "math:factorial", "100000000", "--timeout", "3"])  # minutes, GIL held
    elapsed = time.perf_counter() - t0
    err = one_line_error(capsys.readouterr())
    assert rc == 2 and "did not finish within --timeout 3 s" in err
    assert elapsed < 20, elapsed


def test_a_call_that_fails_on_its_second_call_exits_2_in_one_line(capfd, targets):
    assert main(["probe", f"{targets}:fails_on_second_call"]) == 2
    err = one_line_error(capfd.readouterr())
    assert "raised RuntimeError on a later call (the first one worked): boom on call 2" in err


def test_a_target_that_exits_is_an_error_not_an_exit(capfd, targets):
    assert main(["probe", f"{targets}:exits"]) == 2
    assert "SystemExit" in one_line_error(capfd.readouterr())


def test_bytes_beyond_memory_is_one_line_naming_bytes(capsys):
    t0 = time.perf_counter()
    assert main(["probe", "zlib:compress", "--bytes", "999999999999999999"]) == 2
    err = one_line_error(capsys.readouterr())
    assert "--bytes" in err and "free memory" in err and "MemoryError" not in err
    assert time.perf_counter() - t0 < 5  # refused before any child starts


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--min-time", "inf"),
        ("--min-time", "nan"),
        ("--min-time", "0"),
        ("--min-time", "-1"),
        ("--min-time", "1e9"),
        ("--timeout", "inf"),
        ("--timeout", "0"),
        ("--timeout", "never"),
    ],
)
def test_non_finite_or_absurd_seconds_are_refused_naming_the_option(capsys, option, value):
    t0 = time.perf_counter()
    assert main(["probe", "time:sleep", "0.001", option, value]) == 2
    err = one_line_error(capsys.readouterr())
    assert err.startswith(f"gilfree probe: error: {option}:") and repr(value) in err
    assert time.perf_counter() - t0 < 5


def test_json_stdout_is_only_the_json_and_the_targets_prints_go_to_stderr(capfd, targets):
    assert main(["probe", f"{targets}:chatty", "--json", "--min-time", "0.05"]) == 0
    captured = capfd.readouterr()
    out = json.loads(captured.out)  # nothing else on stdout
    assert out["target"] == f"{targets}:chatty"
    assert "hello from the target" in captured.err and "and from C, to fd 1" in captured.err
