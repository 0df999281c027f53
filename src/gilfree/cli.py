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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gilfree",
        description="Parallel CPU compute in Python threads by releasing the GIL, measured here.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="version, Python, GIL, cores, OpenMP, compiler, kernels")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_info)
    return parser


# -- `--scheduler ADDRESS`: where the dask runner runs ------------------------------------------
# For `gilfree run` and `gilfree compare`: call add_scheduler_option(p) on the command's parser,
# check_scheduler_option(args, runners) once, and merge scheduler_options(args, runner) into the
# options of each runner the command makes. A ConnectionError or TimeoutError from starting the
# dask runner already names the address and the timeout: print it as a one-line error.


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
    """``--scheduler`` without the dask runner is a mistake worth one line, not silence."""
    address = getattr(args, "scheduler", None)
    if address is None:
        return
    if not address.strip():
        raise UsageError("--scheduler needs an address such as tcp://host:8786, or 'local'")
    if "dask" not in runners:
        raise UsageError("--scheduler applies only to the dask runner; add dask to the runners")


def scheduler_options(args: argparse.Namespace, runner: str) -> dict[str, str]:
    """The runner options ``--scheduler`` gives ``runner``: ``{"scheduler": ADDRESS}`` for dask, else none."""
    address = getattr(args, "scheduler", None)
    if runner != "dask" or address is None:
        return {}
    return {"scheduler": address.strip()}


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
