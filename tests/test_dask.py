"""The dask runner on real clusters: an embedded LocalCluster, and `dask scheduler` plus two
`dask worker` processes started here on 127.0.0.1. Every kernel is checked against its
reference on both; a worker is killed with SIGKILL in the middle of a run; an unreachable
scheduler fails within its timeout; and no scheduler, worker or nanny process outlives a test.

Cluster start-up dominates the time, so each kind of cluster is started once per module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

distributed = pytest.importorskip(
    "distributed", reason='the dask runner needs the dask extra: pip install -e ".[test,dask]"'
)

import gilfree  # noqa: E402
from gilfree.kernels import mandelbrot, primes, sum_squares  # noqa: E402
from gilfree.runners import make_runner  # noqa: E402
from gilfree.runners._dask_cluster import ClosingClient  # noqa: E402
from gilfree.runners._dask_worker import Output, run_chunk, same_bytes  # noqa: E402
from gilfree.runners.dask import SCHEDULER_ENV, DaskRunner, _outputs  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.thread_unsafe(reason="starts Dask clusters and counts processes")]

#: Python's multiprocessing helper: one per interpreter, started by the first spawned process
#: and gone when this interpreter exits. It is not a scheduler, worker or nanny.
RESOURCE_TRACKER = "multiprocessing.resource_tracker"
#: Dask's own per-interpreter thread pools, created once and reused by every client.
DASK_SINGLETON_THREADS = ("Dask-Offload", "Dask-Callback-Thread")


def _children() -> dict[int, str]:
    out = {}
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            if p.status() != psutil.STATUS_ZOMBIE and RESOURCE_TRACKER not in cmd:
                out[p.pid] = cmd
        except psutil.NoSuchProcess:
            pass
    return out


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if not t.name.startswith(DASK_SINGLETON_THREADS)}


def _settle(check, seconds: float = 10.0):
    """Poll ``check`` until it returns something falsy, or give its last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    left = check()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = check()
    return left


@pytest.fixture(scope="module", autouse=True)
def nothing_left_by_module():
    """After the module's clusters are torn down, no process of theirs remains."""
    before = set(_children())
    yield
    left = _settle(lambda: {pid: c for pid, c in _children().items() if pid not in before})
    assert not left, f"processes left after the dask tests: {left}"


#: Worker processes that replace, in the module-wide embedded cluster, ones a test had restarted
#: (its nanny runs in this process, so they are our children): the module check covers them.
_replacements: set[int] = set()


def _new_children(before: set[int]) -> dict[int, str]:
    """Processes not in ``before``, except those a module-wide cluster's nanny started to
    replace a dead worker (their parent is an older child, or they are in ``_replacements``):
    the module check covers them."""
    me = os.getpid()
    out = {}
    for pid, cmd in _children().items():
        if pid in before or pid in _replacements:
            continue
        try:
            parent = psutil.Process(pid).ppid()
        except psutil.NoSuchProcess:
            continue
        if parent == me or parent not in before:
            out[pid] = cmd
    return out


@pytest.fixture(autouse=True)
def nothing_left_by_test():
    """No process or thread a test started outlives it (module-wide clusters exist before it)."""
    procs, threads = set(_children()), _threads()
    yield
    left = _settle(lambda: _new_children(procs))
    assert not left, f"processes left by the test: {left}"
    # By name: a module-wide cluster's nanny (in this process) watches a worker process that
    # replaced one a test restarted with threads named as the ones it had for the old one.
    names = {t.name for t in threads}
    extra = _settle(lambda: {t.name for t in _threads() - threads} - names)
    assert not extra, f"threads left by the test: {extra}"


@pytest.fixture(scope="module")
def local_runner():
    """The embedded default: a LocalCluster of 1 process x 2 threads."""
    with DaskRunner(2, scheduler="local") as runner:  # "local": even if GILFREE_DASK_SCHEDULER is set
        yield runner


#: The folder that holds the ``tests`` package, so that workers can unpickle this module's chunk
#: functions (a LocalCluster's spawned workers inherit sys.path; `dask worker` needs it said).
ROOT = str(Path(__file__).resolve().parents[1])


def _dask_cli(*args: str, log) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
    )  # fmt: skip


def _stop(procs: list[subprocess.Popen]) -> None:
    """Workers first, then the scheduler: SIGTERM (a nanny stops its worker), then SIGKILL
    whatever of the process trees is left."""
    trees = []
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            trees += psutil.Process(p.pid).children(recursive=True)
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    _gone, alive = psutil.wait_procs(trees, timeout=5)
    for c in alive:
        c.kill()


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    """`dask scheduler` and two `dask worker ADDRESS --nthreads 1 --nworkers 1` on 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("dask-cluster")
    log = open(tmp / "cluster.log", "wb")  # noqa: SIM115 - closed in the finally below
    sched_file = tmp / "scheduler.json"
    procs = []
    try:
        procs.append(
            _dask_cli(
                "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(sched_file), log=log,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not sched_file.exists() or not sched_file.read_text().strip():
            assert procs[0].poll() is None, (tmp / "cluster.log").read_text()
            assert time.monotonic() < deadline, "dask scheduler did not start in 60 s"
            time.sleep(0.05)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(2):
            procs.append(
                _dask_cli(
                    "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                    "--host", "127.0.0.1", "--name", f"w{i}", "--local-directory", str(tmp / f"w{i}"),
                    log=log,
                )
            )  # fmt: skip
        with distributed.Client(address, timeout=30, set_as_default=False) as c:
            c.wait_for_workers(2, timeout=60)
        yield address
    finally:
        _stop(procs)
        log.close()


# -- the embedded LocalCluster --------------------------------------------------------------


def test_embedded_runs_every_kernel(local_runner, kernel):
    result = local_runner.run(kernel, "nogil", size="small")
    assert result.matched, f"{kernel.name}: {result.value!r} differs from the reference"
    assert result.runner == "dask" and result.workers == 2
    assert result.n_chunks == 2
    assert result.extra["mode"] == "local" and result.extra["layout"] == "1x2"
    assert result.transport == "scatter"


def test_embedded_layout_and_describe(local_runner):
    assert local_runner.mode == "local"
    assert local_runner.address.startswith("tls://127.0.0.1:")
    extra = local_runner.describe()["extra"]
    assert extra["processes"] == 1 and extra["threads_per_process"] == [2]
    assert extra["allowed_failures"] >= 1
    assert "1x2" in repr(local_runner)


def test_embedded_python_variant_and_dynamic_schedule(local_runner):
    # The pure-Python variant is a different callable (pickled by reference to gilfree's module).
    result = local_runner.run("integrate", "python", size="tiny")
    assert result.matched
    inputs = mandelbrot.make_inputs("small")
    chunks = mandelbrot.split(inputs, 9)
    result = local_runner.run(mandelbrot, "nogil", inputs, chunks)
    assert result.matched and result.n_chunks == 9
    assert (inputs.args[0] >= 0).all(), "every row written on a worker must reach the caller's image"


def test_chunk_exception_is_raised_with_the_worker_traceback(local_runner):
    inputs = mandelbrot.make_inputs("tiny")
    good = mandelbrot.split(inputs, 2)
    out, *rest, _start, _stop = good[1]
    bad = [good[0], (out, *rest, 10, out.shape[0] + 5)]  # rows past the end of `out`
    with pytest.raises(ValueError) as info:
        local_runner.map(mandelbrot.nogil, bad)
    notes = "\n".join(getattr(info.value, "__notes__", [])) + " ".join(map(str, info.value.args))
    assert "raised by chunk 1" in notes
    assert "run_chunk" in notes, "the note should carry the worker's traceback"
    # The runner is still usable afterwards.
    assert local_runner.run("primes", "nogil", size="tiny").matched


def test_timeout_cancels_the_running_chunks(local_runner):
    inputs = primes.build(np.random.default_rng(0), lo=0, hi=60_000_000)  # ~20 s on one core
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"timeout=0\.3 s"):
        local_runner.run(primes, "nogil", inputs, timeout=0.3, check=False)
    assert time.perf_counter() - t0 < 5
    # If the chunks still ran, both worker threads would be busy for ~10 s more.
    t0 = time.perf_counter()
    assert local_runner.run("integrate", "nogil", size="small").matched
    assert time.perf_counter() - t0 < 5


# Chunks for the fault tests: functions of this module, which the workers import.


def ignores_its_token(seconds, cancel=None):
    time.sleep(seconds)  # never reads the token
    return seconds


def exits(i, cancel=None):
    if i == 1:
        raise SystemExit(3)
    return i


def kills_its_worker(i, cancel=None):
    if i == 1:
        os._exit(5)
    time.sleep(0.3)
    return i


class _NoPickle:
    def __reduce__(self):
        raise TypeError("_NoPickle does not pickle")


def returns_unpicklable(i, cancel=None):
    return _NoPickle() if i == 1 else i


def squared(i, cancel=None):
    return i * i


def total(a, start, stop, cancel=None):
    return float(a[start:stop].sum())


def _notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", [])) + " ".join(map(str, exc.args))


def test_a_chunk_that_ignores_its_token_does_not_stall_later_runs(local_runner):
    """Both worker threads held by chunks that never read their token: the timeout is on time,
    says so, and the worker process is restarted before the next run, which then runs."""
    pid = next(iter(local_runner.client.run(os.getpid).values()))
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError, match=r"timeout=0\.5 s") as info:
        local_runner.map(ignores_its_token, [(120,), (120,)], timeout=0.5)
    assert time.perf_counter() - t0 < 0.5 + 2.0
    assert "chunk(s) [0, 1] ignored their cancel token" in _notes(info.value)
    assert "restarted before the next run" in _notes(info.value)
    assert local_runner.run("integrate", "nogil", size="tiny", timeout=60).matched
    assert [o.value for o in local_runner.map(squared, [(2,), (3,)], timeout=10)] == [4, 9]
    assert not _running(pid), "the worker process that held the stuck chunks is still there"
    _replacements.update(local_runner.client.run(os.getpid).values())


def test_system_exit_in_a_chunk_is_raised_here_and_the_worker_lives_on(local_runner):
    pids = local_runner.client.run(os.getpid)
    with pytest.raises(SystemExit) as info:
        local_runner.map(exits, [(0,), (1,), (2,)], timeout=30)
    assert info.value.code == 3 and "raised by chunk 1" in _notes(info.value)
    assert local_runner.client.run(os.getpid) == pids, "the worker process must not exit"
    result = local_runner.run("integrate", "nogil", size="tiny")
    assert result.matched and result.extra["layout"] == "1x2"


def test_an_unpicklable_result_is_that_chunks_error_and_the_next_run_works(local_runner):
    with pytest.raises(TypeError, match="cannot be pickled to travel back") as info:
        local_runner.map(returns_unpicklable, [(0,), (1,)], timeout=30)
    assert "raised by chunk 1" in _notes(info.value)
    assert [o.value for o in local_runner.map(squared, [(2,), (3,)], timeout=10)] == [4, 9]


def test_the_embedded_cluster_takes_only_tls_clients_with_its_credentials(local_runner):
    """Anyone on this machine can reach 127.0.0.1; without the runner's credentials nobody
    can connect, so nobody can run code on its workers."""
    address = local_runner.address
    assert address.startswith("tls://127.0.0.1:") and local_runner.describe()["extra"]["tls"]
    plain = "tcp://" + address.removeprefix("tls://")
    for where, security in [(plain, None), (address, distributed.Security.temporary())]:
        with pytest.raises((OSError, TimeoutError)):  # a Client that closes its IO loop when it fails
            ClosingClient(where, timeout=2, security=security, set_as_default=False)
    assert local_runner.run("integrate", "nogil", size="tiny").matched


def test_outputs_are_made_on_the_worker_and_only_their_rows_come_back(local_runner):
    inputs = mandelbrot.make_inputs("small")
    image = inputs.args[0]
    chunks = mandelbrot.split(inputs, 4)[1:3]  # the middle rows only
    lo, hi = chunks[0][-2], chunks[-1][-1]
    outcomes = local_runner.map(mandelbrot.nogil, chunks, outputs=mandelbrot.outputs)
    mandelbrot.reference(inputs)
    expected = inputs.cache["image"]
    assert np.array_equal(image[lo:hi], expected[lo:hi])
    assert (image[:lo] == -1).all() and (image[hi:] == -1).all(), "rows of no chunk are left alone"
    assert sum(o.value for o in outcomes) == int(expected[lo:hi].sum())


def test_a_run_leaves_only_its_own_results_on_the_cluster(local_runner):
    """Results are released by the next run (not at once, see DaskRunner.map), so runs do not pile up."""

    def keys(dask_scheduler):
        return sorted(str(k) for k in dask_scheduler.tasks)

    for _ in range(3):
        result = local_runner.run("sum_squares", "nogil", size="tiny")
    scattered = lambda: [k for k in local_runner.client.run_on_scheduler(keys) if "gilfree-chunk" not in k]  # noqa: E731
    left = _settle(scattered)
    assert not left, f"scattered inputs outlived their run: {left}"
    chunk_keys = local_runner.client.run_on_scheduler(keys)
    assert len(chunk_keys) == result.n_chunks, chunk_keys


def test_compare_rows_show_the_clusters_processes_and_threads(local_runner):
    """``compare --runners dask --scheduler ADDRESS --workers 1`` on a 1x2 LocalCluster: the cell
    used both threads, so its row says ``dask 1x2`` with 2 workers, and its efficiency is the
    speed-up over 2, not over the 1 that was asked for."""
    import io

    from rich.console import Console

    from gilfree import compare, report

    result = compare.compare(
        kernels=["integrate"],
        variants=["nogil"],
        runners=["dask"],
        workers=[1],
        size="small",
        repeat=1,
        # the embedded cluster takes TLS clients with its credentials only
        runner_options={
            "dask": {"scheduler": local_runner.address, "security": local_runner.client.security}
        },
    )
    (cell,) = [c for c in result.cells if c.runner == "dask"]
    assert cell.matched and cell.error is None
    assert cell.workers == 2 and cell.n_chunks == 2
    assert cell.options == {"n_workers": 1, "threads_per_worker": 2}
    assert cell.label == "dask 1x2"
    assert cell.efficiency == pytest.approx(cell.speedup / 2)
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    report.print_table(result, console=console)
    rows = [line for line in console.file.getvalue().splitlines() if " dask " in line]
    assert len(rows) == 1 and "dask 1x2" in rows[0], rows
    assert rows[0].split("dask 1x2")[1].split()[0] == "2"  # the workers column
    assert f"{cell.efficiency:.2f}" in rows[0]


def _scratch_folders() -> set[str]:
    tmp = tempfile.gettempdir()
    return {n for n in os.listdir(tmp) if n.startswith(("gilfree-dask-", "dask-scratch-space"))}


def test_gilfree_run_with_the_dask_runner_option():
    before = _scratch_folders()
    result = gilfree.run("sum_squares", "nogil", runner="dask", workers=1, size="tiny", scheduler="local")
    assert result.matched and result.runner == "dask" and result.workers == 1
    assert result.startup_s is not None and result.startup_s > 0
    assert _scratch_folders() <= before, "the embedded cluster's scratch folder must go with it"


# -- a cluster started with `dask scheduler` / `dask worker` ------------------------------


def test_loopback_cluster_runs_every_kernel(loopback, kernel):
    with DaskRunner(scheduler=loopback) as runner:
        assert runner.workers == 2  # the cluster's threads, whatever `workers` said
        result = runner.run(kernel, "nogil", size="small")
    assert result.matched, f"{kernel.name}: {result.value!r} differs from the reference"
    assert result.extra["mode"] == "scheduler" and result.extra["scheduler"] == loopback
    assert result.extra["layout"] == "2x1"


def test_environment_variable_names_the_scheduler_and_close_leaves_the_cluster(loopback, monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, loopback)
    result = gilfree.run("mandelbrot", "nogil", runner="dask", size="small")
    assert result.matched and result.extra["scheduler"] == loopback
    # The runner closed only its client: the cluster is still there, with both workers.
    with distributed.Client(loopback, timeout=10, set_as_default=False) as c:
        assert len(c.nthreads()) == 2


def test_layout_options_are_refused_for_an_existing_cluster(loopback):
    with pytest.raises(ValueError, match="nthreads"):
        DaskRunner(scheduler=loopback, threads_per_worker=2)


def test_a_killed_worker_is_survived(loopback):
    """SIGKILL one worker process (not its nanny) while it runs a chunk; the result is still right."""
    inputs = primes.build(np.random.default_rng(0), lo=0, hi=8_000_000)  # ~1 s on one core
    with DaskRunner(scheduler=loopback, schedule="dynamic") as runner:
        pids = runner.client.run(os.getpid)  # worker address -> its process id
        box: dict[str, object] = {}

        def work():
            try:
                box["result"] = runner.run(primes, "nogil", inputs, timeout=120)
            except BaseException as exc:
                box["error"] = exc

        t = threading.Thread(target=work)
        t.start()
        victim = None
        deadline = time.monotonic() + 30
        while victim is None and t.is_alive() and time.monotonic() < deadline:
            for address, keys in runner.client.processing().items():
                if any("gilfree-chunk" in str(k) for k in keys) and address in pids:
                    victim = address
                    break
            else:
                time.sleep(0.005)
        assert victim is not None, "no chunk was seen running"
        os.kill(pids[victim], signal.SIGKILL)
        killed_during_run = t.is_alive()
        t.join(120)
        assert not t.is_alive()
    assert "error" not in box, box.get("error")
    assert killed_during_run, "the run finished before the worker was killed: make it longer"
    assert not _running(pids[victim])
    assert box["result"].matched
    assert box["result"].n_chunks == 16


def test_killed_worker_names_the_chunk_that_kills_its_workers(loopback):
    """Chunk 1 kills every worker that runs it; the others (0.3 s each) are queued on the same
    workers as it dies, so Dask counts the deaths against them too and often fails one of
    them first. The error must name chunk 1, every time."""
    with DaskRunner(scheduler=loopback) as runner:
        for _ in range(2):
            with pytest.raises(distributed.KilledWorker) as info:
                runner.map(kills_its_worker, [(0,), (1,), (2,), (3,)], timeout=120)
            assert str(info.value.task).startswith("gilfree-chunk-1-"), str(info.value)
            text = _notes(info.value)
            assert "raised by chunk 1" in text and "each of the" in text, text
            runner.client.wait_for_workers(2, timeout=60)
        assert [o.value for o in runner.map(squared, [(2,), (3,)], timeout=30)] == [4, 9]


def test_a_worker_killed_while_the_inputs_are_scattered(loopback):
    """SIGKILL a worker once a 400 MiB input has begun to reach it (its memory grew by 64 MiB,
    which only the scatter does): the scatter is tried again and the result is right. Before,
    a bare KeyError or CommClosedError, or a scheduler that retried the dead worker for ever."""
    a = np.ones(400 * 2**20 // 8)
    with DaskRunner(scheduler=loopback) as runner:
        victim = psutil.Process(next(iter(runner.client.run(os.getpid).values())))
        base = victim.memory_info().rss
        seen: dict[str, float] = {}

        def kill_when_data_arrives():
            deadline = time.monotonic() + 60
            with contextlib.suppress(psutil.NoSuchProcess):
                while victim.memory_info().rss < base + 64 * 2**20:
                    if time.monotonic() > deadline:
                        return
                    time.sleep(0.002)
                seen["kill"] = time.monotonic()
                victim.kill()

        killer = threading.Thread(target=kill_when_data_arrives)
        killer.start()
        try:
            outcomes = runner.map(total, [(a, 0, a.size // 2), (a, a.size // 2, a.size)], timeout=120)
            seen["end"] = time.monotonic()
        finally:
            killer.join()
        assert "kill" in seen, "the worker's memory never grew: was the input sent to it?"
        assert sum(o.value for o in outcomes) == a.size
        runner.client.wait_for_workers(2, timeout=60)


# -- a cluster that is not there ----------------------------------------------------------------


def test_unreachable_scheduler_fails_within_the_timeout():
    runner = make_runner("dask", scheduler="tcp://127.0.0.1:1", connect_timeout=1.0)
    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"tcp://127\.0\.0\.1:1 within connect_timeout=1 s"):
        runner.start()
    # The documented limit, plus slack for a loaded 2-core machine.
    assert time.perf_counter() - t0 < 1.0 + 4.0
    runner.close()


def test_scheduler_without_workers_fails_within_the_timeout():
    with distributed.LocalCluster(
        n_workers=0, host="127.0.0.1", dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"}
    ) as cluster:
        runner = DaskRunner(scheduler=cluster.scheduler_address, connect_timeout=0.5)
        t0 = time.perf_counter()
        with pytest.raises(TimeoutError, match="has no workers"):
            runner.start()
        assert time.perf_counter() - t0 < 0.5 + 4.0


# -- the worker-side function, called here -------------------------------------------------


def test_worker_function_sends_back_only_rows_it_wrote():
    inputs = mandelbrot.make_inputs("tiny")
    chunk = mandelbrot.split(inputs, 3)[1]
    outcome, written = run_chunk(mandelbrot.nogil, "run-a", 1, (0,), *chunk)
    start, stop = chunk[-2], chunk[-1]
    assert list(written) == [0] and written[0].shape == (stop - start, inputs.args[0].shape[1])
    assert outcome.value == int(written[0].sum())
    x = np.arange(2000.0)  # writable, though sum_squares only reads it
    _outcome, written = run_chunk(sum_squares.nogil, "run-b", 0, (0,), x, 0, x.size)
    assert written == {}, "an input that was only read must not travel back"
    assert x.flags.writeable, "the caller's array is left as it was"
    # A real error is still raised when the writable retry fails too.
    out, x0, x1, y0, y1, _max_iter, start, stop = chunk
    with pytest.raises(ValueError, match="max_iter"):
        run_chunk(mandelbrot.nogil, "run-c", 1, (0,), out, x0, x1, y0, y1, -1, start, stop)


def test_worker_function_makes_outputs_fresh():
    inputs = mandelbrot.make_inputs("tiny")
    out, *rest = mandelbrot.split(inputs, 3)[1]
    start, stop = rest[-2], rest[-1]
    outcome, written = run_chunk(mandelbrot.nogil, "run-d", 1, (), Output(out.shape, out.dtype.str), *rest)
    mandelbrot.reference(inputs)
    assert list(written) == [0] and np.array_equal(written[0], inputs.cache["image"][start:stop])
    assert outcome.value == int(written[0].sum())
    assert (out == -1).all(), "the caller's array is not the one written"


def test_outputs_are_only_arrays_that_no_other_argument_reads():
    image = np.zeros((6, 4))
    assert _outputs([(image, 1.0, 0, 3), (image, 1.0, 3, 6)], (0,)) == {0}
    assert _outputs([(image, image, 0, 3)], (0,)) == set(), "also passed at a position that is read"
    image.flags.writeable = False
    assert _outputs([(image, 1.0, 0, 3)], (0,)) == set(), "read-only: not an output"
    assert _outputs([(np.zeros((6, 4)), 1.0, 0, 9)], (0,)) == set(), "the chunk's rows are not there"
    assert _outputs([(1.0, np.zeros(3), 0, 3)], (0,)) == set(), "not an array"
    with pytest.raises(TypeError, match="outputs must hold argument positions"):
        _outputs([(image, 1.0, 0, 3)], ("0",))


def test_same_bytes_treats_nan_as_equal():
    a = np.array([1.0, np.nan, 3.0])
    assert same_bytes(a, a.copy())
    b = a.copy()
    b[2] = 4.0
    assert not same_bytes(a, b)
    big = np.zeros(3_000_000)
    other = big.copy()
    other[-1] = 1.0
    assert not same_bytes(big, other)


# -- bad options, named -----------------------------------------------------------------------


def test_bad_options_are_named(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with pytest.raises(TypeError, match="scheduler must be an address"):
        DaskRunner(scheduler=8786)
    with pytest.raises(ValueError, match="scheduler must be an address"):
        DaskRunner(scheduler="  ")
    with pytest.raises(ValueError, match="connect_timeout"):
        DaskRunner(scheduler="tcp://127.0.0.1:1", connect_timeout=0)
    with pytest.raises(TypeError, match="connect_timeout"):
        DaskRunner(connect_timeout="10")
    with pytest.raises(ValueError, match="workers must not be 0"):
        DaskRunner(0)
    with pytest.raises(ValueError, match="does not match"):
        DaskRunner(3, n_workers=2, threads_per_worker=2)
    # Not started: nothing to connect to yet, and the planned layout is what repr shows.
    runner = DaskRunner(4, n_workers=2)
    assert runner.layout == (2, 2) and runner.workers == 4 and "2x2" in repr(runner)
    with pytest.raises(RuntimeError, match="not started"):
        runner.client  # noqa: B018
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://10.0.0.5:8786")
    assert DaskRunner().scheduler == "tcp://10.0.0.5:8786"
    assert DaskRunner(scheduler="local").mode == "local"


def test_scheduler_addresses_and_tls_credentials_are_checked(monkeypatch, tmp_path):
    import dask

    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with pytest.raises(ValueError, match=r"^scheduler='ucx://127\.0\.0\.1:1': ucx:// needs"):
        DaskRunner(scheduler="ucx://127.0.0.1:1")
    with pytest.raises(ValueError, match="the port must be a number from 1 to 65535, got 'notaport'"):
        DaskRunner(scheduler="tcp://127.0.0.1:notaport")
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:x")
    with pytest.raises(ValueError, match=f"^{SCHEDULER_ENV}='tcp://127.0.0.1:x': the port"):
        DaskRunner()
    monkeypatch.delenv(SCHEDULER_ENV)
    with pytest.raises(TypeError, match=r"security must be a distributed\.Security"):
        DaskRunner(security="yes")
    none = {"distributed.comm.tls.ca-file": None, "distributed.comm.tls.client.cert": None}
    with dask.config.set(none), pytest.raises(ValueError, match="a tls:// scheduler needs TLS credentials"):
        DaskRunner(scheduler="tls://127.0.0.1:1")
    # Credentials from Dask's own configuration, or given: accepted; then nothing is listening.
    security = distributed.Security.temporary()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(security.tls_ca_file)
    key.write_text(security.tls_client_key)
    configured = {
        "distributed.comm.tls.ca-file": str(cert),
        "distributed.comm.tls.client.cert": str(cert),
        "distributed.comm.tls.client.key": str(key),
    }
    with dask.config.set(configured):
        from_config = DaskRunner(scheduler="tls://127.0.0.1:1", connect_timeout=1.0)
    for runner in (
        from_config,
        DaskRunner(scheduler="tls://127.0.0.1:1", connect_timeout=1.0, security=security),
    ):
        t0 = time.perf_counter()
        with pytest.raises(ConnectionError, match=r"tls://127\.0\.0\.1:1 within connect_timeout=1 s"):
            runner.start()
        assert time.perf_counter() - t0 < 1.0 + 4.0
        runner.close()
