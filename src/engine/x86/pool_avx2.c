/*
 * Pooling's AVX2 kernels (op_pool.c plans them when clv_engine__simd_ok()):
 * separable 2-D pooling, stride-2 MaxPool rows, and MaxPool of 8
 * interleaved planes. Compiled on x86-64 only (CMakeLists.txt).
 */
#include <math.h>
#include <string.h>

#include "engine/op_pool.h"
#include "engine/x86/simd.h"

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
CLV_AVX2_FN void clv_engine__pool2d_task(void *arg, int64_t t, int tid)
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
CLV_AVX2_FN void clv_engine__pool8_task(void *arg, int64_t t, int tid)
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
    deinterleave8(o, p->P, nc, y);
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

CLV_AVX2_FN void clv_engine__maxpool_rows_task(void *arg, int64_t t, int tid)
{
    const pool_ctx *c = arg;
    const pool_plan *p = c->p;
    const float *x = c->X + t * p->S;
    float *y = c->Y + t * p->P, *v = clv_engine__scratch_t(c->x, tid);
    if (maxpool_rows(p, x, y, v, false))
        maxpool_rows(p, x, y, v, true);
}
