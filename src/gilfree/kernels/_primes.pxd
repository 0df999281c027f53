cdef int primes_core(unsigned long long start, unsigned long long stop,
                     long long* count, const int* cancel) noexcept nogil
