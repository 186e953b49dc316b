/*
 * Shape inference for element-wise arithmetic and the data-movement ops
 * (Concat, Reshape, Slice, ...), including moving the constant inputs of
 * later opsets into attributes. The FLOPs convention is written at the top
 * of shape.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/shape_ops.h"

static const char *op_name(clv_graph *g, int node)
{
    return clv_op_name(g->nodes[node].op);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Normalises, sorts and checks for repeats a list of axes for rank r. */
static int norm_axes(clv_graph *g, int node, int64_t *axes, size_t n, int r,
                     bool sort, clv_error *err)
{
    int rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = clv_graph__norm_axis(g, node, "axes", &axes[i], r, false,
                                       err)))
            return rc;
    if (sort)
        qsort(axes, n, sizeof *axes, cmp_i64);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (axes[i] == axes[j])
                return clv_graph__node_error(g, node, err, CLV_EINVAL,
                                             "%s axes name axis %lld twice",
                                             op_name(g, node),
                                             (long long)axes[i]);
    return 0;
}

/* ---- element-wise ----------------------------------------------------- */

int clv_graph__infer_binary(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *a, *b;
    int64_t dims[CLV_MAX_DIMS];
    int nd, rc;

    if ((rc = clv_graph__need_inputs(g, node, 2, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)))
        return rc;
    a = clv_graph__in(g, node, 0);
    b = clv_graph__in(g, node, 1);
    if (a->dtype != b->dtype && g->nodes[node].op == CLV_OP_POW)
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "Pow of a %s base '%s' and a %s exponent '%s': cleave runs Pow "
            "on one type for both",
            clv_dtype_name(a->dtype), a->name, clv_dtype_name(b->dtype),
            b->name);
    if (a->dtype != b->dtype)
        return clv_graph__node_error(
            g, node, err, CLV_EINVAL,
            "%s inputs '%s' (%s) and '%s' (%s) differ in type",
            op_name(g, node), a->name, clv_dtype_name(a->dtype), b->name,
            clv_dtype_name(b->dtype));
    if (a->dtype == CLV_DT_BOOL)
        return clv_graph__node_error(g, node, err, CLV_EUNSUPPORTED,
                                     "%s of bool tensors is not supported",
                                     op_name(g, node));
    if (!clv_graph__broadcast(a->ndim, a->dims, b->ndim, b->dims, &nd,
                              dims)) {
        char as[96], bs[96];
        clv_graph__dims_str(a->ndim, a->dims, as, sizeof as);
        clv_graph__dims_str(b->ndim, b->dims, bs, sizeof bs);
        return clv_graph__node_error(g, node, err, CLV_ESHAPE,
                                     "%s cannot broadcast %s with %s",
                                     op_name(g, node), as, bs);
    }
    /* opset < 7 broadcasting attributes mean nothing any more */
    clv_graph_unset(g, node, "broadcast");
    clv_graph_unset(g, node, "axis");
    if ((rc = clv_graph__set_out(g, node, 0, a->dtype, nd, dims, err)))
        return rc;
    g->nodes[node].flops = (uint64_t)clv_graph__numel(nd, dims);
    return 0;
}

/* ---- plain data movement ---------------------------------------------- */

int clv_graph__infer_identity(clv_graph *g, int node, clv_error *err)
{
    int rc;
    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)))
        return rc;
    return clv_graph__set_out_like(g, node, 0, clv_graph__in(g, node, 0),
                                   err);
}

/* True when Dropout `node` is the identity: no training_mode input, or a
 * constant false one, or a constant ratio of 0. */
static bool dropout_is_identity(const clv_graph *g, int node)
{
    const clv_node *n = &g->nodes[node];
    const clv_tensor *mode, *ratio;
    if (n->n_inputs < 3 || n->inputs[2] < 0)
        return true;
    mode = &g->tensors[n->inputs[2]];
    if ((mode->flags & CLV_TENSOR_CONST) && clv_tensor_numel(mode) == 1 &&
        mode->dtype == CLV_DT_BOOL && *(const unsigned char *)mode->data == 0)
        return true;
    if (n->inputs[1] < 0)
        return false;
    ratio = &g->tensors[n->inputs[1]];
    if (!(ratio->flags & CLV_TENSOR_CONST) || clv_tensor_numel(ratio) != 1)
        return false;
    if (ratio->dtype == CLV_DT_FLOAT)
        return *(const float *)ratio->data == 0.0f;
    if (ratio->dtype == CLV_DT_DOUBLE)
        return *(const double *)ratio->data == 0.0;
    return false;
}

int clv_graph__infer_dropout(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int rc;
    if ((rc = clv_graph__need_inputs(g, node, 1, 3, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 2, err)) ||
        (rc = clv_graph__extras_unused(g, node, 1, "mask", err)))
        return rc;
    /* ratio and training_mode do nothing at inference; training mode
     * (a training_mode input that is not a constant false) drops values at
     * random, which cleave does not do, unless the ratio is a constant 0 */
    if (!dropout_is_identity(g, node))
        return clv_graph__node_error(g, node, err, CLV_EUNSUPPORTED,
                                     "Dropout in training mode (training_mode "
                                     "is not a constant false) is not "
                                     "supported");
    clv_graph__keep_inputs(g, node, 1);
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__set_out_like(g, node, 0, x, err)))
        return rc;
    return clv_graph__set_out(g, node, 1, CLV_DT_BOOL, x->ndim, x->dims,
                              err);
}

int clv_graph__infer_concat(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *t0;
    int64_t axis, dims[CLV_MAX_DIMS], sum = 0;
    const clv_node *n = &g->nodes[node];
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, -1, err)) ||
        (rc = clv_graph__need_inputs(g, node, n->n_inputs, -1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)))
        return rc;
    if (!clv_node_attr(n, "axis") && g->opset >= 4)
        return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                     "Concat needs an axis attribute");
    if ((rc = clv_graph__attr_int(g, node, "axis", 1, &axis, err)))
        return rc;
    t0 = clv_graph__in(g, node, 0);
    if (t0->ndim < 1)
        return clv_graph__node_error(g, node, err, CLV_ESHAPE,
                                     "Concat input '%s' is a scalar",
                                     t0->name);
    if ((rc = clv_graph__norm_axis(g, node, "axis", &axis, t0->ndim, false,
                                   err)))
        return rc;
    for (int i = 0; i < n->n_inputs; i++) {
        const clv_tensor *t = clv_graph__in(g, node, i);
        if (t->dtype != t0->dtype)
            return clv_graph__node_error(
                g, node, err, CLV_EINVAL,
                "Concat inputs '%s' (%s) and '%s' (%s) differ in type",
                t0->name, clv_dtype_name(t0->dtype), t->name,
                clv_dtype_name(t->dtype));
        if (t->ndim != t0->ndim)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Concat inputs differ in rank ('%s' has %d, '%s' has %d)",
                t0->name, t0->ndim, t->name, t->ndim);
        for (int d = 0; d < t0->ndim; d++)
            if (d != axis && t->dims[d] != t0->dims[d])
                return clv_graph__node_error(
                    g, node, err, CLV_ESHAPE,
                    "Concat inputs differ in dim %d (%lld vs %lld)", d,
                    (long long)t0->dims[d], (long long)t->dims[d]);
        sum += t->dims[axis];
        if (sum > CLV_SHAPE_MAX_NUMEL)
            return clv_graph__node_error(g, node, err, CLV_ELIMIT,
                                         "Concat output is too large");
    }
    memcpy(dims, t0->dims, sizeof dims);
    dims[axis] = sum;
    if ((rc = clv_graph__put_int(g, node, "axis", axis, err)))
        return rc;
    return clv_graph__set_out(g, node, 0, t0->dtype, t0->ndim, dims, err);
}

int clv_graph__infer_flatten(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t axis, dims[2];
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__attr_int(g, node, "axis", 1, &axis, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__norm_axis(g, node, "axis", &axis, x->ndim, true,
                                   err)))
        return rc;
    dims[0] = clv_graph__numel((int)axis, x->dims);
    dims[1] = clv_graph__numel(x->ndim - (int)axis, x->dims + axis);
    if ((rc = clv_graph__put_int(g, node, "axis", axis, err)))
        return rc;
    return clv_graph__set_out(g, node, 0, x->dtype, 2, dims, err);
}

int clv_graph__infer_reshape(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t shape[CLV_MAX_DIMS], dims[CLV_MAX_DIMS], allowzero;
    int64_t numel, known = 1;
    size_t n;
    int infer_at = -1, rc;
    bool have, zero = false;

    if ((rc = clv_graph__need_inputs(g, node, 1, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__attr_int(g, node, "allowzero", 0, &allowzero,
                                  err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if (clv_graph__in(g, node, 1)) { /* opset >= 5 */
        if ((rc = clv_graph__const_ints(g, node, 1, "shape", shape,
                                        CLV_MAX_DIMS, &n, err)))
            return rc;
    } else { /* opset < 5 */
        if ((rc = clv_graph__attr_ints(g, node, "shape", shape,
                                       CLV_MAX_DIMS, &n, &have, err)))
            return rc;
        if (!have)
            return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                         "Reshape needs a shape input");
    }
    if (allowzero != 0 && allowzero != 1)
        return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                     "Reshape allowzero=%lld must be 0 or 1",
                                     (long long)allowzero);
    for (size_t i = 0; i < n; i++) {
        int64_t v = shape[i];
        if (v < -1 || v > CLV_SHAPE_MAX_NUMEL)
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE,
                "Reshape shape[%zu] = %lld is out of range", i,
                (long long)v);
        if (v == -1) {
            if (infer_at >= 0)
                return clv_graph__node_error(
                    g, node, err, CLV_EINVAL,
                    "Reshape shape has more than one -1");
            infer_at = (int)i;
            dims[i] = 1;
            continue;
        }
        if (v == 0 && !allowzero) {
            if ((int)i >= x->ndim)
                return clv_graph__node_error(
                    g, node, err, CLV_ESHAPE,
                    "Reshape shape[%zu] = 0 copies a dim that the rank-%d "
                    "input does not have",
                    i, x->ndim);
            v = x->dims[i];
        }
        if (v == 0)
            zero = true;
        dims[i] = v;
        if (v > 0 && known > CLV_SHAPE_MAX_NUMEL / v)
            return clv_graph__node_error(g, node, err, CLV_ELIMIT,
                                         "Reshape shape is too large");
        known *= v;
    }
    if (infer_at >= 0 && zero && allowzero)
        return clv_graph__node_error(
            g, node, err, CLV_EINVAL,
            "Reshape shape has both -1 and 0 with allowzero=1");
    numel = clv_graph__numel(x->ndim, x->dims);
    if (infer_at >= 0) {
        if (known == 0 || numel % known != 0) {
            char xs[96];
            clv_graph__dims_str(x->ndim, x->dims, xs, sizeof xs);
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Reshape cannot infer the -1 dim: %s (%lld elements) is "
                "not a multiple of %lld",
                xs, (long long)numel, (long long)known);
        }
        dims[infer_at] = numel / known;
        known = numel;
    }
    if (known != numel) {
        char xs[96], ys[96];
        clv_graph__dims_str(x->ndim, x->dims, xs, sizeof xs);
        clv_graph__dims_str((int)n, dims, ys, sizeof ys);
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Reshape cannot turn %s (%lld elements) into %s (%lld "
            "elements)",
            xs, (long long)numel, ys, (long long)known);
    }
    if ((rc = clv_graph__put_ints(g, node, "shape", n, shape, err)) ||
        (rc = clv_graph__put_int(g, node, "allowzero", allowzero, err)))
        return rc;
    clv_graph__keep_inputs(g, node, 1);
    return clv_graph__set_out(g, node, 0, x->dtype, (int)n, dims, err);
}

int clv_graph__infer_transpose(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t perm[CLV_MAX_DIMS], dims[CLV_MAX_DIMS];
    size_t n;
    bool have, seen[CLV_MAX_DIMS] = {false};
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__attr_ints(g, node, "perm", perm, CLV_MAX_DIMS, &n,
                                   &have, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if (!have) {
        for (int i = 0; i < x->ndim; i++)
            perm[i] = x->ndim - 1 - i;
        n = (size_t)x->ndim;
    }
    if ((int)n != x->ndim)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Transpose perm has %zu entries for an input of rank %d", n,
            x->ndim);
    for (size_t i = 0; i < n; i++) {
        if ((rc = clv_graph__norm_axis(g, node, "perm entry", &perm[i],
                                       x->ndim, false, err)))
            return rc;
        if (seen[perm[i]])
            return clv_graph__node_error(
                g, node, err, CLV_EINVAL,
                "Transpose perm names axis %lld twice",
                (long long)perm[i]);
        seen[perm[i]] = true;
        dims[i] = x->dims[perm[i]];
    }
    if ((rc = clv_graph__put_ints(g, node, "perm", n, perm, err)))
        return rc;
    return clv_graph__set_out(g, node, 0, x->dtype, x->ndim, dims, err);
}

/* ---- Pad -------------------------------------------------------------- */

int clv_graph__infer_pad(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t pads[2 * CLV_MAX_DIMS], dims[CLV_MAX_DIMS];
    size_t n;
    float value = 0.0f;
    const char *m;
    char mode[16];
    bool have;
    int r, rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 4, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__attr_string(g, node, "mode", "constant", &m, err)))
        return rc;
    if (strcmp(m, "constant") != 0 && strcmp(m, "reflect") != 0 &&
        strcmp(m, "edge") != 0) {
        char mb[40];
        snprintf(mb, sizeof mb, "%s", m);
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "Pad mode '%s' is not supported (only constant, reflect, edge)",
            mb);
    }
    snprintf(mode, sizeof mode, "%s", m);
    x = clv_graph__in(g, node, 0);
    r = x->ndim;
    if (g->nodes[node].n_inputs >= 2) { /* opset >= 11 */
        const clv_tensor *v = clv_graph__in(g, node, 2);
        const clv_tensor *ax = clv_graph__in(g, node, 3);
        if (!clv_graph__in(g, node, 1))
            return clv_graph__node_error(g, node, err, CLV_EINVAL,
                                         "Pad needs a pads input");
        if ((rc = clv_graph__const_ints(g, node, 1, "pads", pads,
                                        2 * CLV_MAX_DIMS, &n, err)))
            return rc;
        if (v && clv_graph__numel(v->ndim, v->dims) > 0) {
            size_t k;
            if (clv_graph__numel(v->ndim, v->dims) != 1)
                return clv_graph__node_error(
                    g, node, err, CLV_ESHAPE,
                    "Pad constant_value '%s' must be a scalar", v->name);
            if (v->dtype == CLV_DT_FLOAT || v->dtype == CLV_DT_DOUBLE) {
                rc = clv_graph__const_floats(g, node, 2, "constant_value",
                                             &value, 1, &k, err);
            } else {
                int64_t iv;
                rc = clv_graph__const_ints(g, node, 2, "constant_value", &iv,
                                           1, &k, err);
                value = (float)iv;
            }
            if (rc)
                return rc;
        }
        if (ax) { /* opset 18: pads for the listed axes only */
            int64_t axes[CLV_MAX_DIMS], full[2 * CLV_MAX_DIMS] = {0};
            size_t na;
            if ((rc = clv_graph__const_ints(g, node, 3, "axes", axes,
                                            CLV_MAX_DIMS, &na, err)) ||
                (rc = norm_axes(g, node, axes, na, r, false, err)))
                return rc;
            if (n != 2 * na)
                return clv_graph__node_error(
                    g, node, err, CLV_ESHAPE,
                    "Pad has %zu pads for %zu axes", n, na);
            for (size_t i = 0; i < na; i++) {
                full[axes[i]] = pads[i];
                full[r + axes[i]] = pads[na + i];
            }
            memcpy(pads, full, sizeof full);
            n = 2 * (size_t)r;
        }
    } else { /* opset < 11 */
        if ((rc = clv_graph__attr_ints(g, node, "pads", pads,
                                       2 * CLV_MAX_DIMS, &n, &have, err)))
            return rc;
        if (!have &&
            (rc = clv_graph__attr_ints(g, node, "paddings", pads,
                                       2 * CLV_MAX_DIMS, &n, &have, err)))
            return rc;
        if (!have)
            return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                         "Pad needs pads");
        if ((rc = clv_graph__attr_float(g, node, "value", 0.0f, &value,
                                        err)))
            return rc;
    }
    if ((int)n != 2 * r)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Pad has %zu pads for an input of rank %d (needs %d)", n, r,
            2 * r);
    for (int i = 0; i < r; i++) {
        int64_t pb = pads[i], pe = pads[r + i];
        if (pb < 0 || pe < 0)
            return clv_graph__node_error(
                g, node, err, CLV_EUNSUPPORTED,
                "Pad with negative pads (cropping) is not supported");
        if (pb >= CLV_SHAPE_MAX_NUMEL || pe >= CLV_SHAPE_MAX_NUMEL)
            return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                         "Pad pads are too large");
        if (strcmp(mode, "reflect") == 0 &&
            ((pb > 0 && pb >= x->dims[i]) || (pe > 0 && pe >= x->dims[i])))
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE,
                "Pad reflect pads (%lld, %lld) must be smaller than the "
                "extent %lld of dim %d",
                (long long)pb, (long long)pe, (long long)x->dims[i], i);
        if (strcmp(mode, "edge") == 0 && x->dims[i] == 0 && pb + pe > 0)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Pad edge cannot pad the empty dim %d", i);
        dims[i] = x->dims[i] + pb + pe;
    }
    if ((rc = clv_graph__put_string(g, node, "mode", mode, err)) ||
        (rc = clv_graph__put_ints(g, node, "pads", n, pads, err)) ||
        (rc = clv_graph__put_float(g, node, "value", value, err)))
        return rc;
    clv_graph_unset(g, node, "paddings");
    clv_graph__keep_inputs(g, node, 1);
    return clv_graph__set_out(g, node, 0, x->dtype, r, dims, err);
}

/* ---- Resize ----------------------------------------------------------- */

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Copies string attribute `name` (default `def`) into buf. */
static int string_attr(clv_graph *g, int node, const char *name,
                       const char *def, char *buf, size_t len,
                       clv_error *err)
{
    const char *s;
    int rc = clv_graph__attr_string(g, node, name, def, &s, err);
    if (rc)
        return rc;
    snprintf(buf, len, "%s", s);
    return 0;
}

int clv_graph__infer_resize(clv_graph *g, int node, clv_error *err)
{
    static const char *const ctms[] = {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
        "align_corners", "asymmetric", "tf_half_pixel_for_nn", NULL};
    static const char *const nearest_modes[] = {
        "round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};
    const clv_tensor *x, *ts = NULL, *tz = NULL;
    float scales[CLV_MAX_DIMS];
    int64_t sizes[CLV_MAX_DIMS], dims[CLV_MAX_DIMS], antialias;
    size_t ns = 0, nz = 0;
    char mode[40], ctm[40], nm[40], kar[40];
    bool have = false, new_form = g->opset >= 11;
    int r, rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 4, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = string_attr(g, node, "mode", "nearest", mode, sizeof mode,
                          err)) ||
        (rc = string_attr(g, node, "coordinate_transformation_mode",
                          new_form ? "half_pixel" : "asymmetric", ctm,
                          sizeof ctm, err)) ||
        (rc = string_attr(g, node, "nearest_mode",
                          new_form ? "round_prefer_floor" : "floor", nm,
                          sizeof nm, err)) ||
        (rc = string_attr(g, node, "keep_aspect_ratio_policy", "stretch",
                          kar, sizeof kar, err)) ||
        (rc = clv_graph__attr_int(g, node, "antialias", 0, &antialias,
                                  err)))
        return rc;
    if (strcmp(mode, "nearest") != 0)
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "Resize mode '%s' is not supported (only 'nearest')", mode);
    if (strcmp(ctm, "tf_crop_and_resize") == 0)
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "Resize coordinate_transformation_mode 'tf_crop_and_resize' "
            "is not supported");
    if (!in_list(ctm, ctms))
        return clv_graph__node_error(
            g, node, err, CLV_EFORMAT,
            "Resize has an unknown coordinate_transformation_mode '%s'",
            ctm);
    if (!in_list(nm, nearest_modes))
        return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                     "Resize has an unknown nearest_mode "
                                     "'%s'",
                                     nm);
    if (antialias != 0 || strcmp(kar, "stretch") != 0 ||
        clv_node_attr(&g->nodes[node], "axes"))
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "Resize with antialias, axes or keep_aspect_ratio_policy is not "
            "supported");

    x = clv_graph__in(g, node, 0);
    r = x->ndim;
    if (g->nodes[node].n_inputs == 2) { /* Resize-10, Upsample-9 */
        ts = clv_graph__in(g, node, 1);
    } else if (g->nodes[node].n_inputs >= 3) { /* Resize-11+ */
        ts = clv_graph__in(g, node, 2);
        tz = clv_graph__in(g, node, 3);
    }
    if (ts && clv_graph__numel(ts->ndim, ts->dims) > 0) {
        if ((rc = clv_graph__const_floats(
                 g, node, g->nodes[node].n_inputs == 2 ? 1 : 2, "scales",
                 scales, CLV_MAX_DIMS, &ns, err)))
            return rc;
        have = true;
    }
    if (tz && clv_graph__numel(tz->ndim, tz->dims) > 0) {
        if (have)
            return clv_graph__node_error(
                g, node, err, CLV_EINVAL,
                "Resize has both scales and sizes; give one");
        if ((rc = clv_graph__const_ints(g, node, 3, "sizes", sizes,
                                        CLV_MAX_DIMS, &nz, err)))
            return rc;
        if ((int)nz != r)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Resize has %zu sizes for an input of rank %d", nz, r);
        for (int i = 0; i < r; i++) {
            if (sizes[i] < 0 || sizes[i] > CLV_SHAPE_MAX_NUMEL)
                return clv_graph__node_error(
                    g, node, err, CLV_ERANGE,
                    "Resize sizes[%d] = %lld is out of range", i,
                    (long long)sizes[i]);
            dims[i] = sizes[i];
            scales[i] = x->dims[i] ? (float)((double)sizes[i] /
                                             (double)x->dims[i])
                                   : 1.0f;
        }
        ns = (size_t)r;
    } else {
        if (!have) { /* Upsample-7: attribute */
            if ((rc = clv_graph__attr_floats(g, node, "scales", scales,
                                             CLV_MAX_DIMS, &ns, &have,
                                             err)))
                return rc;
            if (!have)
                return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                             "Resize needs scales or sizes");
        }
        if ((int)ns != r)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Resize has %zu scales for an input of rank %d", ns, r);
        for (int i = 0; i < r; i++) {
            double d;
            if (!(scales[i] > 0.0f) || !isfinite(scales[i]))
                return clv_graph__node_error(
                    g, node, err, CLV_ERANGE,
                    "Resize scales[%d] = %g must be positive", i,
                    (double)scales[i]);
            d = floor((double)x->dims[i] * (double)scales[i]);
            if (d > (double)CLV_SHAPE_MAX_NUMEL)
                return clv_graph__node_error(g, node, err, CLV_ELIMIT,
                                             "Resize output is too large");
            dims[i] = (int64_t)d;
        }
    }
    if ((rc = clv_graph__put_string(g, node, "mode", mode, err)) ||
        (rc = clv_graph__put_string(g, node,
                                    "coordinate_transformation_mode", ctm,
                                    err)) ||
        (rc = clv_graph__put_string(g, node, "nearest_mode", nm, err)) ||
        (rc = clv_graph__put_floats(g, node, "scales", ns, scales, err)))
        return rc;
    clv_graph_unset(g, node, "antialias");
    clv_graph_unset(g, node, "keep_aspect_ratio_policy");
    clv_graph__keep_inputs(g, node, 1);
    return clv_graph__set_out(g, node, 0, x->dtype, r, dims, err);
}

/* ---- shape manipulation ------------------------------------------------ */

int clv_graph__infer_shape(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t start, end, len;
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__attr_int(g, node, "start", 0, &start, err)) ||
        (rc = clv_graph__attr_int(g, node, "end", x->ndim, &end, err)))
        return rc;
    if (start < 0)
        start = start < -(int64_t)x->ndim ? 0 : start + x->ndim;
    if (end < 0)
        end = end < -(int64_t)x->ndim ? 0 : end + x->ndim;
    start = clamp64(start, 0, x->ndim);
    end = clamp64(end, 0, x->ndim);
    len = end > start ? end - start : 0;
    if ((rc = clv_graph__put_int(g, node, "start", start, err)) ||
        (rc = clv_graph__put_int(g, node, "end", end, err)))
        return rc;
    return clv_graph__set_out(g, node, 0, CLV_DT_INT64, 1, &len, err);
}

int clv_graph__infer_gather(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x, *ix;
    int64_t axis, dims[2 * CLV_MAX_DIMS];
    int nd = 0, rc;

    if ((rc = clv_graph__need_inputs(g, node, 2, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_index(g, node, 1, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 1, CLV_MAX_DIMS, err)) ||
        (rc = clv_graph__attr_int(g, node, "axis", 0, &axis, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    ix = clv_graph__in(g, node, 1);
    if ((rc = clv_graph__norm_axis(g, node, "axis", &axis, x->ndim, false,
                                   err)))
        return rc;
    if (x->ndim - 1 + ix->ndim > CLV_MAX_DIMS)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Gather output would have rank %d (at most %d supported)",
            x->ndim - 1 + ix->ndim, CLV_MAX_DIMS);
    if ((ix->flags & CLV_TENSOR_CONST) && ix->data) {
        int64_t n = clv_graph__numel(ix->ndim, ix->dims), s = x->dims[axis];
        for (int64_t i = 0; i < n; i++) {
            int64_t v = ix->dtype == CLV_DT_INT64
                            ? ((const int64_t *)ix->data)[i]
                            : ((const int32_t *)ix->data)[i];
            if (v < -s || v >= s)
                return clv_graph__node_error(
                    g, node, err, CLV_ERANGE,
                    "Gather index %lld is out of range for extent %lld of "
                    "axis %lld",
                    (long long)v, (long long)s, (long long)axis);
        }
    }
    for (int i = 0; i < axis; i++)
        dims[nd++] = x->dims[i];
    for (int i = 0; i < ix->ndim; i++)
        dims[nd++] = ix->dims[i];
    for (int i = (int)axis + 1; i < x->ndim; i++)
        dims[nd++] = x->dims[i];
    if ((rc = clv_graph__put_int(g, node, "axis", axis, err)))
        return rc;
    return clv_graph__set_out(g, node, 0, x->dtype, nd, dims, err);
}

/* The axes of (Un)Squeeze: input 1 (opset >= 13) or the attribute. */
static int read_axes(clv_graph *g, int node, int64_t *axes, size_t *n,
                     bool *have, clv_error *err)
{
    if (clv_graph__in(g, node, 1)) {
        *have = true;
        return clv_graph__const_ints(g, node, 1, "axes", axes, CLV_MAX_DIMS,
                                     n, err);
    }
    return clv_graph__attr_ints(g, node, "axes", axes, CLV_MAX_DIMS, n, have,
                                err);
}

int clv_graph__infer_unsqueeze(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t axes[CLV_MAX_DIMS], dims[CLV_MAX_DIMS];
    size_t n, a = 0;
    bool have;
    int r, k = 0, rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = read_axes(g, node, axes, &n, &have, err)))
        return rc;
    if (!have)
        return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                     "Unsqueeze needs axes");
    x = clv_graph__in(g, node, 0);
    r = x->ndim + (int)n;
    if (r > CLV_MAX_DIMS)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Unsqueeze output would have rank %d (at most %d supported)", r,
            CLV_MAX_DIMS);
    if ((rc = norm_axes(g, node, axes, n, r, true, err)))
        return rc;
    for (int i = 0; i < r; i++) {
        if (a < n && axes[a] == i) {
            dims[i] = 1;
            a++;
        } else {
            dims[i] = x->dims[k++];
        }
    }
    if ((rc = clv_graph__put_ints(g, node, "axes", n, axes, err)))
        return rc;
    clv_graph__keep_inputs(g, node, 1);
    return clv_graph__set_out(g, node, 0, x->dtype, r, dims, err);
}

int clv_graph__infer_squeeze(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t axes[CLV_MAX_DIMS], dims[CLV_MAX_DIMS];
    size_t n, a = 0;
    bool have;
    int nd = 0, rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = read_axes(g, node, axes, &n, &have, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if (!have) { /* every 1-dim */
        n = 0;
        for (int i = 0; i < x->ndim; i++)
            if (x->dims[i] == 1)
                axes[n++] = i;
    }
    if ((rc = norm_axes(g, node, axes, n, x->ndim, true, err)))
        return rc;
    for (int i = 0; i < x->ndim; i++) {
        if (a < n && axes[a] == i) {
            if (x->dims[i] != 1)
                return clv_graph__node_error(
                    g, node, err, CLV_ESHAPE,
                    "Squeeze axis %d has extent %lld, not 1", i,
                    (long long)x->dims[i]);
            a++;
        } else {
            dims[nd++] = x->dims[i];
        }
    }
    if ((rc = clv_graph__put_ints(g, node, "axes", n, axes, err)))
        return rc;
    clv_graph__keep_inputs(g, node, 1);
    return clv_graph__set_out(g, node, 0, x->dtype, nd, dims, err);
}

/* ReduceMean, ReduceSum, ReduceMax: axes from the attribute (or, for
 * ReduceSum-13, a constant input), made explicit and sorted; keepdims. */
int clv_graph__infer_reduce(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t axes[CLV_MAX_DIMS], dims[CLV_MAX_DIMS], keep, noop;
    size_t n = 0, a = 0;
    bool have = false;
    int nd = 0, rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = read_axes(g, node, axes, &n, &have, err)) ||
        (rc = clv_graph__attr_int(g, node, "keepdims", 1, &keep, err)) ||
        (rc = clv_graph__attr_int(g, node, "noop_with_empty_axes", 0, &noop,
                                  err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if (x->dtype != CLV_DT_FLOAT)
        return clv_graph__node_error(g, node, err, CLV_EUNSUPPORTED,
                                     "%s of %s tensors is not supported "
                                     "(float32 only)",
                                     op_name(g, node),
                                     clv_dtype_name(x->dtype));
    if (n == 0 && !noop) { /* every axis */
        for (int i = 0; i < x->ndim; i++)
            axes[i] = i;
        n = (size_t)x->ndim;
    }
    if ((rc = norm_axes(g, node, axes, n, x->ndim, true, err)))
        return rc;
    for (int i = 0; i < x->ndim; i++) {
        if (a < n && axes[a] == i) {
            a++;
            if (keep)
                dims[nd++] = 1;
        } else {
            dims[nd++] = x->dims[i];
        }
    }
    if ((rc = clv_graph__put_ints(g, node, "axes", n, axes, err)) ||
        (rc = clv_graph__put_int(g, node, "keepdims", keep != 0, err)))
        return rc;
    clv_graph_unset(g, node, "noop_with_empty_axes");
    clv_graph__keep_inputs(g, node, 1);
    g->nodes[node].flops = (uint64_t)clv_tensor_numel(x);
    return clv_graph__set_out(g, node, 0, x->dtype, nd, dims, err);
}

int clv_graph__infer_slice(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t starts[CLV_MAX_DIMS], ends[CLV_MAX_DIMS], axes[CLV_MAX_DIMS];
    int64_t steps[CLV_MAX_DIMS], dims[CLV_MAX_DIMS];
    size_t ns, ne, na, nt;
    bool have_s, have_e, have_a, have_t = false;
    int nin = g->nodes[node].n_inputs, rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 5, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if (nin >= 2) { /* opset >= 10 */
        if ((rc = clv_graph__need_inputs(g, node, 3, 5, err)) ||
            (rc = clv_graph__const_ints(g, node, 1, "starts", starts,
                                        CLV_MAX_DIMS, &ns, err)) ||
            (rc = clv_graph__const_ints(g, node, 2, "ends", ends,
                                        CLV_MAX_DIMS, &ne, err)))
            return rc;
        have_a = clv_graph__in(g, node, 3) != NULL;
        if (have_a && (rc = clv_graph__const_ints(g, node, 3, "axes", axes,
                                                  CLV_MAX_DIMS, &na, err)))
            return rc;
        have_t = clv_graph__in(g, node, 4) != NULL;
        if (have_t && (rc = clv_graph__const_ints(g, node, 4, "steps", steps,
                                                  CLV_MAX_DIMS, &nt, err)))
            return rc;
    } else { /* opset < 10 */
        if ((rc = clv_graph__attr_ints(g, node, "starts", starts,
                                       CLV_MAX_DIMS, &ns, &have_s, err)) ||
            (rc = clv_graph__attr_ints(g, node, "ends", ends, CLV_MAX_DIMS,
                                       &ne, &have_e, err)) ||
            (rc = clv_graph__attr_ints(g, node, "axes", axes, CLV_MAX_DIMS,
                                       &na, &have_a, err)))
            return rc;
        if (!have_s || !have_e)
            return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                         "Slice needs starts and ends");
    }
    if (ne != ns || (have_a && na != ns) || (have_t && nt != ns))
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Slice starts, ends, axes and steps differ in length");
    if ((int)ns > x->ndim)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Slice has %zu starts for an input of rank %d", ns, x->ndim);
    if (!have_a)
        for (size_t i = 0; i < ns; i++)
            axes[i] = (int64_t)i;
    if (!have_t)
        for (size_t i = 0; i < ns; i++)
            steps[i] = 1;
    if ((rc = norm_axes(g, node, axes, ns, x->ndim, false, err)))
        return rc;

    memcpy(dims, x->dims, sizeof dims);
    for (size_t i = 0; i < ns; i++) {
        int64_t dim = x->dims[axes[i]], st = steps[i], s = starts[i],
                e = ends[i], len;
        if (st == 0)
            return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                         "Slice step for axis %lld is 0",
                                         (long long)axes[i]);
        /* a step beyond the extent takes one element, as does the extent */
        if (st > 0 && st > dim)
            st = dim > 0 ? dim : 1;
        if (st < 0 && st < -dim)
            st = dim > 0 ? -dim : -1;
        if (s < 0)
            s = s < -dim ? -dim - 1 : s + dim; /* no overflow */
        if (e < 0)
            e = e < -dim ? -dim - 1 : e + dim;
        if (dim == 0) {
            s = e = 0;
        } else if (st > 0) {
            s = clamp64(s, 0, dim);
            e = clamp64(e, 0, dim);
        } else {
            s = clamp64(s, 0, dim - 1);
            e = clamp64(e, -1, dim - 1);
        }
        if (st > 0)
            len = e > s ? (e - s - 1) / st + 1 : 0;
        else
            len = s > e ? (s - e - 1) / -st + 1 : 0;
        starts[i] = s;
        ends[i] = e;
        steps[i] = st;
        dims[axes[i]] = len;
    }
    if ((rc = clv_graph__put_ints(g, node, "starts", ns, starts, err)) ||
        (rc = clv_graph__put_ints(g, node, "ends", ns, ends, err)) ||
        (rc = clv_graph__put_ints(g, node, "axes", ns, axes, err)) ||
        (rc = clv_graph__put_ints(g, node, "steps", ns, steps, err)))
        return rc;
    clv_graph__keep_inputs(g, node, 1);
    return clv_graph__set_out(g, node, 0, x->dtype, x->ndim, dims, err);
}

int clv_graph__infer_split(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t axis, dim, *split = NULL, sum = 0, dims[CLV_MAX_DIMS];
    int nout = g->nodes[node].n_outputs, rc;
    size_t n;
    bool have = false;

    if ((rc = clv_graph__need_inputs(g, node, 1, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, -1, err)) ||
        (rc = clv_graph__attr_int(g, node, "axis", 0, &axis, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__need_rank(g, node, 0, 1, CLV_MAX_DIMS, err)) ||
        (rc = clv_graph__norm_axis(g, node, "axis", &axis, x->ndim, false,
                                   err)))
        return rc;
    dim = x->dims[axis];
    split = malloc((size_t)nout * sizeof *split);
    if (!split)
        return clv_graph__node_error(g, node, err, CLV_ENOMEM,
                                     "out of memory");
    if (clv_graph__in(g, node, 1)) { /* opset >= 13 */
        have = true;
        rc = clv_graph__const_ints(g, node, 1, "split", split, (size_t)nout,
                                   &n, err);
    } else {
        rc = clv_graph__attr_ints(g, node, "split", split, (size_t)nout, &n,
                                  &have, err);
    }
    if (rc)
        goto fail;
    if (have) {
        if ((int)n != nout) {
            rc = clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Split has %zu split sizes for %d outputs", n, nout);
            goto fail;
        }
        for (int i = 0; i < nout; i++) {
            if (split[i] < 0 || split[i] > dim) {
                rc = clv_graph__node_error(
                    g, node, err, CLV_ERANGE,
                    "Split size %lld is out of range for extent %lld",
                    (long long)split[i], (long long)dim);
                goto fail;
            }
            sum += split[i];
        }
        if (sum != dim) {
            rc = clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Split sizes add up to %lld, not the extent %lld of axis "
                "%lld",
                (long long)sum, (long long)dim, (long long)axis);
            goto fail;
        }
    } else if (dim % nout == 0) {
        for (int i = 0; i < nout; i++)
            split[i] = dim / nout;
    } else if (clv_node_attr(&g->nodes[node], "num_outputs")) {
        /* opset 18: ceil-sized chunks, the last one smaller */
        int64_t chunk = (dim + nout - 1) / nout, left = dim;
        for (int i = 0; i < nout; i++) {
            split[i] = left < chunk ? left : chunk;
            left -= split[i];
        }
    } else {
        rc = clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Split cannot divide extent %lld of axis %lld into %d equal "
            "parts",
            (long long)dim, (long long)axis, nout);
        goto fail;
    }
    if ((rc = clv_graph__put_int(g, node, "axis", axis, err)) ||
        (rc = clv_graph__put_ints(g, node, "split", (size_t)nout, split,
                                  err)))
        goto fail;
    clv_graph_unset(g, node, "num_outputs");
    clv_graph__keep_inputs(g, node, 1);
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < nout; i++) {
        dims[axis] = split[i];
        if ((rc = clv_graph__set_out(g, node, i, x->dtype, x->ndim, dims,
                                     err)))
            goto fail;
    }
fail:
    free(split);
    return rc;
}

int clv_graph__infer_cast(clv_graph *g, int node, clv_error *err)
{
    static const char *const onnx_types[] = {
        "undefined", "float", "uint8", "int8", "uint16", "int16", "int32",
        "int64", "string", "bool", "float16", "double", "uint32", "uint64",
        "complex64", "complex128", "bfloat16"};
    const clv_tensor *x;
    int64_t to;
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__attr_int(g, node, "to", 0, &to, err)))
        return rc;
    if (!clv_node_attr(&g->nodes[node], "to"))
        return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                     "Cast needs a 'to' attribute");
    switch (to) {
    case CLV_DT_FLOAT:
    case CLV_DT_UINT8:
    case CLV_DT_INT8:
    case CLV_DT_INT32:
    case CLV_DT_INT64:
    case CLV_DT_BOOL:
    case CLV_DT_DOUBLE:
        break;
    default:
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "Cast to ONNX type %lld (%s) is not supported", (long long)to,
            to >= 0 && to < (int64_t)(sizeof onnx_types /
                                      sizeof onnx_types[0])
                ? onnx_types[to]
                : "unknown");
    }
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__put_int(g, node, "to", to, err)))
        return rc;
    return clv_graph__set_out(g, node, 0, (clv_dtype)to, x->ndim, x->dims,
                              err);
}
