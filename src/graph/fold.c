/*
 * Constant folding: evaluates, at load time, the nodes whose inputs are
 * all constant and whose op only moves or combines small tensors — the
 * shape arithmetic of PyTorch exports (Shape -> Gather -> Unsqueeze ->
 * Concat -> Reshape) above all. The node has been through
 * clv_graph__infer_node() already, so its attributes are canonical (Slice
 * bounds clamped, axes non-negative, inputs of later opsets moved into
 * attributes) and its outputs have their shapes.
 *
 * Semantics follow ONNX: numpy broadcasting for Add/Sub/Mul/Div; integer
 * arithmetic wraps around (two's complement) and integer Div truncates
 * toward zero (a zero divisor is an error); Cast from float to an integer
 * type truncates toward zero and saturates at the type's limits (NaN gives
 * 0), to bool gives x != 0.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "graph/shape_ops.h"

/* Nodes whose outputs hold more elements than this stay unfolded. */
#define CLV_FOLD_MAX_NUMEL ((int64_t)64 << 20)

static int64_t numel(const clv_tensor *t)
{
    return clv_graph__numel(t->ndim, t->dims);
}

static bool is_int(clv_dtype dt)
{
    return dt == CLV_DT_INT64 || dt == CLV_DT_INT32 || dt == CLV_DT_INT8 ||
           dt == CLV_DT_UINT8 || dt == CLV_DT_BOOL;
}

static int64_t get_i(const clv_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case CLV_DT_INT64:
        return ((const int64_t *)t->data)[i];
    case CLV_DT_INT32:
        return ((const int32_t *)t->data)[i];
    case CLV_DT_INT8:
        return ((const int8_t *)t->data)[i];
    case CLV_DT_UINT8:
        return ((const uint8_t *)t->data)[i];
    case CLV_DT_BOOL:
        return ((const uint8_t *)t->data)[i] != 0;
    default:
        assert(0);
        return 0;
    }
}

static double get_f(const clv_tensor *t, int64_t i)
{
    return t->dtype == CLV_DT_FLOAT ? (double)((const float *)t->data)[i]
                                    : ((const double *)t->data)[i];
}

/* Output `i` as a constant with fresh storage. */
static int out_data(clv_graph *g, int node, int i, void **data,
                    clv_error *err)
{
    int t = g->nodes[node].outputs[i];
    int rc = clv_graph_alloc_data(g, t, data, err);
    if (rc)
        return clv_error_prefix(err, "node '%s': folding: ",
                                g->nodes[node].name);
    return 0;
}

/* Contiguous element strides of a shape. */
static void strides(int nd, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* Steps the row-major index `idx` over `dims` by one element and moves
 * each offset off[k] (k < n) along with it by its strides st[k]: the
 * odometer that walks an output while reading strided inputs. `st` is
 * only read (not const: C11 cannot pass int64_t[][N] as const). */
static void step_index(int nd, const int64_t *dims, int64_t *idx, int n,
                       int64_t *off, int64_t (*st)[CLV_MAX_DIMS])
{
    for (int d = nd - 1; d >= 0; d--) {
        if (++idx[d] < dims[d]) {
            for (int k = 0; k < n; k++)
                off[k] += st[k][d];
            return;
        }
        for (int k = 0; k < n; k++)
            off[k] -= (dims[d] - 1) * st[k][d];
        idx[d] = 0;
    }
}

/* The shape of `t` around `axis`: *outer elements before it and *inner
 * bytes in one step along it (the dims after it). */
static void around_axis(const clv_tensor *t, int64_t axis, int64_t *outer,
                        size_t *inner)
{
    *outer = clv_graph__numel((int)axis, t->dims);
    *inner = (size_t)clv_graph__numel(t->ndim - (int)axis - 1,
                                      t->dims + axis + 1) *
             clv_dtype_size(t->dtype);
}

/* ---- per op ------------------------------------------------------------ */

static int fold_shape(clv_graph *g, int node, clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    const clv_tensor *x = clv_graph__in(g, node, 0);
    int64_t start = clv_node_int(n, "start", 0);
    int64_t *o;
    void *data;
    int rc = out_data(g, node, 0, &data, err);
    if (rc)
        return rc;
    o = data;
    for (int64_t i = 0; i < numel(clv_graph__out(g, node, 0)); i++)
        o[i] = x->dims[start + i];
    return 0;
}

/* Identity, Flatten, Reshape, Squeeze, Unsqueeze: the same bytes. */
static int fold_copy(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x = clv_graph__in(g, node, 0);
    void *data;
    int rc = out_data(g, node, 0, &data, err);
    if (rc)
        return rc;
    if (numel(x) > 0)
        memcpy(data, x->data,
               (size_t)numel(x) * clv_dtype_size(x->dtype));
    return 0;
}

/* Index j of `ix` counted from the front of an axis of extent s (ONNX
 * counts negative indices from the back); outside [0, s) when out of
 * range. */
static int64_t gather_index(const clv_tensor *ix, int64_t j, int64_t s)
{
    int64_t k = get_i(ix, j);
    return k < 0 ? k + s : k;
}

static int fold_gather(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x = clv_graph__in(g, node, 0);
    const clv_tensor *ix = clv_graph__in(g, node, 1);
    int64_t axis = clv_node_int(&g->nodes[node], "axis", 0);
    int64_t outer, s = x->dims[axis];
    size_t inner;
    int64_t ni = numel(ix);
    char *o;
    const char *in = x->data;
    void *data;
    int rc = out_data(g, node, 0, &data, err);
    if (rc)
        return rc;
    around_axis(x, axis, &outer, &inner);
    o = data;
    for (int64_t j = 0; j < ni; j++) {
        int64_t k = gather_index(ix, j, s);
        if (k < 0 || k >= s)
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE,
                "Gather index %lld is out of range for extent %lld",
                (long long)get_i(ix, j), (long long)s);
    }
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t k = gather_index(ix, j, s);
            if (inner)
                memcpy(o + (size_t)(a * ni + j) * inner,
                       in + (size_t)(a * s + k) * inner, inner);
        }
    return 0;
}

static int fold_concat(clv_graph *g, int node, clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    const clv_tensor *y = clv_graph__out(g, node, 0);
    int64_t axis = clv_node_int(n, "axis", 0), outer;
    size_t inner;
    char *o;
    void *data;
    int rc = out_data(g, node, 0, &data, err);
    if (rc)
        return rc;
    o = data;
    around_axis(y, axis, &outer, &inner);
    for (int64_t a = 0; a < outer; a++)
        for (int i = 0; i < n->n_inputs; i++) {
            const clv_tensor *x = clv_graph__in(g, node, i);
            size_t chunk = (size_t)x->dims[axis] * inner;
            if (chunk) {
                memcpy(o, (const char *)x->data + (size_t)a * chunk, chunk);
                o += chunk;
            }
        }
    return 0;
}

static int fold_split(clv_graph *g, int node, clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    const clv_tensor *x = clv_graph__in(g, node, 0);
    int64_t axis = clv_node_int(n, "axis", 0), outer;
    size_t inner, row, off = 0;
    around_axis(x, axis, &outer, &inner);
    row = (size_t)x->dims[axis] * inner;
    for (int i = 0; i < n->n_outputs; i++) {
        const clv_tensor *y = clv_graph__out(g, node, i);
        size_t chunk = (size_t)y->dims[axis] * inner;
        void *data;
        int rc = out_data(g, node, i, &data, err);
        if (rc)
            return rc;
        for (int64_t a = 0; a < outer && chunk; a++)
            memcpy((char *)data + (size_t)a * chunk,
                   (const char *)x->data + (size_t)a * row + off, chunk);
        off += chunk;
    }
    return 0;
}

static int fold_slice(clv_graph *g, int node, clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    const clv_tensor *x = clv_graph__in(g, node, 0);
    const clv_tensor *y = clv_graph__out(g, node, 0);
    size_t es = clv_dtype_size(x->dtype), cnt;
    const int64_t *starts = clv_node_ints(n, "starts", &cnt);
    const int64_t *axes = clv_node_ints(n, "axes", NULL);
    const int64_t *steps = clv_node_ints(n, "steps", NULL);
    int64_t st[CLV_MAX_DIMS], first[CLV_MAX_DIMS], step[CLV_MAX_DIMS];
    int64_t walk[1][CLV_MAX_DIMS];
    int64_t idx[CLV_MAX_DIMS] = {0}, total = numel(y), off = 0;
    int nd = x->ndim;
    char *o;
    void *data;
    int rc = out_data(g, node, 0, &data, err);
    if (rc)
        return rc;
    o = data;
    if (total == 0)
        return 0;
    strides(nd, x->dims, st);
    for (int d = 0; d < nd; d++) {
        first[d] = 0;
        step[d] = 1;
    }
    for (size_t i = 0; i < cnt; i++) {
        first[axes[i]] = starts[i];
        step[axes[i]] = steps[i];
    }
    for (int d = 0; d < nd; d++) {
        off += first[d] * st[d];
        walk[0][d] = step[d] * st[d];
    }
    for (int64_t e = 0; e < total; e++) {
        memcpy(o + (size_t)e * es, (const char *)x->data + (size_t)off * es,
               es);
        step_index(nd, y->dims, idx, 1, &off, walk);
    }
    return 0;
}

static int64_t sat_i(double v, double lo, double hi)
{
    if (isnan(v))
        return 0;
    v = trunc(v);
    return (int64_t)(v < lo ? lo : v > hi ? hi : v);
}

static void put_value(clv_dtype dt, void *data, int64_t i, bool from_int,
                      int64_t iv, double fv)
{
    switch (dt) {
    case CLV_DT_FLOAT:
        ((float *)data)[i] = from_int ? (float)iv : (float)fv;
        break;
    case CLV_DT_DOUBLE:
        ((double *)data)[i] = from_int ? (double)iv : fv;
        break;
    case CLV_DT_INT64:
        /* 2^63 is not an int64: saturate just below it */
        ((int64_t *)data)[i] =
            from_int ? iv
            : fv >= 9223372036854775807.0
                ? INT64_MAX
                : sat_i(fv, -9223372036854775808.0, 9223372036854775807.0);
        break;
    case CLV_DT_INT32:
        ((int32_t *)data)[i] =
            (int32_t)(from_int ? (int32_t)(uint32_t)(uint64_t)iv
                               : sat_i(fv, INT32_MIN, INT32_MAX));
        break;
    case CLV_DT_INT8:
        ((int8_t *)data)[i] =
            (int8_t)(from_int ? (int8_t)(uint8_t)(uint64_t)iv
                              : sat_i(fv, INT8_MIN, INT8_MAX));
        break;
    case CLV_DT_UINT8:
        ((uint8_t *)data)[i] =
            (uint8_t)(from_int ? (uint8_t)(uint64_t)iv
                               : sat_i(fv, 0, UINT8_MAX));
        break;
    case CLV_DT_BOOL:
        ((uint8_t *)data)[i] = from_int ? iv != 0 : fv != 0.0;
        break;
    default:
        assert(0);
    }
}

static int fold_cast(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x = clv_graph__in(g, node, 0);
    const clv_tensor *y = clv_graph__out(g, node, 0);
    bool from_int = is_int(x->dtype);
    void *data;
    int rc = out_data(g, node, 0, &data, err);
    if (rc)
        return rc;
    for (int64_t i = 0; i < numel(x); i++)
        put_value(y->dtype, data, i, from_int, from_int ? get_i(x, i) : 0,
                  from_int ? 0.0 : get_f(x, i));
    return 0;
}

/* x op z for Add, Sub, Mul and Div, computed in the type of x and z (only
 * the chosen operation is evaluated). */
#define CLV_FOLD_ARITH(op, x, z)                                              \
    ((op) == CLV_OP_ADD   ? (x) + (z)                                         \
     : (op) == CLV_OP_SUB ? (x) - (z)                                         \
     : (op) == CLV_OP_MUL ? (x) * (z)                                         \
                          : (x) / (z))

/* Add, Sub, Mul and Div fold in these dtypes only. */
static bool binary_dtype(clv_dtype dt)
{
    return dt == CLV_DT_FLOAT || dt == CLV_DT_INT64 || dt == CLV_DT_INT32;
}

/* Element `i` of `x op z`, both in the dtype `dt` of the output. */
static void binary_value(clv_op op, clv_dtype dt, void *data, int64_t i,
                         const clv_tensor *a, int64_t ia,
                         const clv_tensor *b, int64_t ib)
{
    if (dt == CLV_DT_FLOAT || dt == CLV_DT_DOUBLE) {
        double x = get_f(a, ia), z = get_f(b, ib);
        /* float in float, as the kernel would */
        double r = dt == CLV_DT_FLOAT
                       ? (double)CLV_FOLD_ARITH(op, (float)x, (float)z)
                       : CLV_FOLD_ARITH(op, x, z);
        put_value(dt, data, i, false, 0, r);
        return;
    }
    int64_t x = get_i(a, ia), z = get_i(b, ib), r;
    if (op != CLV_OP_DIV) /* wrap around in uint64, then narrow */
        r = (int64_t)CLV_FOLD_ARITH(op, (uint64_t)x, (uint64_t)z);
    else if (dt == CLV_DT_INT32) /* int32 min / -1 wraps */
        r = (int64_t)(int32_t)(uint32_t)(uint64_t)(x / z);
    else
        r = (x == INT64_MIN && z == -1) ? INT64_MIN : x / z;
    put_value(dt, data, i, true, r, 0.0);
}

static int fold_binary(clv_graph *g, int node, clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    const clv_tensor *a = clv_graph__in(g, node, 0);
    const clv_tensor *b = clv_graph__in(g, node, 1);
    const clv_tensor *y = clv_graph__out(g, node, 0);
    int nd = y->ndim;
    /* st[0], st[1]: broadcast strides of a and b, 0 along dims of extent 1 */
    int64_t st[2][CLV_MAX_DIMS], ta[CLV_MAX_DIMS], tb[CLV_MAX_DIMS];
    int64_t idx[CLV_MAX_DIMS] = {0}, off[2] = {0, 0}, total = numel(y);
    clv_dtype dt = y->dtype;
    void *data;
    int rc;

    strides(a->ndim, a->dims, ta);
    strides(b->ndim, b->dims, tb);
    for (int d = 0; d < nd; d++) {
        int ka = d - (nd - a->ndim), kb = d - (nd - b->ndim);
        st[0][d] = ka < 0 || a->dims[ka] == 1 ? 0 : ta[ka];
        st[1][d] = kb < 0 || b->dims[kb] == 1 ? 0 : tb[kb];
    }
    if (n->op == CLV_OP_DIV && (dt == CLV_DT_INT64 || dt == CLV_DT_INT32))
        for (int64_t i = 0; i < numel(b); i++)
            if (get_i(b, i) == 0)
                return clv_graph__node_error(
                    g, node, err, CLV_ERANGE,
                    "integer Div by zero in constant input '%s'", b->name);
    if ((rc = out_data(g, node, 0, &data, err)))
        return rc;
    for (int64_t e = 0; e < total; e++) {
        binary_value(n->op, dt, data, e, a, off[0], b, off[1]);
        step_index(nd, y->dims, idx, 2, off, st);
    }
    return 0;
}

/* The folding of each op, NULL (the default for a new op) for the ops that
 * stay as they are. Shape is folded apart: it needs its input's shape, not
 * its data. */
static int (*const fold_table[CLV_OP_COUNT])(clv_graph *, int,
                                             clv_error *) = {
    [CLV_OP_IDENTITY] = fold_copy,  [CLV_OP_FLATTEN] = fold_copy,
    [CLV_OP_RESHAPE] = fold_copy,   [CLV_OP_SQUEEZE] = fold_copy,
    [CLV_OP_UNSQUEEZE] = fold_copy, [CLV_OP_GATHER] = fold_gather,
    [CLV_OP_CONCAT] = fold_concat,  [CLV_OP_SPLIT] = fold_split,
    [CLV_OP_SLICE] = fold_slice,    [CLV_OP_CAST] = fold_cast,
    [CLV_OP_ADD] = fold_binary,     [CLV_OP_SUB] = fold_binary,
    [CLV_OP_MUL] = fold_binary,     [CLV_OP_DIV] = fold_binary,
};

/* ---- entry ------------------------------------------------------------- */

int clv_graph__fold_node(clv_graph *g, int node, bool *folded,
                         clv_error *err)
{
    const clv_node *n;
    int (*fold)(clv_graph *, int, clv_error *);
    int64_t out_numel = 0;
    int rc;

    assert(g && node >= 0 && node < g->n_nodes && folded);
    *folded = false;
    n = &g->nodes[node];

    for (int i = 0; i < n->n_outputs; i++) {
        const clv_tensor *y = clv_graph__out(g, node, i);
        if (!y || y->ndim < 0)
            return 0;
        out_numel += numel(y);
        if (out_numel > CLV_FOLD_MAX_NUMEL)
            return 0;
    }

    if (n->op == CLV_OP_SHAPE) {
        /* needs only the input's shape, known after inference */
        if ((rc = fold_shape(g, node, err)))
            return rc;
        *folded = true;
        return 0;
    }

    for (int i = 0; i < n->n_inputs; i++) {
        const clv_tensor *x = clv_graph__in(g, node, i);
        if (!x)
            continue;
        if (!(x->flags & CLV_TENSOR_CONST) || x->ndim < 0 ||
            (!x->data && numel(x) > 0))
            return 0;
    }

    fold = (int)n->op >= 0 && n->op < CLV_OP_COUNT ? fold_table[n->op]
                                                   : NULL;
    if (!fold || (fold == fold_binary &&
                  !binary_dtype(clv_graph__in(g, node, 0)->dtype)))
        return 0;
    rc = fold(g, node, err);
    if (rc)
        return rc;
    *folded = true;
    return 0;
}
