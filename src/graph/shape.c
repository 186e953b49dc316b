/*
 * Shape inference, canonical forms and FLOPs: clv_graph__infer_node(), the
 * table that dispatches it by op, and the helpers the per-op functions of
 * shape_nn.c and shape_tensor.c share.
 *
 * How cleave counts FLOPs (node->flops)
 * -------------------------------------
 * One multiply-add counts 2 operations; one add, compare, multiply or
 * activation evaluation counts 1. Shapes below are the node's after
 * inference; numel is the element count of the output unless said
 * otherwise.
 *
 *   Conv                 2 * N * M * prod(out spatial) * (C/group) *
 *                        prod(kernel), plus N * M * prod(out spatial) when
 *                        a bias input is present
 *   Gemm                 2 * M * N * K, plus M * N when C is present
 *   MatMul               2 * batch * M * N * K (batch = product of the
 *                        broadcast batch dims; a 1-D operand counts M or
 *                        N = 1)
 *   MaxPool, AveragePool numel * prod(kernel)
 *   GlobalAveragePool,
 *   GlobalMaxPool        numel of the input
 *   BatchNormalization   2 * numel (one multiply-add per element)
 *   Relu, LeakyRelu, PRelu, Sigmoid, Tanh, Clip, HardSigmoid, HardSwish,
 *   Sqrt, Exp, Neg, Reciprocal, Erf
 *                        numel
 *   Add, Sub, Mul, Div   numel of the (broadcast) output
 *   Softmax              3 * numel (exp, sum, divide)
 *   LRN                  numel * (size + 2)
 *   Region, Yolo         numel
 *   Concat, Flatten, Reshape, Transpose, Dropout, Identity, Pad, Resize,
 *   Shape, Gather, Squeeze, Unsqueeze, Slice, Split, Cast, Reorg
 *                        0 (data movement)
 *
 * Extra outputs
 * -------------
 * BatchNormalization (running/saved mean and variance), MaxPool (Indices)
 * and Dropout (mask) may declare outputs that inference never computes.
 * cleave does not compute them either: a node or graph output that reads
 * one is CLV_EUNSUPPORTED. Unread ones still get a shape (the statistics
 * (C) float32, Indices the shape of Y as int64, the mask the shape of X as
 * bool), so that every tensor of a finalized graph has a known shape.
 *
 * Declared output shapes (ONNX value_info, ...) are overwritten by the
 * inferred ones.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/shape_ops.h"

/* ---- helpers ----------------------------------------------------------- */

clv_tensor *clv_graph__in(clv_graph *g, int node, int i)
{
    const clv_node *n = &g->nodes[node];
    if (i < 0 || i >= n->n_inputs || n->inputs[i] < 0)
        return NULL;
    return &g->tensors[n->inputs[i]];
}

clv_tensor *clv_graph__out(clv_graph *g, int node, int i)
{
    const clv_node *n = &g->nodes[node];
    if (i < 0 || i >= n->n_outputs || n->outputs[i] < 0)
        return NULL;
    return &g->tensors[n->outputs[i]];
}

const char *clv_graph__in_name(clv_graph *g, int node, int i)
{
    const clv_tensor *t = clv_graph__in(g, node, i);
    return t && t->name ? t->name : "?";
}

static const char *op_name(clv_graph *g, int node)
{
    return clv_op_name(g->nodes[node].op);
}

int64_t clv_graph__numel(int ndim, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    return n;
}

uint64_t clv_graph__mul_sat(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

void clv_graph__dims_str(int ndim, const int64_t *dims, char *buf,
                         size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    if (ndim == 0) {
        snprintf(buf, len, "scalar");
        return;
    }
    for (int i = 0; i < ndim && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%lld", i ? "x" : "",
                         (long long)dims[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

bool clv_graph__broadcast(int na, const int64_t *a, int nb,
                          const int64_t *b, int *out_ndim, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        /* i counts from the right */
        int64_t da = i < na ? a[na - 1 - i] : 1;
        int64_t db = i < nb ? b[nb - 1 - i] : 1;
        int64_t d;
        if (da == db)
            d = da;
        else if (da == 1)
            d = db;
        else if (db == 1)
            d = da;
        else
            return false;
        out[n - 1 - i] = d;
    }
    *out_ndim = n;
    return true;
}

/* Checks that a node with `count` inputs or outputs (`noun`) has min to
 * max of them (max < 0: no upper bound); `verb` is "takes" or "has". */
static int need_count(clv_graph *g, int node, int count, int min, int max,
                      const char *verb, const char *noun, clv_error *err)
{
    if (count >= min && (max < 0 || count <= max))
        return 0;
    if (max == min)
        return clv_graph__node_error(g, node, err, CLV_EINVAL,
                                     "%s %s %d %s%s, not %d",
                                     op_name(g, node), verb, min, noun,
                                     min == 1 ? "" : "s", count);
    if (max < 0)
        return clv_graph__node_error(g, node, err, CLV_EINVAL,
                                     "%s %s at least %d %s%s, not %d",
                                     op_name(g, node), verb, min, noun,
                                     min == 1 ? "" : "s", count);
    return clv_graph__node_error(g, node, err, CLV_EINVAL,
                                 "%s %s %d to %d %ss, not %d",
                                 op_name(g, node), verb, min, max, noun,
                                 count);
}

int clv_graph__need_inputs(clv_graph *g, int node, int min, int max,
                           clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    int rc = need_count(g, node, n->n_inputs, min, max, "takes", "input",
                        err);
    if (rc)
        return rc;
    for (int i = 0; i < min; i++)
        if (n->inputs[i] < 0)
            return clv_graph__node_error(g, node, err, CLV_EINVAL,
                                         "%s input %d is required",
                                         op_name(g, node), i);
    return 0;
}

int clv_graph__need_outputs(clv_graph *g, int node, int min, int max,
                            clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    int rc = need_count(g, node, n->n_outputs, min, max, "has", "output",
                        err);
    if (rc)
        return rc;
    for (int i = 0; i < n->n_outputs; i++)
        if (n->outputs[i] < 0)
            return clv_graph__node_error(g, node, err, CLV_EINVAL,
                                         "%s output %d is missing",
                                         op_name(g, node), i);
    return 0;
}

int clv_graph__need_float(clv_graph *g, int node, int i, clv_error *err)
{
    const clv_tensor *t = clv_graph__in(g, node, i);
    if (t && t->dtype != CLV_DT_FLOAT)
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "%s input '%s' is %s; only float32 is supported",
            op_name(g, node), t->name, clv_dtype_name(t->dtype));
    return 0;
}

int clv_graph__need_index(clv_graph *g, int node, int i, clv_error *err)
{
    const clv_tensor *t = clv_graph__in(g, node, i);
    if (t && t->dtype != CLV_DT_INT64 && t->dtype != CLV_DT_INT32)
        return clv_graph__node_error(
            g, node, err, CLV_EINVAL,
            "%s input '%s' is %s; it must be int64 or int32",
            op_name(g, node), t->name, clv_dtype_name(t->dtype));
    return 0;
}

int clv_graph__need_rank(clv_graph *g, int node, int i, int lo, int hi,
                         clv_error *err)
{
    const clv_tensor *t = clv_graph__in(g, node, i);
    char s[96];
    if (!t || (t->ndim >= lo && t->ndim <= hi))
        return 0;
    clv_graph__dims_str(t->ndim, t->dims, s, sizeof s);
    if (lo == hi)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "%s input '%s' has shape %s; it must have rank %d",
            op_name(g, node), t->name, s, lo);
    return clv_graph__node_error(
        g, node, err, CLV_ESHAPE,
        "%s input '%s' has shape %s; it must have rank %d to %d",
        op_name(g, node), t->name, s, lo, hi);
}

int clv_graph__set_out(clv_graph *g, int node, int i, clv_dtype dt,
                       int ndim, const int64_t *dims, clv_error *err)
{
    clv_tensor *t = clv_graph__out(g, node, i);
    int64_t numel = 1;
    if (!t)
        return 0;
    if (ndim < 0 || ndim > CLV_MAX_DIMS)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "%s output '%s' would have rank %d (at most %d supported)",
            op_name(g, node), t->name, ndim, CLV_MAX_DIMS);
    for (int k = 0; k < ndim; k++) {
        if (dims[k] < 0)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "%s output '%s' would have a negative extent (%lld) in "
                "dim %d",
                op_name(g, node), t->name, (long long)dims[k], k);
        if (dims[k] > CLV_SHAPE_MAX_NUMEL ||
            (dims[k] > 0 && numel > CLV_SHAPE_MAX_NUMEL / dims[k]))
            return clv_graph__node_error(
                g, node, err, CLV_ELIMIT,
                "%s output '%s' would have more than 2^40 elements",
                op_name(g, node), t->name);
        numel *= dims[k];
    }
    t->dtype = dt;
    t->ndim = ndim;
    for (int k = 0; k < ndim; k++)
        t->dims[k] = dims[k];
    for (int k = ndim; k < CLV_MAX_DIMS; k++)
        t->dims[k] = 0;
    return 0;
}

int clv_graph__set_out_like(clv_graph *g, int node, int i,
                            const clv_tensor *t, clv_error *err)
{
    int64_t dims[CLV_MAX_DIMS];
    /* copy first: t may be the output itself in a malformed graph */
    memcpy(dims, t->dims, sizeof dims);
    return clv_graph__set_out(g, node, i, t->dtype, t->ndim, dims, err);
}

static int bad_type(clv_graph *g, int node, const char *name,
                    const char *want, clv_error *err)
{
    return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                 "%s attribute '%s' must be %s",
                                 op_name(g, node), name, want);
}

int clv_graph__attr_int(clv_graph *g, int node, const char *name,
                        int64_t def, int64_t *v, clv_error *err)
{
    const clv_attr *a = clv_node_attr(&g->nodes[node], name);
    if (!a) {
        *v = def;
        return 0;
    }
    if (a->type != CLV_ATTR_INT)
        return bad_type(g, node, name, "an int", err);
    *v = a->i;
    return 0;
}

int clv_graph__attr_float(clv_graph *g, int node, const char *name,
                          float def, float *v, clv_error *err)
{
    const clv_attr *a = clv_node_attr(&g->nodes[node], name);
    if (!a) {
        *v = def;
        return 0;
    }
    if (a->type == CLV_ATTR_FLOAT)
        *v = a->f;
    else if (a->type == CLV_ATTR_INT) /* tolerated: alpha=1 */
        *v = (float)a->i;
    else
        return bad_type(g, node, name, "a float", err);
    return 0;
}

/* A list attribute (ints when `floats` is false, else floats) copied into
 * `buf` of `cap` elements; a single value stands for a one-element list. */
static int attr_list(clv_graph *g, int node, const char *name, bool floats,
                     void *buf, size_t cap, size_t *n, bool *present,
                     clv_error *err)
{
    const clv_attr *a = clv_node_attr(&g->nodes[node], name);
    const void *src;
    size_t count, esize = floats ? sizeof(float) : sizeof(int64_t);
    *n = 0;
    if (present)
        *present = a != NULL;
    if (!a)
        return 0;
    if (a->type == (floats ? CLV_ATTR_FLOAT : CLV_ATTR_INT)) {
        src = floats ? (const void *)&a->f : (const void *)&a->i;
        count = 1;
    } else if (a->type == (floats ? CLV_ATTR_FLOATS : CLV_ATTR_INTS)) {
        src = floats ? (const void *)a->floats : (const void *)a->ints;
        count = a->n;
    } else {
        return bad_type(g, node, name,
                        floats ? "a list of floats" : "a list of ints", err);
    }
    if (count > cap)
        return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                     "%s attribute '%s' has %zu values, more "
                                     "than the %zu it can have",
                                     op_name(g, node), name, count, cap);
    if (count)
        memcpy(buf, src, count * esize);
    *n = count;
    return 0;
}

int clv_graph__attr_ints(clv_graph *g, int node, const char *name,
                         int64_t *buf, size_t cap, size_t *n, bool *present,
                         clv_error *err)
{
    return attr_list(g, node, name, false, buf, cap, n, present, err);
}

int clv_graph__attr_floats(clv_graph *g, int node, const char *name,
                           float *buf, size_t cap, size_t *n, bool *present,
                           clv_error *err)
{
    return attr_list(g, node, name, true, buf, cap, n, present, err);
}

int clv_graph__attr_string(clv_graph *g, int node, const char *name,
                           const char *def, const char **v, clv_error *err)
{
    const clv_attr *a = clv_node_attr(&g->nodes[node], name);
    if (!a) {
        *v = def;
        return 0;
    }
    if (a->type != CLV_ATTR_STRING || !a->s)
        return bad_type(g, node, name, "a string", err);
    *v = a->s;
    return 0;
}

static int nomem(clv_graph *g, int node, clv_error *err)
{
    return clv_graph__node_error(g, node, err, CLV_ENOMEM,
                                 "out of memory setting attributes");
}

int clv_graph__put_int(clv_graph *g, int node, const char *name, int64_t v,
                       clv_error *err)
{
    return clv_graph_set_int(g, node, name, v) ? nomem(g, node, err) : 0;
}

int clv_graph__put_float(clv_graph *g, int node, const char *name, float v,
                         clv_error *err)
{
    return clv_graph_set_float(g, node, name, v) ? nomem(g, node, err) : 0;
}

int clv_graph__put_ints(clv_graph *g, int node, const char *name, size_t n,
                        const int64_t *v, clv_error *err)
{
    return clv_graph_set_ints(g, node, name, n, v) ? nomem(g, node, err)
                                                   : 0;
}

int clv_graph__put_floats(clv_graph *g, int node, const char *name,
                          size_t n, const float *v, clv_error *err)
{
    return clv_graph_set_floats(g, node, name, n, v) ? nomem(g, node, err)
                                                     : 0;
}

int clv_graph__put_string(clv_graph *g, int node, const char *name,
                          const char *v, clv_error *err)
{
    return clv_graph_set_string(g, node, name, v) ? nomem(g, node, err)
                                                  : 0;
}

/* Input `i` as a constant 1-D list with readable contents, of dtype `dt1`
 * or `dt2` (`want` names them), of at most `cap` values. */
static int need_const_list(clv_graph *g, int node, int i, const char *what,
                           clv_dtype dt1, clv_dtype dt2, const char *want,
                           size_t cap, const clv_tensor **out,
                           int64_t *numel, clv_error *err)
{
    const clv_tensor *t = clv_graph__in(g, node, i);
    int64_t ne;
    assert(t);
    ne = clv_graph__numel(t->ndim, t->dims);
    if (!(t->flags & CLV_TENSOR_CONST) || (!t->data && ne > 0))
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "%s needs a constant %s input ('%s' is computed at run time)",
            op_name(g, node), what, t->name);
    if (t->dtype != dt1 && t->dtype != dt2)
        return clv_graph__node_error(
            g, node, err, CLV_EINVAL, "%s %s input '%s' is %s; it must be %s",
            op_name(g, node), what, t->name, clv_dtype_name(t->dtype), want);
    if (t->ndim > 1)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "%s %s input '%s' must be 1-D, not rank %d", op_name(g, node),
            what, t->name, t->ndim);
    if ((uint64_t)ne > cap)
        return clv_graph__node_error(
            g, node, err, CLV_ERANGE,
            "%s %s input '%s' has %lld values, more than the %zu it can "
            "have",
            op_name(g, node), what, t->name, (long long)ne, cap);
    *out = t;
    *numel = ne;
    return 0;
}

int clv_graph__const_ints(clv_graph *g, int node, int i, const char *what,
                          int64_t *buf, size_t cap, size_t *n,
                          clv_error *err)
{
    const clv_tensor *t;
    int64_t ne;
    int rc = need_const_list(g, node, i, what, CLV_DT_INT64, CLV_DT_INT32,
                             "int64 or int32", cap, &t, &ne, err);
    if (rc)
        return rc;
    for (int64_t k = 0; k < ne; k++)
        buf[k] = t->dtype == CLV_DT_INT64 ? ((const int64_t *)t->data)[k]
                                          : ((const int32_t *)t->data)[k];
    *n = (size_t)ne;
    return 0;
}

int clv_graph__const_floats(clv_graph *g, int node, int i, const char *what,
                            float *buf, size_t cap, size_t *n,
                            clv_error *err)
{
    const clv_tensor *t;
    int64_t ne;
    int rc = need_const_list(g, node, i, what, CLV_DT_FLOAT, CLV_DT_DOUBLE,
                             "float32", cap, &t, &ne, err);
    if (rc)
        return rc;
    for (int64_t k = 0; k < ne; k++)
        buf[k] = t->dtype == CLV_DT_FLOAT
                     ? ((const float *)t->data)[k]
                     : (float)((const double *)t->data)[k];
    *n = (size_t)ne;
    return 0;
}

int clv_graph__norm_axis(clv_graph *g, int node, const char *what,
                         int64_t *axis, int rank, bool inclusive,
                         clv_error *err)
{
    int64_t hi = inclusive ? rank : rank - 1;
    if (*axis < -(int64_t)rank || *axis > hi)
        return clv_graph__node_error(
            g, node, err, CLV_ERANGE,
            "%s %s=%lld is out of range [%d, %lld] for rank %d",
            op_name(g, node), what, (long long)*axis, -rank, (long long)hi,
            rank);
    if (*axis < 0)
        *axis += rank;
    return 0;
}

void clv_graph__keep_inputs(clv_graph *g, int node, int keep)
{
    clv_node *n = &g->nodes[node];
    if (n->n_inputs > keep)
        n->n_inputs = keep;
}

int clv_graph__extras_unused(clv_graph *g, int node, int first,
                             const char *what, clv_error *err)
{
    const clv_node *n = &g->nodes[node];
    for (int i = first; i < n->n_outputs; i++) {
        const clv_tensor *t = clv_graph__out(g, node, i);
        if (t && (t->n_consumers > 0 || (t->flags & CLV_TENSOR_OUTPUT)))
            return clv_graph__node_error(
                g, node, err, CLV_EUNSUPPORTED,
                "%s output '%s' (%s) is used, but cleave computes only "
                "the inference output",
                op_name(g, node), t->name, what);
    }
    return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

static const clv_graph__infer_fn infer_table[] = {
    [CLV_OP_CONV] = clv_graph__infer_conv,
    [CLV_OP_GEMM] = clv_graph__infer_gemm,
    [CLV_OP_MATMUL] = clv_graph__infer_matmul,
    [CLV_OP_MAXPOOL] = clv_graph__infer_maxpool,
    [CLV_OP_AVERAGEPOOL] = clv_graph__infer_averagepool,
    [CLV_OP_GLOBALAVERAGEPOOL] = clv_graph__infer_globalpool,
    [CLV_OP_GLOBALMAXPOOL] = clv_graph__infer_globalpool,
    [CLV_OP_BATCHNORM] = clv_graph__infer_batchnorm,
    [CLV_OP_RELU] = clv_graph__infer_unary,
    [CLV_OP_LEAKYRELU] = clv_graph__infer_leakyrelu,
    [CLV_OP_PRELU] = clv_graph__infer_prelu,
    [CLV_OP_SIGMOID] = clv_graph__infer_unary,
    [CLV_OP_SQRT] = clv_graph__infer_unary,
    [CLV_OP_EXP] = clv_graph__infer_unary,
    [CLV_OP_NEG] = clv_graph__infer_unary,
    [CLV_OP_RECIPROCAL] = clv_graph__infer_unary,
    [CLV_OP_ERF] = clv_graph__infer_unary,
    [CLV_OP_REDUCEMEAN] = clv_graph__infer_reduce,
    [CLV_OP_REDUCESUM] = clv_graph__infer_reduce,
    [CLV_OP_REDUCEMAX] = clv_graph__infer_reduce,
    [CLV_OP_LAYERNORM] = clv_graph__infer_layernorm,
    [CLV_OP_TANH] = clv_graph__infer_unary,
    [CLV_OP_CLIP] = clv_graph__infer_clip,
    [CLV_OP_HARDSIGMOID] = clv_graph__infer_hardsigmoid,
    [CLV_OP_HARDSWISH] = clv_graph__infer_unary,
    [CLV_OP_SOFTMAX] = clv_graph__infer_softmax,
    [CLV_OP_LRN] = clv_graph__infer_lrn,
    [CLV_OP_ADD] = clv_graph__infer_binary,
    [CLV_OP_SUB] = clv_graph__infer_binary,
    [CLV_OP_MUL] = clv_graph__infer_binary,
    [CLV_OP_DIV] = clv_graph__infer_binary,
    [CLV_OP_POW] = clv_graph__infer_binary,
    [CLV_OP_CONCAT] = clv_graph__infer_concat,
    [CLV_OP_FLATTEN] = clv_graph__infer_flatten,
    [CLV_OP_RESHAPE] = clv_graph__infer_reshape,
    [CLV_OP_TRANSPOSE] = clv_graph__infer_transpose,
    [CLV_OP_DROPOUT] = clv_graph__infer_dropout,
    [CLV_OP_IDENTITY] = clv_graph__infer_identity,
    [CLV_OP_PAD] = clv_graph__infer_pad,
    [CLV_OP_RESIZE] = clv_graph__infer_resize,
    [CLV_OP_SHAPE] = clv_graph__infer_shape,
    [CLV_OP_GATHER] = clv_graph__infer_gather,
    [CLV_OP_UNSQUEEZE] = clv_graph__infer_unsqueeze,
    [CLV_OP_SQUEEZE] = clv_graph__infer_squeeze,
    [CLV_OP_SLICE] = clv_graph__infer_slice,
    [CLV_OP_SPLIT] = clv_graph__infer_split,
    [CLV_OP_CAST] = clv_graph__infer_cast,
    [CLV_OP_REORG] = clv_graph__infer_reorg,
    [CLV_OP_REGION] = clv_graph__infer_region,
    [CLV_OP_YOLO] = clv_graph__infer_yolo,
};
/* A new op in CLV_OP_MAP needs an entry above (and a FLOPs rule in the
 * convention at the top of this file). */
static_assert(CLV_OP_COUNT == 50, "update infer_table for the new ops");
static_assert(sizeof infer_table / sizeof infer_table[0] == CLV_OP_COUNT,
              "infer_table must have one entry per op");

int clv_graph__infer_node(clv_graph *g, int node, clv_error *err)
{
    clv_node *n;
    int rc;

    assert(g && node >= 0 && node < g->n_nodes);
    n = &g->nodes[node];
    if ((int)n->op < 0 || n->op >= CLV_OP_COUNT || !infer_table[n->op])
        return clv_graph__node_error(g, node, err, CLV_EUNSUPPORTED,
                                     "unknown op %d", (int)n->op);
    for (int i = 0; i < n->n_inputs; i++) {
        const clv_tensor *t = clv_graph__in(g, node, i);
        int64_t numel;
        bool known;
        if (!t)
            continue;
        if (clv_dtype_size(t->dtype) == 0)
            return clv_graph__node_error(
                g, node, err, CLV_EINVAL,
                "%s input '%s' has no known element type",
                op_name(g, node), t->name);
        known = t->ndim >= 0 && t->ndim <= CLV_MAX_DIMS;
        for (int k = 0; known && k < t->ndim; k++)
            known = t->dims[k] >= 0;
        if (!known)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "%s input '%s' has an unknown shape", op_name(g, node),
                t->name);
        /* hostile files: keep every product below int64 overflow */
        numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            int64_t d = t->dims[k];
            if (d > CLV_SHAPE_MAX_NUMEL ||
                (d > 0 && numel > CLV_SHAPE_MAX_NUMEL / d))
                return clv_graph__node_error(
                    g, node, err, CLV_ELIMIT,
                    "%s input '%s' has more than 2^40 elements",
                    op_name(g, node), t->name);
            numel *= d;
        }
    }
    n->flops = 0;
    rc = infer_table[n->op](g, node, err);
#ifndef NDEBUG
    /* every infer function gives every output a shape */
    for (int i = 0; rc == 0 && i < n->n_outputs; i++)
        assert(clv_graph__out(g, node, i)->ndim >= 0);
#endif
    return rc;
}
