"""``gilfree bench``: the pytest-benchmark suite shipped in :mod:`gilfree.benchmarks`, run by pytest.

It is ``pytest --pyargs gilfree.benchmarks --benchmark-only -p no:cacheprovider`` in this
interpreter (no ``--benchmark-only`` beside ``--benchmark-disable``), with ``--kernels`` and
``--size`` passed to the suite through its environment variables, and every argument after
``--`` handed to pytest as it is (pytest-benchmark's own options among them:
``--benchmark-json``, ``--benchmark-min-rounds``, ``--benchmark-histogram``). Why
``-p no:cacheprovider``: without a config file of its own pytest would write its cache beside
the suite, inside site-packages.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
from collections.abc import Iterator, Sequence

BENCH_EXTRA_HINT = 'pip install "gilfree[bench]"'


def add_parser(sub) -> None:
    """Register ``gilfree bench`` on the subcommands ``sub``."""
    p = sub.add_parser(
        "bench",
        help="run the pytest-benchmark suite (each kernel against its contenders) from this install",
        description=(
            "Time every kernel's contenders (gilfree's variants and runners, and the installed "
            "peers) with pytest-benchmark; each benchmark's extra_info holds its speed-up over "
            "gilfree's nogil run serially, its efficiency and its GIL verdict. pytest-benchmark's "
            "options govern the rounds. Needs the bench extra: " + BENCH_EXTRA_HINT + ". Example: "
            "gilfree bench --kernels mandelbrot -- --benchmark-json=bench.json"
        ),
        usage="gilfree bench [-h] [--kernels K[,K...]] [--size SIZE] [-- PYTEST_ARGS ...]",
    )
    p.add_argument("--kernels", metavar="K[,K...]", help="only these kernels (default: all)")
    p.add_argument(
        "--size", help="every kernel's inputs at this size (default: default, and large for sum_squares)"
    )
    p.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        metavar="-- PYTEST_ARGS",
        help="after --: arguments for pytest, e.g. --benchmark-json=FILE -k numba",
    )
    p.set_defaults(func=run)


#: pytest-benchmark refuses ``--benchmark-only`` beside these (every test of the suite is a
#: benchmark, so without it nothing else runs).
_NOT_WITH_ONLY = ("--benchmark-disable", "--benchmark-skip")


def pytest_argv(pytest_args: Sequence[str]) -> list[str]:
    """What ``gilfree bench`` passes to ``pytest.main``."""
    extra = list(pytest_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    only = [] if any(a in _NOT_WITH_ONLY for a in extra) else ["--benchmark-only"]
    return ["--pyargs", "gilfree.benchmarks", *only, "-p", "no:cacheprovider", *extra]


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(args: argparse.Namespace) -> int:
    from gilfree.cli import UsageError as usage_error
    from gilfree.kernels import SIZES, names

    env = {}
    if args.kernels is not None:
        chosen = [k for k in args.kernels.split(",") if k]
        unknown = [k for k in chosen if k not in names()]
        if not chosen or unknown:
            raise usage_error(f"--kernels: expected some of {', '.join(names())}, got {args.kernels!r}")
        env["kernels"] = ",".join(chosen)
    if args.size is not None:
        if args.size not in SIZES:
            raise usage_error(f"--size: expected one of {', '.join(SIZES)}, got {args.size!r}")
        env["size"] = args.size
    extra = list(args.pytest_args)
    if extra and extra[0] != "--":
        raise usage_error(f"pytest's arguments go after --: gilfree bench -- {' '.join(extra)}")
    # Every option is checked first; then whether the suite can run at all.
    if importlib.util.find_spec("pytest_benchmark") is None:
        raise usage_error(f"the benchmark suite needs pytest-benchmark: {BENCH_EXTRA_HINT}")
    from gilfree.benchmarks.contenders import KERNELS_ENV, SIZE_ENV

    env = {{"kernels": KERNELS_ENV, "size": SIZE_ENV}[k]: v for k, v in env.items()}
    import pytest

    with _environ(env):
        return int(pytest.main(pytest_argv(extra)))
