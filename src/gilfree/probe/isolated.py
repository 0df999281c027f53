"""``gilfree probe`` in a child process: a timeout that holds, and a stdout kept for the verdict.

Why a process and not a daemon thread: the call being probed may keep the GIL and never
return (a C loop that holds it is exactly what the probe looks for). Then no other thread of
that interpreter runs again, not even a main thread waiting with a timeout, so only another
process can give up on it. The command line starts ``python -m gilfree.probe.isolated`` with
what to probe (as JSON), waits up to ``--timeout`` seconds, and ends the child if it is not
done; a normal ``return 2`` follows, with no ``os._exit`` anywhere.

In the child, whatever the target prints (from Python or C, to its stdout) goes to stderr:
the child's real stdout carries only its answer, one JSON object, ``{"result": ...}`` (a
``ProbeResult.to_dict()``) or ``{"error": "one line"}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

#: The timeout when none is given, in seconds. Why: a probe takes about a second; a minute
#: leaves room for slow calls and the child's start-up, and a call that never returns does
#: not pass for a hung command.
DEFAULT_TIMEOUT_S = 60.0
#: A timeout above this (a day) is refused: larger is a typo, and inf would never end.
MAX_TIMEOUT_S = 86400.0


class ProbeFailed(Exception):
    """The probe could not give a verdict: the message is one line for the command line."""


def run(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Probe ``spec`` (see :func:`probe_spec`) in a child process; its ``ProbeResult.to_dict()``.

    Raises ``ProbeFailed`` with one line when the child reports an error, dies, or is not done
    within ``timeout`` seconds (it is killed then).
    """
    cmd = [sys.executable, "-m", "gilfree.probe.isolated", json.dumps(spec)]
    try:
        done = subprocess.run(
            cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ProbeFailed(
            f"{spec['target']} did not finish within --timeout {timeout:g} s "
            "(a call that never returns, or a slow one: raise --timeout); the probe was stopped"
        ) from None
    try:
        answer = json.loads(done.stdout.decode() or "null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
        raise ProbeFailed(f"the probe of {spec['target']} ended with {how} and no verdict")
    if "error" in answer:
        raise ProbeFailed(str(answer["error"]).splitlines()[0] or "the probe failed")
    return dict(answer["result"])


def probe_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Load, prepare and probe what ``spec`` names; raise ``ProbeFailed`` with one line.

    ``spec``: ``target`` (MODULE:FUNC), ``args`` (command-line words), ``bytes`` (a count of
    random bytes to pass first, or None), ``kernel_inputs`` (a size, or None), ``min_time``.
    """
    from gilfree.cli import words
    from gilfree.probe.probing import load_callable, probe

    target = spec["target"]
    try:
        func, kernel = load_callable(target)
        call_args, call_kwargs = words.parse_call_args(spec.get("args", []))
    except ValueError as exc:
        raise ProbeFailed(str(exc)) from None
    lead: list[Any] = []
    if spec.get("bytes") is not None:
        import numpy as np

        try:
            lead = [np.random.default_rng(0).bytes(int(spec["bytes"]))]
        except (MemoryError, OverflowError, ValueError):
            raise ProbeFailed(f"--bytes: cannot make {spec['bytes']} bytes in memory") from None
    if spec.get("kernel_inputs") is not None:
        if kernel is None:
            raise ProbeFailed(
                "--kernel-inputs needs a kernel variant, such as gilfree.kernels:mandelbrot.nogil"
            )
        try:
            lead = list(kernel.make_inputs(spec["kernel_inputs"]).whole())
        except ValueError as exc:
            raise ProbeFailed(str(exc)) from None
    args = lead + call_args
    try:
        func(*args, **call_kwargs)  # a first call: its error, if any, comes before any figure
    except Exception as exc:
        raise ProbeFailed(f"calling {target} raised {type(exc).__name__}: {_line(exc)}") from None
    try:
        result = probe(func, *args, min_time=spec["min_time"], target=target, **call_kwargs)
    except Exception as exc:
        raise ProbeFailed(
            f"calling {target} raised {type(exc).__name__} on a later call "
            f"(the first one worked): {_line(exc)}"
        ) from None
    return result.to_dict()


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def main(argv: list[str]) -> int:
    """The child: probe ``argv[1]`` (JSON), answer on the real stdout, send prints to stderr."""
    answer_fd = os.dup(1)
    os.dup2(2, 1)  # the target's prints, from Python or C, go to stderr
    sys.stdout = sys.stderr
    try:
        answer: dict[str, Any] = {"result": probe_spec(json.loads(argv[1]))}
    except ProbeFailed as exc:
        answer = {"error": str(exc)}
    except (Exception, SystemExit) as exc:  # the target's SystemExit is an error too
        answer = {"error": f"the probe failed: {type(exc).__name__}: {_line(exc)}"}
    except KeyboardInterrupt:  # Ctrl-C reaches the child too; the parent says so
        return 130
    with os.fdopen(answer_fd, "w") as out:
        json.dump(answer, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
