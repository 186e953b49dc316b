/*
 * Softmax, float32, in both of ONNX's forms:
 *   legacy (opset < 13): the input seen as a matrix [prod(dims[0:axis]),
 *     prod(dims[axis:])], softmax over each row;
 *   opset >= 13: softmax along dim `axis` alone.
 * Each vector: m = max, e_i = exp(x_i - m), y_i = e_i / sum(e).
 * One task per group of vectors, fixed by the shape.
 */
#include <math.h>

#include "engine/internal.h"

typedef struct softmax_plan {
    int64_t outer, d, inner; /* vectors: outer * inner, each of d values
                                with stride inner */
    int64_t per_task, tasks;
} softmax_plan;

typedef struct softmax_ctx {
    const softmax_plan *p;
    const float *X;
    float *Y;
} softmax_ctx;

static void softmax_vec(const float *x, float *y, int64_t d, int64_t st)
{
    float m = -INFINITY, sum = 0.0f;
    for (int64_t i = 0; i < d; i++)
        if (x[i * st] > m)
            m = x[i * st];
    for (int64_t i = 0; i < d; i++) {
        float e = expf(x[i * st] - m);
        y[i * st] = e;
        sum += e;
    }
    for (int64_t i = 0; i < d; i++)
        y[i * st] = y[i * st] / sum;
}

static void task_softmax(void *arg, int64_t t, int tid)
{
    const softmax_ctx *c = arg;
    const softmax_plan *p = c->p;
    int64_t v0 = t * p->per_task, nv = p->outer * p->inner;
    int64_t v1 = v0 + p->per_task < nv ? v0 + p->per_task : nv;
    (void)tid;
    for (int64_t v = v0; v < v1; v++) {
        int64_t o = v / p->inner, i = v % p->inner;
        int64_t off = o * p->d * p->inner + i;
        softmax_vec(c->X + off, c->Y + off, p->d, p->inner);
    }
}

static int run_softmax(const clv_engine__step *s, clv_engine__exec *x)
{
    const softmax_plan *p = s->plan;
    softmax_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, p->tasks, task_softmax, &c);
    return 0;
}

int clv_engine__plan_softmax(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    int64_t axis = clv_node_int(s->n, "axis", 1);
    bool legacy = clv_node_int(s->n, "legacy", 0) != 0;
    softmax_plan *p;
    int64_t nv;

    if (X->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Softmax runs on float32 only");
    if (axis < 0 || axis >= X->ndim)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Softmax axis=%lld is not canonical",
                                      (long long)axis);
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->outer = 1;
    p->d = 1;
    p->inner = 1;
    for (int i = 0; i < X->ndim; i++) {
        if (i < axis)
            p->outer *= X->dims[i];
        else if (i == axis || legacy)
            p->d *= X->dims[i];
        else
            p->inner *= X->dims[i];
    }
    nv = p->outer * p->inner;
    p->tasks = clv_engine__pieces(nv, (16384 + p->d) / (p->d + 1), 1 << 20,
                                  &p->per_task);
    if (nv == 0 || p->d == 0)
        p->tasks = 0;
    s->plan = p;
    s->run = run_softmax;
    return 0;
}
