"""pytest-benchmark suite: one group per kernel, contenders from one table (as cbor2 does).

Run: ``gilfree bench``, or ``pytest --pyargs gilfree.benchmarks --benchmark-only`` (needs
``pip install "gilfree[bench]"``). Pool start-up and Numba's compilation happen in the test,
before and outside the timed region.
"""

from __future__ import annotations

from gilfree.benchmarks.contenders import contenders, kernels


def pytest_generate_tests(metafunc):
    # The parameter is the row's id, a string: pytest-benchmark saves the parameters in its
    # JSON, where a Contender object would read UNSERIALIZABLE[Contender(...)].
    if "contender" in metafunc.fixturenames:
        ids = [c.id for k in kernels() for c in contenders(k)]
        metafunc.parametrize("contender", ids, ids=ids)
