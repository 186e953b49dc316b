/*
 * MaxPool, AveragePool (1 to 3 spatial dims, mapped onto depth x height x
 * width; strides, pads, dilations for MaxPool, ceil_mode through the
 * inferred output shape, count_include_pad), GlobalAveragePool and
 * GlobalMaxPool (any rank). float32.
 *
 * Windows: output position o covers input positions o * stride - pad_begin
 * + i * dilation for i < kernel. MaxPool ignores positions outside the
 * input (padding reads as -inf). AveragePool divides the sum of the
 * positions inside the input by their count, or, with count_include_pad,
 * by the count of positions inside the padded input [-pad_begin, in +
 * pad_end) (a window that ceil_mode lets run past the end pads counts only
 * up to the end of the padding, as PyTorch and ONNX's reference do).
 *
 * One task per (image, channel) plane.
 */
#include <math.h>
#include <string.h>

#include "engine/op_pool.h"


/* The window along one dim: first input position, and the range [lo, hi)
 * of kernel indices that land inside [0, in). */
static void window(const pool_plan *p, int d, int64_t o, int64_t *start,
                   int64_t *lo, int64_t *hi)
{
    int64_t s = o * p->st[d] - p->pb[d], l = 0, h = p->k[d];
    while (l < h && s + l * p->dl[d] < 0)
        l++;
    while (h > l && s + (h - 1) * p->dl[d] >= p->in[d])
        h--;
    *start = s;
    *lo = l;
    *hi = h;
}

/* Window positions inside the padded input along one dim (dilation 1). */
static int64_t padded_count(const pool_plan *p, int d, int64_t start)
{
    int64_t a = start, b = start + p->k[d];
    if (b > p->in[d] + p->pe[d])
        b = p->in[d] + p->pe[d];
    if (a < -p->pb[d])
        a = -p->pb[d];
    return b > a ? b - a : 0;
}

static void task_pool(void *arg, int64_t t, int tid)
{
    const pool_ctx *c = arg;
    const pool_plan *p = c->p;
    const float *x = c->X + t * p->S;
    float *y = c->Y + t * p->P;
    const int64_t W = p->in[2], dx = p->dl[2];
    (void)tid;
    for (int64_t oz = 0; oz < p->o[0]; oz++) {
        int64_t sz = p->start[0][oz], lz = p->lo[0][oz], hz = p->hi[0][oz];
        for (int64_t oy = 0; oy < p->o[1]; oy++) {
            int64_t sy = p->start[1][oy], ly = p->lo[1][oy],
                    hy = p->hi[1][oy];
            for (int64_t ox = 0; ox < p->o[2]; ox++) {
                int64_t sx = p->start[2][ox], lx = p->lo[2][ox],
                        hx = p->hi[2][ox];
                if (p->max) {
                    float acc = -INFINITY;
                    for (int64_t a = lz; a < hz; a++)
                        for (int64_t b = ly; b < hy; b++) {
                            const float *row =
                                x + ((sz + a * p->dl[0]) * p->in[1] + sy +
                                     b * p->dl[1]) * W + sx;
                            for (int64_t q = lx; q < hx; q++)
                                acc = max_nan(acc, row[q * dx]);
                        }
                    *y++ = acc;
                } else {
                    float acc = 0.0f;
                    int64_t cnt;
                    for (int64_t a = lz; a < hz; a++)
                        for (int64_t b = ly; b < hy; b++) {
                            const float *row =
                                x + ((sz + a) * p->in[1] + sy + b) * W + sx;
                            for (int64_t q = lx; q < hx; q++)
                                acc += row[q];
                        }
                    if (p->cip)
                        cnt = p->pcnt[0][oz] * p->pcnt[1][oy] *
                              p->pcnt[2][ox];
                    else
                        cnt = (hz - lz) * (hy - ly) * (hx - lx);
                    *y++ = cnt > 0 ? acc / (float)cnt : 0.0f;
                }
            }
        }
    }
}

/* 2-D without dilation, separable: per output row, combine the window's
 * input rows element-wise into a scratch row, split that row into its
 * stride phases (phase q holds columns q, q + s, ...), then add each
 * horizontal tap to the whole output row at once as a contiguous run. All
 * loops over runs go in blocks the compiler vectorizes. */
static void task_pool2d(void *arg, int64_t t, int tid)
{
    const pool_ctx *c = arg;
    const pool_plan *p = c->p;
    const float *x = c->X + t * p->S;
    float *y = c->Y + t * p->P;
    const int64_t W = p->in[2], OW = p->o[2], sx = p->st[2];
    const int64_t Wq = (W + sx - 1) / sx, B = CLV_ENGINE_BLOCK;
    float *row = clv_engine__scratch_t(c->x, tid);
    float *ph = row + W;
    const float init = p->max ? -INFINITY : 0.0f;

    for (int64_t oy = 0; oy < p->o[1]; oy++, y += OW) {
        int64_t sy = p->start[1][oy], ly = p->lo[1][oy], hy = p->hi[1][oy];
        const float *src;
        if (hy <= ly) {
            for (int64_t i = 0; i < W; i++)
                row[i] = init;
        } else {
            memcpy(row, x + (sy + ly) * W, (size_t)W * sizeof *row);
        }
        for (int64_t b = ly + 1; b < hy; b++) {
            const float *xr = x + (sy + b) * W;
            int64_t i = 0;
            for (; i + B <= W; i += B) {
                float v[CLV_ENGINE_BLOCK];
                for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                    v[k] = xr[i + k];
                if (p->max)
                    for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                        row[i + k] = max_nan(row[i + k], v[k]);
                else
                    for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                        row[i + k] = row[i + k] + v[k];
            }
            for (; i < W; i++)
                row[i] = p->max ? max_nan(row[i], xr[i]) : row[i] + xr[i];
        }
        src = row;
        if (sx > 1) {
            for (int64_t q = 0; q < sx; q++) {
                float *d = ph + q * Wq;
                int64_t n = (W - q + sx - 1) / sx;
                for (int64_t j = 0; j < n; j++)
                    d[j] = row[j * sx + q];
                for (int64_t j = n; j < Wq; j++)
                    d[j] = init;
            }
            src = ph;
        }
        for (int64_t ox = 0; ox < OW; ox++)
            y[ox] = init;
        for (int64_t q = 0; q < p->k[2]; q++) {
            int64_t off = q - p->pb[2], lo, hi, ox;
            int64_t phase = ((off % sx) + sx) % sx, base = (off - phase) / sx;
            const float *r = sx > 1 ? src + phase * Wq + base : src + off;
            tap_range(OW, sx, off, W, &lo, &hi);
            ox = lo;
            for (; ox + B <= hi; ox += B) {
                float v[CLV_ENGINE_BLOCK];
                for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                    v[k] = r[ox + k];
                if (p->max)
                    for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                        y[ox + k] = max_nan(y[ox + k], v[k]);
                else
                    for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                        y[ox + k] = y[ox + k] + v[k];
            }
            for (; ox < hi; ox++)
                y[ox] = p->max ? max_nan(y[ox], r[ox]) : y[ox] + r[ox];
        }
        if (!p->max)
            for (int64_t ox = 0; ox < OW; ox++) {
                int64_t cnt = p->cip ? p->pcnt[1][oy] * p->pcnt[2][ox]
                                     : (hy - ly) *
                                           (p->hi[2][ox] - p->lo[2][ox]);
                y[ox] = cnt > 0 ? y[ox] / (float)cnt : 0.0f;
            }
    }
}


static int run_pool(const clv_engine__step *s, clv_engine__exec *x)
{
    const pool_plan *p = s->plan;
    pool_ctx c;
    clv_engine__task_fn fn = p->fast2d ? task_pool2d : task_pool;
    /* p->simd, rows8, pool8: planned for AVX2 (pl->simd) */
    if (p->fast2d && p->simd)
        fn = clv_engine__pool2d_task;
    if (p->rows8)
        fn = clv_engine__maxpool_rows_task;
    if (p->pool8) {
        c.x = x;
        c.p = p;
        c.X = clv_engine__in(x, s, 0);
        c.Y = clv_engine__out(x, s);
        clv_engine__parallel(x, (p->planes + 7) / 8, clv_engine__pool8_task,
                             &c);
        return 0;
    }
    c.x = x;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->planes, fn, &c);
    return 0;
}

int clv_engine__plan_pool(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_graph *g = pl->g;
    const clv_node *n = s->n;
    const clv_tensor *X = clv_engine__in_t(g, s, 0);
    const clv_tensor *Y = clv_engine__out_t(g, s);
    const int64_t *k, *st, *pads, *dil = NULL;
    size_t nk, nst, np, nd = 0;
    pool_plan *p;
    int ns = X->ndim - 2;

    if (X->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "%s runs on float32 only",
                                      clv_op_name(n->op));
    if (ns < 1 || ns > 3)
        return clv_engine__node_error(
            pl, s, CLV_EUNSUPPORTED,
            "%s with %d spatial dims is not supported (1 to 3)",
            clv_op_name(n->op), ns);
    k = clv_node_ints(n, "kernel_shape", &nk);
    st = clv_node_ints(n, "strides", &nst);
    pads = clv_node_ints(n, "pads", &np);
    if (n->op == CLV_OP_MAXPOOL)
        dil = clv_node_ints(n, "dilations", &nd);
    if (!k || !st || !pads || (int)nk != ns || (int)nst != ns ||
        (int)np != 2 * ns || (dil && (int)nd != ns))
        return clv_engine__node_error(
            pl, s, CLV_EINVAL, "%s lacks canonical window attributes",
            clv_op_name(n->op));
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->max = n->op == CLV_OP_MAXPOOL;
    p->cip = clv_node_int(n, "count_include_pad", 0) != 0;
    p->planes = X->dims[0] * X->dims[1];
    p->S = 1;
    p->P = 1;
    for (int i = 0; i < 3; i++) {
        int d = i - (3 - ns);
        p->in[i] = d < 0 ? 1 : X->dims[2 + d];
        p->o[i] = d < 0 ? 1 : Y->dims[2 + d];
        p->k[i] = d < 0 ? 1 : k[d];
        p->st[i] = d < 0 ? 1 : st[d];
        p->dl[i] = d < 0 || !dil ? 1 : dil[d];
        p->pb[i] = d < 0 ? 0 : pads[d];
        p->pe[i] = d < 0 ? 0 : pads[ns + d];
        p->S *= p->in[i];
        p->P *= p->o[i];
    }
    for (int i = 0; i < 3; i++) {
        size_t bytes = (size_t)(p->o[i] > 0 ? p->o[i] : 1) * sizeof(int64_t);
        p->start[i] = clv_engine__keep(pl, bytes);
        p->lo[i] = clv_engine__keep(pl, bytes);
        p->hi[i] = clv_engine__keep(pl, bytes);
        p->pcnt[i] = clv_engine__keep(pl, bytes);
        if (!p->start[i] || !p->lo[i] || !p->hi[i] || !p->pcnt[i])
            return CLV_ENOMEM;
        for (int64_t o = 0; o < p->o[i]; o++) {
            window(p, i, o, &p->start[i][o], &p->lo[i][o], &p->hi[i][o]);
            p->pcnt[i][o] = padded_count(p, i, p->start[i][o]);
        }
    }
    p->simd = pl->simd;
    p->fast2d = p->in[0] == 1 && p->k[0] == 1 && p->dl[1] == 1 &&
                p->dl[2] == 1;
    if (p->fast2d) /* a row, and its stride phases */
        s->scratch_thread =
            (size_t)(p->in[2] + p->st[2] * ((p->in[2] + p->st[2] - 1) /
                                            p->st[2])) *
            sizeof(float);
    if (p->fast2d && p->simd && p->max && p->st[2] == 2) {
        /* stride 2 (measured on GoogLeNet's pools: 1.35-1.9 times as
         * fast as the kernels below; at stride 1, 3 x 3, pool8 is
         * faster); the rows' reads reach 2 * (OW rounded up to 8) + kw */
        int64_t need = (p->o[2] + 7) / 8 * 8 * 2 + p->k[2] + 8;
        int64_t have = p->pb[2] + p->in[2] + 8;
        p->wz = ((need > have ? need : have) + 7) / 8 * 8;
        p->rows8 = true;
        s->scratch_thread = (size_t)(p->o[1] * p->wz) * sizeof(float);
    } else if (p->fast2d && p->simd && p->max && p->o[2] < 40) {
        /* narrow outputs: the rows are too short to fill vectors */
        /* the windows reach rows (o - 1) * st + k - 1 of the padded input */
        int64_t hz = (p->o[1] - 1) * p->st[1] + p->k[1];
        int64_t wz = (p->o[2] - 1) * p->st[2] + p->k[2];
        p->hz = hz > p->pb[1] + p->in[1] ? hz : p->pb[1] + p->in[1];
        p->wz = wz > p->pb[2] + p->in[2] ? wz : p->pb[2] + p->in[2];
        p->pool8 = true;
        s->scratch_thread =
            (size_t)((p->hz * p->wz + p->hz * p->o[2] + p->P) * 8) *
            sizeof(float);
    }
    s->plan = p;
    s->run = run_pool;
    return 0;
}

/* ---- global pools ------------------------------------------------------- */

typedef struct gpool_plan {
    bool max;
    int64_t planes, S;
} gpool_plan;

typedef struct gpool_ctx {
    const gpool_plan *p;
    const float *X;
    float *Y;
} gpool_ctx;

static void task_gpool(void *arg, int64_t t, int tid)
{
    const gpool_ctx *c = arg;
    const gpool_plan *p = c->p;
    const float *x = c->X + t * p->S;
    float acc;
    (void)tid;
    if (p->max) {
        acc = -INFINITY;
        for (int64_t i = 0; i < p->S; i++)
            acc = max_nan(acc, x[i]);
    } else {
        acc = 0.0f;
        for (int64_t i = 0; i < p->S; i++)
            acc += x[i];
        acc = p->S > 0 ? acc / (float)p->S : 0.0f;
    }
    c->Y[t] = acc;
}

static int run_gpool(const clv_engine__step *s, clv_engine__exec *x)
{
    const gpool_plan *p = s->plan;
    gpool_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->planes, task_gpool, &c);
    return 0;
}

int clv_engine__plan_globalpool(clv_engine__planner *pl,
                                clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    gpool_plan *p;
    if (X->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "%s runs on float32 only",
                                      clv_op_name(s->n->op));
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->max = s->n->op == CLV_OP_GLOBALMAXPOOL;
    p->planes = X->dims[0] * X->dims[1];
    p->S = 1;
    for (int i = 2; i < X->ndim; i++)
        p->S *= X->dims[i];
    s->plan = p;
    s->run = run_gpool;
    return 0;
}
