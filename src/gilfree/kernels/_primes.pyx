"""Count of primes in [lo, hi) by trial division: integer work whose cost grows with the number."""
from cython.parallel cimport prange
from gilfree._cancel cimport CancelToken
from gilfree.kernels._common cimport gilfree_load_flag, omp_get_max_threads

from gilfree.kernels import _args
from gilfree._cancel import Cancelled

cdef enum:
    BLOCK = 1024
    # Why: a trial-division step (d and d + 2) took 2.9 ns below 2**32 and 3.3 ns near 2**44
    # on the 2-core development machine, so 2**18 steps are about 0.8 ms between reads of the
    # cancel flag. 1024 numbers are no bound: near 2**32 a block is a few ms, and one prime
    # near 2**63 takes 5 * 10**8 steps, over a second on its own.
    STEPS = 262144


cdef inline bint _is_prime32(unsigned int n, long long* left) noexcept nogil:
    # 32-bit division is several times cheaper than 64-bit on current x86 and Arm cores.
    # At most 10,923 steps (n < 2**32), so ``left`` is charged after the number, not inside.
    cdef unsigned int d
    if n < 4:
        left[0] -= 1
        return n >= 2
    if n % 2 == 0 or n % 3 == 0:
        left[0] -= 1
        return 0
    d = 5
    while <unsigned long long>d * d <= n:
        if n % d == 0 or n % (d + 2) == 0:
            left[0] -= 1 + (d - 5) // 6
            return 0
        d += 6
    left[0] -= 1 + (d - 5) // 6
    return 1


cdef inline int _is_prime64(unsigned long long n, long long* left,
                            const int* cancel) noexcept nogil:
    """1 if n is prime, 0 if not, -1 if the flag was set while testing it (read every STEPS)."""
    cdef unsigned long long d
    cdef long long budget = left[0] - 1
    if n < 4:
        left[0] = budget
        return n >= 2
    if n % 2 == 0 or n % 3 == 0:
        left[0] = budget
        return 0
    d = 5
    while d <= 4294967295ULL and d * d <= n:  # d * d cannot overflow below 2**32
        if n % d == 0 or n % (d + 2) == 0:
            left[0] = budget
            return 0
        d += 6
        budget -= 1
        if budget <= 0:
            if cancel != NULL and gilfree_load_flag(cancel):
                return -1
            budget = STEPS
    left[0] = budget
    return 1


cdef int primes_core(unsigned long long start, unsigned long long stop,
                     long long* count, const int* cancel) noexcept nogil:
    """Primes in [start, stop); the cancel flag is read every 1024 numbers and every STEPS
    trial-division steps, inside one number's test too."""
    cdef long long c = 0, left = STEPS
    cdef unsigned long long b = start, i, end
    cdef int r
    while b < stop:
        if cancel != NULL and gilfree_load_flag(cancel):
            count[0] = c
            return 1
        left = STEPS
        end = stop if stop - b <= BLOCK else b + BLOCK
        if end <= 4294967296ULL:
            for i in range(b, end):
                if left <= 0:
                    if cancel != NULL and gilfree_load_flag(cancel):
                        count[0] = c
                        return 1
                    left = STEPS
                c += _is_prime32(<unsigned int>i, &left)
        else:
            for i in range(b, end):
                if left <= 0:
                    if cancel != NULL and gilfree_load_flag(cancel):
                        count[0] = c
                        return 1
                    left = STEPS
                r = _is_prime64(i, &left, cancel)
                if r < 0:
                    count[0] = c
                    return 1
                c += r
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
