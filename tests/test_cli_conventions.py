"""What a command-line tool is expected to do, checked in a subprocess as a shell would see it:
``--version``, a subcommand's own usage for its unknown options, and a quiet exit when the
reader of stdout has gone (``gilfree info | head -1``)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

import gilfree
from gilfree.cli import CLOSED_STDOUT_EXIT

pytestmark = pytest.mark.thread_unsafe(reason="starts gilfree in subprocesses, some running pools")

GILFREE = [sys.executable, "-m", "gilfree"]
#: a compare that takes about a second: one kernel, one cell
SMALL_COMPARE = [
    "compare", "--kernels", "integrate", "--variants", "nogil", "--runners", "serial",
    "--size", "tiny", "--repeat", "1", "--no-progress",
]  # fmt: skip


def gilfree_cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*GILFREE, *args], capture_output=True, text=True, timeout=120, **kw)


def test_version():
    out = gilfree_cli("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"gilfree {gilfree.__version__}\n"
    assert re.fullmatch(r"gilfree \d+\.\d+\.\d+\S*\n", out.stdout)


@pytest.mark.parametrize(
    ("argv", "unknown"),
    [
        (["compare", "--kernls", "x"], "--kernls x"),
        (["info", "--jsn"], "--jsn"),
        (["run", "integrate", "--varient", "gil"], "--varient gil"),
        (["claims", "--all"], "--all"),
    ],
)
def test_unknown_option_shows_the_subcommands_usage(argv, unknown):
    out = gilfree_cli(*argv)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines[0].startswith(f"usage: gilfree {argv[0]} "), out.stderr
    errors = [line for line in lines if "error:" in line]
    assert errors == [f"gilfree {argv[0]}: error: unrecognized arguments: {unknown}"], out.stderr
    assert lines[-1] == errors[0] and "Traceback" not in out.stderr


def _into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess:
    """Run gilfree with stdout a pipe whose reader is already gone: its first write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*GILFREE, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(write_end)


@pytest.mark.skipif(os.name != "posix", reason="a closed pipe as a POSIX shell makes it")
@pytest.mark.parametrize(
    "argv",
    [["info"], ["info", "--json"], SMALL_COMPARE, [*SMALL_COMPARE, "--json", "-"]],
    ids=["info", "info-json", "compare", "compare-json-stdout"],
)
def test_closed_stdout_exits_quietly_with_141(argv):
    out = _into_closed_pipe(argv)
    assert out.returncode == CLOSED_STDOUT_EXIT == 141, out.stderr
    assert out.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("head")), reason="needs bash and head")
def test_piped_into_head():
    # The command as typed. Whether gilfree's write or head's exit comes first is a
    # race, so gilfree's status is 0 or 141; either way nothing shows but head's one line.
    gilfree_cmd = " ".join(shlex.quote(a) for a in GILFREE)
    out = subprocess.run(
        ["bash", "-c", f'{gilfree_cmd} info --json | head -1; echo "gilfree: ${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    first, status = out.stdout.splitlines()
    assert first == "{" and status in ("gilfree: 0", f"gilfree: {CLOSED_STDOUT_EXIT}"), out.stdout
    assert out.stderr == ""
