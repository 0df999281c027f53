"""Runners by name, so ``gilfree.run(runner="threads")`` and the CLI can pick one with a string.

Optional runners (dask, interpreters) are named here by import path, and only imported when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

_CLASSES: dict[str, type] = {}
_LAZY: dict[str, str] = {
    "serial": "gilfree.runners.serial",
    "threads": "gilfree.runners.threads",
    "processes": "gilfree.runners.processes",
    "dask": "gilfree.runners.dask",
    "interpreters": "gilfree.runners.interpreters",
}


def register(cls: type) -> type:
    """Class decorator: make a runner available under its ``name``."""
    _CLASSES[cls.name] = cls
    return cls


def names() -> list[str]:
    """Every runner name gilfree knows, whether or not its optional dependencies are installed."""
    return list(dict.fromkeys([*_LAZY, *_CLASSES]))


def runner_class(name: str) -> type:
    """The runner class for a name; a clear error for an unknown name or a missing extra."""
    if name not in _CLASSES:
        if name not in _LAZY:
            raise ValueError(f"unknown runner {name!r}; expected one of {', '.join(names())}")
        importlib.import_module(_LAZY[name])
    return _CLASSES[name]


def make_runner(name: str, workers: int | None = None, **options: Any):
    """A runner instance by name (not started: use it as a context manager).

    ``workers=None`` is the runner's own default: every core, except ``serial``'s one worker.
    """
    cls = runner_class(name)
    return cls(**options) if workers is None else cls(workers, **options)
