/*
 * The convolution's AVX2 + FMA kernels (op_conv.c plans them when
 * clv_engine__simd_ok()): the 8-channel interleaved split copy of TRANS
 * and the depthwise kernels. Compiled on x86-64 only (CMakeLists.txt).
 */
#include <string.h>

#include "engine/op_conv.h"
#include "engine/x86/simd.h"

/* TRANS on 8 interleaved channels, phase 1: the split copy of channels
 * 8t to 8t + 7 of image c->n, value (yq, xq) of channel 8t + i of phase
 * (py, px) at xq + (((t * sh + py) * sw + px) * PL + yq * Wq + xq) * 8 + i:
 * the 8 channels of a position share 32 bytes, and the kernel's next
 * eight K rows read them. */
CLV_AVX2_FN void clv_engine__conv_split8_task(void *arg, int64_t t, int tid)
{
    const gconv_ctx *c = arg;
    const conv_plan *p = c->p;
    const int64_t sh = p->st[1], sw = p->st[2], H = p->in[1], W = p->in[2];
    const int64_t Wq = p->Wq;
    const float *x = c->X + (c->n * p->C + t * 8) * p->S;
    (void)tid;
    for (int64_t py = 0; py < sh; py++)
        for (int64_t px = 0; px < sw; px++) {
            float *pl = c->xq + ((t * sh + py) * sw + px) * p->PL * 8;
            int64_t lo, hi;
            valid_range(Wq, sw, px - p->pd[2], W, &lo, &hi);
            for (int64_t yq = 0; yq < p->Hq; yq++) {
                float *d = pl + yq * Wq * 8;
                int64_t iy = yq * sh + py - p->pd[1], j = 0;
                const float *src = x + iy * W + px - p->pd[2];
                if (iy < 0 || iy >= H) {
                    for (j = 0; j < Wq; j++)
                        _mm256_storeu_ps(d + j * 8, _mm256_setzero_ps());
                    continue;
                }
                for (; j < lo; j++)
                    _mm256_storeu_ps(d + j * 8, _mm256_setzero_ps());
                /* 8 positions of the 8 channels at a time, transposed */
                for (; j < hi; j += 8) {
                    int64_t n = hi - j < 8 ? hi - j : 8;
                    __m256 r[8];
                    if (n == 8 && sw == 1) {
                        /* a whole block: plain loads, constant indices
                         * (r stays in registers) */
                        for (int i = 0; i < 8; i++)
                            r[i] = _mm256_loadu_ps(src + i * p->S + j);
                        transpose8(r);
                        for (int q = 0; q < 8; q++)
                            _mm256_storeu_ps(d + (j + q) * 8, r[q]);
                        continue;
                    }
                    if (sw == 1) {
                        __m256i m = lanes_mask(n);
                        for (int i = 0; i < 8; i++)
                            r[i] = _mm256_maskload_ps(src + i * p->S + j, m);
                    } else if (sw == 2 && n == 8 &&
                               px - p->pd[2] + 2 * j + 16 <= W) {
                        for (int i = 0; i < 8; i++)
                            r[i] = load_even16(src + i * p->S + 2 * j);
                    } else {
                        for (int i = 0; i < 8; i++) {
                            float v[8] = {0};
                            for (int64_t q = 0; q < n; q++)
                                v[q] = src[i * p->S + (j + q) * sw];
                            r[i] = _mm256_loadu_ps(v);
                        }
                    }
                    transpose8(r);
                    if (n == 8)
                        for (int q = 0; q < 8; q++)
                            _mm256_storeu_ps(d + (j + q) * 8, r[q]);
                    else
                        for (int64_t q = 0; q < n; q++)
                            _mm256_storeu_ps(d + (j + q) * 8, r[q]);
                }
                j = hi;
                for (; j < Wq; j++)
                    _mm256_storeu_ps(d + j * 8, _mm256_setzero_ps());
            }
        }
}


/* The split copy of one plane x (H x W): phase plane (py, px) at q + (py *
 * sw + px) * PL, Hq x Wq, zero outside the input; then zeros up to XF. */
static CLV_AVX2_FN void split_plane(const conv_plan *p, const float *x,
                                    float *q)
{
    const int64_t sh = p->st[1], sw = p->st[2], H = p->in[1], W = p->in[2];
    const int64_t Wq = p->Wq;
    for (int64_t py = 0; py < sh; py++)
        for (int64_t px = 0; px < sw; px++) {
            float *pl = q + (py * sw + px) * p->PL;
            int64_t lo, hi;
            valid_range(Wq, sw, px - p->pd[2], W, &lo, &hi);
            for (int64_t yq = 0; yq < p->Hq; yq++) {
                float *d = pl + yq * Wq;
                int64_t iy = yq * sh + py - p->pd[1], j;
                const float *src = x + iy * W + px - p->pd[2];
                if (iy < 0 || iy >= H) {
                    for (j = 0; j < Wq; j++)
                        d[j] = 0.0f;
                    continue;
                }
                for (j = 0; j < lo; j++)
                    d[j] = 0.0f;
                if (sw == 1) {
                    for (; j + 8 <= hi; j += 8)
                        _mm256_storeu_ps(d + j, _mm256_loadu_ps(src + j));
                } else if (sw == 2) {
                    /* columns 2j + px - pad: even lanes of 16 values */
                    for (; j + 8 <= hi; j += 8) {
                        __m256 a = _mm256_loadu_ps(src + 2 * j);
                        __m256 b = _mm256_loadu_ps(src + 2 * j + 8);
                        __m256 e = _mm256_shuffle_ps(a, b, 0x88);
                        _mm256_storeu_ps(
                            d + j, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                       _mm256_castps_pd(e), 0xD8)));
                    }
                }
                for (; j < hi; j++)
                    d[j] = src[j * sw];
                for (; j < Wq; j++)
                    d[j] = 0.0f;
            }
        }
    for (int64_t j = sh * sw * p->PL; j < p->XF; j++)
        q[j] = 0.0f;
}

/* Depthwise with AVX2: the plane, zero-padded and split into its stride
 * phases as WIDE splits an input (one channel), in the thread's scratch;
 * then each output is one chain of fused multiply-adds over the taps in
 * order, from zero, eight outputs to a vector, and the epilogue before
 * the store. Narrow planes run over the wide positions oy * Wq + ox of
 * the whole plane at once into scratch, and the ox < OW ones are copied
 * out. */
CLV_AVX2_FN void clv_engine__conv_dw_task(void *arg, int64_t t, int tid)
{
    const conv_ctx *c = arg;
    const conv_plan *p = c->p;
    const int64_t ch = t % p->C;
    const int64_t OH = p->o[1], OW = p->o[2];
    const int64_t Wq = p->Wq, ntap = p->k[1] * p->k[2];
    const float *w = c->W + ch * ntap;
    float *y = c->Y + t * p->P;
    float *q = clv_engine__scratch_t(c->x, tid);
    float *wide = q + p->XF;
    const bool epi = !clv_engine__epi_empty(&c->s->epi);
    const bool vec_epi = epi && epi_vec_ok(&c->s->epi);
    const bool narrow = OW < 24;
    int64_t rows = narrow ? 1 : OH, len = narrow ? OH * Wq : OW;
    epi_vecs ev;

    epi_load(&c->s->epi, c->bias, ch, &ev);
    split_plane(p, c->X + t * p->S, q);
    for (int64_t oy = 0; oy < rows; oy++) {
        const float *row = q + oy * Wq;
        float *yr = narrow ? wide : y + oy * OW;
        int64_t ox;
        for (ox = 0; ox + 32 <= len; ox += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t k = 0; k < ntap; k++) {
                const float *r = row + p->off[k] + ox;
                __m256 wv = _mm256_broadcast_ss(w + k);
                a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(r), a0);
                a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(r + 8), a1);
                a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(r + 16), a2);
                a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(r + 24), a3);
            }
            if (vec_epi) {
                a0 = epi_vec(&ev, a0);
                a1 = epi_vec(&ev, a1);
                a2 = epi_vec(&ev, a2);
                a3 = epi_vec(&ev, a3);
            }
            _mm256_storeu_ps(yr + ox, a0);
            _mm256_storeu_ps(yr + ox + 8, a1);
            _mm256_storeu_ps(yr + ox + 16, a2);
            _mm256_storeu_ps(yr + ox + 24, a3);
        }
        for (; ox < len; ox += 8) {
            __m256 a0 = _mm256_setzero_ps();
            for (int64_t k = 0; k < ntap; k++)
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + k),
                                     _mm256_loadu_ps(row + p->off[k] + ox),
                                     a0);
            if (vec_epi)
                a0 = epi_vec(&ev, a0);
            if (ox + 8 <= len || narrow) { /* the wide row has room */
                _mm256_storeu_ps(yr + ox, a0);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, a0);
                for (int64_t i = 0; i < len - ox; i++)
                    yr[ox + i] = tmp[i];
            }
        }
    }
    if (narrow)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++)
                y[oy * OW + ox] = wide[oy * Wq + ox];
    if (epi && !vec_epi)
        clv_engine__epi_apply(&c->s->epi, c->bias, ch, y, (size_t)p->P);
}

/* Depthwise with AVX2 on narrow planes: 8 channels at a time,
 * interleaved (value (y, x) of channel ch0 + i at z[(y * Wp + x) * 8 + i]
 * in a zero-padded copy), so that each output position of the 8 channels
 * is one vector: the same chain of fused multiply-adds over the taps in
 * order, from zero, as clv_engine__conv_dw_task; then the epilogue, and the 8 planes
 * back out through 8 x 8 transposes. */
CLV_AVX2_FN void clv_engine__conv_dw8_task(void *arg, int64_t t, int tid)
{
    const conv_ctx *c = arg;
    const conv_plan *p = c->p;
    const int64_t ncg = (p->C + 7) / 8, n = t / ncg, ch0 = (t % ncg) * 8;
    const int nc = p->C - ch0 < 8 ? (int)(p->C - ch0) : 8;
    const int64_t H = p->in[1], W = p->in[2], OH = p->o[1], OW = p->o[2];
    const int64_t Wp = p->Wp, sh = p->st[1], sw = p->st[2];
    const int ntap = (int)(p->k[1] * p->k[2]);
    const float *x = c->X + (n * p->C + ch0) * p->S;
    float *y = c->Y + (n * p->C + ch0) * p->P;
    float *z = clv_engine__scratch_t(c->x, tid);
    float *o = z + p->Hp * Wp * 8;
    const bool epi = !clv_engine__epi_empty(&c->s->epi);
    const bool vec_epi = epi && epi_vec_ok(&c->s->epi);
    __m256 wk[25];
    epi_vecs ev;

    epi_load8(&c->s->epi, c->bias, ch0, nc, &ev);
    for (int k = 0; k < ntap; k++) {
        float v[8];
        for (int i = 0; i < 8; i++)
            v[i] = i < nc ? c->W[(ch0 + i) * ntap + k] : 0.0f;
        wk[k] = _mm256_loadu_ps(v);
    }
    memset(z, 0, (size_t)(p->Hp * Wp * 8) * sizeof *z);
    for (int64_t iy = 0; iy < H; iy++) {
        float *zr = z + ((iy + p->pd[1]) * Wp + p->pd[2]) * 8;
        int64_t ix = 0;
        for (; ix + 8 <= W; ix += 8) {
            __m256 r[8];
            if (nc == 8) /* constant indices: r stays in registers */
                for (int i = 0; i < 8; i++)
                    r[i] = _mm256_loadu_ps(x + i * p->S + iy * W + ix);
            else
                for (int i = 0; i < 8; i++)
                    r[i] = i < nc ? _mm256_loadu_ps(x + i * p->S + iy * W +
                                                    ix)
                                  : _mm256_setzero_ps();
            transpose8(r);
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(zr + (ix + i) * 8, r[i]);
        }
        for (; ix < W; ix++)
            for (int i = 0; i < nc; i++)
                zr[ix * 8 + i] = x[i * p->S + iy * W + ix];
    }
    for (int64_t oy = 0; oy < OH; oy++) {
        const float *zr = z + oy * sh * Wp * 8;
        float *orow = o + oy * OW * 8;
        int64_t ox = 0;
        for (; ox + 4 <= OW; ox += 4) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            const float *b = zr + ox * sw * 8;
            for (int k = 0; k < ntap; k++) {
                const float *bk = b + p->off[k];
                a0 = _mm256_fmadd_ps(wk[k], _mm256_loadu_ps(bk), a0);
                a1 = _mm256_fmadd_ps(wk[k], _mm256_loadu_ps(bk + sw * 8),
                                     a1);
                a2 = _mm256_fmadd_ps(wk[k],
                                     _mm256_loadu_ps(bk + 2 * sw * 8), a2);
                a3 = _mm256_fmadd_ps(wk[k],
                                     _mm256_loadu_ps(bk + 3 * sw * 8), a3);
            }
            if (vec_epi) {
                a0 = epi_vec(&ev, a0);
                a1 = epi_vec(&ev, a1);
                a2 = epi_vec(&ev, a2);
                a3 = epi_vec(&ev, a3);
            }
            _mm256_storeu_ps(orow + ox * 8, a0);
            _mm256_storeu_ps(orow + ox * 8 + 8, a1);
            _mm256_storeu_ps(orow + ox * 8 + 16, a2);
            _mm256_storeu_ps(orow + ox * 8 + 24, a3);
        }
        for (; ox < OW; ox++) {
            __m256 a0 = _mm256_setzero_ps();
            const float *b = zr + ox * sw * 8;
            for (int k = 0; k < ntap; k++)
                a0 = _mm256_fmadd_ps(wk[k], _mm256_loadu_ps(b + p->off[k]),
                                     a0);
            if (vec_epi)
                a0 = epi_vec(&ev, a0);
            _mm256_storeu_ps(orow + ox * 8, a0);
        }
    }
    deinterleave8(o, p->P, nc, y);
    if (epi && !vec_epi)
        for (int i = 0; i < nc; i++)
            clv_engine__epi_apply(&c->s->epi, c->bias, ch0 + i, y + i * p->P,
                                  (size_t)p->P);
}
