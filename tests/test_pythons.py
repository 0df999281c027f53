"""``gilfree compare --python PATH ...``: the matrix under each interpreter, merged into one table."""

from __future__ import annotations

import json
import sys

import pytest

from gilfree import pythons
from gilfree.cli import main

from .conftest import free_threaded_python

ARGS = [
    "--kernels",
    "integrate",
    "--variants",
    "nogil",
    "--runners",
    "threads",
    "--size",
    "tiny",
    "--repeat",
    "1",
]

pytestmark = pytest.mark.thread_unsafe(reason="starts interpreters in subprocesses")


def test_one_interpreter_gives_labelled_checked_cells(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["compare", "--python", sys.executable, *ARGS, "--json", str(out), "--no-progress"]) == 0
    doc = json.loads(out.read_text())
    label = pythons.label(pythons.describe(sys.executable))
    assert doc["settings"]["pythons"] == [label]
    assert {c["interpreter"] for c in doc["cells"]} == {label}
    assert {(c["runner"], c["workers"]) for c in doc["cells"]} >= {("serial", 1), ("threads", 1)}
    assert all(c["matched"] for c in doc["cells"])
    assert " python " in capsys.readouterr().out  # the table gains the column


def test_a_gil_build_and_a_free_threaded_build_side_by_side(tmp_path):
    ft = free_threaded_python()
    if ft is None or sys.executable == ft:
        pytest.skip("needs a GIL build running the tests and GILFREE_FT_PYTHON naming a 3.13t with gilfree")
    out = tmp_path / "c.json"
    assert main(["compare", "--python", sys.executable, "--python", ft, *ARGS, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    labels = doc["settings"]["pythons"]
    assert len(labels) == 2 and labels[1].endswith("t")
    builds = {lab: m["build"] for lab, m in doc["machine"]["interpreters"].items()}
    assert builds == {labels[0]: "gil", labels[1]: "free-threaded"}
    assert {c["interpreter"] for c in doc["cells"]} == set(labels)


@pytest.mark.parametrize("path", ["/nonexistent/python", "/bin/true"])
def test_an_interpreter_that_cannot_run_gilfree_is_a_usage_error(path, tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["compare", "--python", path, *ARGS, "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and path in err[0]
    assert not out.exists()


def test_slowdowns_compare_single_thread_serial_cells():
    from gilfree.comparison import CellResult, Comparison
    from gilfree.probe import GilHold

    def cell(interp: str, wall: float) -> CellResult:
        return CellResult("integrate", "python", "serial", 1, "tiny", True, wall_s=wall, interpreter=interp)

    idle = GilHold(1, 1.0, 0.1, 0.1, 0.1, 0.0)
    comp = Comparison(
        {}, {"pythons": ["3.11", "3.13t"]}, idle, 0.005, [cell("3.11", 2.0), cell("3.13t", 3.0)], [], 1
    )
    assert pythons.slowdowns(comp) == [("3.13t", "integrate", "python", 1.5)]
