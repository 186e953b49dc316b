/*
 * Conv: float32, 1 to 3 spatial dims (mapped onto depth x height x width
 * with unit leading dims), groups, strides, dilations, pads.
 *
 * Kernels, chosen at plan time:
 *   DW    depthwise 2-D (group == C == M): a direct loop per output row;
 *   1X1   1x1, stride 1, no padding: sgemm straight on the input;
 *   GEMM  the rest: im2col of a piece of output columns into scratch, then
 *         sgemm (weights [M/g, C/g * k] x columns [C/g * k, piece]).
 * The bias, a fused BatchNormalization and activation are applied to each
 * piece right after its product, while it is in cache.
 *
 * Work is cut into pieces that depend on the shapes only: pieces of output
 * columns ("cols": each piece makes its own im2col, sgemm over all output
 * channels), or, for small outputs with many channels, pieces of output
 * channels ("rows": one shared im2col, then sgemm over channel pieces).
 * OpenBLAS is single-threaded, so a piece's values do not depend on the
 * thread count.
 */
#include <limits.h>
#include <string.h>

#include <cblas.h>

#include "engine/internal.h"

typedef enum conv_kind { CONV_GEMM, CONV_1X1, CONV_DW } conv_kind;
typedef enum conv_tiling { TILE_COLS, TILE_ROWS } conv_tiling;

typedef struct conv_plan {
    conv_kind kind;
    conv_tiling tiling;
    int64_t N, C, M, G, Cg, Mg;
    int64_t K; /* Cg * prod(kernel): rows of the column matrix */
    int64_t P; /* prod(output spatial): columns */
    int64_t S; /* prod(input spatial) */
    int64_t in[3], o[3], k[3], st[3], dl[3], pd[3]; /* depth, height, width */
    int64_t cw, ncb; /* TILE_COLS: piece width and count */
    int64_t mr, nmr; /* TILE_ROWS: channels per piece and count */
    int64_t kr, nkr; /* TILE_ROWS: im2col rows per piece and count */
} conv_plan;

/* Smallest q with q * s >= a, for s > 0 and any a. */
static int64_t ceil_div(int64_t a, int64_t s)
{
    return a >= 0 ? (a + s - 1) / s : -((-a) / s);
}

/* The range [lo, hi) of output positions o in [0, n) whose input
 * position o * s + off lies in [0, in). */
static void valid_range(int64_t n, int64_t s, int64_t off, int64_t in,
                        int64_t *lo, int64_t *hi)
{
    int64_t l = ceil_div(-off, s), h = ceil_div(in - off, s);
    if (l < 0)
        l = 0;
    if (h > n)
        h = n;
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}

/* Rows [r0, r1) of the column matrix for output columns [j0, j0 + w) of
 * one group whose first input channel is at x; row r of the result is at
 * col + (r - r0) * w. */
static void im2col(const conv_plan *p, const float *x, int64_t r0,
                   int64_t r1, int64_t j0, int64_t w, float *col)
{
    const int64_t k1 = p->k[1], k2 = p->k[2], kvol = p->k[0] * k1 * k2;
    const int64_t o1 = p->o[1], o2 = p->o[2];
    for (int64_t r = r0; r < r1; r++) {
        int64_t c = r / kvol, rem = r % kvol;
        int64_t a = rem / (k1 * k2), b = (rem / k2) % k1, d = rem % k2;
        const float *xc = x + c * p->S;
        float *dst = col + (r - r0) * w;
        int64_t j = j0, end = j0 + w;
        int64_t oz = j / (o1 * o2), oy = (j / o2) % o1, ox = j % o2;
        int64_t off = d * p->dl[2] - p->pd[2], lo, hi;
        valid_range(o2, p->st[2], off, p->in[2], &lo, &hi);
        while (j < end) {
            int64_t run = o2 - ox < end - j ? o2 - ox : end - j;
            int64_t iz = oz * p->st[0] - p->pd[0] + a * p->dl[0];
            int64_t iy = oy * p->st[1] - p->pd[1] + b * p->dl[1];
            if (iz < 0 || iz >= p->in[0] || iy < 0 || iy >= p->in[1]) {
                memset(dst, 0, (size_t)run * sizeof *dst);
            } else {
                const float *row = xc + (iz * p->in[1] + iy) * p->in[2];
                int64_t a0 = lo > ox ? lo : ox;
                int64_t a1 = hi < ox + run ? hi : ox + run;
                int64_t q = 0;
                for (; ox + q < a0 && q < run; q++)
                    dst[q] = 0.0f;
                if (a1 > a0) {
                    if (p->st[2] == 1) {
                        memcpy(dst + q, row + a0 + off,
                               (size_t)(a1 - a0) * sizeof *dst);
                    } else {
                        const float *src = row + a0 * p->st[2] + off;
                        for (int64_t t = 0; t < a1 - a0; t++)
                            dst[q + t] = src[t * p->st[2]];
                    }
                    q += a1 - a0;
                }
                for (; q < run; q++)
                    dst[q] = 0.0f;
            }
            dst += run;
            j += run;
            ox = 0;
            if (++oy == o1) {
                oy = 0;
                oz++;
            }
        }
    }
}

typedef struct conv_ctx {
    const clv_engine__step *s;
    const clv_engine__exec *x;
    const conv_plan *p;
    const float *X, *W, *bias;
    float *Y;
    float *col; /* TILE_ROWS: the shared column matrix */
} conv_ctx;

static void sgemm(int64_t m, int64_t n, int64_t k, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float *c,
                  int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m,
                (blasint)n, (blasint)k, 1.0f, a, (blasint)lda, b,
                (blasint)ldb, 0.0f, c, (blasint)ldc);
}

static void epilogue_rows(const conv_ctx *c, int64_t ch0, int64_t rows,
                          float *y, int64_t w)
{
    const clv_engine__epi *e = &c->s->epi;
    if (clv_engine__epi_empty(e))
        return;
    for (int64_t m = 0; m < rows; m++)
        clv_engine__epi_apply(e, c->bias, ch0 + m, y + m * c->p->P,
                              (size_t)w);
}

/* A piece of output columns of one image and group. */
static void task_cols(void *arg, int64_t t, int tid)
{
    const conv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t cb = t % p->ncb, g = (t / p->ncb) % p->G, n = t / (p->ncb * p->G);
    int64_t j0 = cb * p->cw, w = p->P - j0 < p->cw ? p->P - j0 : p->cw;
    const float *xg = c->X + (n * p->C + g * p->Cg) * p->S;
    const float *b;
    int64_t ldb;
    float *y = c->Y + (n * p->M + g * p->Mg) * p->P + j0;

    if (p->kind == CONV_1X1) {
        b = xg + j0;
        ldb = p->P;
    } else {
        float *col = clv_engine__scratch_t(c->x, tid);
        im2col(p, xg, 0, p->K, j0, w, col);
        b = col;
        ldb = w;
    }
    sgemm(p->Mg, w, p->K, c->W + g * p->Mg * p->K, p->K, b, ldb, y, p->P);
    epilogue_rows(c, g * p->Mg, p->Mg, y, w);
}

/* TILE_ROWS, phase 1: rows of the shared column matrix. */
static void task_im2col_rows(void *arg, int64_t t, int tid)
{
    const conv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t r0 = t * p->kr, r1 = r0 + p->kr < p->K ? r0 + p->kr : p->K;
    (void)tid;
    im2col(p, c->X, r0, r1, 0, p->P, c->col + r0 * p->P);
}

/* TILE_ROWS, phase 2: a piece of output channels. */
static void task_rows(void *arg, int64_t t, int tid)
{
    const conv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t m0 = t * p->mr, rows = p->M - m0 < p->mr ? p->M - m0 : p->mr;
    float *y = c->Y + m0 * p->P;
    (void)tid;
    sgemm(rows, p->P, p->K, c->W + m0 * p->K, p->K, c->col, p->P, y, p->P);
    epilogue_rows(c, m0, rows, y, p->P);
}

/* Depthwise: one (image, channel) plane. Each output row accumulates,
 * kernel tap by kernel tap (in the same order for every value), a weight
 * times a contiguous run of an input row. With a horizontal stride s > 1
 * the plane is first split into s phases per row (phase q holds columns
 * q, q + s, ...) in the thread's scratch, so the runs stay contiguous. */
static void task_dw(void *arg, int64_t t, int tid)
{
    const conv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t ch = t % p->C;
    const float *x = c->X + t * p->S;
    const float *w = c->W + ch * p->k[1] * p->k[2];
    float *y = c->Y + t * p->P;
    const int64_t OH = p->o[1], OW = p->o[2], H = p->in[1], Wd = p->in[2];
    const int64_t sh = p->st[1], sw = p->st[2];
    const int64_t Wq = (Wd + sw - 1) / sw; /* columns per phase */
    const float *rows = x;                 /* row iy, phase q: */
    int64_t lo[64], hi[64], base[64], phase[64];

    if (sw > 1) {
        float *ph = clv_engine__scratch_t(c->x, tid);
        for (int64_t iy = 0; iy < H; iy++)
            for (int64_t q = 0; q < sw; q++) {
                float *dst = ph + (iy * sw + q) * Wq;
                const float *src = x + iy * Wd + q;
                int64_t n = (Wd - q + sw - 1) / sw;
                for (int64_t j = 0; j < n; j++)
                    dst[j] = src[j * sw];
                for (int64_t j = n; j < Wq; j++)
                    dst[j] = 0.0f;
            }
        rows = ph;
    }
    for (int64_t d = 0; d < p->k[2]; d++) {
        int64_t off = d * p->dl[2] - p->pd[2];
        valid_range(OW, sw, off, Wd, &lo[d], &hi[d]);
        phase[d] = ((off % sw) + sw) % sw;
        base[d] = (off - phase[d]) / sw;
    }
    for (int64_t oy = 0; oy < OH; oy++) {
        float *yr = y + oy * OW;
        memset(yr, 0, (size_t)OW * sizeof *yr);
        for (int64_t b = 0; b < p->k[1]; b++) {
            int64_t iy = oy * sh - p->pd[1] + b * p->dl[1];
            if (iy < 0 || iy >= H)
                continue;
            for (int64_t d = 0; d < p->k[2]; d++) {
                float wv = w[b * p->k[2] + d];
                /* input column ox * sw + off, as a contiguous run */
                const float *src = sw > 1
                                       ? rows + (iy * sw + phase[d]) * Wq +
                                             base[d]
                                       : rows + iy * Wd + base[d];
                int64_t ox = lo[d];
                /* blocks of CLV_ENGINE_BLOCK through a local array:
                 * vector instructions at -O2, the same arithmetic as the
                 * scalar tail */
                for (; ox + CLV_ENGINE_BLOCK <= hi[d];
                     ox += CLV_ENGINE_BLOCK) {
                    float v[CLV_ENGINE_BLOCK];
                    for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                        v[k] = src[ox + k];
                    for (int k = 0; k < CLV_ENGINE_BLOCK; k++)
                        yr[ox + k] = yr[ox + k] + wv * v[k];
                }
                for (; ox < hi[d]; ox++)
                    yr[ox] = yr[ox] + wv * src[ox];
            }
        }
    }
    if (!clv_engine__epi_empty(&c->s->epi))
        clv_engine__epi_apply(&c->s->epi, c->bias, ch, y, (size_t)p->P);
}

static int run_conv(const clv_engine__step *s, clv_engine__exec *x)
{
    const conv_plan *p = s->plan;
    conv_ctx c;
    c.s = s;
    c.x = x;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.W = clv_engine__in(x, s, 1);
    c.bias = s->epi.bias_t >= 0 ? x->ptr[s->epi.bias_t] : NULL;
    c.Y = clv_engine__out(x, s);
    c.col = clv_engine__scratch(x);

    if (p->kind == CONV_DW) {
        clv_engine__parallel(x, p->N * p->C, task_dw, &c);
    } else if (p->tiling == TILE_ROWS) {
        if (p->kind == CONV_GEMM)
            clv_engine__parallel(x, p->nkr, task_im2col_rows, &c);
        else
            c.col = (float *)(uintptr_t)c.X; /* 1x1: the input itself */
        clv_engine__parallel(x, p->nmr, task_rows, &c);
    } else {
        clv_engine__parallel(x, p->N * p->G * p->ncb, task_cols, &c);
    }
    return 0;
}

int clv_engine__plan_conv(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_graph *g = pl->g;
    const clv_node *n = s->n;
    const clv_tensor *X = clv_engine__in_t(g, s, 0);
    const clv_tensor *W = clv_engine__in_t(g, s, 1);
    const clv_tensor *Y = clv_engine__out_t(g, s);
    const int64_t *strides, *pads, *dil;
    size_t ns_s, ns_p, ns_d;
    conv_plan *p;
    int ns;
    bool unit = true;

    if (X->dtype != CLV_DT_FLOAT || W->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Conv runs on float32 only");
    ns = X->ndim - 2;
    if (ns < 1 || ns > 3)
        return clv_engine__node_error(
            pl, s, CLV_EUNSUPPORTED,
            "Conv with %d spatial dims is not supported (1 to 3)", ns);
    strides = clv_node_ints(n, "strides", &ns_s);
    pads = clv_node_ints(n, "pads", &ns_p);
    dil = clv_node_ints(n, "dilations", &ns_d);
    if (!strides || !pads || !dil || (int)ns_s != ns ||
        (int)ns_p != 2 * ns || (int)ns_d != ns)
        return clv_engine__node_error(
            pl, s, CLV_EINVAL,
            "Conv lacks canonical strides, pads or dilations");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->N = X->dims[0];
    p->C = X->dims[1];
    p->M = W->dims[0];
    p->G = clv_node_int(n, "group", 1);
    p->Cg = p->C / p->G;
    p->Mg = p->M / p->G;
    p->S = 1;
    p->P = 1;
    p->K = p->Cg;
    for (int i = 0; i < 3; i++) {
        int k = i - (3 - ns); /* the graph's spatial dim, or < 0 */
        p->in[i] = k < 0 ? 1 : X->dims[2 + k];
        p->o[i] = k < 0 ? 1 : Y->dims[2 + k];
        p->k[i] = k < 0 ? 1 : W->dims[2 + k];
        p->st[i] = k < 0 ? 1 : strides[k];
        p->dl[i] = k < 0 ? 1 : dil[k];
        p->pd[i] = k < 0 ? 0 : pads[k];
        if (k >= 0 && (p->k[i] != 1 || p->st[i] != 1 || pads[k] != 0 ||
                       pads[ns + k] != 0))
            unit = false;
        p->S *= p->in[i];
        p->P *= p->o[i];
        p->K *= p->k[i];
    }
    if (p->K > INT_MAX || p->P > INT_MAX || p->M > INT_MAX ||
        p->S > INT_MAX)
        return clv_engine__node_error(pl, s, CLV_ELIMIT,
                                      "Conv is too large for sgemm");
    s->epi.bias_t = n->n_inputs > 2 ? n->inputs[2] : -1;

    if (ns == 2 && p->G == p->C && p->M == p->C && p->k[2] <= 64) {
        p->kind = CONV_DW;
        if (p->st[2] > 1) /* the phases of one plane */
            s->scratch_thread =
                (size_t)(p->in[1] * p->st[2] *
                         ((p->in[2] + p->st[2] - 1) / p->st[2])) *
                sizeof(float);
    }
    else if (unit)
        p->kind = CONV_1X1;
    else
        p->kind = CONV_GEMM;

    if (p->kind != CONV_DW) {
        if (p->N * p->G == 1 && p->P < 256 && p->M >= 128) {
            p->tiling = TILE_ROWS;
            p->nmr = clv_engine__pieces(p->M, 64, 8, &p->mr);
            p->nkr = clv_engine__pieces(p->K, 64, 8, &p->kr);
            if (p->kind == CONV_GEMM)
                s->scratch_shared = (size_t)(p->K * p->P) * sizeof(float);
        } else {
            /* a piece of columns: about 1 MiB of im2col, 16 or more
             * columns, and at least 4 pieces for large outputs */
            int64_t wmax = (int64_t)262144 / (p->K > 0 ? p->K : 1), count;
            if (wmax < 64)
                wmax = 64;
            if (wmax > 4096)
                wmax = 4096;
            count = (p->P + wmax - 1) / wmax;
            if (count < p->P / 256 && count < 4)
                count = p->P / 256 < 4 ? p->P / 256 : 4;
            if (count < 1)
                count = 1;
            p->cw = (p->P + count - 1) / count;
            p->cw = (p->cw + 15) / 16 * 16;
            if (p->cw > p->P)
                p->cw = p->P;
            if (p->cw < 1)
                p->cw = 1;
            p->ncb = (p->P + p->cw - 1) / p->cw;
            p->tiling = TILE_COLS;
            if (p->kind == CONV_GEMM)
                s->scratch_thread = (size_t)(p->K * p->cw) * sizeof(float);
        }
    }
    s->plan = p;
    s->run = run_conv;
    return 0;
}
