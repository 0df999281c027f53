"""``gilfree compare --python PATH ...``: the same matrix under several interpreters, one table.

Each interpreter runs ``python -m gilfree compare ... --json -`` in its own subprocess (its
own gilfree, its own build: a GIL build next to a free-threaded one), and the cells come back
as JSON, labelled with the interpreter, and merged. Speed-ups stay within one interpreter:
each is measured against that interpreter's own serial cell. The single-thread ratio between
interpreters is reported apart (``slowdowns``), since it compares two interpreters' times.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from gilfree.comparison import Comparison, from_dict
from gilfree.probe import GilHold

#: Asks an interpreter for its facts; fails (non-zero) when gilfree is not installed there.
_PROBE = "import json, gilfree.info as i; d = i.collect(); d.pop('kernels'); print(json.dumps(d))"


class InterpreterError(ValueError):
    """An interpreter that cannot run the comparison: not found, or without gilfree."""


def describe(path: str) -> dict[str, Any]:
    """The facts of the interpreter at ``path``; InterpreterError if it cannot run gilfree."""
    exe = shutil.which(path) or path
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise InterpreterError(f"--python {path}: no such interpreter")
    proc = subprocess.run([exe, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"it exited with status {proc.returncode}"])[-1]
        raise InterpreterError(
            f"--python {path}: gilfree is not installed for that interpreter ({last}); "
            f"install it there first, e.g. {exe} -m pip install gilfree"
        )
    try:
        facts = json.loads(proc.stdout)
    except ValueError:
        raise InterpreterError(f"--python {path}: did not answer as a Python with gilfree") from None
    facts["executable"] = exe
    return facts


def label(facts: dict[str, Any]) -> str:
    """``3.11.7`` for a GIL build, ``3.13.5t`` for a free-threaded one (``+GIL`` if it is on)."""
    if facts.get("build") == "free-threaded":
        return f"{facts['python']}t" + ("+GIL" if facts.get("gil_enabled") else "")
    return str(facts["python"])


def run_all(
    pythons: Sequence[str],
    compare_args: Sequence[str],
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Run ``gilfree compare *compare_args`` under each interpreter; merge into one Comparison."""
    described = [(p, describe(p)) for p in pythons]  # every interpreter checked before any runs
    labels = [label(f) for _, f in described]
    if len(set(labels)) != len(labels):
        labels = [f"{lab} ({f['executable']})" for lab, (_, f) in zip(labels, described, strict=True)]
    parts: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for (_path, facts), lab in zip(described, labels, strict=True):
        if progress is not None:
            progress(f"running the matrix under {lab} ({facts['executable']})")
        cmd = [facts["executable"], "-m", "gilfree", "compare", *compare_args, "--json", "-", "--no-progress"]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode not in (0, 1):  # 1: ran, but a cell failed or did not match
            tail = " ".join(proc.stderr.strip().splitlines()[-1:]) or f"exit status {proc.returncode}"
            raise InterpreterError(f"--python {facts['executable']}: compare failed: {tail}")
        try:
            parts.append((lab, facts, json.loads(proc.stdout)))
        except ValueError:
            raise InterpreterError(f"--python {facts['executable']}: compare gave no JSON") from None

    first = parts[0][2]
    read = [(lab, from_dict(doc, interpreter=lab)) for lab, _, doc in parts]
    kernels = list(dict.fromkeys(c.kernel for _, comp in read for c in comp.cells))
    cells = [c for k in kernels for _, comp in read for c in comp.cells if c.kernel == k]
    machine = {
        key: first["machine"][key] for key in ("cores", "platform", "machine") if key in first["machine"]
    }
    machine["interpreters"] = {lab: facts for lab, facts, _ in parts}
    notes = [f"{lab}: {n}" for lab, _, doc in parts for n in doc["notes"]]
    return Comparison(
        machine=machine,
        settings={**first["settings"], "pythons": labels},
        idle=GilHold(**first["idle"]),
        switch_interval_s=first["switch_interval_s"],
        cells=cells,
        notes=notes,
        total_s=sum(doc["total_s"] for _, _, doc in parts),
    )


def slowdowns(comparison: Comparison) -> list[tuple[str, str, str, float]]:
    """Single-thread time of each interpreter over the first's, per (kernel, variant), serial x1.

    Why: the free-threaded build runs one thread slower; this is that cost, as a ratio.
    """
    labels = comparison.settings.get("pythons", [])
    if len(labels) < 2:
        return []
    serial = {
        (c.interpreter, c.kernel, c.variant): c.wall_s
        for c in comparison.cells
        if c.runner == "serial" and c.workers == 1 and c.wall_s
    }
    out = []
    for (interp, kernel, variant), wall in serial.items():
        base = serial.get((labels[0], kernel, variant))
        if interp != labels[0] and base:
            out.append((interp, kernel, variant, wall / base))
    return out
