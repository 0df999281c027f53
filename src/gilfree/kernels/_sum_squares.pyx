"""Sum of x_i^2 over a float64 array: memory-bound, so it must keep several loads in flight."""
from cython.parallel cimport prange
from gilfree._cancel cimport CancelToken
from gilfree.kernels._common cimport gilfree_load_flag, gilfree_tree_sum, omp_get_max_threads

# No NumPy at module level: this module also loads in subinterpreters, where NumPy cannot
# (arrays arrive there as memoryviews, which _args checks through the buffer protocol).
from gilfree.kernels import _args
from gilfree._cancel import Cancelled

cdef enum:
    BLOCK = 65536
    # Why 32: four zmm registers of 8 doubles (eight ymm, sixteen xmm on the baseline), so an
    # AVX-512 core has four add chains in flight, as a fastmath compiler's would. With 8 lanes
    # (one zmm chain), 1e8 float64 from memory took 22.7 ms against Numba fastmath's 18.9, with
    # 32 lanes 19.8 ms against 19.4 (AMD EPYC Zen 5 KVM guest, benchmarks/targets.py --only numba).
    LANES = 32


cdef int sum_squares_core(const double* x, Py_ssize_t start, Py_ssize_t stop,
                          double* result, const int* cancel) noexcept nogil:
    """LANES independent accumulators, so the loop is bound by memory, not by one add chain.

    Lane k only ever adds x[i + k]^2, so the compiler may keep the lanes in vector registers
    without reordering any sum (no -ffast-math needed), and every ISA path adds in the same
    order: the results are bit-identical. The lanes are summed as a fixed pairwise tree.
    """
    cdef double a[LANES]
    cdef double total = 0.0, v
    cdef Py_ssize_t b, i, end, k
    b = start
    while b < stop:
        if cancel != NULL and gilfree_load_flag(cancel):
            result[0] = total
            return 1
        end = stop if stop - b <= BLOCK else b + BLOCK
        for k in range(LANES):
            a[k] = 0.0
        i = b
        while i + LANES <= end:
            for k in range(LANES):
                a[k] += x[i + k] * x[i + k]
            i += LANES
        while i < end:
            v = x[i]
            a[0] += v * v
            i += 1
        total += gilfree_tree_sum(a, LANES)
        b = end
    result[0] = total
    return 0


def _check(x, start, stop):
    x = _args.array("x", x, "float64", 1)
    start, stop = _args.span(start, stop, 0, x.shape[0])
    return x, start, stop


cdef inline const double* _data(const double[::1] v) noexcept:
    return &v[0] if v.shape[0] else NULL


def gil(x, start=0, stop=None, cancel=None):
    """Sum of x[i]**2 for i in [start, stop); ``x`` is float64, C-contiguous, may be read-only. Holds the GIL."""
    x, start, stop = _check(x, start, stop)
    cdef double result = 0.0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    if sum_squares_core(_data(x), start, stop, &result, flag):
        raise Cancelled("sum_squares cancelled")
    return result


def nogil(x, start=0, stop=None, cancel=None):
    """Sum of x[i]**2 for i in [start, stop); ``x`` is float64, C-contiguous, may be read-only. Releases the GIL."""
    x, start, stop = _check(x, start, stop)
    cdef double result = 0.0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef const double* p = _data(x)
    cdef Py_ssize_t s = start, e = stop
    cdef int status
    with nogil:
        status = sum_squares_core(p, s, e, &result, flag)
    if status:
        raise Cancelled("sum_squares cancelled")
    return result


def openmp(x, start=0, stop=None, cancel=None, num_threads=None):
    """The same core under ``prange``: one contiguous slice per thread (static schedule)."""
    x, start, stop = _check(x, start, stop)
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int nt = omp_get_max_threads() if num_threads is None else _args.num_threads(num_threads)
    cdef const double* p = _data(x)
    cdef Py_ssize_t s = start, e = stop, t, lo, hi, per
    cdef double total = 0.0, part
    cdef int status = 0
    per = (e - s + nt - 1) // nt
    for t in prange(nt, nogil=True, num_threads=nt, schedule="static"):
        lo = s + t * per
        hi = lo + per
        if hi > e:
            hi = e
        if lo < hi:
            part = 0.0
            status |= sum_squares_core(p, lo, hi, &part, flag)
            total += part
    if status:
        raise Cancelled("sum_squares cancelled")
    return total
