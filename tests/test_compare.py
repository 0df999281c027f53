"""``gilfree compare``: the default matrix, its outputs, and bad option values.

The default matrix is run once, at ``--size tiny``, through ``gilfree.cli.main`` (JSON, CSV
and plot from the same run), and each test reads what it needs from that run.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import statistics
import subprocess
import sys

import pytest

from gilfree import compare, report
from gilfree.cli import main
from gilfree.info import cores
from gilfree.kernels import REGISTRY, build_info
from gilfree.runners import registry
from gilfree.runners.serial import SerialRunner

pytestmark = pytest.mark.thread_unsafe(reason="runs process pools and a heartbeat, and times runs")

CELL_KEYS = (
    "kind", "kernel", "variant", "runner", "options", "workers", "size", "matched", "wall_s",
    "cpu_s", "wall_runs_s", "cpu_runs_s", "baseline_runs_s", "startup_s", "speedup",
    "speedup_range", "efficiency", "flags", "gil", "n_chunks", "schedule", "serial_fallback",
    "start_method", "transport", "error", "interpreter", "bytes_moved", "dispatch_s",
)  # fmt: skip
GIL_KEYS = (
    "ticks", "duration_s", "p50_ms", "p75_ms", "p99_ms", "max_ms", "blocked_fraction",
    "cpu_wait_fraction", "gil_p75_ms", "gil_max_ms", "short_slice", "verdict",
)  # fmt: skip


def _has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def expected_default_cells() -> set[tuple[str, str, str, int, str]]:
    """The default matrix's cells, written out independently of ``compare.plan``."""
    workers = sorted({1, cores()})
    runners = ["threads", "processes"]
    variants = ["python", "gil", "nogil", *(["openmp"] if build_info()["openmp"] else [])]
    cells = set()
    for k in REGISTRY:
        for v in variants:
            size = "tiny"  # --size tiny, and python runs at small or the requested size if smaller
            cells.add((k, v, "serial", 1, size))
            if v == "openmp":
                cells.update((k, v, "serial", w, size) for w in workers)
            else:
                cells.update((k, v, r, w, size) for r in runners for w in workers)
    return cells


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """``gilfree compare --size tiny --json --csv --plot``, once; the figure's axes are counted
    before it is saved."""
    out = tmp_path_factory.mktemp("compare")
    panels: list[int] = []
    from gilfree.report import plot

    original = plot.figure

    def spy(comparison):
        fig = original(comparison)
        panels.append(len(fig.axes))
        return fig

    plot.figure = spy
    argv = ["compare", "--size", "tiny", "--json", str(out / "c.json"), "--csv", str(out / "c.csv")]
    if _has_matplotlib():
        argv += ["--plot", str(out / "c.png")]
    try:
        rc = main([*argv, "--no-progress"])
    finally:
        plot.figure = original
    return {"rc": rc, "dir": out, "panels": panels}


def test_default_matrix_json_has_every_cell_matched(default_run):
    assert default_run["rc"] == 0
    doc = json.loads((default_run["dir"] / "c.json").read_text())
    assert doc["schema"] == report.SCHEMA
    machine = doc["machine"]
    for key in ("cores", "python", "build", "gil_enabled", "openmp", "compiler", "gilfree"):
        assert key in machine
    assert machine["cores"] == cores()
    assert set(doc) == {
        "schema",
        "machine",
        "settings",
        "switch_interval_s",
        "idle",
        "notes",
        "total_s",
        "cells",
        "recommendation",
    }
    cells = doc["cells"]
    assert set(cells[0]) == set(CELL_KEYS)
    assert set(cells[0]["gil"]) == set(GIL_KEYS)
    # What is written is what gilfree.comparison.FIELDS documents, and nothing else.
    from gilfree.comparison import FIELDS

    assert set(doc) == set(FIELDS[""])
    assert set(doc["settings"]) <= set(FIELDS["settings"])
    assert set(FIELDS["settings"]) - set(doc["settings"]) == {"pythons"}  # compare --python only
    assert set(cells[0]) == set(FIELDS["cells[]"])
    assert set(cells[0]["gil"]) == set(FIELDS["cells[].gil"])
    got = {(c["kernel"], c["variant"], c["runner"], c["workers"], c["size"]) for c in cells}
    assert got == expected_default_cells()
    assert len(cells) == len(got)
    assert all(c["matched"] is True for c in cells), [c for c in cells if not c["matched"]]
    assert all(c["error"] is None for c in cells)
    for c in cells:
        assert len(c["wall_runs_s"]) == doc["settings"]["repeat"] == compare.DEFAULT_REPEAT
        assert c["wall_s"] > 0 and c["cpu_s"] >= 0 and c["startup_s"] >= 0
        assert c["gil"]["ticks"] >= 1 and c["gil"]["duration_s"] >= compare.GIL_WINDOW_S
        assert c["efficiency"] == pytest.approx(c["speedup"] / c["workers"])
        if c["runner"] == "serial" and c["workers"] == 1:
            assert c["speedup"] == 1.0


def test_csv_has_the_tables_columns(default_run):
    text = (default_run["dir"] / "c.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [col.key for col in report.COLUMNS]
    assert len(rows) - 1 == len(expected_default_cells())
    matched = rows[0].index("matched")
    assert {r[matched] for r in rows[1:]} == {"True"}


@pytest.mark.skipif(not _has_matplotlib(), reason='needs matplotlib: pip install "gilfree[plot]"')
def test_plot_is_a_png_with_one_panel_per_kernel(default_run):
    data = (default_run["dir"] / "c.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert default_run["panels"] == [len(REGISTRY)]
    import matplotlib.image

    image = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert image.shape[0] > 300 and image.shape[1] > 600


def test_no_temporary_files_left(default_run):
    assert sorted(p.name for p in default_run["dir"].iterdir()) == sorted(
        ["c.json", "c.csv", *(["c.png"] if _has_matplotlib() else [])]
    )


# -- a smaller matrix, through the API ---------------------------------------------------------------


def test_speedup_and_efficiency_come_from_the_serial_cell():
    result = compare.compare(
        kernels=["integrate"], variants=["nogil"], runners=["threads"], workers=[1, 2], size="small", repeat=2
    )
    by = {(c.runner, c.workers): c for c in result.cells}
    assert set(by) == {("serial", 1), ("threads", 1), ("threads", 2)}  # serial: always, the baseline
    assert by["serial", 1].speedup == 1.0 and by["serial", 1].baseline_runs_s is None
    for c in result.cells:
        if c.runner != "serial":  # measured in rounds interleaved with the baseline's own runs
            assert len(c.baseline_runs_s) == len(c.wall_runs_s) == 2
            assert c.speedup == pytest.approx(min(c.baseline_runs_s) / min(c.wall_runs_s))
            paired = [b / w for b, w in zip(c.baseline_runs_s, c.wall_runs_s, strict=True)]
            assert c.speedup_range == pytest.approx([min(paired), max(paired)])
        assert c.efficiency == pytest.approx(c.speedup / c.workers)
        assert c.wall_s == statistics.median(c.wall_runs_s) and len(c.wall_runs_s) == 2
    assert result.all_matched


def test_short_runs_get_figures_but_no_verdict():
    result = compare.compare(kernels=["sum_squares"], variants=["nogil"], runners=["serial"], size="tiny")
    (cell,) = result.cells
    assert cell.wall_s < sys.getswitchinterval()
    assert cell.gil is not None and cell.gil_verdict is None


def test_mandelbrot_outputs_are_poisoned_before_each_run():
    k = REGISTRY["mandelbrot"]
    inputs = k.make_inputs("tiny")
    value = k.combine([k.nogil(*inputs.whole())])
    assert k.check(inputs, value)
    k.reset_outputs(inputs)
    assert (inputs.args[0] == -1).all()
    assert not k.check(inputs, value)  # the same value, but the image was not written again


def test_a_failing_cell_is_recorded_and_the_rest_still_run(monkeypatch, capsys):
    class Broken(SerialRunner):
        name = "broken"

        def map(self, func, chunks, *, timeout=None, cancel=None, outputs=()):
            raise RuntimeError("this runner always fails")

    monkeypatch.setitem(registry._CLASSES, "broken", Broken)
    result = compare.compare(kernels=["primes"], variants=["nogil"], runners=["broken"], size="tiny")
    by = {c.runner: c for c in result.cells}
    assert by["serial"].matched and by["serial"].error is None
    assert not by["broken"].matched and by["broken"].wall_s is None
    assert by["broken"].error == "RuntimeError: this runner always fails"
    assert not result.all_matched
    argv = ["--kernels", "primes", "--variants", "nogil", "--runners", "broken", "--size", "tiny"]
    rc = main(["compare", *argv])
    assert rc == 1
    assert "did not match the reference" in capsys.readouterr().out


def test_a_runner_that_does_not_import(monkeypatch):
    monkeypatch.setitem(registry._LAZY, "ghost", "gilfree.runners.ghost_not_built")
    with pytest.raises(ValueError, match="runner 'ghost' is not available"):
        compare.plan(runners=["ghost"])
    # In the default matrix too: a default runner that does not import is an error, not a gap.
    monkeypatch.setattr(compare, "DEFAULT_RUNNERS", ("serial", "threads", "ghost"))
    with pytest.raises(ValueError, match="runner 'ghost' is not available"):
        compare.plan(size="tiny")


def test_openmp_runs_only_with_the_serial_runner():
    if not build_info()["openmp"]:
        with pytest.raises(ValueError, match="variant 'openmp' is absent"):
            compare.plan(variants=["openmp"])
        assert any("openmp" in note for note in compare.plan().notes)
        return
    plan = compare.plan(kernels=["integrate"], variants=["openmp"], runners=["threads"], workers=[1, 2, 3])
    assert {(c.runner, c.workers) for c in plan.cells} == {("serial", 1), ("serial", 2), ("serial", 3)}


def test_processes_cells_match():
    result = compare.compare(
        kernels=["integrate", "mandelbrot"],
        variants=["python", "nogil"],
        runners=["processes"],
        workers=[1, 2],
        size="tiny",
        repeat=1,
    )
    procs = [c for c in result.cells if c.runner == "processes"]
    assert len(procs) == 8
    assert all(c.matched and c.startup_s is not None for c in procs), [c.error for c in procs]


#: The first bytes of each format --plot writes.
PLOT_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}


@pytest.mark.skipif(not _has_matplotlib(), reason='needs matplotlib: pip install "gilfree[plot]"')
@pytest.mark.parametrize("name", ["p.png", "p.svg", "p.pdf", "P.SVG"])
def test_plot_format_comes_from_the_extension(tmp_path, name):
    argv = ["compare", "--kernels", "integrate", "--variants", "nogil", "--runners", "threads"]
    argv += ["--workers", "1", "--size", "tiny", "--repeat", "1", "--no-progress"]
    assert main([*argv, "--plot", str(tmp_path / name)]) == 0
    data = (tmp_path / name).read_bytes()
    fmt = name.rsplit(".", 1)[1].lower()
    assert data.startswith(PLOT_MAGIC[fmt]), data[:40]
    if fmt == "svg":
        assert b"<svg" in data[:2000]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("name", ["p.jpg", "p.eps", "plot", "p.png.txt"])
def test_plot_refuses_other_extensions_before_the_matrix_runs(tmp_path, capsys, monkeypatch, name):
    def no_run(*args, **kwargs):
        raise AssertionError("the matrix ran before --plot was checked")

    monkeypatch.setattr(compare, "run", no_run)
    assert main(["compare", "--kernels", "integrate", "--plot", str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("gilfree compare: error: --plot ") and ".svg" in err, err
    assert captured.out == "" and list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    assert main(["compare", "--kernels", "integrate", "--plot", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert 'pip install "gilfree[plot]"' in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


# -- bad option values: exit 2, one line, nothing written --------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--kernels", "nope"], "unknown kernel 'nope'"),
        (["--kernels", "integrate,nope"], "unknown kernel 'nope'"),
        (["--variants", "fast"], "unknown variant 'fast'"),
        (["--runners", "gpu"], "unknown runner 'gpu'"),
        (["--workers", "0"], "workers must not be 0"),
        (["--workers", "1,two"], "--workers: expected integers"),
        (["--size", "huge"], "unknown size 'huge'"),
        (["--repeat", "0"], "repeat must be"),
        (["--repeat", "many"], "--repeat: expected a whole number"),
        (["--json", "{missing}/out.json"], "does not exist"),
        (["--csv", "{file}/out.csv"], "does not exist"),
        (["--plot", "{dir}"], "is a directory"),
        (["--json", "-", "--csv", "-"], "only one output can go to stdout"),
    ],
)
def test_bad_option_values_exit_2_in_one_line_and_write_nothing(tmp_path, capsys, options, message):
    (tmp_path / "a_file").write_text("")
    paths = {"missing": tmp_path / "missing", "file": tmp_path / "a_file", "dir": tmp_path}
    options = [o.format(**paths) for o in options]
    json_out = tmp_path / "results.json"
    argv = ["compare", *options]
    if "--json" not in options:
        argv += ["--json", str(json_out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("gilfree compare: error:") and message in err, err
    assert "Traceback" not in captured.err and captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # no output, no temp file


def test_peers_rows_are_checked_and_measured_against_nogil_serial():
    from gilfree import peers

    if not any(p.missing is None for p in peers.PEERS if p.name != "numpy"):
        pytest.skip('no peer beyond NumPy installed (pip install "gilfree[bench]")')
    result = compare.compare(
        kernels=["sum_squares"],
        variants=["nogil"],
        runners=["threads"],
        workers=[1],
        size="small",
        repeat=1,
        peers=True,
    )
    rows = [c for c in result.cells if c.variant == compare.PEER]
    assert {c.runner for c in rows} >= {"numpy"}
    for c in rows:  # each measured in rounds interleaved with gilfree's nogil serial
        assert c.matched, c
        assert c.kind == "peer"
        assert c.speedup == pytest.approx(min(c.baseline_runs_s) / min(c.wall_runs_s))


def test_layouts_add_dask_cells_per_layout():
    pytest.importorskip("distributed")
    p = compare.plan(
        kernels=["integrate"], variants=["nogil"], runners=["serial"], size="tiny", layouts=[(1, 2), (2, 1)]
    )
    got = {(c.runner, c.workers, c.options) for c in p.cells}
    layout = (("n_workers", 1), ("threads_per_worker", 2)), (("n_workers", 2), ("threads_per_worker", 1))
    assert got == {("serial", 1, ()), ("dask", 2, layout[0]), ("dask", 2, layout[1])}
    assert {c.label for c in p.cells} == {"serial", "dask 1x2", "dask 2x1"}
    with pytest.raises(ValueError, match="threads must be >= 1"):
        compare.plan(layouts=[(1, 0)])


def test_scheduler_without_dask_is_a_usage_error(capsys):
    assert main(["compare", "--runners", "threads", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--scheduler applies only to the dask runner" in capsys.readouterr().err


class _Cluster:
    """What ``compare.as_run`` reads of a started dask runner: its ``describe()``."""

    def __init__(self, threads: list[int], layout: str) -> None:
        self.threads, self.layout = threads, layout

    def describe(self) -> dict:
        extra = {"processes": len(self.threads), "threads_per_process": self.threads, "layout": self.layout}
        return {"extra": extra}


def test_a_dask_cell_is_measured_as_the_cluster_runs_it():
    from gilfree.comparison import Cell

    asked = Cell("integrate", "nogil", "dask", 1, "tiny")
    even = compare.as_run(asked, _Cluster([2, 2], "2x2"))
    assert even.workers == 4 and even.options_dict == {"n_workers": 2, "threads_per_worker": 2}
    assert even.label == "dask 2x2"
    uneven = compare.as_run(asked, _Cluster([2, 1], "1x2+1x1"))
    assert uneven.workers == 3 and uneven.options_dict == {"layout": "1x2+1x1"}
    # other runners' cells are as planned
    threads = Cell("integrate", "nogil", "threads", 1, "tiny")
    assert compare.as_run(threads, _Cluster([2], "1x2")) is threads


def test_a_worker_attaching_a_segment_leaves_the_resource_tracker_alone(monkeypatch):
    """Only the process that creates a segment registers it (and unregisters it as it unlinks
    it): an attach, as each worker makes, sends the tracker nothing, as ``track=False`` does."""
    from multiprocessing import resource_tracker
    from multiprocessing.shared_memory import SharedMemory

    from gilfree.runners import _shm

    owner = SharedMemory(create=True, size=64)
    try:
        registered: list[str] = []
        monkeypatch.setattr(resource_tracker, "register", lambda name, rtype: registered.append(name))
        attached = _shm._attach(owner.name)
        try:
            assert attached.size >= 64
        finally:
            attached.close()
        assert registered == []
        assert resource_tracker.register is not _shm._not_registered  # put back as it was
    finally:
        owner.close()
        owner.unlink()


#: Clean ``gilfree compare`` runs with worker processes, in a row (issue 18: 1 run in 5 printed
#: multiprocessing's "leaked shared_memory" warning).
CLEAN_RUNS = 8


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shared memory and its resource tracker")
def test_compare_with_processes_leaves_nothing_to_the_resource_tracker():
    """Each run creates, reuses and drops segments (mandelbrot's image, pairwise's points, primes
    none) on pools of 1 and 2 workers; no run may leave one registered or in /dev/shm."""
    from pathlib import Path

    argv = [sys.executable, "-m", "gilfree", "compare", "--kernels", "mandelbrot,pairwise,primes"]
    argv += ["--variants", "python,nogil", "--runners", "processes", "--workers", "1,2"]
    argv += ["--size", "tiny", "--repeat", "1", "--no-progress"]
    for _ in range(CLEAN_RUNS):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, out + err
        assert "leaked" not in err and "resource_tracker" not in err, err
        assert not list(Path("/dev/shm").glob(f"gilfree-{proc.pid}-*"))
