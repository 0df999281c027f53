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
    from rich.markup import escape
    from rich.table import Table

    colour = {
        claims.HOLDS: "green",
        claims.FAILS: "red",
        claims.ONLY_IF: "yellow",
        claims.INCONCLUSIVE: "magenta",
        claims.NOT_MEASURED: "dim",
    }
    table = Table(title=f"gilfree claims ({mode}), measured here", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("claim")
    table.add_column("measured here")
    table.add_column("verdict: why")
    for r in results:
        style = colour[r.verdict.kind]
        table.add_row(
            str(r.claim.number),
            escape(r.claim.text),
            escape(r.headline),
            f"[{style}]{escape(r.verdict.label)}[/]: {escape(r.verdict.why)}",
        )
    console = Console()
    console.print(table)
    for r in results:
        if r.error:
            console.print(f"[red]claim {r.claim.number}: the measurement failed[/]")
            console.print(r.error, markup=False, highlight=False)
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

    p = sub.add_parser("claims", help="each threads-vs-processes claim, measured here, with a verdict")
    p.add_argument("--quick", action="store_true", help="smaller measurements: every claim in under 30 s")
    p.add_argument("--only", metavar="N,...", help="measure only these claims, e.g. --only 1,3,5")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON with the raw figures")
    fmt.add_argument("--markdown", action="store_true", help="print the table as Markdown (for a README)")
    p.set_defaults(func=_cmd_claims)
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
