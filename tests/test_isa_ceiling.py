"""The read ceiling (gilfree.ceiling) and compare's machine block: the memory-bound kernels'
GB/s against this machine's own read of the same array, documented field by field."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gilfree import ceiling, compare
from gilfree.comparison import FIELDS, CellResult, to_dict
from gilfree.info import cores
from gilfree.kernels import REGISTRY


def test_read_gb_s_reads_with_one_and_more_threads():
    x = np.random.default_rng(0).standard_normal(1_000_003)
    for threads in sorted({1, min(2, cores())}):
        gb_s = ceiling.read_gb_s(x, threads)
        assert math.isfinite(gb_s) and gb_s > 0.1
    with pytest.raises(ValueError, match="cannot read 1 words with 2 threads"):
        ceiling.read_gb_s(np.ones(1), 2)


def test_no_ceiling_below_the_size_that_can_be_timed():
    assert ceiling.ceiling(np.ones(1000), [1, 2]) is None


@pytest.mark.thread_unsafe(reason="slow, not unsafe: reads 18 MB arrays several times")
def test_judge_puts_each_cell_against_the_ceiling_at_its_workers():
    k = REGISTRY["sum_squares"]
    inputs = k.build(np.random.default_rng(0), n=ceiling.MIN_BYTES // 8 + 4096)
    x = ceiling.read_bytes(inputs)
    assert x.nbytes >= ceiling.MIN_BYTES
    cells = [
        CellResult("sum_squares", "nogil", "serial", 1, "big", True, wall_runs_s=[0.004, 0.002, 0.003]),
        CellResult("sum_squares", "nogil", "threads", 64, "big", True, wall_runs_s=[0.001]),
        CellResult("sum_squares", "nogil", "threads", 2, "big", False, error="failed"),
        CellResult("integrate", "nogil", "serial", 1, "big", True, wall_runs_s=[1.0]),  # not memory-bound
    ]
    report = ceiling.judge(cells, {("sum_squares", "big"): inputs})
    assert report["method"] == ceiling.METHOD
    (entry,) = report["kernels"]
    assert set(entry) == set(FIELDS["machine.memory_bound.kernels[]"])
    assert (entry["kernel"], entry["size"], entry["bytes"], entry["note"]) == (
        "sum_squares",
        "big",
        x.nbytes,
        None,
    )
    limits = entry["ceiling_gb_s"]
    assert set(limits) == {str(n) for n in {1, min(2, cores()), cores()}}  # 64 workers: at most the cores
    serial, many, failed = entry["cells"]
    assert serial["gb_s"] == pytest.approx(x.nbytes / 0.002 / 1e9)  # the best run
    assert serial["of_ceiling"] == pytest.approx(serial["gb_s"] / limits["1"])
    assert many["of_ceiling"] == pytest.approx(many["gb_s"] / limits[str(cores())])
    assert failed["gb_s"] is None and failed["of_ceiling"] is None
    json.dumps(report)


@pytest.fixture(scope="module")
def tiny_run():
    return to_dict(
        compare.compare(
            kernels=["sum_squares", "histogram", "integrate"],
            variants=["nogil"],
            runners=["serial"],
            workers=[1],
            size="tiny",
            repeat=1,
        )
    )


@pytest.mark.thread_unsafe(reason="slow, not unsafe: a compare run")
def test_compare_reports_the_memory_bound_kernels_and_documents_it(tiny_run):
    machine = tiny_run["machine"]
    assert set(machine) <= set(FIELDS["machine"])
    assert set(FIELDS["machine"]) - set(machine) == {"interpreters"}  # compare --python only
    memory = machine["memory_bound"]
    assert set(memory) == set(FIELDS["machine.memory_bound"])
    assert [e["kernel"] for e in memory["kernels"]] == ["sum_squares", "histogram"]
    for entry in memory["kernels"]:
        assert set(entry) == set(FIELDS["machine.memory_bound.kernels[]"])
        assert entry["ceiling_gb_s"] is None and "too small" in entry["note"]  # tiny: 16 kB
        (cell,) = entry["cells"]
        assert cell["gb_s"] > 0 and cell["of_ceiling"] is None
    assert machine["isa"] == {name: k.isa for name, k in REGISTRY.items()}
    assert machine["isa_paths"]["built"][0] == "baseline"


@pytest.mark.thread_unsafe(reason="slow, not unsafe: a compare run")
def test_no_memory_bound_block_without_a_memory_bound_kernel():
    run = compare.compare(
        kernels=["integrate"], variants=["nogil"], runners=["serial"], workers=[1], size="tiny", repeat=1
    )
    assert "memory_bound" not in run.machine
    assert "isa" in run.machine
