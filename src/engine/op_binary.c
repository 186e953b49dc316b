/*
 * Add, Sub, Mul, Div with numpy broadcasting (float32, float64, int64,
 * int32, int8, uint8), and PRelu (float32, the slope broadcast to X).
 *
 * At plan time the broadcast is reduced to the fewest dims: dims of
 * extent 1 in the output go, and neighbouring dims merge when both inputs
 * walk them the same way. A same-shape op becomes one dim with unit
 * strides; a per-channel op on NCHW becomes [N*C, H*W] with the channel
 * operand's inner stride 0. The kernel walks the outer dims with an
 * odometer and runs a tight loop over the last one, with a fast loop for
 * each (stride a, stride b) in {0, 1}^2.
 *
 * A float op may carry a fused activation (engine.c), applied to each
 * output row right after it is computed, with the standalone kernel's
 * clv_engine__act1().
 *
 * Integer arithmetic wraps around (two's complement); integer Div
 * truncates toward zero, and a zero divisor is an error (CLV_ERANGE).
 */
#include <string.h>

#include "engine/internal.h"

typedef struct bcast {
    int nd; /* >= 1 */
    int64_t dims[CLV_MAX_DIMS];
    int64_t sa[CLV_MAX_DIMS], sb[CLV_MAX_DIMS]; /* element strides, 0 = bcast */
    int64_t outer;  /* product of dims[0..nd-2] */
    int64_t rows_per_task, tasks;
} bcast;

/* Strides of `t` seen with the output's rank `nd` (dims right-aligned). */
static void bcast_strides(const clv_tensor *t, int nd, const int64_t *ydims,
                          int64_t *st)
{
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int k = d - (nd - t->ndim);
        int64_t e = k >= 0 ? t->dims[k] : 1;
        (void)ydims;
        st[d] = e == 1 ? 0 : s;
        s *= e;
    }
}

static void bcast_plan(const clv_tensor *a, const clv_tensor *b,
                       const clv_tensor *y, bcast *bc)
{
    int64_t sa[CLV_MAX_DIMS], sb[CLV_MAX_DIMS];
    int nd = y->ndim, w = 0;

    bcast_strides(a, nd, y->dims, sa);
    bcast_strides(b, nd, y->dims, sb);
    for (int d = 0; d < nd; d++) {
        if (y->dims[d] == 1)
            continue; /* contributes nothing */
        /* merge into the dim before when each operand walks both as one
         * (contiguous across them, or broadcast along both) */
        if (w > 0 && sa[d] * y->dims[d] == bc->sa[w - 1] &&
            sb[d] * y->dims[d] == bc->sb[w - 1]) {
            bc->dims[w - 1] *= y->dims[d];
            bc->sa[w - 1] = sa[d];
            bc->sb[w - 1] = sb[d];
            continue;
        }
        bc->dims[w] = y->dims[d];
        bc->sa[w] = sa[d];
        bc->sb[w] = sb[d];
        w++;
    }
    if (w == 0) {
        bc->dims[0] = 1;
        bc->sa[0] = 0;
        bc->sb[0] = 0;
        w = 1;
    }
    bc->nd = w;
    bc->outer = 1;
    for (int d = 0; d < w - 1; d++)
        bc->outer *= bc->dims[d];
    /* tasks: whole rows, about 16K elements each */
    {
        int64_t inner = bc->dims[w - 1] > 0 ? bc->dims[w - 1] : 1;
        int64_t rows = (16384 + inner - 1) / inner;
        bc->tasks = clv_engine__pieces(bc->outer, rows, 1 << 20,
                                       &bc->rows_per_task);
    }
}

/* Offsets of row r (an index over the outer dims) in a and b. */
static void row_offsets(const bcast *bc, int64_t r, int64_t *oa,
                        int64_t *ob)
{
    int64_t a = 0, b = 0;
    for (int d = bc->nd - 2; d >= 0; d--) {
        int64_t i = r % bc->dims[d];
        r /= bc->dims[d];
        a += i * bc->sa[d];
        b += i * bc->sb[d];
    }
    *oa = a;
    *ob = b;
}

typedef enum bin_op { B_ADD, B_SUB, B_MUL, B_DIV, B_PRELU, B_POW } bin_op;

typedef struct bin_plan {
    bcast bc;
    bin_op op;
    clv_dtype dt;
} bin_plan;

typedef struct bin_ctx {
    const bin_plan *p;
    const clv_engine__act *act; /* fused activation (float only) */
    const void *A, *B;
    void *Y;
    int bad; /* set by integer division by zero */
} bin_ctx;

#define F_ADD(x, y) ((x) + (y))
#define F_SUB(x, y) ((x) - (y))
#define F_MUL(x, y) ((x) * (y))
#define F_DIV(x, y) ((x) / (y))
#define F_PRELU(x, s) ((x) < 0 ? (x) * (s) : (x))
#define F_POWF(x, y) powf((x), (y))
#define F_POWD(x, y) pow((x), (y))

/* One row of n outputs with strides ia, ib in {0, 1} (or anything); the
 * unit-stride cases run in blocks of CLV_ENGINE_BLOCK (vectorized). */
#define BLK CLV_ENGINE_BLOCK
#define ROW(T, F)                                                         \
    do {                                                                  \
        const T *a_ = (const T *)c->A + oa;                      \
        const T *b_ = (const T *)c->B + ob;                      \
        T *y_ = (T *)c->Y + oy;                                  \
        int64_t i = 0;                                                    \
        if (ia == 1 && ib == 1) {                                         \
            for (; i + BLK <= n; i += BLK) {                              \
                T ta[BLK], tb[BLK];                                       \
                for (int k = 0; k < BLK; k++) {                           \
                    ta[k] = a_[i + k];                                    \
                    tb[k] = b_[i + k];                                    \
                }                                                         \
                for (int k = 0; k < BLK; k++)                             \
                    y_[i + k] = (T)F(ta[k], tb[k]);                       \
            }                                                             \
            for (; i < n; i++)                                            \
                y_[i] = (T)F(a_[i], b_[i]);                               \
        } else if (ia == 1 && ib == 0) {                                  \
            T bv = b_[0];                                                 \
            for (; i + BLK <= n; i += BLK) {                              \
                T ta[BLK];                                                \
                for (int k = 0; k < BLK; k++)                             \
                    ta[k] = a_[i + k];                                    \
                for (int k = 0; k < BLK; k++)                             \
                    y_[i + k] = (T)F(ta[k], bv);                          \
            }                                                             \
            for (; i < n; i++)                                            \
                y_[i] = (T)F(a_[i], bv);                                  \
        } else if (ia == 0 && ib == 1) {                                  \
            T av = a_[0];                                                 \
            for (; i + BLK <= n; i += BLK) {                              \
                T tb[BLK];                                                \
                for (int k = 0; k < BLK; k++)                             \
                    tb[k] = b_[i + k];                                    \
                for (int k = 0; k < BLK; k++)                             \
                    y_[i + k] = (T)F(av, tb[k]);                          \
            }                                                             \
            for (; i < n; i++)                                            \
                y_[i] = (T)F(av, b_[i]);                                  \
        } else {                                                          \
            for (; i < n; i++)                                            \
                y_[i] = (T)F(a_[i * ia], b_[i * ib]);                     \
        }                                                                 \
    } while (0)

/* Wrapping integer arithmetic through the unsigned type U. */
#define IROW(T, U, SGN)                                                      \
    do {                                                                  \
        const T *a_ = (const T *)c->A + oa;                               \
        const T *b_ = (const T *)c->B + ob;                               \
        T *y_ = (T *)c->Y + oy;                                           \
        for (int64_t i = 0; i < n; i++) {                                 \
            T x_ = a_[i * ia], z_ = b_[i * ib];                           \
            switch (p->op) {                                              \
            case B_ADD:                                                   \
                y_[i] = (T)(U)((U)x_ + (U)z_);                            \
                break;                                                    \
            case B_SUB:                                                   \
                y_[i] = (T)(U)((U)x_ - (U)z_);                            \
                break;                                                    \
            case B_MUL:                                                   \
                y_[i] = (T)(U)((U)x_ * (U)z_);                            \
                break;                                                    \
            default:                                                      \
                if (z_ == 0) {                                            \
                    c->bad = 1;                                           \
                    y_[i] = 0;                                            \
                } else if (SGN && z_ == (T)-1) {                          \
                    y_[i] = (T)(U)(0 - (U)x_); /* MIN / -1 wraps */       \
                } else {                                                  \
                    y_[i] = (T)(x_ / z_);                                 \
                }                                                         \
            }                                                             \
        }                                                                 \
    } while (0)

static void task_bin(void *arg, int64_t t, int tid)
{
    bin_ctx *c = arg;
    const bin_plan *p = c->p;
    const bcast *bc = &p->bc;
    int64_t n = bc->dims[bc->nd - 1];
    int64_t ia = bc->sa[bc->nd - 1], ib = bc->sb[bc->nd - 1];
    int64_t r0 = t * bc->rows_per_task;
    int64_t r1 = r0 + bc->rows_per_task < bc->outer ? r0 + bc->rows_per_task
                                                    : bc->outer;
    (void)tid;
    for (int64_t r = r0; r < r1; r++) {
        int64_t oa, ob, oy = r * n;
        row_offsets(bc, r, &oa, &ob);
        switch (p->dt) {
        case CLV_DT_FLOAT:
            switch (p->op) {
            case B_ADD:
                ROW(float, F_ADD);
                break;
            case B_SUB:
                ROW(float, F_SUB);
                break;
            case B_MUL:
                ROW(float, F_MUL);
                break;
            case B_DIV:
                ROW(float, F_DIV);
                break;
            case B_PRELU:
                ROW(float, F_PRELU);
                break;
            case B_POW:
                ROW(float, F_POWF);
                break;
            }
            if (c->act->kind != CLV_ACT_NONE)
                clv_engine__act_map(c->act, (float *)c->Y + oy,
                                    (float *)c->Y + oy, (size_t)n);
            break;
        case CLV_DT_DOUBLE:
            switch (p->op) {
            case B_ADD:
                ROW(double, F_ADD);
                break;
            case B_SUB:
                ROW(double, F_SUB);
                break;
            case B_MUL:
                ROW(double, F_MUL);
                break;
            case B_POW:
                ROW(double, F_POWD);
                break;
            default:
                ROW(double, F_DIV);
                break;
            }
            break;
        case CLV_DT_INT64:
            IROW(int64_t, uint64_t, 1);
            break;
        case CLV_DT_INT32:
            IROW(int32_t, uint32_t, 1);
            break;
        case CLV_DT_INT8:
            IROW(int8_t, uint8_t, 1);
            break;
        case CLV_DT_UINT8:
            IROW(uint8_t, uint8_t, 0);
            break;
        default:
            break;
        }
    }
}

static int run_bin(const clv_engine__step *s, clv_engine__exec *x)
{
    const bin_plan *p = s->plan;
    bin_ctx c;
    c.p = p;
    c.act = &s->epi.act;
    c.A = clv_engine__in(x, s, 0);
    c.B = clv_engine__in(x, s, 1);
    c.Y = clv_engine__out(x, s);
    c.bad = 0;
    clv_engine__parallel(x, p->bc.tasks, task_bin, &c);
    if (c.bad)
        return clv_error_set(x->err, CLV_ERANGE,
                             "integer Div by zero (input '%s')",
                             clv_graph_tensor(x->g, s->n->inputs[1])->name);
    return 0;
}

static int plan_bin(clv_engine__planner *pl, clv_engine__step *s, bin_op op)
{
    const clv_graph *g = pl->g;
    const clv_tensor *A = clv_engine__in_t(g, s, 0);
    const clv_tensor *B = clv_engine__in_t(g, s, 1);
    const clv_tensor *Y = clv_engine__out_t(g, s);
    bin_plan *p;

    switch (A->dtype) {
    case CLV_DT_FLOAT:
        break;
    case CLV_DT_DOUBLE:
    case CLV_DT_INT64:
    case CLV_DT_INT32:
    case CLV_DT_INT8:
    case CLV_DT_UINT8:
        if (op != B_PRELU)
            break;
        /* fall through */
    default:
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "%s of %s tensors is not supported",
                                      clv_op_name(s->n->op),
                                      clv_dtype_name(A->dtype));
    }
    if (B->dtype != A->dtype)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "%s inputs differ in type (%s, %s)",
                                      clv_op_name(s->n->op),
                                      clv_dtype_name(A->dtype),
                                      clv_dtype_name(B->dtype));
    if (op == B_POW && A->dtype != CLV_DT_FLOAT && A->dtype != CLV_DT_DOUBLE)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Pow runs on float32 and float64 only, "
                                      "not %s",
                                      clv_dtype_name(A->dtype));
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->op = op;
    p->dt = A->dtype;
    bcast_plan(A, B, Y, &p->bc);
    if (clv_tensor_numel(Y) == 0)
        p->bc.tasks = 0;
    s->plan = p;
    s->run = run_bin;
    return 0;
}

int clv_engine__plan_binary(clv_engine__planner *pl, clv_engine__step *s)
{
    bin_op op;
    switch (s->n->op) {
    case CLV_OP_ADD:
        op = B_ADD;
        break;
    case CLV_OP_SUB:
        op = B_SUB;
        break;
    case CLV_OP_MUL:
        op = B_MUL;
        break;
    case CLV_OP_POW:
        op = B_POW;
        break;
    default:
        op = B_DIV;
        break;
    }
    return plan_bin(pl, s, op);
}

int clv_engine__plan_prelu(clv_engine__planner *pl, clv_engine__step *s)
{
    return plan_bin(pl, s, B_PRELU);
}
