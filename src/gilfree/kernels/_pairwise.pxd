cdef int pairwise_core(const double* pts, Py_ssize_t n, Py_ssize_t start, Py_ssize_t stop,
                       double* result, const int* cancel) noexcept nogil
