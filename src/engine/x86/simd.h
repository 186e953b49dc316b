/*
 * AVX2 + FMA helpers shared by the engine's x86-64 kernels (gemm_avx2.c,
 * conv_avx2.c, pool_avx2.c): target attributes; the fused epilogue (bias,
 * BatchNormalization, activation) on 8 values at a time with exactly the
 * operations clv_engine__epi_apply() performs on each value; an 8 x 8
 * transpose; lane masks; even lanes of 16 values. Private to the engine,
 * for the files of src/engine/x86/ (built on x86-64 only).
 */
#ifndef CLEAVE_ENGINE_SIMD_H
#define CLEAVE_ENGINE_SIMD_H

#include "engine/internal.h"

#include <immintrin.h>

#define CLV_AVX2_FN __attribute__((target("avx2,fma")))
#define TGT CLV_AVX2_FN
#define TGT_INLINE                                                        \
    static inline __attribute__((always_inline, target("avx2,fma")))

/* True when epi_vec() covers the activation. */
static inline bool epi_vec_ok(const clv_engine__epi *e)
{
    clv_engine__act_kind k = e->act.kind;
    return k == CLV_ACT_NONE || k == CLV_ACT_RELU || k == CLV_ACT_LEAKY ||
           k == CLV_ACT_CLIP;
}

/* The epilogue's constants for channel c: bias, scale, shift, and the
 * activation's two parameters. */
typedef struct epi_vecs {
    __m256 bv, sv, tv, pa, pb;
    bool hb, bn;
    clv_engine__act_kind k;
} epi_vecs;

TGT_INLINE void epi_load(const clv_engine__epi *e, const float *bias,
                         int64_t c, epi_vecs *v)
{
    v->hb = bias != NULL;
    v->bn = e->scale != NULL;
    v->k = e->act.kind;
    v->bv = _mm256_set1_ps(bias ? bias[c] : 0.0f);
    v->sv = _mm256_set1_ps(e->scale ? e->scale[c] : 1.0f);
    v->tv = _mm256_set1_ps(e->scale ? e->shift[c] : 0.0f);
    v->pa = _mm256_set1_ps(e->act.a);
    v->pb = _mm256_set1_ps(e->act.b);
}

/* The epilogue on 8 values of one channel, with the IEEE operations
 * clv_engine__epi_apply() performs on each: v + bias, then v * scale +
 * shift (two roundings: the library is built without contraction), then
 * the activation, its max/min/blend operands ordered so that NaN and
 * signed zeros come out as the scalar conditionals give them. */
TGT_INLINE __m256 epi_vec(const epi_vecs *e, __m256 v)
{
    const __m256 zero = _mm256_setzero_ps();
    if (e->hb)
        v = _mm256_add_ps(v, e->bv);
    if (e->bn)
        v = _mm256_add_ps(_mm256_mul_ps(v, e->sv), e->tv);
    switch (e->k) {
    case CLV_ACT_RELU: /* v < 0 ? 0 : v */
        v = _mm256_max_ps(zero, v);
        break;
    case CLV_ACT_LEAKY: /* v >= 0 ? v : v * a */
        v = _mm256_blendv_ps(_mm256_mul_ps(v, e->pa), v,
                             _mm256_cmp_ps(v, zero, _CMP_GE_OQ));
        break;
    case CLV_ACT_CLIP: /* v < a ? a : (v > b ? b : v) */
        v = _mm256_max_ps(e->pa, _mm256_min_ps(e->pb, v));
        break;
    default:
        break;
    }
    return v;
}

/* Transposes the 8 x 8 block r[0..7] (row i in r[i]) in place. */
TGT_INLINE void transpose8(__m256 *r)
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]),
           t1 = _mm256_unpackhi_ps(r[0], r[1]),
           t2 = _mm256_unpacklo_ps(r[2], r[3]),
           t3 = _mm256_unpackhi_ps(r[2], r[3]),
           t4 = _mm256_unpacklo_ps(r[4], r[5]),
           t5 = _mm256_unpackhi_ps(r[4], r[5]),
           t6 = _mm256_unpacklo_ps(r[6], r[7]),
           t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44),
           u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44),
           u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44),
           u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44),
           u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Writes nc (<= 8) planes of P values, plane i at y + i * P, from their
 * 8-interleaved copy o (value q of plane i at o[q * 8 + i]): 8 x 8 blocks
 * through transpose8, then the tail one value at a time. */
TGT_INLINE void deinterleave8(const float *o, int64_t P, int nc, float *y)
{
    int64_t q = 0;
    for (; q + 8 <= P; q += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = _mm256_loadu_ps(o + (q + i) * 8);
        transpose8(r);
        if (nc == 8) /* constant indices: r in registers */
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(y + i * P + q, r[i]);
        else
            for (int i = 0; i < nc; i++)
                _mm256_storeu_ps(y + i * P + q, r[i]);
    }
    for (; q < P; q++)
        for (int i = 0; i < nc; i++)
            y[i * P + q] = o[q * 8 + i];
}

/* A mask of the first n lanes (0 <= n <= 8) for maskload/maskstore. */
TGT_INLINE __m256i lanes_mask(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Even lanes of the 16 floats at s: s[0], s[2], ..., s[14]. */
TGT_INLINE __m256 load_even16(const float *s)
{
    __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(s), _mm256_loadu_ps(s + 8),
                                 0x88);
    return _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
}

/* The epilogue's constants with lane i for channel c0 + i (i < n; the
 * other lanes get neutral values). */
TGT_INLINE void epi_load8(const clv_engine__epi *e, const float *bias,
                          int64_t c0, int n, epi_vecs *v)
{
    float b[8], sc[8], sh[8];
    for (int i = 0; i < 8; i++) {
        b[i] = bias && i < n ? bias[c0 + i] : 0.0f;
        sc[i] = e->scale && i < n ? e->scale[c0 + i] : 1.0f;
        sh[i] = e->scale && i < n ? e->shift[c0 + i] : 0.0f;
    }
    v->hb = bias != NULL;
    v->bn = e->scale != NULL;
    v->k = e->act.kind;
    v->bv = _mm256_loadu_ps(b);
    v->sv = _mm256_loadu_ps(sc);
    v->tv = _mm256_loadu_ps(sh);
    v->pa = _mm256_set1_ps(e->act.a);
    v->pb = _mm256_set1_ps(e->act.b);
}

#endif
