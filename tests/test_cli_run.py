"""``gilfree run``: the result, its times and the check; bad values give exit status 2 and one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gilfree.cli import main

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.thread_unsafe(reason="runs pools from the CLI and sends SIGINT to subprocesses"),
]


@pytest.mark.parametrize(
    "argv",
    [
        ["mandelbrot", "--runner", "processes", "--workers", "2", "--start-method", "fork"],
        ["pairwise", "--runner", "threads", "--workers", "2", "--schedule", "dynamic"],
        ["primes", "--variant", "gil", "--runner", "serial"],
        ["histogram", "--runner", "processes", "--workers", "2", "--transport", "pickle"],
    ],
)
def test_run_prints_the_result_times_and_check(capsys, argv):
    assert main(["run", *argv, "--size", "small"]) == 0
    out = capsys.readouterr().out
    assert "matches the reference" in out
    for what in ("wall", "CPU", "start-up", "chunks"):
        assert what in out
    if "processes" in argv:
        assert "start method" in out and "transport" in out


def test_run_json_has_the_result_and_machine_facts(capsys):
    argv = ["run", "integrate", "--runner", "processes", "--workers", "2", "--size", "small", "--json"]
    assert main([*argv, "--start-method", "fork", "--transport", "shm", "--schedule", "dynamic"]) == 0
    doc = json.loads(capsys.readouterr().out)
    r = doc["result"]
    assert r["matched"] is True and r["runner"] == "processes" and r["workers"] == 2
    assert (r["start_method"], r["transport"], r["schedule"]) == ("fork", "shm", "dynamic")
    assert r["n_chunks"] == 16 and len(r["chunk_s"]) == 16 and r["startup_s"] > 0
    assert doc["machine"]["cores"] >= 1 and "python" in doc["machine"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fft"], "unknown kernel 'fft'"),
        (["integrate", "--variant", "fast"], "unknown variant 'fast'"),
        (["integrate", "--runner", "mpi"], "unknown runner 'mpi'"),
        (["integrate", "--workers", "0"], "workers must not be 0"),
        (["integrate", "--workers", "two"], "--workers must be an integer, got 'two'"),
        (["integrate", "--size", "huge"], "unknown size 'huge'"),
        (["integrate", "--schedule", "random"], "unknown schedule 'random'"),
        (["integrate", "--start-method", "fork"], "--start-method applies to --runner processes only"),
        (["integrate", "--runner", "processes", "--start-method", "vfork"], "start method 'vfork'"),
        (["integrate", "--runner", "processes", "--transport", "zmq"], "unknown transport 'zmq'"),
        (["integrate", "--timeout", "-1"], "--timeout must be > 0"),
    ],
)
def test_bad_values_exit_2_with_one_line(capsys, argv, message):
    assert main(["run", "--size", "tiny", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gilfree run: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_timeout_exits_1_with_one_line(capsys):
    argv = ["run", "primes", "--runner", "processes", "--workers", "2", "--start-method", "fork"]
    assert main([*argv, "--size", "large", "--timeout", "0.05"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gilfree run: TimeoutError:") and err.count("\n") == 1


def test_the_command_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "gilfree", "run", "integrate", "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
