/*
 * The engine on a CPU without its own kernels (any architecture but
 * x86-64; CMakeLists.txt chooses this file): clv_engine__simd_ok() is
 * false, so plans take the portable paths (OpenBLAS, the blocked loops)
 * and the kernels below are never called. They still compute what their
 * x86 counterparts would, plainly, so that nothing is left undefined.
 */
#include <assert.h>

#include "engine/op_conv.h"
#include "engine/op_pool.h"

bool clv_engine__simd_ok(void)
{
    return false;
}

void clv_engine__epi_apply_simd(const clv_engine__epi *e, const float *bias,
                                int64_t c, float *y, size_t n)
{
    clv_engine__epi_apply(e, bias, c, y, n);
}

void clv_engine__gemm_run(const clv_engine__gemm_job *j)
{
    (void)j;
}

void clv_engine__gemmt_run(const clv_engine__gemmt_job *j)
{
    (void)j;
}

void clv_engine__transpose(const float *src, int64_t lds, int64_t rows,
                           int64_t cols, float *dst, int64_t ldd,
                           const clv_engine__epi *e, const float *bias,
                           int64_t ch0)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[c * ldd + r] = src[r * lds + c];
    if (e && !clv_engine__epi_empty(e))
        for (int64_t c = 0; c < cols; c++)
            clv_engine__epi_apply(e, bias, ch0 + c, dst + c * ldd,
                                  (size_t)rows);
}

/* Never planned without clv_engine__simd_ok(). */
void clv_engine__conv_split8_task(void *arg, int64_t t, int tid)
{
    (void)arg, (void)t, (void)tid;
    assert(!"clv_engine__conv_split8_task without AVX2");
}

void clv_engine__conv_dw_task(void *arg, int64_t t, int tid)
{
    (void)arg, (void)t, (void)tid;
    assert(!"clv_engine__conv_dw_task without AVX2");
}

void clv_engine__conv_dw8_task(void *arg, int64_t t, int tid)
{
    (void)arg, (void)t, (void)tid;
    assert(!"clv_engine__conv_dw8_task without AVX2");
}

void clv_engine__pool2d_task(void *arg, int64_t t, int tid)
{
    (void)arg, (void)t, (void)tid;
    assert(!"clv_engine__pool2d_task without AVX2");
}

void clv_engine__maxpool_rows_task(void *arg, int64_t t, int tid)
{
    (void)arg, (void)t, (void)tid;
    assert(!"clv_engine__maxpool_rows_task without AVX2");
}

void clv_engine__pool8_task(void *arg, int64_t t, int tid)
{
    (void)arg, (void)t, (void)tid;
    assert(!"clv_engine__pool8_task without AVX2");
}
