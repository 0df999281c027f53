"""One fixture parametrised over every kernel, one over every variant (as propcache does)."""

from __future__ import annotations

import faulthandler
import sys

import pytest

from gilfree.kernels import REGISTRY, VARIANTS, build_info

faulthandler.enable(file=sys.stderr, all_threads=True)

COMPILED = [v for v in VARIANTS if v != "python" and (v != "openmp" or build_info()["openmp"])]


def gil_enabled() -> bool:
    return getattr(sys, "_is_gil_enabled", lambda: True)()


@pytest.fixture(params=list(REGISTRY))
def kernel(request):
    return REGISTRY[request.param]


@pytest.fixture(params=["python", *COMPILED])
def variant(request):
    return request.param


@pytest.fixture(params=COMPILED)
def compiled_variant(request):
    return request.param
