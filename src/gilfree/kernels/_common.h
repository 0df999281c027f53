/* Shared by every compiled kernel: OpenMP presence, the compiler's name, the instruction set
 * compiled for and the CPU's, and the cancellation flag's atomic load/store (read by cores
 * without the GIL). */
#ifndef GILFREE_COMMON_H
#define GILFREE_COMMON_H

#ifdef _OPENMP
#include <omp.h>
#define GILFREE_HAVE_OPENMP 1
#define GILFREE_OPENMP_VERSION _OPENMP
#else
#define GILFREE_HAVE_OPENMP 0
#define GILFREE_OPENMP_VERSION 0
static inline int omp_get_max_threads(void) { return 1; }
#endif

#define GILFREE_STR2(x) #x
#define GILFREE_STR(x) GILFREE_STR2(x)
#if defined(__clang__)
#define GILFREE_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define GILFREE_COMPILER "gcc " __VERSION__
#elif defined(_MSC_VER)
#define GILFREE_COMPILER "msvc " GILFREE_STR(_MSC_FULL_VER)
#else
#define GILFREE_COMPILER "unknown"
#endif

/* The instruction set this translation unit is compiled for, from the compiler's own macros:
 * setup.py builds the hot kernels once per path with other -m flags, and each module says
 * what it really got. The baseline is whatever the target's default is. */
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define GILFREE_ISA "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define GILFREE_ISA "avx2"
#elif defined(__aarch64__) || defined(_M_ARM64)
#define GILFREE_ISA "neon"
#elif defined(__x86_64__) || defined(_M_X64) || defined(__SSE2__)
#define GILFREE_ISA "sse2"
#else
#define GILFREE_ISA "generic"
#endif

/* Can this CPU (and its OS, which must save the wider registers) run a path's code?
 * 1 = avx2 (AVX2 + FMA), 2 = avx512 (F, DQ, VL, BW, with AVX2 + FMA): the features setup.py's
 * ISA_PATHS flags let the compiler use. 0, the baseline, always can. GCC and Clang's
 * __builtin_cpu_supports checks the OS's XSAVE state too; elsewhere only the baseline runs. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
static inline int gilfree_cpu_has(int path) {
    int avx2;
    __builtin_cpu_init();
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    switch (path) {
    case 0: return 1;
    case 1: return avx2;
    case 2: return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
                && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    default: return 0;
    }
}
#else
static inline int gilfree_cpu_has(int path) { return path == 0; }
#endif

/* The sum of a kernel's n lanes (n a power of two) as a fixed pairwise tree: a[k] += a[k + w]
 * for w = n/2, ..., 1, so every instruction-set path adds them in the same order (with
 * -ffp-contract=off and no -ffast-math, the compiler may not reorder it). Overwrites a. */
static inline double gilfree_tree_sum(double *a, int n) {
    int w, k;
    for (w = n / 2; w > 0; w /= 2)
        for (k = 0; k < w; k++)
            a[k] += a[k + w];
    return a[0];
}

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static inline int gilfree_load_flag(const int *p) { return (int)_InterlockedOr((volatile long *)p, 0); }
static inline void gilfree_store_flag(int *p, int v) { _InterlockedExchange((volatile long *)p, (long)v); }
#else
static inline int gilfree_load_flag(const int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void gilfree_store_flag(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
#endif

#endif
