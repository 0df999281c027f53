"""``gilfree.Workload``: the user's function, its chunks, the harness's contender, and ``load``."""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pytest

from gilfree import Workload, WorkloadError
from gilfree.harness import WorkloadOnRunner, run_once
from gilfree.harness.workloads import bytes_sent, call_part
from gilfree.runners import make_runner
from gilfree.workload import Each, load

pytestmark = pytest.mark.thread_unsafe(reason="starts process pools")


def square(x: int) -> int:  # no cancel= parameter: runners must not pass it on
    return x * x


def total(a: np.ndarray) -> float:
    return float(a.sum())


def test_map_calls_the_function_on_every_item_in_order():
    w = Workload.map(square, list(range(10)))
    assert w.size == "10 items" and w.name == "square" and w.target is square
    chunks = w.make_chunks(3)
    assert [len(c[0]) for c in chunks] == [3, 3, 4]
    assert w.combine([w.func(*c) for c in chunks]) == [x * x for x in range(10)]
    assert len(w.make_chunks(20)) == 10  # never an empty chunk
    w2 = Workload.map(square, [1, 2, 3], combine=sum, chunks_per_worker=2)
    assert len(w2.make_chunks(1)) == 2 and w2.combine([w2.func(*c) for c in w2.make_chunks(1)]) == 14


def test_slices_are_views_and_arrays_come_back_joined():
    x = np.arange(12.0)
    w = Workload.slices(np.sqrt, x)
    chunks = w.make_chunks(4)
    assert all(np.shares_memory(c[0], x) for c in chunks)
    np.testing.assert_array_equal(w.combine([w.func(*c) for c in chunks]), np.sqrt(x))
    w2 = Workload.slices(total, x, combine=sum)
    assert w2.combine([w2.func(*c) for c in w2.make_chunks(3)]) == 66.0
    assert Workload.slices(total, np.zeros((5, 2))).size == "5 rows"


def test_each_pickles_by_reference_to_the_function():
    each = pickle.loads(pickle.dumps(Each(square)))
    assert each.func is square and each([2, 3]) == [4, 9]


@pytest.mark.parametrize("runner", ["serial", "threads", "processes"])
def test_workload_on_a_runner_gives_the_serial_result(runner):
    w = Workload.map(zlib.compress, [bytes([i]) * 10_000 for i in range(6)], check=lambda r: len(r) == 6)
    with make_runner(runner, 1 if runner == "serial" else 2) as r:
        contender = WorkloadOnRunner(w, r)
        sample = run_once(contender.prepare())
    assert sample.done.value == [zlib.compress(bytes([i]) * 10_000) for i in range(6)]
    assert sample.matched is True
    assert contender.n_chunks == (1 if runner == "serial" else 2)
    moved = contender.bytes_moved()
    if runner == "processes":  # 60 kB of blobs out, their compressed forms back
        assert moved is not None and 60_000 < moved < 70_000
    else:
        assert moved is None  # nothing leaves this process


def test_call_part_keeps_the_cancel_token_back():
    assert call_part(square, 3, cancel=object()) == 9


def test_bytes_sent_counts_shared_arrays_once_and_writable_ones_twice():
    a = np.zeros(1000)  # 8000 bytes, writable: copied in, and back after the run
    ro = np.zeros(500)
    ro.flags.writeable = False
    tasks = [(total, a), (total, a), (total, ro)]
    shm = bytes_sent(tasks, "shm")
    assert 8000 * 2 + 4000 <= shm < 8000 * 2 + 4000 + 1000
    assert bytes_sent(tasks, "pickle") > 8000 * 2 + 4000  # pickled: every task carries its array


# -- what processes need -------------------------------------------------------------------------


def test_a_lambda_cannot_go_to_processes_and_says_why():
    w = Workload.map(lambda x: x, [1, 2])
    with make_runner("processes", 2) as r, pytest.raises(WorkloadError, match="is a lambda; define it"):
        WorkloadOnRunner(w, r).prepare()
    with make_runner("threads", 2) as r:  # threads take anything callable
        assert WorkloadOnRunner(w, r).prepare().call().value == [1, 2]


def test_a_local_function_cannot_go_to_processes():
    def inner(x):
        return x

    with pytest.raises(WorkloadError, match="defined inside another function"):
        Workload.map(inner, [1]).check_for_processes("fork")


def test_a_main_function_is_refused_under_spawn_only():
    def f(x):
        return x

    f.__module__, f.__qualname__ = "__main__", "f"
    w = Workload.map(f, [1])
    with pytest.raises(WorkloadError, match="is in __main__; put it in a module"):
        w.check_for_processes("spawn")
    with pytest.raises(WorkloadError, match="is in __main__"):
        w.check_for_processes("forkserver")
    # Under fork the worker is a copy of this process: only pickling by name matters.
    with pytest.raises(WorkloadError, match="does not pickle"):
        w.check_for_processes("fork")


def test_a_module_function_is_fine_for_processes():
    Workload.map(square, [1]).check_for_processes("spawn")


# -- bad workloads: one line that names what is wrong -----------------------------------------


def test_chunks_that_are_not_a_sequence_of_tuples():
    with pytest.raises(WorkloadError, match=r"chunks\(2\) of workload 'square' returned a generator"):
        Workload(square, lambda n: (i for i in range(n))).make_chunks(2)
    with pytest.raises(WorkloadError, match=r"chunks\(2\)\[0\] of workload 'square' is an int"):
        Workload(square, lambda n: list(range(n))).make_chunks(2)
    with pytest.raises(WorkloadError, match="returned no chunks"):
        Workload(square, lambda n: []).make_chunks(2)


def test_a_function_that_fails_on_its_first_chunk():
    with pytest.raises(WorkloadError, match=r"test_workload.square raised TypeError on its first chunk"):
        Workload.map(square, ["a", "b"]).validate(2)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Workload.map(square, 5), "items must be a sequence"),
        (lambda: Workload.map(square, "abc"), "items must be a sequence"),
        (lambda: Workload.slices(total, [1.0]), "array must be a numpy.ndarray"),
        (lambda: Workload(5, lambda n: []), "func must be callable"),
        (lambda: Workload(square, [(1,)]), "chunks must be a function of the worker count"),
        (lambda: Workload(square, lambda n: [], combine=3), "combine must be callable"),
    ],
)
def test_bad_arguments_are_named(build, message):
    with pytest.raises(WorkloadError, match=message):
        build()


def test_load_finds_a_workload_or_a_function_that_returns_one(tmp_path, monkeypatch):
    (tmp_path / "wl_mod.py").write_text(
        "from gilfree import Workload\n"
        "def f(x):\n    return x\n"
        "w = Workload.map(f, [1, 2])\n"
        "def make():\n    return Workload.map(f, [3])\n"
        "def needs(a):\n    return a\n"
        "def wrong():\n    return 5\n"
        "def boom():\n    raise RuntimeError('no data here')\n"
        "number = 3\n"
    )
    (tmp_path / "wl_broken.py").write_text("import not_a_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load("wl_mod:w").size == "2 items"
    assert load("wl_mod:make").size == "1 items"
    cases = {
        "wl_nowhere:w": "cannot import 'wl_nowhere': No module named 'wl_nowhere'",
        "wl_broken:w": "cannot import 'wl_broken': No module named 'not_a_module_anywhere'",
        "wl_mod:nope": "wl_mod has no attribute 'nope'",
        "wl_mod:number": "wl_mod:number is an int, not a gilfree.Workload",
        "wl_mod:needs": "wl_mod:needs is a function that takes arguments, not a gilfree.Workload",
        "wl_mod:wrong": "wl_mod:wrong() returned an int, not a gilfree.Workload",
        "wl_mod:boom": "wl_mod:boom() raised RuntimeError: no data here",
        "wl_mod": "expected MODULE:OBJ",
        "wl_mod:1x": "expected MODULE:OBJ",
    }
    for spec, message in cases.items():
        with pytest.raises(WorkloadError) as info:
            load(spec)
        assert message in str(info.value) and "\n" not in str(info.value), spec


def test_sizes_read_short():
    from gilfree.workload import count

    assert [count(n) for n in (64, 1500, 2_000_000, 20_000_000)] == ["64", "1.5k", "2M", "20M"]
    assert Workload.slices(total, np.zeros(2_000_000)).size == "2M values"
