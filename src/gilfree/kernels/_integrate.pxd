cdef int integrate_core(long long n, long long start, long long stop,
                        double* result, const int* cancel) noexcept nogil
