/*
 * Packing of weights for the engine's own products (the layout the
 * kernels of x86/gemm_avx2.c read): portable, done once at create time.
 */
#include "engine/internal.h"

#define MR CLV_GEMM_MR
#define NR CLV_GEMM_NR

size_t clv_engine__pack_a_floats(int64_t M, int64_t K)
{
    return (size_t)((M + MR - 1) / MR * MR) * (size_t)K;
}

void clv_engine__pack_a(const float *A, int64_t lda, int64_t M, int64_t K,
                        int64_t kc, float *dst)
{
    int64_t Mp = (M + MR - 1) / MR * MR;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        int64_t kb = K - k0 < kc ? K - k0 : kc;
        float *blk = dst + k0 * Mp;
        for (int64_t mp = 0; mp < Mp / MR; mp++) {
            float *pan = blk + mp * kb * MR;
            for (int64_t k = 0; k < kb; k++)
                for (int r = 0; r < MR; r++) {
                    int64_t m = mp * MR + r;
                    pan[k * MR + r] = m < M ? A[m * lda + k0 + k] : 0.0f;
                }
        }
    }
}

size_t clv_engine__pack_wt_floats(int64_t M, int64_t K)
{
    return (size_t)((M + NR - 1) / NR * NR) * (size_t)K;
}

void clv_engine__pack_wt(const float *W, int64_t ldw, int64_t M, int64_t K,
                         int64_t kc, const int32_t *kperm, float *dst)
{
    int64_t Mp = (M + NR - 1) / NR * NR;
    for (int64_t k0 = 0; k0 < K; k0 += kc) {
        int64_t kb = K - k0 < kc ? K - k0 : kc;
        float *blk = dst + k0 * Mp;
        for (int64_t q = 0; q < Mp / NR; q++) {
            float *pan = blk + q * kb * NR;
            for (int64_t k = 0; k < kb; k++)
                for (int i = 0; i < NR; i++) {
                    int64_t m = q * NR + i;
                    int64_t kk = kperm ? kperm[k0 + k] : k0 + k;
                    pan[k * NR + i] = m < M ? W[m * ldw + kk] : 0.0f;
                }
        }
    }
}
