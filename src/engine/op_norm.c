/*
 * BatchNormalization (inference: y = x * scale' + shift' per channel, with
 * scale' = scale / sqrt(var + eps) and shift' = B - mean * scale', the same
 * arithmetic as the epilogue a convolution applies when the BN is fused
 * into it), and LRN across channels:
 *   y = x / (bias + alpha / size * sum of x^2 over the channels
 *        [c - floor((size-1)/2), c + ceil((size-1)/2)]) ^ beta.
 * float32, any rank >= 2 (N, C, ...). One task per (image, channel) plane.
 */
#include <math.h>

#include "engine/internal.h"

/* ---- BatchNormalization -------------------------------------------------- */

typedef struct bn_plan {
    int64_t N, C, S;
    float eps;
    const float *scale, *shift; /* NULL: parameters come at run time */
} bn_plan;

typedef struct bn_ctx {
    const bn_plan *p;
    const float *X, *sc, *sh;
    float *Y;
} bn_ctx;

static void task_bn(void *arg, int64_t t, int tid)
{
    const bn_ctx *c = arg;
    const bn_plan *p = c->p;
    int64_t ch = t % p->C;
    const float *x = c->X + t * p->S;
    float *y = c->Y + t * p->S;
    float s = c->sc[ch], h = c->sh[ch];
    int64_t i = 0;
    (void)tid;
    /* the epilogue's arithmetic (ops.c), in blocks the compiler
     * vectorizes */
    for (; i + CLV_ENGINE_BLOCK <= p->S; i += CLV_ENGINE_BLOCK) {
        float t[CLV_ENGINE_BLOCK];
        for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
            t[k] = x[i + k];
        for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
            y[i + k] = t[k] * s + h;
    }
    for (; i < p->S; i++)
        y[i] = x[i] * s + h;
}

static int run_bn(const clv_engine__step *s, clv_engine__exec *x)
{
    const bn_plan *p = s->plan;
    bn_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    if (p->scale) {
        c.sc = p->scale;
        c.sh = p->shift;
    } else {
        float *sc = clv_engine__scratch(x), *sh = sc + p->C;
        clv_engine__bn_affine(clv_engine__in(x, s, 1), clv_engine__in(x, s, 2),
                              clv_engine__in(x, s, 3), clv_engine__in(x, s, 4),
                              p->eps, p->C, sc, sh);
        c.sc = sc;
        c.sh = sh;
    }
    clv_engine__parallel(x, p->N * p->C, task_bn, &c);
    return 0;
}

int clv_engine__plan_batchnorm(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_graph *g = pl->g;
    const clv_tensor *X = clv_engine__in_t(g, s, 0);
    bn_plan *p;
    bool constant = true;

    for (int i = 0; i < 5; i++) {
        const clv_tensor *t = clv_engine__in_t(g, s, i);
        if (!t || t->dtype != CLV_DT_FLOAT)
            return clv_engine__node_error(
                pl, s, CLV_EUNSUPPORTED,
                "BatchNormalization runs on float32 only");
        if (i > 0 && (!(t->flags & CLV_TENSOR_CONST) || !t->data))
            constant = false;
    }
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->N = X->dims[0];
    p->C = X->dims[1];
    p->S = 1;
    for (int i = 2; i < X->ndim; i++)
        p->S *= X->dims[i];
    p->eps = clv_node_float(s->n, "epsilon", 1e-5f);
    if (constant) {
        float *sc = clv_engine__keep(pl, (size_t)p->C * sizeof *sc);
        float *sh = clv_engine__keep(pl, (size_t)p->C * sizeof *sh);
        if (!sc || !sh)
            return CLV_ENOMEM;
        clv_engine__bn_affine(
            clv_engine__in_t(g, s, 1)->data, clv_engine__in_t(g, s, 2)->data,
            clv_engine__in_t(g, s, 3)->data, clv_engine__in_t(g, s, 4)->data,
            p->eps, p->C, sc, sh);
        p->scale = sc;
        p->shift = sh;
    } else {
        s->scratch_shared = 2 * (size_t)p->C * sizeof(float);
    }
    s->plan = p;
    s->run = run_bn;
    return 0;
}

/* ---- LRN ----------------------------------------------------------------- */

typedef struct lrn_plan {
    int64_t N, C, S, size;
    float alpha, beta, bias;
} lrn_plan;

typedef struct lrn_ctx {
    const lrn_plan *p;
    const float *X;
    float *Y;
} lrn_ctx;

static void task_lrn(void *arg, int64_t t, int tid)
{
    const lrn_ctx *c = arg;
    const lrn_plan *p = c->p;
    int64_t n = t / p->C, ch = t % p->C;
    int64_t lo = ch - (p->size - 1) / 2, hi = ch + p->size / 2;
    const float *xn = c->X + n * p->C * p->S;
    const float *x = xn + ch * p->S;
    float *y = c->Y + t * p->S;
    float k = p->alpha / (float)p->size;
    (void)tid;
    if (lo < 0)
        lo = 0;
    if (hi > p->C - 1)
        hi = p->C - 1;
    for (int64_t i = 0; i < p->S; i++) {
        float sum = 0.0f;
        for (int64_t j = lo; j <= hi; j++) {
            float v = xn[j * p->S + i];
            sum += v * v;
        }
        y[i] = x[i] / powf(p->bias + k * sum, p->beta);
    }
}

static int run_lrn(const clv_engine__step *s, clv_engine__exec *x)
{
    const lrn_plan *p = s->plan;
    lrn_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->N * p->C, task_lrn, &c);
    return 0;
}

int clv_engine__plan_lrn(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    lrn_plan *p;
    if (X->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "LRN runs on float32 only");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->N = X->dims[0];
    p->C = X->dims[1];
    p->S = 1;
    for (int i = 2; i < X->ndim; i++)
        p->S *= X->dims[i];
    p->size = clv_node_int(s->n, "size", 1);
    p->alpha = clv_node_float(s->n, "alpha", 1e-4f);
    p->beta = clv_node_float(s->n, "beta", 0.75f);
    p->bias = clv_node_float(s->n, "bias", 1.0f);
    s->plan = p;
    s->run = run_lrn;
    return 0;
}
