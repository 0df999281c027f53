"""Count of primes in [lo, hi) by trial division: integer work whose cost grows with the number."""
from cython.parallel cimport prange
from gilfree._cancel cimport CancelToken
from gilfree.kernels._common cimport gilfree_load_flag, omp_get_max_threads

from gilfree.kernels import _args
from gilfree._cancel import Cancelled

cdef enum:
    BLOCK = 1024


cdef inline bint _is_prime32(unsigned int n) noexcept nogil:
    # 32-bit division is several times cheaper than 64-bit on current x86 and Arm cores.
    cdef unsigned int d
    if n < 4:
        return n >= 2
    if n % 2 == 0 or n % 3 == 0:
        return 0
    d = 5
    while <unsigned long long>d * d <= n:
        if n % d == 0 or n % (d + 2) == 0:
            return 0
        d += 6
    return 1


cdef inline bint _is_prime64(unsigned long long n) noexcept nogil:
    cdef unsigned long long d
    if n < 4:
        return n >= 2
    if n % 2 == 0 or n % 3 == 0:
        return 0
    d = 5
    while d <= 4294967295ULL and d * d <= n:  # d * d cannot overflow below 2**32
        if n % d == 0 or n % (d + 2) == 0:
            return 0
        d += 6
    return 1


cdef int primes_core(unsigned long long start, unsigned long long stop,
                     long long* count, const int* cancel) noexcept nogil:
    """Primes in [start, stop); the cancel flag is read every 1024 numbers."""
    cdef long long c = 0
    cdef unsigned long long b = start, i, end
    while b < stop:
        if cancel != NULL and gilfree_load_flag(cancel):
            count[0] = c
            return 1
        end = b + BLOCK
        if end > stop:
            end = stop
        if end <= 4294967296ULL:
            for i in range(b, end):
                c += _is_prime32(<unsigned int>i)
        else:
            for i in range(b, end):
                c += _is_prime64(i)
        b = end
    count[0] = c
    return 0


def _check(lo, hi, start, stop):
    lo = _args.integer("lo", lo, minimum=0)
    hi = _args.integer("hi", hi, minimum=0)
    if hi < lo:
        raise ValueError(f"hi must be >= lo, got lo={lo}, hi={hi}")
    if hi > 2**63:
        raise ValueError(f"hi must be <= 2**63, got {hi}")
    start, stop = _args.span(lo if start is None else start, stop, lo, hi)
    return lo, hi, start, stop


def gil(lo, hi, start=None, stop=None, cancel=None):
    """Number of primes in [start, stop), a part of [lo, hi) (default: all of it). Holds the GIL."""
    lo, hi, start, stop = _check(lo, hi, start, stop)
    cdef long long count = 0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    if primes_core(start, stop, &count, flag):
        raise Cancelled("primes cancelled")
    return count


def nogil(lo, hi, start=None, stop=None, cancel=None):
    """Number of primes in [start, stop), a part of [lo, hi) (default: all of it). Releases the GIL."""
    lo, hi, start, stop = _check(lo, hi, start, stop)
    cdef long long count = 0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef unsigned long long s = start, e = stop
    cdef int status
    with nogil:
        status = primes_core(s, e, &count, flag)
    if status:
        raise Cancelled("primes cancelled")
    return count


def openmp(lo, hi, start=None, stop=None, cancel=None, num_threads=None):
    """The same core under ``prange`` (dynamic schedule, 1024 numbers per task) inside one call."""
    lo, hi, start, stop = _check(lo, hi, start, stop)
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int nt = omp_get_max_threads() if num_threads is None else _args.num_threads(num_threads)
    cdef unsigned long long s = start, e = stop, a, z
    cdef long long k, nblocks, total = 0, part
    cdef int status = 0
    nblocks = <long long>((e - s + BLOCK - 1) // BLOCK)
    for k in prange(nblocks, nogil=True, num_threads=nt, schedule="dynamic"):
        a = s + <unsigned long long>k * BLOCK
        z = a + BLOCK
        if z > e:
            z = e
        part = 0
        status |= primes_core(a, z, &part, flag)
        total += part
    if status:
        raise Cancelled("primes cancelled")
    return total
