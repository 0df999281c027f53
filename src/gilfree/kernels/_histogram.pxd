cdef int histogram_core(const double* x, Py_ssize_t start, Py_ssize_t stop,
                        double lo, double hi, Py_ssize_t bins,
                        long long* counts, const int* cancel) noexcept nogil
