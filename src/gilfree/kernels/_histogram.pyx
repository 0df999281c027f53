"""Counts of float64 values in equal bins over [lo, hi): scattered writes, private per chunk."""
from cython.parallel cimport prange
from gilfree._cancel cimport CancelToken
from gilfree.kernels._common cimport gilfree_load_flag, omp_get_max_threads
from libc.float cimport DBL_MIN
from libc.math cimport isinf, ldexp

import numpy as np

from gilfree.kernels import _args
from gilfree._cancel import Cancelled

cdef enum:
    BLOCK = 65536

#: Why a limit: the counts are ``bins`` int64s made by every call (one row per OpenMP
#: thread, and a list as long in the python variant); 2**24 bins are 128 MiB, more than a
#: histogram of float64 values needs, and a count past it (2**40 asks for 8 TiB) is a typo
#: that every variant must refuse alike, not fail on in its own way.
MAX_BINS = 2**24


cdef inline void bin_scaling(double lo, double hi, Py_ssize_t bins,
                             double* s, double* lo_s, double* scale) noexcept nogil:
    """The bin rule's constants, so that no step can overflow or lose precision.

    A value's bin is floor((v * s - lo * s) * (bins / (hi * s - lo * s))): with s = 1 that is
    (v - lo) * (bins / (hi - lo)). When hi - lo overflows to inf (lo = -1e308, hi = 1e308),
    or bins / (hi - lo) is subnormal, s = 2**-8; when bins / (hi - lo) overflows (a range
    of 1e-320), s = 2**600. Scaling by a power of two is exact here, so the bin is still
    the same fraction of the range, and every step stays finite.
    """
    cdef double w = hi - lo
    s[0] = 1.0
    if isinf(w) or bins / w < DBL_MIN:
        s[0] = ldexp(1.0, -8)
    elif isinf(bins / w):
        s[0] = ldexp(1.0, 600)
    lo_s[0] = lo * s[0]
    scale[0] = bins / (hi * s[0] - lo_s[0])


cdef int histogram_core(const double* x, Py_ssize_t start, Py_ssize_t stop,
                        double lo, double hi, Py_ssize_t bins,
                        long long* counts, const int* cancel) noexcept nogil:
    """Adds the values x[start:stop] into ``counts``.

    A value v goes to bin floor((v - lo) * (bins / (hi - lo))), computed as ``bin_scaling``
    says so that it cannot overflow, clamped to bins - 1 for the rounding at the top edge.
    Values outside [lo, hi), and NaN, are not counted: the test ``lo <= v < hi`` is false
    for NaN.
    """
    cdef double s, lo_s, scale, v
    cdef Py_ssize_t b, i, end, k
    bin_scaling(lo, hi, bins, &s, &lo_s, &scale)
    b = start
    while b < stop:
        if cancel != NULL and gilfree_load_flag(cancel):
            return 1
        end = stop if stop - b <= BLOCK else b + BLOCK
        for i in range(b, end):
            v = x[i]
            if lo <= v < hi:
                k = <Py_ssize_t>((v * s - lo_s) * scale)
                if k >= bins:
                    k = bins - 1
                counts[k] += 1
        b = end
    return 0


def _check(x, lo, hi, bins, start, stop):
    x = _args.array("x", x, np.float64, 1)
    lo, hi = _args.real("lo", lo), _args.real("hi", hi)
    if not lo < hi:
        raise ValueError(f"lo must be < hi, got lo={lo}, hi={hi}")
    bins = _args.integer("bins", bins, minimum=1, maximum=MAX_BINS)
    start, stop = _args.span(start, stop, 0, x.shape[0])
    return x, lo, hi, bins, start, stop


cdef inline const double* _data(const double[::1] v) noexcept:
    return &v[0] if v.shape[0] else NULL


def gil(x, lo, hi, bins, start=0, stop=None, cancel=None):
    """Counts (int64, ``bins`` long) of x[start:stop] in equal bins over [lo, hi); NaN is ignored. Holds the GIL."""
    x, lo, hi, bins, start, stop = _check(x, lo, hi, bins, start, stop)
    counts = np.zeros(bins, dtype=np.int64)
    cdef long long[::1] c = counts
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    if histogram_core(_data(x), start, stop, lo, hi, bins, &c[0], flag):
        raise Cancelled("histogram cancelled")
    return counts


def nogil(x, lo, hi, bins, start=0, stop=None, cancel=None):
    """Counts (int64, ``bins`` long) of x[start:stop] in equal bins over [lo, hi); NaN is ignored. Releases the GIL."""
    x, lo, hi, bins, start, stop = _check(x, lo, hi, bins, start, stop)
    counts = np.zeros(bins, dtype=np.int64)
    cdef long long[::1] c = counts
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef const double* p = _data(x)
    cdef long long* cp = &c[0]
    cdef double a = lo, z = hi
    cdef Py_ssize_t s = start, e = stop, nb = bins
    cdef int status
    with nogil:
        status = histogram_core(p, s, e, a, z, nb, cp, flag)
    if status:
        raise Cancelled("histogram cancelled")
    return counts


def openmp(x, lo, hi, bins, start=0, stop=None, cancel=None, num_threads=None):
    """The same core under ``prange``: each thread fills a private histogram, summed at the end."""
    x, lo, hi, bins, start, stop = _check(x, lo, hi, bins, start, stop)
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int nt = omp_get_max_threads() if num_threads is None else _args.num_threads(num_threads)
    private = np.zeros((nt, bins), dtype=np.int64)
    cdef long long[:, ::1] c = private
    cdef long long* cp = &c[0, 0]
    cdef const double* p = _data(x)
    cdef double a = lo, z = hi
    cdef Py_ssize_t s = start, e = stop, nb = bins, t, per, first, last
    cdef int status = 0
    per = (e - s + nt - 1) // nt
    for t in prange(nt, nogil=True, num_threads=nt, schedule="static"):
        first = s + t * per
        last = first + per
        if last > e:
            last = e
        if first < last:
            status |= histogram_core(p, first, last, a, z, nb, cp + t * nb, flag)
    if status:
        raise Cancelled("histogram cancelled")
    return private.sum(axis=0)
