#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

char *clv_util_strdup(const char *s)
{
    if (!s)
        return NULL;
    return clv_util_strndup(s, strlen(s));
}

char *clv_util_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int clv_util_read_file(const char *path, uint64_t max, char **buf,
                       size_t *len, clv_error *err)
{
    FILE *f = NULL;
    char *data = NULL;
    size_t cap = 0, used = 0;
    int rc;

    *buf = NULL;
    if (len)
        *len = 0;
    f = fopen(path, "rb");
    if (!f)
        return clv_error_set(err, CLV_EIO, "%s: cannot open: %s", path,
                             strerror(errno));
    /* A regular file's size is known before a byte is read: one too
     * large for the limit, or for the memory this machine has free, is
     * refused at once (not after filling memory with it). */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t size = (uint64_t)st.st_size, avail;
        if (size > max) {
            rc = clv_error_set(err, CLV_ELIMIT,
                               "%s: %llu bytes, larger than the limit of "
                               "%llu bytes",
                               path, (unsigned long long)size,
                               (unsigned long long)max);
            goto fail;
        }
        if ((avail = clv_util_mem_available()) && size > avail) {
            rc = clv_error_set(err, CLV_ENOMEM,
                               "%s: %.1f MiB, more than the %.1f MiB of "
                               "memory available",
                               path, (double)size / 1048576.0,
                               (double)avail / 1048576.0);
            goto fail;
        }
        cap = (size_t)size + 1; /* one read, and the EOF seen after it */
        if (!(data = malloc(cap + 1))) {
            rc = clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    for (;;) {
        if (used == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nd;
            if ((uint64_t)cap >= max + 1) {
                rc = clv_error_set(err, CLV_ELIMIT,
                                   "%s: larger than the limit of %llu bytes",
                                   path, (unsigned long long)max);
                goto fail;
            }
            nd = realloc(data, ncap + 1);
            if (!nd) {
                rc = clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            data = nd;
            cap = ncap;
        }
        size_t got = fread(data + used, 1, cap - used, f);
        used += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = clv_error_set(err, CLV_EIO, "%s: read error: %s", path,
                                   strerror(errno));
                goto fail;
            }
            break;
        }
    }
    if ((uint64_t)used > max) {
        rc = clv_error_set(err, CLV_ELIMIT,
                           "%s: larger than the limit of %llu bytes", path,
                           (unsigned long long)max);
        goto fail;
    }
    if (!data) {
        data = malloc(1);
        if (!data) {
            rc = clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    data[used] = '\0';
    fclose(f);
    *buf = data;
    if (len)
        *len = used;
    return 0;
fail:
    free(data);
    fclose(f);
    return rc;
}

uint64_t clv_util_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    uint64_t kib = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            kib = v;
            break;
        }
    }
    fclose(f);
    uint64_t bytes = kib * 1024u;
    /* a cgroup's limit, when lower (cgroup v2) */
    f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f) {
        unsigned long long lim;
        FILE *u = fopen("/sys/fs/cgroup/memory.current", "r");
        unsigned long long cur = 0;
        if (fscanf(f, "%llu", &lim) == 1 && u && fscanf(u, "%llu", &cur) == 1 &&
            lim > cur && (!bytes || lim - cur < bytes))
            bytes = lim - cur;
        if (u)
            fclose(u);
        fclose(f);
    }
    return bytes;
}

void clv_rng_seed(clv_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t clv_rng_next(clv_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double clv_rng_uniform(clv_rng *r)
{
    return (double)(clv_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double clv_rng_normal(clv_rng *r)
{
    double u1 = clv_rng_uniform(r), u2 = clv_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Marsaglia's polar method: each 64-bit draw gives the two 32-bit
 * coordinates of a point in the square, and each accepted point two
 * values. Several times faster than a Box-Muller pair per value (a log
 * and a cos each), which matters for VGG-16's 138 M random weights. */
void clv_rng_fill_normal(clv_rng *r, float *x, size_t n, double std)
{
    const double scale = 2.0 / 4294967296.0; /* 2^-32, to [-1, 1) */
    size_t i = 0;
    while (i < n) {
        uint64_t z = clv_rng_next(r);
        double u = (double)(z >> 32) * scale - 1.0;
        double v = (double)(z & 0xffffffffu) * scale - 1.0;
        double s = u * u + v * v;
        if (s >= 1.0 || s == 0.0)
            continue;
        double f = std * sqrt(-2.0 * log(s) / s);
        x[i++] = (float)(u * f);
        if (i < n)
            x[i++] = (float)(v * f);
    }
}

void clv_rng_fill_uniform(clv_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (float)clv_rng_uniform(r) * (hi - lo);
}

uint64_t clv_util_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int clv_util_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double clv_util_median_sorted(const double *v, int n)
{
    if (n <= 0)
        return 0;
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double clv_util_quantile_sorted(const double *v, int n, double p)
{
    if (n <= 0)
        return 0;
    int k = (int)ceil(p * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

double clv_util_median(double *v, int n)
{
    if (n > 0)
        qsort(v, (size_t)n, sizeof *v, clv_util_cmp_double);
    return clv_util_median_sorted(v, n);
}

uint64_t clv_util_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double clv_util_now_s(void)
{
    return (double)clv_util_now_ns() * 1e-9;
}

double clv_util_thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int clv_util_mul_checked(uint64_t a, uint64_t b, uint64_t max, uint64_t *out)
{
    if (a != 0 && b > max / a)
        return CLV_ELIMIT;
    *out = a * b;
    return 0;
}

int64_t clv_util_argmax(const float *v, int64_t n)
{
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}
