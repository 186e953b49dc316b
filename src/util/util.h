/*
 * Internal helpers shared by the modules of libcleave (not installed).
 */
#ifndef CLEAVE_UTIL_H
#define CLEAVE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"

/* A copy of `s` from malloc, or NULL when out of memory (or s is NULL). */
char *clv_util_strdup(const char *s);
/* A copy of the first `n` bytes of `s`, NUL-terminated. */
char *clv_util_strndup(const char *s, size_t n);

/* Reads the whole file `path` into a malloc'd buffer (NUL-terminated, the
 * terminator not counted in *len). Fails with CLV_EIO (message names the
 * path and the system's reason), CLV_ELIMIT when the file is larger than
 * `max` bytes, or CLV_ENOMEM when it is larger than the memory available
 * (clv_util_mem_available); a regular file's size is checked before any
 * of it is read. The caller frees *buf. */
/* Bytes of memory this process may still take: /proc/meminfo's
 * MemAvailable, or its cgroup's room (memory.max - memory.current) when
 * lower; 0 when unknown. */
uint64_t clv_util_mem_available(void);

int clv_util_read_file(const char *path, uint64_t max, char **buf,
                       size_t *len, clv_error *err);

/* A small, fast, seedable generator (splitmix64). Same seed, same stream,
 * on every machine. */
typedef struct clv_rng {
    uint64_t state;
} clv_rng;

void clv_rng_seed(clv_rng *r, uint64_t seed);
uint64_t clv_rng_next(clv_rng *r);
/* Uniform in [0, 1). */
double clv_rng_uniform(clv_rng *r);
/* Standard normal (Box-Muller). */
double clv_rng_normal(clv_rng *r);
/* Fills `n` floats with normal values of mean 0 and standard deviation
 * `std` (Marsaglia's polar method: fast enough for 138 M weights). */
void clv_rng_fill_normal(clv_rng *r, float *x, size_t n, double std);
/* Fills `n` floats uniformly in [lo, hi). */
void clv_rng_fill_uniform(clv_rng *r, float *x, size_t n, float lo, float hi);

/* FNV-1a of a NUL-terminated string (for name tables). */
uint64_t clv_util_hash_str(const char *s);

/* The index of the largest of v[0..n-1] (the first on ties; 0 when
 * n <= 0): a classifier's top-1. */
int64_t clv_util_argmax(const float *v, int64_t n);

/* A qsort comparator of doubles, ascending (NaN compares equal). */
int clv_util_cmp_double(const void *a, const void *b);

/* The median of v[0..n-1], which it sorts in place; 0 when n <= 0.
 * clv_util_median_sorted() takes values already in ascending order. */
double clv_util_median(double *v, int n);
double clv_util_median_sorted(const double *v, int n);
/* The nearest-rank p-quantile (0 < p <= 1) of v[0..n-1] in ascending
 * order: v[ceil(p n) - 1]; 0 when n <= 0. */
double clv_util_quantile_sorted(const double *v, int n, double p);

/* CLOCK_MONOTONIC in nanoseconds and in seconds. */
uint64_t clv_util_now_ns(void);
double clv_util_now_s(void);
/* The calling thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID). */
double clv_util_thread_cpu_s(void);

/* Multiplies two non-negative sizes; returns 0 and sets *out, or CLV_ELIMIT
 * when the product overflows or exceeds `max`. */
int clv_util_mul_checked(uint64_t a, uint64_t b, uint64_t max, uint64_t *out);

#endif
