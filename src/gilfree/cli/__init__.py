"""The ``gilfree`` command line: argument parsing only; the work lives in the modules it calls."""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
from collections.abc import Sequence

#: The exit status when stdout's reader went away before the output was written
#: (``gilfree info | head -1``): 128 + SIGPIPE, what a shell reports for a tool that SIGPIPE
#: stopped (``yes | head -1``). So ``set -o pipefail`` sees a cut-off output as it would from
#: any other tool, and it is not 1, which says a run failed or did not match its reference.
CLOSED_STDOUT_EXIT = 141


class UsageError(Exception):
    """A bad option value: reported in one line, exit status 2."""


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown option is its error, shown with its own usage.

    Why: argparse hands a subcommand's unknown options up to the top-level parser, whose usage
    (``gilfree [-h] COMMAND ...``) says nothing of the options the subcommand does take.
    """

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def _cmd_info(args: argparse.Namespace) -> int:
    from gilfree import info, report

    facts = info.collect()
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    report.print_info(facts)
    return 0


# -- gilfree compare ---------------------------------------------------------------------------


def _split_names(values: list[str] | None) -> list[str] | None:
    """``--kernels a,b c`` -> ["a", "b", "c"]."""
    if values is None:
        return None
    return [name for v in values for name in v.split(",") if name]


def _parse_workers(text: str | None) -> list[int] | None:
    if text is None:
        return None
    out = []
    for word in text.split(","):
        try:
            out.append(int(word))
        except ValueError:
            raise UsageError(f"--workers: expected integers such as 1,2,4, got {word!r}") from None
    return out


def _cmd_compare(args: argparse.Namespace) -> int:
    if args.workload is not None:  # the user's own code: gilfree.cli.workload
        from gilfree.cli.workload import compare_workload_command

        return compare_workload_command(args)
    from gilfree import compare, report
    from gilfree.cli.workload import _check_outputs, write_outputs

    # Everything is checked before the matrix runs: a bad value costs nothing and leaves no file.
    to_stdout = _check_outputs(args)
    try:
        try:
            repeat = int(args.repeat)
        except ValueError:
            raise UsageError(f"--repeat: expected a whole number of runs, got {args.repeat!r}") from None
        runners = _split_names(args.runners)
        layouts = None
        if args.layouts is not None:
            from gilfree.runners.layouts import parse_layouts

            layouts = parse_layouts(args.layouts)
        check_scheduler_option(args, [*(runners or []), *(["dask"] if layouts else [])])
        plan = compare.plan(
            kernels=_split_names(args.kernels),
            variants=_split_names(args.variants),
            runners=runners,
            workers=_parse_workers(args.workers),
            size=args.size,
            repeat=repeat,
            layouts=layouts,
            runner_options={"dask": scheduler_options(args, "dask")},
            peers=args.peers,
        )
    except (ValueError, TypeError, ImportError) as exc:
        raise UsageError(str(exc)) from None

    if args.python:
        result = _compare_interpreters(args)
    else:
        show_progress = not to_stdout and not args.no_progress and sys.stderr.isatty()
        with report.progress_bar(show_progress) as progress:
            result = compare.run(plan, progress)

    write_outputs(args, result)
    report.print_table(result, stderr=bool(to_stdout), wide=args.wide)
    if args.python:
        from gilfree.pythons import slowdowns

        out = sys.stderr if to_stdout else sys.stdout
        for interp, kernel, variant, ratio in slowdowns(result):
            first = result.settings["pythons"][0]
            print(f"single thread, serial: {interp} / {first} = {ratio:.2f}x on {kernel} {variant}", file=out)
    return 0 if result.all_matched else 1


def _compare_interpreters(args: argparse.Namespace):
    """``--python PATH ...``: the matrix under each interpreter, in its own subprocess, merged."""
    from gilfree import pythons

    def say(msg: str) -> None:
        if not args.no_progress:
            print(msg, file=sys.stderr, flush=True)

    try:
        return pythons.run_all(args.python, _forward_compare_args(args), say)
    except pythons.InterpreterError as exc:
        raise UsageError(str(exc)) from None


def _forward_compare_args(args: argparse.Namespace) -> list[str]:
    """The ``gilfree compare`` options to hand each interpreter (not the outputs, not --python)."""
    out: list[str] = []
    for flag, value in (
        ("--kernels", args.kernels),
        ("--variants", args.variants),
        ("--runners", args.runners),
    ):
        if value:
            out += [flag, *value]
    for flag, value in (
        ("--workers", args.workers),
        ("--size", args.size),
        ("--repeat", args.repeat),
        ("--layouts", args.layouts),
        ("--scheduler", args.scheduler),
    ):
        if value is not None:
            out += [flag, str(value)]
    if args.peers:
        out.append("--peers")
    return out


def _add_compare_parser(sub) -> None:
    from gilfree.compare import DEFAULT_REPEAT, DEFAULT_RUNNERS

    p = sub.add_parser(
        "compare",
        help="the matrix kernel x variant x runner x workers: time, speed-up, GIL hold, check",
        description=(
            "Run each kernel through each variant and runner at each worker count; print the "
            "median wall and CPU time, the speed-up over the same variant run serially, the "
            "parallel efficiency, how the GIL was held, and whether every run matched the "
            "reference. With no options: every kernel; python (at size small), gil, nogil and "
            f"openmp; runners {', '.join(DEFAULT_RUNNERS)}; workers 1 and all cores."
        ),
    )
    p.add_argument("--kernels", nargs="+", metavar="K", help="kernels (names, or a,b,c)")
    p.add_argument("--variants", nargs="+", metavar="V", help="python, gil, nogil, openmp")
    p.add_argument("--runners", nargs="+", metavar="R", help="serial, threads, processes, dask")
    p.add_argument("--workers", metavar="N,N", help="worker counts, e.g. 1,2,4 (default: 1 and all cores)")
    p.add_argument("--size", default="default", help="tiny, small, default or large (default: default)")
    p.add_argument(
        "--repeat", default=str(DEFAULT_REPEAT), metavar="K", help="timed runs per cell, after a warm-up"
    )
    p.add_argument("--json", metavar="FILE", help="write the results as JSON ('-': stdout)")
    p.add_argument("--csv", metavar="FILE", help="write the table's columns as CSV ('-': stdout)")
    p.add_argument(
        "--plot",
        metavar="FILE",
        help='speed-up plot: .png, .svg or .pdf, by the name; needs gilfree[plot] ("-": PNG to stdout)',
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--wide",
        action="store_true",
        help="show every column (start-up, CPU, the GIL figures, matched); the default fits 80 columns",
    )
    p.add_argument(
        "--peers",
        action="store_true",
        help='add the installed peers (Numba, NumPy, numexpr, joblib; pip install "gilfree[bench]")',
    )
    p.add_argument(
        "--layouts",
        metavar="PxT,...",
        help="add dask cells in these processes x threads layouts, e.g. 1x2,2x1,2x2 (needs gilfree[dask])",
    )
    p.add_argument(
        "--python",
        action="append",
        metavar="PATH",
        help="run the matrix under this interpreter (it must have gilfree installed); give it "
        "more than once, e.g. a GIL build and a free-threaded one, for one table of both",
    )
    add_scheduler_option(p)
    from gilfree.cli.workload import add_workload_option

    add_workload_option(p)
    p.set_defaults(func=_cmd_compare)


# -- gilfree probe -----------------------------------------------------------------------------


def _cmd_probe(args: argparse.Namespace) -> int:
    from gilfree.cli import words
    from gilfree.cli.workload import importable_here
    from gilfree.probe import PROBE_MAX_MIN_TIME_S, isolated

    def seconds(option: str, text: str, limit: float) -> float:
        """A number of seconds for ``option``: finite, above 0, at most ``limit``."""
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{option}: expected seconds, got {text!r}") from None
        if not 0 < value <= limit:  # also refuses nan and inf
            raise UsageError(f"{option}: expected seconds above 0 and at most {limit:g}, got {text!r}")
        return value

    importable_here()  # MODULE:FUNC from the current folder, as with python -m
    min_time = seconds("--min-time", args.min_time, PROBE_MAX_MIN_TIME_S)
    timeout = seconds("--timeout", args.timeout, isolated.MAX_TIMEOUT_S)
    if timeout <= min_time:
        raise UsageError(f"--timeout: {args.timeout} s leaves no time for --min-time {args.min_time} s")
    if args.bytes is not None and args.kernel_inputs is not None:
        raise UsageError("give --bytes or --kernel-inputs, not both")
    n_bytes = None
    if args.bytes is not None:
        try:
            n_bytes = words.parse_bytes(args.bytes)
        except ValueError as exc:
            raise UsageError(f"--bytes: {exc}") from None
        import psutil

        free = psutil.virtual_memory().available
        if n_bytes > free:
            raise UsageError(
                f"--bytes: {args.bytes} is {n_bytes} bytes, "
                f"more than this machine's free memory ({free} bytes)"
            )
    spec = {
        "target": args.target,
        "args": list(args.args),
        "bytes": n_bytes,
        "kernel_inputs": args.kernel_inputs,
        "min_time": min_time,
    }
    try:  # in a child process: see gilfree.probe.isolated for why
        found = isolated.run(spec, timeout)
    except isolated.ProbeFailed as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    from gilfree import report

    report.print_probe(found)
    return 0


def _add_probe_parser(sub) -> None:
    from gilfree.probe import PROBE_MIN_TIME_S
    from gilfree.probe.isolated import DEFAULT_TIMEOUT_S

    p = sub.add_parser(
        "probe",
        help="does a callable release the GIL? a verdict and the figures behind it",
        description=(
            "Call MODULE:FUNC(ARGS...) over and over for at least --min-time seconds while a "
            "heartbeat thread measures how late it wakes, and say whether the call releases "
            "the GIL, partly releases it, holds it, or holds it in slices (as pure Python does), "
            "and how sure that is. The calls run in a child process, under a 0.1 ms switch "
            "interval. ARGS are Python literals (0.5, b'abc', [1, 2]) or strings; name=value "
            "passes a keyword. Examples: time:sleep 0.5 | hashlib:sha256 --bytes 16M | "
            "gilfree.kernels:mandelbrot.nogil --kernel-inputs default"
        ),
    )
    p.add_argument("target", metavar="MODULE:FUNC", help="the callable; FUNC may be a dotted path")
    p.add_argument("args", nargs="*", metavar="ARGS", help="arguments: Python literals or strings")
    p.add_argument("--bytes", metavar="N", help="pass N random bytes first (e.g. 16M) to hash or compress")
    p.add_argument(
        "--kernel-inputs",
        metavar="SIZE",
        help="pass a gilfree kernel's whole input at SIZE first (for a kernel variant)",
    )
    p.add_argument(
        "--min-time",
        default=str(PROBE_MIN_TIME_S),
        metavar="S",
        help=f"keep calling for at least S seconds (default {PROBE_MIN_TIME_S})",
    )
    p.add_argument(
        "--timeout",
        default=str(DEFAULT_TIMEOUT_S),
        metavar="S",
        help=f"give up after S seconds, exit status 2 (default {DEFAULT_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--json", action="store_true", help="print JSON instead of a table (the target's prints go to stderr)"
    )
    p.set_defaults(func=_cmd_probe)


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

    check_scheduler_option(args, [args.runner])  # the address first: it needs no Dask to check
    try:
        kernel = get(args.kernel)
        kernel.variant(args.variant)
        runner_class(args.runner)
    except (ValueError, ImportError) as exc:  # ImportError: a runner whose extra is missing
        raise UsageError(str(exc).splitlines()[0]) from None
    if args.size not in SIZES:
        raise UsageError(f"unknown size {args.size!r}; expected one of {', '.join(SIZES)}")
    workers = _run_workers(args.workers)
    options: dict = {"schedule": args.schedule}
    for flag, key in (("--start-method", "start_method"), ("--transport", "transport")):
        value = getattr(args, key)
        if value is not None:
            if args.runner != "processes":
                raise UsageError(f"{flag} applies to --runner processes only, not {args.runner!r}")
            options[key] = value
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be > 0 seconds, got {args.timeout}")
    options.update(scheduler_options(args, args.runner))
    try:
        runner = make_runner(args.runner, workers, **options)
    except (TypeError, ValueError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    from gilfree.harness import run_kernel

    try:
        with runner:
            result = run_kernel(runner, kernel, args.variant, size=args.size, timeout=args.timeout)
    except (TimeoutError, WorkerCrashed, ConnectionError, OSError) as exc:  # OSError: a full /dev/shm
        print(f"gilfree run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # what only the run can tell, e.g. openmp on processes
        raise UsageError(str(exc)) from None

    if args.json:
        facts = info.collect()
        facts.pop("kernels", None)
        print(json.dumps({"result": result.to_dict(), "machine": facts}, indent=2, default=str))
        return 0 if result.matched is not False else 1
    from gilfree import report

    report.print_run(result)
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
    add_scheduler_option(p)
    p.set_defaults(func=_cmd_run)


def _cmd_claims(args: argparse.Namespace) -> int:
    from gilfree import claims

    try:
        numbers = claims.parse_only(args.only)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    mode = "quick" if args.quick else "full"
    with Progress(
        TextColumn("[bold]claims ({task.completed}/{task.total})"),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        # No refresh thread: claims fork worker processes, and forking a process that runs
        # threads is unsafe (Python 3.12+ warns). The bar is redrawn as each claim starts.
        auto_refresh=False,
    ) as bar:
        task = bar.add_task("", total=len(numbers))

        def progress(claim: claims.Claim, index: int, total: int) -> None:
            bar.update(task, completed=index, description=f"{claim.number}. {claim.text}", refresh=True)

        results = claims.run_claims(numbers, quick=args.quick, progress=progress)
        bar.update(task, completed=len(numbers))
    if args.json:
        from gilfree import info

        doc = {"machine": info.collect(), "mode": mode, "claims": [r.to_dict() for r in results]}
        print(json.dumps(doc, indent=2, default=str))
        return 0
    if args.markdown:
        print(claims.markdown_table(results))
        return 0
    from gilfree import report

    report.print_claims(results, mode)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from gilfree import __version__

    parser = argparse.ArgumentParser(
        prog="gilfree",
        description="Parallel CPU compute in Python threads by releasing the GIL, measured here.",
        epilog="Exit status: 0 done; 1 a run failed or did not match its reference; 2 a bad option; "
        f"130 interrupted; {CLOSED_STDOUT_EXIT} stdout was closed before the output was written "
        "(gilfree info | head -1), as for a tool that SIGPIPE stopped.",
    )
    parser.add_argument("--version", action="version", version=f"gilfree {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_SubcommandParser
    )

    p = sub.add_parser("info", help="version, Python, GIL, cores, OpenMP, compiler, kernels")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_info)
    _add_run_parser(sub)
    _add_compare_parser(sub)
    _add_probe_parser(sub)
    _add_claims_parser(sub)
    from gilfree.cli import bench

    bench.add_parser(sub)
    return parser


def _add_claims_parser(sub) -> None:
    p = sub.add_parser("claims", help="each threads-vs-processes claim, measured here, with a verdict")
    p.add_argument("--quick", action="store_true", help="smaller measurements: every claim in under 30 s")
    p.add_argument("--only", metavar="N,...", help="measure only these claims, e.g. --only 1,3,5")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON with the raw figures")
    fmt.add_argument("--markdown", action="store_true", help="print the table as Markdown (for a README)")
    p.set_defaults(func=_cmd_claims)


# -- `--scheduler ADDRESS`: where the dask runner runs ------------------------------------------
# Used by `gilfree run` and `gilfree compare`: add_scheduler_option(p) on the command's parser,
# check_scheduler_option(args, runners) once, and scheduler_options(args, runner) merged into
# the options of each runner the command makes.


def add_scheduler_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler ADDRESS``: run the ``dask`` runner on a cluster started elsewhere."""
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="with the dask runner: the address of a `dask scheduler` (e.g. tcp://10.0.0.5:8786), "
        "or 'local' for a LocalCluster here (default: $GILFREE_DASK_SCHEDULER, else 'local')",
    )


def check_scheduler_option(args: argparse.Namespace, runners: Sequence[str]) -> None:
    """``--scheduler`` without the dask runner, or with an address that is not one, is a mistake
    worth one line naming the option, not silence or Dask's traceback."""
    address = getattr(args, "scheduler", None)
    if address is None:
        return
    if not address.strip():
        raise UsageError("--scheduler needs an address such as tcp://host:8786, or 'local'")
    if "dask" not in runners:
        raise UsageError("--scheduler applies only to the dask runner; add dask to the runners")
    if address.strip() == "local":
        return
    from gilfree.runners._address import TLS_HINT, check_scheduler_address, scheme_of, tls_configured

    try:
        check_scheduler_address(address)
    except ValueError as exc:
        raise UsageError(f"--scheduler {address.strip()}: {exc}") from None
    if scheme_of(address) == "tls" and tls_configured() is False:
        raise UsageError(f"--scheduler {address.strip()}: {TLS_HINT}")


def scheduler_options(args: argparse.Namespace, runner: str) -> dict[str, str]:
    """The runner options ``--scheduler`` gives ``runner``: ``{"scheduler": ADDRESS}`` for dask, else none."""
    address = getattr(args, "scheduler", None)
    if runner != "dask" or address is None:
        return {}
    return {"scheduler": address.strip()}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the command, and turn how it ended into an exit status.

    A closed stdout (``gilfree compare ... | head -1``) ends the run quietly with
    :data:`CLOSED_STDOUT_EXIT`, no traceback: stdout is pointed at /dev/null, so the
    interpreter's last flush cannot fail again (the recipe in the docs of Python's signal
    module). SIGPIPE stays ignored, as Python sets it: its default action would kill gilfree
    on any closed pipe or socket (a worker's pipe, a Dask connection), not only on stdout.
    """
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        if not _reader_gone(sys.stdout):
            raise  # a pipe other than stdout: a real failure, not a reader that had enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return CLOSED_STDOUT_EXIT
    except SystemExit as exc:
        # rich handles a closed pipe itself: stdout onto /dev/null, then SystemExit(1).
        if exc.code == 1 and _stdout_is_devnull():
            return CLOSED_STDOUT_EXIT
        raise


def _dispatch(argv: Sequence[str] | None) -> int:
    from gilfree._checks import IsaError

    try:
        parser = build_parser()  # imports the kernels, which read GILFREE_ISA
    except IsaError as exc:
        print(f"gilfree: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args) or 0)
    except UsageError as exc:
        print(f"gilfree {args.command}: error: {exc}", file=sys.stderr)
        status = 2

    except KeyboardInterrupt:
        print("gilfree: interrupted", file=sys.stderr)
        status = 130
    sys.stdout.flush()  # a closed stdout shows here, while main can still handle it
    return status


def _reader_gone(stream) -> bool:
    """Whether ``stream`` is a pipe whose reading end is closed (poll reports an error on it)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):  # Windows: no way to ask; take the error at its word
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _stdout_is_devnull() -> bool:
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (AttributeError, OSError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
