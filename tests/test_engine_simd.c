/*
 * The engine's AVX2 + FMA kernels (src/engine/gemm_avx2.c, the WIDE, PACK
 * and TRANS convolutions, the depthwise and MaxPool kernels) against a
 * double-precision reference and against the portable paths
 * (CLEAVE_ENGINE_GENERIC=1: OpenBLAS and plain C), on shapes chosen to hit
 * their edges: several K blocks, channel and pixel counts that are not
 * multiples of the tiles (6, 8, 16), groups, strides, dilations,
 * asymmetric pads, two images, every fused epilogue (bias,
 * BatchNormalization, Relu, LeakyRelu, Clip, and Sigmoid, which the
 * vector epilogue leaves to the scalar one).
 *
 * Besides the tolerance against the reference (1e-4 of the sum of the
 * absolute terms), each case checks bits: 1, 2 and 3 threads give the
 * same output, and running the convolution alone and then its
 * BatchNormalization and activation as a second engine (the cut a
 * partition makes) gives the same output as the fused kernel. MaxPool
 * takes the maximum, which is exact: the SIMD and portable paths must
 * agree bit for bit, NaN included.
 *
 * On a CPU without AVX2 and FMA both runs take the portable paths; the
 * test says so and still checks them.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/engine.h"
#include "cleave/graph.h"
#include "engine/internal.h"
#include "util/util.h"

typedef enum act { A_NONE, A_RELU, A_LEAKY, A_CLIP, A_SIGMOID } act;

typedef struct conv_case {
    const char *name;
    int64_t n, c, m, group;
    int64_t h, w, kh, kw, sh, sw, dh, dw;
    int64_t pt, pl, pb, pr; /* pads: top, left, bottom, right */
    bool bias, bn;
    act a;
} conv_case;

/* The graph of one case: X -> Conv [-> BatchNormalization] [-> act]; the
 * node indices of the chain in nodes[0..*n_nodes). */
typedef struct built {
    clv_graph *g;
    float *x, *w, *b, *bn[4];
    int x_id, nodes[3], n_nodes;
    int64_t oh, ow;
} built;

static int64_t rnd(clv_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(clv_rng_next(r) % (uint64_t)(hi - lo + 1));
}

static int add_const(clv_graph *g, clv_rng *r, int nd, const int64_t *d,
                     float lo, float hi, float **data, int *k)
{
    char name[32];
    int id = -1;
    void *p = NULL;
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= d[i];
    snprintf(name, sizeof name, "c%d", (*k)++);
    clv_graph_add_tensor(g, name, CLV_DT_FLOAT, nd, d, &id, NULL);
    clv_graph_alloc_data(g, id, &p, NULL);
    clv_rng_fill_uniform(r, p, (size_t)n, lo, hi);
    *data = p;
    return id;
}

static int add_out(clv_graph *g, int *k)
{
    char name[32];
    int id = -1;
    snprintf(name, sizeof name, "t%d", (*k)++);
    clv_graph_add_tensor(g, name, CLV_DT_UNDEFINED, -1, NULL, &id, NULL);
    return id;
}

static bool build(const conv_case *cc, clv_rng *r, built *b)
{
    int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w};
    int64_t wd[4] = {cc->m, cc->c / cc->group, cc->kh, cc->kw};
    int64_t ks[2] = {cc->kh, cc->kw}, st[2] = {cc->sh, cc->sw};
    int64_t dl[2] = {cc->dh, cc->dw};
    int64_t pads[4] = {cc->pt, cc->pl, cc->pb, cc->pr};
    int in[5], k = 0, cur, id;
    clv_error err = {0};
    int64_t nx = cc->n * cc->c * cc->h * cc->w;

    memset(b, 0, sizeof *b);
    b->g = clv_graph_create();
    clv_graph_add_tensor(b->g, "x", CLV_DT_FLOAT, 4, xd, &b->x_id, NULL);
    clv_graph_mark_input(b->g, b->x_id);
    b->x = malloc((size_t)nx * sizeof *b->x);
    clv_rng_fill_uniform(r, b->x, (size_t)nx, -1.0f, 1.0f);
    in[0] = b->x_id;
    in[1] = add_const(b->g, r, 4, wd, -0.5f, 0.5f, &b->w, &k);
    if (cc->bias)
        in[2] = add_const(b->g, r, 1, &cc->m, -1.0f, 1.0f, &b->b, &k);
    cur = add_out(b->g, &k);
    clv_graph_add_node(b->g, "conv", CLV_OP_CONV, cc->bias ? 3 : 2, in, 1,
                       &cur, &id, NULL);
    clv_graph_set_ints(b->g, id, "kernel_shape", 2, ks);
    clv_graph_set_ints(b->g, id, "strides", 2, st);
    clv_graph_set_ints(b->g, id, "dilations", 2, dl);
    clv_graph_set_ints(b->g, id, "pads", 4, pads);
    clv_graph_set_int(b->g, id, "group", cc->group);
    b->nodes[b->n_nodes++] = id;
    if (cc->bn) {
        int y = add_out(b->g, &k);
        in[0] = cur;
        in[1] = add_const(b->g, r, 1, &cc->m, 0.5f, 1.5f, &b->bn[0], &k);
        in[2] = add_const(b->g, r, 1, &cc->m, -0.5f, 0.5f, &b->bn[1], &k);
        in[3] = add_const(b->g, r, 1, &cc->m, -0.5f, 0.5f, &b->bn[2], &k);
        in[4] = add_const(b->g, r, 1, &cc->m, 0.2f, 2.0f, &b->bn[3], &k);
        clv_graph_add_node(b->g, "bn", CLV_OP_BATCHNORM, 5, in, 1, &y, &id,
                           NULL);
        clv_graph_set_float(b->g, id, "epsilon", 1e-5f);
        b->nodes[b->n_nodes++] = id;
        cur = y;
    }
    if (cc->a != A_NONE) {
        static const clv_op ops[] = {CLV_OP_RELU, CLV_OP_RELU,
                                     CLV_OP_LEAKYRELU, CLV_OP_CLIP,
                                     CLV_OP_SIGMOID};
        int y = add_out(b->g, &k);
        clv_graph_add_node(b->g, "act", ops[cc->a], 1, &cur, 1, &y, &id,
                           NULL);
        if (cc->a == A_LEAKY)
            clv_graph_set_float(b->g, id, "alpha", 0.1f);
        if (cc->a == A_CLIP) {
            clv_graph_set_float(b->g, id, "min", 0.0f);
            clv_graph_set_float(b->g, id, "max", 0.4f);
        }
        b->nodes[b->n_nodes++] = id;
        cur = y;
    }
    clv_graph_mark_output(b->g, cur);
    if (clv_graph_finalize(b->g, &err)) {
        fprintf(stderr, "%s: finalize: %s\n", cc->name, err.msg);
        return false;
    }
    b->oh = (cc->h + cc->pt + cc->pb - (cc->kh - 1) * cc->dh - 1) / cc->sh + 1;
    b->ow = (cc->w + cc->pl + cc->pr - (cc->kw - 1) * cc->dw - 1) / cc->sw + 1;
    return true;
}

static void built_free(built *b)
{
    free(b->x);
    clv_graph_free(b->g);
}

/* The reference: y and a tolerance per value. */
static void reference(const conv_case *cc, const built *b, double *y,
                      double *tol)
{
    int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
    for (int64_t n = 0; n < cc->n; n++)
        for (int64_t m = 0; m < cc->m; m++)
            for (int64_t oy = 0; oy < b->oh; oy++)
                for (int64_t ox = 0; ox < b->ow; ox++) {
                    double acc = b->b ? b->b[m] : 0.0;
                    double mag = fabs(acc);
                    int64_t i = ((n * cc->m + m) * b->oh + oy) * b->ow + ox;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t ky = 0; ky < cc->kh; ky++)
                            for (int64_t kx = 0; kx < cc->kw; kx++) {
                                int64_t iy = oy * cc->sh - cc->pt + ky * cc->dh;
                                int64_t ix = ox * cc->sw - cc->pl + kx * cc->dw;
                                int64_t gc = (m / mg) * cg + c;
                                double t;
                                if (iy < 0 || iy >= cc->h || ix < 0 ||
                                    ix >= cc->w)
                                    continue;
                                t = (double)b->x[((n * cc->c + gc) * cc->h +
                                                  iy) * cc->w + ix] *
                                    (double)b->w[((m * cg + c) * cc->kh +
                                                  ky) * cc->kw + kx];
                                acc += t;
                                mag += fabs(t);
                            }
                    if (cc->bn) {
                        double s = b->bn[0][m] / sqrt(b->bn[3][m] + 1e-5);
                        acc = (acc - b->bn[2][m]) * s + b->bn[1][m];
                        mag = mag * fabs(s) + fabs(b->bn[2][m] * s) +
                              fabs(b->bn[1][m]);
                    }
                    switch (cc->a) {
                    case A_RELU:
                        acc = acc < 0 ? 0 : acc;
                        break;
                    case A_LEAKY:
                        acc = acc < 0 ? 0.1 * acc : acc;
                        break;
                    case A_CLIP:
                        acc = acc < 0 ? 0 : acc > 0.4 ? 0.4 : acc;
                        break;
                    case A_SIGMOID:
                        acc = 1.0 / (1.0 + exp(-acc));
                        break;
                    default:
                        break;
                    }
                    y[i] = acc;
                    tol[i] = 1e-4 * mag + 1e-6;
                }
}

/* Runs nodes (NULL: all) of b's graph on `threads` threads, the portable
 * paths when generic; feeds `x` to the engine's single input and returns
 * a copy of its single output (NULL on failure). */
static float *run(const built *b, const int *nodes, int n_nodes,
                  const void *x, int threads, bool generic)
{
    clv_error err = {0};
    clv_engine_options opt = {0};
    clv_engine *e = NULL;
    float *y;
    const void *in[1];
    void *out[1];
    int rc;

    if (generic)
        setenv("CLEAVE_ENGINE_GENERIC", "1", 1);
    else
        unsetenv("CLEAVE_ENGINE_GENERIC");
    opt.threads = threads;
    rc = clv_engine_create(b->g, nodes, n_nodes, &opt, &e, &err);
    unsetenv("CLEAVE_ENGINE_GENERIC");
    if (rc) {
        fprintf(stderr, "create: %s\n", clv_error_text(&err, rc));
        return NULL;
    }
    if (clv_engine_n_inputs(e) != 1 || clv_engine_n_outputs(e) != 1) {
        clv_engine_free(e);
        return NULL;
    }
    y = malloc(clv_tensor_bytes(
        clv_graph_tensor(b->g, clv_engine_output(e, 0))));
    in[0] = x;
    out[0] = y;
    if ((rc = clv_engine_run(e, in, out, &err))) {
        fprintf(stderr, "run: %s\n", clv_error_text(&err, rc));
        free(y);
        y = NULL;
    }
    clv_engine_free(e);
    return y;
}

static int64_t far_off(const float *y, const double *ref, const double *tol,
                       int64_t n, const char *what)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)y[i] - ref[i]) <= tol[i])) {
            if (bad < 3)
                fprintf(stderr, "%s: [%lld] got %.9g want %.9g (tol %.3g)\n",
                        what, (long long)i, (double)y[i], ref[i], tol[i]);
            bad++;
        }
    return bad;
}

static void conv_case_run(const conv_case *cc, clv_rng *r)
{
    built b;
    int64_t ny;
    double *ref, *tol;
    float *y1, *y2, *y3, *yg;

    if (!build(cc, r, &b)) {
        CHECKF(false, "%s: does not build", cc->name);
        built_free(&b);
        return;
    }
    ny = cc->n * cc->m * b.oh * b.ow;
    ref = malloc((size_t)ny * sizeof *ref);
    tol = malloc((size_t)ny * sizeof *tol);
    reference(cc, &b, ref, tol);
    y1 = run(&b, NULL, 0, b.x, 1, false);
    y2 = run(&b, NULL, 0, b.x, 2, false);
    y3 = run(&b, NULL, 0, b.x, 3, false);
    yg = run(&b, NULL, 0, b.x, 2, true);
    CHECKF(y1 && y2 && y3 && yg, "%s: an engine did not run", cc->name);
    if (y1 && y2 && y3 && yg) {
        char what[96];
        snprintf(what, sizeof what, "%s (simd)", cc->name);
        CHECKF(far_off(y1, ref, tol, ny, what) == 0, "%s", what);
        snprintf(what, sizeof what, "%s (generic)", cc->name);
        CHECKF(far_off(yg, ref, tol, ny, what) == 0, "%s", what);
        CHECKF(!memcmp(y1, y2, (size_t)ny * sizeof *y1) &&
                   !memcmp(y1, y3, (size_t)ny * sizeof *y1),
               "%s: 1, 2 and 3 threads differ", cc->name);
    }
    /* the cut after the convolution: two engines, the same bits */
    if (y1 && b.n_nodes > 1) {
        float *yc = run(&b, b.nodes, 1, b.x, 2, false);
        float *yt = yc ? run(&b, b.nodes + 1, b.n_nodes - 1, yc, 1, false)
                       : NULL;
        CHECKF(yt && !memcmp(y1, yt, (size_t)ny * sizeof *y1),
               "%s: split after the conv differs from the fused run",
               cc->name);
        free(yc);
        free(yt);
    }
    free(y1);
    free(y2);
    free(y3);
    free(yg);
    free(ref);
    free(tol);
    built_free(&b);
}

static void test_convs(void)
{
    static const conv_case cases[] = {
        /* name            n  c    m    g  h   w  kh kw sh sw dh dw pt pl pb pr bias bn act */
        {"3x3 K blocks", 1, 64, 64, 1, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
         true, true, A_RELU},
        {"3x3 odd M asym pads", 1, 40, 52, 1, 9, 11, 3, 3, 1, 1, 1, 1, 1, 0,
         2, 1, true, false, A_LEAKY},
        {"5x5 s2 groups", 1, 30, 20, 2, 13, 10, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2,
         false, true, A_CLIP},
        {"1x1 K blocks sigmoid", 1, 300, 70, 1, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0,
         0, 0, true, false, A_SIGMOID},
        {"1x1 s2 two images", 2, 12, 24, 1, 10, 9, 1, 1, 2, 2, 1, 1, 0, 0, 0,
         0, false, true, A_NONE},
        {"7x7 s2 stem", 1, 3, 16, 1, 31, 33, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3,
         true, true, A_RELU},
        {"3x3 dilated", 1, 8, 16, 1, 12, 12, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2,
         true, false, A_NONE},
        {"3x3 small map deep", 1, 256, 96, 1, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1,
         1, true, true, A_RELU},
        {"3x3 wide map", 1, 16, 16, 1, 64, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
         false, true, A_LEAKY},
        {"11x11 s4", 1, 3, 20, 1, 35, 35, 11, 11, 4, 4, 1, 1, 2, 2, 2, 2,
         true, false, A_RELU},
        {"3x3 s3 groups 3", 2, 18, 27, 3, 11, 8, 3, 3, 3, 2, 1, 1, 1, 0, 0, 1,
         true, true, A_CLIP},
        {"dw 3x3 relu6", 1, 20, 20, 20, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
         false, true, A_CLIP},
        {"dw 3x3 s2 asym", 2, 36, 36, 36, 15, 16, 3, 3, 2, 2, 1, 1, 0, 1, 1,
         0, true, true, A_CLIP},
        {"dw 5x5 bias", 1, 9, 9, 9, 9, 9, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, true,
         false, A_SIGMOID},
        {"dw 3x3 big plane", 1, 8, 8, 8, 40, 41, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1,
         false, true, A_RELU},
        {"dw 3x3 dilated", 1, 12, 12, 12, 10, 10, 3, 3, 1, 1, 2, 2, 2, 2, 2,
         2, true, false, A_NONE},
        {"dw 7x7 many taps", 1, 5, 5, 5, 12, 12, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3,
         true, true, A_LEAKY},
        /* 1x1 unit stride, channels a multiple of 8: in place (few output
         * channels) and interleaved */
        {"1x1 few channels", 1, 64, 40, 1, 14, 13, 1, 1, 1, 1, 1, 1, 0, 0, 0,
         0, true, true, A_RELU},
        {"1x1 interleaved", 1, 48, 72, 1, 9, 14, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0,
         false, true, A_CLIP},
        /* small outputs (GoogLeNet's 7 x 7 and 14 x 14): with several
         * threads the pieces are cut finer, by channel panels (13 of them
         * here) and by pixels (one panel here) */
        {"3x3 7x7 map 13 panels", 1, 64, 200, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1,
         1, 1, 1, true, true, A_RELU},
        {"3x3 one panel, pixels cut", 1, 32, 16, 1, 14, 14, 3, 3, 1, 1, 1, 1,
         1, 1, 1, 1, false, true, A_RELU},
    };
    clv_rng r;
    clv_rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        conv_case_run(&cases[i], &r);
    /* random shapes */
    for (int it = 0; it < 30; it++) {
        char name[48];
        conv_case cc;
        memset(&cc, 0, sizeof cc);
        snprintf(name, sizeof name, "random %d", it);
        cc.name = name;
        cc.n = rnd(&r, 1, 2);
        cc.group = rnd(&r, 1, 3);
        cc.c = cc.group * rnd(&r, 1, 40);
        cc.m = cc.group * rnd(&r, 1, 40);
        if (it % 5 == 4) {
            cc.c = rnd(&r, 1, 20);
            cc.group = cc.c;
            cc.m = cc.c;
        }
        cc.kh = rnd(&r, 1, 5);
        cc.kw = rnd(&r, 1, 5);
        cc.sh = rnd(&r, 1, 3);
        cc.sw = rnd(&r, 1, 3);
        cc.dh = rnd(&r, 1, 2);
        cc.dw = rnd(&r, 1, 2);
        cc.pt = rnd(&r, 0, 2);
        cc.pl = rnd(&r, 0, 2);
        cc.pb = rnd(&r, 0, 2);
        cc.pr = rnd(&r, 0, 2);
        cc.h = rnd(&r, 1, 30);
        cc.w = rnd(&r, 1, 30);
        while (cc.h + cc.pt + cc.pb < (cc.kh - 1) * cc.dh + 1)
            cc.h++;
        while (cc.w + cc.pl + cc.pr < (cc.kw - 1) * cc.dw + 1)
            cc.w++;
        cc.bias = rnd(&r, 0, 1);
        cc.bn = rnd(&r, 0, 1);
        cc.a = (act)rnd(&r, 0, 4);
        conv_case_run(&cc, &r);
    }
}

/* A 1x1 unit-stride convolution with few output channels reads its input
 * in place; with many, it interleaves the input by 8 channels. Both sum
 * over the channels in their order, so the few channels' values are the
 * bits of the same channels computed among many (which is what lets the
 * kernel be picked by the channel count). */
static void test_1x1_orders(void)
{
    conv_case few = {"1x1 few", 1, 96, 24, 1, 11, 12, 1, 1, 1, 1, 1, 1,
                     0, 0, 0, 0, false, false, A_NONE};
    conv_case many = few;
    built bf, bm;
    clv_rng r;
    float *yf = NULL, *ym = NULL;
    int64_t plane = few.h * few.w;
    clv_rng_seed(&r, 11);
    many.name = "1x1 many";
    many.m = 200;
    if (!build(&few, &r, &bf) || !build(&many, &r, &bm)) {
        CHECKF(false, "1x1 orders: does not build");
        built_free(&bf);
        built_free(&bm);
        return;
    }
    /* the same input, and the few channels' weights as the first ones */
    memcpy(bf.x, bm.x, (size_t)(few.c * plane) * sizeof *bf.x);
    memcpy(bf.w, bm.w, (size_t)(few.m * few.c) * sizeof *bf.w);
    yf = run(&bf, NULL, 0, bf.x, 1, false);
    ym = run(&bm, NULL, 0, bm.x, 2, false);
    CHECKF(yf && ym, "1x1 orders: an engine did not run");
    if (yf && ym)
        CHECKF(!memcmp(yf, ym, (size_t)(few.m * plane) * sizeof *yf),
               "1x1 orders: %lld channels in place differ from the same "
               "channels among %lld",
               (long long)few.m, (long long)many.m);
    free(yf);
    free(ym);
    built_free(&bf);
    built_free(&bm);
}

/* ---- sibling 1x1 convolutions ------------------------------------------- */

/* Runs nodes (NULL: all) of g with the given options, input x; copies the
 * engine's outputs whose tensor is in want[0..3) to ys[k]. Sets *joined
 * to whether the kernel of node `second` is node `first`'s. Returns false
 * when the engine fails. */
static bool run_sib(clv_graph *g, const int *nodes, int n_nodes,
                    const float *x, int threads, bool no_fuse,
                    const int *want, float **ys, int first, int second,
                    bool *joined)
{
    clv_error err = {0};
    clv_engine_options opt = {0};
    clv_engine *e = NULL;
    void *out[3] = {NULL, NULL, NULL};
    const void *in[1] = {x};
    int rc, pf = -1, ps = -1;
    bool ok = true;
    opt.threads = threads;
    opt.no_fuse = no_fuse;
    if ((rc = clv_engine_create(g, nodes, n_nodes, &opt, &e, &err))) {
        fprintf(stderr, "create: %s\n", clv_error_text(&err, rc));
        return false;
    }
    for (int i = 0; i < clv_engine_n_outputs(e) && i < 3; i++)
        for (int k = 0; k < 3; k++)
            if (clv_engine_output(e, i) == want[k])
                out[i] = ys[k];
    for (int i = 0; i < clv_engine_n_nodes(e); i++) {
        if (clv_engine_node(e, i) == first)
            pf = i;
        if (clv_engine_node(e, i) == second)
            ps = i;
    }
    if (joined)
        *joined = pf >= 0 && ps >= 0 && clv_engine_fused_into(e, ps) == pf;
    if (clv_engine_n_inputs(e) != 1 || clv_engine_n_outputs(e) > 3 ||
        (rc = clv_engine_run(e, in, out, &err))) {
        fprintf(stderr, "run: %s\n", rc ? clv_error_text(&err, rc) : "");
        ok = false;
    }
    clv_engine_free(e);
    return ok;
}

/* Three 1x1 convolutions of one input (GoogLeNet's inception branches)
 * run as one product: against the reference, and bit for bit as when
 * each runs alone (fusion off), in two engines (the cut of a partition
 * between them), and on 1 to 3 threads. */
static void test_siblings(void)
{
    /* per branch: output channels, bias, BN, activation */
    static const conv_case br[3] = {
        {"sib a", 2, 24, 20, 1, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true,
         false, A_RELU},
        {"sib b", 2, 24, 37, 1, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false,
         true, A_LEAKY},
        {"sib c", 2, 24, 5, 1, 9, 11, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true,
         false, A_NONE},
    };
    int64_t xd[4] = {2, 24, 9, 11}, one[2] = {1, 1}, zero4[4] = {0, 0, 0, 0};
    clv_graph *g = clv_graph_create();
    clv_error err = {0};
    clv_rng r;
    built b[3];
    int x_id = -1, k = 0, conv[3], outs[3], chain[3][3], n_chain[3];
    int64_t plane = 9 * 11, ny[3];
    float *x, *y[5][3];
    bool joined = false, ok = true;

    clv_rng_seed(&r, 13);
    memset(b, 0, sizeof b);
    memset(y, 0, sizeof y);
    clv_graph_add_tensor(g, "x", CLV_DT_FLOAT, 4, xd, &x_id, NULL);
    clv_graph_mark_input(g, x_id);
    x = malloc((size_t)(2 * 24 * plane) * sizeof *x);
    clv_rng_fill_uniform(&r, x, (size_t)(2 * 24 * plane), -1.0f, 1.0f);
    for (int i = 0; i < 3; i++) {
        const conv_case *cc = &br[i];
        int64_t wd[4] = {cc->m, 24, 1, 1};
        int in[5], cur, id;
        in[0] = x_id;
        in[1] = add_const(g, &r, 4, wd, -0.5f, 0.5f, &b[i].w, &k);
        if (cc->bias)
            in[2] = add_const(g, &r, 1, &cc->m, -1.0f, 1.0f, &b[i].b, &k);
        cur = add_out(g, &k);
        clv_graph_add_node(g, cc->name, CLV_OP_CONV, cc->bias ? 3 : 2, in, 1,
                           &cur, &id, NULL);
        clv_graph_set_ints(g, id, "kernel_shape", 2, one);
        clv_graph_set_ints(g, id, "strides", 2, one);
        clv_graph_set_ints(g, id, "dilations", 2, one);
        clv_graph_set_ints(g, id, "pads", 4, zero4);
        conv[i] = id;
        chain[i][0] = id;
        n_chain[i] = 1;
        if (cc->bn) {
            int yb = add_out(g, &k);
            in[0] = cur;
            in[1] = add_const(g, &r, 1, &cc->m, 0.5f, 1.5f, &b[i].bn[0], &k);
            in[2] = add_const(g, &r, 1, &cc->m, -0.5f, 0.5f, &b[i].bn[1], &k);
            in[3] = add_const(g, &r, 1, &cc->m, -0.5f, 0.5f, &b[i].bn[2], &k);
            in[4] = add_const(g, &r, 1, &cc->m, 0.2f, 2.0f, &b[i].bn[3], &k);
            clv_graph_add_node(g, "bn", CLV_OP_BATCHNORM, 5, in, 1, &yb, &id,
                               NULL);
            clv_graph_set_float(g, id, "epsilon", 1e-5f);
            chain[i][n_chain[i]++] = id;
            cur = yb;
        }
        if (cc->a != A_NONE) {
            int ya = add_out(g, &k);
            clv_graph_add_node(g, "act",
                               cc->a == A_RELU ? CLV_OP_RELU
                                               : CLV_OP_LEAKYRELU,
                               1, &cur, 1, &ya, &id, NULL);
            if (cc->a == A_LEAKY)
                clv_graph_set_float(g, id, "alpha", 0.1f);
            chain[i][n_chain[i]++] = id;
            cur = ya;
        }
        clv_graph_mark_output(g, cur);
        outs[i] = cur;
        b[i].x = x;
        b[i].oh = 9;
        b[i].ow = 11;
        ny[i] = 2 * cc->m * plane;
    }
    if (clv_graph_finalize(g, &err)) {
        CHECKF(false, "siblings: finalize: %s", err.msg);
        goto done;
    }
    for (int v = 0; v < 5; v++)
        for (int i = 0; i < 3; i++)
            y[v][i] = calloc((size_t)ny[i], sizeof(float));
    /* 0-2: whole, 1 to 3 threads; 3: fusion off; 4: a's chain, then b's
     * and c's in a second engine */
    for (int t = 1; t <= 3; t++)
        ok = ok && run_sib(g, NULL, 0, x, t, false, outs, y[t - 1], conv[0],
                           conv[1], t == 1 ? &joined : NULL);
    ok = ok && run_sib(g, NULL, 0, x, 2, true, outs, y[3], -1, -1, NULL);
    {
        int n2 = 0, rest[6];
        for (int i = 1; i < 3; i++)
            for (int c = 0; c < n_chain[i]; c++)
                rest[n2++] = chain[i][c];
        ok = ok && run_sib(g, chain[0], n_chain[0], x, 1, false, outs, y[4],
                           -1, -1, NULL);
        ok = ok && run_sib(g, rest, n2, x, 2, false, outs, y[4], -1, -1,
                           NULL);
    }
    CHECKF(ok, "siblings: an engine did not run");
    if (clv_engine__simd_ok())
        CHECKF(joined, "siblings: the three convolutions were not joined");
    for (int i = 0; ok && i < 3; i++) {
        double *ref = malloc((size_t)ny[i] * sizeof *ref);
        double *tol = malloc((size_t)ny[i] * sizeof *tol);
        char what[64];
        reference(&br[i], &b[i], ref, tol);
        snprintf(what, sizeof what, "siblings: %s", br[i].name);
        CHECKF(far_off(y[0][i], ref, tol, ny[i], what) == 0, "%s", what);
        for (int v = 1; v < 5; v++)
            CHECKF(!memcmp(y[0][i], y[v][i], (size_t)ny[i] * sizeof(float)),
                   "siblings: %s: run %d differs from the joined run",
                   br[i].name, v);
        free(ref);
        free(tol);
    }
done:
    for (int v = 0; v < 5; v++)
        for (int i = 0; i < 3; i++)
            free(y[v][i]);
    free(x);
    clv_graph_free(g);
}

/* ---- MaxPool ------------------------------------------------------------ */

static void pool_case(clv_rng *r, int64_t c, int64_t h, int64_t w, int64_t k,
                      int64_t s, int64_t pad, bool ceil_mode)
{
    int64_t xd[4] = {1, c, h, w}, ks[2] = {k, k}, st[2] = {s, s};
    int64_t pads[4] = {pad, pad, pad, pad};
    int x_id = -1, y_id = -1, id = -1;
    clv_graph *g = clv_graph_create();
    clv_error err = {0};
    float *x = malloc((size_t)(c * h * w) * sizeof *x), *ys, *yg, *y2;
    built b;
    char what[80];

    snprintf(what, sizeof what, "maxpool c=%lld %lldx%lld k%lld s%lld",
             (long long)c, (long long)h, (long long)w, (long long)k,
             (long long)s);
    clv_rng_fill_uniform(r, x, (size_t)(c * h * w), -1.0f, 1.0f);
    for (int i = 0; i < 5; i++) /* a few NaN and -inf */
        x[rnd(r, 0, c * h * w - 1)] = i < 3 ? NAN : -INFINITY;
    clv_graph_add_tensor(g, "x", CLV_DT_FLOAT, 4, xd, &x_id, NULL);
    clv_graph_mark_input(g, x_id);
    clv_graph_add_tensor(g, "y", CLV_DT_UNDEFINED, -1, NULL, &y_id, NULL);
    clv_graph_add_node(g, "pool", CLV_OP_MAXPOOL, 1, &x_id, 1, &y_id, &id,
                       NULL);
    clv_graph_set_ints(g, id, "kernel_shape", 2, ks);
    clv_graph_set_ints(g, id, "strides", 2, st);
    clv_graph_set_ints(g, id, "pads", 4, pads);
    clv_graph_set_int(g, id, "ceil_mode", ceil_mode);
    clv_graph_mark_output(g, y_id);
    if (clv_graph_finalize(g, &err)) {
        CHECKF(false, "%s: finalize: %s", what, err.msg);
        clv_graph_free(g);
        free(x);
        return;
    }
    memset(&b, 0, sizeof b);
    b.g = g;
    ys = run(&b, NULL, 0, x, 1, false);
    y2 = run(&b, NULL, 0, x, 3, false);
    yg = run(&b, NULL, 0, x, 1, true);
    CHECKF(ys && yg && y2, "%s: did not run", what);
    if (ys && yg && y2) {
        const clv_tensor *yt = clv_graph_tensor(g, y_id);
        int64_t oh = yt->dims[2], ow = yt->dims[3], bad = 0;
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t i = (ch * oh + oy) * ow + ox;
                    double m = -INFINITY;
                    bool nan = false;
                    for (int64_t a = 0; a < k; a++)
                        for (int64_t q = 0; q < k; q++) {
                            int64_t iy = oy * s - pad + a, ix = ox * s - pad + q;
                            float v;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                continue;
                            v = x[(ch * h + iy) * w + ix];
                            if (v != v)
                                nan = true;
                            else if (v > m)
                                m = v;
                        }
                    if (nan ? ys[i] == ys[i] : (double)ys[i] != m) {
                        if (bad++ < 3)
                            fprintf(stderr, "%s: [%lld] got %g want %g\n",
                                    what, (long long)i, (double)ys[i],
                                    nan ? NAN : m);
                    }
                    /* the maximum is exact: the same bits on every path
                     * (a NaN only has to be a NaN) */
                    if (!nan && (memcmp(&ys[i], &yg[i], sizeof *ys) ||
                                 memcmp(&ys[i], &y2[i], sizeof *ys)))
                        bad++;
                    if (nan && (yg[i] == yg[i] || y2[i] == y2[i]))
                        bad++;
                }
        CHECKF(bad == 0, "%s: %lld wrong values", what, (long long)bad);
    }
    free(ys);
    free(yg);
    free(y2);
    free(x);
    clv_graph_free(g);
}

static void test_pools(void)
{
    clv_rng r;
    clv_rng_seed(&r, 5);
    pool_case(&r, 19, 13, 13, 3, 2, 1, false); /* 8 planes at a time */
    pool_case(&r, 8, 7, 7, 3, 1, 1, false);
    pool_case(&r, 21, 14, 14, 3, 2, 0, true); /* ceil_mode */
    pool_case(&r, 5, 20, 21, 2, 2, 0, false);
    pool_case(&r, 3, 56, 57, 3, 2, 1, false); /* wide rows */
    pool_case(&r, 4, 90, 90, 2, 2, 0, true);
    pool_case(&r, 10, 3, 3, 2, 1, 0, false);
    /* stride 2, one plane at a time on rows: widths a multiple of 8, under
     * 8, wide; kernels 1 to 5; GoogLeNet's first pool */
    pool_case(&r, 9, 16, 16, 3, 2, 1, true);
    pool_case(&r, 7, 5, 5, 3, 2, 1, false);
    pool_case(&r, 6, 23, 64, 5, 2, 2, false);
    pool_case(&r, 11, 9, 8, 1, 2, 0, false);
    pool_case(&r, 2, 112, 112, 3, 2, 0, true);
}

int main(void)
{
    printf("test_engine_simd: %s\n",
           clv_engine__simd_ok()
               ? "AVX2 + FMA kernels against the portable paths"
               : "no AVX2 + FMA here: portable paths only");
    test_convs();
    test_1x1_orders();
    test_siblings();
    test_pools();
    return check_report("test_engine_simd");
}
