"""Every kernel x gil/nogil x every runner x 1, 2, 3 workers x static/dynamic, against the reference.

Pools are module-scoped and reused across the kernels, as a persistent pool is meant to be.
The big matrix runs processes with ``fork``; forkserver, spawn and the pickle transport get
their own, smaller matrix. Then the processes runner's own behaviour: arrays placed once per
run, outputs copied back, read-only inputs kept read-only, BLAS threads limited, bad input.
"""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest

import gilfree
from gilfree.kernels import REGISTRY, CancelToken
from gilfree.runners import WorkerCrashed, make_runner
from gilfree.runners._base import DYNAMIC_CHUNKS_PER_WORKER
from gilfree.runners._shm import Placement, apply_diff, diff, segment_prefix

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.thread_unsafe(reason="starts process pools and shares inputs through a module cache"),
]

RUNNERS = ["serial", "threads", "processes"]
_INPUTS: dict[str, gilfree.kernels.Inputs] = {}


def inputs_for(kernel, size: str = "small"):
    """Inputs cached per kernel (their reference is cached with them); outputs re-poisoned."""
    key = f"{kernel.name}:{size}"
    if key not in _INPUTS:
        _INPUTS[key] = kernel.make_inputs(size)
    inputs = _INPUTS[key]
    if kernel.name == "mandelbrot":
        inputs.args[0].fill(-1)  # every cell must be written again, by this run
    return inputs


@pytest.fixture(scope="module")
def pools():
    """``pools(name, workers, schedule, **options)``: a started runner, shared by the module."""
    cache: dict[tuple, gilfree.runners.Runner] = {}

    def get(name: str, workers: int, schedule: str = "static", **options):
        if name == "processes":
            options.setdefault("start_method", "fork")
        key = (name, workers, schedule, tuple(sorted(options.items())))
        if key not in cache:
            r = make_runner(name, workers, schedule=schedule, **options)
            r.start()
            cache[key] = r
        return cache[key]

    yield get
    for r in cache.values():
        r.close()


def _n_chunks(workers: int, schedule: str) -> int:
    return workers * (DYNAMIC_CHUNKS_PER_WORKER if schedule == "dynamic" else 1)


@pytest.mark.parametrize("schedule", ["static", "dynamic"])
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("variant", ["gil", "nogil"])
def test_every_kernel_variant_runner_and_schedule_matches(pools, kernel, variant, runner, workers, schedule):
    r = pools(runner, workers, schedule)
    inputs = inputs_for(kernel)
    # Through map, with the chunk count the schedule asks for (the threads runner's serial
    # fallback does not apply to map, so this always exercises the pool).
    chunks = kernel.split(inputs, _n_chunks(workers, schedule))
    outcomes = r.map(kernel.variant(variant), chunks, cancel=CancelToken())
    assert len(outcomes) == len(chunks)
    assert all(o.wall_s >= 0 and o.cpu_s >= 0 for o in outcomes)
    assert kernel.check(inputs, kernel.combine([o.value for o in outcomes]))
    # Through run, which splits, combines, checks and describes.
    inputs = inputs_for(kernel)
    result = r.run(kernel, variant, inputs)
    assert result.matched is True
    assert (result.runner, result.variant, result.workers, result.schedule) == (
        runner,
        variant,
        r.workers,
        schedule,
    )
    if runner == "processes":
        assert (result.start_method, result.transport) == ("fork", "shm")
        assert result.n_chunks == len(kernel.split(inputs, _n_chunks(workers, schedule)))


@pytest.mark.parametrize(
    ("start_method", "transport", "schedule"),
    [
        ("fork", "pickle", "static"),
        ("forkserver", "shm", "dynamic"),
        ("forkserver", "pickle", "static"),
        ("spawn", "shm", "static"),
        ("spawn", "pickle", "dynamic"),
    ],
)
def test_start_methods_and_transports_match(pools, kernel, start_method, transport, schedule):
    if start_method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {start_method} on this platform")
    r = pools("processes", 2, schedule, start_method=start_method, transport=transport)
    inputs = inputs_for(kernel)
    result = r.run(kernel, "nogil", inputs)
    assert result.matched is True
    assert (result.start_method, result.transport) == (start_method, transport)
    assert r.shares_memory == (transport == "shm")
    assert result.startup_s is not None and result.startup_s > 0


def test_gilfree_run_with_processes_reports_start_method_transport_and_startup():
    result = gilfree.run("mandelbrot", "nogil", "processes", 2, size="tiny", start_method="fork")
    assert result.matched
    assert result.start_method == "fork" and result.transport == "shm"
    assert result.startup_s > 0
    d = result.to_dict()
    assert d["start_method"] == "fork" and d["n_chunks"] == 2


def test_variants_pickle_by_reference(kernel):
    """Workers get a variant as a module and name, not as code: cheap, and the same callable."""
    for name in kernel.variants:
        func = kernel.variant(name)
        data = pickle.dumps(func)
        assert len(data) < 200 and pickle.loads(data) is func


# -- what the processes runner does with arrays -----------------------------------------------


def _fill(a, value, start, stop, cancel=None):
    """Write ``value`` into rows [start, stop) of ``a``: an output written in place."""
    a[start:stop] = value
    return stop - start


def _describe(a, b, start, stop, cancel=None):
    return (a.flags.writeable, b.flags.writeable, a.dtype.str, a.shape)


def _blas_threads(start, stop, cancel=None):
    from threadpoolctl import threadpool_info

    return [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]


@pytest.mark.parametrize("transport", ["shm", "pickle"])
def test_writes_reach_the_caller_and_read_only_inputs_stay_read_only(pools, transport):
    r = pools("processes", 2, start_method="fork", transport=transport)
    out = np.zeros((10, 3), dtype=np.float32)
    ro = np.arange(4.0)
    ro.flags.writeable = False
    outcomes = r.map(_fill, [(out, 7.0, 0, 4), (out, 9.0, 4, 10)])
    assert [o.value for o in outcomes] == [4, 6]
    assert (out[:4] == 7).all() and (out[4:] == 9).all()
    described = r.map(_describe, [(out, ro, 0, 1)])[0].value
    assert described == (True, False, "<f4", (10, 3))
    with pytest.raises(ValueError, match="read-only"):
        r.map(_fill, [(ro, 1.0, 0, 2)])
    assert (ro == np.arange(4.0)).all()


def test_a_run_places_each_distinct_array_once():
    a, b = np.arange(10.0), np.zeros(3, dtype=np.int64)
    placement = Placement([(a, b, 0, 5), (a, b, 5, 10), (a, 3, 0, 1)])
    try:
        assert len(placement.names) == 2
        assert all(n.startswith(segment_prefix()) for n in placement.names)
        assert placement.specs[0][0] is placement.specs[1][0] is placement.specs[2][0]
        assert placement.specs[2][1] == 3
    finally:
        placement.close()
        placement.close()  # twice is fine
    assert placement.names == []


def _describe_all(a, cancel=None):
    return str(a.dtype), a.shape, a.flags.writeable, a.tolist()


def test_a_run_reuses_the_last_runs_segments_whatever_the_arrays_shape(pools):
    r = pools("processes", 1, start_method="fork")
    x = np.arange(6.0)
    x.flags.writeable = False
    assert r.map(_describe_all, [(x,)])[0].value == ("float64", (6,), False, x.tolist())
    kept = r.segments
    assert len(kept) == 1
    y = np.arange(-6, 6, 2, dtype=np.int64).reshape(2, 3)  # the same 48 bytes, another dtype and shape
    assert r.map(_describe_all, [(y,)])[0].value == ("int64", (2, 3), True, y.tolist())
    assert r.segments == kept, "a segment of the same size is reused"
    z = np.zeros(5)  # another size: the old segment goes, a new one comes
    assert r.map(_describe_all, [(z,)])[0].value == ("float64", (5,), True, [0.0] * 5)
    assert len(r.segments) == 1 and r.segments != kept
    assert r.map(_describe_all, [(y,)])[0].value[3] == y.tolist()


def test_a_failed_run_keeps_no_segment(pools):
    r = pools("processes", 1, start_method="fork")
    r.map(_describe_all, [(np.arange(3.0),)])
    assert r.segments
    with pytest.raises(ZeroDivisionError):
        r.map(_divide, [(np.arange(3.0), 0)])
    assert r.segments == []


def _divide(a, d, cancel=None):
    return a.sum() / d if d else 1 // d


def test_diff_finds_rows_and_scattered_elements_bit_exactly():
    before = np.full((4, 5), np.nan)
    after = before.copy()
    after[1:3] = 2.0
    where, values = diff(before, after)
    assert where == slice(5, 15) and (values == 2.0).all()
    assert diff(before, before.copy()) is None  # NaN == NaN bit-wise: nothing changed
    after2 = before.copy()
    after2[0, 0], after2[3, 4] = 1.0, 2.0
    where, values = diff(before, after2)
    target = np.zeros((5, 4)).T  # not C-contiguous
    apply_diff(target, where, values)
    assert target[0, 0] == 1.0 and target[3, 4] == 2.0 and target.sum() == 3.0


def test_workers_limit_blas_and_openmp_threads(pools):
    r = pools("processes", 2, start_method="fork")
    for outcome in r.map(_blas_threads, [(0, 1), (1, 2)]):
        assert outcome.value, "numpy's BLAS should be visible to threadpoolctl in a worker"
        assert all(n == 1 for _, n in outcome.value), outcome.value


def test_the_pool_is_reused_across_runs(pools):
    r = pools("processes", 2, start_method="fork")
    pids = r.pids()
    startup = r.startup_s
    for _ in range(3):
        assert r.run("integrate", "nogil", size="tiny").matched
    assert r.pids() == pids and r.startup_s == startup


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("runner", RUNNERS)
def test_bad_worker_counts_are_named(runner):
    with pytest.raises(ValueError, match="workers must not be 0"):
        make_runner(runner, 0)
    with pytest.raises(TypeError, match="workers must be an integer"):
        make_runner(runner, 1.5)
    with pytest.raises(TypeError, match="workers must be an integer"):
        make_runner(runner, "2")
    with pytest.raises(ValueError, match="leaves no worker"):
        make_runner(runner, -1000)


@pytest.mark.parametrize("runner", RUNNERS)
def test_unknown_variant_and_kernel_names_are_named(runner):
    with pytest.raises(ValueError, match="unknown variant 'fast'"):
        gilfree.run("integrate", "fast", runner, 1, size="tiny")
    with pytest.raises(ValueError, match="unknown kernel 'fft'"):
        gilfree.run("fft", "nogil", runner, 1, size="tiny")


def test_unknown_runner_is_named():
    with pytest.raises(ValueError, match=r"unknown runner 'mpi'.*processes"):
        gilfree.run("integrate", "nogil", "mpi", 1, size="tiny")


def test_a_start_method_the_platform_lacks_is_named(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    with pytest.raises(ValueError, match=r"start method 'fork' is not available.*available: spawn"):
        make_runner("processes", 2, start_method="fork")


def test_bad_process_options_are_named():
    with pytest.raises(ValueError, match=r"start method 'vfork' is not available.*available: .*spawn"):
        make_runner("processes", 2, start_method="vfork")
    with pytest.raises(TypeError, match="start_method must be a str"):
        make_runner("processes", 2, start_method=1)
    with pytest.raises(ValueError, match="unknown transport 'zmq'; expected one of shm, pickle"):
        make_runner("processes", 2, transport="zmq")
    with pytest.raises(TypeError, match="unexpected keyword argument 'start_method'"):
        make_runner("threads", 2, start_method="fork")


def test_openmp_is_rejected_by_processes():
    if "openmp" not in REGISTRY["integrate"].variants:
        pytest.skip("built without OpenMP")
    with pytest.raises(ValueError, match="variant 'openmp' runs its own threads"):
        gilfree.run("integrate", "openmp", "processes", 2, size="tiny")


@pytest.mark.parametrize("transport", ["shm", "pickle"])
@pytest.mark.parametrize("runner", RUNNERS)
def test_wrong_typed_inputs_raise_the_kernels_error_in_the_caller(pools, runner, transport):
    if runner != "processes" and transport == "pickle":
        pytest.skip("transport applies to processes only")
    r = pools(runner, 2, **({"transport": transport} if runner == "processes" else {}))
    k = REGISTRY["mandelbrot"]
    bad = np.zeros((4, 4), dtype=np.float64)
    with pytest.raises(TypeError, match="out must have dtype int32, got float64") as info:
        r.map(k.nogil, [(bad, -2.0, 1.0, -1.0, 1.0, 10, 0, 4)])
    assert "raised by chunk 0" in "".join(getattr(info.value, "__notes__", [])) + str(info.value.args[-1])
    with pytest.raises(TypeError, match="n must be an integer, got str"):
        r.map(REGISTRY["integrate"].nogil, [("1000", 0, 10)])
    ro = np.zeros((4, 4), dtype=np.int32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        r.map(k.nogil, [(ro, -2.0, 1.0, -1.0, 1.0, 10, 0, 4)])


def test_processes_reject_what_cannot_reach_a_worker(pools):
    r = pools("processes", 2, start_method="fork")
    with pytest.raises(TypeError, match="func must be picklable"):
        r.map(lambda s, e, cancel=None: s, [(0, 1)])
    with pytest.raises(TypeError, match="func must be callable"):
        r.map(3, [(0, 1)])
    with pytest.raises(TypeError, match="chunks must be a sequence"):
        r.map(_fill, 5)
    with pytest.raises(TypeError, match=r"chunks\[1\] must be a tuple"):
        r.map(_fill, [(np.zeros(2), 1.0, 0, 1), 7])
    with pytest.raises(TypeError, match="chunk 0 cannot be sent"):
        r.map(_fill, [(np.zeros(2), lambda: 0, 0, 1)])
    with pytest.raises(ValueError, match="timeout must be > 0"):
        r.map(_fill, [(np.zeros(2), 1.0, 0, 1)], timeout=0)
    assert r.map(_fill, []) == []
    assert r.run("integrate", "nogil", size="tiny").matched  # still usable


def test_worker_crashed_pickles_and_says_what_happened():
    exc = WorkerCrashed(3, -11, 1234)
    again = pickle.loads(pickle.dumps(exc))
    assert (again.index, again.exitcode, again.pid) == (3, -11, 1234)
    assert "chunk 3" in str(again) and "SIGSEGV" in str(again) and "1234" in str(again)
    assert "exit status 7" in str(WorkerCrashed(0, 7))
