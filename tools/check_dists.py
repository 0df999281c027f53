"""Check what the sdist and the wheel hold: the sources to build from, and only what runs.

Usage: python tools/check_dists.py DIST_DIR   (the folder ``python -m build`` wrote into)

The sdist must hold the Cython sources (.pyx, .pxd), the C header, the stubs, the tests, the
benchmark scripts, the build files and LICENSE, and no generated .c or compiled module. The
wheel must hold one compiled module and one stub per kernel module, py.typed, the benchmark
suite (gilfree/benchmarks) and the ``gilfree`` console script, and no source it does not need
(.pyx, .pxd, .c, .h). Both must carry the metadata (PKG-INFO
in the sdist, METADATA in the wheel): name, version, summary, Requires-Python, the SPDX
License-Expression with its License-File, and the classifiers; the wheel's LICENSE, under
.dist-info/licenses/ (PEP 639), must be the sdist's, and its classifiers must name the Python
it was built for. Exits 1 and lists every problem otherwise.

Instruction-set paths (setup.py's ISA_KERNELS and ISA_PATHS): the sdist holds a stub for
each kernel's per-path module and none of the .pyx that setup.py writes into build/isa/; a
wheel for x86-64 built by GCC or Clang holds each per-path module and its stub.
"""

from __future__ import annotations

import configparser
import email.parser
import re
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

#: every compiled module, as its path under src/ (sdist) and in the wheel, without the suffix
KERNEL_MODULES = ("_mandelbrot", "_integrate", "_sum_squares", "_pairwise", "_primes", "_histogram")
MODULES = ("gilfree/_cancel", *(f"gilfree/kernels/{m}" for m in KERNEL_MODULES))
#: the pytest-benchmark suite, shipped in the package so that an installed gilfree can run it
BENCH_SUITE = tuple(
    f"gilfree/benchmarks/{m}.py" for m in ("__init__", "conftest", "contenders", "test_kernels")
)
COMPILED_SUFFIXES = (".so", ".pyd")
LICENSE_EXPRESSION = "BSD-3-Clause"
FREE_THREADING = "Programming Language :: Python :: Free Threading :: "
#: The kernels setup.py builds once more per instruction-set path (its ISA_KERNELS and
#: ISA_PATHS): modules of their own (``_sum_squares_avx2``) with a stub each in the sdist and
#: the wheel, and a .pyx only setup.py writes (into build/isa/), so in neither archive.
ISA_KERNELS = ("_sum_squares", "_histogram", "_integrate", "_pairwise")
ISA_PATHS = ("avx2", "avx512")
ISA_MODULES = tuple(f"gilfree/kernels/{k}_{p}" for k in ISA_KERNELS for p in ISA_PATHS)
#: Wheels whose compiler builds those paths: GCC or Clang for x86-64. Windows (MSVC) and every
#: other architecture get the baseline alone, as setup.py says when it builds them.
ISA_WHEEL_TAGS = re.compile(r"^(linux|manylinux\S*|macosx_\d+_\d+)_x86_64$")


def check_metadata(text: str, what: str) -> list[str]:
    """What every distribution's core metadata must say (PEP 639 for the license)."""
    meta = email.parser.Parser().parsestr(text)
    problems = [
        f"{what} lacks {field}"
        for field in ("Name", "Version", "Summary", "Requires-Python")
        if not meta.get(field)
    ]
    expression = meta.get("License-Expression")
    if expression != LICENSE_EXPRESSION:
        problems.append(f"{what}: License-Expression is {expression!r}, not {LICENSE_EXPRESSION!r}")
    if "LICENSE" not in meta.get_all("License-File", []):
        problems.append(f"{what} lacks License-File: LICENSE")
    classifiers = meta.get_all("Classifier", [])
    if any(c.startswith("License ::") for c in classifiers):
        problems.append(f"{what}: a License :: classifier beside License-Expression (PEP 639 forbids both)")
    if not any(re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c) for c in classifiers):
        problems.append(f"{what} lacks a Python-version classifier (Programming Language :: Python :: 3.N)")
    if not any(c.startswith(FREE_THREADING) for c in classifiers):
        problems.append(f"{what} lacks a {FREE_THREADING}... classifier")
    return problems


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        names = {PurePosixPath(*PurePosixPath(n).parts[1:]).as_posix() for n in tar.getnames()}
    problems = check_metadata((_sdist_file(path, "PKG-INFO") or b"").decode(), "sdist PKG-INFO")
    kernels = "src/gilfree/kernels"
    wanted = [
        "README.md",
        "LICENSE",
        "pyproject.toml",
        "setup.py",
        "src/gilfree/py.typed",
        f"{kernels}/_common.h",
        f"{kernels}/_common.pxd",
        "tests/conftest.py",
        "tests/__init__.py",
        "tests/stubtest_allowlist.txt",
        "benchmarks/table.py",
        "benchmarks/targets.py",
        *(f"src/{m}" for m in BENCH_SUITE),
    ]
    for m in MODULES:
        wanted += [f"src/{m}.pyx", f"src/{m}.pxd", f"src/{m}.pyi"]
    wanted += [f"src/{m}.pyi" for m in ISA_MODULES]
    problems += [f"sdist lacks {n}" for n in wanted if n not in names]
    built = (".c", ".o", *COMPILED_SUFFIXES)
    problems += [f"sdist holds a build output: {n}" for n in sorted(names) if n.endswith(built)]
    generated = {f"src/{m}.pyx" for m in ISA_MODULES}
    problems += [
        f"sdist holds a generated source: {n}"
        for n in sorted(names)
        if n in generated or n.startswith("build/")
    ]
    return problems


def check_wheel(path: Path, sdist: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        entry_points = next((n for n in names if n.endswith(".dist-info/entry_points.txt")), None)
        scripts = configparser.ConfigParser()
        if entry_points:
            scripts.read_string(zf.read(entry_points).decode())
        metadata_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        metadata = zf.read(metadata_name).decode() if metadata_name else ""
        license_name = next((n for n in names if n.endswith(".dist-info/licenses/LICENSE")), None)
        license_text = zf.read(license_name) if license_name else None
    problems = check_metadata(metadata, "wheel METADATA")
    if license_text is None:
        problems.append("wheel lacks .dist-info/licenses/LICENSE")
    elif license_text != _sdist_file(sdist, "LICENSE"):
        problems.append("wheel's .dist-info/licenses/LICENSE differs from the sdist's LICENSE")
    # gilfree-0.1.0-cp311-cp311-linux_x86_64.whl: built for 3.11, so it must claim 3.11
    python_tag = path.name.split("-")[2]
    if (m := re.fullmatch(r"cp3(\d+)", python_tag)) is not None:
        classifier = f"Programming Language :: Python :: 3.{m[1]}"
        if classifier not in email.parser.Parser().parsestr(metadata).get_all("Classifier", []):
            problems.append(f"wheel for {python_tag} lacks the classifier {classifier}")
    platform_tag = path.name[: -len(".whl")].split("-")[-1]
    isa = ISA_MODULES if any(ISA_WHEEL_TAGS.search(t) for t in platform_tag.split(".")) else ()
    for m in (*MODULES, *isa):
        if not any(n.startswith(f"{m}.") and n.endswith(COMPILED_SUFFIXES) for n in names):
            problems.append(f"wheel lacks the compiled module {m}")
        if f"{m}.pyi" not in names:
            problems.append(f"wheel lacks the stub {m}.pyi")
    if "gilfree/py.typed" not in names:
        problems.append("wheel lacks gilfree/py.typed")
    problems += [f"wheel lacks the benchmark suite's {m}" for m in BENCH_SUITE if m not in names]
    if scripts.get("console_scripts", "gilfree", fallback=None) != "gilfree.cli:main":
        problems.append("wheel lacks the console script gilfree = gilfree.cli:main")
    sources = (".pyx", ".pxd", ".c", ".h")
    problems += [f"wheel holds a source: {n}" for n in sorted(names) if n.endswith(sources)]
    problems += [f"wheel holds tests: {n}" for n in sorted(names) if n.startswith("tests/")]
    return problems


def _sdist_file(path: Path, name: str) -> bytes | None:
    """The bytes of ``name`` at the top of the sdist (under its ``gilfree-X.Y.Z/``), or None."""
    with tarfile.open(path) as tar:
        top = PurePosixPath(tar.getnames()[0]).parts[0]
        try:
            f = tar.extractfile(f"{top}/{name}")
        except KeyError:
            return None
        return f.read() if f else None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dist = Path(argv[0])
    sdists, wheels = sorted(dist.glob("gilfree-*.tar.gz")), sorted(dist.glob("gilfree-*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        print(f"expected one sdist and one wheel in {dist}, found {sdists + wheels}", file=sys.stderr)
        return 1
    problems = check_sdist(sdists[0]) + check_wheel(wheels[0], sdists[0])
    for p in problems:
        print(f"check_dists: {p}", file=sys.stderr)
    for f in (*sdists, *wheels):
        print(f"check_dists: {f.name}: {f.stat().st_size / 1e6:.2f} MB")
    if not problems:
        print("check_dists: sdist and wheel hold what they should")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
