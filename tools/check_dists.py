"""Check what the sdist and the wheel hold: the sources to build from, and only what runs.

Usage: python tools/check_dists.py DIST_DIR   (the folder ``python -m build`` wrote into)

The sdist must hold the Cython sources (.pyx, .pxd), the C header, the stubs, the tests and
the build files, and no generated .c or compiled module. The wheel must hold one compiled
module and one stub per kernel module, py.typed and the ``gilfree`` console script, and no
source it does not need (.pyx, .pxd, .c, .h). Exits 1 and lists every problem otherwise.
"""

from __future__ import annotations

import configparser
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

#: every compiled module, as its path under src/ (sdist) and in the wheel, without the suffix
KERNEL_MODULES = ("_mandelbrot", "_integrate", "_sum_squares", "_pairwise", "_primes", "_histogram")
MODULES = ("gilfree/_cancel", *(f"gilfree/kernels/{m}" for m in KERNEL_MODULES))
COMPILED_SUFFIXES = (".so", ".pyd")


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        names = {PurePosixPath(*PurePosixPath(n).parts[1:]).as_posix() for n in tar.getnames()}
    problems = []
    kernels = "src/gilfree/kernels"
    wanted = [
        "README.md",
        "pyproject.toml",
        "setup.py",
        "src/gilfree/py.typed",
        f"{kernels}/_common.h",
        f"{kernels}/_common.pxd",
        "tests/conftest.py",
        "tests/__init__.py",
        "tests/stubtest_allowlist.txt",
    ]
    for m in MODULES:
        wanted += [f"src/{m}.pyx", f"src/{m}.pxd", f"src/{m}.pyi"]
    problems += [f"sdist lacks {n}" for n in wanted if n not in names]
    built = (".c", ".o", *COMPILED_SUFFIXES)
    problems += [f"sdist holds a build output: {n}" for n in sorted(names) if n.endswith(built)]
    return problems


def check_wheel(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        entry_points = next((n for n in names if n.endswith(".dist-info/entry_points.txt")), None)
        scripts = configparser.ConfigParser()
        if entry_points:
            scripts.read_string(zf.read(entry_points).decode())
    problems = []
    for m in MODULES:
        if not any(n.startswith(f"{m}.") and n.endswith(COMPILED_SUFFIXES) for n in names):
            problems.append(f"wheel lacks the compiled module {m}")
        if f"{m}.pyi" not in names:
            problems.append(f"wheel lacks the stub {m}.pyi")
    if "gilfree/py.typed" not in names:
        problems.append("wheel lacks gilfree/py.typed")
    if scripts.get("console_scripts", "gilfree", fallback=None) != "gilfree.cli:main":
        problems.append("wheel lacks the console script gilfree = gilfree.cli:main")
    sources = (".pyx", ".pxd", ".c", ".h")
    problems += [f"wheel holds a source: {n}" for n in sorted(names) if n.endswith(sources)]
    problems += [f"wheel holds tests: {n}" for n in sorted(names) if n.startswith("tests/")]
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dist = Path(argv[0])
    sdists, wheels = sorted(dist.glob("gilfree-*.tar.gz")), sorted(dist.glob("gilfree-*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        print(f"expected one sdist and one wheel in {dist}, found {sdists + wheels}", file=sys.stderr)
        return 1
    problems = check_sdist(sdists[0]) + check_wheel(wheels[0])
    for p in problems:
        print(f"check_dists: {p}", file=sys.stderr)
    for f in (*sdists, *wheels):
        print(f"check_dists: {f.name}: {f.stat().st_size / 1e6:.2f} MB")
    if not problems:
        print("check_dists: sdist and wheel hold what they should")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
