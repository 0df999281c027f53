"""Midpoint rule for the integral of 4/(1+x^2) on [0, 1]: compute-bound and uniform."""
from cython.parallel cimport prange
from gilfree._cancel cimport CancelToken
from gilfree.kernels._common cimport gilfree_load_flag, gilfree_tree_sum, omp_get_max_threads

from gilfree.kernels import _args
from gilfree._cancel import Cancelled

cdef enum:
    BLOCK = 4096
    # Why 32: four zmm registers of divisions in flight (eight ymm, sixteen xmm). With 8 lanes
    # a vector division waited on the one before it: n = 2e8 serial took 54.0 ms on avx512, 32
    # lanes 23.5 ms (avx2 46.9 ms, baseline 189 -> 95 ms; AMD EPYC Zen 5 KVM guest,
    # GILFREE_ISA=<path> benchmarks/targets.py --only numba, and --isa for the 8-lane baseline).
    LANES = 32

# 2**53: every integer up to it is exact as a double.
cdef long long EXACT = 9007199254740992


cdef int integrate_core(long long n, long long start, long long stop,
                        double* result, const int* cancel) noexcept nogil:
    """h * sum of f(x_i) for i in [start, stop), x_i = (i + 0.5) h, h = 1/n.

    LANES lanes, each with its own accumulator, so the compiler can put the divisions in
    vector registers without reordering any sum, and every ISA path adds in the same order;
    the lanes are summed as a fixed pairwise tree. Each block of 4096 terms is summed on its
    own and then added to the total, which keeps the rounding error near 1e-15.
    """
    cdef double h = 1.0 / n
    cdef double total = 0.0, x, di
    cdef double a[LANES]
    cdef long long b, i, end
    cdef int k
    b = start
    while b < stop:
        if cancel != NULL and gilfree_load_flag(cancel):
            result[0] = total * h
            return 1
        # stop - b, not b + BLOCK > stop: b + BLOCK overflows within 4096 of 2**63.
        end = stop if stop - b <= BLOCK else b + BLOCK
        for k in range(LANES):
            a[k] = 0.0
        i = b
        if end <= EXACT:
            while end - i >= LANES:
                # i as a double is exact (i < 2**53), so x is bit-for-bit (i + k + 0.5) * h, and
                # no int64 -> double conversion per lane stops the compiler from vectorising.
                di = <double>i
                for k in range(LANES):
                    x = (di + (k + 0.5)) * h
                    a[k] += 4.0 / (1.0 + x * x)
                i += LANES
        # Past 2**53 a double cannot hold every i, so each term converts its own i (rounded,
        # as Python's i + 0.5 does), one lane only: the python variant's sum, bit for bit.
        while i < end:
            x = (i + 0.5) * h
            a[0] += 4.0 / (1.0 + x * x)
            i += 1
        total += gilfree_tree_sum(a, LANES)
        b = end
    result[0] = total * h
    return 0


def _check(n, start, stop):
    n = _args.integer("n", n, minimum=1, maximum=_args.INT64_MAX)
    start, stop = _args.span(start, stop, 0, n)
    return n, start, stop


def gil(n, start=0, stop=None, cancel=None):
    """Midpoint-rule partial sum over steps [start, stop) of n (the whole range gives pi). Holds the GIL."""
    n, start, stop = _check(n, start, stop)
    cdef double result = 0.0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    if integrate_core(n, start, stop, &result, flag):
        raise Cancelled("integrate cancelled")
    return result


def nogil(n, start=0, stop=None, cancel=None):
    """Midpoint-rule partial sum over steps [start, stop) of n (the whole range gives pi). Releases the GIL."""
    n, start, stop = _check(n, start, stop)
    cdef double result = 0.0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef long long nn = n, s = start, e = stop
    cdef int status
    with nogil:
        status = integrate_core(nn, s, e, &result, flag)
    if status:
        raise Cancelled("integrate cancelled")
    return result


def openmp(n, start=0, stop=None, cancel=None, num_threads=None):
    """The same core under ``prange`` over blocks of 64 Ki steps inside one call."""
    n, start, stop = _check(n, start, stop)
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int nt = omp_get_max_threads() if num_threads is None else _args.num_threads(num_threads)
    cdef long long nn = n, s = start, e = stop, step = 65536, k, nblocks, lo, hi
    cdef double total = 0.0, part
    cdef int status = 0
    # Neither e - s + step nor lo + step: both overflow near 2**63.
    nblocks = (e - s) // step + ((e - s) % step != 0)
    for k in prange(nblocks, nogil=True, num_threads=nt, schedule="static"):
        lo = s + k * step
        hi = e if e - lo <= step else lo + step
        part = 0.0
        status |= integrate_core(nn, lo, hi, &part, flag)
        total += part
    if status:
        raise Cancelled("integrate cancelled")
    return total
