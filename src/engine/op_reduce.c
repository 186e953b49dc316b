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
