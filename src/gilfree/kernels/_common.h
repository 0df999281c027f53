/* Shared by every compiled kernel: OpenMP presence, the compiler's name, and the
 * cancellation flag's atomic load/store (read by cores without the GIL). */
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

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static inline int gilfree_load_flag(const int *p) { return (int)_InterlockedOr((volatile long *)p, 0); }
static inline void gilfree_store_flag(int *p, int v) { _InterlockedExchange((volatile long *)p, (long)v); }
#else
static inline int gilfree_load_flag(const int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void gilfree_store_flag(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
#endif

#endif
