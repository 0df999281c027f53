# Declarations from _common.h, shared by every kernel module.
cdef extern from "_common.h" nogil:
    int GILFREE_HAVE_OPENMP
    int GILFREE_OPENMP_VERSION
    const char* GILFREE_COMPILER
    const char* GILFREE_ISA
    int gilfree_cpu_has(int path)
    int omp_get_max_threads()
    int gilfree_load_flag(const int* p)
    void gilfree_store_flag(int* p, int v)
    double gilfree_tree_sum(double* a, int n)
