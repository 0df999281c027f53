"""Instruction-set paths: every path this CPU runs gives the baseline's results bit for bit,
``GILFREE_ISA`` forces a path or fails clearly, and ``gilfree info`` says which path runs.

The paths are forced the way a user would, with ``GILFREE_ISA`` in a fresh interpreter (the
choice is made once, at import), and compared with each other there; in this process,
``registry.kernel_for`` puts two paths side by side on random ranges.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gilfree.kernels import REGISTRY, build_info, registry
from tests.test_kernels_reference import EDGE_CASES

ROOT = Path(__file__).resolve().parents[1]
#: the paths this build has for some kernel and this CPU can run: each is forced below
RUNNABLE = [p for p in registry.isa_choice()["built"] if p in registry.cpu_paths()]
#: kernels built for more than the baseline
MULTI = [name for name in REGISTRY if len(registry.built_paths(name)) > 1]

# Run in a fresh interpreter with GILFREE_ISA set: every kernel, every compiled variant, on
# the edge cases, the tiny and small sizes and two seeds, whole and in 3 chunks. Values as
# exact text (float.hex, a digest of an array's bytes), and whether each matched the reference.
SCRIPT = r"""
import hashlib, json, sys
import numpy as np
from gilfree.kernels import REGISTRY, build_info
from gilfree.kernels.registry import isa_choice

cases = json.loads(sys.argv[1])
variants = ["gil", "nogil"] + (["openmp"] if build_info()["openmp"] else [])

def exact(value, inputs, name):
    if isinstance(value, np.ndarray):
        text = hashlib.sha256(value.tobytes()).hexdigest()
    elif isinstance(value, float):
        text = value.hex()
    else:
        text = repr(value)
    if name == "mandelbrot":  # the image written in place, too
        text += " " + hashlib.sha256(inputs.args[0].tobytes()).hexdigest()
    return text

def call(k, variant, chunk):
    # One OpenMP thread: with more, the order in which threads' partial sums are added is
    # OpenMP's to choose (pairwise's dynamic schedule), and float sums differ from run to run
    # on any path. The core under prange is the same, and so are the lanes tested.
    extra = {"num_threads": 1} if variant == "openmp" else {}
    return k.variant(variant)(*chunk, **extra)

results, mismatched = {}, []
for name, k in REGISTRY.items():
    params = cases[name] + [k.sizes["tiny"], k.sizes["small"]]
    for i, p in enumerate(params):
        for seed in (0, 1):
            inputs = k.build(np.random.default_rng(seed), **p)
            for variant in variants:
                key = f"{name} case {i} seed {seed} {variant}"
                k.reset_outputs(inputs)
                value = call(k, variant, inputs.whole())
                results[key] = exact(value, inputs, name)
                if not k.check(inputs, value):
                    mismatched.append(key)
                k.reset_outputs(inputs)
                value = k.combine([call(k, variant, c) for c in k.split(inputs, 3)] or [0])
                results[key + " x3"] = exact(value, inputs, name)
print(json.dumps({"choice": isa_choice(), "results": results, "mismatched": mismatched}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != registry.ISA_ENV}
    env.update(extra)
    return env


def _python(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=_env(**env), capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def forced_runs() -> dict[str, dict]:
    """SCRIPT's output with each runnable path forced, and with no GILFREE_ISA at all."""
    cases = json.dumps(EDGE_CASES)
    runs = {}
    for path in [*RUNNABLE, "auto"]:
        env = {} if path == "auto" else {registry.ISA_ENV: path}
        proc = _python("-c", SCRIPT, cases, **env)
        assert proc.returncode == 0, proc.stderr[-4000:]
        runs[path] = json.loads(proc.stdout)
    return runs


@pytest.mark.thread_unsafe(reason="starts interpreters with GILFREE_ISA set")
def test_every_path_is_bit_identical_to_the_baseline(forced_runs):
    baseline = forced_runs["baseline"]["results"]
    assert len(baseline) > 200
    for path, run in forced_runs.items():
        assert run["mismatched"] == [], (path, run["mismatched"])
        differ = [key for key, value in run["results"].items() if baseline.get(key) != value]
        assert not differ, f"{path} differs from the baseline in {len(differ)} results: {differ[:8]}"
        assert set(run["results"]) == set(baseline)


@pytest.mark.thread_unsafe(reason="starts interpreters with GILFREE_ISA set")
def test_forcing_a_path_runs_it(forced_runs):
    for path in RUNNABLE:
        choice = forced_runs[path]["choice"]
        assert choice["forced"] == path
        for name, chosen in choice["kernels"].items():
            assert chosen == (path if path in registry.built_paths(name) else "baseline"), (path, name)
    auto = forced_runs["auto"]["choice"]
    assert auto["forced"] is None
    assert auto["kernels"] == registry.isa_choice()["kernels"]


def test_the_widest_runnable_path_is_chosen():
    choice = registry.isa_choice()
    for name, k in REGISTRY.items():
        runs_here = [p for p in registry.built_paths(name) if p in registry.cpu_paths()]
        expected = runs_here[-1] if choice["forced"] is None else k.isa
        assert k.isa == choice["kernels"][name] == expected, name
        assert k._module.__name__.endswith(name if k.isa == "baseline" else f"{name}_{k.isa}")


@pytest.mark.parametrize("path", RUNNABLE)
def test_each_module_was_compiled_for_its_path(path):
    if path == "baseline":
        expected = {"x86_64": "sse2", "AMD64": "sse2", "aarch64": "neon", "arm64": "neon"}
        assert build_info()["isa"] == expected.get(os.uname().machine, build_info()["isa"])
        return
    for name in MULTI:
        assert path == registry.kernel_for(name, path)._module.ISA, name


@pytest.mark.parametrize("name", MULTI)
def test_paths_agree_on_random_ranges(name):
    """Each lane's sums depend on where a range starts: random starts, stops and seeds."""
    rng = np.random.default_rng()
    kernels = {p: registry.kernel_for(name, p) for p in RUNNABLE if p in registry.built_paths(name)}
    base = kernels["baseline"]
    for _ in range(40):
        n = int(rng.integers(1, 10 ** int(rng.integers(1, 7))))  # sizes from 1 to a million
        params = {
            "sum_squares": {"n": n},
            "histogram": {"n": n, "bins": int(rng.integers(1, 2000))},
            "integrate": {"n": 3 * n},
            "pairwise": {"n": n % 500},
        }[name]
        inputs = base.build(np.random.default_rng(int(rng.integers(2**32))), **params)
        lo, hi = sorted(int(v) for v in rng.integers(inputs.lo, inputs.hi + 1, size=2))
        chunk = (*inputs.args, lo, hi)
        expected = base.nogil(*chunk)
        for path, k in kernels.items():
            for variant in ("gil", "nogil"):
                got = k.variant(variant)(*chunk)
                assert (
                    np.array_equal(got, expected) and np.asarray(got).dtype == np.asarray(expected).dtype
                ), (
                    path,
                    variant,
                    params,
                    lo,
                    hi,
                )
                if isinstance(got, float):
                    assert got.hex() == expected.hex(), (path, variant, params, lo, hi)


# -- GILFREE_ISA: clear errors ----------------------------------------------------------------


@pytest.mark.thread_unsafe(reason="starts interpreters with GILFREE_ISA set")
@pytest.mark.parametrize("value", ["nonsense", "AVX2", "sse2"])
def test_an_unknown_path_is_a_clear_error(value):
    proc = _python("-c", "import gilfree.kernels", GILFREE_ISA=value)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"gilfree._checks.IsaError: GILFREE_ISA={value!r} is not an instruction-set path"
    ), last
    assert "expected one of baseline, avx2, avx512" in last
    # The command line says the same, in one line, exit 2: no kernel runs on a path nobody asked for.
    cli = _python("-m", "gilfree", "info", GILFREE_ISA=value)
    assert cli.returncode == 2 and "is not an instruction-set path" in cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1 and "Traceback" not in cli.stderr


@pytest.mark.thread_unsafe(reason="starts an interpreter with GILFREE_ISA set")
def test_auto_and_empty_mean_the_automatic_choice():
    for value in ("auto", ""):
        proc = _python(
            "-c",
            "from gilfree.kernels import registry as r; print(r.isa_choice()['forced'])",
            GILFREE_ISA=value,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "None"


def test_a_path_this_cpu_cannot_run_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(registry, "cpu_supports", lambda path: path == "baseline")
    with pytest.raises(RuntimeError, match=r"GILFREE_ISA=avx512: this CPU cannot run the avx512 path"):
        registry.forced_path("avx512", {"baseline", "avx2", "avx512"})


def test_a_path_this_build_lacks_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(registry, "cpu_supports", lambda path: True)
    with pytest.raises(RuntimeError, match=r"this build of gilfree has no avx2 path \(built: baseline;"):
        registry.forced_path("avx2", {"baseline"})
    assert registry.forced_path("baseline", {"baseline"}) == "baseline"
    assert registry.forced_path(None, {"baseline"}) is None


def test_choose_path_takes_the_widest_runnable(monkeypatch):
    monkeypatch.setattr(registry, "cpu_supports", lambda path: path != "avx512")
    assert registry.choose_path(("baseline", "avx2", "avx512"), None) == "avx2"
    assert registry.choose_path(("baseline",), None) == "baseline"
    assert registry.choose_path(("baseline", "avx2"), "baseline") == "baseline"
    assert registry.choose_path(("baseline",), "avx2") == "baseline"  # built for the baseline alone


def test_cpu_supports_rejects_unknown_names():
    from gilfree._cancel import cpu_supports

    assert cpu_supports("baseline") is True
    with pytest.raises(ValueError, match="unknown instruction-set path 'sse2'"):
        cpu_supports("sse2")


# -- gilfree info ------------------------------------------------------------------------------


@pytest.mark.thread_unsafe(reason="starts interpreters with GILFREE_ISA set")
def test_info_says_which_path_each_kernel_runs():
    proc = _python("-m", "gilfree", "info", "--json")
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["isa"] == {name: k.isa for name, k in REGISTRY.items()}
    assert facts["isa_paths"]["built"] == registry.isa_choice()["built"]
    assert facts["isa_paths"]["cpu"] == list(registry.cpu_paths())
    assert facts["isa_paths"]["forced"] is None
    assert facts["isa_paths"]["baseline"] == build_info()["isa"]

    forced = _python("-m", "gilfree", "info", "--json", GILFREE_ISA="baseline")
    assert forced.returncode == 0, forced.stderr
    facts = json.loads(forced.stdout)
    assert set(facts["isa"].values()) == {"baseline"}
    assert facts["isa_paths"]["forced"] == "baseline"

    table = _python("-m", "gilfree", "info", GILFREE_ISA="baseline")
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())  # rich wraps long rows
    assert "GILFREE_ISA=baseline" in text and "this CPU runs" in text


def test_isa_facts_say_when_only_the_baseline_was_built():
    from gilfree.info import isa_facts

    choice = {
        "kernels": {"sum_squares": "baseline", "mandelbrot": "baseline"},
        "built": ["baseline"],
        "cpu": ["baseline", "avx2"],
        "forced": None,
    }
    isa, paths = isa_facts(choice, "sse2")
    assert dict(isa) == choice["kernels"]
    assert str(isa) == "baseline (sse2): sum_squares, mandelbrot (chosen at import)"
    assert str(paths) == "built: baseline only (no avx2 path in this build); this CPU runs: baseline, avx2"
    assert json.loads(json.dumps(paths)) == {
        "baseline": "sse2",
        "built": ["baseline"],
        "cpu": ["baseline", "avx2"],
        "forced": None,
    }


def test_machine_facts_carry_the_paths():
    from gilfree.info import collect

    facts = collect()
    assert facts["isa"] == {name: k.isa for name, k in REGISTRY.items()}
    assert json.loads(json.dumps(facts))["isa_paths"]["built"][0] == "baseline"


# -- pickling: a path's function travels as the kernel's ----------------------------------------


@pytest.mark.parametrize("name", list(REGISTRY))
def test_chosen_functions_pickle_through_the_kernel(name):
    k = REGISTRY[name]
    for variant in k.variants[1:]:
        func = k.variant(variant)
        data = pickle.dumps(func)
        assert pickle.loads(data) is func
        if k.isa != "baseline":
            assert b"gilfree.kernels" in data and f"{name}.{variant}".encode() in data
            assert f"_{name}_".encode() not in data  # never the path's own module


# -- the build: setup.py and check_dists agree -------------------------------------------------


def _setup_assignments() -> dict[str, object]:
    setup = ROOT / "setup.py"
    if not setup.is_file():
        pytest.skip("no setup.py here: run from the source tree")
    tree = ast.parse(setup.read_text())
    return {
        t.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_check_dists_knows_the_paths_setup_builds():
    values = _setup_assignments()
    kernels = ast.literal_eval(values["ISA_KERNELS"])
    paths = [ast.literal_eval(k) for k in values["ISA_PATHS"].keys]
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import check_dists
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert tuple(f"_{k}" for k in kernels) == check_dists.ISA_KERNELS
    assert tuple(paths) == check_dists.ISA_PATHS
    assert tuple(paths) == registry.ISA_PATHS[1:]
    built = {name for name in REGISTRY if len(registry.built_paths(name)) > 1}
    assert built <= set(kernels)


@pytest.mark.thread_unsafe(reason="starts setup.py in a subprocess")
def test_setup_rejects_an_unknown_path_name():
    pytest.importorskip("setuptools", reason="runs setup.py, which needs setuptools (not in a 3.12+ venv)")
    _setup_assignments()
    proc = subprocess.run(
        [sys.executable, "setup.py", "--name"],
        cwd=ROOT,
        env=_env(GILFREE_ISA_PATHS="baseline,sse4"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "GILFREE_ISA_PATHS: unknown path 'sse4'" in proc.stderr


def test_cost_hints_follow_the_path():
    """Runners size work by ns_per_unit: a path 8x faster must not be dispatched as the baseline."""
    for name, k in REGISTRY.items():
        expected = type(k).ns_per_unit_isa.get(k.isa, type(k).ns_per_unit)
        assert k.ns_per_unit == expected, name
        assert registry.kernel_for(name, "baseline").ns_per_unit == type(k).ns_per_unit
