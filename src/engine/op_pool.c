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

#include "engine/internal.h"
#include "engine/simd.h"

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

/* max(a, v), NaN once seen stays */
static inline float max_nan(float a, float v)
{
    return ((v > a) | (v != v)) ? v : a;
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

/* The range [lo, hi) of outputs o in [0, n) whose input o * st + off lies
 * in [0, in). */
static void tap_range(int64_t n, int64_t st, int64_t off, int64_t in,
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

#ifdef CLV_ENGINE_X86
/* max_nan() on 8 values */
static inline CLV_AVX2_FN __m256 vmax_nan(__m256 a, __m256 v)
{
    __m256 m = _mm256_or_ps(_mm256_cmp_ps(v, a, _CMP_GT_OQ),
                            _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_ps(a, v, m);
}

/* y[i] = comb(y[i], x[i]) for i < n: max_nan or +, as the scalar loops */
static inline CLV_AVX2_FN void comb_run(bool max, float *y, const float *x,
                                        int64_t n)
{
    int64_t i = 0;
    if (max) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, vmax_nan(_mm256_loadu_ps(y + i),
                                             _mm256_loadu_ps(x + i)));
        for (; i < n; i++)
            y[i] = max_nan(y[i], x[i]);
    } else {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i),
                                                  _mm256_loadu_ps(x + i)));
        for (; i < n; i++)
            y[i] = y[i] + x[i];
    }
}

/* task_pool2d with AVX2: the same operations on each value, in the same
 * order. */
static CLV_AVX2_FN void task_pool2d_avx(void *arg, int64_t t, int tid)
{
    const pool_ctx *c = arg;
    const pool_plan *p = c->p;
    const float *x = c->X + t * p->S;
    float *y = c->Y + t * p->P;
    const int64_t W = p->in[2], OW = p->o[2], sx = p->st[2];
    const int64_t Wq = (W + sx - 1) / sx;
    float *row = clv_engine__scratch_t(c->x, tid);
    float *ph = row + W;
    const float init = p->max ? -INFINITY : 0.0f;
    const bool max = p->max;

    for (int64_t oy = 0; oy < p->o[1]; oy++, y += OW) {
        int64_t sy = p->start[1][oy], ly = p->lo[1][oy], hy = p->hi[1][oy];
        const float *src;
        if (hy <= ly) {
            for (int64_t i = 0; i < W; i++)
                row[i] = init;
        } else {
            memcpy(row, x + (sy + ly) * W, (size_t)W * sizeof *row);
        }
        for (int64_t b = ly + 1; b < hy; b++)
            comb_run(max, row, x + (sy + b) * W, W);
        src = row;
        if (sx > 1) {
            for (int64_t q = 0; q < sx; q++) {
                float *d = ph + q * Wq;
                int64_t n = (W - q + sx - 1) / sx, j = 0;
                if (sx == 2)
                    for (; j + 8 <= n && 2 * j + q + 16 <= W; j += 8) {
                        __m256 a = _mm256_loadu_ps(row + 2 * j + q);
                        __m256 b = _mm256_loadu_ps(row + 2 * j + q + 8);
                        __m256 e = _mm256_shuffle_ps(a, b, 0x88);
                        _mm256_storeu_ps(
                            d + j, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                       _mm256_castps_pd(e), 0xD8)));
                    }
                for (; j < n; j++)
                    d[j] = row[j * sx + q];
                for (j = n; j < Wq; j++)
                    d[j] = init;
            }
            src = ph;
        }
        for (int64_t ox = 0; ox < OW; ox++)
            y[ox] = init;
        for (int64_t q = 0; q < p->k[2]; q++) {
            int64_t off = q - p->pb[2], lo, hi;
            int64_t phase = ((off % sx) + sx) % sx, base = (off - phase) / sx;
            const float *r = sx > 1 ? src + phase * Wq + base : src + off;
            tap_range(OW, sx, off, W, &lo, &hi);
            if (hi > lo)
                comb_run(max, y + lo, r + lo, hi - lo);
        }
        if (!max)
            for (int64_t ox = 0; ox < OW; ox++) {
                int64_t cnt = p->cip ? p->pcnt[1][oy] * p->pcnt[2][ox]
                                     : (hy - ly) *
                                           (p->hi[2][ox] - p->lo[2][ox]);
                y[ox] = cnt > 0 ? y[ox] / (float)cnt : 0.0f;
            }
    }
}

/* task_pool8's windows: each padded row's horizontal windows into h (the
 * rows the outputs need), then the vertical windows of h into o. KH and KW
 * are the window (constants after inlining for the common 2 and 3, else
 * 0: p's). */
static inline CLV_AVX2_FN __attribute__((always_inline)) void
pool8_windows(const pool_plan *p, const float *z, float *h, float *o,
              const bool nan, const int KH, const int KW)
{
    const int64_t OH = p->o[1], OW = p->o[2], Wz = p->wz;
    const int64_t sh = p->st[1], sw = p->st[2];
    const int64_t kh = KH ? KH : p->k[1], kw = KW ? KW : p->k[2];
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int64_t y = 0; y < p->hz; y++) {
        const float *zr = z + y * Wz * 8;
        float *hr = h + y * OW * 8;
        for (int64_t ox = 0; ox < OW; ox++) {
            const float *b = zr + ox * sw * 8;
            __m256 acc = ninf;
            for (int64_t q = 0; q < kw; q++) {
                __m256 v = _mm256_loadu_ps(b + q * 8);
                acc = nan ? vmax_nan(acc, v) : _mm256_max_ps(v, acc);
            }
            _mm256_storeu_ps(hr + ox * 8, acc);
        }
    }
    for (int64_t oy = 0; oy < OH; oy++) {
        const float *hr = h + oy * sh * OW * 8;
        float *orow = o + oy * OW * 8;
        for (int64_t ox = 0; ox < OW; ox++) {
            const float *b = hr + ox * 8;
            __m256 acc = ninf;
            for (int64_t a = 0; a < kh; a++) {
                __m256 v = _mm256_loadu_ps(b + a * OW * 8);
                acc = nan ? vmax_nan(acc, v) : _mm256_max_ps(v, acc);
            }
            _mm256_storeu_ps(orow + ox * 8, acc);
        }
    }
}

static CLV_AVX2_FN void pool8_windows_any(const pool_plan *p, const float *z,
                                          float *h, float *o, bool nan)
{
    int64_t kh = p->k[1], kw = p->k[2];
    if (nan)
        pool8_windows(p, z, h, o, true, 0, 0);
    else if (kh == 3 && kw == 3)
        pool8_windows(p, z, h, o, false, 3, 3);
    else if (kh == 2 && kw == 2)
        pool8_windows(p, z, h, o, false, 2, 2);
    else
        pool8_windows(p, z, h, o, false, 0, 0);
}

/* MaxPool 2-D with AVX2, 8 planes at a time interleaved: value (y, x) of
 * plane t * 8 + i at z[(y * Wz + x) * 8 + i] in a copy padded with -inf
 * (which max_nan ignores, as the other kernels ignore positions outside
 * the input), so that each output position of the 8 planes is one vector:
 * the max_nan of its window, row windows first; then the planes go back
 * out through 8 x 8 transposes. */
static CLV_AVX2_FN void task_pool8(void *arg, int64_t t, int tid)
{
    const pool_ctx *c = arg;
    const pool_plan *p = c->p;
    const int64_t H = p->in[1], W = p->in[2], OW = p->o[2];
    const int64_t Wz = p->wz, pl0 = t * 8;
    const int nc = p->planes - pl0 < 8 ? (int)(p->planes - pl0) : 8;
    const float *x = c->X + pl0 * p->S;
    float *y = c->Y + pl0 * p->P;
    float *z = clv_engine__scratch_t(c->x, tid);
    float *h = z + p->hz * Wz * 8;
    float *o = h + p->hz * OW * 8;
    const __m256 ninf = _mm256_set1_ps(-INFINITY);

    __m256 nanm = _mm256_setzero_ps();

    /* the -inf border, then the planes transposed in */
    for (int64_t zy = 0; zy < p->hz; zy++) {
        float *zr = z + zy * Wz * 8;
        bool inside = zy >= p->pb[1] && zy < p->pb[1] + H;
        for (int64_t i = 0; i < (inside ? p->pb[2] : Wz); i++)
            _mm256_storeu_ps(zr + i * 8, ninf);
        for (int64_t i = p->pb[2] + W; inside && i < Wz; i++)
            _mm256_storeu_ps(zr + i * 8, ninf);
    }
    for (int64_t iy = 0; iy < H; iy++) {
        float *zr = z + ((iy + p->pb[1]) * Wz + p->pb[2]) * 8;
        for (int64_t ix = 0; ix < W; ix += 8) {
            int64_t n = W - ix < 8 ? W - ix : 8;
            __m256i m = lanes_mask(n);
            __m256 r[8];
            if (n == 8 && nc == 8) {
                /* a whole block: plain loads, and constant indices keep
                 * r in registers */
                for (int i = 0; i < 8; i++) {
                    r[i] = _mm256_loadu_ps(x + i * p->S + iy * W + ix);
                    nanm = _mm256_or_ps(
                        nanm, _mm256_cmp_ps(r[i], r[i], _CMP_UNORD_Q));
                }
                transpose8(r);
                for (int i = 0; i < 8; i++)
                    _mm256_storeu_ps(zr + (ix + i) * 8, r[i]);
                continue;
            }
            for (int i = 0; i < 8; i++) {
                /* lanes past n and planes past nc: -inf, never stored or
                 * ignored by max_nan */
                r[i] = i < nc ? _mm256_blendv_ps(
                                    ninf,
                                    _mm256_maskload_ps(
                                        x + i * p->S + iy * W + ix, m),
                                    _mm256_castsi256_ps(m))
                              : ninf;
                nanm = _mm256_or_ps(nanm,
                                    _mm256_cmp_ps(r[i], r[i], _CMP_UNORD_Q));
            }
            transpose8(r);
            for (int64_t i = 0; i < n; i++)
                _mm256_storeu_ps(zr + (ix + i) * 8, r[i]);
        }
    }
    /* without NaN, max_nan(acc, v) is max_ps(v, acc): v > acc ? v : acc,
     * signed zeros included; with one, the NaN-propagating form */
    pool8_windows_any(p, z, h, o, _mm256_movemask_ps(nanm) != 0);
    {
        int64_t q = 0;
        for (; q + 8 <= p->P; q += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps(o + (q + i) * 8);
            transpose8(r);
            if (nc == 8) /* constant indices: r in registers */
                for (int i = 0; i < 8; i++)
                    _mm256_storeu_ps(y + i * p->P + q, r[i]);
            else
                for (int i = 0; i < nc; i++)
                    _mm256_storeu_ps(y + i * p->P + q, r[i]);
        }
        for (; q < p->P; q++)
            for (int i = 0; i < nc; i++)
                y[i * p->P + q] = o[q * 8 + i];
    }
}

/* MaxPool 2-D with AVX2, horizontal stride 2, one plane per task.
 * First each output row's window rows, combined top row first, into a
 * row of v (wz floats, input column i at pb + i, -inf around); then each
 * output the maximum of its kw values of its row of v, 8 outputs per
 * vector. No copy of the plane, no transposes; v is read a whole pass
 * after it is written (reading it right behind the stores, at other
 * alignments, stalls on store forwarding). With nan false the maxima are
 * max_ps(v, acc), which is max_nan() as long as no NaN is read: it
 * returns true as soon as an input row holds one (each row the windows
 * use is checked once), and the caller runs the plane again with nan
 * true, max_nan() itself. */
static inline CLV_AVX2_FN __attribute__((always_inline)) bool
maxpool_rows(const pool_plan *p, const float *x, float *y, float *v,
             const bool nan)
{
    const int64_t W = p->in[2], OW = p->o[2], kw = p->k[2], pb = p->pb[2];
    const int64_t W8 = W / 8 * 8, wz = p->wz;
    const __m256i wtail = lanes_mask(W - W8);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    int64_t seen = -1; /* input rows up to here checked for NaN */
    __m256 un = _mm256_setzero_ps();
    for (int64_t i = 0; i < p->o[1] * wz; i += 8) /* the borders */
        _mm256_storeu_ps(v + i, ninf);
#define ROWS_MAX(acc, v) (nan ? vmax_nan(acc, v) : _mm256_max_ps(v, acc))
#define ROWS_SEEN(b, a)                                                   \
    do {                                                                  \
        if (!nan && (b) >= fresh)                                         \
            un = _mm256_or_ps(un, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));     \
    } while (0)
    for (int64_t oy = 0; oy < p->o[1]; oy++) {
        const int64_t ly = p->lo[1][oy], hy = p->hi[1][oy];
        const int64_t r0 = p->start[1][oy] + ly;
        const int64_t fresh = seen + 1 - r0; /* first unchecked b */
        const float *x0 = x + r0 * W;
        float *vo = v + oy * wz, *vr = vo + pb;
        int64_t i = 0;
        if (hy <= ly) { /* up to 7 lanes past W: on the border */
            for (; i < W; i += 8)
                _mm256_storeu_ps(vr + i, ninf);
            continue;
        }
        for (; i < W8; i += 8) {
            __m256 acc = _mm256_loadu_ps(x0 + i);
            ROWS_SEEN(0, acc);
            for (int64_t b = 1; b < hy - ly; b++) {
                __m256 a = _mm256_loadu_ps(x0 + b * W + i);
                ROWS_SEEN(b, a);
                acc = ROWS_MAX(acc, a);
            }
            _mm256_storeu_ps(vr + i, acc);
        }
        if (i < W) {
            __m256 acc = _mm256_maskload_ps(x0 + i, wtail);
            ROWS_SEEN(0, acc);
            for (int64_t b = 1; b < hy - ly; b++) {
                __m256 a = _mm256_maskload_ps(x0 + b * W + i, wtail);
                ROWS_SEEN(b, a);
                acc = ROWS_MAX(acc, a);
            }
            /* lanes past W land on the -inf border: a whole store
             * (masked stores are slow on some CPUs) */
            _mm256_storeu_ps(vr + i, _mm256_blendv_ps(
                                         ninf, acc, _mm256_castsi256_ps(wtail)));
        }
        if (r0 + (hy - ly) - 1 > seen)
            seen = r0 + (hy - ly) - 1;
        if (!nan && _mm256_movemask_ps(un))
            return true;
    }
    for (int64_t oy = 0; oy < p->o[1]; oy++, y += OW) {
        const float *vo = v + oy * wz;
        for (int64_t ox = 0; ox < OW; ox += 8) {
            __m256 acc = ninf;
            for (int64_t q = 0; q < kw; q++)
                acc = ROWS_MAX(acc, load_even16(vo + 2 * ox + q));
            /* a whole vector past the row's end while it stays in the
             * plane: the next rows overwrite the extra lanes */
            if ((p->o[1] - oy) * OW - ox >= 8)
                _mm256_storeu_ps(y + ox, acc);
            else
                _mm256_maskstore_ps(y + ox, lanes_mask(OW - ox), acc);
        }
    }
#undef ROWS_SEEN
#undef ROWS_MAX
    return false;
}

static CLV_AVX2_FN void task_maxpool_rows(void *arg, int64_t t, int tid)
{
    const pool_ctx *c = arg;
    const pool_plan *p = c->p;
    const float *x = c->X + t * p->S;
    float *y = c->Y + t * p->P, *v = clv_engine__scratch_t(c->x, tid);
    if (maxpool_rows(p, x, y, v, false))
        maxpool_rows(p, x, y, v, true);
}
#endif

static int run_pool(const clv_engine__step *s, clv_engine__exec *x)
{
    const pool_plan *p = s->plan;
    pool_ctx c;
    clv_engine__task_fn fn = p->fast2d ? task_pool2d : task_pool;
#ifdef CLV_ENGINE_X86
    if (p->fast2d && p->simd)
        fn = task_pool2d_avx;
    if (p->rows8)
        fn = task_maxpool_rows;
    if (p->pool8) {
        c.x = x;
        c.p = p;
        c.X = clv_engine__in(x, s, 0);
        c.Y = clv_engine__out(x, s);
        clv_engine__parallel(x, (p->planes + 7) / 8, task_pool8, &c);
        return 0;
    }
#endif
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
