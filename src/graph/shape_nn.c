/*
 * Shape inference for the compute ops: convolution, pooling, dense layers,
 * normalisation, activations and darknet's heads. The FLOPs convention is
 * written at the top of shape.c.
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

static uint64_t numel_u(const clv_tensor *t)
{
    return (uint64_t)clv_graph__numel(t->ndim, t->dims);
}

/* ---- sliding windows: Conv, MaxPool, AveragePool ---------------------- */

typedef struct window {
    int ns; /* spatial dims */
    int64_t k[CLV_MAX_DIMS], s[CLV_MAX_DIMS], d[CLV_MAX_DIMS];
    int64_t pads[2 * CLV_MAX_DIMS];
    int64_t out[CLV_MAX_DIMS];
    int64_t ceil_mode;
} window;

/* Reads a list attribute of `ns` positive values (default all `def`). */
static int positive_list(clv_graph *g, int node, const char *name, int ns,
                         int64_t def, int64_t *v, bool *present,
                         clv_error *err)
{
    size_t n;
    bool have;
    int rc = clv_graph__attr_ints(g, node, name, v, CLV_MAX_DIMS, &n, &have,
                                  err);
    if (rc)
        return rc;
    if (present)
        *present = have;
    if (!have) {
        for (int i = 0; i < ns; i++)
            v[i] = def;
        return 0;
    }
    if ((int)n != ns)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "%s %s has %zu values for %d spatial dims", op_name(g, node),
            name, n, ns);
    for (int i = 0; i < ns; i++)
        if (v[i] <= 0 || v[i] >= CLV_SHAPE_MAX_ATTR)
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE, "%s %s[%d] = %lld must be %s",
                op_name(g, node), name, i, (long long)v[i],
                v[i] <= 0 ? "positive" : "below 2^31");
    return 0;
}

/*
 * Resolves the window attributes of node `node` over input `x` (N, C,
 * spatial...) into `w`, writes them back in canonical form (auto_pad
 * removed) and computes the output spatial extents. `kdef` is the default
 * kernel (Conv: W's spatial dims) or NULL when kernel_shape is required;
 * `dilations` and `ceil` say whether the op has those attributes.
 */
static int window_resolve(clv_graph *g, int node, const clv_tensor *x,
                          const int64_t *kdef, bool dilations, bool ceil,
                          window *w, clv_error *err)
{
    int ns = x->ndim - 2, rc;
    bool have;
    size_t n;
    const char *ap;
    enum { NOTSET, SAME_UPPER, SAME_LOWER, VALID } mode;
    char apbuf[32];

    memset(w, 0, sizeof *w);
    w->ns = ns;

    /* kernel_shape */
    rc = positive_list(g, node, "kernel_shape", ns, 1, w->k, &have, err);
    if (rc)
        return rc;
    if (!have && !kdef)
        return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                     "%s needs a kernel_shape attribute",
                                     op_name(g, node));
    if (kdef) {
        for (int i = 0; i < ns; i++) {
            if (have && w->k[i] != kdef[i])
                return clv_graph__node_error(
                    g, node, err, CLV_ESHAPE,
                    "%s kernel_shape[%d] = %lld but the weight has %lld",
                    op_name(g, node), i, (long long)w->k[i],
                    (long long)kdef[i]);
            w->k[i] = kdef[i];
            if (w->k[i] <= 0 || w->k[i] >= CLV_SHAPE_MAX_ATTR)
                return clv_graph__node_error(
                    g, node, err, CLV_ERANGE,
                    "%s kernel extent %lld in spatial dim %d must be "
                    "positive and below 2^31",
                    op_name(g, node), (long long)w->k[i], i);
        }
    }
    rc = positive_list(g, node, "strides", ns, 1, w->s, NULL, err);
    if (rc)
        return rc;
    if (dilations) {
        rc = positive_list(g, node, "dilations", ns, 1, w->d, NULL, err);
        if (rc)
            return rc;
    } else {
        int64_t d[CLV_MAX_DIMS];
        rc = positive_list(g, node, "dilations", ns, 1, d, NULL, err);
        if (rc)
            return rc;
        for (int i = 0; i < ns; i++) {
            if (d[i] != 1)
                return clv_graph__node_error(
                    g, node, err, CLV_EUNSUPPORTED,
                    "%s with dilations is not supported", op_name(g, node));
            w->d[i] = 1;
        }
    }

    rc = clv_graph__attr_ints(g, node, "pads", w->pads, 2 * CLV_MAX_DIMS,
                              &n, &have, err);
    if (rc)
        return rc;
    if (!have) {
        for (int i = 0; i < 2 * ns; i++)
            w->pads[i] = 0;
    } else if ((int)n != 2 * ns) {
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "%s pads has %zu values; %d spatial dims need %d",
            op_name(g, node), n, ns, 2 * ns);
    }
    for (int i = 0; i < 2 * ns; i++)
        if (w->pads[i] < 0 || w->pads[i] >= CLV_SHAPE_MAX_ATTR)
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE, "%s pads[%d] = %lld must be %s",
                op_name(g, node), i, (long long)w->pads[i],
                w->pads[i] < 0 ? "non-negative" : "below 2^31");

    w->ceil_mode = 0;
    if (ceil) {
        rc = clv_graph__attr_int(g, node, "ceil_mode", 0, &w->ceil_mode,
                                 err);
        if (rc)
            return rc;
        if (w->ceil_mode != 0 && w->ceil_mode != 1)
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE, "%s ceil_mode=%lld must be 0 or 1",
                op_name(g, node), (long long)w->ceil_mode);
    }

    rc = clv_graph__attr_string(g, node, "auto_pad", "NOTSET", &ap, err);
    if (rc)
        return rc;
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == '\0')
        mode = NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        mode = SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        mode = SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0)
        mode = VALID;
    else {
        snprintf(apbuf, sizeof apbuf, "%s", ap);
        return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                     "%s has an unknown auto_pad '%s'",
                                     op_name(g, node), apbuf);
    }

    for (int i = 0; i < ns; i++) {
        int64_t in = x->dims[2 + i];
        int64_t ek = (w->k[i] - 1) * w->d[i] + 1; /* dilated extent */
        int64_t *pb = &w->pads[i], *pe = &w->pads[ns + i], span, out;
        if (mode == VALID) {
            *pb = *pe = 0;
        } else if (mode == SAME_UPPER || mode == SAME_LOWER) {
            int64_t o = (in + w->s[i] - 1) / w->s[i];
            int64_t total = (o - 1) * w->s[i] + ek - in;
            if (total < 0)
                total = 0;
            if (mode == SAME_UPPER) {
                *pb = total / 2;
                *pe = total - *pb;
            } else {
                *pe = total / 2;
                *pb = total - *pe;
            }
        }
        span = in + *pb + *pe;
        if (span < ek)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "%s window of %lld (kernel %lld, dilation %lld) is larger "
                "than the padded input (%lld) in spatial dim %d",
                op_name(g, node), (long long)ek, (long long)w->k[i],
                (long long)w->d[i], (long long)span, i);
        if (w->ceil_mode) {
            out = (span - ek + w->s[i] - 1) / w->s[i] + 1;
            /* the last window must start inside the input or the left
             * padding */
            if ((out - 1) * w->s[i] >= in + *pb)
                out--;
        } else {
            out = (span - ek) / w->s[i] + 1;
        }
        w->out[i] = out;
    }

    /* canonical form */
    clv_graph_unset(g, node, "auto_pad");
    if ((rc = clv_graph__put_ints(g, node, "kernel_shape", (size_t)ns, w->k,
                                  err)) ||
        (rc = clv_graph__put_ints(g, node, "strides", (size_t)ns, w->s,
                                  err)) ||
        (rc = clv_graph__put_ints(g, node, "pads", (size_t)(2 * ns),
                                  w->pads, err)))
        return rc;
    if (dilations &&
        (rc = clv_graph__put_ints(g, node, "dilations", (size_t)ns, w->d,
                                  err)))
        return rc;
    if (!dilations)
        clv_graph_unset(g, node, "dilations");
    if (ceil &&
        (rc = clv_graph__put_int(g, node, "ceil_mode", w->ceil_mode, err)))
        return rc;
    return 0;
}

static uint64_t prod_u(const int64_t *v, int n)
{
    uint64_t p = 1;
    for (int i = 0; i < n; i++)
        p = clv_graph__mul_sat(p, (uint64_t)v[i]);
    return p;
}

int clv_graph__infer_conv(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x, *w, *b;
    window win;
    int64_t group, c, m, dims[CLV_MAX_DIMS];
    uint64_t f, outsp;
    char xs[96], ws[96];
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 2, 3, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_float(g, node, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 2, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 3, 5, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    w = clv_graph__in(g, node, 1);
    b = clv_graph__in(g, node, 2);
    clv_graph__dims_str(x->ndim, x->dims, xs, sizeof xs);
    clv_graph__dims_str(w->ndim, w->dims, ws, sizeof ws);
    if (w->ndim != x->ndim)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Conv weight '%s' has shape %s; input %s needs rank %d",
            w->name, ws, xs, x->ndim);
    rc = clv_graph__attr_int(g, node, "group", 1, &group, err);
    if (rc)
        return rc;
    c = x->dims[1];
    m = w->dims[0];
    if (group <= 0 || group >= CLV_SHAPE_MAX_ATTR)
        return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                     "Conv group=%lld must be positive",
                                     (long long)group);
    if (c % group != 0)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Conv with group=%lld does not divide %lld input channels",
            (long long)group, (long long)c);
    if (m % group != 0)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Conv with group=%lld does not divide %lld output channels",
            (long long)group, (long long)m);
    if (w->dims[1] != c / group)
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Conv weight '%s' has shape %s: %lld input channels per group, "
            "but input %s with group=%lld has %lld",
            w->name, ws, (long long)w->dims[1], xs, (long long)group,
            (long long)(c / group));
    if (b && (b->ndim != 1 || b->dims[0] != m)) {
        char bs[96];
        clv_graph__dims_str(b->ndim, b->dims, bs, sizeof bs);
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Conv bias '%s' has shape %s; it must be %lld (one per output "
            "channel)",
            b->name, bs, (long long)m);
    }
    rc = window_resolve(g, node, x, w->dims + 2, true, false, &win, err);
    if (rc)
        return rc;
    if ((rc = clv_graph__put_int(g, node, "group", group, err)))
        return rc;

    dims[0] = x->dims[0];
    dims[1] = m;
    memcpy(dims + 2, win.out, (size_t)win.ns * sizeof *dims);
    rc = clv_graph__set_out(g, node, 0, CLV_DT_FLOAT, x->ndim, dims, err);
    if (rc)
        return rc;

    outsp = prod_u(win.out, win.ns);
    f = clv_graph__mul_sat(2, (uint64_t)x->dims[0]);
    f = clv_graph__mul_sat(f, (uint64_t)m);
    f = clv_graph__mul_sat(f, outsp);
    f = clv_graph__mul_sat(f, (uint64_t)(c / group));
    f = clv_graph__mul_sat(f, prod_u(win.k, win.ns));
    if (b) {
        uint64_t bias = clv_graph__mul_sat(
            clv_graph__mul_sat((uint64_t)x->dims[0], (uint64_t)m), outsp);
        f = f > UINT64_MAX - bias ? UINT64_MAX : f + bias;
    }
    g->nodes[node].flops = f;
    return 0;
}

static int infer_pool(clv_graph *g, int node, bool max, clv_error *err)
{
    const clv_tensor *x;
    window win;
    int64_t dims[CLV_MAX_DIMS];
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, max ? 2 : 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 3, CLV_MAX_DIMS, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    rc = window_resolve(g, node, x, NULL, max, true, &win, err);
    if (rc)
        return rc;
    if (max) {
        int64_t so;
        if ((rc = clv_graph__attr_int(g, node, "storage_order", 0, &so,
                                      err)))
            return rc;
        if ((rc = clv_graph__extras_unused(g, node, 1, "Indices", err)))
            return rc;
        (void)so; /* only matters for Indices */
        clv_graph_unset(g, node, "storage_order");
    } else {
        int64_t cip;
        if ((rc = clv_graph__attr_int(g, node, "count_include_pad", 0, &cip,
                                      err)))
            return rc;
        if (cip != 0 && cip != 1)
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE,
                "AveragePool count_include_pad=%lld must be 0 or 1",
                (long long)cip);
        if ((rc = clv_graph__put_int(g, node, "count_include_pad", cip,
                                     err)))
            return rc;
    }
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    memcpy(dims + 2, win.out, (size_t)win.ns * sizeof *dims);
    rc = clv_graph__set_out(g, node, 0, CLV_DT_FLOAT, x->ndim, dims, err);
    if (!rc && max)
        rc = clv_graph__set_out(g, node, 1, CLV_DT_INT64, x->ndim, dims,
                                err);
    if (rc)
        return rc;
    g->nodes[node].flops = clv_graph__mul_sat(
        (uint64_t)clv_graph__numel(x->ndim, dims), prod_u(win.k, win.ns));
    return 0;
}

int clv_graph__infer_maxpool(clv_graph *g, int node, clv_error *err)
{
    return infer_pool(g, node, true, err);
}

int clv_graph__infer_averagepool(clv_graph *g, int node, clv_error *err)
{
    return infer_pool(g, node, false, err);
}

int clv_graph__infer_globalpool(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t dims[CLV_MAX_DIMS];
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 3, CLV_MAX_DIMS, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->ndim; i++)
        dims[i] = 1;
    rc = clv_graph__set_out(g, node, 0, CLV_DT_FLOAT, x->ndim, dims, err);
    if (rc)
        return rc;
    g->nodes[node].flops = numel_u(x);
    return 0;
}

/* ---- dense ------------------------------------------------------------ */

int clv_graph__infer_gemm(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *a, *b, *c;
    int64_t ta, tb, m, k, kb, n, dims[2];
    float alpha, beta;
    char as[96], bs[96];
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 2, 3, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_float(g, node, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 2, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 2, 2, err)) ||
        (rc = clv_graph__need_rank(g, node, 1, 2, 2, err)) ||
        (rc = clv_graph__attr_int(g, node, "transA", 0, &ta, err)) ||
        (rc = clv_graph__attr_int(g, node, "transB", 0, &tb, err)) ||
        (rc = clv_graph__attr_float(g, node, "alpha", 1.0f, &alpha, err)) ||
        (rc = clv_graph__attr_float(g, node, "beta", 1.0f, &beta, err)))
        return rc;
    a = clv_graph__in(g, node, 0);
    b = clv_graph__in(g, node, 1);
    c = clv_graph__in(g, node, 2);
    ta = ta != 0;
    tb = tb != 0;
    m = ta ? a->dims[1] : a->dims[0];
    k = ta ? a->dims[0] : a->dims[1];
    kb = tb ? b->dims[1] : b->dims[0];
    n = tb ? b->dims[0] : b->dims[1];
    if (k != kb) {
        clv_graph__dims_str(a->ndim, a->dims, as, sizeof as);
        clv_graph__dims_str(b->ndim, b->dims, bs, sizeof bs);
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Gemm cannot multiply %s%s by %s%s (inner extents %lld and "
            "%lld)",
            as, ta ? " (transposed)" : "", bs, tb ? " (transposed)" : "",
            (long long)k, (long long)kb);
    }
    dims[0] = m;
    dims[1] = n;
    if (c) {
        int bn;
        int64_t bd[CLV_MAX_DIMS];
        bool ok = c->ndim <= 2 &&
                  clv_graph__broadcast(2, dims, c->ndim, c->dims, &bn, bd) &&
                  bd[0] == m && bd[1] == n;
        if (!ok) {
            char cs[96], ys[96];
            clv_graph__dims_str(c->ndim, c->dims, cs, sizeof cs);
            clv_graph__dims_str(2, dims, ys, sizeof ys);
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "Gemm input C '%s' of shape %s does not broadcast to %s",
                c->name, cs, ys);
        }
    }
    if ((rc = clv_graph__put_int(g, node, "transA", ta, err)) ||
        (rc = clv_graph__put_int(g, node, "transB", tb, err)) ||
        (rc = clv_graph__put_float(g, node, "alpha", alpha, err)) ||
        (rc = clv_graph__put_float(g, node, "beta", beta, err)))
        return rc;
    clv_graph_unset(g, node, "broadcast"); /* opset < 7 */
    rc = clv_graph__set_out(g, node, 0, CLV_DT_FLOAT, 2, dims, err);
    if (rc)
        return rc;
    {
        uint64_t mn = clv_graph__mul_sat((uint64_t)m, (uint64_t)n);
        uint64_t f = clv_graph__mul_sat(clv_graph__mul_sat(2, mn),
                                        (uint64_t)k);
        if (c)
            f = f > UINT64_MAX - mn ? UINT64_MAX : f + mn;
        g->nodes[node].flops = f;
    }
    return 0;
}

int clv_graph__infer_matmul(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *a, *b;
    int64_t ad[CLV_MAX_DIMS + 1], bd[CLV_MAX_DIMS + 1];
    int64_t batch[CLV_MAX_DIMS + 1], dims[CLV_MAX_DIMS + 2];
    int an, bn, nb, nd = 0, rc;
    int64_t m, k, kb, n;

    if ((rc = clv_graph__need_inputs(g, node, 2, 2, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_float(g, node, 1, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 1, CLV_MAX_DIMS, err)) ||
        (rc = clv_graph__need_rank(g, node, 1, 1, CLV_MAX_DIMS, err)))
        return rc;
    a = clv_graph__in(g, node, 0);
    b = clv_graph__in(g, node, 1);
    /* 1-D operands: A gets a leading 1, B a trailing 1, removed after */
    an = a->ndim;
    memcpy(ad, a->dims, (size_t)an * sizeof *ad);
    if (an == 1) {
        ad[1] = ad[0];
        ad[0] = 1;
        an = 2;
    }
    bn = b->ndim;
    memcpy(bd, b->dims, (size_t)bn * sizeof *bd);
    if (bn == 1) {
        bd[1] = 1;
        bn = 2;
    }
    m = ad[an - 2];
    k = ad[an - 1];
    kb = bd[bn - 2];
    n = bd[bn - 1];
    if (k != kb ||
        !clv_graph__broadcast(an - 2, ad, bn - 2, bd, &nb, batch)) {
        char as[96], bs[96];
        clv_graph__dims_str(a->ndim, a->dims, as, sizeof as);
        clv_graph__dims_str(b->ndim, b->dims, bs, sizeof bs);
        return clv_graph__node_error(g, node, err, CLV_ESHAPE,
                                     "MatMul cannot multiply %s by %s", as,
                                     bs);
    }
    for (int i = 0; i < nb; i++)
        dims[nd++] = batch[i];
    if (a->ndim > 1)
        dims[nd++] = m;
    if (b->ndim > 1)
        dims[nd++] = n;
    rc = clv_graph__set_out(g, node, 0, CLV_DT_FLOAT, nd, dims, err);
    if (rc)
        return rc;
    {
        uint64_t f = clv_graph__mul_sat(2, prod_u(batch, nb));
        f = clv_graph__mul_sat(f, (uint64_t)m);
        f = clv_graph__mul_sat(f, (uint64_t)n);
        g->nodes[node].flops = clv_graph__mul_sat(f, (uint64_t)k);
    }
    return 0;
}

/* ---- normalisation ---------------------------------------------------- */

/* LayerNormalization-17: X normalized over its dims from `axis` on, then
 * scaled and shifted by Scale and B, each holding one value per
 * normalized element (or one for all); Mean and InvStdDev keep X's rank
 * with the normalized dims 1. */
int clv_graph__infer_layernorm(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t axis, stash, dims[CLV_MAX_DIMS];
    float eps;
    int rc;
    if ((rc = clv_graph__need_inputs(g, node, 2, 3, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 3, err)) ||
        (rc = clv_graph__attr_int(g, node, "axis", -1, &axis, err)) ||
        (rc = clv_graph__attr_float(g, node, "epsilon", 1e-5f, &eps, err)) ||
        (rc = clv_graph__attr_int(g, node, "stash_type", 1, &stash, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if (x->dtype != CLV_DT_FLOAT)
        return clv_graph__node_error(g, node, err, CLV_EUNSUPPORTED,
                                     "LayerNormalization of %s (float32 "
                                     "only)",
                                     clv_dtype_name(x->dtype));
    if (stash != 1)
        return clv_graph__node_error(g, node, err, CLV_EUNSUPPORTED,
                                     "LayerNormalization stash_type %lld "
                                     "(only 1, float32)",
                                     (long long)stash);
    if ((rc = clv_graph__norm_axis(g, node, "axis", &axis, x->ndim, false,
                                   err)))
        return rc;
    int64_t inner = 1;
    for (int i = (int)axis; i < x->ndim; i++)
        inner *= x->dims[i];
    for (int k = 1; k < 3; k++) {
        const clv_tensor *p = clv_graph__in(g, node, k);
        if (!p)
            continue;
        if (p->dtype != CLV_DT_FLOAT ||
            (clv_tensor_numel(p) != inner && clv_tensor_numel(p) != 1))
            return clv_graph__node_error(
                g, node, err, CLV_EUNSUPPORTED,
                "LayerNormalization %s '%s' (%s, %lld values) is not one "
                "float32 value per normalized element (%lld)",
                k == 1 ? "Scale" : "B", p->name, clv_dtype_name(p->dtype),
                (long long)clv_tensor_numel(p), (long long)inner);
    }
    if ((rc = clv_graph__put_int(g, node, "axis", axis, err)) ||
        (rc = clv_graph__put_float(g, node, "epsilon", eps, err)))
        return rc;
    clv_graph_unset(g, node, "stash_type");
    for (int i = 0; i < x->ndim; i++)
        dims[i] = i < axis ? x->dims[i] : 1;
    g->nodes[node].flops = clv_graph__mul_sat(8, numel_u(x));
    if ((rc = clv_graph__set_out(g, node, 0, x->dtype, x->ndim, x->dims,
                                 err)))
        return rc;
    for (int k = 1; k < 3; k++)
        if (clv_graph__out(g, node, k) &&
            (rc = clv_graph__set_out(g, node, k, x->dtype, x->ndim, dims,
                                     err)))
            return rc;
    return 0;
}

int clv_graph__infer_batchnorm(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t c, spatial, training;
    float eps;
    int rc;
    static const char *const what[] = {"scale", "bias", "mean", "variance"};

    if ((rc = clv_graph__need_inputs(g, node, 5, 5, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 5, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 2, CLV_MAX_DIMS, err)) ||
        (rc = clv_graph__attr_float(g, node, "epsilon", 1e-5f, &eps,
                                    err)) ||
        (rc = clv_graph__attr_int(g, node, "spatial", 1, &spatial, err)) ||
        (rc = clv_graph__attr_int(g, node, "training_mode", 0, &training,
                                  err)))
        return rc;
    for (int i = 0; i < 5; i++)
        if ((rc = clv_graph__need_float(g, node, i, err)))
            return rc;
    if (spatial != 1)
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "BatchNormalization with spatial=0 is not supported");
    if (training != 0)
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "BatchNormalization in training mode is not supported");
    if (!(eps >= 0.0f))
        return clv_graph__node_error(
            g, node, err, CLV_ERANGE,
            "BatchNormalization epsilon=%g must be non-negative",
            (double)eps);
    x = clv_graph__in(g, node, 0);
    c = x->dims[1];
    for (int i = 1; i < 5; i++) {
        const clv_tensor *p = clv_graph__in(g, node, i);
        if (p->ndim != 1 || p->dims[0] != c) {
            char ps[96];
            clv_graph__dims_str(p->ndim, p->dims, ps, sizeof ps);
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "BatchNormalization %s '%s' has shape %s; it must be %lld "
                "(one per channel)",
                what[i - 1], p->name, ps, (long long)c);
        }
    }
    if ((rc = clv_graph__extras_unused(g, node, 1, "training statistics",
                                       err)))
        return rc;
    if ((rc = clv_graph__put_float(g, node, "epsilon", eps, err)))
        return rc;
    clv_graph_unset(g, node, "spatial");
    clv_graph_unset(g, node, "momentum");
    clv_graph_unset(g, node, "is_test");
    clv_graph_unset(g, node, "training_mode");
    if ((rc = clv_graph__set_out_like(g, node, 0, x, err)))
        return rc;
    for (int i = 1; i < g->nodes[node].n_outputs; i++)
        if ((rc = clv_graph__set_out(g, node, i, CLV_DT_FLOAT, 1, &c, err)))
            return rc;
    g->nodes[node].flops = clv_graph__mul_sat(2, numel_u(x));
    return 0;
}

int clv_graph__infer_lrn(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t size;
    float alpha, beta, bias;
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 2, CLV_MAX_DIMS, err)) ||
        (rc = clv_graph__attr_int(g, node, "size", 0, &size, err)) ||
        (rc = clv_graph__attr_float(g, node, "alpha", 1e-4f, &alpha,
                                    err)) ||
        (rc = clv_graph__attr_float(g, node, "beta", 0.75f, &beta, err)) ||
        (rc = clv_graph__attr_float(g, node, "bias", 1.0f, &bias, err)))
        return rc;
    if (!clv_node_attr(&g->nodes[node], "size"))
        return clv_graph__node_error(g, node, err, CLV_EFORMAT,
                                     "LRN needs a size attribute");
    if (size <= 0 || size >= CLV_SHAPE_MAX_ATTR)
        return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                     "LRN size=%lld must be positive",
                                     (long long)size);
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__put_int(g, node, "size", size, err)) ||
        (rc = clv_graph__put_float(g, node, "alpha", alpha, err)) ||
        (rc = clv_graph__put_float(g, node, "beta", beta, err)) ||
        (rc = clv_graph__put_float(g, node, "bias", bias, err)) ||
        (rc = clv_graph__set_out_like(g, node, 0, x, err)))
        return rc;
    g->nodes[node].flops =
        clv_graph__mul_sat(numel_u(x), (uint64_t)size + 2);
    return 0;
}

int clv_graph__infer_softmax(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t axis, legacy = g->opset < 13;
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 1, CLV_MAX_DIMS, err)) ||
        (rc = clv_graph__attr_int(g, node, "axis", legacy ? 1 : -1, &axis,
                                  err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__norm_axis(g, node, "axis", &axis, x->ndim, false,
                                   err)) ||
        (rc = clv_graph__put_int(g, node, "axis", axis, err)) ||
        (rc = clv_graph__put_int(g, node, "legacy", legacy, err)) ||
        (rc = clv_graph__set_out_like(g, node, 0, x, err)))
        return rc;
    g->nodes[node].flops = clv_graph__mul_sat(3, numel_u(x));
    return 0;
}

/* ---- activations ------------------------------------------------------ */

/* One float input, one output of the same shape, numel FLOPs. */
static int elementwise(clv_graph *g, int node, int max_in, clv_error *err)
{
    const clv_tensor *x;
    int rc;
    if ((rc = clv_graph__need_inputs(g, node, 1, max_in, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    if ((rc = clv_graph__set_out_like(g, node, 0, x, err)))
        return rc;
    g->nodes[node].flops = numel_u(x);
    return 0;
}

int clv_graph__infer_unary(clv_graph *g, int node, clv_error *err)
{
    return elementwise(g, node, 1, err);
}

int clv_graph__infer_leakyrelu(clv_graph *g, int node, clv_error *err)
{
    float alpha;
    int rc;
    if ((rc = clv_graph__attr_float(g, node, "alpha", 0.01f, &alpha, err)) ||
        (rc = elementwise(g, node, 1, err)))
        return rc;
    return clv_graph__put_float(g, node, "alpha", alpha, err);
}

int clv_graph__infer_hardsigmoid(clv_graph *g, int node, clv_error *err)
{
    float alpha, beta;
    int rc;
    if ((rc = clv_graph__attr_float(g, node, "alpha", 0.2f, &alpha, err)) ||
        (rc = clv_graph__attr_float(g, node, "beta", 0.5f, &beta, err)) ||
        (rc = elementwise(g, node, 1, err)) ||
        (rc = clv_graph__put_float(g, node, "alpha", alpha, err)))
        return rc;
    return clv_graph__put_float(g, node, "beta", beta, err);
}

int clv_graph__infer_prelu(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x, *s;
    int bn;
    int64_t bd[CLV_MAX_DIMS];
    int rc;
    if ((rc = clv_graph__need_inputs(g, node, 2, 2, err)) ||
        (rc = clv_graph__need_float(g, node, 1, err)) ||
        (rc = elementwise(g, node, 2, err)))
        return rc;
    x = clv_graph__in(g, node, 0);
    s = clv_graph__in(g, node, 1);
    /* the slope broadcasts to X (unidirectionally) */
    if (s->ndim > x->ndim ||
        !clv_graph__broadcast(x->ndim, x->dims, s->ndim, s->dims, &bn, bd) ||
        memcmp(bd, x->dims, (size_t)x->ndim * sizeof *bd) != 0) {
        char xs[96], ss[96];
        clv_graph__dims_str(x->ndim, x->dims, xs, sizeof xs);
        clv_graph__dims_str(s->ndim, s->dims, ss, sizeof ss);
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "PRelu slope '%s' of shape %s does not broadcast to %s",
            s->name, ss, xs);
    }
    return 0;
}

int clv_graph__infer_clip(clv_graph *g, int node, clv_error *err)
{
    float lim[2] = {-INFINITY, INFINITY};
    static const char *const names[2] = {"min", "max"};
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 3, err)))
        return rc;
    if (g->nodes[node].n_inputs > 1) {
        /* opset >= 11: optional scalar inputs min and max */
        for (int i = 0; i < 2; i++) {
            float v;
            size_t n;
            const clv_tensor *t = clv_graph__in(g, node, 1 + i);
            if (!t)
                continue;
            if (clv_graph__numel(t->ndim, t->dims) != 1)
                return clv_graph__node_error(
                    g, node, err, CLV_ESHAPE,
                    "Clip %s input '%s' must be a scalar", names[i],
                    t->name);
            if ((rc = clv_graph__const_floats(g, node, 1 + i, names[i], &v,
                                              1, &n, err)))
                return rc;
            lim[i] = v;
        }
    } else {
        /* opset < 11: attributes */
        if ((rc = clv_graph__attr_float(g, node, "min", -INFINITY, &lim[0],
                                        err)) ||
            (rc = clv_graph__attr_float(g, node, "max", INFINITY, &lim[1],
                                        err)))
            return rc;
    }
    if (isnan(lim[0]) || isnan(lim[1]))
        return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                     "Clip bounds must not be NaN");
    clv_graph__keep_inputs(g, node, 1);
    if ((rc = elementwise(g, node, 1, err)) ||
        (rc = clv_graph__put_float(g, node, "min", lim[0], err)))
        return rc;
    return clv_graph__put_float(g, node, "max", lim[1], err);
}

/* ---- darknet ---------------------------------------------------------- */

int clv_graph__infer_reorg(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t s, reverse, dims[4];
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_outputs(g, node, 1, 1, err)) ||
        (rc = clv_graph__need_float(g, node, 0, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 4, 4, err)) ||
        (rc = clv_graph__attr_int(g, node, "stride", 1, &s, err)) ||
        (rc = clv_graph__attr_int(g, node, "reverse", 0, &reverse, err)))
        return rc;
    if (s <= 0 || s >= 65536)
        return clv_graph__node_error(g, node, err, CLV_ERANGE,
                                     "Reorg stride=%lld must be positive",
                                     (long long)s);
    if (reverse)
        return clv_graph__node_error(
            g, node, err, CLV_EUNSUPPORTED,
            "Reorg with reverse=1 is not supported");
    x = clv_graph__in(g, node, 0);
    if (x->dims[2] % s || x->dims[3] % s) {
        char xs[96];
        clv_graph__dims_str(x->ndim, x->dims, xs, sizeof xs);
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Reorg stride=%lld does not divide the height and width of %s",
            (long long)s, xs);
    }
    dims[0] = x->dims[0];
    dims[1] = x->dims[1] * s * s;
    dims[2] = x->dims[2] / s;
    dims[3] = x->dims[3] / s;
    if ((rc = clv_graph__put_int(g, node, "stride", s, err)))
        return rc;
    clv_graph_unset(g, node, "reverse");
    return clv_graph__set_out(g, node, 0, CLV_DT_FLOAT, 4, dims, err);
}

/* darknet leaves anchors at 0.5 when a cfg gives none */
static int default_anchors(clv_graph *g, int node, int64_t num,
                           clv_error *err)
{
    const clv_attr *a = clv_node_attr(&g->nodes[node], "anchors");
    if (a) {
        if (a->type != CLV_ATTR_FLOATS)
            return clv_graph__node_error(
                g, node, err, CLV_EFORMAT,
                "%s attribute 'anchors' must be a list of floats",
                clv_op_name(g->nodes[node].op));
        if ((int64_t)a->n < 2 * num)
            return clv_graph__node_error(
                g, node, err, CLV_ESHAPE,
                "%s has %zu anchor values; num=%lld needs %lld",
                clv_op_name(g->nodes[node].op), a->n, (long long)num,
                (long long)(2 * num));
        return 0;
    }
    {
        float *v = malloc((size_t)(2 * num) * sizeof *v);
        int rc;
        if (!v)
            return clv_graph__node_error(g, node, err, CLV_ENOMEM,
                                         "out of memory");
        for (int64_t i = 0; i < 2 * num; i++)
            v[i] = 0.5f;
        rc = clv_graph__put_floats(g, node, "anchors", (size_t)(2 * num), v,
                                   err);
        free(v);
        return rc;
    }
}

int clv_graph__infer_region(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t classes, coords, num;
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = elementwise(g, node, 1, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 4, 4, err)) ||
        (rc = clv_graph__attr_int(g, node, "classes", 20, &classes, err)) ||
        (rc = clv_graph__attr_int(g, node, "coords", 4, &coords, err)) ||
        (rc = clv_graph__attr_int(g, node, "num", 1, &num, err)))
        return rc;
    if (classes < 0 || coords < 0 || num <= 0 || classes >= 1 << 20 ||
        coords >= 1 << 20 || num >= 1 << 20)
        return clv_graph__node_error(
            g, node, err, CLV_ERANGE,
            "Region classes=%lld, coords=%lld, num=%lld out of range",
            (long long)classes, (long long)coords, (long long)num);
    x = clv_graph__in(g, node, 0);
    if (x->dims[1] != num * (coords + 1 + classes))
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Region with num=%lld, coords=%lld, classes=%lld needs %lld "
            "input channels, not %lld",
            (long long)num, (long long)coords, (long long)classes,
            (long long)(num * (coords + 1 + classes)),
            (long long)x->dims[1]);
    if ((rc = clv_graph__put_int(g, node, "classes", classes, err)) ||
        (rc = clv_graph__put_int(g, node, "coords", coords, err)) ||
        (rc = clv_graph__put_int(g, node, "num", num, err)))
        return rc;
    return default_anchors(g, node, num, err);
}

int clv_graph__infer_yolo(clv_graph *g, int node, clv_error *err)
{
    const clv_tensor *x;
    int64_t classes, num, mask[256];
    size_t nmask;
    bool have;
    int rc;

    if ((rc = clv_graph__need_inputs(g, node, 1, 1, err)) ||
        (rc = elementwise(g, node, 1, err)) ||
        (rc = clv_graph__need_rank(g, node, 0, 4, 4, err)) ||
        (rc = clv_graph__attr_int(g, node, "classes", 20, &classes, err)) ||
        (rc = clv_graph__attr_int(g, node, "num", 1, &num, err)) ||
        (rc = clv_graph__attr_ints(g, node, "mask", mask, 256, &nmask,
                                   &have, err)))
        return rc;
    if (classes < 0 || num <= 0 || classes >= 1 << 20 || num > 256)
        return clv_graph__node_error(
            g, node, err, CLV_ERANGE,
            "Yolo classes=%lld, num=%lld out of range", (long long)classes,
            (long long)num);
    if (!have) {
        for (int64_t i = 0; i < num; i++)
            mask[i] = i;
        nmask = (size_t)num;
    }
    for (size_t i = 0; i < nmask; i++)
        if (mask[i] < 0 || mask[i] >= num)
            return clv_graph__node_error(
                g, node, err, CLV_ERANGE,
                "Yolo mask[%zu] = %lld is not an anchor index below "
                "num=%lld",
                i, (long long)mask[i], (long long)num);
    x = clv_graph__in(g, node, 0);
    if (x->dims[1] != (int64_t)nmask * (classes + 5))
        return clv_graph__node_error(
            g, node, err, CLV_ESHAPE,
            "Yolo with %zu masked anchors and classes=%lld needs %lld "
            "input channels, not %lld",
            nmask, (long long)classes,
            (long long)((int64_t)nmask * (classes + 5)),
            (long long)x->dims[1]);
    if ((rc = clv_graph__put_int(g, node, "classes", classes, err)) ||
        (rc = clv_graph__put_int(g, node, "num", num, err)) ||
        (rc = clv_graph__put_ints(g, node, "mask", nmask, mask, err)))
        return rc;
    return default_anchors(g, node, num, err);
}
