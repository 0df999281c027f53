cdef int mandelbrot_core(int* out, Py_ssize_t height, Py_ssize_t width,
                         double x_min, double x_max, double y_min, double y_max, int max_iter,
                         Py_ssize_t start, Py_ssize_t stop,
                         long long* total, const int* cancel) noexcept nogil
