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
        if key == "build":  # build and gil_enabled read as one line: "free-threaded, GIL off now"
            table.add_row("GIL", info.describe_gil(facts))
        elif key not in ("kernels", "gil_enabled"):
            table.add_row(key, str(value))
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
