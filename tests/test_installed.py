"""The tests test the installed wheel, not the source tree, when the wheel check asks for it."""

from __future__ import annotations

import sys
import sysconfig
import types
from pathlib import Path

import pytest

from tests import _installed


@pytest.mark.skipif(not _installed.expected(), reason="set GILFREE_EXPECT_INSTALLED=1 (tools/check_wheel.sh)")
def test_gilfree_comes_from_site_packages():
    import gilfree
    import gilfree._cancel

    assert _installed.foreign_modules() == []
    site = Path(sysconfig.get_paths()["platlib"]).resolve()
    assert Path(gilfree.__file__).resolve().is_relative_to(site)
    assert "src" not in Path(gilfree.__file__).resolve().relative_to(site).parts


def test_foreign_modules_flags_a_source_tree(tmp_path):
    site, src = tmp_path / "site-packages", tmp_path / "repo" / "src"
    installed = types.ModuleType("gilfree")
    installed.__file__ = str(site / "gilfree" / "__init__.py")
    leaked = types.ModuleType("gilfree.kernels._mandelbrot")
    leaked.__file__ = str(src / "gilfree" / "kernels" / "_mandelbrot.cpython-311-x86_64-linux-gnu.so")
    namespace = types.ModuleType("gilfree.ghost")  # no __file__ at all
    other = types.ModuleType("gilfreeish")
    other.__file__ = str(src / "gilfreeish.py")
    modules = {
        "gilfree": installed,
        "gilfree.kernels._mandelbrot": leaked,
        "gilfree.ghost": namespace,
        "gilfreeish": other,  # not gilfree: ignored
        "gilfree.absent": None,  # a failed import leaves None in sys.modules: ignored
    }
    bad = _installed.foreign_modules(modules, roots=[site])
    assert bad == ["gilfree.ghost: no __file__", f"gilfree.kernels._mandelbrot: {leaked.__file__}"]


def test_install_roots_are_this_interpreters():
    roots = _installed.install_roots()
    assert roots and all(root.is_absolute() for root in roots)
    assert any(Path(p).resolve() in roots for p in sys.path if p)
