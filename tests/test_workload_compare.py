"""``gilfree compare --workload``: the examples at small sizes, their recommendations, the
outputs (table, JSON, CSV, plot) and the one-line errors for workloads that cannot run.

The recommendations asserted are the ones a user would agree with: threads for code that
releases the GIL (zlib, NumPy, Numba ``nogil=True``), processes for pure Python on a GIL
build. A run the harness flags as too noisy to tell is skipped, not passed: on a loaded
machine that is the honest answer, and it says nothing about the rule.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gilfree import compare, report
from gilfree.cli import main
from gilfree.comparison import FIELDS, from_dict, to_dict

pytestmark = pytest.mark.thread_unsafe(reason="runs process pools and a heartbeat, and times runs")

RUNNERS = ["serial", "threads", "processes"]
SCRIPT = Path(sys.executable).with_name("gilfree")
ROOT = Path(__file__).resolve().parent.parent
needs_examples = pytest.mark.skipif(
    not (ROOT / "examples" / "__init__.py").exists(),
    reason="examples/ is not beside tests/ (the sdist ships the tests, not the examples)",
)


def example(name: str):
    """``examples.<name>``, from the repository's root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"examples.{name}")


def _gil_enabled() -> bool:
    return getattr(sys, "_is_gil_enabled", lambda: True)()


def recommended(result, runner: str) -> None:
    r = result.recommendation
    if r["reason"] == "noisy":
        pytest.skip(f"too noisy to tell on this machine now: {r['line']}")
    assert r["runner"] == runner, r["line"]
    assert r["workers"] == 2 and r["speedup"] >= 1.1, r["line"]


@pytest.fixture(scope="module")
def zlib_run():
    if not (ROOT / "examples" / "__init__.py").exists():
        pytest.skip("examples/ is not beside tests/ (the sdist ships the tests, not the examples)")
    return compare.compare_workload(example("zlib_blobs").workload(16, 1 << 17), RUNNERS, [1, 2], repeat=3)


def test_zlib_over_blobs_recommends_threads(zlib_run):
    recommended(zlib_run, "threads")
    # On a free-threaded build with the GIL off the line says so instead.
    gil_on = getattr(sys, "_is_gil_enabled", lambda: True)()
    lead = "releases the GIL" if gil_on else "the GIL is off"
    assert zlib_run.recommendation["line"].startswith(f"{lead}: threads x2")


def test_every_cell_is_measured_against_serial_and_pools_report_their_costs(zlib_run):
    by = {(c.runner, c.workers): c for c in zlib_run.cells}
    assert set(by) == {("serial", 1), ("threads", 1), ("threads", 2), ("processes", 1), ("processes", 2)}
    assert all(c.kind == "workload" and c.matched and c.error is None for c in zlib_run.cells)
    assert by["serial", 1].speedup == 1.0 and by["serial", 1].dispatch_s is None
    for c in zlib_run.cells:
        assert c.gil is not None and c.wall_s > 0
        if c.runner != "serial":
            assert len(c.baseline_runs_s) == len(c.wall_runs_s) == 3
            assert c.dispatch_s > 0
    blobs = 16 * (1 << 17)  # sent to the workers; their compressed forms come back
    assert all(blobs < by["processes", w].bytes_moved < 2 * blobs for w in (1, 2))
    assert by["threads", 2].bytes_moved is None
    assert zlib_run.settings["workload"] == "zlib.compress" and zlib_run.settings["size"] == "16 items"
    assert set(zlib_run.recommendation["break_even_s"]) == {"threads", "processes"}


def test_json_is_what_fields_documents_and_reads_back(zlib_run):
    doc = json.loads(report.to_json(zlib_run))
    assert set(doc) == set(FIELDS[""])
    assert set(doc["settings"]) | {"pythons"} == set(FIELDS["settings"])
    assert all(set(c) == set(FIELDS["cells[]"]) for c in doc["cells"])
    assert set(doc["recommendation"]) == set(FIELDS["recommendation"])
    back = from_dict(doc)
    assert back.recommendation == zlib_run.recommendation
    assert to_dict(back) == doc


def test_table_and_csv_show_the_costs_and_the_recommendation(zlib_run, capsys):
    report.print_table(zlib_run)
    out = " ".join(capsys.readouterr().out.split())  # the lines under the table wrap at 80 columns
    assert f"recommendation: {zlib_run.recommendation['line']}" in out
    assert "break-even work per chunk here: threads from" in out
    assert "workload " in out  # the first column's header
    rows = list(csv.DictReader(io.StringIO(report.to_csv(zlib_run))))
    assert {"moved_mb", "dispatch_ms"} <= set(rows[0])
    procs = [r for r in rows if r["runner"] == "processes"]
    assert all(float(r["moved_mb"]) > 2 for r in procs)


def test_plot_has_one_panel_for_the_workload(zlib_run):
    pytest.importorskip("matplotlib")
    from gilfree.report import plot

    fig = plot.figure(zlib_run)
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "zlib.compress"
    assert report.to_png(zlib_run)[:8] == b"\x89PNG\r\n\x1a\n"


@needs_examples
def test_a_numpy_expression_recommends_threads():
    work = example("numpy_expression").workload(2_000_000)
    result = compare.compare_workload(work, RUNNERS, [1, 2], repeat=3)
    assert result.all_matched
    recommended(result, "threads")


@needs_examples
def test_a_numba_nogil_function_recommends_threads():
    pytest.importorskip("numba")
    result = compare.compare_workload(example("numba_nogil").workload(300_000), RUNNERS, [1, 2], repeat=3)
    assert result.all_matched
    recommended(result, "threads")


@needs_examples
@pytest.mark.skipif(not _gil_enabled(), reason="pure Python threads scale with the GIL off")
def test_a_pure_python_function_recommends_processes_on_a_gil_build():
    result = compare.compare_workload(example("pure_python").workload(200_000, 16), RUNNERS, [1, 2], repeat=3)
    assert result.all_matched
    recommended(result, "processes")
    assert result.recommendation["line"].startswith("holds the GIL")


# -- the command line ------------------------------------------------------------------------


MYMOD = """
import zlib
from gilfree import Workload

def f(x):
    return len(zlib.compress(x))

workload = Workload.map(f, [bytes(range(256)) * 64] * 4)
def fails(x):
    return x / 0
bad_first = Workload.map(fails, [1, 2])
not_a_sequence = Workload(f, lambda n: (b"x" for _ in range(n)))
value = 3
"""


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "mymod.py").write_text(MYMOD)
    return tmp_path


@pytest.mark.skipif(not SCRIPT.exists(), reason="the gilfree console script is not beside this Python")
def test_the_console_script_imports_from_the_current_folder(folder):
    """The console script's sys.path[0] is its bin folder; like python -m, it must find mymod here."""
    argv = [str(SCRIPT), "compare", "--workload", "mymod:workload", "--runners", "serial", "threads"]
    argv += ["--workers", "1", "--repeat", "1", "--json", "-"]
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["settings"]["workload"] == "mymod:workload" and doc["recommendation"]["line"]
    assert "recommendation:" in done.stderr  # the table goes to stderr when stdout has JSON
    probe = subprocess.run(
        [str(SCRIPT), "probe", "mymod:f", "b'abcd'", "--min-time", "0.05", "--json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout)["verdict"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nowhere_at_all:w", "cannot import 'nowhere_at_all': No module named 'nowhere_at_all'"),
        ("mymod:value", "mymod:value is an int, not a gilfree.Workload"),
        ("mymod:f", "mymod:f is a function that takes arguments, not a gilfree.Workload"),
        ("mymod:not_a_sequence", "returned a generator, not a sequence of argument tuples"),
        ("mymod:bad_first", "mymod.fails raised ZeroDivisionError on its first chunk: division by zero"),
        ("mymod", "expected MODULE:OBJ"),
    ],
)
def test_bad_workloads_exit_2_in_one_line(folder, monkeypatch, capsys, spec, message):
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(folder))])
    monkeypatch.delitem(sys.modules, "mymod", raising=False)
    assert main(["compare", "--workload", spec, "--json", str(folder / "out.json")]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"gilfree compare: error: --workload {spec}: ") and message in err, err
    assert captured.out == "" and not (folder / "out.json").exists()


@pytest.mark.parametrize("option", [["--kernels", "primes"], ["--size", "tiny"], ["--peers"]])
def test_kernel_options_do_not_apply_to_a_workload(capsys, option):
    assert main(["compare", "--workload", "examples.zlib_blobs:workload", *option]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"gilfree compare: error: {option[0]} does not apply with --workload: ")


@needs_examples
def test_a_workload_runs_on_dask_too():
    pytest.importorskip("distributed")
    blobs = example("zlib_blobs").workload(4, 1 << 14)
    result = compare.compare_workload(blobs, ["serial", "dask"], [1], repeat=1)
    (dask,) = [c for c in result.cells if c.runner == "dask"]
    assert dask.matched and dask.error is None, dask.error
    assert dask.dispatch_s > 0 and dask.bytes_moved > 4 * (1 << 14)
