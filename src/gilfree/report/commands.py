"""What ``gilfree info``, ``run``, ``probe`` and ``claims`` print: each command's output, drawn here.

The CLI parses and dispatches; every table a command shows is drawn in this package.
"""

from __future__ import annotations

from typing import Any


def print_info(facts: dict[str, Any]) -> None:
    """``gilfree info``: one row per fact, then one per kernel with its variants."""
    from rich.console import Console
    from rich.table import Table

    from gilfree.info import describe_gil

    table = Table(title="gilfree info", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in facts.items():
        if key == "build":  # build and gil_enabled read as one line: "free-threaded, GIL off now"
            table.add_row("GIL", describe_gil(facts))
        elif key not in ("kernels", "gil_enabled"):
            table.add_row(key, str(value))
    for name, variants in facts["kernels"].items():
        table.add_row(f"kernel {name}", ", ".join(variants))
    Console().print(table)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f} ms"


def print_run(result: Any) -> None:
    """``gilfree run``: the result, its check, its times and its chunks."""
    from rich.console import Console
    from rich.table import Table

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
    cores = f" ({result.cpu_s / result.wall_s:.2f} cores)" if result.wall_s else ""
    rows += [
        ("value", shown),
        ("check", check.get(result.matched, "not checked")),
        ("wall", _ms(result.wall_s)),
        ("CPU", _ms(result.cpu_s) + cores),
        ("start-up", _ms(result.startup_s) + " (not in wall)"),
        (f"chunks ({result.n_chunks})", ", ".join(_ms(s) for s in result.chunk_s)),
    ]
    for what, text in rows:
        table.add_row(what, text)
    Console().print(table)


#: The verdicts' colours, in every table that shows one.
VERDICT_COLOURS = {
    "releases": "green",
    "partly releases": "cyan",
    "holds": "red",
    "holds in slices": "yellow",
}


def verdict_phrase(label: str) -> str:
    """A verdict as a sentence's verb: "holds the GIL in slices", not "holds in slices the GIL"."""
    if label == "holds in slices":
        return "holds the GIL in slices"
    if label in VERDICT_COLOURS:
        return f"{label} the GIL"
    return label  # "inconclusive", or a verdict this table does not know


def print_probe(found: dict[str, Any]) -> None:
    """``gilfree probe``: the verdict with its confidence and reason, the heartbeat's figures
    beside idle, and the time shares the verdict weighed (``found`` is the probe's JSON)."""
    from rich.console import Console
    from rich.table import Table

    from gilfree.probe import GilHold

    label = found["verdict"]
    console = Console()
    colour = VERDICT_COLOURS.get(label, "magenta")
    console.print(
        f"[bold]{found['target']}[/]: [bold {colour}]{verdict_phrase(label)}[/]"
        f" [dim](confidence {found['confidence']})[/]"
    )
    console.print(found["reason"], highlight=False)
    t = Table(show_header=True)
    t.add_column("figure")
    t.add_column("during the calls", justify="right")
    t.add_column("idle", justify="right")
    h, i = GilHold(**found["figures"]), GilHold(**found["idle"])
    t.add_row("heartbeat ticks", str(h.ticks), str(i.ticks))
    t.add_row("measured for (s)", f"{h.duration_s:.3f}", f"{i.duration_s:.3f}")
    for name in ("p50_ms", "p75_ms", "p99_ms", "max_ms"):
        t.add_row(f"lateness {name[:-3]} (ms)", f"{getattr(h, name):.2f}", f"{getattr(i, name):.2f}")
    t.add_row("blocked fraction", f"{h.blocked_fraction:.2f}", f"{i.blocked_fraction:.2f}")
    if h.cpu_wait_fraction is not None and i.cpu_wait_fraction is not None:
        t.add_row("CPU wait fraction", f"{h.cpu_wait_fraction:.2f}", f"{i.cpu_wait_fraction:.2f}")
        if h.worker_cpu_wait_fraction is not None:
            t.add_row("worker CPU wait fraction", f"{h.worker_cpu_wait_fraction:.2f}", "-")
        for q in ("p25", "p50", "p75", "max"):
            a, b = getattr(h, f"gil_wait_{q}_ms"), getattr(i, f"gil_wait_{q}_ms")
            t.add_row(f"GIL wait {q} (ms)", f"{a:.2f}", f"{b:.2f}")
    shares = found.get("shares", {})
    if "free" in shares:
        for key, what in (("free", "GIL free"), ("slice", "in slices"), ("long", "in long stalls")):
            t.add_row(f"time share: {what}", f"{shares[key]:.2f}", "")
    console.print(t)
    console.print(
        f"{found['calls']} call(s), {found['per_call_s'] * 1e3:.3g} ms each, {found['batch']} per batch; "
        f"switch interval {found['switch_interval_s'] * 1e3:g} ms while probing; "
        f"{found['tries']} measurement(s)" + ("" if found["gil_enabled"] else "; the GIL is off"),
        style="dim",
        highlight=False,
    )


def print_claims(results: list[Any], mode: str) -> None:
    """``gilfree claims``: each claim, its figure measured here, and its verdict with the reason."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from gilfree import claims

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
