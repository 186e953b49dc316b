/*
 * The table of op planners, keyed by clv_op, and the per-value pieces that
 * several kernels share: activations, the fused epilogue of convolutions
 * and Gemm, BatchNormalization as an affine map.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "engine/internal.h"

static const clv_engine__plan_fn plan_table[] = {
    [CLV_OP_CONV] = clv_engine__plan_conv,
    [CLV_OP_GEMM] = clv_engine__plan_gemm,
    [CLV_OP_MATMUL] = clv_engine__plan_matmul,
    [CLV_OP_MAXPOOL] = clv_engine__plan_pool,
    [CLV_OP_AVERAGEPOOL] = clv_engine__plan_pool,
    [CLV_OP_GLOBALAVERAGEPOOL] = clv_engine__plan_globalpool,
    [CLV_OP_GLOBALMAXPOOL] = clv_engine__plan_globalpool,
    [CLV_OP_BATCHNORM] = clv_engine__plan_batchnorm,
    [CLV_OP_RELU] = clv_engine__plan_act,
    [CLV_OP_LEAKYRELU] = clv_engine__plan_act,
    [CLV_OP_PRELU] = clv_engine__plan_prelu,
    [CLV_OP_SIGMOID] = clv_engine__plan_act,
    [CLV_OP_TANH] = clv_engine__plan_act,
    [CLV_OP_CLIP] = clv_engine__plan_act,
    [CLV_OP_HARDSIGMOID] = clv_engine__plan_act,
    [CLV_OP_HARDSWISH] = clv_engine__plan_act,
    [CLV_OP_SQRT] = clv_engine__plan_act,
    [CLV_OP_EXP] = clv_engine__plan_act,
    [CLV_OP_NEG] = clv_engine__plan_act,
    [CLV_OP_RECIPROCAL] = clv_engine__plan_act,
    [CLV_OP_ERF] = clv_engine__plan_act,
    [CLV_OP_REDUCEMEAN] = clv_engine__plan_reduce,
    [CLV_OP_REDUCESUM] = clv_engine__plan_reduce,
    [CLV_OP_REDUCEMAX] = clv_engine__plan_reduce,
    [CLV_OP_LAYERNORM] = clv_engine__plan_layernorm,
    [CLV_OP_SOFTMAX] = clv_engine__plan_softmax,
    [CLV_OP_LRN] = clv_engine__plan_lrn,
    [CLV_OP_ADD] = clv_engine__plan_binary,
    [CLV_OP_SUB] = clv_engine__plan_binary,
    [CLV_OP_MUL] = clv_engine__plan_binary,
    [CLV_OP_DIV] = clv_engine__plan_binary,
    [CLV_OP_POW] = clv_engine__plan_binary,
    [CLV_OP_CONCAT] = clv_engine__plan_concat,
    [CLV_OP_FLATTEN] = clv_engine__plan_copy,
    [CLV_OP_RESHAPE] = clv_engine__plan_copy,
    [CLV_OP_TRANSPOSE] = clv_engine__plan_transpose,
    [CLV_OP_DROPOUT] = clv_engine__plan_copy,
    [CLV_OP_IDENTITY] = clv_engine__plan_copy,
    [CLV_OP_PAD] = clv_engine__plan_pad,
    [CLV_OP_RESIZE] = clv_engine__plan_resize,
    [CLV_OP_SHAPE] = clv_engine__plan_shape,
    [CLV_OP_GATHER] = clv_engine__plan_gather,
    [CLV_OP_UNSQUEEZE] = clv_engine__plan_copy,
    [CLV_OP_SQUEEZE] = clv_engine__plan_copy,
    [CLV_OP_SLICE] = clv_engine__plan_slice,
    [CLV_OP_SPLIT] = clv_engine__plan_split,
    [CLV_OP_CAST] = clv_engine__plan_cast,
    [CLV_OP_REORG] = clv_engine__plan_reorg,
    [CLV_OP_REGION] = clv_engine__plan_region,
    [CLV_OP_YOLO] = clv_engine__plan_yolo,
};
/* A new op in CLV_OP_MAP needs a planner above. */
static_assert(CLV_OP_COUNT == 50, "update plan_table for the new ops");
static_assert(sizeof plan_table / sizeof plan_table[0] == CLV_OP_COUNT,
              "plan_table must have one entry per op");

clv_engine__plan_fn clv_engine__planner_for(clv_op op)
{
    if ((int)op < 0 || op >= CLV_OP_COUNT)
        return NULL;
    return plan_table[op];
}

bool clv_engine__act_of(const clv_node *n, clv_engine__act *a)
{
    a->a = 0.0f;
    a->b = 0.0f;
    switch (n->op) {
    case CLV_OP_RELU:
        a->kind = CLV_ACT_RELU;
        return true;
    case CLV_OP_LEAKYRELU:
        a->kind = CLV_ACT_LEAKY;
        a->a = clv_node_float(n, "alpha", 0.01f);
        return true;
    case CLV_OP_CLIP:
        a->kind = CLV_ACT_CLIP;
        a->a = clv_node_float(n, "min", -INFINITY);
        a->b = clv_node_float(n, "max", INFINITY);
        return true;
    case CLV_OP_SIGMOID:
        a->kind = CLV_ACT_SIGMOID;
        return true;
    case CLV_OP_TANH:
        a->kind = CLV_ACT_TANH;
        return true;
    case CLV_OP_HARDSIGMOID:
        a->kind = CLV_ACT_HARDSIGMOID;
        a->a = clv_node_float(n, "alpha", 0.2f);
        a->b = clv_node_float(n, "beta", 0.5f);
        return true;
    case CLV_OP_HARDSWISH:
        a->kind = CLV_ACT_HARDSWISH;
        return true;
    case CLV_OP_SQRT:
        a->kind = CLV_ACT_SQRT;
        return true;
    case CLV_OP_EXP:
        a->kind = CLV_ACT_EXP;
        return true;
    case CLV_OP_NEG:
        a->kind = CLV_ACT_NEG;
        return true;
    case CLV_OP_RECIPROCAL:
        a->kind = CLV_ACT_RECIPROCAL;
        return true;
    case CLV_OP_ERF:
        a->kind = CLV_ACT_ERF;
        return true;
    default:
        a->kind = CLV_ACT_NONE;
        return false;
    }
}

/* One loop per kind, so that the switch is outside the loop. Blocks of
 * CLV_ENGINE_BLOCK values through a local array let the compiler use
 * vector instructions at -O2; they compute exactly what the scalar tail
 * computes for each value. */
#define ACT_LOOP(kind)                                                    \
    do {                                                                  \
        size_t i = 0;                                                     \
        if (x == y) {                                                     \
            for (; i + CLV_ENGINE_BLOCK <= n; i += CLV_ENGINE_BLOCK)      \
                for (int k = 0; k < CLV_ENGINE_BLOCK; k++)                \
                    y[i + k] = clv_engine__act1(kind, p0, p1, y[i + k]);  \
        } else {                                                          \
            for (; i + CLV_ENGINE_BLOCK <= n; i += CLV_ENGINE_BLOCK) {    \
                float t[CLV_ENGINE_BLOCK];                                \
                for (int k = 0; k < CLV_ENGINE_BLOCK; k++)                \
                    t[k] = x[i + k];                                      \
                for (int k = 0; k < CLV_ENGINE_BLOCK; k++)                \
                    y[i + k] = clv_engine__act1(kind, p0, p1, t[k]);      \
            }                                                             \
        }                                                                 \
        for (; i < n; i++)                                                \
            y[i] = clv_engine__act1(kind, p0, p1, x[i]);                  \
    } while (0)

void clv_engine__act_map(const clv_engine__act *a, const float *x, float *y,
                         size_t n)
{
    float p0 = a->a, p1 = a->b;
    switch (a->kind) {
    case CLV_ACT_NONE:
        if (x != y)
            memmove(y, x, n * sizeof *y);
        break;
    case CLV_ACT_RELU:
        ACT_LOOP(CLV_ACT_RELU);
        break;
    case CLV_ACT_LEAKY:
        ACT_LOOP(CLV_ACT_LEAKY);
        break;
    case CLV_ACT_CLIP:
        ACT_LOOP(CLV_ACT_CLIP);
        break;
    case CLV_ACT_SIGMOID:
        ACT_LOOP(CLV_ACT_SIGMOID);
        break;
    case CLV_ACT_TANH:
        ACT_LOOP(CLV_ACT_TANH);
        break;
    case CLV_ACT_HARDSIGMOID:
        ACT_LOOP(CLV_ACT_HARDSIGMOID);
        break;
    case CLV_ACT_HARDSWISH:
        ACT_LOOP(CLV_ACT_HARDSWISH);
        break;
    case CLV_ACT_SQRT:
        ACT_LOOP(CLV_ACT_SQRT);
        break;
    case CLV_ACT_EXP:
        ACT_LOOP(CLV_ACT_EXP);
        break;
    case CLV_ACT_NEG:
        ACT_LOOP(CLV_ACT_NEG);
        break;
    case CLV_ACT_RECIPROCAL:
        ACT_LOOP(CLV_ACT_RECIPROCAL);
        break;
    case CLV_ACT_ERF:
        ACT_LOOP(CLV_ACT_ERF);
        break;
    }
}

/* One pass over the values: bias, BatchNormalization, activation, each
 * present or not (HB, BN are constants in each expansion). */
#define EPI_ONE(HB, BN, K, i)                                             \
    do {                                                                  \
        float v = y[i];                                                   \
        if (HB)                                                           \
            v = v + bv;                                                   \
        if (BN)                                                           \
            v = v * sv + tv;                                              \
        y[i] = clv_engine__act1(K, p0, p1, v);                            \
    } while (0)
#define EPI_LOOP(HB, BN, K)                                               \
    do {                                                                  \
        size_t i = 0;                                                     \
        for (; i + CLV_ENGINE_BLOCK <= n; i += CLV_ENGINE_BLOCK)          \
            for (int k = 0; k < CLV_ENGINE_BLOCK; k++)                    \
                EPI_ONE(HB, BN, K, i + k);                                \
        for (; i < n; i++)                                                \
            EPI_ONE(HB, BN, K, i);                                        \
    } while (0)

#define EPI_ACTS(HB, BN)                                                  \
    switch (e->act.kind) {                                                \
    case CLV_ACT_NONE:                                                    \
        EPI_LOOP(HB, BN, CLV_ACT_NONE);                                   \
        break;                                                            \
    case CLV_ACT_RELU:                                                    \
        EPI_LOOP(HB, BN, CLV_ACT_RELU);                                   \
        break;                                                            \
    case CLV_ACT_LEAKY:                                                   \
        EPI_LOOP(HB, BN, CLV_ACT_LEAKY);                                  \
        break;                                                            \
    case CLV_ACT_CLIP:                                                    \
        EPI_LOOP(HB, BN, CLV_ACT_CLIP);                                   \
        break;                                                            \
    case CLV_ACT_SIGMOID:                                                 \
        EPI_LOOP(HB, BN, CLV_ACT_SIGMOID);                                \
        break;                                                            \
    case CLV_ACT_TANH:                                                    \
        EPI_LOOP(HB, BN, CLV_ACT_TANH);                                   \
        break;                                                            \
    case CLV_ACT_HARDSIGMOID:                                             \
        EPI_LOOP(HB, BN, CLV_ACT_HARDSIGMOID);                            \
        break;                                                            \
    case CLV_ACT_HARDSWISH:                                               \
        EPI_LOOP(HB, BN, CLV_ACT_HARDSWISH);                              \
        break;                                                            \
    case CLV_ACT_SQRT:                                                    \
        EPI_LOOP(HB, BN, CLV_ACT_SQRT);                                   \
        break;                                                            \
    case CLV_ACT_EXP:                                                     \
        EPI_LOOP(HB, BN, CLV_ACT_EXP);                                    \
        break;                                                            \
    case CLV_ACT_NEG:                                                     \
        EPI_LOOP(HB, BN, CLV_ACT_NEG);                                    \
        break;                                                            \
    case CLV_ACT_RECIPROCAL:                                              \
        EPI_LOOP(HB, BN, CLV_ACT_RECIPROCAL);                             \
        break;                                                            \
    case CLV_ACT_ERF:                                                     \
        EPI_LOOP(HB, BN, CLV_ACT_ERF);                                    \
        break;                                                            \
    }

void clv_engine__epi_apply(const clv_engine__epi *e, const float *bias,
                           int64_t c, float *y, size_t n)
{
    float bv = bias ? bias[c] : 0.0f;
    float sv = e->scale ? e->scale[c] : 1.0f;
    float tv = e->scale ? e->shift[c] : 0.0f;
    float p0 = e->act.a, p1 = e->act.b;
    if (bias && e->scale) {
        EPI_ACTS(1, 1);
    } else if (bias) {
        EPI_ACTS(1, 0);
    } else if (e->scale) {
        EPI_ACTS(0, 1);
    } else {
        EPI_ACTS(0, 0);
    }
}

void clv_engine__bn_affine(const float *scale, const float *bias,
                           const float *mean, const float *var, float eps,
                           int64_t c, float *s, float *t)
{
    for (int64_t i = 0; i < c; i++) {
        s[i] = scale[i] / sqrtf(var[i] + eps);
        t[i] = bias[i] - mean[i] * s[i];
    }
}
