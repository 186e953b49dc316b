/*
 * The pooling plan and task context (op_pool.c), shared with the
 * architecture-specific kernels (x86/pool_avx2.c; generic/none.c stands in
 * elsewhere). Private to the engine.
 */
#ifndef CLEAVE_ENGINE_OP_POOL_H
#define CLEAVE_ENGINE_OP_POOL_H

#include "engine/internal.h"

typedef struct pool_plan {
    bool max, cip;
    int64_t planes; /* N * C */
    int64_t in[3], o[3], k[3], st[3], dl[3], pb[3], pe[3];
    int64_t S, P;
    /* per dim and output position: first input position of the window,
     * the kernel indices [lo, hi) inside the input, and (cip) the count
     * of window positions inside the padded input */
    int64_t *start[3], *lo[3], *hi[3], *pcnt[3];
    bool fast2d; /* 2-D, no dilation: separable, a row of scratch */
    bool simd;   /* fast2d with AVX2 */
    bool pool8;  /* MaxPool fast2d with AVX2, 8 planes interleaved in a
                    copy of hz x wz positions */
    int64_t hz, wz;
    bool rows8;  /* MaxPool fast2d with AVX2, horizontal stride 2: rows
                    of wz floats, 8 outputs per vector */
} pool_plan;

typedef struct pool_ctx {
    const clv_engine__exec *x;
    const pool_plan *p;
    const float *X;
    float *Y;
} pool_ctx;

/* max(a, v), NaN once seen stays */
static inline float max_nan(float a, float v)
{
    return ((v > a) | (v != v)) ? v : a;
}


/* The range [lo, hi) of outputs o in [0, n) whose input o * st + off lies
 * in [0, in). */
static inline void tap_range(int64_t n, int64_t st, int64_t off, int64_t in,
                      int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + st - 1) / st;
    int64_t h = in - off <= 0 ? 0 : (in - off + st - 1) / st;
    if (h > n)
        h = n;
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}


/* ---- kernels of one architecture (x86/pool_avx2.c), for plans made with
 * pl->simd; the portable build has stand-ins that are never called ---- */

/* 2-D separable pooling of plane t (p->fast2d && p->simd). */
void clv_engine__pool2d_task(void *arg, int64_t t, int tid);
/* MaxPool with horizontal stride 2, 8 outputs a vector (p->rows8). */
void clv_engine__maxpool_rows_task(void *arg, int64_t t, int tid);
/* MaxPool of 8 interleaved planes from plane 8t (p->pool8). */
void clv_engine__pool8_task(void *arg, int64_t t, int tid);

#endif
