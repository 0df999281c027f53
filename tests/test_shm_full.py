"""A /dev/shm too small for a run (Docker's default is 64 MB) is a clear error, never SIGBUS.

Each case runs in a child process inside a private mount namespace (``unshare -m``) whose
/dev/shm is a 1 MiB tmpfs of its own, so the host's /dev/shm is never filled. That needs root
(to mount) and a working ``unshare``; elsewhere the module is skipped and says which is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.thread_unsafe(reason="runs children in their own mount namespace"),
]

#: The child's /dev/shm: a tmpfs this small, mounted only inside its namespace.
SHM_SIZE = "1m"


def _namespace_problem() -> str | None:
    """Why the cases cannot run here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "a private /dev/shm needs Linux mount namespaces"
    if os.geteuid() != 0:
        return "mounting a small tmpfs on /dev/shm in a private mount namespace needs root"
    if shutil.which("unshare") is None:
        return "the unshare command (util-linux) is not installed"
    try:
        probe = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs -o size={SHM_SIZE} tmpfs /dev/shm && df -k /dev/shm"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare -m did not run: {exc}"
    if probe.returncode != 0:
        return f"unshare -m with a tmpfs on /dev/shm failed here: {probe.stderr.strip() or probe.returncode}"
    return None


@pytest.fixture(scope="module", autouse=True)
def private_shm():
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)


def _in_namespace(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``argv`` in a private mount namespace whose /dev/shm is a fresh 1 MiB tmpfs; then what the
    child left in that /dev/shm is printed after a ``--- left:`` line."""
    script = (
        f'mount -t tmpfs -o size={SHM_SIZE} tmpfs /dev/shm || exit 99; "$@"; rc=$?; '
        'echo "--- left:"; ls -A /dev/shm; exit $rc'
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *argv],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _left(proc: subprocess.CompletedProcess) -> list[str]:
    return proc.stdout.split("--- left:", 1)[1].split()


LIBRARY = textwrap.dedent(
    """
    import errno
    import numpy as np
    from gilfree.runners import make_runner

    def total(a, cancel=None):
        return float(a.sum())

    with make_runner("processes", 2, start_method="fork") as r:
        big = np.ones(4 * 2**20 // 8)  # 4 MiB, in a 1 MiB /dev/shm
        try:
            r.map(total, [(big,)])
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
            print("ERROR", exc)
        else:
            raise AssertionError("a 4 MiB array fitted in a 1 MiB /dev/shm")
        # The runner is still usable: what fits goes through shared memory, the rest by pickle.
        small = np.ones(700 * 1024 // 8)
        assert r.map(total, [(small,)])[0].value == small.size
        # A run whose array has another size: the last run's segment (kept for reuse) must be
        # unlinked before the new one is made, or 700 KiB + 800 KiB would not fit.
        other = np.ones(800 * 1024 // 8)
        assert r.map(total, [(other,)])[0].value == other.size
    with make_runner("processes", 2, start_method="fork", transport="pickle") as r:
        assert r.map(total, [(big,)])[0].value == big.size
    print("OK")
    """
)


def test_a_full_dev_shm_is_an_oserror_that_says_how_much_and_what_to_do():
    proc = _in_namespace(sys.executable, "-c", LIBRARY)
    assert proc.returncode != -signal.SIGBUS and proc.returncode != 128 + signal.SIGBUS, proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR"))
    assert "this run needs 4.0 MiB of new segments in /dev/shm" in line
    assert "of its 1.0 MiB are free" in line and "No space left on device" in line
    assert 'use transport="pickle"' in line
    assert "OK" in proc.stdout
    assert _left(proc) == [], "segments were left in /dev/shm"


def test_gilfree_run_fails_without_sigbus_and_leaves_no_segment():
    proc = _in_namespace(
        sys.executable, "-m", "gilfree", "run", "sum_squares", "--runner", "processes",
        "--workers", "2", "--size", "small",
    )  # fmt: skip
    assert proc.returncode not in (-signal.SIGBUS, 128 + signal.SIGBUS), "killed by SIGBUS"
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "not enough shared memory for the processes runner" in last, proc.stderr
    assert 'transport="pickle"' in last
    assert _left(proc) == [], "segments were left in /dev/shm"


def test_gilfree_compare_records_the_cell_as_failed_and_goes_on(tmp_path):
    out = tmp_path / "compare.json"
    proc = _in_namespace(
        sys.executable, "-m", "gilfree", "compare", "--kernels", "sum_squares", "--variants", "nogil",
        "--runners", "processes", "threads", "--workers", "2", "--size", "small", "--repeat", "1",
        "--no-progress", "--json", str(out),
    )  # fmt: skip
    assert proc.returncode not in (-signal.SIGBUS, 128 + signal.SIGBUS), "killed by SIGBUS"
    cells = {c["runner"]: c for c in json.loads(out.read_text())["cells"]}
    assert "not enough shared memory" in (cells["processes"]["error"] or ""), cells["processes"]
    assert not cells["threads"]["error"] and not cells["serial"]["error"], "the other cells still ran"
    assert _left(proc) == [], "segments were left in /dev/shm"
