"""Sum of Euclidean distances over all pairs of n points in 3-D: O(n^2), triangular rows."""
from cython.parallel cimport prange
from libc.math cimport sqrt
from gilfree._cancel cimport CancelToken
from gilfree.kernels._common cimport gilfree_load_flag, gilfree_tree_sum, omp_get_max_threads

# No NumPy at module level: this module also loads in subinterpreters, where NumPy cannot
# (arrays arrive there as memoryviews, which _args checks through the buffer protocol).
from gilfree.kernels import _args
from gilfree._cancel import Cancelled


cdef enum:
    # Why: a pair costs 0.27-1.0 ns on the 2-core development machine (avx512 to baseline,
    # the registry's ns_per_unit), so 2**18 pairs are 0.07-0.26 ms between reads of the cancel
    # flag; a row has n - 1 - i pairs, so one row takes a millisecond only past a million points.
    # A multiple of LANES, so the lanes group the pairs of a row exactly as without the reads.
    PAIRS = 262144
    # Why 16: two zmm registers of square roots in flight (four ymm, eight xmm). n = 14,000
    # serial: 4 lanes 88.4 ms on avx512, 16 lanes 25.2 ms (avx2 51.8 ms, baseline 181 -> 97 ms;
    # AMD EPYC Zen 5 KVM guest, GILFREE_ISA=<path> benchmarks/targets.py --only numba, and
    # --isa for the 4-lane baseline). A 32-lane build took 30 ms on avx512 (best of 7).
    LANES = 16


cdef int pairwise_core(const double* pts, Py_ssize_t n, Py_ssize_t start, Py_ssize_t stop,
                       double* result, const int* cancel) noexcept nogil:
    """Rows i in [start, stop), each summing |p_i - p_j| for j > i (row i costs n - 1 - i pairs).

    LANES lanes over j, each with its own accumulator, so the square roots overlap and can
    share vector registers; every ISA path adds in the same order, and the lanes are summed
    as a fixed pairwise tree. The cancel flag is read before each row and after every PAIRS
    pairs of a long row.
    """
    cdef double total = 0.0, xi, yi, zi, dx, dy, dz
    cdef double a[LANES]
    cdef const double* q
    cdef Py_ssize_t i, j, seg
    cdef int k
    for i in range(start, stop):
        if cancel != NULL and gilfree_load_flag(cancel):
            result[0] = total
            return 1
        xi = pts[3 * i]
        yi = pts[3 * i + 1]
        zi = pts[3 * i + 2]
        for k in range(LANES):
            a[k] = 0.0
        j = i + 1
        while True:
            seg = n if n - j <= PAIRS else j + PAIRS
            while j + LANES <= seg:
                q = pts + 3 * j
                for k in range(LANES):
                    dx = q[3 * k] - xi
                    dy = q[3 * k + 1] - yi
                    dz = q[3 * k + 2] - zi
                    a[k] += sqrt(dx * dx + dy * dy + dz * dz)
                j += LANES
            if seg == n:
                break
            if cancel != NULL and gilfree_load_flag(cancel):
                result[0] = total
                return 1
        while j < n:
            q = pts + 3 * j
            dx = q[0] - xi
            dy = q[1] - yi
            dz = q[2] - zi
            a[0] += sqrt(dx * dx + dy * dy + dz * dz)
            j += 1
        total += gilfree_tree_sum(a, LANES)
    result[0] = total
    return 0


def _check(points, start, stop):
    points = _args.array("points", points, "float64", 2)
    if points.shape[1] != 3:
        raise ValueError(f"points must have shape (n, 3), got {points.shape}")
    start, stop = _args.span(start, stop, 0, points.shape[0])
    return points, start, stop


cdef inline const double* _data(const double[:, ::1] v) noexcept:
    return &v[0, 0] if v.shape[0] else NULL


def gil(points, start=0, stop=None, cancel=None):
    """Sum of |p_i - p_j| over j > i for rows i in [start, stop) of ``points`` (float64, n x 3). Holds the GIL."""
    points, start, stop = _check(points, start, stop)
    cdef double result = 0.0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    if pairwise_core(_data(points), points.shape[0], start, stop, &result, flag):
        raise Cancelled("pairwise cancelled")
    return result


def nogil(points, start=0, stop=None, cancel=None):
    """Sum of |p_i - p_j| over j > i for rows i in [start, stop) of ``points`` (float64, n x 3). Releases the GIL."""
    points, start, stop = _check(points, start, stop)
    cdef double result = 0.0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef const double* p = _data(points)
    cdef Py_ssize_t n = points.shape[0], s = start, e = stop
    cdef int status
    with nogil:
        status = pairwise_core(p, n, s, e, &result, flag)
    if status:
        raise Cancelled("pairwise cancelled")
    return result


def openmp(points, start=0, stop=None, cancel=None, num_threads=None):
    """The same core under ``prange`` (dynamic schedule, 16 rows per task) inside one call."""
    points, start, stop = _check(points, start, stop)
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int nt = omp_get_max_threads() if num_threads is None else _args.num_threads(num_threads)
    cdef const double* p = _data(points)
    cdef Py_ssize_t n = points.shape[0], s = start, e = stop, k, nblocks, lo, hi
    cdef Py_ssize_t step = 16
    cdef double total = 0.0, part
    cdef int status = 0
    nblocks = (e - s) // step + ((e - s) % step != 0)
    for k in prange(nblocks, nogil=True, num_threads=nt, schedule="dynamic"):
        lo = s + k * step
        hi = e if e - lo <= step else lo + step
        part = 0.0
        status |= pairwise_core(p, n, lo, hi, &part, flag)
        total += part
    if status:
        raise Cancelled("pairwise cancelled")
    return total
