"""``gilfree.recommend``: the recommendation from made-up figures, one case per rule."""

from __future__ import annotations

import pytest

from gilfree.comparison import CellResult
from gilfree.recommend import fmt_bytes, fmt_time, recommend


def cell(
    runner: str,
    workers: int,
    speedup: float | None,
    *,
    verdict: str | None = None,
    flags: tuple[str, ...] = (),
    dispatch: float | None = None,
    moved: int | None = None,
    wall: float = 1.0,
    n_chunks: int | None = None,
    error: str | None = None,
) -> CellResult:
    c = CellResult("w", "workload", runner, workers, "8 items", error is None, "workload")
    c.wall_s, c.speedup, c.gil_verdict, c.flags = wall, speedup, verdict, list(flags)
    c.dispatch_s, c.bytes_moved, c.n_chunks, c.error = dispatch, moved, n_chunks or workers, error
    if speedup is not None:
        c.speedup_range = [speedup * 0.8, speedup * 1.1]
    return c


def serial(verdict: str | None, wall: float = 1.0) -> CellResult:
    return cell("serial", 1, 1.0, verdict=verdict, wall=wall)


def test_gil_bound_code_goes_to_processes():
    cells = [
        serial("holds in slices"),
        cell("threads", 1, 1.0, verdict="holds in slices", dispatch=20e-6),
        cell("threads", 2, 0.97, verdict="holds in slices", dispatch=30e-6),
        cell("processes", 1, 0.98, dispatch=100e-6),
        cell("processes", 2, 1.8, dispatch=150e-6),
    ]
    r = recommend(cells)
    assert (r.runner, r.workers, r.reason) == ("processes", 2, "holds")
    assert r.line == (
        "holds the GIL (in slices, as pure Python does): threads gain nothing; processes x2 1.80x"
    )


def test_releasing_code_goes_to_threads_and_names_the_copies():
    cells = [
        serial("releases"),
        cell("threads", 2, 1.95, verdict="releases"),
        cell("processes", 2, 1.6, moved=40_000_000),
    ]
    r = recommend(cells)
    assert (r.runner, r.workers, r.speedup, r.reason) == ("threads", 2, 1.95, "releases")
    assert r.line == (
        "releases the GIL: threads x2 1.95x; processes pay 40 MB of copies a run (processes x2 1.60x)"
    )


def test_threads_win_a_near_tie_with_processes():
    cells = [serial("releases"), cell("threads", 2, 1.90), cell("processes", 2, 1.95, moved=1000)]
    r = recommend(cells)
    assert r.runner == "threads"
    assert r.line == "releases the GIL: threads x2 1.90x; processes x2 1.95x"


def test_processes_that_clearly_win_over_releasing_threads_are_named_so():
    cells = [serial("releases"), cell("threads", 2, 1.2), cell("processes", 2, 1.9)]
    r = recommend(cells)
    assert (r.runner, r.reason) == ("processes", "scales")
    assert r.line == "releases the GIL, yet processes win: processes x2 1.90x against threads x2 1.20x"


def test_too_little_work_per_chunk_stays_serial():
    cells = [
        serial(None, wall=24e-6),
        cell("threads", 2, 0.4, dispatch=40e-6, n_chunks=2),
        cell("processes", 2, 0.1, dispatch=300e-6, n_chunks=2),
    ]
    r = recommend(cells)
    assert (r.runner, r.workers, r.speedup, r.reason) == (None, None, None, "too little work")
    assert r.line == "too little work per chunk: dispatch 40 µs against 12 µs of work; stay serial"


def test_gil_bound_code_that_processes_do_not_help_stays_serial():
    cells = [
        serial("holds", wall=0.05),
        cell("threads", 2, 0.99, dispatch=30e-6),
        cell("processes", 2, 1.02, dispatch=200e-6, moved=64_000_000),
    ]
    r = recommend(cells)
    assert (r.runner, r.reason) == (None, "holds")
    assert r.line == (
        "holds the GIL: threads gain nothing, and processes pay 64 MB of copies a run; "
        "stay serial (best: processes x2 1.02x)"
    )


def test_noisy_figures_near_the_top_are_too_noisy_to_tell():
    cells = [serial("releases"), cell("threads", 2, 1.9, flags=("noisy",)), cell("processes", 2, 1.7)]
    r = recommend(cells)
    assert (r.runner, r.reason) == (None, "noisy")
    assert r.line.startswith("too noisy to tell: threads x2 ran from 1.52x to 2.09x round by round")


def test_a_flagged_cell_far_below_the_winner_does_not_matter():
    cells = [serial("releases"), cell("threads", 2, 1.9), cell("processes", 2, 1.1, flags=("noisy",))]
    assert recommend(cells).runner == "threads"


def test_a_free_threaded_build_without_the_gil_says_so():
    cells = [serial("releases"), cell("threads", 2, 1.9), cell("processes", 2, 1.5)]
    r = recommend(cells, gil_enabled=False)
    assert (r.runner, r.reason) == ("threads", "gil off")
    assert r.line.startswith("the GIL is off: threads x2 1.90x")


def test_break_even_is_dispatch_over_workers_less_one_at_the_most_workers():
    cells = [
        serial("releases"),
        cell("threads", 2, 1.5, dispatch=30e-6),
        cell("threads", 4, 2.5, dispatch=90e-6),
        cell("processes", 2, 1.2, dispatch=200e-6),
        cell("dask", 1, 0.5, dispatch=5e-3),  # one worker: it can never pay, so no break-even
    ]
    r = recommend(cells)
    assert r.break_even_s == pytest.approx({"threads": 30e-6, "processes": 200e-6})
    assert r.break_even_line == (
        "break-even work per chunk here: threads from 30 µs, processes from 200 µs (from the dispatch cost)"
    )


def test_failed_cells_are_left_out_and_all_failed_says_so():
    failed = cell("threads", 2, None, error="RuntimeError: no")
    assert recommend([serial("releases"), failed, cell("processes", 2, 1.8)]).runner == "processes"
    r = recommend([serial("releases"), cell("threads", 2, None, error="RuntimeError: no")])
    assert (r.runner, r.line) == (None, "nothing to compare: every pool cell failed")


def test_to_dict_has_the_documented_fields():
    from gilfree.comparison import FIELDS

    r = recommend([serial("releases"), cell("threads", 2, 1.9)])
    assert set(r.to_dict()) == set(FIELDS["recommendation"])


@pytest.mark.parametrize(
    ("seconds", "text"), [(4e-5, "40 µs"), (1.2e-3, "1.2 ms"), (0.25, "250 ms"), (2.5, "2.5 s")]
)
def test_times_read_in_their_unit(seconds, text):
    assert fmt_time(seconds) == text


@pytest.mark.parametrize(("n", "text"), [(40_000_000, "40 MB"), (2_500_000, "2.5 MB"), (64_000, "64 kB")])
def test_bytes_read_in_decimal_units(n, text):
    assert fmt_bytes(n) == text


def test_a_machine_kept_busy_by_other_processes_is_too_noisy_to_tell():
    cells = [serial("releases"), cell("threads", 2, 1.9), cell("processes", 2, 1.5)]
    r = recommend(cells, others_cores=1.2)
    assert (r.runner, r.reason, r.others_cores) == (None, "noisy", 1.2)
    assert r.line == (
        "too noisy to tell: other processes kept 1.2 cores busy during the run "
        "(best here: threads x2 1.90x); rerun on a quieter machine"
    )
    assert recommend(cells, others_cores=0.1).runner == "threads"


def test_threads_under_the_minimum_gain_do_not_win_a_near_tie():
    cells = [serial(None), cell("threads", 2, 1.08), cell("processes", 2, 1.12)]
    assert recommend(cells).runner == "processes"


def test_threads_win_when_one_of_their_rounds_reached_the_faster_runner():
    threads = cell("threads", 2, 1.80)
    threads.speedup_range = [1.60, 1.95]
    cells = [serial("releases"), threads, cell("processes", 2, 1.92)]
    assert recommend(cells).runner == "threads"
    threads.speedup, threads.speedup_range = 1.5, [1.4, 1.6]
    assert recommend(cells).runner == "processes"


def test_break_even_with_more_chunks_than_workers():
    cells = [serial(None), cell("processes", 2, 1.9, dispatch=400e-6, n_chunks=16)]
    # 16 chunks of w on 2 workers: 400 µs + 8 w against 16 w, so from w = 50 µs
    assert recommend(cells).break_even_s == pytest.approx({"processes": 50e-6})


def test_a_flagged_cell_more_than_a_tenth_below_the_choice_cannot_overturn_it():
    cells = [serial("releases"), cell("threads", 2, 1.84), cell("processes", 2, 1.50, flags=("noisy",))]
    assert recommend(cells).runner == "threads"
    cells[2].speedup = 1.70
    assert recommend(cells).reason == "noisy"
