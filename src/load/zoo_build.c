/*
 * The model zoo's graph builder: layers as nodes, weights drawn from a
 * seeded generator. See zoo_build.h.
 */
#include "load/zoo_build.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ZB_NAME_MAX 192

static const clv_zoo_val zb_none = {-1, 0, 0, 0, 0};

int clv_zoo__fail(clv_zoo_builder *b, int code, const char *fmt, ...)
{
    char msg[CLV_ERROR_MSG_MAX];
    va_list ap;
    if (b->rc)
        return b->rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->rc = code;
    clv_error_set(b->err, code, "zoo: %s at %lldx%lld: %.400s", b->model,
                  (long long)b->hw, (long long)b->hw, msg);
    return code;
}

/* Records the failure `rc` of a graph call that already wrote its message
 * into b->err, putting the model in front of it. */
static void zb_pass(clv_zoo_builder *b, int rc)
{
    if (!rc || b->rc)
        return;
    b->rc = rc;
    if (b->err) {
        if (b->err->code != rc)
            clv_error_set(b->err, rc, "%s", clv_strerror(rc));
        clv_error_prefix(b->err, "zoo: %s: ", b->model);
    }
}


/* Formats a node name into buf (ZB_NAME_MAX bytes). */
static bool zb_vname(clv_zoo_builder *b, char *buf, const char *fmt,
                     va_list ap)
{
    int len = vsnprintf(buf, ZB_NAME_MAX, fmt, ap);
    if (len < 0 || len >= ZB_NAME_MAX) {
        clv_zoo__fail(b, CLV_EINVAL, "node name longer than %d bytes",
                      ZB_NAME_MAX - 1);
        return false;
    }
    return true;
}

#define ZB_NAME(b, buf, fmt)                                \
    do {                                                    \
        va_list ap_;                                        \
        bool ok_;                                           \
        if ((b)->rc)                                        \
            return zb_none;                                 \
        va_start(ap_, fmt);                                 \
        ok_ = zb_vname((b), (buf), (fmt), ap_);             \
        va_end(ap_);                                        \
        if (!ok_)                                           \
            return zb_none;                                 \
    } while (0)

static void zb_attr(clv_zoo_builder *b, const char *node, int rc)
{
    if (rc)
        clv_zoo__fail(b, rc, "node '%s': cannot set an attribute: %s", node,
                      clv_strerror(rc));
}

static void zb_ints(clv_zoo_builder *b, int node, const char *nname,
                    const char *attr, size_t n, const int64_t *v)
{
    if (!b->rc)
        zb_attr(b, nname, clv_graph_set_ints(b->g, node, attr, n, v));
}

static void zb_int(clv_zoo_builder *b, int node, const char *nname,
                   const char *attr, int64_t v)
{
    if (!b->rc)
        zb_attr(b, nname, clv_graph_set_int(b->g, node, attr, v));
}

static void zb_float(clv_zoo_builder *b, int node, const char *nname,
                     const char *attr, float v)
{
    if (!b->rc)
        zb_attr(b, nname, clv_graph_set_float(b->g, node, attr, v));
}

/* A constant float tensor "<node>.<suffix>" of the given shape; its
 * zero-filled storage in *data. Returns the tensor id, -1 on failure. */
static int zb_weight(clv_zoo_builder *b, const char *node, const char *suffix,
                     int ndim, const int64_t *dims, float **data)
{
    char name[ZB_NAME_MAX + 32];
    void *p = NULL;
    int t = -1, rc;
    *data = NULL;
    if (b->rc)
        return -1;
    snprintf(name, sizeof name, "%s.%s", node, suffix);
    rc = clv_graph_add_tensor(b->g, name, CLV_DT_FLOAT, ndim, dims, &t,
                              b->err);
    if (!rc)
        rc = clv_graph_alloc_data(b->g, t, &p, b->err);
    if (rc) {
        zb_pass(b, rc);
        return -1;
    }
    *data = p;
    return t;
}

/* Adds node `name` of `op` reading `n_in` tensors and its one output
 * tensor (named after the node, or "output" after clv_zoo__last). Returns
 * `shape` with the output's id, and the node index in *node. */
static clv_zoo_val zb_node(clv_zoo_builder *b, const char *name, clv_op op,
                           int n_in, const int *in, clv_zoo_val shape,
                           int *node)
{
    int t = -1, rc;
    *node = -1;
    if (b->rc)
        return zb_none;
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0)
            return zb_none; /* a failed weight: b->rc is set */
    rc = clv_graph_add_tensor(b->g, b->last ? "output" : name, CLV_DT_FLOAT,
                              -1, NULL, &t, b->err);
    if (!rc)
        rc = clv_graph_add_node(b->g, name, op, n_in, in, 1, &t, node,
                                b->err);
    if (rc) {
        zb_pass(b, rc);
        return zb_none;
    }
    b->last = false;
    shape.id = t;
    return shape;
}

clv_zoo_val clv_zoo__begin(clv_zoo_builder *b, const char *model,
                           uint64_t seed, int64_t c, int64_t hw,
                           clv_error *err)
{
    const int64_t dims[4] = {1, c, hw, hw};
    clv_zoo_val x = {-1, 4, c, hw, hw};
    int rc;
    memset(b, 0, sizeof *b);
    b->model = model;
    b->hw = hw;
    b->err = err;
    clv_rng_seed(&b->rng, seed);
    b->g = clv_graph_create();
    if (!b->g) {
        clv_zoo__fail(b, CLV_ENOMEM, "out of memory");
        return zb_none;
    }
    clv_graph_set_opset(b->g, 13);
    rc = clv_graph_set_name(b->g, model);
    if (rc) {
        clv_zoo__fail(b, rc, "cannot name the graph: %s", clv_strerror(rc));
        return zb_none;
    }
    rc = clv_graph_add_tensor(b->g, "input", CLV_DT_FLOAT, 4, dims, &x.id,
                              err);
    if (!rc)
        rc = clv_graph_mark_input(b->g, x.id);
    if (rc) {
        zb_pass(b, rc);
        return zb_none;
    }
    return x;
}

void clv_zoo__last(clv_zoo_builder *b)
{
    b->last = true;
}

int clv_zoo__finish(clv_zoo_builder *b, clv_zoo_val y, clv_graph **out)
{
    int rc;
    *out = NULL;
    if (!b->rc && y.id >= 0) {
        const clv_tensor *t = clv_graph_tensor(b->g, y.id);
        if (!t || strcmp(t->name, "output") != 0)
            clv_zoo__fail(b, CLV_EINVAL,
                          "internal: the last layer does not make 'output'");
    }
    if (!b->rc && (rc = clv_graph_mark_output(b->g, y.id)) != 0)
        clv_zoo__fail(b, rc, "cannot mark the output: %s", clv_strerror(rc));
    if (!b->rc && (rc = clv_graph_finalize(b->g, b->err)) != 0)
        zb_pass(b, rc);
    if (!b->rc) {
        /* The graph's own shape inference must agree with the builder's. */
        const clv_tensor *t = clv_graph_tensor(b->g, y.id);
        int64_t want[4] = {1, y.c, y.h, y.w};
        bool same = t && t->ndim == y.ndim;
        for (int i = 0; same && i < y.ndim; i++)
            same = t->dims[i] == want[i];
        if (!same) {
            char got[96], want_s[96];
            if (t)
                clv_tensor_shape_str(t, got, sizeof got);
            else
                snprintf(got, sizeof got, "missing");
            if (y.ndim == 4)
                snprintf(want_s, sizeof want_s, "1x%lldx%lldx%lld",
                         (long long)y.c, (long long)y.h, (long long)y.w);
            else
                snprintf(want_s, sizeof want_s, "1x%lld", (long long)y.c);
            clv_zoo__fail(b, CLV_ESHAPE,
                          "internal: 'output' was inferred as %s, the builder "
                          "expected %s",
                          got, want_s);
        }
    }
    if (b->rc) {
        clv_graph_free(b->g);
        b->g = NULL;
        return b->rc;
    }
    *out = b->g;
    b->g = NULL;
    return 0;
}

int64_t clv_zoo__win_out(int64_t n, int64_t k, int64_t s, int64_t pb,
                         int64_t pe, bool ceil_mode)
{
    int64_t num = n + pb + pe - k;
    if (num < 0 || s < 1)
        return 0;
    return (ceil_mode ? (num + s - 1) / s : num / s) + 1;
}

/* Checks that a k x k window fits the input of node `name`. */
static bool zb_window(clv_zoo_builder *b, const char *name, clv_zoo_val x,
                      int64_t k, int64_t pb, int64_t pe)
{
    if (x.h + pb + pe >= k && x.w + pb + pe >= k)
        return true;
    clv_zoo__fail(b, CLV_ERANGE,
                  "node '%s' gets a %lldx%lld input (padding %lld+%lld), "
                  "smaller than its %lldx%lld window; the input is too small "
                  "for this network",
                  name, (long long)x.h, (long long)x.w, (long long)pb,
                  (long long)pe, (long long)k, (long long)k);
    return false;
}

clv_zoo_val clv_zoo__conv(clv_zoo_builder *b, clv_zoo_val x, int64_t cout,
                          int64_t k, int64_t s, int64_t p, int64_t group,
                          bool bias, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int in[3], node;
    float *w, *bd;
    ZB_NAME(b, name, fmt);
    assert(x.ndim == 4 && group >= 1 && x.c % group == 0 &&
           cout % group == 0);
    if (!zb_window(b, name, x, k, p, p))
        return zb_none;
    int64_t fan_in = x.c / group * k * k;
    const int64_t wd[4] = {cout, x.c / group, k, k};
    in[0] = x.id;
    in[1] = zb_weight(b, name, "weight", 4, wd, &w);
    if (w)
        clv_rng_fill_normal(&b->rng, w, (size_t)(cout * fan_in),
                       sqrt(2.0 / (double)fan_in));
    if (bias) {
        in[2] = zb_weight(b, name, "bias", 1, &cout, &bd);
        if (bd)
            clv_rng_fill_uniform(&b->rng, bd, (size_t)cout, -0.01f, 0.01f);
    }
    clv_zoo_val y = {-1, 4, cout, clv_zoo__win_out(x.h, k, s, p, p, false),
                     clv_zoo__win_out(x.w, k, s, p, p, false)};
    y = zb_node(b, name, CLV_OP_CONV, bias ? 3 : 2, in, y, &node);
    const int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p},
                  dil[2] = {1, 1};
    zb_ints(b, node, name, "kernel_shape", 2, ks);
    zb_ints(b, node, name, "strides", 2, st);
    zb_ints(b, node, name, "pads", 4, pads);
    zb_ints(b, node, name, "dilations", 2, dil);
    zb_int(b, node, name, "group", group);
    return b->rc ? zb_none : y;
}

clv_zoo_val clv_zoo__bn(clv_zoo_builder *b, clv_zoo_val x, float eps,
                        const char *fmt, ...)
{
    static const char *const suffix[4] = {"weight", "bias", "running_mean",
                                          "running_var"};
    static const float lo[4] = {0.8f, -0.1f, -0.1f, 0.5f};
    static const float hi[4] = {1.2f, 0.1f, 0.1f, 1.5f};
    char name[ZB_NAME_MAX];
    int in[5], node;
    ZB_NAME(b, name, fmt);
    assert(x.ndim == 4);
    in[0] = x.id;
    for (int i = 0; i < 4; i++) {
        float *d;
        in[1 + i] = zb_weight(b, name, suffix[i], 1, &x.c, &d);
        if (d)
            clv_rng_fill_uniform(&b->rng, d, (size_t)x.c, lo[i], hi[i]);
    }
    clv_zoo_val y = zb_node(b, name, CLV_OP_BATCHNORM, 5, in, x, &node);
    zb_float(b, node, name, "epsilon", eps);
    return b->rc ? zb_none : y;
}

clv_zoo_val clv_zoo__unary(clv_zoo_builder *b, clv_op op, clv_zoo_val x,
                           const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int node;
    ZB_NAME(b, name, fmt);
    clv_zoo_val y = x;
    switch (op) {
    case CLV_OP_FLATTEN:
        y.ndim = 2;
        y.c = x.c * x.h * x.w;
        y.h = y.w = 1;
        break;
    case CLV_OP_GLOBALAVERAGEPOOL:
        assert(x.ndim == 4);
        y.h = y.w = 1;
        break;
    default:
        assert(op == CLV_OP_RELU || op == CLV_OP_DROPOUT);
        break;
    }
    y = zb_node(b, name, op, 1, &x.id, y, &node);
    if (op == CLV_OP_FLATTEN)
        zb_int(b, node, name, "axis", 1);
    return b->rc ? zb_none : y;
}

clv_zoo_val clv_zoo__leaky(clv_zoo_builder *b, clv_zoo_val x, float alpha,
                           const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int node;
    ZB_NAME(b, name, fmt);
    clv_zoo_val y = zb_node(b, name, CLV_OP_LEAKYRELU, 1, &x.id, x, &node);
    zb_float(b, node, name, "alpha", alpha);
    return b->rc ? zb_none : y;
}

clv_zoo_val clv_zoo__clip(clv_zoo_builder *b, clv_zoo_val x, float lo,
                          float hi, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int node;
    ZB_NAME(b, name, fmt);
    clv_zoo_val y = zb_node(b, name, CLV_OP_CLIP, 1, &x.id, x, &node);
    zb_float(b, node, name, "min", lo);
    zb_float(b, node, name, "max", hi);
    return b->rc ? zb_none : y;
}

clv_zoo_val clv_zoo__pool(clv_zoo_builder *b, clv_op op, clv_zoo_val x,
                          int64_t k, int64_t s, int64_t pb, int64_t pe,
                          bool ceil_mode, const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int node;
    ZB_NAME(b, name, fmt);
    assert(x.ndim == 4 &&
           (op == CLV_OP_MAXPOOL || op == CLV_OP_AVERAGEPOOL));
    if (!zb_window(b, name, x, k, pb, pe))
        return zb_none;
    clv_zoo_val y = {-1, 4, x.c,
                     clv_zoo__win_out(x.h, k, s, pb, pe, ceil_mode),
                     clv_zoo__win_out(x.w, k, s, pb, pe, ceil_mode)};
    y = zb_node(b, name, op, 1, &x.id, y, &node);
    const int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {pb, pb, pe, pe};
    zb_ints(b, node, name, "kernel_shape", 2, ks);
    zb_ints(b, node, name, "strides", 2, st);
    zb_ints(b, node, name, "pads", 4, pads);
    zb_int(b, node, name, "ceil_mode", ceil_mode ? 1 : 0);
    if (op == CLV_OP_AVERAGEPOOL)
        zb_int(b, node, name, "count_include_pad", 0);
    return b->rc ? zb_none : y;
}

clv_zoo_val clv_zoo__add(clv_zoo_builder *b, clv_zoo_val x, clv_zoo_val y,
                         const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int in[2] = {x.id, y.id}, node;
    ZB_NAME(b, name, fmt);
    assert(x.ndim == y.ndim && x.c == y.c && x.h == y.h && x.w == y.w);
    return zb_node(b, name, CLV_OP_ADD, 2, in, x, &node);
}

clv_zoo_val clv_zoo__concat(clv_zoo_builder *b, int n, const clv_zoo_val *xs,
                            const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int in[8], node;
    ZB_NAME(b, name, fmt);
    assert(n >= 1 && n <= 8);
    clv_zoo_val y = xs[0];
    y.c = 0;
    for (int i = 0; i < n; i++) {
        assert(xs[i].ndim == 4 && xs[i].h == xs[0].h && xs[i].w == xs[0].w);
        in[i] = xs[i].id;
        y.c += xs[i].c;
    }
    y = zb_node(b, name, CLV_OP_CONCAT, n, in, y, &node);
    zb_int(b, node, name, "axis", 1);
    return b->rc ? zb_none : y;
}

clv_zoo_val clv_zoo__gemm(clv_zoo_builder *b, clv_zoo_val x, int64_t out,
                          const char *fmt, ...)
{
    char name[ZB_NAME_MAX];
    int in[3], node;
    float *w, *bd;
    ZB_NAME(b, name, fmt);
    assert(x.ndim == 2);
    const int64_t wd[2] = {out, x.c};
    in[0] = x.id;
    in[1] = zb_weight(b, name, "weight", 2, wd, &w);
    if (w)
        clv_rng_fill_normal(&b->rng, w, (size_t)(out * x.c),
                       sqrt(2.0 / (double)x.c));
    in[2] = zb_weight(b, name, "bias", 1, &out, &bd);
    if (bd)
        clv_rng_fill_uniform(&b->rng, bd, (size_t)out, -0.01f, 0.01f);
    clv_zoo_val y = {-1, 2, out, 1, 1};
    y = zb_node(b, name, CLV_OP_GEMM, 3, in, y, &node);
    zb_float(b, node, name, "alpha", 1.0f);
    zb_float(b, node, name, "beta", 1.0f);
    zb_int(b, node, name, "transA", 0);
    zb_int(b, node, name, "transB", 1);
    return b->rc ? zb_none : y;
}
