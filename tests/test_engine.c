/*
 * The engine's kernels against naive references on random shapes, and
 * the engine's interface: subsets, fusion, aliasing, errors, threads.
 *
 * Each kernel test builds a one-node graph with the builder API, runs it
 * through the engine and compares with a direct evaluation of the ONNX
 * definition in double precision here (tolerance: 1e-4 of the sum of the
 * absolute terms, so that a missing or wrong term shows). Hand-computed
 * examples from ONNX's operator documentation pin the conventions the
 * references share with the kernels (ceil_mode windows, Resize rounding).
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/engine.h"
#include "cleave/graph.h"
#include "check.h"
#include "engine/internal.h"
#include "cleave/load.h"
#include "util/util.h"

/* ---- building one-node graphs ------------------------------------------- */

#define MAXIN 8

typedef struct one {
    clv_graph *g;
    int ins[MAXIN]; /* run-time inputs, in marking order */
    void *data[MAXIN];
    int n_ins;
    int node;
    int out;
    int n_named;
} one;

static void one_init(one *o)
{
    memset(o, 0, sizeof *o);
    o->g = clv_graph_create();
    o->node = -1;
}

static void one_free(one *o)
{
    for (int i = 0; i < o->n_ins; i++)
        free(o->data[i]);
    clv_graph_free(o->g);
}

static int64_t numel(int nd, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= d[i];
    return n;
}

/* A run-time float input filled with uniform values in [-1, 1). */
static int add_in(one *o, clv_rng *r, int nd, const int64_t *dims)
{
    char name[32];
    int id = -1;
    int64_t n = numel(nd, dims);
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    snprintf(name, sizeof name, "t%d", o->n_named++);
    clv_graph_add_tensor(o->g, name, CLV_DT_FLOAT, nd, dims, &id, NULL);
    clv_graph_mark_input(o->g, id);
    clv_rng_fill_uniform(r, x, (size_t)n, -1.0f, 1.0f);
    o->ins[o->n_ins] = id;
    o->data[o->n_ins++] = x;
    return id;
}

/* A run-time input of any type, with the caller's bytes (copied). */
static int add_in_raw(one *o, clv_dtype dt, int nd, const int64_t *dims,
                      const void *bytes)
{
    char name[32];
    int id = -1;
    size_t sz = (size_t)numel(nd, dims) * clv_dtype_size(dt);
    void *x = malloc(sz ? sz : 1);
    memcpy(x, bytes, sz);
    snprintf(name, sizeof name, "t%d", o->n_named++);
    clv_graph_add_tensor(o->g, name, dt, nd, dims, &id, NULL);
    clv_graph_mark_input(o->g, id);
    o->ins[o->n_ins] = id;
    o->data[o->n_ins++] = x;
    return id;
}

/* A constant float tensor filled with uniform values in [lo, hi). */
static int add_const(one *o, clv_rng *r, int nd, const int64_t *dims,
                     float lo, float hi, float **data)
{
    char name[32];
    int id = -1;
    void *d = NULL;
    snprintf(name, sizeof name, "t%d", o->n_named++);
    clv_graph_add_tensor(o->g, name, CLV_DT_FLOAT, nd, dims, &id, NULL);
    clv_graph_alloc_data(o->g, id, &d, NULL);
    clv_rng_fill_uniform(r, d, (size_t)numel(nd, dims), lo, hi);
    if (data)
        *data = d;
    return id;
}

/* A tensor of unknown shape for a node output. */
static int add_t(one *o)
{
    char name[32];
    int id = -1;
    snprintf(name, sizeof name, "t%d", o->n_named++);
    clv_graph_add_tensor(o->g, name, CLV_DT_UNDEFINED, -1, NULL, &id, NULL);
    return id;
}

static int add_node(one *o, clv_op op, int n_in, const int *in)
{
    int id = -1;
    o->out = add_t(o);
    clv_graph_add_node(o->g, NULL, op, n_in, in, 1, &o->out, &id, NULL);
    clv_graph_mark_output(o->g, o->out);
    o->node = id;
    return id;
}

/* Finalizes, runs the whole graph on `threads` threads and returns a copy
 * of output 0 (or NULL, with the error printed). */
static void *run_one(one *o, int threads, const clv_tensor **yt)
{
    clv_error err = {0};
    clv_engine_options opt = {0};
    clv_engine *e = NULL;
    void *out = NULL, *outs[MAXIN] = {NULL};
    const void *ins[MAXIN];
    int rc;

    if (!clv_graph_is_finalized(o->g) &&
        (rc = clv_graph_finalize(o->g, &err))) {
        fprintf(stderr, "finalize: %s\n", clv_error_text(&err, rc));
        return NULL;
    }
    opt.threads = threads;
    if ((rc = clv_engine_create(o->g, NULL, 0, &opt, &e, &err))) {
        fprintf(stderr, "create: %s\n", clv_error_text(&err, rc));
        return NULL;
    }
    *yt = clv_graph_tensor(o->g, clv_graph_output(o->g, 0));
    for (int i = 0; i < clv_engine_n_outputs(e) && i < MAXIN; i++)
        outs[i] = malloc(
            clv_tensor_bytes(clv_graph_tensor(o->g, clv_engine_output(e, i))) +
            1);
    out = outs[0];
    for (int i = 0; i < o->n_ins; i++)
        ins[clv_engine_find_input(e, o->ins[i])] = o->data[i];
    if ((rc = clv_engine_run(e, ins, outs, &err))) {
        fprintf(stderr, "run: %s\n", clv_error_text(&err, rc));
        free(out);
        out = NULL;
    }
    for (int i = 1; i < MAXIN; i++)
        free(outs[i]);
    clv_engine_free(e);
    return out;
}

/* Counts values of y outside ref +- tol (tol per element, or scalar). */
static int64_t mismatches(const float *y, const double *ref,
                          const double *tol, double tol1, int64_t n,
                          const char *what)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = tol ? tol[i] : tol1;
        if (!(fabs((double)y[i] - ref[i]) <= t)) {
            if (bad < 3)
                fprintf(stderr, "%s: [%lld] got %.9g want %.9g (tol %.3g)\n",
                        what, (long long)i, (double)y[i], ref[i], t);
            bad++;
        }
    }
    return bad;
}

static int64_t rnd(clv_rng *r, int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(clv_rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* ---- Conv ---------------------------------------------------------------- */

typedef struct conv_case {
    int ns;
    int64_t n, c, m, group;
    int64_t in[3], k[3], st[3], dl[3], pb[3], pe[3];
    bool bias;
} conv_case;

/* Direct evaluation of ONNX Conv, in double; tol = 1e-4 * sum |terms|. */
static void ref_conv(const conv_case *cc, const float *x, const float *w,
                     const float *b, const int64_t *od, double *y,
                     double *tol)
{
    int ns = cc->ns;
    int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
    int64_t osz = numel(ns, od), isz = numel(ns, cc->in), ksz = numel(ns, cc->k);
    for (int64_t n = 0; n < cc->n; n++)
        for (int64_t m = 0; m < cc->m; m++)
            for (int64_t o = 0; o < osz; o++) {
                int64_t oi[3], rest = o;
                double acc = b ? b[m] : 0.0, mag = b ? fabs(b[m]) : 0.0;
                for (int d = ns - 1; d >= 0; d--) {
                    oi[d] = rest % od[d];
                    rest /= od[d];
                }
                for (int64_t c = 0; c < cg; c++)
                    for (int64_t kk = 0; kk < ksz; kk++) {
                        int64_t ki[3], r2 = kk, ioff = 0;
                        bool inside = true;
                        for (int d = ns - 1; d >= 0; d--) {
                            ki[d] = r2 % cc->k[d];
                            r2 /= cc->k[d];
                        }
                        for (int d = 0; d < ns; d++) {
                            int64_t p = oi[d] * cc->st[d] - cc->pb[d] +
                                        ki[d] * cc->dl[d];
                            if (p < 0 || p >= cc->in[d])
                                inside = false;
                            ioff = ioff * cc->in[d] + p;
                        }
                        if (!inside)
                            continue;
                        {
                            int64_t gc = (m / mg) * cg + c;
                            double t = (double)x[(n * cc->c + gc) * isz +
                                                 ioff] *
                                       (double)w[(m * cg + c) * ksz + kk];
                            acc += t;
                            mag += fabs(t);
                        }
                    }
                y[(n * cc->m + m) * osz + o] = acc;
                tol[(n * cc->m + m) * osz + o] = 1e-4 * mag + 1e-6;
            }
}

static void conv_one(clv_rng *r, const conv_case *cc, int threads,
                     const char *label)
{
    one o;
    int64_t xd[5], wd[5], od[3], ks[3], pads[6];
    int in[3], ns = cc->ns;
    float *w, *b = NULL;
    const clv_tensor *yt;
    float *y;

    one_init(&o);
    xd[0] = cc->n;
    xd[1] = cc->c;
    wd[0] = cc->m;
    wd[1] = cc->c / cc->group;
    for (int d = 0; d < ns; d++) {
        xd[2 + d] = cc->in[d];
        wd[2 + d] = cc->k[d];
        ks[d] = cc->k[d];
        pads[d] = cc->pb[d];
        pads[ns + d] = cc->pe[d];
        od[d] = (cc->in[d] + cc->pb[d] + cc->pe[d] -
                 ((cc->k[d] - 1) * cc->dl[d] + 1)) /
                    cc->st[d] +
                1;
    }
    in[0] = add_in(&o, r, 2 + ns, xd);
    in[1] = add_const(&o, r, 2 + ns, wd, -1.0f, 1.0f, &w);
    if (cc->bias)
        in[2] = add_const(&o, r, 1, &cc->m, -1.0f, 1.0f, &b);
    add_node(&o, CLV_OP_CONV, cc->bias ? 3 : 2, in);
    clv_graph_set_ints(o.g, o.node, "kernel_shape", (size_t)ns, ks);
    clv_graph_set_ints(o.g, o.node, "strides", (size_t)ns, cc->st);
    clv_graph_set_ints(o.g, o.node, "dilations", (size_t)ns, cc->dl);
    clv_graph_set_ints(o.g, o.node, "pads", (size_t)(2 * ns), pads);
    clv_graph_set_int(o.g, o.node, "group", cc->group);
    y = run_one(&o, threads, &yt);
    CHECKF(y != NULL, "%s: conv did not run", label);
    if (y) {
        int64_t ny = cc->n * cc->m * numel(ns, od);
        double *ref = malloc((size_t)ny * sizeof *ref);
        double *tol = malloc((size_t)ny * sizeof *tol);
        CHECK(clv_tensor_numel(yt) == ny);
        ref_conv(cc, o.data[0], w, b, od, ref, tol);
        CHECKF(mismatches(y, ref, tol, 0, ny, label) == 0,
               "%s: ns=%d n=%lld c=%lld m=%lld g=%lld", label, ns,
               (long long)cc->n, (long long)cc->c, (long long)cc->m,
               (long long)cc->group);
        free(ref);
        free(tol);
    }
    free(y);
    one_free(&o);
}

static void test_conv(void)
{
    clv_rng r;
    clv_rng_seed(&r, 11);
    /* random shapes: 1-D, 2-D, 3-D; groups; strides, dilations, pads */
    for (int it = 0; it < 60; it++) {
        conv_case cc;
        int kind = (int)rnd(&r, 0, 9);
        memset(&cc, 0, sizeof cc);
        cc.ns = kind == 0 ? 1 : kind == 1 ? 3 : 2;
        cc.n = rnd(&r, 1, 2);
        cc.group = rnd(&r, 1, 3);
        cc.c = cc.group * rnd(&r, 1, 4);
        cc.m = cc.group * rnd(&r, 1, 4);
        if (kind == 2) { /* depthwise */
            cc.c = rnd(&r, 1, 8);
            cc.group = cc.c;
            cc.m = cc.c;
        }
        cc.bias = rnd(&r, 0, 1);
        for (int d = 0; d < cc.ns; d++) {
            cc.k[d] = rnd(&r, 1, cc.ns == 3 ? 2 : 4);
            cc.st[d] = rnd(&r, 1, 3);
            cc.dl[d] = rnd(&r, 1, 2);
            cc.pb[d] = rnd(&r, 0, 2);
            cc.pe[d] = rnd(&r, 0, 2);
            cc.in[d] = rnd(&r, 1, cc.ns == 3 ? 5 : 11);
            /* the dilated kernel must fit the padded input */
            while (cc.in[d] + cc.pb[d] + cc.pe[d] <
                   (cc.k[d] - 1) * cc.dl[d] + 1)
                cc.in[d]++;
        }
        conv_one(&r, &cc, (int)rnd(&r, 1, 3), "conv random");
    }
    /* 1x1 stride 1 unpadded (sgemm on the input), several column pieces */
    {
        conv_case cc = {2, 1, 24, 40, 1, {1, 37, 53}, {1, 1, 1}, {1, 1, 1},
                        {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, true};
        conv_one(&r, &cc, 2, "conv 1x1");
    }
    /* big enough for several im2col pieces (cols) */
    {
        conv_case cc = {2, 1, 16, 20, 1, {40, 70, 0}, {3, 3, 0}, {1, 1, 0},
                        {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, true};
        conv_one(&r, &cc, 3, "conv cols");
    }
    /* small output, many channels: the rows tiling, 3x3 and 1x1 */
    {
        conv_case cc = {2, 1, 24, 160, 1, {9, 11, 0}, {3, 3, 0}, {1, 1, 0},
                        {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, true};
        conv_case c1 = {2, 1, 32, 200, 1, {7, 7, 0}, {1, 1, 0}, {1, 1, 0},
                        {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, false};
        conv_one(&r, &cc, 2, "conv rows");
        conv_one(&r, &c1, 1, "conv rows 1x1");
    }
    /* depthwise with stride 2 and asymmetric padding, as MobileNet */
    {
        conv_case cc = {2, 2, 12, 12, 12, {15, 16, 0}, {3, 3, 0},
                        {2, 2, 0}, {1, 1, 0}, {0, 1, 0}, {1, 0, 0}, true};
        conv_one(&r, &cc, 2, "conv depthwise s2");
    }
}

/* ---- pools --------------------------------------------------------------- */

typedef struct pool_case {
    bool max, cip, ceil;
    int ns;
    int64_t n, c, in[3], k[3], st[3], dl[3], pb[3], pe[3];
} pool_case;

static int64_t pool_out(const pool_case *pc, int d)
{
    int64_t ek = (pc->k[d] - 1) * pc->dl[d] + 1;
    int64_t span = pc->in[d] + pc->pb[d] + pc->pe[d], o;
    if (pc->ceil) {
        o = (span - ek + pc->st[d] - 1) / pc->st[d] + 1;
        if ((o - 1) * pc->st[d] >= pc->in[d] + pc->pb[d])
            o--;
    } else {
        o = (span - ek) / pc->st[d] + 1;
    }
    return o;
}

static void ref_pool(const pool_case *pc, const float *x, const int64_t *od,
                     double *y)
{
    int ns = pc->ns;
    int64_t osz = numel(ns, od), isz = numel(ns, pc->in), ksz = numel(ns, pc->k);
    for (int64_t p = 0; p < pc->n * pc->c; p++)
        for (int64_t o = 0; o < osz; o++) {
            int64_t oi[3], rest = o, cnt = 0, padcnt = 1;
            double acc = pc->max ? -INFINITY : 0.0;
            for (int d = ns - 1; d >= 0; d--) {
                oi[d] = rest % od[d];
                rest /= od[d];
            }
            for (int d = 0; d < ns; d++) {
                /* window positions inside the padded input */
                int64_t s = oi[d] * pc->st[d] - pc->pb[d], e = s + pc->k[d];
                if (e > pc->in[d] + pc->pe[d])
                    e = pc->in[d] + pc->pe[d];
                padcnt *= e - s;
            }
            for (int64_t kk = 0; kk < ksz; kk++) {
                int64_t ki[3], r2 = kk, ioff = 0;
                bool inside = true;
                for (int d = ns - 1; d >= 0; d--) {
                    ki[d] = r2 % pc->k[d];
                    r2 /= pc->k[d];
                }
                for (int d = 0; d < ns; d++) {
                    int64_t q = oi[d] * pc->st[d] - pc->pb[d] +
                                ki[d] * pc->dl[d];
                    if (q < 0 || q >= pc->in[d])
                        inside = false;
                    ioff = ioff * pc->in[d] + q;
                }
                if (!inside)
                    continue;
                cnt++;
                if (pc->max)
                    acc = fmax(acc, (double)x[p * isz + ioff]);
                else
                    acc += (double)x[p * isz + ioff];
            }
            if (!pc->max)
                acc /= (double)(pc->cip ? padcnt : cnt);
            y[p * osz + o] = acc;
        }
}

static void pool_one(clv_rng *r, const pool_case *pc, const char *label)
{
    one o;
    int64_t xd[5], od[3], pads[6];
    int in;
    const clv_tensor *yt;
    float *y;
    int ns = pc->ns;

    one_init(&o);
    xd[0] = pc->n;
    xd[1] = pc->c;
    for (int d = 0; d < ns; d++) {
        xd[2 + d] = pc->in[d];
        pads[d] = pc->pb[d];
        pads[ns + d] = pc->pe[d];
        od[d] = pool_out(pc, d);
    }
    in = add_in(&o, r, 2 + ns, xd);
    add_node(&o, pc->max ? CLV_OP_MAXPOOL : CLV_OP_AVERAGEPOOL, 1, &in);
    clv_graph_set_ints(o.g, o.node, "kernel_shape", (size_t)ns, pc->k);
    clv_graph_set_ints(o.g, o.node, "strides", (size_t)ns, pc->st);
    clv_graph_set_ints(o.g, o.node, "pads", (size_t)(2 * ns), pads);
    clv_graph_set_int(o.g, o.node, "ceil_mode", pc->ceil);
    if (pc->max)
        clv_graph_set_ints(o.g, o.node, "dilations", (size_t)ns, pc->dl);
    else
        clv_graph_set_int(o.g, o.node, "count_include_pad", pc->cip);
    y = run_one(&o, 2, &yt);
    CHECKF(y != NULL, "%s did not run", label);
    if (y) {
        int64_t ny = pc->n * pc->c * numel(ns, od);
        double *ref = malloc((size_t)ny * sizeof *ref);
        CHECKF(clv_tensor_numel(yt) == ny, "%s: %lld outputs, want %lld",
               label, (long long)clv_tensor_numel(yt), (long long)ny);
        if (clv_tensor_numel(yt) == ny) {
            ref_pool(pc, o.data[0], od, ref);
            CHECKF(mismatches(y, ref, NULL, 1e-5, ny, label) == 0,
                   "%s: ns=%d max=%d ceil=%d cip=%d", label, ns, pc->max,
                   pc->ceil, pc->cip);
        }
        free(ref);
    }
    free(y);
    one_free(&o);
}

static void test_pools(void)
{
    clv_rng r;
    clv_rng_seed(&r, 12);
    for (int it = 0; it < 60; it++) {
        pool_case pc;
        memset(&pc, 0, sizeof pc);
        pc.max = rnd(&r, 0, 1);
        pc.cip = rnd(&r, 0, 1);
        pc.ceil = rnd(&r, 0, 1);
        pc.ns = (int)rnd(&r, 1, 3);
        pc.n = rnd(&r, 1, 2);
        pc.c = rnd(&r, 1, 3);
        for (int d = 0; d < pc.ns; d++) {
            pc.k[d] = rnd(&r, 1, 3);
            pc.st[d] = rnd(&r, 1, 3);
            pc.dl[d] = pc.max ? rnd(&r, 1, 2) : 1;
            pc.pb[d] = rnd(&r, 0, pc.k[d] - 1);
            pc.pe[d] = rnd(&r, 0, pc.k[d] - 1);
            pc.in[d] = rnd(&r, 1, 9);
            while (pc.in[d] + pc.pb[d] + pc.pe[d] <
                   (pc.k[d] - 1) * pc.dl[d] + 1)
                pc.in[d]++;
        }
        pool_one(&r, &pc, "pool random");
    }
    /* ONNX's test_averagepool_2d_ceil: 4x4 of 1..16, kernel 3, stride 2,
     * ceil_mode -> [[6, 7.5], [12, 13.5]] */
    {
        one o;
        int64_t xd[4] = {1, 1, 4, 4}, k[2] = {3, 3}, st[2] = {2, 2};
        float x[16];
        const float want[4] = {6.0f, 7.5f, 12.0f, 13.5f};
        const clv_tensor *yt;
        int in;
        float *y;
        for (int i = 0; i < 16; i++)
            x[i] = (float)(i + 1);
        one_init(&o);
        in = add_in_raw(&o, CLV_DT_FLOAT, 4, xd, x);
        add_node(&o, CLV_OP_AVERAGEPOOL, 1, &in);
        clv_graph_set_ints(o.g, o.node, "kernel_shape", 2, k);
        clv_graph_set_ints(o.g, o.node, "strides", 2, st);
        clv_graph_set_int(o.g, o.node, "ceil_mode", 1);
        y = run_one(&o, 1, &yt);
        CHECK(y && clv_tensor_numel(yt) == 4);
        for (int i = 0; y && i < 4; i++)
            CHECKF(y[i] == want[i], "averagepool ceil [%d] = %g, want %g",
                   i, (double)y[i], (double)want[i]);
        free(y);
        one_free(&o);
    }
    /* global pools */
    {
        one o;
        int64_t xd[4] = {2, 3, 5, 7};
        const clv_tensor *yt;
        int in;
        float *ya, *ym;
        clv_rng_seed(&r, 5);
        one_init(&o);
        in = add_in(&o, &r, 4, xd);
        add_node(&o, CLV_OP_GLOBALAVERAGEPOOL, 1, &in);
        ya = run_one(&o, 2, &yt);
        one_free(&o);
        clv_rng_seed(&r, 5);
        one_init(&o);
        in = add_in(&o, &r, 4, xd);
        add_node(&o, CLV_OP_GLOBALMAXPOOL, 1, &in);
        ym = run_one(&o, 1, &yt);
        CHECK(ya && ym && clv_tensor_numel(yt) == 6);
        for (int p = 0; ya && ym && p < 6; p++) {
            const float *x = (const float *)o.data[0] + p * 35;
            double s = 0, m = -INFINITY;
            for (int i = 0; i < 35; i++) {
                s += x[i];
                m = fmax(m, x[i]);
            }
            CHECKF(fabs(ya[p] - s / 35) < 1e-5, "global average %d", p);
            CHECKF(ym[p] == (float)m, "global max %d", p);
        }
        free(ya);
        free(ym);
        one_free(&o);
    }
}

/* ---- element-wise with broadcasting -------------------------------------- */

static void test_binary(void)
{
    clv_rng r;
    static const clv_op ops[] = {CLV_OP_ADD, CLV_OP_SUB, CLV_OP_MUL,
                                 CLV_OP_DIV, CLV_OP_PRELU};
    clv_rng_seed(&r, 13);
    for (int it = 0; it < 80; it++) {
        one o;
        int ny = (int)rnd(&r, 0, 5), na, nb, in[2];
        int64_t yd[6], ad[6], bd[6];
        clv_op op = ops[rnd(&r, 0, 4)];
        const clv_tensor *yt;
        float *y;

        for (int d = 0; d < ny; d++)
            yd[d] = rnd(&r, 1, 6);
        /* a: all of y's dims or some of them 1 (PRelu: all); b: a suffix
         * of y's dims with some of them 1 */
        na = ny;
        nb = ny - (int)rnd(&r, 0, ny);
        for (int d = 0; d < na; d++)
            ad[d] = op == CLV_OP_PRELU || rnd(&r, 0, 3) ? yd[d] : 1;
        for (int d = 0; d < nb; d++)
            bd[d] = rnd(&r, 0, 2) ? yd[ny - nb + d] : 1;
        if (it % 5 == 0) { /* per channel: [N,C,H,W] and [C,1,1] */
            na = 4;
            ad[0] = 2;
            ad[1] = 5;
            ad[2] = 3;
            ad[3] = 4;
            nb = 3;
            bd[0] = 5;
            bd[1] = bd[2] = 1;
        }
        if (it % 7 == 0) { /* same shape */
            nb = na;
            memcpy(bd, ad, sizeof bd);
        }
        one_init(&o);
        in[0] = add_in(&o, &r, na, ad);
        in[1] = add_in(&o, &r, nb, bd);
        if (op == CLV_OP_DIV) /* keep away from zero */
            for (int64_t i = 0; i < numel(nb, bd); i++) {
                float *b = o.data[1];
                b[i] = b[i] < 0 ? b[i] - 0.5f : b[i] + 0.5f;
            }
        add_node(&o, op, 2, in);
        y = run_one(&o, (int)rnd(&r, 1, 3), &yt);
        CHECKF(y != NULL, "binary %s did not run", clv_op_name(op));
        if (y) {
            int64_t n = clv_tensor_numel(yt), bad = 0;
            for (int64_t e = 0; e < n; e++) {
                int64_t rest = e, oa = 0, ob = 0, sa = 1, sb = 1;
                double a, b, want;
                for (int d = yt->ndim - 1; d >= 0; d--) {
                    int64_t i = rest % yt->dims[d];
                    int ka = d - (yt->ndim - na), kb = d - (yt->ndim - nb);
                    rest /= yt->dims[d];
                    if (ka >= 0) {
                        oa += (ad[ka] == 1 ? 0 : i) * sa;
                        sa *= ad[ka];
                    }
                    if (kb >= 0) {
                        ob += (bd[kb] == 1 ? 0 : i) * sb;
                        sb *= bd[kb];
                    }
                }
                a = ((float *)o.data[0])[oa];
                b = ((float *)o.data[1])[ob];
                want = op == CLV_OP_ADD   ? a + b
                       : op == CLV_OP_SUB ? a - b
                       : op == CLV_OP_MUL ? a * b
                       : op == CLV_OP_DIV ? a / b
                                          : (a < 0 ? a * b : a);
                if (!(fabs(y[e] - want) <= 1e-6 * (1 + fabs(want))))
                    bad++;
            }
            CHECKF(bad == 0, "binary %s: %lld of %lld wrong (ranks %d %d)",
                   clv_op_name(op), (long long)bad, (long long)n, na, nb);
        }
        free(y);
        one_free(&o);
    }
    /* integers: int64 Div truncates toward zero; division by zero fails */
    {
        one o;
        int64_t d1 = 4, a[4] = {7, -7, 9, INT64_MIN}, b[4] = {2, 2, -4, -1};
        const clv_tensor *yt;
        int in[2];
        int64_t *y;
        one_init(&o);
        in[0] = add_in_raw(&o, CLV_DT_INT64, 1, &d1, a);
        in[1] = add_in_raw(&o, CLV_DT_INT64, 1, &d1, b);
        add_node(&o, CLV_OP_DIV, 2, in);
        y = run_one(&o, 1, &yt);
        CHECK(y && y[0] == 3 && y[1] == -3 && y[2] == -2 &&
              y[3] == INT64_MIN);
        free(y);
        ((int64_t *)o.data[1])[1] = 0;
        {
            clv_error err = {0};
            clv_engine *e = NULL;
            int64_t out[4];
            const void *ins[2] = {o.data[0], o.data[1]};
            void *outs[1] = {out};
            int rc = clv_engine_create(o.g, NULL, 0, NULL, &e, &err);
            CHECK(rc == 0);
            rc = clv_engine_run(e, ins, outs, &err);
            CHECKF(rc == CLV_ERANGE && strstr(err.msg, "Div") &&
                       strstr(err.msg, "node '"),
                   "int Div by zero: rc=%d '%s'", rc, err.msg);
            clv_engine_free(e);
        }
        one_free(&o);
    }
}

/* ---- Softmax, LRN, BatchNormalization, activations ----------------------- */

static void test_softmax_lrn_bn(void)
{
    clv_rng r;
    clv_rng_seed(&r, 14);
    for (int it = 0; it < 16; it++) {
        one o;
        int64_t xd[4] = {rnd(&r, 1, 3), rnd(&r, 1, 6), rnd(&r, 1, 5),
                         rnd(&r, 1, 4)};
        int64_t axis = rnd(&r, 0, 3);
        bool legacy = it % 2;
        const clv_tensor *yt;
        int in;
        float *y;
        one_init(&o);
        clv_graph_set_opset(o.g, legacy ? 11 : 13);
        in = add_in(&o, &r, 4, xd);
        add_node(&o, CLV_OP_SOFTMAX, 1, &in);
        clv_graph_set_int(o.g, o.node, "axis", axis);
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        if (y) {
            const float *x = o.data[0];
            int64_t outer = 1, d = 1, inner = 1, bad = 0;
            for (int i = 0; i < 4; i++) {
                if (i < axis)
                    outer *= xd[i];
                else if (i == axis || legacy)
                    d *= xd[i];
                else
                    inner *= xd[i];
            }
            for (int64_t a = 0; a < outer; a++)
                for (int64_t b = 0; b < inner; b++) {
                    double m = -INFINITY, s = 0;
                    for (int64_t k = 0; k < d; k++)
                        m = fmax(m, x[(a * d + k) * inner + b]);
                    for (int64_t k = 0; k < d; k++)
                        s += exp(x[(a * d + k) * inner + b] - m);
                    for (int64_t k = 0; k < d; k++) {
                        int64_t i = (a * d + k) * inner + b;
                        if (fabs(y[i] - exp(x[i] - m) / s) > 1e-6)
                            bad++;
                    }
                }
            CHECKF(bad == 0, "softmax axis=%lld legacy=%d: %lld wrong",
                   (long long)axis, legacy, (long long)bad);
        }
        free(y);
        one_free(&o);
    }
    /* LRN, AlexNet's parameters and an even size */
    for (int it = 0; it < 2; it++) {
        one o;
        int64_t xd[4] = {2, 9, 4, 3}, size = it ? 5 : 4;
        float alpha = 1e-2f, beta = 0.75f, bias = 2.0f;
        const clv_tensor *yt;
        int in;
        float *y;
        one_init(&o);
        in = add_in(&o, &r, 4, xd);
        add_node(&o, CLV_OP_LRN, 1, &in);
        clv_graph_set_int(o.g, o.node, "size", size);
        clv_graph_set_float(o.g, o.node, "alpha", alpha);
        clv_graph_set_float(o.g, o.node, "beta", beta);
        clv_graph_set_float(o.g, o.node, "bias", bias);
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        if (y) {
            const float *x = o.data[0];
            int64_t bad = 0, S = 12;
            for (int64_t n = 0; n < 2; n++)
                for (int64_t c = 0; c < 9; c++)
                    for (int64_t i = 0; i < S; i++) {
                        double sq = 0;
                        int64_t lo = c - (size - 1) / 2,
                                hi = c + (size - 1 + 1) / 2;
                        for (int64_t j = lo; j <= hi; j++)
                            if (j >= 0 && j < 9) {
                                double v = x[(n * 9 + j) * S + i];
                                sq += v * v;
                            }
                        {
                            int64_t k = (n * 9 + c) * S + i;
                            double want =
                                x[k] / pow(bias + alpha / size * sq, beta);
                            if (fabs(y[k] - want) > 1e-6)
                                bad++;
                        }
                    }
            CHECKF(bad == 0, "LRN size=%lld: %lld wrong", (long long)size,
                   (long long)bad);
        }
        free(y);
        one_free(&o);
    }
    /* BatchNormalization with constant and with run-time parameters */
    for (int it = 0; it < 2; it++) {
        one o;
        int64_t xd[4] = {2, 4, 3, 5}, c = 4;
        const clv_tensor *yt;
        int in[5];
        float *prm[4], *y;
        one_init(&o);
        in[0] = add_in(&o, &r, 4, xd);
        for (int k = 0; k < 4; k++) {
            if (it == 0) {
                in[1 + k] = add_const(&o, &r, 1, &c, k == 3 ? 0.1f : -1.0f,
                                      1.0f, &prm[k]);
            } else {
                in[1 + k] = add_in(&o, &r, 1, &c);
                prm[k] = o.data[1 + k];
                if (k == 3)
                    for (int i = 0; i < 4; i++)
                        prm[k][i] = fabsf(prm[k][i]) + 0.1f;
            }
        }
        add_node(&o, CLV_OP_BATCHNORM, 5, in);
        clv_graph_set_float(o.g, o.node, "epsilon", 1e-3f);
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        for (int64_t i = 0; y && i < 120; i++) {
            int64_t ch = (i / 15) % 4;
            double want = (((const float *)o.data[0])[i] - prm[2][ch]) /
                              sqrt(prm[3][ch] + 1e-3) * prm[0][ch] +
                          prm[1][ch];
            if (fabs(y[i] - want) > 1e-5) {
                CHECKF(0, "BN [%lld] = %g, want %g", (long long)i,
                       (double)y[i], want);
                break;
            }
        }
        free(y);
        one_free(&o);
    }
    /* activations */
    {
        static const clv_op acts[] = {CLV_OP_RELU, CLV_OP_LEAKYRELU,
                                      CLV_OP_CLIP, CLV_OP_SIGMOID,
                                      CLV_OP_TANH, CLV_OP_HARDSIGMOID,
                                      CLV_OP_HARDSWISH, CLV_OP_SQRT,
                                      CLV_OP_EXP, CLV_OP_NEG,
                                      CLV_OP_RECIPROCAL, CLV_OP_ERF};
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            one o;
            int64_t xd[2] = {3, 40000}; /* several pieces */
            const clv_tensor *yt;
            int in;
            float *y;
            one_init(&o);
            in = add_in(&o, &r, 2, xd);
            for (int64_t i = 0; i < 120000; i++)
                ((float *)o.data[0])[i] *= 5.0f;
            add_node(&o, acts[a], 1, &in);
            if (acts[a] == CLV_OP_LEAKYRELU)
                clv_graph_set_float(o.g, o.node, "alpha", 0.1f);
            if (acts[a] == CLV_OP_CLIP) {
                clv_graph_set_float(o.g, o.node, "min", -0.5f);
                clv_graph_set_float(o.g, o.node, "max", 2.0f);
            }
            y = run_one(&o, 3, &yt);
            CHECK(y != NULL);
            for (int64_t i = 0; y && i < 120000; i++) {
                double v = ((const float *)o.data[0])[i], want;
                switch (acts[a]) {
                case CLV_OP_RELU:
                    want = v > 0 ? v : 0;
                    break;
                case CLV_OP_LEAKYRELU:
                    want = v >= 0 ? v : 0.1 * v;
                    break;
                case CLV_OP_CLIP:
                    want = fmin(fmax(v, -0.5), 2.0);
                    break;
                case CLV_OP_SIGMOID:
                    want = 1 / (1 + exp(-v));
                    break;
                case CLV_OP_TANH:
                    want = tanh(v);
                    break;
                case CLV_OP_HARDSIGMOID:
                    want = fmin(fmax(0.2 * v + 0.5, 0), 1);
                    break;
                case CLV_OP_SQRT:
                    want = sqrt(v); /* NaN below 0, in both */
                    break;
                case CLV_OP_EXP:
                    want = exp(v);
                    break;
                case CLV_OP_NEG:
                    want = -v;
                    break;
                case CLV_OP_RECIPROCAL:
                    want = 1 / v;
                    break;
                case CLV_OP_ERF:
                    want = erf(v);
                    break;
                default:
                    want = v * fmin(fmax(v / 6 + 0.5, 0), 1);
                }
                if (isnan(want) ? !isnan(y[i])
                                : fabs(y[i] - want) > 1e-6 * (1 + fabs(want))) {
                    CHECKF(0, "%s(%g) = %g, want %g", clv_op_name(acts[a]),
                           v, (double)y[i], want);
                    break;
                }
            }
            free(y);
            one_free(&o);
        }
    }
}

/* ---- Gemm and MatMul ----------------------------------------------------- */

static void test_gemm(void)
{
    clv_rng r;
    clv_rng_seed(&r, 15);
    for (int it = 0; it < 30; it++) {
        one o;
        int64_t M = it % 4 == 0 ? 1 : rnd(&r, 1, 300), N = rnd(&r, 1, 700),
                K = rnd(&r, 1, 60);
        bool ta = rnd(&r, 0, 1), tb = rnd(&r, 0, 1);
        int cshape = (int)rnd(&r, 0, 4); /* none, [N], [M,1], [M,N], [1] */
        float alpha = it % 3 ? 1.0f : 0.5f, beta = it % 2 ? 1.0f : 2.0f;
        int64_t ad[2] = {ta ? K : M, ta ? M : K};
        int64_t bd[2] = {tb ? N : K, tb ? K : N};
        int64_t cd[2];
        int in[3], nc;
        float *A, *B, *C = NULL, *y;
        const clv_tensor *yt;
        one_init(&o);
        in[0] = add_in(&o, &r, 2, ad);
        in[1] = add_const(&o, &r, 2, bd, -1.0f, 1.0f, &B);
        nc = 2;
        if (cshape == 1) {
            cd[0] = N;
            in[nc++] = add_const(&o, &r, 1, cd, -1.0f, 1.0f, &C);
        } else if (cshape == 2) {
            cd[0] = M;
            cd[1] = 1;
            in[nc++] = add_const(&o, &r, 2, cd, -1.0f, 1.0f, &C);
        } else if (cshape == 3) {
            cd[0] = M;
            cd[1] = N;
            in[nc++] = add_const(&o, &r, 2, cd, -1.0f, 1.0f, &C);
        } else if (cshape == 4) {
            cd[0] = 1;
            in[nc++] = add_const(&o, &r, 1, cd, -1.0f, 1.0f, &C);
        }
        add_node(&o, CLV_OP_GEMM, nc, in);
        clv_graph_set_int(o.g, o.node, "transA", ta);
        clv_graph_set_int(o.g, o.node, "transB", tb);
        clv_graph_set_float(o.g, o.node, "alpha", alpha);
        clv_graph_set_float(o.g, o.node, "beta", beta);
        y = run_one(&o, (int)rnd(&r, 1, 3), &yt);
        A = o.data[0];
        CHECK(y != NULL);
        if (y) {
            int64_t bad = 0;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0, mag = 0, want;
                    for (int64_t k = 0; k < K; k++) {
                        double t = (double)A[ta ? k * M + i : i * K + k] *
                                   B[tb ? j * K + k : k * N + j];
                        acc += t;
                        mag += fabs(t);
                    }
                    want = alpha * acc;
                    if (C) {
                        double c = cshape == 1   ? C[j]
                                   : cshape == 2 ? C[i]
                                   : cshape == 3 ? C[i * N + j]
                                                 : C[0];
                        want += beta * c;
                        mag += fabs(beta * c);
                    }
                    if (fabs(y[i * N + j] - want) > 1e-4 * mag + 1e-6)
                        bad++;
                }
            CHECKF(bad == 0,
                   "Gemm M=%lld N=%lld K=%lld ta=%d tb=%d C=%d: %lld wrong",
                   (long long)M, (long long)N, (long long)K, ta, tb, cshape,
                   (long long)bad);
        }
        free(y);
        one_free(&o);
    }
    /* MatMul: batch broadcasting and 1-D operands */
    for (int it = 0; it < 20; it++) {
        one o;
        int64_t M = rnd(&r, 1, 9), N = rnd(&r, 1, 9), K = rnd(&r, 1, 9);
        int64_t ad[4], bd[4], b0 = rnd(&r, 1, 3), b1 = rnd(&r, 1, 2);
        int na, nb, in[2];
        const clv_tensor *yt;
        float *y;
        int form = it % 5;
        one_init(&o);
        if (form == 0) { /* [K] x [K, N] */
            na = 1;
            ad[0] = K;
            nb = 2;
            bd[0] = K;
            bd[1] = N;
        } else if (form == 1) { /* [b0, M, K] x [K] */
            na = 3;
            ad[0] = b0;
            ad[1] = M;
            ad[2] = K;
            nb = 1;
            bd[0] = K;
        } else if (form == 2) { /* [b0, M, K] x [K, N] (collapsed) */
            na = 3;
            ad[0] = b0;
            ad[1] = M;
            ad[2] = K;
            nb = 2;
            bd[0] = K;
            bd[1] = N;
        } else { /* [b1, 1, M, K] x [b0, K, N] */
            na = 4;
            ad[0] = b1;
            ad[1] = 1;
            ad[2] = M;
            ad[3] = K;
            nb = 3;
            bd[0] = b0;
            bd[1] = K;
            bd[2] = N;
        }
        in[0] = add_in(&o, &r, na, ad);
        in[1] = add_in(&o, &r, nb, bd);
        add_node(&o, CLV_OP_MATMUL, 2, in);
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        if (y) {
            const float *A = o.data[0], *B = o.data[1];
            int64_t bad = 0, rows = na == 1 ? 1 : ad[na - 2],
                    cols = nb == 1 ? 1 : bd[nb - 1];
            int64_t nbatch = clv_tensor_numel(yt) / (rows * cols);
            for (int64_t b = 0; b < nbatch; b++) {
                int64_t ia = 0, ib = 0;
                if (form == 1 || form == 2) {
                    ia = b;
                } else if (form >= 3) {
                    ia = b / b0 % b1; /* y batch = [b1, b0] */
                    ib = b % b0;
                }
                for (int64_t i = 0; i < rows; i++)
                    for (int64_t j = 0; j < cols; j++) {
                        double acc = 0;
                        for (int64_t k = 0; k < K; k++)
                            acc += (double)A[(ia * rows + i) * K + k] *
                                   B[(ib * K + k) * cols + j];
                        if (fabs(y[(b * rows + i) * cols + j] - acc) > 1e-5)
                            bad++;
                    }
            }
            CHECKF(bad == 0, "MatMul form %d: %lld wrong", form,
                   (long long)bad);
        }
        free(y);
        one_free(&o);
    }
}

/* ---- data movement -------------------------------------------------------- */

static int add_const_i64(one *o, int n, const int64_t *v)
{
    char name[32];
    int id = -1;
    int64_t d = n;
    void *data = NULL;
    snprintf(name, sizeof name, "t%d", o->n_named++);
    clv_graph_add_tensor(o->g, name, CLV_DT_INT64, 1, &d, &id, NULL);
    clv_graph_alloc_data(o->g, id, &data, NULL);
    memcpy(data, v, (size_t)n * sizeof *v);
    return id;
}

/* ONNX Slice-13 on one axis: negative bounds count from the end, then
 * starts clamp into [0, len] ([0, len-1] for negative steps) and ends into
 * [0, len] ([-1, len-1]). Writes the first index and the count. */
static void onnx_slice(int64_t start, int64_t stop, int64_t step, int64_t len,
                       int64_t *first, int64_t *count)
{
    int64_t hi = step > 0 ? len : len - 1;
    if (start < 0)
        start += len;
    if (stop < 0)
        stop = stop < -len ? -len - 1 : stop + len;
    start = start < 0 ? 0 : start > hi ? hi : start;
    stop = stop < (step > 0 ? 0 : -1) ? (step > 0 ? 0 : -1)
                                      : stop > hi ? hi : stop;
    *first = start;
    if (step > 0)
        *count = stop > start ? (stop - start + step - 1) / step : 0;
    else
        *count = start > stop ? (start - stop - step - 1) / -step : 0;
}

static void test_movement(void)
{
    clv_rng r;
    clv_rng_seed(&r, 16);
    /* Transpose */
    for (int it = 0; it < 20; it++) {
        one o;
        int nd = (int)rnd(&r, 1, 5), in;
        int64_t xd[5], perm[5], st[5];
        const clv_tensor *yt;
        float *y;
        for (int d = 0; d < nd; d++) {
            xd[d] = rnd(&r, 1, 5);
            perm[d] = d;
        }
        for (int d = nd - 1; d > 0; d--) {
            int k = (int)rnd(&r, 0, d);
            int64_t t = perm[d];
            perm[d] = perm[k];
            perm[k] = t;
        }
        st[nd - 1] = 1;
        for (int d = nd - 2; d >= 0; d--)
            st[d] = st[d + 1] * xd[d + 1];
        one_init(&o);
        in = add_in(&o, &r, nd, xd);
        add_node(&o, CLV_OP_TRANSPOSE, 1, &in);
        clv_graph_set_ints(o.g, o.node, "perm", (size_t)nd, perm);
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        for (int64_t e = 0, bad = 0; y && e < clv_tensor_numel(yt); e++) {
            int64_t rest = e, off = 0;
            for (int d = nd - 1; d >= 0; d--) {
                off += (rest % yt->dims[d]) * st[perm[d]];
                rest /= yt->dims[d];
            }
            if (y[e] != ((float *)o.data[0])[off] && bad++ == 0)
                CHECKF(0, "transpose rank %d element %lld", nd,
                       (long long)e);
        }
        free(y);
        one_free(&o);
    }
    /* Slice (opset 13 form: constant starts, ends, axes, steps) */
    for (int it = 0; it < 30; it++) {
        one o;
        int nd = (int)rnd(&r, 1, 4), na = 0, in[5];
        int64_t xd[4], starts[4], ends[4], axes[4], steps[4], st[4];
        int64_t first[4], cnt[4], step[4];
        const clv_tensor *yt;
        float *y;
        for (int d = 0; d < nd; d++) {
            xd[d] = rnd(&r, 1, 6);
            first[d] = 0;
            cnt[d] = xd[d];
            step[d] = 1;
        }
        for (int d = 0; d < nd; d++)
            if (rnd(&r, 0, 2)) {
                axes[na] = rnd(&r, 0, 1) ? d : d - nd; /* negative too */
                starts[na] = rnd(&r, -8, 8);
                ends[na] = rnd(&r, 0, 5) ? rnd(&r, -8, 8)
                                         : (rnd(&r, 0, 1) ? INT64_MAX
                                                          : INT64_MIN);
                steps[na] = rnd(&r, 0, 1) ? rnd(&r, 1, 3) : -rnd(&r, 1, 3);
                onnx_slice(starts[na], ends[na], steps[na], xd[d], &first[d],
                         &cnt[d]);
                step[d] = steps[na];
                na++;
            }
        if (na == 0)
            continue;
        st[nd - 1] = 1;
        for (int d = nd - 2; d >= 0; d--)
            st[d] = st[d + 1] * xd[d + 1];
        one_init(&o);
        in[0] = add_in(&o, &r, nd, xd);
        in[1] = add_const_i64(&o, na, starts);
        in[2] = add_const_i64(&o, na, ends);
        in[3] = add_const_i64(&o, na, axes);
        in[4] = add_const_i64(&o, na, steps);
        add_node(&o, CLV_OP_SLICE, 5, in);
        y = run_one(&o, 1, &yt);
        CHECK(y != NULL);
        if (y) {
            int64_t want = 1, bad = 0;
            for (int d = 0; d < nd; d++)
                want *= cnt[d];
            CHECKF(clv_tensor_numel(yt) == want, "slice: %lld values, want "
                   "%lld", (long long)clv_tensor_numel(yt), (long long)want);
            if (clv_tensor_numel(yt) != want)
                for (int k = 0; k < na; k++)
                    fprintf(stderr, "  axis %lld (extent %lld) %lld:%lld:%lld\n",
                            (long long)axes[k],
                            (long long)xd[axes[k] < 0 ? axes[k] + nd : axes[k]],
                            (long long)starts[k], (long long)ends[k],
                            (long long)steps[k]);
            for (int64_t e = 0; e < want && clv_tensor_numel(yt) == want;
                 e++) {
                int64_t rest = e, off = 0;
                for (int d = nd - 1; d >= 0; d--) {
                    off += (first[d] + (rest % cnt[d]) * step[d]) * st[d];
                    rest /= cnt[d];
                }
                bad += y[e] != ((float *)o.data[0])[off];
            }
            CHECKF(bad == 0, "slice rank %d: %lld wrong", nd,
                   (long long)bad);
        }
        free(y);
        one_free(&o);
    }
    /* Pad: constant, edge, reflect */
    for (int it = 0; it < 18; it++) {
        static const char *const modes[] = {"constant", "edge", "reflect"};
        one o;
        int nd = (int)rnd(&r, 1, 4), in, m = it % 3;
        int64_t xd[4], pads[8], yd[4];
        const clv_tensor *yt;
        float *y;
        for (int d = 0; d < nd; d++) {
            xd[d] = rnd(&r, 2, 5);
            pads[d] = rnd(&r, 0, m == 2 ? xd[d] - 1 : 3);
            pads[nd + d] = rnd(&r, 0, m == 2 ? xd[d] - 1 : 3);
            yd[d] = xd[d] + pads[d] + pads[nd + d];
        }
        one_init(&o);
        in = add_in(&o, &r, nd, xd);
        add_node(&o, CLV_OP_PAD, 1, &in);
        clv_graph_set_string(o.g, o.node, "mode", modes[m]);
        clv_graph_set_ints(o.g, o.node, "pads", (size_t)(2 * nd), pads);
        clv_graph_set_float(o.g, o.node, "value", 1.5f);
        y = run_one(&o, 2, &yt);
        CHECK(y && clv_tensor_numel(yt) == numel(nd, yd));
        for (int64_t e = 0, bad = 0; y && e < numel(nd, yd); e++) {
            int64_t rest = e, off = 0;
            bool out = false;
            float want;
            for (int d = 0; d < nd; d++) {
                int64_t div = numel(nd - d - 1, yd + d + 1);
                int64_t i = rest / div - pads[d];
                rest %= div;
                if (i < 0 || i >= xd[d]) {
                    out = true;
                    if (m == 1)
                        i = i < 0 ? 0 : xd[d] - 1;
                    else if (m == 2)
                        i = i < 0 ? -i : 2 * (xd[d] - 1) - i;
                }
                off = off * xd[d] + (i < 0 || i >= xd[d] ? 0 : i);
            }
            want = out && m == 0 ? 1.5f : ((float *)o.data[0])[off];
            if (y[e] != want && bad++ == 0)
                CHECKF(0, "pad %s rank %d element %lld: %g, want %g",
                       modes[m], nd, (long long)e, (double)y[e],
                       (double)want);
        }
        free(y);
        one_free(&o);
    }
    /* Gather with int64 and int32 indices, negative ones, index ranks 0-2 */
    for (int it = 0; it < 12; it++) {
        one o;
        int nd = (int)rnd(&r, 1, 3), ni = (int)rnd(&r, 0, 2), in[2];
        int64_t xd[3], id[2] = {1, 1}, axis = rnd(&r, 0, nd - 1);
        int64_t idx64[6];
        int32_t idx32[6];
        bool i32 = it % 2;
        const clv_tensor *yt;
        float *y;
        for (int d = 0; d < nd; d++)
            xd[d] = rnd(&r, 1, 5);
        for (int d = 0; d < ni; d++)
            id[d] = rnd(&r, 1, 3);
        for (int k = 0; k < 6; k++) {
            idx64[k] = rnd(&r, -xd[axis], xd[axis] - 1);
            idx32[k] = (int32_t)idx64[k];
        }
        one_init(&o);
        in[0] = add_in(&o, &r, nd, xd);
        in[1] = add_in_raw(&o, i32 ? CLV_DT_INT32 : CLV_DT_INT64, ni, id,
                           i32 ? (const void *)idx32 : (const void *)idx64);
        add_node(&o, CLV_OP_GATHER, 2, in);
        clv_graph_set_int(o.g, o.node, "axis", axis);
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        if (y) {
            int64_t outer = numel((int)axis, xd), nidx = numel(ni, id);
            int64_t inner = numel(nd - (int)axis - 1, xd + axis + 1), bad = 0;
            CHECK(clv_tensor_numel(yt) == outer * nidx * inner);
            for (int64_t a = 0; a < outer; a++)
                for (int64_t j = 0; j < nidx; j++) {
                    int64_t k = idx64[j] < 0 ? idx64[j] + xd[axis] : idx64[j];
                    for (int64_t b = 0; b < inner; b++)
                        bad += y[(a * nidx + j) * inner + b] !=
                               ((float *)o.data[0])
                                   [(a * xd[axis] + k) * inner + b];
                }
            CHECKF(bad == 0, "gather: %lld wrong", (long long)bad);
        }
        free(y);
        /* an index out of range at run time */
        if (y) {
            clv_error err = {0};
            clv_engine *e = NULL;
            void *outs[1];
            const void *ins[2];
            float *buf = malloc(clv_tensor_bytes(yt));
            if (i32)
                ((int32_t *)o.data[1])[0] = (int32_t)xd[axis];
            else
                ((int64_t *)o.data[1])[0] = xd[axis];
            clv_engine_create(o.g, NULL, 0, NULL, &e, &err);
            ins[clv_engine_find_input(e, o.ins[0])] = o.data[0];
            ins[clv_engine_find_input(e, o.ins[1])] = o.data[1];
            outs[0] = buf;
            CHECKF(clv_engine_run(e, ins, outs, &err) == CLV_ERANGE &&
                       strstr(err.msg, "Gather index"),
                   "gather out of range: '%s'", err.msg);
            clv_engine_free(e);
            free(buf);
        }
        one_free(&o);
    }
    /* Concat and Split along every axis */
    for (int axis = 0; axis < 3; axis++) {
        one o;
        int64_t da[3] = {2, 3, 4}, db[3] = {2, 3, 4}, split[2];
        int in[2], outs[2], node = -1;
        const clv_tensor *yt;
        float *y;
        db[axis] = 5;
        one_init(&o);
        in[0] = add_in(&o, &r, 3, da);
        in[1] = add_in(&o, &r, 3, db);
        add_node(&o, CLV_OP_CONCAT, 2, in);
        clv_graph_set_int(o.g, o.node, "axis", axis - 3);
        /* split it back */
        outs[0] = add_t(&o);
        outs[1] = add_t(&o);
        clv_graph_add_node(o.g, NULL, CLV_OP_SPLIT, 1, &o.out, 2, outs,
                           &node, NULL);
        split[0] = da[axis];
        split[1] = db[axis];
        clv_graph_set_int(o.g, node, "axis", axis);
        clv_graph_set_ints(o.g, node, "split", 2, split);
        clv_graph_mark_output(o.g, outs[0]);
        clv_graph_mark_output(o.g, outs[1]);
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        if (y) {
            int64_t outer = numel(axis, da), bad = 0;
            int64_t ra = numel(3 - axis, da + axis),
                    rb = numel(3 - axis, db + axis);
            for (int64_t a = 0; a < outer; a++) {
                for (int64_t i = 0; i < ra; i++)
                    bad += y[a * (ra + rb) + i] !=
                           ((float *)o.data[0])[a * ra + i];
                for (int64_t i = 0; i < rb; i++)
                    bad += y[a * (ra + rb) + ra + i] !=
                           ((float *)o.data[1])[a * rb + i];
            }
            CHECKF(bad == 0, "concat axis %d: %lld wrong", axis,
                   (long long)bad);
        }
        free(y);
        /* the split outputs equal the concat inputs */
        {
            clv_error err = {0};
            clv_engine *e = NULL;
            const void *ins[2];
            void *ob[3];
            float *y0, *y1, *yc;
            clv_engine_create(o.g, NULL, 0, NULL, &e, &err);
            CHECK(e && clv_engine_n_outputs(e) == 3);
            yc = malloc(sizeof(float) * (size_t)(24 + numel(3, db)));
            y0 = malloc(sizeof(float) * 24);
            y1 = malloc(sizeof(float) * (size_t)numel(3, db));
            ob[0] = yc;
            ob[1] = y0;
            ob[2] = y1;
            ins[clv_engine_find_input(e, o.ins[0])] = o.data[0];
            ins[clv_engine_find_input(e, o.ins[1])] = o.data[1];
            CHECK(clv_engine_run(e, ins, ob, &err) == 0);
            CHECK(!memcmp(y0, o.data[0], 24 * sizeof(float)));
            CHECK(!memcmp(y1, o.data[1],
                          (size_t)numel(3, db) * sizeof(float)));
            clv_engine_free(e);
            free(yc);
            free(y0);
            free(y1);
        }
        one_free(&o);
    }
    /* Cast */
    {
        one o;
        int64_t d = 6;
        float x[6] = {1.9f, -1.9f, 3e9f, -3e9f, NAN, 0.0f};
        int32_t want[6] = {1, -1, INT32_MAX, INT32_MIN, 0, 0};
        const clv_tensor *yt;
        int in;
        int32_t *y;
        one_init(&o);
        in = add_in_raw(&o, CLV_DT_FLOAT, 1, &d, x);
        add_node(&o, CLV_OP_CAST, 1, &in);
        clv_graph_set_int(o.g, o.node, "to", CLV_DT_INT32);
        y = run_one(&o, 1, &yt);
        CHECK(y && yt->dtype == CLV_DT_INT32);
        for (int i = 0; y && i < 6; i++)
            CHECKF(y[i] == want[i], "cast float->int32 [%d] = %d", i,
                   (int)y[i]);
        free(y);
        one_free(&o);
    }
    {
        one o;
        int64_t d = 4, x[4] = {-3, 0, 7, (int64_t)1 << 40};
        const clv_tensor *yt;
        int in;
        float *y;
        unsigned char *yb;
        one_init(&o);
        in = add_in_raw(&o, CLV_DT_INT64, 1, &d, x);
        add_node(&o, CLV_OP_CAST, 1, &in);
        clv_graph_set_int(o.g, o.node, "to", CLV_DT_FLOAT);
        y = run_one(&o, 1, &yt);
        CHECK(y && y[0] == -3.0f && y[1] == 0.0f && y[2] == 7.0f &&
              y[3] == 1099511627776.0f);
        free(y);
        one_free(&o);
        one_init(&o);
        in = add_in_raw(&o, CLV_DT_INT64, 1, &d, x);
        add_node(&o, CLV_OP_CAST, 1, &in);
        clv_graph_set_int(o.g, o.node, "to", CLV_DT_BOOL);
        yb = run_one(&o, 1, &yt);
        CHECK(yb && yb[0] == 1 && yb[1] == 0 && yb[2] == 1 && yb[3] == 1);
        free(yb);
        one_free(&o);
    }
}

/* ---- Resize (ONNX's documented examples) --------------------------------- */

static void resize_case(const int64_t *xd, const float *x, const float *sc,
                        const int64_t *sizes, const char *ctm,
                        const char *nm, const float *want, int64_t nwant,
                        const char *label)
{
    one o;
    const clv_tensor *yt;
    int in[4];
    float *y;
    one_init(&o);
    in[0] = add_in_raw(&o, CLV_DT_FLOAT, 4, xd, x);
    if (sizes) {
        in[1] = -1;
        in[2] = -1;
        in[3] = add_const_i64(&o, 4, sizes);
        add_node(&o, CLV_OP_RESIZE, 4, in);
    } else {
        add_node(&o, CLV_OP_RESIZE, 1, in);
        clv_graph_set_floats(o.g, o.node, "scales", 4, sc);
    }
    clv_graph_set_string(o.g, o.node, "mode", "nearest");
    if (ctm)
        clv_graph_set_string(o.g, o.node, "coordinate_transformation_mode",
                             ctm);
    if (nm)
        clv_graph_set_string(o.g, o.node, "nearest_mode", nm);
    y = run_one(&o, 1, &yt);
    CHECKF(y && clv_tensor_numel(yt) == nwant, "%s: shape", label);
    if (y && clv_tensor_numel(yt) == nwant)
        for (int64_t i = 0; i < nwant; i++)
            if (y[i] != want[i]) {
                CHECKF(0, "%s: [%lld] = %g, want %g", label, (long long)i,
                       (double)y[i], (double)want[i]);
                break;
            }
    free(y);
    one_free(&o);
}

static void test_resize(void)
{
    static const int64_t d22[4] = {1, 1, 2, 2}, d24[4] = {1, 1, 2, 4};
    static const int64_t d44[4] = {1, 1, 4, 4};
    static const float x22[4] = {1, 2, 3, 4};
    static const float x24[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float x44[16];
    /* test_resize_upsample_scales_nearest */
    {
        static const float sc[4] = {1, 1, 2, 3};
        static const float want[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                       3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
        resize_case(d22, x22, sc, NULL, NULL, NULL, want, 24,
                    "resize upsample scales");
    }
    /* test_resize_downsample_scales_nearest */
    {
        static const float sc[4] = {1, 1, 0.6f, 0.6f};
        static const float want[2] = {1, 3};
        resize_case(d24, x24, sc, NULL, NULL, NULL, want, 2,
                    "resize downsample scales");
    }
    /* test_resize_upsample_sizes_nearest: 2x2 -> 7x8 */
    {
        static const int64_t sz[4] = {1, 1, 7, 8};
        float want[56];
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 8; j++)
                want[i * 8 + j] = (float)((i < 4 ? 1 : 3) + (j < 4 ? 0 : 1));
        resize_case(d22, x22, NULL, sz, NULL, NULL, want, 56,
                    "resize upsample sizes");
    }
    for (int i = 0; i < 16; i++)
        x44[i] = (float)(i + 1);
    /* test_resize_upsample_sizes_nearest_ceil_half_pixel,
     * ..._floor_align_corners, ..._round_prefer_ceil_asymmetric: 4x4 -> 8x8
     * with input rows (and columns) picked as listed */
    {
        static const int64_t sz[4] = {1, 1, 8, 8};
        static const int ceil_map[8] = {0, 1, 1, 2, 2, 3, 3, 3};
        static const int floor_map[8] = {0, 0, 0, 1, 1, 2, 2, 3};
        float want_ceil[64], want_floor[64];
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++) {
                want_ceil[i * 8 + j] = x44[ceil_map[i] * 4 + ceil_map[j]];
                want_floor[i * 8 + j] = x44[floor_map[i] * 4 + floor_map[j]];
            }
        resize_case(d44, x44, NULL, sz, "half_pixel", "ceil", want_ceil, 64,
                    "resize ceil half_pixel");
        resize_case(d44, x44, NULL, sz, "align_corners", "floor", want_floor,
                    64, "resize floor align_corners");
        resize_case(d44, x44, NULL, sz, "asymmetric", "round_prefer_ceil",
                    want_ceil, 64, "resize round_prefer_ceil asymmetric");
    }
}

/* ---- darknet's layers ------------------------------------------------------ */

typedef void (*reorg_fn)(float *, int, int, int, int, int, int, float *);
typedef void (*softmax_fn)(float *, int, int, int, int, int, int, float,
                           float *);
typedef void (*activate_fn)(float *, const int, const int);

static void test_darknet(void)
{
    void *dk = dlopen("/usr/lib/darknet/libdarknet.so", RTLD_NOW);
    reorg_fn reorg = NULL;
    softmax_fn smax = NULL;
    activate_fn act = NULL;
    clv_rng r;
    clv_rng_seed(&r, 17);
    if (dk) {
        *(void **)&reorg = dlsym(dk, "reorg_cpu");
        *(void **)&smax = dlsym(dk, "softmax_cpu");
        *(void **)&act = dlsym(dk, "activate_array");
    } else {
        printf("libdarknet.so not found: darknet's own functions are not "
               "compared\n");
    }
    /* Reorg, yolov2's shape scaled down: 2 x 16 x 6 x 4, stride 2 */
    {
        one o;
        int64_t xd[4] = {2, 16, 6, 4};
        const clv_tensor *yt;
        int in;
        float *y;
        one_init(&o);
        in = add_in(&o, &r, 4, xd);
        add_node(&o, CLV_OP_REORG, 1, &in);
        clv_graph_set_int(o.g, o.node, "stride", 2);
        y = run_one(&o, 2, &yt);
        CHECK(y && yt->dims[1] == 64 && yt->dims[2] == 3 && yt->dims[3] == 2);
        if (y) {
            const float *x = o.data[0];
            int64_t bad = 0;
            /* the formula of darknet's reorg_cpu(forward = 0) */
            for (int b = 0; b < 2; b++)
                for (int k = 0; k < 16; k++)
                    for (int j = 0; j < 6; j++)
                        for (int i = 0; i < 4; i++) {
                            int oc = 16 / 4, c2 = k % oc, off = k / oc;
                            int w2 = i * 2 + off % 2, h2 = j * 2 + off / 2;
                            int in_i = i + 4 * (j + 6 * (k + 16 * b));
                            int out_i = w2 + 4 * 2 * (h2 + 6 * 2 * (c2 + oc * b));
                            bad += y[in_i] != x[out_i];
                        }
            CHECKF(bad == 0, "reorg formula: %lld wrong", (long long)bad);
            if (reorg) {
                float *want = malloc(sizeof(float) * 768);
                reorg((float *)x, 4, 6, 16, 2, 2, 0, want);
                CHECK(!memcmp(want, y, sizeof(float) * 768));
                free(want);
            }
        }
        free(y);
        one_free(&o);
    }
    /* Region (5 anchors, 4 coords, 3 classes) and Yolo (3 anchors of 4) */
    for (int yolo = 0; yolo < 2; yolo++) {
        one o;
        int64_t classes = 3, anchors = yolo ? 3 : 5, per = classes + 5;
        int64_t xd[4] = {2, anchors * per, 3, 4}, hw = 12;
        int64_t mask[3] = {1, 2, 3};
        const clv_tensor *yt;
        int in;
        float *y;
        one_init(&o);
        in = add_in(&o, &r, 4, xd);
        for (int64_t i = 0; i < numel(4, xd); i++)
            ((float *)o.data[0])[i] *= 4.0f;
        add_node(&o, yolo ? CLV_OP_YOLO : CLV_OP_REGION, 1, &in);
        clv_graph_set_int(o.g, o.node, "classes", classes);
        if (yolo) {
            clv_graph_set_int(o.g, o.node, "num", 4);
            clv_graph_set_ints(o.g, o.node, "mask", 3, mask);
        } else {
            clv_graph_set_int(o.g, o.node, "coords", 4);
            clv_graph_set_int(o.g, o.node, "num", anchors);
        }
        y = run_one(&o, 2, &yt);
        CHECK(y != NULL);
        if (y) {
            const float *x = o.data[0];
            int64_t n = numel(4, xd), bad = 0;
            float *want = malloc((size_t)n * sizeof *want);
            memcpy(want, x, (size_t)n * sizeof *want);
            for (int64_t b = 0; b < 2; b++)
                for (int64_t a = 0; a < anchors; a++) {
                    float *blk = want + (b * anchors + a) * per * hw;
                    const float *xb = x + (b * anchors + a) * per * hw;
                    for (int64_t c = 0; c < per; c++)
                        for (int64_t i = 0; i < hw; i++) {
                            bool logistic = c < 2 || c == 4 ||
                                            (yolo && c > 4);
                            if (logistic)
                                blk[c * hw + i] = (float)(
                                    1.0 / (1.0 + exp(-(double)xb[c * hw + i])));
                        }
                    if (!yolo) /* softmax over the classes at each cell */
                        for (int64_t i = 0; i < hw; i++) {
                            double m = -INFINITY, s = 0;
                            for (int64_t c = 5; c < per; c++)
                                m = fmax(m, xb[c * hw + i]);
                            for (int64_t c = 5; c < per; c++)
                                s += exp(xb[c * hw + i] - m);
                            for (int64_t c = 5; c < per; c++)
                                blk[c * hw + i] =
                                    (float)(exp(xb[c * hw + i] - m) / s);
                        }
                }
            for (int64_t i = 0; i < n; i++)
                bad += fabsf(y[i] - want[i]) > 1e-6f;
            CHECKF(bad == 0, "%s: %lld wrong", yolo ? "yolo" : "region",
                   (long long)bad);
            /* darknet's own functions, called as forward_region_layer and
             * forward_yolo_layer call them (LOGISTIC is 0 in darknet.h) */
            if (act && smax) {
                memcpy(want, x, (size_t)n * sizeof *want);
                for (int64_t b = 0; b < 2; b++)
                    for (int64_t a = 0; a < anchors; a++) {
                        float *blk = want + (b * anchors + a) * per * hw;
                        act(blk, (int)(2 * hw), 0);
                        act(blk + 4 * hw, (int)((yolo ? 1 + classes : 1) * hw),
                            0);
                    }
                if (!yolo)
                    smax((float *)x + 5 * hw, (int)classes, (int)(2 * anchors),
                         (int)(n / 2 / anchors), (int)hw, 1, (int)hw, 1.0f,
                         want + 5 * hw);
                /* Debian builds darknet with -Ofast: a division may become
                 * a multiplication by the reciprocal, so allow 2 ulp */
                bad = 0;
                for (int64_t i = 0; i < n; i++)
                    bad += fabsf(y[i] - want[i]) >
                           2.5e-7f * fabsf(want[i]);
                CHECKF(bad == 0, "%s vs libdarknet: %lld differ",
                       yolo ? "yolo" : "region", (long long)bad);
            }
            free(want);
        }
        free(y);
        one_free(&o);
    }
    if (dk)
        dlclose(dk);
}

/* ---- the engine: subsets, fusion, aliasing, errors ------------------------- */

/* A small DAG with a fusable chain, a branch, a view op and a head:
 *   x -> conv0 -> bn0 -> relu0 -+-> conv1 --+-> add -> reshape -> fc -> relu1
 *                               +-> sigm ---+
 * Outputs: relu1's and conv1's. */
static clv_graph *small_dag(uint64_t seed)
{
    one o;
    clv_rng r;
    int64_t xd[4] = {1, 4, 6, 6}, w0[4] = {8, 4, 3, 3}, c8 = 8;
    int64_t w1[4] = {8, 8, 1, 1}, wf[2] = {288, 10};
    int64_t shape[2] = {1, 288}, pads[4] = {1, 1, 1, 1};
    int in[5], t[12], id;
    clv_graph *g;

    clv_rng_seed(&r, seed);
    one_init(&o);
    g = o.g;
    in[0] = add_in(&o, &r, 4, xd);
    for (int i = 0; i < 12; i++)
        t[i] = add_t(&o);
    in[1] = add_const(&o, &r, 4, w0, -0.5f, 0.5f, NULL);
    in[2] = add_const(&o, &r, 1, &c8, -0.5f, 0.5f, NULL);
    clv_graph_add_node(g, "conv0", CLV_OP_CONV, 3, in, 1, &t[0], &id, NULL);
    clv_graph_set_ints(g, id, "pads", 4, pads);
    in[0] = t[0];
    for (int k = 1; k <= 4; k++)
        in[k] = add_const(&o, &r, 1, &c8, k == 4 ? 0.5f : -1.0f, 1.0f, NULL);
    clv_graph_add_node(g, "bn0", CLV_OP_BATCHNORM, 5, in, 1, &t[1], &id,
                       NULL);
    clv_graph_add_node(g, "relu0", CLV_OP_RELU, 1, &t[1], 1, &t[2], &id,
                       NULL);
    in[0] = t[2];
    in[1] = add_const(&o, &r, 4, w1, -0.5f, 0.5f, NULL);
    clv_graph_add_node(g, "conv1", CLV_OP_CONV, 2, in, 1, &t[3], &id, NULL);
    clv_graph_add_node(g, "sigm", CLV_OP_SIGMOID, 1, &t[2], 1, &t[4], &id,
                       NULL);
    in[0] = t[3];
    in[1] = t[4];
    clv_graph_add_node(g, "add", CLV_OP_ADD, 2, in, 1, &t[5], &id, NULL);
    in[0] = t[5];
    in[1] = add_const_i64(&o, 2, shape);
    clv_graph_add_node(g, "reshape", CLV_OP_RESHAPE, 2, in, 1, &t[6], &id,
                       NULL);
    in[0] = t[6];
    in[1] = add_const(&o, &r, 2, wf, -0.1f, 0.1f, NULL);
    clv_graph_add_node(g, "fc", CLV_OP_GEMM, 2, in, 1, &t[7], &id, NULL);
    clv_graph_add_node(g, "relu1", CLV_OP_RELU, 1, &t[7], 1, &t[8], &id,
                       NULL);
    clv_graph_mark_output(g, t[8]);
    clv_graph_mark_output(g, t[3]);
    if (clv_graph_finalize(g, NULL)) {
        one_free(&o);
        return NULL;
    }
    for (int i = 0; i < o.n_ins; i++)
        free(o.data[i]);
    return g;
}

static int node_named(const clv_graph *g, const char *name)
{
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        if (!strcmp(clv_graph_node(g, i)->name, name))
            return i;
    return -1;
}

static int tensor_of(const clv_graph *g, const char *node)
{
    return clv_graph_node(g, node_named(g, node))->outputs[0];
}

/* Runs nodes (NULL: all) with the given tensor values; values[t] is read
 * for inputs and filled for outputs (malloc'd). */
static int run_part(const clv_graph *g, const int *nodes, int n,
                    const clv_engine_options *opt, void **values,
                    clv_engine **keep)
{
    clv_error err = {0};
    clv_engine *e = NULL;
    const void *ins[64];
    void *outs[64];
    int rc = clv_engine_create(g, nodes, n, opt, &e, &err);
    if (rc) {
        fprintf(stderr, "create: %s\n", clv_error_text(&err, rc));
        return rc;
    }
    for (int i = 0; i < clv_engine_n_inputs(e); i++)
        ins[i] = values[clv_engine_input(e, i)];
    for (int i = 0; i < clv_engine_n_outputs(e); i++) {
        int t = clv_engine_output(e, i);
        free(values[t]);
        values[t] = malloc(clv_tensor_bytes(clv_graph_tensor(g, t)) + 1);
        outs[i] = values[t];
    }
    rc = clv_engine_run(e, ins, outs, &err);
    if (rc)
        fprintf(stderr, "run: %s\n", clv_error_text(&err, rc));
    if (keep)
        *keep = e;
    else
        clv_engine_free(e);
    return rc;
}

static void test_engine_api(void)
{
    clv_graph *g = small_dag(21);
    int nt, nn, x;
    void **whole, **nofuse;
    clv_engine *e = NULL;
    clv_engine_options nf = {0};
    clv_rng r;

    CHECK(g != NULL);
    if (!g)
        return;
    nt = clv_graph_n_tensors(g);
    nn = clv_graph_n_nodes(g);
    x = clv_graph_input(g, 0);
    whole = calloc((size_t)nt, sizeof *whole);
    nofuse = calloc((size_t)nt, sizeof *nofuse);
    whole[x] = malloc(clv_tensor_bytes(clv_graph_tensor(g, x)));
    clv_rng_seed(&r, 3);
    clv_rng_fill_uniform(&r, whole[x],
                         (size_t)clv_tensor_numel(clv_graph_tensor(g, x)),
                         -1.0f, 1.0f);
    nofuse[x] = whole[x];

    /* whole graph: the interface is the graph's; fusion happened */
    CHECK(run_part(g, NULL, 0, NULL, whole, &e) == 0);
    if (e) {
        int conv0 = node_named(g, "conv0"), fc = node_named(g, "fc");
        CHECK(clv_engine_n_inputs(e) == 1 && clv_engine_input(e, 0) == x);
        CHECK(clv_engine_n_outputs(e) == 2 &&
              clv_engine_output(e, 0) == clv_graph_output(g, 0) &&
              clv_engine_output(e, 1) == clv_graph_output(g, 1));
        CHECK(clv_engine_n_nodes(e) == nn);
        CHECK(clv_engine_fused_into(e, node_named(g, "bn0")) == conv0);
        CHECK(clv_engine_fused_into(e, node_named(g, "relu0")) == conv0);
        CHECK(clv_engine_fused_into(e, node_named(g, "relu1")) == fc);
        CHECK(clv_engine_fused_into(e, node_named(g, "sigm")) ==
              node_named(g, "sigm"));
        CHECK(clv_engine_threads(e) == 1);
        clv_engine_free(e);
    }
    /* no fusion: the same bits */
    nf.no_fuse = true;
    CHECK(run_part(g, NULL, 0, &nf, nofuse, NULL) == 0);
    for (int i = 0; i < 2; i++) {
        int t = clv_graph_output(g, i);
        CHECKF(whole[t] && nofuse[t] &&
                   !memcmp(whole[t], nofuse[t],
                           clv_tensor_bytes(clv_graph_tensor(g, t))),
               "fused and unfused output %d differ", i);
    }

    /* a subset that cuts the fusable chain: conv0 and bn0 alone */
    {
        int sub[2] = {node_named(g, "bn0"), node_named(g, "conv0")};
        clv_error err = {0};
        CHECK(clv_engine_create(g, sub, 2, NULL, &e, &err) == 0);
        if (e) {
            CHECK(clv_engine_n_inputs(e) == 1 && clv_engine_input(e, 0) == x);
            CHECK(clv_engine_n_outputs(e) == 1 &&
                  clv_engine_output(e, 0) == tensor_of(g, "bn0"));
            CHECK(clv_engine_fused_into(e, 1) == 0);
            CHECK(clv_engine_find_input(e, x) == 0);
            CHECK(clv_engine_find_output(e, x) == -1);
            clv_engine_free(e);
        }
    }
    /* the head alone: inputs are conv1 and sigm's outputs */
    {
        int sub[4] = {node_named(g, "add"), node_named(g, "reshape"),
                      node_named(g, "fc"), node_named(g, "relu1")};
        clv_error err = {0};
        CHECK(clv_engine_create(g, sub, 4, NULL, &e, &err) == 0);
        if (e) {
            CHECK(clv_engine_n_inputs(e) == 2);
            CHECK(clv_engine_find_input(e, tensor_of(g, "conv1")) >= 0);
            CHECK(clv_engine_find_input(e, tensor_of(g, "sigm")) >= 0);
            CHECK(clv_engine_n_outputs(e) == 1 &&
                  clv_engine_output(e, 0) == clv_graph_output(g, 0));
            clv_engine_free(e);
        }
    }

    /* every partition into a prefix (closed under predecessors in
     * topological order) and the rest: bit-identical to the whole */
    for (int cut = 0; cut <= nn; cut++) {
        int *edge = malloc(sizeof(int) * (size_t)(nn + 1));
        int *cloud = malloc(sizeof(int) * (size_t)(nn + 1));
        void **v = calloc((size_t)nt, sizeof *v);
        int ne = 0, nc = 0;
        clv_engine_options opt = {0};
        for (int i = 0; i < nn; i++) {
            if (i < cut)
                edge[ne++] = i;
            else
                cloud[nc++] = i;
        }
        v[x] = whole[x];
        opt.threads = 1 + cut % 3;
        CHECK(run_part(g, edge, ne, &opt, v, NULL) == 0);
        CHECK(run_part(g, cloud, nc, &opt, v, NULL) == 0);
        for (int i = 0; i < 2; i++) {
            int t = clv_graph_output(g, i);
            CHECKF(v[t] && !memcmp(v[t], whole[t],
                                   clv_tensor_bytes(clv_graph_tensor(g, t))),
                   "cut after %d: output %d differs", cut, i);
        }
        for (int t = 0; t < nt; t++)
            if (t != x)
                free(v[t]);
        free(v);
        free(edge);
        free(cloud);
    }

    /* errors */
    {
        clv_error err = {0};
        clv_engine_options bad = {0};
        int sub[2] = {0, 0}, oor = nn;
        clv_graph *raw = clv_graph_create();
        CHECK(clv_engine_create(raw, NULL, 0, NULL, &e, &err) == CLV_EINVAL &&
              e == NULL);
        clv_graph_free(raw);
        CHECK(clv_engine_create(g, sub, 2, NULL, &e, &err) == CLV_EINVAL &&
              strstr(err.msg, "twice"));
        CHECK(clv_engine_create(g, &oor, 1, NULL, &e, &err) == CLV_EINVAL &&
              strstr(err.msg, "out of range"));
        bad.threads = CLV_ENGINE_MAX_THREADS + 1;
        CHECK(clv_engine_create(g, NULL, 0, &bad, &e, &err) == CLV_EINVAL);
        CHECK(clv_engine_create(g, NULL, 0, NULL, &e, &err) == 0);
        if (e) {
            void *outs[2] = {NULL, NULL};
            const void *ins[1] = {NULL};
            CHECK(clv_engine_run(e, ins, outs, &err) == CLV_EINVAL &&
                  strstr(err.msg, "input"));
            clv_engine_free(e);
        }
        /* an empty subset does nothing and succeeds */
        CHECK(clv_engine_create(g, sub, 0, NULL, &e, &err) == 0 && e &&
              clv_engine_n_inputs(e) == 0 && clv_engine_n_outputs(e) == 0 &&
              clv_engine_run(e, NULL, NULL, &err) == 0);
        clv_engine_free(e);
        clv_engine_free(NULL);
    }

    /* a graph output that is a graph input is copied */
    {
        one o;
        int64_t d = 5;
        float v[5] = {1, 2, 3, 4, 5}, out[5] = {0}, out2[5] = {0};
        int in, relu_out = -1;
        clv_error err = {0};
        one_init(&o);
        in = add_in_raw(&o, CLV_DT_FLOAT, 1, &d, v);
        add_node(&o, CLV_OP_RELU, 1, &in);
        relu_out = o.out;
        clv_graph_mark_output(o.g, in);
        CHECK(clv_graph_finalize(o.g, &err) == 0);
        CHECK(clv_engine_create(o.g, NULL, 0, NULL, &e, &err) == 0);
        if (e) {
            const void *ins[1] = {v};
            void *outs[2];
            outs[clv_engine_find_output(e, relu_out)] = out;
            outs[clv_engine_find_output(e, in)] = out2;
            CHECK(clv_engine_run(e, ins, outs, &err) == 0);
            CHECK(!memcmp(out, v, sizeof v) && !memcmp(out2, v, sizeof v));
            clv_engine_free(e);
        }
        one_free(&o);
    }

    /* no allocation per run (glibc's count of bytes in use) */
    {
        clv_engine_options two = {0};
        void *outs[2];
        const void *ins[1] = {whole[x]};
        clv_error err = {0};
        struct mallinfo2 m0, m1;
        two.threads = 2;
        CHECK(clv_engine_create(g, NULL, 0, &two, &e, &err) == 0);
        if (e) {
            outs[0] = malloc(4096);
            outs[1] = malloc(4096);
            clv_engine_run(e, ins, outs, &err);
            m0 = mallinfo2();
            for (int i = 0; i < 5; i++)
                clv_engine_run(e, ins, outs, &err);
            m1 = mallinfo2();
            CHECKF(m0.uordblks == m1.uordblks,
                   "runs changed the heap: %zu -> %zu bytes", m0.uordblks,
                   m1.uordblks);
            free(outs[0]);
            free(outs[1]);
            clv_engine_free(e);
        }
    }

    for (int t = 0; t < nt; t++) {
        free(whole[t]);
        if (t != x)
            free(nofuse[t]);
    }
    free(whole);
    free(nofuse);
    clv_graph_free(g);
}

/* Engines sharing a store of packed weights: the same bits as an engine
 * of its own, one copy of the weights for two engines, freed with the
 * last of them. */
static void test_shared_weights(void)
{
    clv_graph *g = NULL;
    CHECK(clv_zoo_build("resnet18", 1, 64, &g, NULL) == 0);
    if (!g)
        return;
    clv_engine_weights *w = clv_engine_weights_create();
    clv_engine_options so = {0};
    so.shared = w;
    clv_engine *own = NULL, *a = NULL, *b = NULL;
    CHECK(clv_engine_create(g, NULL, 0, NULL, &own, NULL) == 0);
    CHECK(clv_engine_create(g, NULL, 0, &so, &a, NULL) == 0);
    uint64_t one = clv_engine_weights_bytes(w);
    CHECK(clv_engine_create(g, NULL, 0, &so, &b, NULL) == 0);
    /* weights are packed (and so shared) only for the SIMD kernels; the
     * portable ones (aarch64 today) read the model's own arrays */
    bool packs = clv_engine__simd_ok();
    CHECKF((packs ? one > 10u << 20 : one == 0) &&
               clv_engine_weights_bytes(w) == one,
           "store: %llu then %llu bytes (packing: %d)",
           (unsigned long long)one,
           (unsigned long long)clv_engine_weights_bytes(w), (int)packs);
    CHECK(a && own && clv_engine_own_bytes(a) + one / 2 <=
                          clv_engine_own_bytes(own) &&
          (!packs || clv_engine_own_bytes(a) < clv_engine_own_bytes(own)));
    const clv_tensor *in = clv_graph_tensor(g, clv_graph_input(g, 0));
    const clv_tensor *out = clv_graph_tensor(g, clv_graph_output(g, 0));
    size_t ni = (size_t)clv_tensor_bytes(in), no = (size_t)clv_tensor_bytes(out);
    float *x = malloc(ni);
    for (size_t i = 0; i < ni / 4; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    void *y[3] = {malloc(no), malloc(no), malloc(no)};
    clv_engine *e[3] = {own, a, b};
    const void *ins[1] = {x};
    for (int k = 0; k < 3; k++)
        CHECK(e[k] && clv_engine_run(e[k], ins, &y[k], NULL) == 0);
    CHECK(memcmp(y[0], y[1], no) == 0 && memcmp(y[0], y[2], no) == 0);
    clv_engine_free(a);
    CHECK(clv_engine_weights_bytes(w) == one);
    clv_engine_free(b);
    CHECK(clv_engine_weights_bytes(w) == 0);
    clv_engine_free(own);
    clv_engine_weights_free(w);
    for (int k = 0; k < 3; k++)
        free(y[k]);
    free(x);
    clv_graph_free(g);
}

int main(void)
{
    test_conv();
    test_pools();
    test_binary();
    test_softmax_lrn_bn();
    test_gemm();
    test_movement();
    test_resize();
    test_darknet();
    test_engine_api();
    test_shared_weights();
    return check_report("test_engine");
}
