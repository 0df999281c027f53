"""``gilfree compare --workload MODULE:OBJ``: the user's own workload on every runner.

Parsing and dispatch only: the workload is loaded by :func:`gilfree.workload.load`, planned
and run by :mod:`gilfree.compare`, and drawn by :mod:`gilfree.report`, as ``compare`` is for
kernels. Also :func:`importable_here`, which ``probe`` uses too.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gilfree.cli import UsageError, _parse_workers, _split_names, check_scheduler_option, scheduler_options

#: ``compare`` options that say what to measure for kernels; a workload says that itself.
KERNEL_ONLY = ("--kernels", "--variants", "--size", "--peers", "--layouts", "--python")


def importable_here() -> None:
    """Put the current directory first on ``sys.path``, as ``python -m`` does.

    Why: the ``gilfree`` console script's ``sys.path[0]`` is the folder of the script (the
    environment's ``bin``), so ``gilfree probe mymod:f`` in the folder holding ``mymod.py``
    could not import it, where ``python -m gilfree probe mymod:f`` could. Worker processes
    inherit the path (fork) or are given it (spawn, forkserver).
    """
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)


def add_workload_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workload",
        metavar="MODULE:OBJ",
        help="measure your own code instead of the kernels: a gilfree.Workload (or a function "
        "returning one) in MODULE, importable from here; runs serial, threads, processes (and "
        "dask, if installed) at workers 1..N and prints a recommendation",
    )


def _given(args: argparse.Namespace, flag: str) -> bool:
    value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
    if flag == "--size":
        return value not in (None, "default")
    return bool(value)


def _check_outputs(args: argparse.Namespace) -> list[str]:
    """The output options, checked before anything runs; those that go to stdout."""
    from gilfree import report

    outputs = {"--json": args.json, "--csv": args.csv, "--plot": args.plot}
    to_stdout = [opt for opt, target in outputs.items() if target == "-"]
    if len(to_stdout) > 1:
        raise UsageError(f"only one output can go to stdout ('-'), got {' and '.join(to_stdout)}")
    try:
        for opt, target in outputs.items():
            if target is not None and target != "-":
                report.check_writable(target, opt)
        if args.plot is not None:
            report.plot_format(args.plot)
            report.require_matplotlib()
    except (ValueError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    return to_stdout


def compare_workload_command(args: argparse.Namespace) -> int:
    """``gilfree compare --workload``: exit 0, 1 when a cell failed or did not match its check,
    2 for a bad option or a workload that cannot run (one line naming what is wrong)."""
    from gilfree import compare, report
    from gilfree.workload import WorkloadError, load

    for flag in KERNEL_ONLY:
        if _given(args, flag):
            raise UsageError(f"{flag} does not apply with --workload: a workload holds its own code and data")
    to_stdout = _check_outputs(args)
    try:
        repeat = int(args.repeat)
    except ValueError:
        raise UsageError(f"--repeat: expected a whole number of runs, got {args.repeat!r}") from None
    runners = _split_names(args.runners)
    check_scheduler_option(args, runners if runners is not None else ["dask"])
    importable_here()
    try:
        workload = load(args.workload)
        plan = compare.plan_workload(
            workload,
            runners=runners,
            workers=_parse_workers(args.workers),
            repeat=repeat,
            runner_options={"dask": scheduler_options(args, "dask")},
            target=args.workload,
        )
    except WorkloadError as exc:
        raise UsageError(f"--workload {args.workload}: {_first_line(exc)}") from None
    except (ValueError, TypeError, ImportError) as exc:
        raise UsageError(_first_line(exc)) from None

    show_progress = not to_stdout and not args.no_progress and sys.stderr.isatty()
    with report.progress_bar(show_progress) as progress:
        result = compare.run_workload(plan, workload, progress)
    write_outputs(args, result)
    report.print_table(result, stderr=bool(to_stdout))
    return 0 if result.all_matched else 1


def write_outputs(args: argparse.Namespace, result: Any) -> None:
    """The files compare was asked for (``--json``, ``--csv``, ``--plot``): kernels and workloads alike."""
    from gilfree import report

    if args.json is not None:
        report.write_output(args.json, report.to_json(result))
    if args.csv is not None:
        report.write_output(args.csv, report.to_csv(result))
    if args.plot is not None:
        report.write_output(args.plot, report.to_image(result, report.plot_format(args.plot)))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
