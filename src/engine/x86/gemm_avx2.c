/*
 * The engine's own single-precision matrix products, for x86-64 CPUs with
 * AVX2 and FMA (checked at run time with __builtin_cpu_supports; the code
 * is compiled for those instructions through target attributes, so the
 * library still runs on any x86-64, where the engine takes its portable
 * paths). Convolutions use them (op_conv.c) on weights packed once at
 * create time:
 *   clv_engine__gemm_run   C[m, j] = sum over k of A[m, k] B[k, j] in tiles
 *                          of 6 x 16 (rows = output channels), B packed in
 *                          panels or read in place through row offsets;
 *   clv_engine__gemmt_run  the same product transposed, tiles of 6 output
 *                          positions x 16 channels, the positions' values
 *                          broadcast from the input through row offsets;
 * and the epilogue and transposes that go with them.
 *
 * Each value is one chain of fused multiply-adds over k in increasing
 * order, block of K after block of K (a block continues the chain from the
 * value the previous block stored), so its bits depend only on the
 * operands and their K order: not on the tile, the piece or the thread
 * that computes it (a K block boundary changes nothing either: storing the
 * float and loading it back is exact).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"
#include "engine/x86/simd.h"

#define MR CLV_GEMM_MR
#define NR CLV_GEMM_NR

bool clv_engine__simd_ok(void)
{
    const char *env = getenv("CLEAVE_ENGINE_GENERIC");
    if (env && env[0] && strcmp(env, "0") != 0)
        return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* ---- the epilogue, 8 values at a time ----------------------------------- */

/* The same IEEE operations per value as clv_engine__epi_apply() (ops.c):
 * v + bias, then v * scale + shift (two roundings: the library is built
 * without contraction), then the activation; max/min/blend chosen so that
 * NaN and signed zeros come out as the scalar conditionals give them. */
TGT void clv_engine__epi_apply_simd(const clv_engine__epi *e,
                                    const float *bias, int64_t c, float *y,
                                    size_t n)
{
    size_t i = 0;
    epi_vecs v;
    if (!epi_vec_ok(e)) {
        clv_engine__epi_apply(e, bias, c, y, n);
        return;
    }
    epi_load(e, bias, c, &v);
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, epi_vec(&v, _mm256_loadu_ps(y + i)));
    if (i < n)
        clv_engine__epi_apply(e, bias, c, y + i, n - i);
}

/* ---- the micro-kernel ---------------------------------------------------- */

#define ROW_FMA(r)                                                        \
    do {                                                                  \
        if (R > (r)) {                                                    \
            __m256 t = _mm256_broadcast_ss(a + (r));                      \
            c##r##0 = _mm256_fmadd_ps(t, b0, c##r##0);                    \
            if (V > 1)                                                    \
                c##r##1 = _mm256_fmadd_ps(t, b1, c##r##1);                \
        }                                                                 \
    } while (0)

#define ROW_INIT(r)                                                       \
    do {                                                                  \
        c##r##0 = _mm256_setzero_ps();                                    \
        c##r##1 = _mm256_setzero_ps();                                    \
        if (R > (r) && acc) {                                             \
            c##r##0 = _mm256_loadu_ps(c + (r) * ldc);                     \
            if (V > 1)                                                    \
                c##r##1 = _mm256_loadu_ps(c + (r) * ldc + 8);             \
        }                                                                 \
    } while (0)

#define ROW_STORE(r)                                                      \
    do {                                                                  \
        if (R > (r)) {                                                    \
            _mm256_storeu_ps(c + (r) * ldc, c##r##0);                     \
            if (V > 1)                                                    \
                _mm256_storeu_ps(c + (r) * ldc + 8, c##r##1);             \
        }                                                                 \
    } while (0)

/* The fused epilogue on row r (channel ech + r) before the store. */
#define ROW_EPI(r)                                                        \
    do {                                                                  \
        if (R > (r) && ep) {                                              \
            epi_vecs ev;                                                  \
            epi_load(ep, ebias, ech + (r), &ev);                          \
            c##r##0 = epi_vec(&ev, c##r##0);                              \
            if (V > 1)                                                    \
                c##r##1 = epi_vec(&ev, c##r##1);                          \
        }                                                                 \
    } while (0)

#define ROWS_FMA()                                                        \
    do {                                                                  \
        ROW_FMA(0);                                                       \
        ROW_FMA(1);                                                       \
        ROW_FMA(2);                                                       \
        ROW_FMA(3);                                                       \
        ROW_FMA(4);                                                       \
        ROW_FMA(5);                                                       \
    } while (0)

/* Rows [0, R) (R <= MR) and 8 * V columns (V = 1 or 2) of C (+)= the A
 * panel (kc x MR, row k at a + k * MR) times B: row k of B at b + off[k],
 * or at b + k * NR when off is NULL (a packed panel); then, when ep is
 * not NULL, its epilogue (epi_vec_ok) on row r as channel ech + r. R and
 * V are constants after inlining. */
TGT_INLINE void ukr(const int R, const int V, int64_t kc, const float *a,
                    const float *b, const int32_t *off, float *c,
                    int64_t ldc, bool acc, const clv_engine__epi *ep,
                    const float *ebias, int64_t ech)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    ROW_INIT(0);
    ROW_INIT(1);
    ROW_INIT(2);
    ROW_INIT(3);
    ROW_INIT(4);
    ROW_INIT(5);
    if (off) {
        for (int64_t k = 0; k < kc; k++, a += MR) {
            const float *bk = b + off[k];
            __m256 b0 = _mm256_loadu_ps(bk);
            __m256 b1 = V > 1 ? _mm256_loadu_ps(bk + 8) : b0;
            ROWS_FMA();
        }
    } else {
        for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
            __m256 b0 = _mm256_loadu_ps(b);
            __m256 b1 = V > 1 ? _mm256_loadu_ps(b + 8) : b0;
            ROWS_FMA();
        }
    }
    ROW_EPI(0);
    ROW_EPI(1);
    ROW_EPI(2);
    ROW_EPI(3);
    ROW_EPI(4);
    ROW_EPI(5);
    ROW_STORE(0);
    ROW_STORE(1);
    ROW_STORE(2);
    ROW_STORE(3);
    ROW_STORE(4);
    ROW_STORE(5);
}

TGT_INLINE void ukr_rows(int rows, const int V, int64_t kc, const float *a,
                         const float *b, const int32_t *off, float *c,
                         int64_t ldc, bool acc, const clv_engine__epi *ep,
                         const float *ebias, int64_t ech)
{
    switch (rows) {
    case 6:
        ukr(6, V, kc, a, b, off, c, ldc, acc, ep, ebias, ech);
        break;
    case 5:
        ukr(5, V, kc, a, b, off, c, ldc, acc, ep, ebias, ech);
        break;
    case 4:
        ukr(4, V, kc, a, b, off, c, ldc, acc, ep, ebias, ech);
        break;
    case 3:
        ukr(3, V, kc, a, b, off, c, ldc, acc, ep, ebias, ech);
        break;
    case 2:
        ukr(2, V, kc, a, b, off, c, ldc, acc, ep, ebias, ech);
        break;
    default:
        ukr(1, V, kc, a, b, off, c, ldc, acc, ep, ebias, ech);
        break;
    }
}

/* One MR x NR (or narrower) tile of C at rows m, columns jp * NR. */
TGT_INLINE void gemm_tile(const clv_engine__gemm_job *j, int64_t jp,
                          int64_t m, const clv_engine__epi *kep,
                          bool last_epi)
{
    const int64_t kc = j->kc, j0 = jp * NR;
    const int cols = j->ncols - j0 < NR ? (int)(j->ncols - j0) : NR;
    const int rows = j->m1 - m < MR ? (int)(j->m1 - m) : MR;
    const float *b = j->off ? j->b + j0 : j->b + jp * kc * NR;
    const float *a = j->a + (m / MR) * kc * MR;
    float *c = j->c + m * j->ldc + j0;
    if (cols == NR) {
        ukr_rows(rows, 2, kc, a, b, j->off, c, j->ldc, j->acc, kep, j->bias,
                 j->ch0 + m);
    } else if (cols == NR / 2) {
        ukr_rows(rows, 1, kc, a, b, j->off, c, j->ldc, j->acc, kep, j->bias,
                 j->ch0 + m);
    } else {
        float t[MR * NR];
        memset(t, 0, sizeof t);
        if (j->acc)
            for (int r = 0; r < rows; r++)
                memcpy(t + r * NR, c + r * j->ldc, (size_t)cols * sizeof *t);
        if (cols < NR / 2)
            ukr_rows(rows, 1, kc, a, b, j->off, t, NR, j->acc, kep, j->bias,
                     j->ch0 + m);
        else
            ukr_rows(rows, 2, kc, a, b, j->off, t, NR, j->acc, kep, j->bias,
                     j->ch0 + m);
        for (int r = 0; r < rows; r++)
            memcpy(c + r * j->ldc, t + r * NR, (size_t)cols * sizeof *t);
    }
    if (last_epi && !kep)
        for (int r = 0; r < rows; r++)
            clv_engine__epi_apply_simd(j->epi, j->bias, j->ch0 + m + r,
                                       c + r * j->ldc, (size_t)cols);
}

TGT void clv_engine__gemm_run(const clv_engine__gemm_job *j)
{
    const int64_t npan = (j->ncols + NR - 1) / NR;
    const bool last_epi = j->epi && !clv_engine__epi_empty(j->epi);
    /* the epilogue in registers when it has a vector form, else after */
    const clv_engine__epi *kep = last_epi && epi_vec_ok(j->epi) ? j->epi
                                                                : NULL;
    /* MR rows of C at a time, left to right: a few output streams that
     * the prefetchers follow (a column of tiles at a time would write
     * every row of C at once, and an output C that has left the caches
     * then costs a DRAM round trip per line); the panels of B come from
     * L2 */
    for (int64_t m = j->m0; m < j->m1; m += MR)
        for (int64_t jp = 0; jp < npan; jp++)
            gemm_tile(j, jp, m, kep, last_epi);
}

/* ---- the transposed product: pixels by channels ------------------------- */

#define PIX_FMA(r)                                                        \
    do {                                                                  \
        if (R > (r)) {                                                    \
            __m256 t = _mm256_broadcast_ss(xb + i##r);                    \
            c##r##0 = _mm256_fmadd_ps(t, w0, c##r##0);                    \
            if (V > 1)                                                    \
                c##r##1 = _mm256_fmadd_ps(t, w1, c##r##1);                \
        }                                                                 \
    } while (0)

/* Step k0 + ci of a group of eight whose rows are at xg + ci. */
#define PIX_STEP(ci)                                                      \
    do {                                                                  \
        const float *xb = xg + (ci);                                      \
        __m256 w0 = _mm256_loadu_ps(w + (ci) * NR);                       \
        __m256 w1 = V > 1 ? _mm256_loadu_ps(w + (ci) * NR + 8) : w0;      \
        PIX_FMA(0);                                                       \
        PIX_FMA(1);                                                       \
        PIX_FMA(2);                                                       \
        PIX_FMA(3);                                                       \
        PIX_FMA(4);                                                       \
        PIX_FMA(5);                                                       \
    } while (0)

/* Pixels [0, R) (rows of C^T) and 8 * V channels (columns) of C^T (+)=
 * sum over k of x[off[k] + pix[r]] * w[k * NR + channel]. With grp8, kc
 * is a multiple of 8 and off[k + i] = off[k] + i for k a multiple of 8
 * (channels interleaved by 8): one offset per eight steps, the rest as
 * constant displacements. */
TGT_INLINE void ukt(const int R, const int V, int64_t kc, const float *x,
                    const int32_t *off, const int32_t *pix, const float *w,
                    float *c, int64_t ldc, bool acc, bool grp8)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    const int64_t i0 = pix[0], i1 = R > 1 ? pix[1] : 0,
                  i2 = R > 2 ? pix[2] : 0, i3 = R > 3 ? pix[3] : 0,
                  i4 = R > 4 ? pix[4] : 0, i5 = R > 5 ? pix[5] : 0;
    ROW_INIT(0);
    ROW_INIT(1);
    ROW_INIT(2);
    ROW_INIT(3);
    ROW_INIT(4);
    ROW_INIT(5);
    if (grp8) {
        for (int64_t k = 0; k < kc; k += 8, w += 8 * NR) {
            const float *xg = x + off[k];
            PIX_STEP(0);
            PIX_STEP(1);
            PIX_STEP(2);
            PIX_STEP(3);
            PIX_STEP(4);
            PIX_STEP(5);
            PIX_STEP(6);
            PIX_STEP(7);
        }
    } else {
        for (int64_t k = 0; k < kc; k++, w += NR) {
            const float *xg = x + off[k];
            PIX_STEP(0);
        }
    }
    ROW_STORE(0);
    ROW_STORE(1);
    ROW_STORE(2);
    ROW_STORE(3);
    ROW_STORE(4);
    ROW_STORE(5);
}

TGT_INLINE void ukt_rows(int rows, const int V, int64_t kc, const float *x,
                         const int32_t *off, const int32_t *pix,
                         const float *w, float *c, int64_t ldc, bool acc,
                         bool grp8)
{
    switch (rows) {
    case 6:
        ukt(6, V, kc, x, off, pix, w, c, ldc, acc, grp8);
        break;
    case 5:
        ukt(5, V, kc, x, off, pix, w, c, ldc, acc, grp8);
        break;
    case 4:
        ukt(4, V, kc, x, off, pix, w, c, ldc, acc, grp8);
        break;
    case 3:
        ukt(3, V, kc, x, off, pix, w, c, ldc, acc, grp8);
        break;
    case 2:
        ukt(2, V, kc, x, off, pix, w, c, ldc, acc, grp8);
        break;
    default:
        ukt(1, V, kc, x, off, pix, w, c, ldc, acc, grp8);
        break;
    }
}

TGT void clv_engine__gemmt_run(const clv_engine__gemmt_job *j)
{
    const int64_t kc = j->kc;
    for (int64_t q = j->q0; q < j->q1; q++) {
        const float *w = j->w + q * kc * NR;
        const bool half = j->nch - q * NR <= NR / 2;
        for (int64_t p = j->p0; p < j->p1; p += MR) {
            const int rows = j->p1 - p < MR ? (int)(j->p1 - p) : MR;
            float *c = j->c + (p - j->p0) * j->ldc + (q - j->q0) * NR;
            if (half)
                ukt_rows(rows, 1, kc, j->x, j->off, j->pix + p, w, c,
                         j->ldc, j->acc, j->grp8);
            else
                ukt_rows(rows, 2, kc, j->x, j->off, j->pix + p, w, c,
                         j->ldc, j->acc, j->grp8);
        }
    }
}

TGT void clv_engine__transpose(const float *src, int64_t lds, int64_t rows,
                               int64_t cols, float *dst, int64_t ldd,
                               const clv_engine__epi *e, const float *bias,
                               int64_t ch0)
{
    const bool any = e && !clv_engine__epi_empty(e);
    const bool vec = any && epi_vec_ok(e);
    const int64_t r8 = rows / 8 * 8;
    int64_t c = 0;
    /* blocks of 8 channels: their epilogue constants once, then 8 x 8
     * blocks down the pixels */
    for (; c + 8 <= cols; c += 8) {
        epi_vecs ev[8];
        for (int i = 0; i < 8; i++)
            if (vec)
                epi_load(e, bias, ch0 + c + i, &ev[i]);
            else
                memset(&ev[i], 0, sizeof ev[i]);
        for (int64_t r = 0; r < r8; r += 8) {
            const float *s = src + r * lds + c;
            float *d = dst + c * ldd + r;
            __m256 o[8];
            for (int i = 0; i < 8; i++)
                o[i] = _mm256_loadu_ps(s + i * lds);
            transpose8(o);
            if (vec)
                for (int i = 0; i < 8; i++)
                    o[i] = epi_vec(&ev[i], o[i]);
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(d + i * ldd, o[i]);
        }
    }
    /* the channels left: one at a time; the pixels left */
    for (; c < cols; c++) {
        for (int64_t r = 0; r < r8; r += 8) {
            float v[8];
            for (int i = 0; i < 8; i++)
                v[i] = src[(r + i) * lds + c];
            if (vec) {
                epi_vecs ev;
                epi_load(e, bias, ch0 + c, &ev);
                _mm256_storeu_ps(dst + c * ldd + r,
                                 epi_vec(&ev, _mm256_loadu_ps(v)));
            } else {
                memcpy(dst + c * ldd + r, v, sizeof v);
            }
        }
    }
    if (r8 < rows) {
        for (c = 0; c < cols; c++)
            for (int64_t i = r8; i < rows; i++)
                dst[c * ldd + i] = src[i * lds + c];
        if (vec)
            for (c = 0; c < cols; c++)
                clv_engine__epi_apply(e, bias, ch0 + c, dst + c * ldd + r8,
                                      (size_t)(rows - r8));
    }
    if (any && !vec)
        for (c = 0; c < cols; c++)
            clv_engine__epi_apply(e, bias, ch0 + c, dst + c * ldd,
                                  (size_t)rows);
}
