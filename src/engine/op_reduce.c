/*
 * ReduceMean, ReduceSum and ReduceMax over any set of axes (float32): one
 * pass over the input in memory order, each row of the last dimension
 * added (or compared) into its output elements. One thread, a fixed
 * order: the result does not depend on the engine's thread count.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

typedef enum reduce_kind { R_MEAN, R_SUM, R_MAX } reduce_kind;

typedef struct reduce_plan {
    reduce_kind kind;
    int nd;
    int64_t dims[CLV_MAX_DIMS];
    int64_t ostride[CLV_MAX_DIMS]; /* per input dim: its stride in the
                                      output, 0 when it is reduced */
    int64_t n_in, n_out, count;    /* count: inputs per output */
} reduce_plan;

static int run_reduce(const clv_engine__step *s, clv_engine__exec *x)
{
    const reduce_plan *p = s->plan;
    const float *in = clv_engine__in(x, s, 0);
    float *y = clv_engine__out(x, s);
    const float init = p->kind == R_MAX ? -INFINITY : 0.0f;
    for (int64_t o = 0; o < p->n_out; o++)
        y[o] = init;
    const int last = p->nd - 1;
    const int64_t inner = p->nd ? p->dims[last] : 1;
    const int64_t is = p->nd ? p->ostride[last] : 0;
    int64_t cnt[CLV_MAX_DIMS] = {0}, off = 0;
    for (int64_t i = 0; inner > 0 && i < p->n_in; i += inner) {
        const float *row = in + i;
        if (p->kind == R_MAX) {
            for (int64_t k = 0; k < inner; k++) {
                float *d = &y[off + k * is];
                *d = row[k] > *d || isnan(row[k]) ? row[k] : *d;
            }
        } else if (is == 0) {
            float acc = y[off];
            for (int64_t k = 0; k < inner; k++)
                acc += row[k];
            y[off] = acc;
        } else {
            for (int64_t k = 0; k < inner; k++)
                y[off + k * is] += row[k];
        }
        /* the next row: an odometer over the outer dimensions */
        for (int d = last - 1; d >= 0; d--) {
            off += p->ostride[d];
            if (++cnt[d] < p->dims[d])
                break;
            off -= p->ostride[d] * p->dims[d];
            cnt[d] = 0;
        }
    }
    if (p->kind == R_MEAN)
        for (int64_t o = 0; o < p->n_out; o++)
            y[o] = y[o] / (float)p->count;
    return 0;
}

int clv_engine__plan_reduce(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_graph *g = pl->g;
    const clv_node *n = s->n;
    const clv_tensor *X = clv_engine__in_t(g, s, 0);
    const clv_tensor *Y = clv_engine__out_t(g, s);
    if (X->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "%s runs on float32 only",
                                      clv_op_name(n->op));
    size_t na = 0;
    const int64_t *axes = clv_node_ints(n, "axes", &na);
    reduce_plan *p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->kind = n->op == CLV_OP_REDUCEMAX   ? R_MAX
              : n->op == CLV_OP_REDUCESUM ? R_SUM
                                          : R_MEAN;
    p->nd = X->ndim;
    int64_t stride = 1;
    for (int d = X->ndim - 1; d >= 0; d--) {
        bool reduced = false;
        for (size_t k = 0; k < na; k++)
            reduced |= axes[k] == d;
        p->dims[d] = X->dims[d];
        p->ostride[d] = reduced ? 0 : stride;
        if (!reduced)
            stride *= X->dims[d];
    }
    p->n_in = clv_tensor_numel(X);
    p->n_out = clv_tensor_numel(Y);
    p->count = p->n_out > 0 ? p->n_in / p->n_out : 0;
    s->plan = p;
    s->run = run_reduce;
    return 0;
}

/* ---- LayerNormalization -------------------------------------------------- */

typedef struct layernorm_plan {
    int64_t outer, inner;
    float eps;
    bool scale_all, bias_all; /* one value for every element */
    bool has_bias, has_mean, has_inv;
} layernorm_plan;

/* Each of `outer` rows of `inner` values: mean and variance summed in
 * double in memory order, then y = (x - mean) * inv * scale + bias in
 * float, inv = 1 / sqrtf(var + eps) (the order of ONNX's own expansion). */
static int run_layernorm(const clv_engine__step *s, clv_engine__exec *x)
{
    const layernorm_plan *p = s->plan;
    const float *in = clv_engine__in(x, s, 0);
    const float *sc = clv_engine__in(x, s, 1);
    const float *bi = p->has_bias ? clv_engine__in(x, s, 2) : NULL;
    float *y = clv_engine__out(x, s);
    float *mo = p->has_mean ? clv_engine__out_i(x, s, 1) : NULL;
    float *io = p->has_inv ? clv_engine__out_i(x, s, 2) : NULL;
    for (int64_t r = 0; r < p->outer; r++) {
        const float *v = in + r * p->inner;
        float *w = y + r * p->inner;
        double sum = 0;
        for (int64_t i = 0; i < p->inner; i++)
            sum += v[i];
        float mean = (float)(sum / (double)p->inner);
        double sq = 0;
        for (int64_t i = 0; i < p->inner; i++) {
            double d = (double)(v[i] - mean);
            sq += d * d;
        }
        float var = (float)(sq / (double)p->inner);
        float inv = 1.0f / sqrtf(var + p->eps);
        for (int64_t i = 0; i < p->inner; i++) {
            float t = (v[i] - mean) * inv * sc[p->scale_all ? 0 : i];
            w[i] = bi ? t + bi[p->bias_all ? 0 : i] : t;
        }
        if (mo)
            mo[r] = mean;
        if (io)
            io[r] = inv;
    }
    return 0;
}

int clv_engine__plan_layernorm(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_graph *g = pl->g;
    const clv_node *n = s->n;
    const clv_tensor *X = clv_engine__in_t(g, s, 0);
    if (X->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "LayerNormalization runs on float32 "
                                      "only");
    layernorm_plan *p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    int64_t axis = clv_node_int(n, "axis", X->ndim - 1);
    p->outer = 1;
    p->inner = 1;
    for (int i = 0; i < X->ndim; i++) {
        if (i < axis)
            p->outer *= X->dims[i];
        else
            p->inner *= X->dims[i];
    }
    p->eps = clv_node_float(n, "epsilon", 1e-5f);
    p->scale_all = clv_tensor_numel(clv_graph_tensor(g, n->inputs[1])) == 1;
    p->has_bias = n->n_inputs > 2 && n->inputs[2] >= 0;
    p->bias_all = p->has_bias &&
                  clv_tensor_numel(clv_graph_tensor(g, n->inputs[2])) == 1;
    p->has_mean = n->n_outputs > 1 && n->outputs[1] >= 0;
    p->has_inv = n->n_outputs > 2 && n->outputs[2] >= 0;
    s->plan = p;
    s->run = run_layernorm;
    return 0;
}
