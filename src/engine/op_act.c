/*
 * The element-wise activations: Relu, LeakyRelu, Clip, Sigmoid, Tanh,
 * HardSigmoid, HardSwish (float32). Each value goes through
 * clv_engine__act1(), the function the fused epilogues of convolutions and
 * Gemm use too. Work is cut into fixed pieces of 32K values.
 */
#include "engine/internal.h"

#define ACT_PIECE 32768

typedef struct act_plan {
    clv_engine__act act;
    int64_t n;
} act_plan;

typedef struct act_ctx {
    const act_plan *p;
    const float *X;
    float *Y;
} act_ctx;

static void task_act(void *arg, int64_t t, int tid)
{
    const act_ctx *c = arg;
    int64_t i0 = t * ACT_PIECE;
    int64_t len = c->p->n - i0 < ACT_PIECE ? c->p->n - i0 : ACT_PIECE;
    (void)tid;
    clv_engine__act_map(&c->p->act, c->X + i0, c->Y + i0, (size_t)len);
}

static int run_act(const clv_engine__step *s, clv_engine__exec *x)
{
    const act_plan *p = s->plan;
    act_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, (p->n + ACT_PIECE - 1) / ACT_PIECE, task_act,
                         &c);
    return 0;
}

int clv_engine__plan_act(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    act_plan *p;
    if (X->dtype != CLV_DT_FLOAT)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "%s runs on float32 only",
                                      clv_op_name(s->n->op));
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    clv_engine__act_of(s->n, &p->act);
    p->n = clv_tensor_numel(X);
    s->plan = p;
    s->run = run_act;
    return 0;
}
