"""Mandelbrot escape counts: compute-bound, rows of uneven cost, written in place."""
from cython.parallel cimport prange
from gilfree._cancel cimport CancelToken
from gilfree.kernels._common cimport gilfree_load_flag, omp_get_max_threads

# No NumPy at module level: this module also loads in subinterpreters, where NumPy cannot
# (arrays arrive there as memoryviews, which _args checks through the buffer protocol).
from gilfree.kernels import _args
from gilfree._cancel import Cancelled


cdef enum:
    # Why: an iteration took 2.6 ns on average (the registry's ns_per_unit) and 3.3 ns inside
    # the set on the 2-core development machine, so 2**18 of them are under 0.9 ms between
    # reads of the cancel flag. A row is no bound (a 64 x 800 grid at max_iter=10**6 took
    # 5.6 s to see the flag), nor is one point (up to 2**31 - 1 iterations), so the count
    # runs across points and rows.
    POLL = 262144


cdef int mandelbrot_core(int* out, Py_ssize_t height, Py_ssize_t width,
                         double x_min, double x_max, double y_min, double y_max, int max_iter,
                         Py_ssize_t start, Py_ssize_t stop,
                         long long* total, const int* cancel) noexcept nogil:
    """Rows [start, stop) of the grid.

    The cancel flag is read before each row and after every POLL iterations (each point
    counts one more), even in the middle of a point: a point's iterations run in stretches
    of at most what is left of the POLL, and the next stretch goes on from the same z.
    """
    cdef double dx = (x_max - x_min) / width
    cdef double dy = (y_max - y_min) / height
    cdef double cr, ci, zr, zi, zr2, zi2
    cdef Py_ssize_t r, c
    cdef int n, n0, lim
    cdef long long acc = 0, left = POLL
    cdef int* row
    for r in range(start, stop):
        if cancel != NULL and gilfree_load_flag(cancel):
            total[0] = acc
            return 1
        ci = y_min + (r + 0.5) * dy
        row = out + r * width
        for c in range(width):
            cr = x_min + (c + 0.5) * dx
            zr = 0.0
            zi = 0.0
            n = 0
            while True:
                lim = max_iter if max_iter - n <= left else n + <int>left
                n0 = n
                while n < lim:
                    zr2 = zr * zr
                    zi2 = zi * zi
                    if zr2 + zi2 > 4.0:
                        break
                    zi = 2.0 * zr * zi + ci
                    zr = zr2 - zi2 + cr
                    n += 1
                left -= n - n0 + 1
                if n < lim or lim == max_iter:  # escaped, or ran all max_iter
                    break
                if cancel != NULL and gilfree_load_flag(cancel):
                    total[0] = acc
                    return 1
                left = POLL
            row[c] = n
            acc += n
            if left <= 0:
                if cancel != NULL and gilfree_load_flag(cancel):
                    total[0] = acc
                    return 1
                left = POLL
    total[0] = acc
    return 0


def _check(out, x_min, x_max, y_min, y_max, max_iter, start, stop):
    out = _args.array("out", out, "int32", 2, writable=True)
    x_min, x_max = _args.real("x_min", x_min), _args.real("x_max", x_max)
    y_min, y_max = _args.real("y_min", y_min), _args.real("y_max", y_max)
    if not x_min < x_max:
        raise ValueError(f"x_min must be < x_max, got {x_min} >= {x_max}")
    if not y_min < y_max:
        raise ValueError(f"y_min must be < y_max, got {y_min} >= {y_max}")
    max_iter = _args.integer("max_iter", max_iter, minimum=0)
    if max_iter > 2**31 - 1:
        raise ValueError(f"max_iter must fit in int32, got {max_iter}")
    start, stop = _args.span(start, stop, 0, out.shape[0])
    return out, x_min, x_max, y_min, y_max, max_iter, start, stop


def gil(out, x_min, x_max, y_min, y_max, max_iter, start=0, stop=None, cancel=None):
    """Escape counts of rows [start, stop) into ``out`` (int32, H x W); returns their sum. Holds the GIL."""
    out, x_min, x_max, y_min, y_max, max_iter, start, stop = _check(
        out, x_min, x_max, y_min, y_max, max_iter, start, stop)
    cdef int[:, ::1] o = out
    cdef long long total = 0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int status = mandelbrot_core(&o[0, 0] if o.shape[0] else NULL, o.shape[0], o.shape[1],
                                      x_min, x_max, y_min, y_max, max_iter, start, stop, &total, flag)
    if status:
        raise Cancelled("mandelbrot cancelled")
    return total


def nogil(out, x_min, x_max, y_min, y_max, max_iter, start=0, stop=None, cancel=None):
    """Escape counts of rows [start, stop) into ``out`` (int32, H x W); returns their sum. Releases the GIL."""
    out, x_min, x_max, y_min, y_max, max_iter, start, stop = _check(
        out, x_min, x_max, y_min, y_max, max_iter, start, stop)
    cdef int[:, ::1] o = out
    cdef long long total = 0
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int* ptr = &o[0, 0] if o.shape[0] else NULL
    cdef Py_ssize_t h = o.shape[0], w = o.shape[1]
    cdef double a = x_min, b = x_max, c = y_min, d = y_max
    cdef int it = max_iter
    cdef Py_ssize_t s = start, e = stop
    cdef int status
    with nogil:
        status = mandelbrot_core(ptr, h, w, a, b, c, d, it, s, e, &total, flag)
    if status:
        raise Cancelled("mandelbrot cancelled")
    return total


def openmp(out, x_min, x_max, y_min, y_max, max_iter, start=0, stop=None, cancel=None,
           num_threads=None):
    """The same core under ``prange`` (dynamic schedule, one row per task) inside one call."""
    out, x_min, x_max, y_min, y_max, max_iter, start, stop = _check(
        out, x_min, x_max, y_min, y_max, max_iter, start, stop)
    cdef CancelToken token = _args.token(cancel)
    cdef const int* flag = NULL if token is None else &token.flag
    cdef int nt = omp_get_max_threads() if num_threads is None else _args.num_threads(num_threads)
    cdef int[:, ::1] o = out
    cdef int* ptr = &o[0, 0] if o.shape[0] else NULL
    cdef Py_ssize_t h = o.shape[0], w = o.shape[1]
    cdef double a = x_min, b = x_max, c = y_min, d = y_max
    cdef int it = max_iter
    cdef Py_ssize_t s = start, e = stop, r
    cdef long long total = 0, part
    cdef int status = 0
    for r in prange(s, e, nogil=True, num_threads=nt, schedule="dynamic"):
        part = 0
        status |= mandelbrot_core(ptr, h, w, a, b, c, d, it, r, r + 1, &part, flag)
        total += part
    if status:
        raise Cancelled("mandelbrot cancelled")
    return total
