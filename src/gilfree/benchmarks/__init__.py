"""The pytest-benchmark suite: each kernel against its contenders, shipped with gilfree.

Run it from an installed gilfree (needs the ``bench`` extra, ``pip install "gilfree[bench]"``)::

    gilfree bench                                    # all kernels; pytest's options after --
    gilfree bench --kernels mandelbrot -- --benchmark-json=bench.json
    pytest --pyargs gilfree.benchmarks --benchmark-only -p no:cacheprovider

``GILFREE_BENCH_KERNELS=a,b`` narrows it to some kernels, ``GILFREE_BENCH_SIZE`` sets the
inputs' size (default: ``default``, and ``large`` for ``sum_squares``). The contender table is
:mod:`gilfree.benchmarks.contenders`; :mod:`gilfree.benchmarks.test_kernels` times them.
"""
