/* What the planning benchmarks share: a monotonic clock in microseconds,
 * a comparison for qsort of doubles, and loading a model by name. */
#ifndef CLEAVE_BENCH_PLAN_UTIL_H
#define CLEAVE_BENCH_PLAN_UTIL_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleave/load.h"

static inline double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Loads `model`: "zoo:NAME" (built at its default size) or a darknet
 * cfg path; *label is NAME or the cfg's file name. 0, or 1 after printing
 * why to stderr. */
static inline int load_model(const char *model, clv_graph **g,
                             const char **label)
{
    clv_error err;
    clv_error_clear(&err);
    int rc;
    *g = NULL;
    if (strncmp(model, "zoo:", 4) == 0) {
        rc = clv_zoo_build(model + 4, 1, 0, g, &err);
        *label = model + 4;
    } else {
        rc = clv_load_darknet(model, NULL, 1, g, &err);
        const char *slash = strrchr(model, '/');
        *label = slash ? slash + 1 : model;
    }
    if (rc) {
        fprintf(stderr, "%s: %s\n", model, clv_error_text(&err, rc));
        return 1;
    }
    return 0;
}

#endif
