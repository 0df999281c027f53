"""The package's layers point one way: kernels -> runners -> harness -> compare -> report -> cli.

Read from the sources (``ast``), so the test holds for every import a module makes at load
time, and for runners, for every import anywhere in them: a runner knows nothing of kernels.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gilfree

SRC = Path(gilfree.__file__).parent

#: module (or package) -> what it must never import
FORBIDDEN = {
    "kernels": ("gilfree.runners", "gilfree.harness", "gilfree.compare", "gilfree.report", "gilfree.cli"),
    "runners": ("gilfree.kernels", "gilfree.harness", "gilfree.compare", "gilfree.report", "gilfree.cli"),
    "probe": ("gilfree.runners", "gilfree.harness", "gilfree.compare", "gilfree.report", "gilfree.cli"),
    "harness": ("gilfree.compare", "gilfree.comparison", "gilfree.report", "gilfree.cli", "gilfree.claims"),
    "compare.py": ("gilfree.report", "gilfree.cli"),
    "comparison.py": ("gilfree.compare", "gilfree.report", "gilfree.cli", "gilfree.runners"),
    "claims": ("gilfree.report", "gilfree.cli", "gilfree.compare"),
    "report": ("gilfree.cli", "gilfree.harness.contenders", "gilfree.runners"),
}
#: The one documented way back up: ``Runner.run`` and ``gilfree.runners.Result`` look the
#: harness up when called, for the public API that predates it.
ALLOWED = {("runners/_base.py", "gilfree.harness"), ("runners/__init__.py", "gilfree.harness")}


def _imports(path: Path, *, anywhere: bool) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    nodes = ast.walk(tree) if anywhere else iter(tree.body)
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def _files(where: str) -> list[Path]:
    p = SRC / where
    return sorted(p.rglob("*.py")) if p.is_dir() else [p]


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_no_import_points_back_up(where):
    bad = []
    for path in _files(where):
        rel = path.relative_to(SRC).as_posix()
        for name in _imports(path, anywhere=where == "runners"):
            for banned in FORBIDDEN[where]:
                if (name == banned or name.startswith(banned + ".")) and (rel, banned) not in ALLOWED:
                    bad.append(f"{rel} imports {name}")
    assert bad == []


def test_runners_reach_the_harness_only_through_run_and_result():
    """The exceptions above stay what they are: a lazy lookup inside one method and ``__getattr__``."""
    for rel in ("runners/_base.py", "runners/__init__.py"):
        path = SRC / rel
        assert "gilfree.harness" not in _imports(path, anywhere=False)
        assert "gilfree.harness" in _imports(path, anywhere=True)


def test_modules_stay_small():
    """DESIGN.md: keep modules under about 400 lines (a few over it, with reason, are tolerated)."""
    sizes = {p.relative_to(SRC).as_posix(): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > 700} == {}
