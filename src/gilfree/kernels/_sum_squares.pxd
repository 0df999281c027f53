cdef int sum_squares_core(const double* x, Py_ssize_t start, Py_ssize_t stop,
                          double* result, const int* cancel) noexcept nogil
