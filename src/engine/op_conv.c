/*
 * Conv: float32, 1 to 3 spatial dims (mapped onto depth x height x width
 * with unit leading dims), groups, strides, dilations, pads.
 *
 * Kernels, chosen at plan time. On x86-64 with AVX2 + FMA
 * (clv_engine__simd_ok), 2-D, constant weights, the engine's own products
 * (gemm_avx2.c) on weights packed once at create time; the input is first
 * copied, zero-padded and split into its stride phases ("the split copy":
 * plane (c, py, px) holds padded rows py, py + sh, ... and columns px,
 * px + sw, ...), so that every row k = (c, ky, kx) of the column matrix is
 * the copy read at an offset fixed per k, position (oy, ox) at oy * Wq +
 * ox; no im2col is ever materialised:
 *   TRANS the product transposed, pixels by channels: tiles of 6 output
 *         positions x 16 output channels, the positions' values broadcast
 *         from the split copy, the weights' 16 channels loaded; when a
 *         group has a multiple of 8 channels the copy interleaves them by
 *         8 (value (y, x) of channel 8b + i at ((b, y, x) * 8 + i)) and K
 *         runs (channel block, ky, kx, channel in block), so eight
 *         successive K rows read the same 32 bytes per position; the
 *         block of pixels goes out transposed through 8 x 8 shuffles with
 *         the epilogue;
 *   WIDE  the product as is, channels by "wide" positions oy * Wq + ox
 *         (ox up to Wq >= OW), the rows of B read in place from the split
 *         copy, into a per-thread block whose ox < OW columns are copied
 *         out (or straight into the output when Wq == OW);
 *   PACK  im2col of a block of K rows and a piece of output positions
 *         straight into panels of 16 (no split copy);
 *   the cheapest by a cost model (multiply-adds including each kernel's
 *   wasted tile lanes, and the copies each one makes); 1x1 convolutions
 *   joined into one step (clv_engine__conv_joinable, engine.c) run as one
 *   TRANS product of their stacked weights, whose blocks go out to each
 *   one's output with its own epilogue;
 *   DW    depthwise (group == C == M): 8 channels interleaved in a padded
 *         copy, one vector per output position of the 8 channels (taps
 *         up to 25), else per plane on the split copy;
 * otherwise (no AVX2, weights computed at run time, 3-D) through OpenBLAS:
 *   DW    depthwise 2-D: a direct loop per output row;
 *   1X1   1x1, stride 1, no padding: sgemm straight on the input;
 *   GEMM  the rest: im2col of a piece of output columns into scratch, then
 *         sgemm (weights [M/g, C/g * k] x columns [C/g * k, piece]).
 * The bias, a fused BatchNormalization and activation are applied in
 * registers or right after each piece's product, while it is in cache,
 * with the operations of clv_engine__epi_apply().
 *
 * Each output value is one chain of operations fixed by the node's shape:
 * with the AVX2 kernels a chain of fused multiply-adds over K in the order
 * the kernel's packing defines, from zero; a K block continues the chain
 * from the value the previous block stored. Work is cut into pieces of
 * positions and of channels (more of them when there are several
 * threads), which changes which thread computes a value, never how: the
 * values do not depend on the thread count. OpenBLAS runs single-threaded
 * on pieces that depend on the shapes only.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "engine/op_conv.h"


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

/* ---- WIDE, PACK and TRANS: the engine's products ----------------------- */


static int64_t round_up(int64_t a, int64_t m)
{
    return (a + m - 1) / m * m;
}

/* PACK: rows [k0, k0 + kb) of the column matrix of one group (first input
 * channel at x), columns [j0, j0 + w), as panels of NR columns: value
 * (r, j) at dst + ((j - j0) / NR) * kb * NR + (r - k0) * NR + (j - j0) % NR,
 * zero past w up to the last panel's end. */
static void pack_b(const conv_plan *p, const float *x, int64_t k0,
                   int64_t kb, int64_t j0, int64_t w, float *dst)
{
    const int64_t k1 = p->k[1], k2 = p->k[2], kvol = k1 * k2;
    const int64_t o2 = p->o[2], panel = kb * NR;
    const int64_t wfull = w / NR * NR;
    if (p->unit1) {
        for (int64_t r = 0; r < kb; r++) {
            const float *src = x + (k0 + r) * p->S + j0;
            float *d = dst + r * NR;
            int64_t q = 0;
            for (; q < wfull; q += NR, d += panel)
                memcpy(d, src + q, NR * sizeof *d);
            if (q < w) {
                memcpy(d, src + q, (size_t)(w - q) * sizeof *d);
                memset(d + (w - q), 0, (size_t)(NR - (w - q)) * sizeof *d);
            }
        }
        return;
    }
    for (int64_t r = 0; r < kb; r++) {
        int64_t kk = k0 + r, c = kk / kvol, rem = kk % kvol;
        int64_t b = rem / k2, d = rem % k2;
        const float *xc = x + c * p->S;
        int64_t j = j0, end = j0 + w;
        int64_t oy = j / o2, ox = j % o2;
        int64_t off = d * p->dl[2] - p->pd[2], lo, hi;
        const int64_t sx = p->st[2];
        valid_range(o2, sx, off, p->in[2], &lo, &hi);
        while (j < end) {
            int64_t col = j - j0, inpan = col % NR;
            int64_t run = o2 - ox;
            float *dp = dst + (col / NR) * panel + r * NR + inpan;
            int64_t iy = oy * p->st[1] - p->pd[1] + b * p->dl[1];
            if (run > end - j)
                run = end - j;
            if (run > NR - inpan)
                run = NR - inpan;
            if (iy < 0 || iy >= p->in[1]) {
                for (int64_t q = 0; q < run; q++)
                    dp[q] = 0.0f;
            } else {
                const float *row = xc + iy * p->in[2] + off;
                int64_t a0 = lo > ox ? lo : ox;
                int64_t a1 = hi < ox + run ? hi : ox + run;
                int64_t q = 0;
                for (; q < a0 - ox && q < run; q++)
                    dp[q] = 0.0f;
                if (sx == 1)
                    for (; q < a1 - ox; q++)
                        dp[q] = row[ox + q];
                else
                    for (; q < a1 - ox; q++)
                        dp[q] = row[(ox + q) * sx];
                for (; q < run; q++)
                    dp[q] = 0.0f;
            }
            j += run;
            ox += run;
            if (ox == o2) {
                ox = 0;
                oy++;
            }
        }
    }
    if (w % NR) { /* zero the last panel past w */
        float *d = dst + (w / NR) * panel;
        for (int64_t r = 0; r < kb; r++)
            memset(d + r * NR + w % NR, 0,
                   (size_t)(NR - w % NR) * sizeof *d);
    }
}


/* WIDE, phase 1: the split copy of channel t of image c->n. */
static void task_split(void *arg, int64_t t, int tid)
{
    const gconv_ctx *c = arg;
    const conv_plan *p = c->p;
    const int64_t sh = p->st[1], sw = p->st[2], H = p->in[1], W = p->in[2];
    const float *x = c->X + (c->n * p->C + t) * p->S;
    (void)tid;
    for (int64_t py = 0; py < sh; py++)
        for (int64_t px = 0; px < sw; px++) {
            float *pl = c->xq + ((t * sh + py) * sw + px) * p->PL;
            /* input column ix = xq * sw + px - pad: valid xq in [lo, hi) */
            int64_t lo, hi;
            valid_range(p->Wq, sw, px - p->pd[2], W, &lo, &hi);
            for (int64_t yq = 0; yq < p->Hq; yq++) {
                float *d = pl + yq * p->Wq;
                int64_t iy = yq * sh + py - p->pd[1];
                if (iy < 0 || iy >= H) {
                    memset(d, 0, (size_t)p->Wq * sizeof *d);
                    continue;
                }
                const float *src = x + iy * W + px - p->pd[2];
                if (lo > 0)
                    memset(d, 0, (size_t)lo * sizeof *d);
                if (sw == 1)
                    memcpy(d + lo, src + lo, (size_t)(hi - lo) * sizeof *d);
                else
                    for (int64_t q = lo; q < hi; q++)
                        d[q] = src[q * sw];
                if (hi < p->Wq)
                    memset(d + hi, 0, (size_t)(p->Wq - hi) * sizeof *d);
            }
        }
    if (t == p->C - 1) /* the slack after the last plane */
        memset(c->xq + p->C * sh * sw * p->PL, 0,
               (size_t)(p->XF - p->C * sh * sw * p->PL) * sizeof(float));
}

/* The K blocks of group g, rows [m0, m1), ncols columns, into y (ldc).
 * B: b + off[k] (off != NULL); else packed panels, made here block by
 * block into bpack from the group's input xg (columns from j0) when xg is
 * not NULL, or already packed for all of K at bpack (block k0 at bpack +
 * k0 * cw). The epilogue goes with the last block when epi. */
static void run_blocks(const gconv_ctx *c, int64_t g, int64_t m0,
                       int64_t m1, const float *b, const int32_t *off,
                       int64_t ncols, float *y, int64_t ldc, bool epi,
                       float *bpack, const float *xg, int64_t j0)
{
    const conv_plan *p = c->p;
    const float *A = p->A + g * p->Mp * p->K;
    for (int64_t k0 = 0; k0 < p->K; k0 += p->kc) {
        int64_t kb = p->K - k0 < p->kc ? p->K - k0 : p->kc;
        clv_engine__gemm_job j;
        if (off) {
            j.b = b;
            j.off = off + k0;
        } else if (xg) {
            pack_b(p, xg, k0, kb, j0, ncols, bpack);
            j.b = bpack;
            j.off = NULL;
        } else {
            j.b = bpack + k0 * p->cw;
            j.off = NULL;
        }
        j.kc = kb;
        j.a = A + k0 * p->Mp;
        j.ncols = ncols;
        j.c = y;
        j.ldc = ldc;
        j.acc = k0 > 0;
        j.epi = epi && k0 + kb == p->K ? &c->s->epi : NULL;
        j.bias = c->bias;
        j.ch0 = g * p->Mg;
        for (int64_t m = m0; m < m1; m += MC_ROWS) {
            j.m0 = m;
            j.m1 = m1 - m < MC_ROWS ? m1 : m + MC_ROWS;
            clv_engine__gemm_run(&j);
        }
    }
}

/* WIDE, phase 2: group g, a piece of wide columns, a chunk of rows. */
static void task_wide(void *arg, int64_t t, int tid)
{
    const gconv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t mc = t % p->nmc, pc = (t / p->nmc) % p->ncb,
            g = t / (p->nmc * p->ncb);
    int64_t m0 = mc * p->mcw, m1 = m0 + p->mcw < p->Mg ? m0 + p->mcw : p->Mg;
    int64_t j0 = pc * p->cw;
    const float *b = c->xq + g * p->Cg * p->st[1] * p->st[2] * p->PL + j0;
    float *yg = c->Y + (c->n * p->M + g * p->Mg) * p->P;
    const int64_t OW = p->o[2], Wq = p->Wq;

    if (p->direct) {
        int64_t w = p->P - j0 < p->cw ? p->P - j0 : p->cw;
        run_blocks(c, g, m0, m1, b, p->off, w, yg + j0, p->P, true, NULL,
                   NULL, 0);
        return;
    }
    /* into the thread's block of wide columns, then out */
    {
        int64_t wend = p->Pw - j0 < p->cw ? p->Pw - j0 : p->cw;
        float *cw = clv_engine__scratch_t(c->x, tid);
        bool epi = !clv_engine__epi_empty(&c->s->epi);
        run_blocks(c, g, m0, m1, b, p->off, wend, cw, p->cw, false, NULL,
                   NULL, 0);
        for (int64_t m = m0; m < m1; m++) {
            float *row = cw + m * p->cw;
            float *ym = yg + m * p->P;
            int64_t j = 0, oy = j0 / Wq, ox = j0 % Wq;
            if (epi)
                clv_engine__epi_apply_simd(&c->s->epi, c->bias,
                                           g * p->Mg + m, row,
                                           (size_t)wend);
            while (j < wend) {
                if (ox < OW) {
                    int64_t run = OW - ox < wend - j ? OW - ox : wend - j;
                    memcpy(ym + oy * OW + ox, row + j,
                           (size_t)run * sizeof *row);
                    j += run;
                    ox += run;
                } else {
                    j += Wq - ox;
                    ox = 0;
                    oy++;
                }
            }
        }
    }
}

/* PACK: image n, group g, a piece of columns, a chunk of rows; packs
 * its own B block by block in the thread's scratch. */
static void task_pack(void *arg, int64_t t, int tid)
{
    const gconv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t mc = t % p->nmc, pc = (t / p->nmc) % p->ncb,
            g = (t / (p->nmc * p->ncb)) % p->G,
            n = t / (p->nmc * p->ncb * p->G);
    int64_t m0 = mc * p->mcw, m1 = m0 + p->mcw < p->Mg ? m0 + p->mcw : p->Mg;
    int64_t j0 = pc * p->cw, w = p->P - j0 < p->cw ? p->P - j0 : p->cw;
    const float *xg = c->X + (n * p->C + g * p->Cg) * p->S;
    float *y = c->Y + (n * p->M + g * p->Mg) * p->P + j0;
    run_blocks(c, g, m0, m1, NULL, NULL, w, y, p->P, true,
               clv_engine__scratch_t(c->x, tid), xg, j0);
}

/* PACK with a shared B (several threads on few pieces): the piece of
 * image c->n, group c->g, columns from c->j0 (c->w of them). Phase 1
 * packs K block t; phase 2 computes row chunk t. */
static void task_pack_b(void *arg, int64_t t, int tid)
{
    const gconv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t k0 = t * p->kc, kb = p->K - k0 < p->kc ? p->K - k0 : p->kc;
    (void)tid;
    pack_b(p, c->X + (c->n * p->C + c->g * p->Cg) * p->S, k0, kb, c->j0,
           c->w, c->xq + k0 * p->cw);
}

static void task_pack_rows(void *arg, int64_t t, int tid)
{
    const gconv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t m0 = t * p->mcw, m1 = m0 + p->mcw < p->Mg ? m0 + p->mcw : p->Mg;
    float *y = c->Y + (c->n * p->M + c->g * p->Mg) * p->P + c->j0;
    (void)tid;
    run_blocks(c, c->g, m0, m1, NULL, NULL, c->w, y, p->P, true, c->xq,
               NULL, c->j0);
}

/* TRANS, phase 2: group g, a piece of pixels, a chunk of channels: the
 * product transposed into the thread's scratch, then out. */
static void task_trans(void *arg, int64_t t, int tid)
{
    const gconv_ctx *c = arg;
    const conv_plan *p = c->p;
    int64_t cq = t % p->ncq, pc = (t / p->ncq) % p->ncp,
            g = t / (p->ncq * p->ncp);
    int64_t q0 = cq * p->chq, q1 = q0 + p->chq < p->Mq / NR ? q0 + p->chq
                                                           : p->Mq / NR;
    int64_t p0 = pc * p->cp, p1 = p0 + p->cp < p->P ? p0 + p->cp : p->P;
    int64_t ch1 = q1 * NR < p->Mg ? q1 * NR : p->Mg;
    float *ct = clv_engine__scratch_t(c->x, tid);
    float *y = c->Y + (c->n * p->M + g * p->Mg) * p->P;
    clv_engine__gemmt_job j;
    j.x = c->xq + g * p->Cg * p->st[1] * p->st[2] * p->PL;
    j.pix = p->pix;
    j.p0 = p0;
    j.p1 = p1;
    j.q0 = q0;
    j.q1 = q1;
    j.nch = p->Mg;
    j.c = ct;
    j.ldc = p->chq * NR;
    j.grp8 = p->il8;
    for (int64_t k0 = 0; k0 < p->K; k0 += p->kc) {
        j.kc = p->K - k0 < p->kc ? p->K - k0 : p->kc;
        j.off = p->off + k0;
        j.w = p->Wt + g * p->Mq * p->K + k0 * p->Mq;
        j.acc = k0 > 0;
        clv_engine__gemmt_run(&j);
    }
    if (p->n_mem == 0) {
        clv_engine__transpose(ct, j.ldc, p1 - p0, ch1 - q0 * NR,
                              y + q0 * NR * p->P + p0, p->P, &c->s->epi,
                              c->bias, g * p->Mg + q0 * NR);
        return;
    }
    /* joined convolutions: each one's channels to its own output */
    for (int i = 0; i < p->n_mem; i++) {
        const conv_member *m = &p->mem[i];
        const clv_engine__step *st = m->st;
        int64_t lo = m->m0 > q0 * NR ? m->m0 : q0 * NR;
        int64_t hi = m->m1 < ch1 ? m->m1 : ch1;
        float *out = c->x->ptr[st->out];
        const float *bias = st->epi.bias_t >= 0 ? c->x->ptr[st->epi.bias_t]
                                                : NULL;
        if (lo >= hi)
            continue;
        clv_engine__transpose(
            ct + (lo - q0 * NR), j.ldc, p1 - p0, hi - lo,
            out + (c->n * (m->m1 - m->m0) + (lo - m->m0)) * p->P + p0, p->P,
            &st->epi, bias, lo - m->m0);
    }
}

static void run_gconv(const clv_engine__step *s, clv_engine__exec *x)
{
    const conv_plan *p = s->plan;
    gconv_ctx c;
    c.s = s;
    c.x = x;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.bias = s->epi.bias_t >= 0 ? x->ptr[s->epi.bias_t] : NULL;
    c.Y = clv_engine__out(x, s);
    c.xq = clv_engine__scratch(x);
    if (p->kind == CONV_PACK && p->nmc == 1) {
        clv_engine__parallel(x, p->N * p->G * p->ncb, task_pack, &c);
        return;
    }
    if (p->kind == CONV_PACK) {
        for (c.n = 0; c.n < p->N; c.n++)
            for (c.g = 0; c.g < p->G; c.g++)
                for (int64_t pc = 0; pc < p->ncb; pc++) {
                    c.j0 = pc * p->cw;
                    c.w = p->P - c.j0 < p->cw ? p->P - c.j0 : p->cw;
                    clv_engine__parallel(x, (p->K + p->kc - 1) / p->kc,
                                         task_pack_b, &c);
                    clv_engine__parallel(x, p->nmc, task_pack_rows, &c);
                }
        return;
    }
    for (c.n = 0; c.n < p->N; c.n++) {
        if (p->nosplit) /* the split copy would be the input itself */
            c.xq = (float *)(uintptr_t)(c.X + c.n * p->C * p->S);
        else if (p->il8)
            clv_engine__parallel(x, p->C / 8, clv_engine__conv_split8_task, &c);
        else
            clv_engine__parallel(x, p->C, task_split, &c);
        if (p->kind == CONV_TRANS)
            clv_engine__parallel(x, p->G * p->ncp * p->ncq, task_trans, &c);
        else
            clv_engine__parallel(x, p->G * p->ncb * p->nmc, task_wide, &c);
    }
}

/* Row chunks (p->mcw rows, p->nmc of them): one, or several when the
 * pieces of columns are too few to keep the threads busy. */
static void split_rows(int threads, int64_t per_piece, conv_plan *p)
{
    int64_t pieces = per_piece * p->ncb;
    p->mcw = p->Mg;
    p->nmc = 1;
    if (threads > 1 && pieces < 2 * threads) {
        int64_t want = (2 * threads + pieces - 1) / pieces;
        p->mcw = round_up((p->Mg + want - 1) / want, MR);
        if (p->mcw < 2 * MR)
            p->mcw = 2 * MR;
        p->nmc = (p->Mg + p->mcw - 1) / p->mcw;
    }
}

/* TRANS with several threads: pieces enough for the threads to finish
 * together, of near-equal size. A small output (GoogLeNet's 7 x 7 and
 * 14 x 14) makes only a few pieces of the one-thread size, and a thread
 * that takes the last, or a larger, one runs on alone. Halves the channel
 * pieces (down to one panel), then cuts the pixels (down to two tiles),
 * until there are 4 pieces per thread; then evens the channel pieces.
 * Pieces only decide which thread computes a value, never how. */
static void trans_pieces(int threads, conv_plan *p)
{
    const int64_t panels = p->Mq / NR, want = 4 * (int64_t)threads;
    while (p->G * p->ncp * p->ncq < want && p->chq > 1) {
        p->chq = (p->chq + 1) / 2;
        p->ncq = (panels + p->chq - 1) / p->chq;
    }
    for (int64_t n = p->ncp + 1;
         p->G * p->ncp * p->ncq < want && p->cp > 2 * MR; n++) {
        int64_t tiles = (p->P + MR - 1) / MR, per = (tiles + n - 1) / n;
        p->cp = (per < 2 ? 2 : per) * MR;
        p->ncp = (p->P + p->cp - 1) / p->cp;
    }
    p->chq = (panels + p->ncq - 1) / p->ncq;
    p->ncq = (panels + p->chq - 1) / p->chq;
}

/* WIDE and TRANS: the offset of row k of the column matrix in the split
 * copy of the group's input (p->PL and p->Wq set). */
static void wide_offsets(const conv_plan *p, int32_t *off)
{
    const int64_t sh = p->st[1], sw = p->st[2], k1 = p->k[1], k2 = p->k[2];
    for (int64_t k = 0; k < p->K; k++) {
        int64_t c = k / (k1 * k2), ky = (k / k2) % k1, kx = k % k2;
        int64_t y = ky * p->dl[1], xx = kx * p->dl[2];
        off[k] = (int32_t)(((c * sh + y % sh) * sw + xx % sw) * p->PL +
                           (y / sh) * p->Wq + xx / sw);
    }
}

/* Columns the sgemm computes for n: panels of NR, the last one of NR / 2
 * when that covers it. */
static int64_t cols_done(int64_t n)
{
    int64_t full = n / NR * NR;
    return full + (n == full ? 0 : n - full <= NR / 2 ? NR / 2 : NR);
}

/* Chooses WIDE or PACK, the K blocks and the pieces, and packs the
 * weights; *done is false (and nothing the other kernels use changed)
 * when the shape does not suit them. Returns 0 or CLV_ENOMEM. */
static int plan_gconv(clv_engine__planner *pl, clv_engine__step *s,
                      conv_plan *p, const clv_tensor *W, bool *done)
{
    const int64_t sh = p->st[1], sw = p->st[2];
    int64_t nkb, Hp, Wp, Hq, Wq, PL, Pw, XF, k2 = p->k[2];
    double cost_wide, cost_pack, cost_trans, kp = (double)p->K * (double)p->P;
    bool unit1;
    float *A;

    *done = false;
    if (p->in[0] != 1 || p->k[0] != 1 || p->K < 1 || p->P < 1 ||
        p->Mg < 1)
        return 0;
    nkb = (p->K + KC_MAX - 1) / KC_MAX;
    p->kc = (p->K + nkb - 1) / nkb;
    p->Mp = round_up(p->Mg, MR);

    Hp = p->in[1] + p->pd[1] + p->pe[1];
    Wp = p->in[2] + p->pd[2] + p->pe[2];
    Hq = (Hp + sh - 1) / sh;
    Wq = (Wp + sw - 1) / sw;
    PL = Hq * Wq;
    Pw = p->o[1] * Wq;
    XF = p->C * sh * sw * PL + Wq + (k2 - 1) * p->dl[2] + 2 * NR;
    unit1 = k2 == 1 && p->k[1] == 1 && sh == 1 && sw == 1 &&
            p->pd[1] == 0 && p->pd[2] == 0 && p->pe[1] == 0 &&
            p->pe[2] == 0;

    /* cycles, roughly: 16 multiply-adds a cycle (counting the lanes each
     * kernel's tiles waste); packing a value of the column matrix,
     * copying input or output values */
    cost_pack = (double)p->Mg * (double)p->K * (double)cols_done(p->P) /
                    16.0 +
                kp * (unit1 ? 0.2 : sw == 1 ? 0.6 : 1.2);
    cost_wide = (double)p->Mg * (double)p->K * (double)cols_done(Pw) /
                    16.0 +
                (double)(p->Cg * sh * sw * PL) * (sw == 1 ? 0.3 : 1.0) +
                (Wq == p->o[2] ? 0.0 : (double)p->Mg * (double)p->P * 0.5);
    cost_trans = (double)round_up(p->Mg, NR / 2) * (double)p->K *
                     (double)round_up(p->P, MR) / 16.0 +
                 (unit1 ? 0.0
                        : (double)(p->Cg * sh * sw * PL) *
                              (sw == 1 ? 0.3 : 1.0)) +
                 (double)p->Mg * (double)p->P * 0.25;
    if (XF > INT32_MAX || Pw > INT32_MAX) {
        cost_wide = INFINITY;
        cost_trans = INFINITY;
    }

    if (p->n_mem > 0 || (cost_trans < cost_wide && cost_trans < cost_pack)) {
        int32_t *off, *pix;
        float *Wt;
        p->kind = CONV_TRANS;
        p->Hp = Hp;
        p->Wp = Wp;
        p->Hq = Hq;
        p->Wq = Wq;
        p->PL = PL;
        p->Pw = Pw;
        p->XF = XF;
        p->Mq = round_up(p->Mg, NR);
        off = clv_engine__keep(pl, (size_t)p->K * sizeof *off);
        pix = clv_engine__keep(pl, (size_t)p->P * sizeof *pix);
        Wt = clv_engine__keep(pl, clv_engine__pack_wt_floats(p->Mg, p->K) *
                                      (size_t)p->G * sizeof *Wt);
        if (!off || !pix || !Wt)
            return CLV_ENOMEM;
        /* interleave 8 channels when the group's channels allow; not for
         * a 1x1 unit-stride unpadded product of few channels, which
         * reads its input in place for less than the interleaving copy
         * would cost (for 1x1 both orders of K are the channel order:
         * the same chains either way) */
        p->il8 = p->Cg % 8 == 0 && !(unit1 && p->Mg < IL8_MIN_1X1);
        {
            /* il8: K runs (channel block, ky, kx, channel in block), the
             * weights' columns permuted to match; else K is (c, ky, kx) */
            const int64_t kv = p->k[1] * k2, sc = p->il8 ? 8 : 1;
            int32_t *perm = NULL;
            if (p->il8) {
                perm = malloc((size_t)p->K * sizeof *perm);
                if (!perm)
                    return clv_engine__node_error(pl, s, CLV_ENOMEM,
                                                  "out of memory");
                p->kc = round_up(p->kc, 8); /* K blocks of whole groups */
                for (int64_t k = 0; k < p->K; k++) {
                    int64_t cb = k / (kv * 8), r = k % (kv * 8);
                    int64_t ky = r / (k2 * 8), kx = (r / 8) % k2, ci = r % 8;
                    int64_t y = ky * p->dl[1], xx = kx * p->dl[2];
                    off[k] = (int32_t)((((cb * sh + y % sh) * sw + xx % sw) *
                                            PL +
                                        (y / sh) * Wq + xx / sw) *
                                           8 +
                                       ci);
                    perm[k] = (int32_t)((cb * 8 + ci) * kv + ky * k2 + kx);
                }
            } else {
                wide_offsets(p, off);
            }
            for (int64_t q = 0; q < p->P; q++)
                pix[q] = (int32_t)(((q / p->o[2]) * Wq + q % p->o[2]) * sc);
            for (int64_t g = 0; g < p->G; g++)
                clv_engine__pack_wt((const float *)W->data + g * p->Mg * p->K,
                                    p->K, p->Mg, p->K, p->kc, perm,
                                    Wt + g * p->Mq * p->K);
            free(perm);
        }
        p->off = off;
        p->pix = pix;
        p->Wt = clv_engine__share(pl, Wt, clv_engine__pack_wt_floats(p->Mg, p->K) *
                                              (size_t)p->G * sizeof *Wt);
        p->chq = p->Mq / NR < 8 ? p->Mq / NR : 8;
        p->ncq = (p->Mq / NR + p->chq - 1) / p->chq;
        /* pixels per piece: the transposed block of about 64 KiB; when the
         * weights outgrow the caches (they stream from memory once per
         * piece), up to 256 KiB */
        p->cp = round_up(16384 / (p->chq * NR), MR);
        if ((double)p->Mq * (double)p->K * 4.0 > 4e6)
            p->cp = round_up(65536 / (p->chq * NR), MR);
        if (p->cp > round_up(p->P, MR))
            p->cp = round_up(p->P, MR);
        p->ncp = (p->P + p->cp - 1) / p->cp;
        p->cp = round_up((p->P + p->ncp - 1) / p->ncp, MR);
        p->ncp = (p->P + p->cp - 1) / p->cp;
        if (pl->threads > 1)
            trans_pieces(pl->threads, p);
        s->scratch_thread = (size_t)(p->cp * p->chq * NR) * sizeof(float);
        /* TRANS reads the rows only at real pixels: without padding or
         * stride the split copy is the input, in place */
        p->nosplit = !p->il8 && sh == 1 && sw == 1 && Hp == p->in[1] &&
                     Wp == p->in[2];
        if (!p->nosplit)
            s->scratch_shared = (size_t)XF * sizeof(float);
        *done = true;
        return 0;
    }
    A = clv_engine__keep(pl, clv_engine__pack_a_floats(p->Mg, p->K) *
                                 (size_t)p->G * sizeof *A);
    if (!A)
        return CLV_ENOMEM;
    for (int64_t g = 0; g < p->G; g++)
        clv_engine__pack_a((const float *)W->data + g * p->Mg * p->K, p->K,
                           p->Mg, p->K, p->kc, A + g * p->Mp * p->K);
    p->A = A = clv_engine__share(pl, A, clv_engine__pack_a_floats(p->Mg, p->K) *
                                            (size_t)p->G * sizeof *A);
    if (cost_wide < cost_pack) {
        int32_t *off;
        p->kind = CONV_WIDE;
        p->Hp = Hp;
        p->Wp = Wp;
        p->Hq = Hq;
        p->Wq = Wq;
        p->PL = PL;
        p->Pw = Pw;
        p->XF = XF;
        p->direct = Wq == p->o[2];
        off = clv_engine__keep(pl, (size_t)p->K * sizeof *off);
        if (!off)
            return CLV_ENOMEM;
        wide_offsets(p, off);
        p->off = off;
        if (p->direct) {
            p->cw = round_up(p->P < 1024 ? p->P : 1024, NR);
            p->ncb = (p->P + p->cw - 1) / p->cw;
        } else {
            int64_t cw = round_up(65536 / p->Mg, NR);
            if (cw < 4 * NR)
                cw = 4 * NR;
            if (cw > round_up(Pw, NR))
                cw = round_up(Pw, NR);
            p->ncb = (round_up(Pw, NR) + cw - 1) / cw;
            p->cw = round_up((round_up(Pw, NR) + p->ncb - 1) / p->ncb, NR);
            p->ncb = (round_up(Pw, NR) + p->cw - 1) / p->cw;
            s->scratch_thread = (size_t)(p->Mg * p->cw) * sizeof(float);
        }
        s->scratch_shared = (size_t)XF * sizeof(float);
    } else {
        /* B blocks of about 256 KiB; but when A outgrows L2, wide pieces
         * so that it streams in fewer times */
        int64_t cw = round_up(65536 / p->kc, NR);
        p->kind = CONV_PACK;
        p->unit1 = unit1;
        if ((double)p->Mg * (double)p->K * 4.0 > 2e6 && cw < 1536)
            cw = 1536;
        if (cw > round_up(p->P, NR))
            cw = round_up(p->P, NR);
        p->ncb = (p->P + cw - 1) / cw;
        p->cw = round_up((p->P + p->ncb - 1) / p->ncb, NR);
        p->ncb = (p->P + p->cw - 1) / p->cw;
    }
    /* rows: one chunk, or several when there are few pieces to share */
    split_rows(pl->threads, (p->kind == CONV_PACK ? p->N : 1) * p->G, p);
    if (p->kind == CONV_PACK && p->nmc > 1 && p->K * p->cw > (1 << 21)) {
        /* a shared B of at most 8 MiB */
        p->cw = round_up((1 << 21) / p->K, NR);
        p->ncb = (p->P + p->cw - 1) / p->cw;
        split_rows(pl->threads, p->N * p->G, p);
    }
    if (p->kind == CONV_PACK) {
        if (p->nmc > 1) /* one B for all the threads */
            s->scratch_shared = (size_t)(p->K * p->cw) * sizeof(float);
        else
            s->scratch_thread = (size_t)(p->kc * p->cw) * sizeof(float);
    }
    *done = true;
    return 0;
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

    if (p->kind == CONV_WIDE || p->kind == CONV_PACK ||
        p->kind == CONV_TRANS) {
        run_gconv(s, x);
    } else if (p->kind == CONV_DW) {
        /* p->off: planned for AVX2 (pl->simd) */
        if (p->off && p->dw8) {
            clv_engine__parallel(x, p->N * ((p->C + 7) / 8),
                                 clv_engine__conv_dw8_task, &c);
            return 0;
        }
        if (p->off) {
            clv_engine__parallel(x, p->N * p->C, clv_engine__conv_dw_task, &c);
            return 0;
        }
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

/* Depthwise with AVX2: the split plane's geometry and the taps'
 * offsets in it (p->off), the plane in per-thread scratch. */
static int plan_dw_avx(clv_engine__planner *pl, clv_engine__step *s,
                       conv_plan *p)
{
    const int64_t sh = p->st[1], sw = p->st[2];
    int32_t *off;
    p->Hp = p->in[1] + p->pd[1] + p->pe[1];
    p->Wp = p->in[2] + p->pd[2] + p->pe[2];
    p->Hq = (p->Hp + sh - 1) / sh;
    p->Wq = (p->Wp + sw - 1) / sw;
    p->PL = p->Hq * p->Wq;
    /* reads run up to 7 values past a row's last output */
    p->XF = sh * sw * p->PL + p->Wq + (p->k[2] - 1) * p->dl[2] + 2 * NR;
    p->K = p->k[1] * p->k[2];
    if (p->XF > INT32_MAX)
        return 0;
    off = clv_engine__keep(pl, (size_t)p->K * sizeof *off);
    if (!off)
        return CLV_ENOMEM;
    wide_offsets(p, off);
    p->off = off;
    /* the split plane, then (narrow planes) the wide outputs */
    s->scratch_thread =
        (size_t)(p->XF + p->o[1] * p->Wq + 8) * sizeof(float);
    p->dw8 = p->K <= 25;
    if (p->dw8) {
        /* the interleaved copy and outputs of 8 channels */
        off = (int32_t *)(uintptr_t)p->off;
        for (int64_t k = 0; k < p->K; k++)
            off[k] = (int32_t)(((k / p->k[2]) * p->dl[1] * p->Wp +
                                (k % p->k[2]) * p->dl[2]) * 8);
        s->scratch_thread =
            (size_t)((p->Hp * p->Wp + p->P) * 8 + 32) * sizeof(float);
    }
    return 0;
}

bool clv_engine__conv_joinable(const clv_graph *g, const clv_node *a,
                               const clv_node *b)
{
    const clv_node *n[2] = {a, b};
    const clv_tensor *X;
    if (a->op != CLV_OP_CONV || b->op != CLV_OP_CONV || a->n_inputs < 2 ||
        b->n_inputs < 2 || a->inputs[0] < 0 || a->inputs[0] != b->inputs[0])
        return false;
    X = clv_graph_tensor(g, a->inputs[0]);
    /* (one input channel would be a depthwise convolution) */
    if (X->dtype != CLV_DT_FLOAT || X->ndim != 4 || X->dims[1] < 2 ||
        X->dims[1] * X->dims[2] * X->dims[3] > (1 << 28))
        return false;
    for (int i = 0; i < 2; i++) {
        const clv_tensor *W = clv_graph_tensor(g, n[i]->inputs[1]);
        const clv_tensor *B = n[i]->n_inputs > 2 && n[i]->inputs[2] >= 0
                                  ? clv_graph_tensor(g, n[i]->inputs[2])
                                  : NULL;
        const int64_t *st, *pd;
        size_t nst, npd;
        if (W->dtype != CLV_DT_FLOAT || !(W->flags & CLV_TENSOR_CONST) ||
            !W->data || W->ndim != 4 || W->dims[1] != X->dims[1] ||
            W->dims[2] != 1 || W->dims[3] != 1 ||
            clv_node_int(n[i], "group", 1) != 1)
            return false;
        if (B && (B->dtype != CLV_DT_FLOAT || !(B->flags & CLV_TENSOR_CONST) ||
                  !B->data || clv_tensor_numel(B) != W->dims[0]))
            return false;
        st = clv_node_ints(n[i], "strides", &nst);
        pd = clv_node_ints(n[i], "pads", &npd);
        if (!st || !pd || nst != 2 || npd != 4)
            return false;
        for (size_t k = 0; k < nst; k++)
            if (st[k] != 1)
                return false;
        for (size_t k = 0; k < npd; k++)
            if (pd[k] != 0)
                return false;
    }
    return true;
}

/* The step's convolution joined with its siblings (s->sib): p's channels
 * become the sum of theirs, *W a tensor of their weights stacked (kept by
 * the engine), and p->mem says where each one's channels go. */
static int join_plan(clv_engine__planner *pl, clv_engine__step *s,
                     conv_plan *p, const clv_tensor **W)
{
    const int n = s->n_sib + 1;
    conv_member *mem = clv_engine__keep(pl, (size_t)n * sizeof *mem);
    clv_tensor *wt = clv_engine__keep(pl, sizeof *wt);
    int64_t m = 0;
    float *data;
    for (int i = 0; i < n; i++) {
        const clv_engine__step *st = i == 0 ? s : s->sib[i - 1];
        m += clv_graph_tensor(pl->g, st->n->inputs[1])->dims[0];
    }
    data = clv_engine__keep(pl, (size_t)(m * p->K) * sizeof *data);
    if (!mem || !wt || !data)
        return CLV_ENOMEM;
    m = 0;
    for (int i = 0; i < n; i++) {
        clv_engine__step *st = i == 0 ? s : s->sib[i - 1];
        const clv_tensor *w = clv_graph_tensor(pl->g, st->n->inputs[1]);
        memcpy(data + m * p->K, w->data,
               (size_t)(w->dims[0] * p->K) * sizeof *data);
        st->epi.bias_t = st->n->n_inputs > 2 ? st->n->inputs[2] : -1;
        mem[i].m0 = m;
        mem[i].m1 = m + w->dims[0];
        mem[i].st = st;
        m += w->dims[0];
    }
    *wt = **W;
    wt->dims[0] = m;
    wt->data = clv_engine__share(pl, data, (size_t)(m * p->K) * sizeof *data);
    *W = wt;
    p->M = m;
    p->Mg = m;
    p->mem = mem;
    p->n_mem = n;
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
        p->pe[i] = k < 0 ? 0 : pads[ns + k];
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
        if (pl->simd) {
            int rc = plan_dw_avx(pl, s, p);
            if (rc)
                return rc;
        }
        if (!p->off && p->st[2] > 1) /* the phases of one plane */
            s->scratch_thread =
                (size_t)(p->in[1] * p->st[2] *
                         ((p->in[2] + p->st[2] - 1) / p->st[2])) *
                sizeof(float);
    }
    else if (unit)
        p->kind = CONV_1X1;
    else
        p->kind = CONV_GEMM;

    if (s->n_sib > 0) {
        int rc = join_plan(pl, s, p, &W);
        if (rc)
            return rc;
    }
    if (p->kind != CONV_DW && pl->simd && (W->flags & CLV_TENSOR_CONST) &&
        W->data) {
        bool done;
        int rc = plan_gconv(pl, s, p, W, &done);
        if (rc)
            return rc;
        if (done) {
            s->plan = p;
            s->run = run_conv;
            return 0;
        }
    }
    if (p->n_mem > 0) /* clv_engine__conv_joinable let through a shape
                         the joined product cannot take */
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "joined 1x1 convolutions need the "
                                      "AVX2 product");

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
