"""Which ``gilfree`` modules were imported from outside the installed locations?

``tools/check_wheel.sh`` (and cibuildwheel's test step) run the tests against an installed
wheel with ``GILFREE_EXPECT_INSTALLED=1``. A test that put ``src/`` on ``sys.path``, or an
editable install leaking into that environment, would silently test the source tree instead
of the wheel; ``conftest.py`` fails the session when this finds any such module.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

ENV = "GILFREE_EXPECT_INSTALLED"


def expected() -> bool:
    return os.environ.get(ENV, "") == "1"


def install_roots() -> list[Path]:
    """This interpreter's site-packages (purelib and platlib: the same folder in a venv)."""
    paths = sysconfig.get_paths()
    return sorted({Path(paths[key]).resolve() for key in ("purelib", "platlib")})


def foreign_modules(
    modules: Mapping[str, ModuleType | None] | None = None, roots: Iterable[Path] | None = None
) -> list[str]:
    """``"name: path"`` for each loaded ``gilfree`` or ``gilfree.*`` module not under ``roots``."""
    modules = dict(sys.modules) if modules is None else modules
    roots = install_roots() if roots is None else [Path(r).resolve() for r in roots]
    bad = []
    for name, mod in sorted(modules.items()):
        if mod is None or not (name == "gilfree" or name.startswith("gilfree.")):
            continue
        file = getattr(mod, "__file__", None)
        if not file:  # gilfree has no namespace packages or built-ins: this came from elsewhere
            bad.append(f"{name}: no __file__")
            continue
        path = Path(file).resolve()
        if not any(path.is_relative_to(root) for root in roots):
            bad.append(f"{name}: {path}")
    return bad
