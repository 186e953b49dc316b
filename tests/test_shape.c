/*
 * Tests of shape inference, canonical forms, FLOPs and constant folding
 * (src/graph/shape*.c, fold.c), through the public builder API and
 * clv_graph_finalize(). Every expected shape and FLOP count below was
 * worked out by hand from the ONNX operator definitions; the arithmetic is
 * written next to the value.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/graph.h"

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define NDIMS(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

/* ---- building helpers --------------------------------------------------- */

static clv_graph *new_graph(int opset)
{
    clv_graph *g = clv_graph_create();
    CHECK(g != NULL);
    clv_graph_set_opset(g, opset);
    return g;
}

/* A run-time input of known shape. */
static int input(clv_graph *g, const char *name, clv_dtype dt, int nd,
                 const int64_t *dims)
{
    int id = -1;
    clv_error err;
    clv_error_clear(&err);
    CHECKF(clv_graph_add_tensor(g, name, dt, nd, dims, &id, &err) == 0,
           "%s", err.msg);
    CHECK(clv_graph_mark_input(g, id) == 0);
    return id;
}

/* A tensor whose shape finalize infers. */
static int var(clv_graph *g, const char *name)
{
    int id = -1;
    clv_error err;
    clv_error_clear(&err);
    CHECKF(clv_graph_add_tensor(g, name, CLV_DT_UNDEFINED, -1, NULL, &id,
                                &err) == 0,
           "%s", err.msg);
    return id;
}

static int output(clv_graph *g, const char *name)
{
    int id = var(g, name);
    CHECK(clv_graph_mark_output(g, id) == 0);
    return id;
}

/* A constant; `vals` (may be NULL: zeros) holds numel elements of dt. */
static int cst(clv_graph *g, const char *name, clv_dtype dt, int nd,
               const int64_t *dims, const void *vals)
{
    int id = -1;
    void *data = NULL;
    clv_error err;
    clv_error_clear(&err);
    CHECKF(clv_graph_add_tensor(g, name, dt, nd, dims, &id, &err) == 0,
           "%s", err.msg);
    CHECKF(clv_graph_alloc_data(g, id, &data, &err) == 0, "%s", err.msg);
    if (vals && data) {
        int64_t n = 1;
        for (int i = 0; i < nd; i++)
            n *= dims[i];
        memcpy(data, vals, (size_t)n * clv_dtype_size(dt));
    }
    return id;
}

static int cst_i64(clv_graph *g, const char *name, int n, const int64_t *v)
{
    int64_t d = n;
    return cst(g, name, CLV_DT_INT64, 1, &d, v);
}

static int cst_scalar_f(clv_graph *g, const char *name, float v)
{
    return cst(g, name, CLV_DT_FLOAT, 0, NULL, &v);
}

static int node(clv_graph *g, const char *name, clv_op op, int nin,
                const int *in, int nout, const int *out)
{
    int id = -1;
    clv_error err;
    clv_error_clear(&err);
    CHECKF(clv_graph_add_node(g, name, op, nin, in, nout, out, &id, &err) ==
               0,
           "%s", err.msg);
    return id;
}

#define NODE(g, name, op, ins, outs)                                       \
    node(g, name, op, (int)(sizeof((int[])ins) / sizeof(int)), (int[])ins, \
         (int)(sizeof((int[])outs) / sizeof(int)), (int[])outs)
#define L(...) {__VA_ARGS__}

static void set_ints(clv_graph *g, int n, const char *name, int cnt,
                     const int64_t *v)
{
    CHECK(clv_graph_set_ints(g, n, name, (size_t)cnt, v) == 0);
}
#define SET_INTS(g, n, name, ...) set_ints(g, n, name, NDIMS(__VA_ARGS__), \
                                           DIMS(__VA_ARGS__))

static int finalize(clv_graph *g, clv_error *err)
{
    clv_error_clear(err);
    return clv_graph_finalize(g, err);
}

/* Finalizes and reports the message on failure. */
static bool finalize_ok(clv_graph *g)
{
    clv_error err;
    int rc = finalize(g, &err);
    CHECKF(rc == 0, "finalize: %s", clv_error_text(&err, rc));
    return rc == 0;
}

static const clv_node *find_node(const clv_graph *g, const char *name)
{
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        if (strcmp(clv_graph_node(g, i)->name, name) == 0)
            return clv_graph_node(g, i);
    return NULL;
}

static const clv_tensor *find_tensor(const clv_graph *g, const char *name)
{
    return clv_graph_tensor(g, clv_graph_find_tensor(g, name));
}

static bool dims_are(const clv_graph *g, const char *name, int nd,
                     const int64_t *dims)
{
    const clv_tensor *t = find_tensor(g, name);
    char got[128] = "missing", want[128];
    bool ok = t && t->ndim == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = t->dims[i] == dims[i];
    if (t)
        clv_tensor_shape_str(t, got, sizeof got);
    if (!ok) {
        size_t used = 0;
        want[0] = '\0';
        for (int i = 0; i < nd; i++)
            used += (size_t)snprintf(want + used, sizeof want - used,
                                     "%s%lld", i ? "x" : "",
                                     (long long)dims[i]);
        fprintf(stderr, "  tensor '%s': shape %s, expected %s\n", name, got,
                nd ? want : "scalar");
    }
    return ok;
}
#define CHECK_DIMS(g, name, ...)                                      \
    CHECK(dims_are(g, name, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__)))
#define CHECK_SCALAR(g, name) CHECK(dims_are(g, name, 0, NULL))

static bool ints_are(const clv_node *n, const char *attr, int cnt,
                     const int64_t *v)
{
    size_t c = 0;
    const int64_t *got = n ? clv_node_ints(n, attr, &c) : NULL;
    bool ok = got && (int)c == cnt;
    for (int i = 0; ok && i < cnt; i++)
        ok = got[i] == v[i];
    if (!ok) {
        fprintf(stderr, "  node '%s' attribute %s =", n ? n->name : "?",
                attr);
        for (size_t i = 0; got && i < c; i++)
            fprintf(stderr, " %lld", (long long)got[i]);
        fprintf(stderr, "%s\n", got ? "" : " (absent)");
    }
    return ok;
}
#define CHECK_INTS(n, attr, ...)                                       \
    CHECK(ints_are(n, attr, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__)))

/* Expects finalize to fail with `code` and a message naming `node` and
 * containing `text`. */
static void expect_error(clv_graph *g, int code, const char *node,
                         const char *text)
{
    clv_error err;
    char quoted[64];
    int rc = finalize(g, &err);
    snprintf(quoted, sizeof quoted, "'%s'", node);
    CHECKF(rc == code, "got %d (%s), expected %d (%s): %s", rc,
           clv_strerror(rc), code, clv_strerror(code), err.msg);
    CHECKF(err.code == code, "err.code %d", err.code);
    CHECKF(strstr(err.msg, quoted) != NULL, "message does not name %s: %s",
           quoted, err.msg);
    CHECKF(strstr(err.msg, text) != NULL, "message lacks \"%s\": %s", text,
           err.msg);
    clv_graph_free(g);
}

/* ---- convolution -------------------------------------------------------- */

static void test_conv(void)
{
    clv_graph *g = new_graph(13);
    int x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 3, 224, 224));
    int w = cst(g, "w", CLV_DT_FLOAT, 4, DIMS(64, 3, 7, 7), NULL);
    int b = cst(g, "b", CLV_DT_FLOAT, 1, DIMS(64), NULL);
    int y = var(g, "y");
    int n = NODE(g, "conv1", CLV_OP_CONV, L(x, w, b), L(y));
    SET_INTS(g, n, "strides", 2, 2);
    SET_INTS(g, n, "pads", 3, 3, 3, 3);

    /* dilation 2: 3x3 kernel spans 5, (10 - 5)/1 + 1 = 6 */
    int x2 = input(g, "x2", CLV_DT_FLOAT, 4, DIMS(1, 1, 10, 10));
    int w2 = cst(g, "w2", CLV_DT_FLOAT, 4, DIMS(1, 1, 3, 3), NULL);
    int y2 = var(g, "y2");
    n = NODE(g, "dil", CLV_OP_CONV, L(x2, w2), L(y2));
    SET_INTS(g, n, "dilations", 2, 2);

    /* group 2: W is (8, 4/2, 3, 3); pads 1 keep 8x8 */
    int x3 = input(g, "x3", CLV_DT_FLOAT, 4, DIMS(1, 4, 8, 8));
    int w3 = cst(g, "w3", CLV_DT_FLOAT, 4, DIMS(8, 2, 3, 3), NULL);
    int y3 = var(g, "y3");
    n = NODE(g, "grp", CLV_OP_CONV, L(x3, w3), L(y3));
    CHECK(clv_graph_set_int(g, n, "group", 2) == 0);
    SET_INTS(g, n, "pads", 1, 1, 1, 1);

    /* SAME_UPPER, 2x2 kernel on 5: out 5, total pad (5-1)*1 + 2 - 5 = 1,
     * odd: begin 0, end 1 */
    int x4 = input(g, "x4", CLV_DT_FLOAT, 4, DIMS(1, 1, 5, 5));
    int w4 = cst(g, "w4", CLV_DT_FLOAT, 4, DIMS(1, 1, 2, 2), NULL);
    int y4 = var(g, "y4"), y5 = var(g, "y5");
    n = NODE(g, "same_upper", CLV_OP_CONV, L(x4, w4), L(y4));
    CHECK(clv_graph_set_string(g, n, "auto_pad", "SAME_UPPER") == 0);
    n = NODE(g, "same_lower", CLV_OP_CONV, L(x4, w4), L(y5));
    CHECK(clv_graph_set_string(g, n, "auto_pad", "SAME_LOWER") == 0);

    /* SAME_UPPER, 3x3 stride 1 on 5: total 4 + 3 - 5 = 2, even: 1 and 1;
     * 3x3 stride 2 on 6: out 3, total 2*2 + 3 - 6 = 1: 0 and 1 */
    int w6 = cst(g, "w6", CLV_DT_FLOAT, 4, DIMS(1, 1, 3, 3), NULL);
    int x7 = input(g, "x7", CLV_DT_FLOAT, 4, DIMS(1, 1, 6, 6));
    int y6 = var(g, "y6"), y7 = var(g, "y7"), y8 = var(g, "y8");
    n = NODE(g, "same_even", CLV_OP_CONV, L(x4, w6), L(y6));
    CHECK(clv_graph_set_string(g, n, "auto_pad", "SAME_UPPER") == 0);
    n = NODE(g, "same_s2", CLV_OP_CONV, L(x7, w6), L(y7));
    CHECK(clv_graph_set_string(g, n, "auto_pad", "SAME_UPPER") == 0);
    SET_INTS(g, n, "strides", 2, 2);
    /* VALID, 3x3 stride 2 on 6: (6 - 3)/2 + 1 = 2 */
    n = NODE(g, "valid", CLV_OP_CONV, L(x7, w6), L(y8));
    CHECK(clv_graph_set_string(g, n, "auto_pad", "VALID") == 0);
    SET_INTS(g, n, "strides", 2, 2);

    /* 1-D conv: (1, 2, 9) with (4, 2, 3), stride 3: (9-3)/3 + 1 = 3 */
    int x9 = input(g, "x9", CLV_DT_FLOAT, 3, DIMS(1, 2, 9));
    int w9 = cst(g, "w9", CLV_DT_FLOAT, 3, DIMS(4, 2, 3), NULL);
    int y9 = var(g, "y9");
    n = NODE(g, "conv1d", CLV_OP_CONV, L(x9, w9), L(y9));
    SET_INTS(g, n, "strides", 3);

    int outs[] = {y, y2, y3, y4, y5, y6, y7, y8, y9};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        clv_graph_mark_output(g, outs[i]);
    if (!finalize_ok(g))
        goto out;

    /* (224 + 6 - 7)/2 + 1 = 112 */
    CHECK_DIMS(g, "y", 1, 64, 112, 112);
    const clv_node *c = find_node(g, "conv1");
    /* 2*N*M*outHW*(C/group)*kHkW + N*M*outHW
     * = 2*64*12544*3*49 + 64*12544 = 236027904 + 802816 */
    CHECKF(c && c->flops == 236830720ull, "conv flops %llu",
           c ? (unsigned long long)c->flops : 0ull);
    CHECK_INTS(c, "kernel_shape", 7, 7);
    CHECK_INTS(c, "dilations", 1, 1);
    CHECK(clv_node_int(c, "group", 0) == 1);
    CHECK(c->param_bytes == (64 * 3 * 49 + 64) * 4);
    CHECK(c->out_bytes == 64ull * 112 * 112 * 4);

    CHECK_DIMS(g, "y2", 1, 1, 6, 6);
    CHECK_DIMS(g, "y3", 1, 8, 8, 8);
    /* 2*1*8*64*(4/2)*9 = 18432, no bias */
    CHECK(find_node(g, "grp")->flops == 18432);

    CHECK_DIMS(g, "y4", 1, 1, 5, 5);
    CHECK_INTS(find_node(g, "same_upper"), "pads", 0, 0, 1, 1);
    CHECK(clv_node_attr(find_node(g, "same_upper"), "auto_pad") == NULL);
    CHECK_DIMS(g, "y5", 1, 1, 5, 5);
    CHECK_INTS(find_node(g, "same_lower"), "pads", 1, 1, 0, 0);
    CHECK_DIMS(g, "y6", 1, 1, 5, 5);
    CHECK_INTS(find_node(g, "same_even"), "pads", 1, 1, 1, 1);
    CHECK_DIMS(g, "y7", 1, 1, 3, 3);
    CHECK_INTS(find_node(g, "same_s2"), "pads", 0, 0, 1, 1);
    CHECK_DIMS(g, "y8", 1, 1, 2, 2);
    CHECK_INTS(find_node(g, "valid"), "pads", 0, 0, 0, 0);
    CHECK_DIMS(g, "y9", 1, 4, 3);
    CHECK_INTS(find_node(g, "conv1d"), "pads", 0, 0);
out:
    clv_graph_free(g);
}

/* ---- pooling ------------------------------------------------------------ */

static void test_pool(void)
{
    clv_graph *g = new_graph(13);
    int x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 2, 5, 5));
    int x6 = input(g, "x6", CLV_DT_FLOAT, 4, DIMS(1, 2, 6, 6));
    int x7 = input(g, "x7", CLV_DT_FLOAT, 4, DIMS(1, 2, 7, 7));
    int y[8];
    char name[8];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "y%d", i);
        y[i] = output(g, name);
    }
    int n = NODE(g, "floor", CLV_OP_MAXPOOL, L(x), L(y[0]));
    SET_INTS(g, n, "kernel_shape", 2, 2);
    SET_INTS(g, n, "strides", 2, 2);
    n = NODE(g, "ceil", CLV_OP_MAXPOOL, L(x), L(y[1]));
    SET_INTS(g, n, "kernel_shape", 2, 2);
    SET_INTS(g, n, "strides", 2, 2);
    CHECK(clv_graph_set_int(g, n, "ceil_mode", 1) == 0);
    /* the last window would start in the right padding: dropped */
    n = NODE(g, "ceil_pad", CLV_OP_MAXPOOL, L(x), L(y[2]));
    SET_INTS(g, n, "kernel_shape", 2, 2);
    SET_INTS(g, n, "strides", 2, 2);
    SET_INTS(g, n, "pads", 1, 1, 1, 1);
    CHECK(clv_graph_set_int(g, n, "ceil_mode", 1) == 0);
    n = NODE(g, "ceil6", CLV_OP_MAXPOOL, L(x6), L(y[3]));
    SET_INTS(g, n, "kernel_shape", 3, 3);
    SET_INTS(g, n, "strides", 2, 2);
    CHECK(clv_graph_set_int(g, n, "ceil_mode", 1) == 0);
    n = NODE(g, "dilated", CLV_OP_MAXPOOL, L(x7), L(y[4]));
    SET_INTS(g, n, "kernel_shape", 3, 3);
    SET_INTS(g, n, "dilations", 2, 2);
    n = NODE(g, "avg", CLV_OP_AVERAGEPOOL, L(x7), L(y[5]));
    SET_INTS(g, n, "kernel_shape", 3, 3);
    SET_INTS(g, n, "strides", 2, 2);
    SET_INTS(g, n, "pads", 1, 1, 1, 1);
    n = NODE(g, "avg_cip", CLV_OP_AVERAGEPOOL, L(x7), L(y[6]));
    SET_INTS(g, n, "kernel_shape", 3, 3);
    CHECK(clv_graph_set_int(g, n, "count_include_pad", 1) == 0);
    NODE(g, "gap", CLV_OP_GLOBALAVERAGEPOOL, L(x7), L(y[7]));
    if (!finalize_ok(g))
        goto out;
    /* (5 - 2)/2 + 1 = 2 */
    CHECK_DIMS(g, "y0", 1, 2, 2, 2);
    /* ceil((5 - 2)/2) + 1 = 3; window 2 starts at 4 < 5 */
    CHECK_DIMS(g, "y1", 1, 2, 3, 3);
    /* ceil((7 - 2)/2) + 1 = 4, but window 3 would start at 6 >= 5 + 1 */
    CHECK_DIMS(g, "y2", 1, 2, 3, 3);
    /* ceil((6 - 3)/2) + 1 = 3 (floor would give 2) */
    CHECK_DIMS(g, "y3", 1, 2, 3, 3);
    /* 3 taps dilated by 2 span 5: (7 - 5) + 1 = 3 */
    CHECK_DIMS(g, "y4", 1, 2, 3, 3);
    CHECK_INTS(find_node(g, "dilated"), "dilations", 2, 2);
    /* (7 + 2 - 3)/2 + 1 = 4 */
    CHECK_DIMS(g, "y5", 1, 2, 4, 4);
    CHECK(clv_node_int(find_node(g, "avg"), "count_include_pad", -1) == 0);
    CHECK(clv_node_int(find_node(g, "avg"), "ceil_mode", -1) == 0);
    CHECK_DIMS(g, "y6", 1, 2, 5, 5);
    CHECK(clv_node_int(find_node(g, "avg_cip"), "count_include_pad", -1) ==
          1);
    CHECK_INTS(find_node(g, "avg_cip"), "strides", 1, 1);
    /* out numel * kernel: 2*4*4 * 9 = 288 */
    CHECK(find_node(g, "avg")->flops == 288);
    CHECK_DIMS(g, "y7", 1, 2, 1, 1);
    CHECK(find_node(g, "gap")->flops == 98); /* input numel 2*7*7 */
out:
    clv_graph_free(g);
}

/* ---- dense --------------------------------------------------------------- */

static void test_dense(void)
{
    clv_graph *g = new_graph(13);
    int a = input(g, "a", CLV_DT_FLOAT, 2, DIMS(4, 5));
    int b = cst(g, "b", CLV_DT_FLOAT, 2, DIMS(3, 5), NULL);
    int c = cst(g, "c", CLV_DT_FLOAT, 1, DIMS(3), NULL);
    int y = output(g, "y");
    int n = NODE(g, "fc", CLV_OP_GEMM, L(a, b, c), L(y));
    CHECK(clv_graph_set_int(g, n, "transB", 1) == 0);

    int m1 = input(g, "m1", CLV_DT_FLOAT, 4, DIMS(2, 1, 3, 4));
    int m2 = input(g, "m2", CLV_DT_FLOAT, 3, DIMS(5, 4, 6));
    int v = input(g, "v", CLV_DT_FLOAT, 1, DIMS(4));
    int m3 = input(g, "m3", CLV_DT_FLOAT, 3, DIMS(2, 3, 4));
    int z1 = output(g, "z1"), z2 = output(g, "z2"), z3 = output(g, "z3");
    NODE(g, "mm", CLV_OP_MATMUL, L(m1, m2), L(z1));
    NODE(g, "vm", CLV_OP_MATMUL, L(v, m2), L(z2));
    NODE(g, "mv", CLV_OP_MATMUL, L(m3, v), L(z3));
    if (!finalize_ok(g))
        goto out;
    CHECK_DIMS(g, "y", 4, 3);
    const clv_node *fc = find_node(g, "fc");
    /* 2*M*N*K + M*N = 2*4*3*5 + 12 */
    CHECK(fc->flops == 132);
    CHECK(clv_node_int(fc, "transA", -1) == 0);
    CHECK(clv_node_float(fc, "alpha", 0) == 1.0f);
    CHECK(clv_node_float(fc, "beta", 0) == 1.0f);
    /* batch (2,1) with (5) -> (2,5); 3x4 @ 4x6 */
    CHECK_DIMS(g, "z1", 2, 5, 3, 6);
    CHECK(find_node(g, "mm")->flops == 2 * 10 * 3 * 6 * 4);
    CHECK_DIMS(g, "z2", 5, 6); /* 1-D A: its 1 is dropped */
    CHECK_DIMS(g, "z3", 2, 3); /* 1-D B */
out:
    clv_graph_free(g);
}

/* ---- element-wise, activations, normalisation --------------------------- */

static void test_elementwise(void)
{
    clv_graph *g = new_graph(13);
    int a = input(g, "a", CLV_DT_FLOAT, 4, DIMS(1, 64, 56, 56));
    int b = cst(g, "b", CLV_DT_FLOAT, 3, DIMS(64, 1, 1), NULL);
    int p = input(g, "p", CLV_DT_FLOAT, 2, DIMS(3, 1));
    int q = input(g, "q", CLV_DT_FLOAT, 2, DIMS(1, 4));
    int y = output(g, "y"), z = output(g, "z"), r = output(g, "r");
    NODE(g, "add", CLV_OP_ADD, L(a, b), L(y));
    NODE(g, "mul", CLV_OP_MUL, L(p, q), L(z));
    int slope = cst(g, "slope", CLV_DT_FLOAT, 3, DIMS(64, 1, 1), NULL);
    NODE(g, "prelu", CLV_OP_PRELU, L(a, slope), L(r));
    int l = output(g, "l");
    NODE(g, "leaky", CLV_OP_LEAKYRELU, L(a), L(l));
    int lrn = output(g, "lrn");
    int n = NODE(g, "lrn", CLV_OP_LRN, L(a), L(lrn));
    CHECK(clv_graph_set_int(g, n, "size", 5) == 0);

    /* BatchNormalization with unused training outputs */
    int s = cst(g, "s", CLV_DT_FLOAT, 1, DIMS(64), NULL);
    int bb = cst(g, "bb", CLV_DT_FLOAT, 1, DIMS(64), NULL);
    int mu = cst(g, "mu", CLV_DT_FLOAT, 1, DIMS(64), NULL);
    int var_ = cst(g, "var", CLV_DT_FLOAT, 1, DIMS(64), NULL);
    int bn = output(g, "bn"), rm = var(g, "rm"), rv = var(g, "rv");
    NODE(g, "bn", CLV_OP_BATCHNORM, L(a, s, bb, mu, var_), L(bn, rm, rv));
    int d = output(g, "d"), mask = var(g, "mask");
    NODE(g, "drop", CLV_OP_DROPOUT, L(a), L(d, mask));
    if (!finalize_ok(g))
        goto out;
    CHECK_DIMS(g, "y", 1, 64, 56, 56);
    CHECK(find_node(g, "add")->flops == 64 * 56 * 56);
    CHECK_DIMS(g, "z", 3, 4);
    CHECK(find_node(g, "mul")->flops == 12);
    CHECK_DIMS(g, "r", 1, 64, 56, 56);
    CHECK(clv_node_float(find_node(g, "leaky"), "alpha", 0) == 0.01f);
    const clv_node *ln = find_node(g, "lrn");
    CHECK(ln->flops == 64ull * 56 * 56 * 7); /* numel * (size + 2) */
    CHECK(clv_node_float(ln, "alpha", 0) == 1e-4f);
    CHECK(clv_node_float(ln, "beta", 0) == 0.75f);
    CHECK(clv_node_float(ln, "bias", 0) == 1.0f);
    CHECK_DIMS(g, "bn", 1, 64, 56, 56);
    CHECK_DIMS(g, "rm", 64);
    CHECK(find_node(g, "bn")->flops == 2ull * 64 * 56 * 56);
    CHECK(clv_node_float(find_node(g, "bn"), "epsilon", 0) == 1e-5f);
    CHECK_DIMS(g, "mask", 1, 64, 56, 56);
    CHECK(find_tensor(g, "mask")->dtype == CLV_DT_BOOL);
out:
    clv_graph_free(g);
}

static void test_softmax_clip_by_opset(void)
{
    for (int k = 0; k < 2; k++) {
        int opset = k ? 13 : 11;
        clv_graph *g = new_graph(opset);
        int x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(2, 3, 4, 5));
        int y = output(g, "y");
        NODE(g, "sm", CLV_OP_SOFTMAX, L(x), L(y));
        if (finalize_ok(g)) {
            const clv_node *n = find_node(g, "sm");
            CHECK(clv_node_int(n, "axis", -9) == (opset < 13 ? 1 : 3));
            CHECK(clv_node_int(n, "legacy", -9) == (opset < 13 ? 1 : 0));
            CHECK(n->flops == 3 * 120);
            CHECK_DIMS(g, "y", 2, 3, 4, 5);
        }
        clv_graph_free(g);
    }

    /* Clip-6: attributes */
    clv_graph *g = new_graph(6);
    int x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(2, 3));
    int y = output(g, "y");
    int n = NODE(g, "relu6", CLV_OP_CLIP, L(x), L(y));
    CHECK(clv_graph_set_float(g, n, "min", 0.0f) == 0);
    CHECK(clv_graph_set_float(g, n, "max", 6.0f) == 0);
    if (finalize_ok(g)) {
        const clv_node *c = find_node(g, "relu6");
        CHECK(clv_node_float(c, "min", -1) == 0.0f);
        CHECK(clv_node_float(c, "max", -1) == 6.0f);
        CHECK(c->flops == 6);
    }
    clv_graph_free(g);

    /* Clip-11: inputs min, max; and only max */
    g = new_graph(11);
    x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(2, 3));
    int lo = cst_scalar_f(g, "lo", 0.0f), hi = cst_scalar_f(g, "hi", 6.0f);
    y = output(g, "y");
    int z = output(g, "z");
    NODE(g, "relu6", CLV_OP_CLIP, L(x, lo, hi), L(y));
    NODE(g, "top", CLV_OP_CLIP, L(x, -1, hi), L(z));
    if (finalize_ok(g)) {
        const clv_node *c = find_node(g, "relu6");
        CHECK(c->n_inputs == 1);
        CHECK(clv_node_float(c, "min", -1) == 0.0f);
        CHECK(clv_node_float(c, "max", -1) == 6.0f);
        c = find_node(g, "top");
        CHECK(c->n_inputs == 1);
        CHECK(isinf(clv_node_float(c, "min", 0)) &&
              clv_node_float(c, "min", 0) < 0);
        CHECK(clv_node_float(c, "max", -1) == 6.0f);
        CHECK_DIMS(g, "z", 2, 3);
    }
    clv_graph_free(g);
}

/* ---- data movement ------------------------------------------------------- */

static void test_movement(void)
{
    clv_graph *g = new_graph(13);
    int a = input(g, "a", CLV_DT_FLOAT, 4, DIMS(1, 2, 4, 4));
    int b = input(g, "b", CLV_DT_FLOAT, 4, DIMS(1, 3, 4, 4));
    int c1 = output(g, "c1"), c2 = output(g, "c2");
    int n = NODE(g, "cat", CLV_OP_CONCAT, L(a, b), L(c1));
    CHECK(clv_graph_set_int(g, n, "axis", 1) == 0);
    n = NODE(g, "cat_last", CLV_OP_CONCAT, L(a, a), L(c2));
    CHECK(clv_graph_set_int(g, n, "axis", -1) == 0);

    int x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(2, 3, 4, 5));
    int f0 = output(g, "f0"), f1 = output(g, "f1"), f3 = output(g, "f3");
    n = NODE(g, "flat0", CLV_OP_FLATTEN, L(x), L(f0));
    CHECK(clv_graph_set_int(g, n, "axis", 0) == 0);
    NODE(g, "flat1", CLV_OP_FLATTEN, L(x), L(f1));
    n = NODE(g, "flat3", CLV_OP_FLATTEN, L(x), L(f3));
    CHECK(clv_graph_set_int(g, n, "axis", -1) == 0);

    int s1 = cst_i64(g, "s1", 4, DIMS(0, 0, -1, 2));
    int s2 = cst_i64(g, "s2", 2, DIMS(-1, 20));
    int r1 = output(g, "r1"), r2 = output(g, "r2");
    NODE(g, "rs1", CLV_OP_RESHAPE, L(x, s1), L(r1));
    NODE(g, "rs2", CLV_OP_RESHAPE, L(x, s2), L(r2));

    int t1 = output(g, "t1"), t2 = output(g, "t2");
    NODE(g, "tr", CLV_OP_TRANSPOSE, L(x), L(t1));
    n = NODE(g, "tr2", CLV_OP_TRANSPOSE, L(x), L(t2));
    SET_INTS(g, n, "perm", 0, 2, -1, 1);

    int idx = cst_i64(g, "idx", 2, DIMS(2, -1));
    int ga = output(g, "ga");
    n = NODE(g, "gather", CLV_OP_GATHER, L(x, idx), L(ga));
    CHECK(clv_graph_set_int(g, n, "axis", -2) == 0);

    int sh = output(g, "sh");
    n = NODE(g, "shape", CLV_OP_SHAPE, L(x), L(sh));
    CHECK(clv_graph_set_int(g, n, "start", -3) == 0);

    int ci = output(g, "ci");
    n = NODE(g, "cast", CLV_OP_CAST, L(x), L(ci));
    CHECK(clv_graph_set_int(g, n, "to", CLV_DT_INT32) == 0);

    int id = output(g, "id");
    NODE(g, "ident", CLV_OP_IDENTITY, L(x), L(id));
    if (!finalize_ok(g))
        goto out;
    CHECK_DIMS(g, "c1", 1, 5, 4, 4);
    CHECK_DIMS(g, "c2", 1, 2, 4, 8);
    CHECK(clv_node_int(find_node(g, "cat_last"), "axis", -1) == 3);
    CHECK_DIMS(g, "f0", 1, 120);
    CHECK_DIMS(g, "f1", 2, 60);
    CHECK_DIMS(g, "f3", 24, 5);
    CHECK(clv_node_int(find_node(g, "flat1"), "axis", -1) == 1);
    /* 0 copies 2 and 3, 2 is given, -1 = 120/(2*3*2) = 10 */
    CHECK_DIMS(g, "r1", 2, 3, 10, 2);
    const clv_node *rs = find_node(g, "rs1");
    CHECK(rs->n_inputs == 1);
    CHECK_INTS(rs, "shape", 0, 0, -1, 2);
    CHECK(clv_node_int(rs, "allowzero", -1) == 0);
    CHECK_DIMS(g, "r2", 6, 20);
    CHECK_DIMS(g, "t1", 5, 4, 3, 2);
    CHECK_INTS(find_node(g, "tr"), "perm", 3, 2, 1, 0);
    CHECK_DIMS(g, "t2", 2, 4, 5, 3);
    CHECK_INTS(find_node(g, "tr2"), "perm", 0, 2, 3, 1);
    /* take 2 indices along axis 2 */
    CHECK_DIMS(g, "ga", 2, 3, 2, 5);
    CHECK(clv_node_int(find_node(g, "gather"), "axis", -1) == 2);
    /* the Shape node was folded: a constant [3, 4, 5] */
    const clv_tensor *st = find_tensor(g, "sh");
    CHECK(find_node(g, "shape") == NULL);
    CHECK(st->dtype == CLV_DT_INT64 && st->ndim == 1 && st->dims[0] == 3);
    CHECK(st->data && ((int64_t *)st->data)[0] == 3 &&
          ((int64_t *)st->data)[2] == 5);
    CHECK(find_tensor(g, "ci")->dtype == CLV_DT_INT32);
    CHECK_DIMS(g, "ci", 2, 3, 4, 5);
    CHECK_DIMS(g, "id", 2, 3, 4, 5);
    CHECK(find_node(g, "ident")->flops == 0);
out:
    clv_graph_free(g);
}

static void test_pad_resize(void)
{
    clv_graph *g = new_graph(13);
    int x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 3, 4, 4));
    int pads = cst_i64(g, "pads", 8, DIMS(0, 0, 1, 2, 0, 0, 3, 4));
    int val = cst_scalar_f(g, "val", 1.5f);
    int p = output(g, "p"), p2 = output(g, "p2");
    NODE(g, "pad", CLV_OP_PAD, L(x, pads, val), L(p));
    int pads_r = cst_i64(g, "pads_r", 8, DIMS(0, 0, 1, 2, 0, 0, 3, 3));
    int n = NODE(g, "pad_reflect", CLV_OP_PAD, L(x, pads_r), L(p2));
    CHECK(clv_graph_set_string(g, n, "mode", "reflect") == 0);

    float sc[] = {1, 1, 2, 2};
    int64_t four = 4, zero = 0;
    int scales = cst(g, "scales", CLV_DT_FLOAT, 1, &four, sc);
    int roi = cst(g, "roi", CLV_DT_FLOAT, 1, &zero, NULL);
    int sizes = cst_i64(g, "sizes", 4, DIMS(1, 3, 6, 10));
    int r1 = output(g, "r1"), r2 = output(g, "r2");
    NODE(g, "up", CLV_OP_RESIZE, L(x, roi, scales), L(r1));
    n = NODE(g, "sized", CLV_OP_RESIZE, L(x, -1, -1, sizes), L(r2));
    CHECK(clv_graph_set_string(g, n, "coordinate_transformation_mode",
                               "asymmetric") == 0);
    CHECK(clv_graph_set_string(g, n, "nearest_mode", "floor") == 0);
    if (!finalize_ok(g))
        goto out;
    /* 4 + 1 + 3 = 8, 4 + 2 + 4 = 10 */
    CHECK_DIMS(g, "p", 1, 3, 8, 10);
    const clv_node *pn = find_node(g, "pad");
    CHECK(pn->n_inputs == 1);
    CHECK_INTS(pn, "pads", 0, 0, 1, 2, 0, 0, 3, 4);
    CHECK(clv_node_float(pn, "value", 0) == 1.5f);
    CHECK(strcmp(clv_node_string(pn, "mode", "?"), "constant") == 0);
    /* reflect needs pads below the extent 4 */
    CHECK_DIMS(g, "p2", 1, 3, 8, 9);

    CHECK_DIMS(g, "r1", 1, 3, 8, 8);
    const clv_node *up = find_node(g, "up");
    size_t cnt = 0;
    const float *f = clv_node_floats(up, "scales", &cnt);
    CHECK(cnt == 4 && f && f[2] == 2.0f && f[0] == 1.0f);
    CHECK(up->n_inputs == 1);
    CHECK(strcmp(clv_node_string(up, "mode", "?"), "nearest") == 0);
    CHECK(strcmp(clv_node_string(up, "coordinate_transformation_mode", "?"),
                 "half_pixel") == 0);
    CHECK(strcmp(clv_node_string(up, "nearest_mode", "?"),
                 "round_prefer_floor") == 0);
    CHECK(up->flops == 0);
    CHECK_DIMS(g, "r2", 1, 3, 6, 10);
    f = clv_node_floats(find_node(g, "sized"), "scales", &cnt);
    CHECK(cnt == 4 && f && f[2] == 1.5f && f[3] == 2.5f);
    CHECK(strcmp(clv_node_string(find_node(g, "sized"),
                                 "coordinate_transformation_mode", "?"),
                 "asymmetric") == 0);
out:
    clv_graph_free(g);

    /* Pad-2 (attributes), Upsample-7 (scales attribute), Resize-10 */
    g = new_graph(7);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 3, 4, 4));
    p = output(g, "p");
    n = NODE(g, "pad", CLV_OP_PAD, L(x), L(p));
    SET_INTS(g, n, "pads", 0, 0, 1, 1, 0, 0, 1, 1);
    CHECK(clv_graph_set_string(g, n, "mode", "edge") == 0);
    r1 = output(g, "r1");
    n = NODE(g, "up7", CLV_OP_RESIZE, L(x), L(r1));
    CHECK(clv_graph_set_floats(g, n, "scales", 4,
                               (const float[]){1, 1, 2, 3}) == 0);
    if (finalize_ok(g)) {
        CHECK_DIMS(g, "p", 1, 3, 6, 6);
        CHECK(clv_node_float(find_node(g, "pad"), "value", -1) == 0.0f);
        CHECK_DIMS(g, "r1", 1, 3, 8, 12);
        /* opset < 11: Upsample / Resize-10 semantics */
        CHECK(strcmp(clv_node_string(find_node(g, "up7"), "nearest_mode",
                                     "?"),
                     "floor") == 0);
    }
    clv_graph_free(g);

    g = new_graph(10);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 3, 5, 5));
    scales = cst(g, "scales", CLV_DT_FLOAT, 1, &four,
                 (const float[]){1, 1, 1.5f, 0.5f});
    r1 = output(g, "r1");
    NODE(g, "resize10", CLV_OP_RESIZE, L(x, scales), L(r1));
    if (finalize_ok(g)) {
        /* floor(5 * 1.5) = 7, floor(5 * 0.5) = 2 */
        CHECK_DIMS(g, "r1", 1, 3, 7, 2);
        const clv_node *rn = find_node(g, "resize10");
        CHECK(rn->n_inputs == 1);
        CHECK(strcmp(clv_node_string(rn, "coordinate_transformation_mode",
                                     "?"),
                     "asymmetric") == 0);
    }
    clv_graph_free(g);
}

static void test_slice_split_squeeze(void)
{
    clv_graph *g = new_graph(13);
    int x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(10, 8));
    int starts = cst_i64(g, "starts", 2, DIMS(-3, 7));
    int ends = cst_i64(g, "ends", 2, DIMS(1000, INT64_MIN));
    int axes = cst_i64(g, "axes", 2, DIMS(0, -1));
    int steps = cst_i64(g, "steps", 2, DIMS(1, -2));
    int s = output(g, "s");
    NODE(g, "slice", CLV_OP_SLICE, L(x, starts, ends, axes, steps), L(s));

    int sp = cst_i64(g, "sp", 2, DIMS(3, 5));
    int a = output(g, "a"), b = output(g, "b");
    int n = NODE(g, "split", CLV_OP_SPLIT, L(x, sp), L(a, b));
    CHECK(clv_graph_set_int(g, n, "axis", 1) == 0);
    int e0 = output(g, "e0"), e1 = output(g, "e1");
    NODE(g, "split_eq", CLV_OP_SPLIT, L(x), L(e0, e1));

    int q = input(g, "q", CLV_DT_FLOAT, 4, DIMS(1, 3, 1, 5));
    int sq1 = output(g, "sq1"), sq2 = output(g, "sq2");
    NODE(g, "sq_all", CLV_OP_SQUEEZE, L(q), L(sq1));
    int m2 = cst_i64(g, "m2", 1, DIMS(-2));
    NODE(g, "sq_m2", CLV_OP_SQUEEZE, L(q, m2), L(sq2));
    int ua = cst_i64(g, "ua", 2, DIMS(-1, 0));
    int us = output(g, "us");
    NODE(g, "unsq", CLV_OP_UNSQUEEZE, L(sq1, ua), L(us));
    if (!finalize_ok(g))
        goto out;
    /* axis 0: start 10-3 = 7, end clamped to 10: 3 rows;
     * axis 1: start 7, end -> -1 (before 0), step -2: 7,5,3,1 */
    CHECK_DIMS(g, "s", 3, 4);
    const clv_node *sl = find_node(g, "slice");
    CHECK(sl->n_inputs == 1);
    CHECK_INTS(sl, "starts", 7, 7);
    CHECK_INTS(sl, "ends", 10, -1);
    CHECK_INTS(sl, "axes", 0, 1);
    CHECK_INTS(sl, "steps", 1, -2);
    CHECK_DIMS(g, "a", 10, 3);
    CHECK_DIMS(g, "b", 10, 5);
    CHECK_INTS(find_node(g, "split"), "split", 3, 5);
    CHECK(find_node(g, "split")->n_inputs == 1);
    CHECK_DIMS(g, "e0", 5, 8);
    CHECK_INTS(find_node(g, "split_eq"), "split", 5, 5);
    CHECK(clv_node_int(find_node(g, "split_eq"), "axis", -1) == 0);
    CHECK_DIMS(g, "sq1", 3, 5);
    CHECK_INTS(find_node(g, "sq_all"), "axes", 0, 2);
    CHECK_DIMS(g, "sq2", 1, 3, 5);
    CHECK_INTS(find_node(g, "sq_m2"), "axes", 2);
    /* rank 2 + 2: -1 -> 3, sorted [0, 3] */
    CHECK_DIMS(g, "us", 1, 3, 5, 1);
    CHECK_INTS(find_node(g, "unsq"), "axes", 0, 3);
    CHECK(find_node(g, "unsq")->n_inputs == 1);
out:
    clv_graph_free(g);

    /* the opset 9 / 11 attribute forms */
    g = new_graph(9);
    x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(10, 8));
    s = output(g, "s");
    n = NODE(g, "slice", CLV_OP_SLICE, L(x), L(s));
    SET_INTS(g, n, "starts", 1);
    SET_INTS(g, n, "ends", -1);
    SET_INTS(g, n, "axes", 1);
    a = output(g, "a");
    b = output(g, "b");
    n = NODE(g, "split", CLV_OP_SPLIT, L(x), L(a, b));
    SET_INTS(g, n, "split", 4, 6);
    int u = output(g, "u");
    n = NODE(g, "unsq", CLV_OP_UNSQUEEZE, L(x), L(u));
    SET_INTS(g, n, "axes", 1);
    int sq = output(g, "sq");
    n = NODE(g, "sq", CLV_OP_SQUEEZE, L(u), L(sq));
    SET_INTS(g, n, "axes", -2);
    if (finalize_ok(g)) {
        CHECK_DIMS(g, "s", 10, 6);
        CHECK_INTS(find_node(g, "slice"), "steps", 1);
        CHECK_INTS(find_node(g, "slice"), "ends", 7);
        CHECK_DIMS(g, "a", 4, 8);
        CHECK_DIMS(g, "b", 6, 8);
        CHECK_DIMS(g, "u", 10, 1, 8);
        CHECK_DIMS(g, "sq", 10, 8);
        CHECK_INTS(find_node(g, "sq"), "axes", 1);
    }
    clv_graph_free(g);
}

static void test_darknet(void)
{
    clv_graph *g = new_graph(13);
    int x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 64, 26, 26));
    int r = output(g, "r");
    int n = NODE(g, "reorg", CLV_OP_REORG, L(x), L(r));
    CHECK(clv_graph_set_int(g, n, "stride", 2) == 0);
    int h = input(g, "h", CLV_DT_FLOAT, 4, DIMS(1, 125, 13, 13));
    int rg = output(g, "rg");
    n = NODE(g, "region", CLV_OP_REGION, L(h), L(rg));
    CHECK(clv_graph_set_int(g, n, "num", 5) == 0);
    int y = input(g, "yin", CLV_DT_FLOAT, 4, DIMS(1, 255, 13, 13));
    int yo = output(g, "yo");
    n = NODE(g, "yolo", CLV_OP_YOLO, L(y), L(yo));
    CHECK(clv_graph_set_int(g, n, "classes", 80) == 0);
    CHECK(clv_graph_set_int(g, n, "num", 9) == 0);
    SET_INTS(g, n, "mask", 6, 7, 8);
    if (!finalize_ok(g))
        goto out;
    CHECK_DIMS(g, "r", 1, 256, 13, 13);
    CHECK(find_node(g, "reorg")->flops == 0);
    CHECK_DIMS(g, "rg", 1, 125, 13, 13);
    const clv_node *rn = find_node(g, "region");
    /* darknet's defaults: classes 20, coords 4; 125 = 5 * (4 + 1 + 20) */
    CHECK(clv_node_int(rn, "classes", -1) == 20);
    CHECK(clv_node_int(rn, "coords", -1) == 4);
    size_t cnt = 0;
    CHECK(clv_node_floats(rn, "anchors", &cnt) && cnt == 10);
    CHECK(rn->flops == 125 * 13 * 13);
    CHECK_DIMS(g, "yo", 1, 255, 13, 13);
out:
    clv_graph_free(g);
}

/* ---- folding ------------------------------------------------------------- */

/* PyTorch's flatten: Shape -> Gather(0) -> Unsqueeze -> Concat([b, -1]) ->
 * Reshape. After folding only the Reshape is left, with a constant shape. */
static void test_fold_flatten_chain(void)
{
    clv_graph *g = new_graph(13);
    int x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 64, 7, 7));
    int shp = var(g, "shp"), bat = var(g, "bat"), bat1 = var(g, "bat1");
    int cat = var(g, "cat"), y = output(g, "y");
    int64_t zero = 0;
    int i0 = cst(g, "i0", CLV_DT_INT64, 0, NULL, &zero);
    int ax = cst_i64(g, "ax", 1, DIMS(0));
    int m1 = cst_i64(g, "m1", 1, DIMS(-1));
    int relu_out = var(g, "relu_out");
    NODE(g, "relu", CLV_OP_RELU, L(x), L(relu_out));
    NODE(g, "shape", CLV_OP_SHAPE, L(relu_out), L(shp));
    NODE(g, "gather", CLV_OP_GATHER, L(shp, i0), L(bat));
    NODE(g, "unsq", CLV_OP_UNSQUEEZE, L(bat, ax), L(bat1));
    int n = NODE(g, "concat", CLV_OP_CONCAT, L(bat1, m1), L(cat));
    CHECK(clv_graph_set_int(g, n, "axis", 0) == 0);
    NODE(g, "reshape", CLV_OP_RESHAPE, L(relu_out, cat), L(y));
    if (!finalize_ok(g))
        goto out;
    CHECK(clv_graph_n_nodes(g) == 2);
    const clv_node *r = clv_graph_node(g, 1);
    CHECK(r && r->op == CLV_OP_RESHAPE && r->n_inputs == 1);
    CHECK_INTS(r, "shape", 1, -1);
    CHECK_DIMS(g, "y", 1, 3136);
    const clv_tensor *c = find_tensor(g, "cat");
    CHECK(c->flags & CLV_TENSOR_CONST);
    CHECK(c->producer == -1);
    CHECK(clv_graph_is_chain(g));
out:
    clv_graph_free(g);

    /* Shape with start (opset 15) on a run-time input */
    g = new_graph(15);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(2, 3, 4, 5));
    shp = var(g, "shp");
    cat = var(g, "cat");
    y = output(g, "y");
    m1 = cst_i64(g, "m1", 1, DIMS(-1));
    n = NODE(g, "shape", CLV_OP_SHAPE, L(x), L(shp));
    CHECK(clv_graph_set_int(g, n, "start", 2) == 0);
    n = NODE(g, "concat", CLV_OP_CONCAT, L(m1, shp), L(cat));
    CHECK(clv_graph_set_int(g, n, "axis", 0) == 0);
    NODE(g, "reshape", CLV_OP_RESHAPE, L(x, cat), L(y));
    if (finalize_ok(g)) {
        CHECK(clv_graph_n_nodes(g) == 1);
        CHECK_DIMS(g, "y", 6, 4, 5);
        CHECK_INTS(clv_graph_node(g, 0), "shape", -1, 4, 5);
    }
    clv_graph_free(g);
}

/* Folding arithmetic, Cast, Slice, Split and Gather values. */
static void test_fold_values(void)
{
    clv_graph *g = new_graph(13);
    int x = input(g, "x", CLV_DT_FLOAT, 1, DIMS(2));
    int y = output(g, "y");
    NODE(g, "live", CLV_OP_RELU, L(x), L(y));

    int a = cst_i64(g, "a", 4, DIMS(7, -7, 9, -9));
    int b = cst_i64(g, "b", 4, DIMS(2, 2, -4, -4));
    int q = output(g, "q");
    NODE(g, "div", CLV_OP_DIV, L(a, b), L(q));

    int col = cst(g, "col", CLV_DT_INT64, 2, DIMS(2, 1), DIMS(1, 2));
    int row = cst_i64(g, "row", 3, DIMS(10, 20, 30));
    int p = output(g, "p");
    NODE(g, "mul", CLV_OP_MUL, L(col, row), L(p));

    int32_t i32a[2] = {INT32_MAX, -5}, i32b[2] = {1, 3};
    int ia = cst(g, "ia", CLV_DT_INT32, 1, DIMS(2), i32a);
    int ib = cst(g, "ib", CLV_DT_INT32, 1, DIMS(2), i32b);
    int s32 = output(g, "s32");
    NODE(g, "add32", CLV_OP_ADD, L(ia, ib), L(s32));

    float fa[3] = {1.5f, -2.25f, 3.0f}, fb = 0.5f;
    int fta = cst(g, "fa", CLV_DT_FLOAT, 1, DIMS(3), fa);
    int ftb = cst(g, "fb", CLV_DT_FLOAT, 0, NULL, &fb);
    int fs = output(g, "fs");
    NODE(g, "subf", CLV_OP_SUB, L(fta, ftb), L(fs));

    float fc[4] = {1.7f, -1.7f, 3e10f, NAN};
    int ftc = cst(g, "fc", CLV_DT_FLOAT, 1, DIMS(4), fc);
    int ci = output(g, "ci");
    int n = NODE(g, "cast", CLV_OP_CAST, L(ftc), L(ci));
    CHECK(clv_graph_set_int(g, n, "to", CLV_DT_INT32) == 0);

    /* 0..11 as 3x4; rows 2,0 (step -2), columns 1..3 */
    int64_t v[12];
    for (int i = 0; i < 12; i++)
        v[i] = i;
    int m = cst(g, "m", CLV_DT_INT64, 2, DIMS(3, 4), v);
    int st = cst_i64(g, "st", 2, DIMS(-1, 1));
    int en = cst_i64(g, "en", 2, DIMS(-4, 100));
    int sp = cst_i64(g, "sp", 2, DIMS(-2, 1));
    int sl = output(g, "sl");
    NODE(g, "slice", CLV_OP_SLICE, L(m, st, en, -1, sp), L(sl));

    int s0 = output(g, "s0"), s1 = output(g, "s1");
    int sz = cst_i64(g, "sz", 2, DIMS(1, 3));
    n = NODE(g, "split", CLV_OP_SPLIT, L(m, sz), L(s0, s1));
    CHECK(clv_graph_set_int(g, n, "axis", 1) == 0);

    int gi = cst_i64(g, "gi", 2, DIMS(-1, 0));
    int gt = output(g, "gt");
    NODE(g, "gather", CLV_OP_GATHER, L(m, gi), L(gt));

    if (!finalize_ok(g))
        goto out;
    CHECK(clv_graph_n_nodes(g) == 1); /* only 'live' is left */

    const int64_t *d = find_tensor(g, "q")->data;
    /* truncation toward zero: 7/2 = 3, -7/2 = -3, 9/-4 = -2, -9/-4 = 2 */
    CHECK(d && d[0] == 3 && d[1] == -3 && d[2] == -2 && d[3] == 2);
    CHECK_DIMS(g, "p", 2, 3);
    d = find_tensor(g, "p")->data;
    CHECK(d && d[0] == 10 && d[2] == 30 && d[3] == 20 && d[5] == 60);
    const int32_t *d32 = find_tensor(g, "s32")->data;
    CHECK(d32 && d32[0] == INT32_MIN && d32[1] == -2); /* wraps */
    const float *df = find_tensor(g, "fs")->data;
    CHECK(df && df[0] == 1.0f && df[1] == -2.75f && df[2] == 2.5f);
    d32 = find_tensor(g, "ci")->data;
    CHECK(find_tensor(g, "ci")->dtype == CLV_DT_INT32);
    CHECK(d32 && d32[0] == 1 && d32[1] == -1 && d32[2] == INT32_MAX &&
          d32[3] == 0);
    CHECK_DIMS(g, "sl", 2, 3);
    d = find_tensor(g, "sl")->data;
    /* rows 2 and 0: [9 10 11], [1 2 3] */
    CHECK(d && d[0] == 9 && d[1] == 10 && d[2] == 11 && d[3] == 1 &&
          d[5] == 3);
    CHECK_DIMS(g, "s0", 3, 1);
    CHECK_DIMS(g, "s1", 3, 3);
    d = find_tensor(g, "s0")->data;
    CHECK(d && d[0] == 0 && d[1] == 4 && d[2] == 8);
    d = find_tensor(g, "s1")->data;
    CHECK(d && d[0] == 1 && d[2] == 3 && d[3] == 5 && d[8] == 11);
    CHECK_DIMS(g, "gt", 2, 4);
    d = find_tensor(g, "gt")->data;
    CHECK(d && d[0] == 8 && d[3] == 11 && d[4] == 0 && d[7] == 3);
out:
    clv_graph_free(g);
}

/* ---- errors ------------------------------------------------------------- */

static void test_errors(void)
{
    clv_graph *g;
    int x, w, y, n;

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 64, 8, 8));
    w = cst(g, "w", CLV_DT_FLOAT, 4, DIMS(66, 21, 3, 3), NULL);
    y = output(g, "y");
    n = NODE(g, "conv3", CLV_OP_CONV, L(x, w), L(y));
    CHECK(clv_graph_set_int(g, n, "group", 3) == 0);
    expect_error(g, CLV_ESHAPE, "conv3",
                 "group=3 does not divide 64 input channels");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 64, 56, 56));
    int x2 = input(g, "x2", CLV_DT_FLOAT, 4, DIMS(1, 32, 56, 56));
    y = output(g, "y");
    NODE(g, "add1", CLV_OP_ADD, L(x, x2), L(y));
    expect_error(g, CLV_ESHAPE, "add1",
                 "cannot broadcast 1x64x56x56 with 1x32x56x56");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 2, 28, 28));
    x2 = input(g, "x2", CLV_DT_FLOAT, 4, DIMS(1, 2, 14, 14));
    y = output(g, "y");
    n = NODE(g, "c", CLV_OP_CONCAT, L(x, x2), L(y));
    CHECK(clv_graph_set_int(g, n, "axis", 1) == 0);
    expect_error(g, CLV_ESHAPE, "c", "differ in dim 2 (28 vs 14)");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 64, 7, 7));
    int s = cst_i64(g, "s", 2, DIMS(1, 3000));
    y = output(g, "y");
    NODE(g, "rs", CLV_OP_RESHAPE, L(x, s), L(y));
    expect_error(g, CLV_ESHAPE, "rs", "3136 elements");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 64, 7, 7));
    s = input(g, "s", CLV_DT_INT64, 1, DIMS(2));
    y = output(g, "y");
    NODE(g, "rs", CLV_OP_RESHAPE, L(x, s), L(y));
    expect_error(g, CLV_EUNSUPPORTED, "rs", "needs a constant shape input");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 1, 3, 3));
    w = cst(g, "w", CLV_DT_FLOAT, 4, DIMS(1, 1, 5, 5), NULL);
    y = output(g, "y");
    NODE(g, "big", CLV_OP_CONV, L(x, w), L(y));
    expect_error(g, CLV_ESHAPE, "big", "larger than the padded input");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 1, 3, 3));
    y = output(g, "y");
    n = NODE(g, "mp", CLV_OP_MAXPOOL, L(x), L(y));
    SET_INTS(g, n, "kernel_shape", 2, 2);
    SET_INTS(g, n, "strides", 1, -1);
    expect_error(g, CLV_ERANGE, "mp", "strides[1] = -1");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 1, 3, 3));
    w = cst(g, "w", CLV_DT_FLOAT, 4, DIMS(1, 1, 1, 1), NULL);
    y = output(g, "y");
    n = NODE(g, "negpad", CLV_OP_CONV, L(x, w), L(y));
    SET_INTS(g, n, "pads", 0, -1, 0, 0);
    expect_error(g, CLV_ERANGE, "negpad", "pads[1] = -1");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 3, 4, 4));
    float sc[4] = {1, 1, 2, 2};
    int64_t four = 4;
    int scales = cst(g, "scales", CLV_DT_FLOAT, 1, &four, sc);
    y = output(g, "y");
    n = NODE(g, "bilinear", CLV_OP_RESIZE, L(x, -1, scales), L(y));
    CHECK(clv_graph_set_string(g, n, "mode", "linear") == 0);
    expect_error(g, CLV_EUNSUPPORTED, "bilinear", "'linear'");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 3, 4, 4));
    y = output(g, "y");
    n = NODE(g, "lrn", CLV_OP_LRN, L(x), L(y));
    CHECK(clv_graph_set_int(g, n, "size", 0) == 0);
    expect_error(g, CLV_ERANGE, "lrn", "size=0");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(3, 4));
    y = output(g, "y");
    n = NODE(g, "sm", CLV_OP_SOFTMAX, L(x), L(y));
    CHECK(clv_graph_set_int(g, n, "axis", 2) == 0);
    expect_error(g, CLV_ERANGE, "sm", "axis=2");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(3, 4));
    y = output(g, "y");
    n = NODE(g, "half", CLV_OP_CAST, L(x), L(y));
    CHECK(clv_graph_set_int(g, n, "to", 10) == 0);
    expect_error(g, CLV_EUNSUPPORTED, "half", "float16");

    /* a consumed BatchNormalization statistic */
    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4, DIMS(1, 2, 3, 3));
    int p[4];
    for (int i = 0; i < 4; i++) {
        char nm[4] = {'p', (char)('0' + i), 0};
        p[i] = cst(g, nm, CLV_DT_FLOAT, 1, DIMS(2), NULL);
    }
    y = output(g, "y");
    int mean = var(g, "mean"), z = output(g, "z");
    NODE(g, "bn", CLV_OP_BATCHNORM, L(x, p[0], p[1], p[2], p[3]),
         L(y, mean));
    NODE(g, "use", CLV_OP_RELU, L(mean), L(z));
    expect_error(g, CLV_EUNSUPPORTED, "bn", "'mean'");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(3, 4));
    int idx = cst_i64(g, "idx", 1, DIMS(4));
    y = output(g, "y");
    NODE(g, "take", CLV_OP_GATHER, L(x, idx), L(y));
    expect_error(g, CLV_ERANGE, "take", "index 4");

    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 2, DIMS(3, 4));
    int ones = cst_i64(g, "ones", 2, DIMS(1, 1));
    int zeros = cst_i64(g, "zeros", 2, DIMS(1, 0));
    int q = output(g, "q");
    NODE(g, "div0", CLV_OP_DIV, L(ones, zeros), L(q));
    y = output(g, "y");
    NODE(g, "r", CLV_OP_RELU, L(x), L(y));
    expect_error(g, CLV_ERANGE, "div0", "by zero");

    /* a hostile file's dims whose product overflows int64 */
    g = new_graph(13);
    x = input(g, "x", CLV_DT_FLOAT, 4,
              DIMS(1, (int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31));
    y = output(g, "y");
    NODE(g, "huge", CLV_OP_RELU, L(x), L(y));
    expect_error(g, CLV_ELIMIT, "huge", "more than 2^40 elements");
}

int main(void)
{
    test_conv();
    test_pool();
    test_dense();
    test_elementwise();
    test_softmax_clip_by_opset();
    test_movement();
    test_pad_resize();
    test_slice_split_squeeze();
    test_darknet();
    test_fold_flatten_chain();
    test_fold_values();
    test_errors();
    return check_report("test_shape");
}
