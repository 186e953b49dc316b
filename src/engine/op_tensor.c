/*
 * The data-movement ops, on any element type (they move bytes):
 *   Identity, Dropout, Reshape, Flatten, Squeeze, Unsqueeze: a copy, or
 *     nothing at all when the engine lets the output share the input's
 *     memory (engine.c decides: only when the output is not a buffer the
 *     caller gave);
 *   Concat, Split, Slice (steps of any sign), Transpose, Pad (constant,
 *   edge, reflect), Gather (int32 or int64 indices, negative ones counting
 *   from the end; an index out of range is CLV_ERANGE), Shape;
 *   Cast between float32, float64, int64, int32, int8, uint8 and bool, as
 *   the constant folder does: float to integer truncates toward zero and
 *   saturates (NaN gives 0), to bool gives x != 0.
 */
#include <math.h>
#include <string.h>

#include "engine/internal.h"

/* Elements per task of the element-wise loops. */
#define MOVE_PIECE 65536

/* Copies one element of `es` bytes. */
static inline void copy_elem(char *dst, const char *src, size_t es)
{
    switch (es) {
    case 1:
        *dst = *src;
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    default:
        memcpy(dst, src, es);
    }
}

static void strides_of(int nd, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* ---- copies and views ---------------------------------------------------- */

static int run_copy(const clv_engine__step *s, clv_engine__exec *x)
{
    const clv_tensor *y = clv_engine__out_t(x->g, s);
    size_t bytes = (size_t)clv_tensor_bytes(y);
    const void *src = clv_engine__in(x, s, 0);
    void *dst = clv_engine__out(x, s);
    if (bytes && src != dst)
        memcpy(dst, src, bytes);
    return 0;
}

int clv_engine__plan_copy(clv_engine__planner *pl, clv_engine__step *s)
{
    (void)pl;
    s->run = s->alias ? NULL : run_copy;
    return 0;
}

/* ---- Concat and Split ---------------------------------------------------- */

/* A tensor cut along an axis into parts (Concat's inputs, Split's
 * outputs): seen as `outer` rows (the product of the dims before the
 * axis), each row of the whole the parts' rows side by side. */
typedef struct parts_plan {
    int64_t outer;
    size_t whole_row; /* bytes of one row of the whole */
    size_t *row;      /* per part: bytes of one row */
    size_t *off;      /* per part: offset of its row in a row of the whole */
} parts_plan;

typedef struct parts_ctx {
    const clv_engine__step *s;
    const clv_engine__exec *x;
    const parts_plan *p;
    bool concat;
    char *whole;
} parts_ctx;

/* Part t: Concat copies it into the whole, Split out of it. */
static void task_part(void *arg, int64_t t, int tid)
{
    const parts_ctx *c = arg;
    const parts_plan *p = c->p;
    size_t row = p->row[t];
    char *part = c->concat ? (char *)(uintptr_t)clv_engine__in(c->x, c->s,
                                                                (int)t)
                           : clv_engine__out_i(c->x, c->s, (int)t);
    (void)tid;
    if (!row)
        return;
    for (int64_t a = 0; a < p->outer; a++) {
        char *w = c->whole + (size_t)a * p->whole_row + p->off[t];
        if (c->concat)
            memcpy(w, part + (size_t)a * row, row);
        else
            memcpy(part + (size_t)a * row, w, row);
    }
}

static int run_parts(const clv_engine__step *s, clv_engine__exec *x)
{
    parts_ctx c;
    c.s = s;
    c.x = x;
    c.p = s->plan;
    c.concat = s->n->op == CLV_OP_CONCAT;
    c.whole = c.concat ? clv_engine__out(x, s)
                       : (char *)(uintptr_t)clv_engine__in(x, s, 0);
    clv_engine__parallel(x, c.concat ? s->n->n_inputs : s->n->n_outputs,
                         task_part, &c);
    return 0;
}

/* The plan of a whole of type `whole` cut along the node's "axis" into
 * the n tensors `ids`. */
static int plan_parts(clv_engine__planner *pl, clv_engine__step *s,
                      const clv_tensor *whole, const int *ids, int n)
{
    int64_t axis = clv_node_int(s->n, "axis", 0);
    size_t inner = clv_dtype_size(whole->dtype), off = 0;
    parts_plan *p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->row = clv_engine__keep(pl, (size_t)n * sizeof *p->row);
    p->off = clv_engine__keep(pl, (size_t)n * sizeof *p->off);
    if (!p->row || !p->off)
        return CLV_ENOMEM;
    p->outer = 1;
    for (int i = 0; i < axis; i++)
        p->outer *= whole->dims[i];
    for (int i = (int)axis + 1; i < whole->ndim; i++)
        inner *= (size_t)whole->dims[i];
    for (int i = 0; i < n; i++) {
        const clv_tensor *t = ids[i] >= 0 ? clv_graph_tensor(pl->g, ids[i])
                                          : NULL;
        if (!t)
            return clv_engine__node_error(pl, s, CLV_EINVAL,
                                          "%s part %d is absent",
                                          clv_op_name(s->n->op), i);
        p->row[i] = (size_t)t->dims[axis] * inner;
        p->off[i] = off;
        off += p->row[i];
    }
    p->whole_row = off;
    s->plan = p;
    s->run = run_parts;
    return 0;
}

int clv_engine__plan_concat(clv_engine__planner *pl, clv_engine__step *s)
{
    return plan_parts(pl, s, clv_engine__out_t(pl->g, s), s->n->inputs,
                      s->n->n_inputs);
}

int clv_engine__plan_split(clv_engine__planner *pl, clv_engine__step *s)
{
    return plan_parts(pl, s, clv_engine__in_t(pl->g, s, 0), s->n->outputs,
                      s->n->n_outputs);
}

/* ---- strided gathers: Transpose and Slice -------------------------------- */

/* Output element e (row-major over odims) reads input element
 * base + sum(idx[d] * ist[d]). */
typedef struct walk_plan {
    int nd;
    int64_t odims[CLV_MAX_DIMS];
    int64_t ist[CLV_MAX_DIMS]; /* input element stride per output dim */
    int64_t base;
    int64_t numel;
    size_t es;
} walk_plan;

typedef struct walk_ctx {
    const walk_plan *p;
    const char *X;
    char *Y;
} walk_ctx;

static void task_walk(void *arg, int64_t t, int tid)
{
    const walk_ctx *c = arg;
    const walk_plan *p = c->p;
    int64_t e0 = t * MOVE_PIECE;
    int64_t e1 = e0 + MOVE_PIECE < p->numel ? e0 + MOVE_PIECE : p->numel;
    int64_t idx[CLV_MAX_DIMS], off = p->base, rest = e0;
    int nd = p->nd;
    (void)tid;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rest % p->odims[d];
        rest /= p->odims[d];
        off += idx[d] * p->ist[d];
    }
    for (int64_t e = e0; e < e1; e++) {
        copy_elem(c->Y + (size_t)e * p->es, c->X + (size_t)off * p->es,
                  p->es);
        for (int d = nd - 1; d >= 0; d--) {
            if (++idx[d] < p->odims[d]) {
                off += p->ist[d];
                break;
            }
            off -= (p->odims[d] - 1) * p->ist[d];
            idx[d] = 0;
        }
    }
}

static int run_walk(const clv_engine__step *s, clv_engine__exec *x)
{
    const walk_plan *p = s->plan;
    walk_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, (p->numel + MOVE_PIECE - 1) / MOVE_PIECE,
                         task_walk, &c);
    return 0;
}

int clv_engine__plan_transpose(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    const clv_tensor *Y = clv_engine__out_t(pl->g, s);
    size_t np;
    const int64_t *perm = clv_node_ints(s->n, "perm", &np);
    int64_t st[CLV_MAX_DIMS];
    walk_plan *p;

    if (!perm || (int)np != X->ndim)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Transpose lacks a canonical perm");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    strides_of(X->ndim, X->dims, st);
    p->nd = Y->ndim;
    for (int d = 0; d < Y->ndim; d++) {
        p->odims[d] = Y->dims[d];
        p->ist[d] = st[perm[d]];
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->odims[0] = 1;
        p->ist[0] = 0;
    }
    p->numel = clv_tensor_numel(Y);
    p->es = clv_dtype_size(Y->dtype);
    s->plan = p;
    s->run = run_walk;
    return 0;
}

int clv_engine__plan_slice(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    const clv_tensor *Y = clv_engine__out_t(pl->g, s);
    size_t ns, na, nt;
    const int64_t *starts = clv_node_ints(s->n, "starts", &ns);
    const int64_t *axes = clv_node_ints(s->n, "axes", &na);
    const int64_t *steps = clv_node_ints(s->n, "steps", &nt);
    int64_t st[CLV_MAX_DIMS], first[CLV_MAX_DIMS], step[CLV_MAX_DIMS];
    walk_plan *p;

    if (!starts || !axes || !steps || na != ns || nt != ns)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Slice lacks canonical attributes");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    strides_of(X->ndim, X->dims, st);
    for (int d = 0; d < X->ndim; d++) {
        first[d] = 0;
        step[d] = 1;
    }
    for (size_t i = 0; i < ns; i++) {
        if (axes[i] < 0 || axes[i] >= X->ndim)
            return clv_engine__node_error(pl, s, CLV_EINVAL,
                                          "Slice axis %lld out of range",
                                          (long long)axes[i]);
        first[axes[i]] = starts[i];
        step[axes[i]] = steps[i];
    }
    p->nd = X->ndim;
    p->base = 0;
    for (int d = 0; d < X->ndim; d++) {
        p->odims[d] = Y->dims[d];
        p->ist[d] = step[d] * st[d];
        p->base += first[d] * st[d];
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->odims[0] = 1;
        p->ist[0] = 0;
    }
    p->numel = clv_tensor_numel(Y);
    p->es = clv_dtype_size(Y->dtype);
    s->plan = p;
    s->run = run_walk;
    return 0;
}

/* ---- Pad ----------------------------------------------------------------- */

typedef enum pad_mode { PAD_CONSTANT, PAD_EDGE, PAD_REFLECT } pad_mode;

typedef struct pad_plan {
    pad_mode mode;
    int nd;
    int64_t idims[CLV_MAX_DIMS], odims[CLV_MAX_DIMS], pb[CLV_MAX_DIMS];
    int64_t ist[CLV_MAX_DIMS];
    int64_t numel;
    size_t es;
    unsigned char value[8]; /* the constant, in the element type */
} pad_plan;

typedef struct pad_ctx {
    const pad_plan *p;
    const char *X;
    char *Y;
} pad_ctx;

static void task_pad(void *arg, int64_t t, int tid)
{
    const pad_ctx *c = arg;
    const pad_plan *p = c->p;
    int64_t e0 = t * MOVE_PIECE;
    int64_t e1 = e0 + MOVE_PIECE < p->numel ? e0 + MOVE_PIECE : p->numel;
    (void)tid;
    for (int64_t e = e0; e < e1; e++) {
        int64_t rest = e, off = 0;
        bool outside = false;
        for (int d = p->nd - 1; d >= 0; d--) {
            int64_t o = rest % p->odims[d], i = o - p->pb[d], n = p->idims[d];
            rest /= p->odims[d];
            if (i < 0 || i >= n) {
                if (p->mode == PAD_CONSTANT) {
                    outside = true;
                    break;
                }
                if (p->mode == PAD_EDGE)
                    i = i < 0 ? 0 : n - 1;
                else
                    i = i < 0 ? -i : 2 * (n - 1) - i;
            }
            off += i * p->ist[d];
        }
        if (outside)
            memcpy(c->Y + (size_t)e * p->es, p->value, p->es);
        else
            copy_elem(c->Y + (size_t)e * p->es, c->X + (size_t)off * p->es,
                      p->es);
    }
}

static int run_pad(const clv_engine__step *s, clv_engine__exec *x)
{
    const pad_plan *p = s->plan;
    pad_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, (p->numel + MOVE_PIECE - 1) / MOVE_PIECE,
                         task_pad, &c);
    return 0;
}

/* Writes `v` in element type `dt` to `out` (8 bytes of room). */
static bool scalar_of(clv_dtype dt, double v, unsigned char *out)
{
    switch (dt) {
    case CLV_DT_FLOAT: {
        float f = (float)v;
        memcpy(out, &f, sizeof f);
        return true;
    }
    case CLV_DT_DOUBLE:
        memcpy(out, &v, sizeof v);
        return true;
    case CLV_DT_INT64: {
        int64_t i = (int64_t)v;
        memcpy(out, &i, sizeof i);
        return true;
    }
    case CLV_DT_INT32: {
        int32_t i = (int32_t)v;
        memcpy(out, &i, sizeof i);
        return true;
    }
    case CLV_DT_INT8: {
        int8_t i = (int8_t)v;
        memcpy(out, &i, sizeof i);
        return true;
    }
    case CLV_DT_UINT8:
    case CLV_DT_BOOL: {
        uint8_t i = dt == CLV_DT_BOOL ? v != 0.0 : (uint8_t)v;
        memcpy(out, &i, sizeof i);
        return true;
    }
    default:
        return false;
    }
}

int clv_engine__plan_pad(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    const clv_tensor *Y = clv_engine__out_t(pl->g, s);
    const char *mode = clv_node_string(s->n, "mode", "constant");
    size_t np;
    const int64_t *pads = clv_node_ints(s->n, "pads", &np);
    float value = clv_node_float(s->n, "value", 0.0f);
    pad_plan *p;

    if (!pads || (int)np != 2 * X->ndim)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Pad lacks canonical pads");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    if (!strcmp(mode, "constant"))
        p->mode = PAD_CONSTANT;
    else if (!strcmp(mode, "edge"))
        p->mode = PAD_EDGE;
    else if (!strcmp(mode, "reflect"))
        p->mode = PAD_REFLECT;
    else
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Pad mode '%s' is not supported", mode);
    p->nd = X->ndim;
    for (int d = 0; d < X->ndim; d++) {
        p->idims[d] = X->dims[d];
        p->odims[d] = Y->dims[d];
        p->pb[d] = pads[d];
        if (pads[d] < 0 || pads[X->ndim + d] < 0)
            return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                          "Pad with negative pads");
        if (p->mode == PAD_REFLECT &&
            (pads[d] >= X->dims[d] || pads[X->ndim + d] >= X->dims[d]) &&
            Y->dims[d] != X->dims[d])
            return clv_engine__node_error(
                pl, s, CLV_EUNSUPPORTED,
                "Pad reflect needs pads smaller than the extent");
    }
    strides_of(X->ndim, X->dims, p->ist);
    p->numel = clv_tensor_numel(Y);
    p->es = clv_dtype_size(Y->dtype);
    if (!scalar_of(Y->dtype, (double)value, p->value))
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Pad of %s tensors is not supported",
                                      clv_dtype_name(Y->dtype));
    if (p->mode == PAD_EDGE)
        for (int d = 0; d < X->ndim; d++)
            if (X->dims[d] == 0 && Y->dims[d] > 0)
                return clv_engine__node_error(
                    pl, s, CLV_EUNSUPPORTED, "Pad edge of an empty dim");
    s->plan = p;
    s->run = run_pad;
    return 0;
}

/* ---- Gather -------------------------------------------------------------- */

typedef struct gather_plan {
    int64_t outer, s, ni;
    size_t inner; /* bytes of one slice after the axis */
    bool i64;
} gather_plan;

typedef struct gather_ctx {
    const gather_plan *p;
    const char *X;
    const void *I;
    char *Y;
} gather_ctx;

static int64_t index_at(const gather_plan *p, const void *ix, int64_t j)
{
    int64_t k = p->i64 ? ((const int64_t *)ix)[j]
                       : ((const int32_t *)ix)[j];
    return k < 0 ? k + p->s : k;
}

static void task_gather(void *arg, int64_t a, int tid)
{
    const gather_ctx *c = arg;
    const gather_plan *p = c->p;
    (void)tid;
    for (int64_t j = 0; j < p->ni; j++) {
        int64_t k = index_at(p, c->I, j);
        memcpy(c->Y + (size_t)(a * p->ni + j) * p->inner,
               c->X + (size_t)(a * p->s + k) * p->inner, p->inner);
    }
}

static int run_gather(const clv_engine__step *s, clv_engine__exec *x)
{
    const gather_plan *p = s->plan;
    gather_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.I = clv_engine__in(x, s, 1);
    c.Y = clv_engine__out(x, s);
    for (int64_t j = 0; j < p->ni; j++) {
        int64_t k = index_at(p, c.I, j);
        if (k < 0 || k >= p->s)
            return clv_error_set(
                x->err, CLV_ERANGE,
                "Gather index %lld is out of range for an axis of %lld",
                (long long)(p->i64 ? ((const int64_t *)c.I)[j]
                                   : ((const int32_t *)c.I)[j]),
                (long long)p->s);
    }
    if (p->inner == 0)
        return 0;
    clv_engine__parallel(x, p->outer, task_gather, &c);
    return 0;
}

int clv_engine__plan_gather(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    const clv_tensor *I = clv_engine__in_t(pl->g, s, 1);
    int64_t axis = clv_node_int(s->n, "axis", 0);
    gather_plan *p;

    if (I->dtype != CLV_DT_INT64 && I->dtype != CLV_DT_INT32)
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Gather indices must be int32 or "
                                      "int64, not %s",
                                      clv_dtype_name(I->dtype));
    if (axis < 0 || axis >= X->ndim)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Gather axis is not canonical");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->i64 = I->dtype == CLV_DT_INT64;
    p->outer = 1;
    for (int i = 0; i < axis; i++)
        p->outer *= X->dims[i];
    p->s = X->dims[axis];
    p->ni = clv_tensor_numel(I);
    p->inner = clv_dtype_size(X->dtype);
    for (int i = (int)axis + 1; i < X->ndim; i++)
        p->inner *= (size_t)X->dims[i];
    s->plan = p;
    s->run = run_gather;
    return 0;
}

/* ---- Shape --------------------------------------------------------------- */

typedef struct shape_plan {
    int64_t n;
    int64_t dims[CLV_MAX_DIMS];
} shape_plan;

static int run_shape(const clv_engine__step *s, clv_engine__exec *x)
{
    const shape_plan *p = s->plan;
    int64_t *y = clv_engine__out(x, s);
    for (int64_t i = 0; i < p->n; i++)
        y[i] = p->dims[i];
    return 0;
}

int clv_engine__plan_shape(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *Y = clv_engine__out_t(pl->g, s);
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    int64_t start = clv_node_int(s->n, "start", 0);
    shape_plan *p;
    if (Y->dtype != CLV_DT_INT64 || start < 0 ||
        start + clv_tensor_numel(Y) > X->ndim)
        return clv_engine__node_error(pl, s, CLV_EINVAL,
                                      "Shape is not canonical");
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->n = clv_tensor_numel(Y);
    for (int64_t i = 0; i < p->n; i++)
        p->dims[i] = X->dims[start + i];
    s->plan = p;
    s->run = run_shape;
    return 0;
}

/* ---- Cast ---------------------------------------------------------------- */

typedef struct cast_plan {
    clv_dtype from, to;
    int64_t numel;
} cast_plan;

typedef struct cast_ctx {
    const cast_plan *p;
    const void *X;
    void *Y;
} cast_ctx;

static bool is_float_type(clv_dtype dt)
{
    return dt == CLV_DT_FLOAT || dt == CLV_DT_DOUBLE;
}

static double get_f(clv_dtype dt, const void *x, int64_t i)
{
    return dt == CLV_DT_FLOAT ? (double)((const float *)x)[i]
                              : ((const double *)x)[i];
}

static int64_t get_i(clv_dtype dt, const void *x, int64_t i)
{
    switch (dt) {
    case CLV_DT_INT64:
        return ((const int64_t *)x)[i];
    case CLV_DT_INT32:
        return ((const int32_t *)x)[i];
    case CLV_DT_INT8:
        return ((const int8_t *)x)[i];
    case CLV_DT_UINT8:
        return ((const uint8_t *)x)[i];
    default: /* bool */
        return ((const uint8_t *)x)[i] != 0;
    }
}

/* Truncates toward zero and saturates to [lo, hi]; NaN gives 0. */
static int64_t sat(double v, double lo, double hi)
{
    if (isnan(v))
        return 0;
    v = trunc(v);
    if (v <= lo)
        return (int64_t)lo;
    if (v >= hi)
        return hi >= 9223372036854775807.0 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

static void put(clv_dtype dt, void *y, int64_t i, bool from_int, int64_t iv,
                double fv)
{
    switch (dt) {
    case CLV_DT_FLOAT:
        ((float *)y)[i] = from_int ? (float)iv : (float)fv;
        break;
    case CLV_DT_DOUBLE:
        ((double *)y)[i] = from_int ? (double)iv : fv;
        break;
    case CLV_DT_INT64:
        ((int64_t *)y)[i] =
            from_int ? iv
                     : sat(fv, -9223372036854775808.0, 9223372036854775807.0);
        break;
    case CLV_DT_INT32:
        ((int32_t *)y)[i] = (int32_t)(from_int ? (int64_t)(int32_t)(uint32_t)(
                                                     uint64_t)iv
                                               : sat(fv, INT32_MIN,
                                                     INT32_MAX));
        break;
    case CLV_DT_INT8:
        ((int8_t *)y)[i] =
            (int8_t)(from_int ? (int64_t)(int8_t)(uint8_t)(uint64_t)iv
                              : sat(fv, INT8_MIN, INT8_MAX));
        break;
    case CLV_DT_UINT8:
        ((uint8_t *)y)[i] = (uint8_t)(from_int ? (int64_t)(uint8_t)(uint64_t)iv
                                               : sat(fv, 0, UINT8_MAX));
        break;
    case CLV_DT_BOOL:
        ((uint8_t *)y)[i] = from_int ? iv != 0 : fv != 0.0;
        break;
    default:
        break;
    }
}

static void task_cast(void *arg, int64_t t, int tid)
{
    const cast_ctx *c = arg;
    const cast_plan *p = c->p;
    int64_t e0 = t * MOVE_PIECE;
    int64_t e1 = e0 + MOVE_PIECE < p->numel ? e0 + MOVE_PIECE : p->numel;
    bool fi = !is_float_type(p->from);
    (void)tid;
    if (p->from == p->to) {
        size_t es = clv_dtype_size(p->to);
        memcpy((char *)c->Y + (size_t)e0 * es,
               (const char *)c->X + (size_t)e0 * es, (size_t)(e1 - e0) * es);
        return;
    }
    for (int64_t i = e0; i < e1; i++)
        put(p->to, c->Y, i, fi, fi ? get_i(p->from, c->X, i) : 0,
            fi ? 0.0 : get_f(p->from, c->X, i));
}

static int run_cast(const clv_engine__step *s, clv_engine__exec *x)
{
    const cast_plan *p = s->plan;
    cast_ctx c;
    c.p = p;
    c.X = clv_engine__in(x, s, 0);
    c.Y = clv_engine__out(x, s);
    clv_engine__parallel(x, (p->numel + MOVE_PIECE - 1) / MOVE_PIECE,
                         task_cast, &c);
    return 0;
}

static bool castable(clv_dtype dt)
{
    switch (dt) {
    case CLV_DT_FLOAT:
    case CLV_DT_DOUBLE:
    case CLV_DT_INT64:
    case CLV_DT_INT32:
    case CLV_DT_INT8:
    case CLV_DT_UINT8:
    case CLV_DT_BOOL:
        return true;
    default:
        return false;
    }
}

int clv_engine__plan_cast(clv_engine__planner *pl, clv_engine__step *s)
{
    const clv_tensor *X = clv_engine__in_t(pl->g, s, 0);
    const clv_tensor *Y = clv_engine__out_t(pl->g, s);
    cast_plan *p;
    if (!castable(X->dtype) || !castable(Y->dtype))
        return clv_engine__node_error(pl, s, CLV_EUNSUPPORTED,
                                      "Cast from %s to %s is not supported",
                                      clv_dtype_name(X->dtype),
                                      clv_dtype_name(Y->dtype));
    p = clv_engine__keep(pl, sizeof *p);
    if (!p)
        return CLV_ENOMEM;
    p->from = X->dtype;
    p->to = Y->dtype;
    p->numel = clv_tensor_numel(Y);
    s->plan = p;
    s->run = run_cast;
    return 0;
}
