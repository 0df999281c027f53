"""The ``gilfree`` command line: argument parsing only; the work lives in the modules it calls."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """A bad option value: reported in one line, exit status 2."""


def _cmd_info(args: argparse.Namespace) -> int:
    from gilfree import info

    facts = info.collect()
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="gilfree info", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in facts.items():
        if key == "kernels":
            continue
        table.add_row(key, str(value))
    gil = facts["build"] + (", GIL on now" if facts["gil_enabled"] else ", GIL off now")
    table.add_row("GIL", gil)
    for name, variants in facts["kernels"].items():
        table.add_row(f"kernel {name}", ", ".join(variants))
    Console().print(table)
    return 0


def _run_workers(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        workers = int(text)
    except ValueError:
        raise UsageError(f"--workers must be an integer, got {text!r}") from None
    from gilfree.runners import resolve_workers

    try:
        resolve_workers(workers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return workers


def _cmd_run(args: argparse.Namespace) -> int:
    """One kernel, one variant, one runner: the result, its times and the reference check."""
    from gilfree import info
    from gilfree.kernels import SIZES, get
    from gilfree.runners import WorkerCrashed, make_runner, runner_class

    try:
        kernel = get(args.kernel)
        kernel.variant(args.variant)
        runner_class(args.runner)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.size not in SIZES:
        raise UsageError(f"unknown size {args.size!r}; expected one of {', '.join(SIZES)}")
    workers = _run_workers(args.workers)
    if workers is None and args.runner == "serial":
        workers = 1
    options: dict = {"schedule": args.schedule}
    for flag, key in (("--start-method", "start_method"), ("--transport", "transport")):
        value = getattr(args, key)
        if value is not None:
            if args.runner != "processes":
                raise UsageError(f"{flag} applies to --runner processes only, not {args.runner!r}")
            options[key] = value
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be > 0 seconds, got {args.timeout}")
    try:
        runner = make_runner(args.runner, workers, **options)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        with runner:
            result = runner.run(kernel, args.variant, size=args.size, timeout=args.timeout)
    except (TimeoutError, WorkerCrashed) as exc:
        print(f"gilfree run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # what only the run can tell, e.g. openmp on processes
        raise UsageError(str(exc)) from None

    if args.json:
        facts = info.collect()
        facts.pop("kernels", None)
        print(json.dumps({"result": result.to_dict(), "machine": facts}, indent=2, default=str))
        return 0 if result.matched is not False else 1
    from rich.console import Console
    from rich.table import Table

    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"

    table = Table(title=f"gilfree run {result.kernel} ({result.size})", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    value = result.value
    if hasattr(value, "shape"):
        shown = f"array {value.shape} {value.dtype}, sum {value.sum()}"
    else:
        shown = repr(value)
    rows = [
        ("variant", result.variant),
        ("runner", result.runner),
        ("workers", str(result.workers)),
        ("schedule", result.schedule + (" (ran serially: too little work)" * result.serial_fallback)),
    ]
    if result.start_method is not None:
        rows += [("start method", result.start_method), ("transport", result.transport or "-")]
    check = {True: "[green]matches the reference[/]", False: "[red]DOES NOT match the reference[/]"}
    rows += [
        ("value", shown),
        ("check", check.get(result.matched, "not checked")),
        ("wall", ms(result.wall_s)),
        ("CPU", ms(result.cpu_s) + (f" ({result.cpu_s / result.wall_s:.2f} cores)" if result.wall_s else "")),
        ("start-up", ms(result.startup_s) + " (not in wall)"),
        (f"chunks ({result.n_chunks})", ", ".join(ms(s) for s in result.chunk_s)),
    ]
    for what, text in rows:
        table.add_row(what, text)
    Console().print(table)
    return 0 if result.matched is not False else 1


def _add_run_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run one kernel with one variant and runner: result, times, reference check",
        description="Run one kernel once and print the result, wall and CPU time, start-up, "
        "per-chunk times and whether it matched the reference. Exit status 1 on a mismatch, "
        "a timeout or a crashed worker.",
    )
    p.add_argument("kernel", metavar="KERNEL", help="a kernel name: `gilfree info` lists them")
    p.add_argument("--variant", default="nogil", help="python, gil, nogil or openmp (default: nogil)")
    p.add_argument("--runner", default="threads", help="serial, threads, processes or dask (default threads)")
    p.add_argument("--workers", default=None, help="worker count (default all cores; -1 all, -2 all but one)")
    p.add_argument("--size", default="default", help="tiny, small, default or large (default: default)")
    p.add_argument("--schedule", default="static", help="static (one chunk per worker) or dynamic")
    p.add_argument("--start-method", default=None, help="processes only: fork, forkserver or spawn")
    p.add_argument("--transport", default=None, help="processes only: shm (default) or pickle")
    p.add_argument("--timeout", type=float, default=None, help="stop the run after this many seconds")
    p.add_argument("--json", action="store_true", help="print JSON (the result and machine facts)")
    p.set_defaults(func=_cmd_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gilfree",
        description="Parallel CPU compute in Python threads by releasing the GIL, measured here.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="version, Python, GIL, cores, OpenMP, compiler, kernels")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_info)
    _add_run_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"gilfree {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gilfree: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
