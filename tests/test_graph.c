/* Tests of the graph core: building, topological order, validation,
 * crossing tensors and cut points. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/graph.h"
#include "util/util.h"

static const int64_t shp[4] = {1, 8, 4, 4};

static int tensor(clv_graph *g, const char *name)
{
    int id = -1;
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_graph_add_tensor(g, name, CLV_DT_FLOAT, -1, NULL, &id, &err);
    CHECKF(rc == 0, "add tensor %s: %s", name, err.msg);
    return id;
}

static int node1(clv_graph *g, const char *name, clv_op op, int in, int out)
{
    int id = -1;
    int rc = clv_graph_add_node(g, name, op, 1, &in, 1, &out, &id, NULL);
    CHECK(rc == 0);
    return id;
}

static int node2(clv_graph *g, const char *name, clv_op op, int a, int b,
                 int out)
{
    int id = -1, in[2] = {a, b};
    int rc = clv_graph_add_node(g, name, op, 2, in, 1, &out, &id, NULL);
    CHECK(rc == 0);
    return id;
}

static int input(clv_graph *g, const char *name)
{
    int id = -1;
    CHECK(clv_graph_add_tensor(g, name, CLV_DT_FLOAT, 4, shp, &id, NULL) == 0);
    CHECK(clv_graph_mark_input(g, id) == 0);
    return id;
}

static int find_node(const clv_graph *g, const char *name)
{
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        if (strcmp(clv_graph_node(g, i)->name, name) == 0)
            return i;
    return -1;
}

static void test_builder_errors(void)
{
    clv_graph *g = clv_graph_create();
    clv_error err;
    int id;
    clv_error_clear(&err);
    CHECK(clv_graph_add_tensor(g, "x", CLV_DT_FLOAT, 4, shp, &id, &err) == 0);
    CHECK(clv_graph_add_tensor(g, "x", CLV_DT_FLOAT, 4, shp, &id, &err) ==
          CLV_EINVAL);
    CHECK(strstr(err.msg, "'x'") != NULL);
    CHECK(clv_graph_add_tensor(g, "", CLV_DT_FLOAT, 4, shp, &id, &err) ==
          CLV_EINVAL);
    int64_t big[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(clv_graph_add_tensor(g, "y", CLV_DT_FLOAT, 9, big, &id, &err) ==
          CLV_EINVAL);
    int y = tensor(g, "y2");
    node1(g, "a", CLV_OP_RELU, 0, y);
    /* a second producer for y2 */
    int in = 0, nid;
    CHECK(clv_graph_add_node(g, "b", CLV_OP_RELU, 1, &in, 1, &y, &nid, &err) ==
          CLV_EINVAL);
    CHECK(strstr(err.msg, "y2") != NULL);
    /* bad tensor ids */
    int bad = 99;
    CHECK(clv_graph_add_node(g, "c", CLV_OP_RELU, 1, &bad, 1, &y, &nid, &err) ==
          CLV_EINVAL);
    CHECK(clv_graph_find_tensor(g, "y2") == y);
    CHECK(clv_graph_find_tensor(g, "nope") == -1);
    clv_graph_free(g);
    clv_graph_free(NULL); /* accepted */
}

static void test_names_and_attrs(void)
{
    clv_graph *g = clv_graph_create();
    int x = input(g, "x");
    int a = tensor(g, "a"), b = tensor(g, "b"), c = tensor(g, "c");
    int n0 = node1(g, NULL, CLV_OP_RELU, x, a);
    int n1 = node1(g, "same", CLV_OP_RELU, a, b);
    int n2 = node1(g, "same", CLV_OP_RELU, b, c);
    CHECK(strcmp(clv_graph_node(g, n0)->name, "Relu_0") == 0);
    CHECK(strcmp(clv_graph_node(g, n1)->name, "same") == 0);
    CHECK(strcmp(clv_graph_node(g, n2)->name, "same") != 0);
    CHECK(strncmp(clv_graph_node(g, n2)->name, "same_", 5) == 0);

    int64_t v[3] = {1, 2, 3};
    float f[2] = {0.5f, 1.5f};
    CHECK(clv_graph_set_int(g, n1, "k", 7) == 0);
    CHECK(clv_graph_set_int(g, n1, "k", 9) == 0); /* replaces */
    CHECK(clv_graph_set_ints(g, n1, "v", 3, v) == 0);
    CHECK(clv_graph_set_floats(g, n1, "f", 2, f) == 0);
    CHECK(clv_graph_set_string(g, n1, "s", "hello") == 0);
    CHECK(clv_graph_set_float(g, n1, "x", 2.5f) == 0);
    CHECK(clv_graph_set_int(g, 99, "k", 1) == CLV_EINVAL);
    const clv_node *nd = clv_graph_node(g, n1);
    size_t cnt;
    CHECK(nd->n_attrs == 5);
    CHECK(clv_node_int(nd, "k", 0) == 9);
    CHECK(clv_node_int(nd, "v", -1) == -1); /* wrong type gives default */
    CHECK(clv_node_ints(nd, "v", &cnt)[2] == 3 && cnt == 3);
    CHECK(clv_node_floats(nd, "f", &cnt)[1] == 1.5f && cnt == 2);
    CHECK(strcmp(clv_node_string(nd, "s", ""), "hello") == 0);
    CHECK(clv_node_float(nd, "x", 0) == 2.5f);
    clv_graph_unset(g, n1, "k");
    CHECK(clv_node_int(clv_graph_node(g, n1), "k", -5) == -5);
    CHECK(clv_graph_node(g, n1)->n_attrs == 4);
    clv_graph_free(g);
}

/* Nodes added in reverse come out in topological order. */
static void test_topo_order(void)
{
    clv_graph *g = clv_graph_create();
    int x = input(g, "x");
    int a = tensor(g, "a"), b = tensor(g, "b"), c = tensor(g, "c");
    node1(g, "third", CLV_OP_SIGMOID, b, c);
    node1(g, "second", CLV_OP_TANH, a, b);
    node1(g, "first", CLV_OP_RELU, x, a);
    clv_graph_mark_output(g, c);
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_graph_finalize(g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) {
        CHECK(strcmp(clv_graph_node(g, 0)->name, "first") == 0);
        CHECK(strcmp(clv_graph_node(g, 1)->name, "second") == 0);
        CHECK(strcmp(clv_graph_node(g, 2)->name, "third") == 0);
        CHECK(clv_graph_tensor(g, c)->producer == 2);
        CHECK(clv_graph_tensor(g, a)->n_consumers == 1 &&
              clv_graph_tensor(g, a)->consumers[0] == 1);
        CHECK(clv_graph_tensor(g, c)->ndim == 4 &&
              clv_graph_tensor(g, c)->dims[1] == 8);
        CHECK(clv_graph_is_chain(g));
        CHECK(clv_graph_node(g, 0)->out_bytes == 8 * 4 * 4 * 4);
        /* a finalized graph does not take new nodes */
        CHECK(clv_graph_finalize(g, &err) == CLV_EINVAL);
    }
    clv_graph_free(g);
}

static void test_cycle(void)
{
    clv_graph *g = clv_graph_create();
    int x = input(g, "x");
    int a = tensor(g, "a"), b = tensor(g, "b"), c = tensor(g, "c");
    node2(g, "p", CLV_OP_ADD, x, b, a); /* p reads q's output */
    node1(g, "q", CLV_OP_RELU, a, b);   /* q reads p's output */
    node1(g, "r", CLV_OP_RELU, x, c);
    clv_graph_mark_output(g, c);
    clv_error err;
    clv_error_clear(&err);
    CHECK(clv_graph_finalize(g, &err) == CLV_ECYCLE);
    CHECKF(strstr(err.msg, "'p'") || strstr(err.msg, "'q'"), "%s", err.msg);
    clv_graph_free(g);
}

static void test_dangling_and_missing(void)
{
    clv_error err;
    clv_graph *g = clv_graph_create();
    int x = input(g, "x");
    int w = tensor(g, "weights_missing"), a = tensor(g, "a");
    node2(g, "mul", CLV_OP_MUL, x, w, a);
    clv_graph_mark_output(g, a);
    clv_error_clear(&err);
    CHECK(clv_graph_finalize(g, &err) == CLV_EINVAL);
    CHECKF(strstr(err.msg, "weights_missing") && strstr(err.msg, "mul"),
           "%s", err.msg);
    clv_graph_free(g);

    g = clv_graph_create();
    x = input(g, "x");
    a = tensor(g, "a");
    node1(g, "r", CLV_OP_RELU, x, a);
    clv_error_clear(&err);
    CHECK(clv_graph_finalize(g, &err) == CLV_EINVAL); /* no output */
    CHECK(strstr(err.msg, "output") != NULL);
    clv_graph_free(g);

    g = clv_graph_create();
    int unknown = tensor(g, "shapeless");
    clv_graph_mark_input(g, unknown);
    a = tensor(g, "a");
    node1(g, "r", CLV_OP_RELU, unknown, a);
    clv_graph_mark_output(g, a);
    CHECK(clv_graph_finalize(g, &err) == CLV_ESHAPE);
    CHECK(strstr(err.msg, "shapeless") != NULL);
    clv_graph_free(g);
}

/* The crossing count by its definition, tensor by tensor. */
static int crossing_brute(const clv_graph *g, int i)
{
    int count = 0;
    for (int t = 0; t < clv_graph_n_tensors(g); t++) {
        const clv_tensor *x = clv_graph_tensor(g, t);
        if (x->flags & CLV_TENSOR_CONST)
            continue;
        bool before = (x->flags & CLV_TENSOR_INPUT) ||
                      (x->producer >= 0 && x->producer <= i);
        bool after = false;
        for (int n = i + 1; n < clv_graph_n_nodes(g); n++) {
            const clv_node *nd = clv_graph_node(g, n);
            for (int k = 0; k < nd->n_inputs; k++)
                if (nd->inputs[k] == t)
                    after = true;
        }
        count += before && after;
    }
    return count;
}

/* A diamond, not finalized: x -> A -> a; a feeds B (b) and C (c); D: d =
 * b + c; E: e = relu(d), the output. */
static clv_graph *diamond(void)
{
    clv_graph *g = clv_graph_create();
    int x = input(g, "x");
    int a = tensor(g, "a"), b = tensor(g, "b"), c = tensor(g, "c"),
        d = tensor(g, "d"), e = tensor(g, "e");
    node1(g, "A", CLV_OP_RELU, x, a);
    node1(g, "B", CLV_OP_RELU, a, b);
    node1(g, "C", CLV_OP_SIGMOID, a, c);
    node2(g, "D", CLV_OP_ADD, b, c, d);
    node1(g, "E", CLV_OP_RELU, d, e);
    clv_graph_mark_output(g, e);
    return g;
}

/* On the diamond only the cuts after A and after D are valid single cuts. */
static void test_diamond(void)
{
    clv_graph *g = diamond();
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_graph_finalize(g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) {
        int cr[5], want[5] = {1, 2, 2, 1, 0};
        CHECK(clv_graph_crossing(g, cr) == 0);
        for (int i = 0; i < 5; i++)
            CHECKF(cr[i] == want[i], "after %d: %d, want %d", i, cr[i],
                   want[i]);
        CHECK(!clv_graph_is_chain(g));
        CHECK(clv_graph_total_flops(g) > 0);
    }
    clv_graph_free(g);
}

/* A skip connection from the input itself: x is read by the first and the
 * last node, so no cut in between is valid. */
static void test_input_skip(void)
{
    clv_graph *g = clv_graph_create();
    int x = input(g, "x");
    int a = tensor(g, "a"), b = tensor(g, "b"), c = tensor(g, "c");
    node1(g, "A", CLV_OP_RELU, x, a);
    node1(g, "B", CLV_OP_TANH, a, b);
    node2(g, "C", CLV_OP_ADD, b, x, c);
    clv_graph_mark_output(g, c);
    CHECK(clv_graph_finalize(g, NULL) == 0);
    int cr[3];
    clv_graph_crossing(g, cr);
    CHECK(cr[0] == 2 && cr[1] == 2 && cr[2] == 0);
    clv_graph_free(g);
}

/* Random DAGs of Relu/Add/Concat-free nodes: crossing equals brute force,
 * and the order is topological. */
static void test_random_dags(void)
{
    clv_rng r;
    clv_rng_seed(&r, 42);
    for (int iter = 0; iter < 300; iter++) {
        clv_graph *g = clv_graph_create();
        int n = 2 + (int)(clv_rng_next(&r) % 30);
        int *ts = malloc(sizeof *ts * (size_t)(n + 1));
        char name[32];
        ts[0] = input(g, "x");
        for (int i = 1; i <= n; i++) {
            snprintf(name, sizeof name, "t%d", i);
            ts[i] = tensor(g, name);
        }
        /* node i-1 makes ts[i] from one or two earlier tensors; insert in a
         * shuffled order so finalize has to sort */
        int *perm = malloc(sizeof *perm * (size_t)n);
        for (int i = 0; i < n; i++)
            perm[i] = i + 1;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)(clv_rng_next(&r) % (uint64_t)(i + 1));
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int k = 0; k < n; k++) {
            int i = perm[k];
            int p = (int)(clv_rng_next(&r) % (uint64_t)i);
            snprintf(name, sizeof name, "n%d", i);
            if (i > 1 && clv_rng_uniform(&r) < 0.4) {
                int q = (int)(clv_rng_next(&r) % (uint64_t)i);
                node2(g, name, CLV_OP_ADD, ts[p], ts[q], ts[i]);
            } else {
                node1(g, name, CLV_OP_RELU, ts[p], ts[i]);
            }
        }
        clv_graph_mark_output(g, ts[n]);
        clv_error err;
        clv_error_clear(&err);
        int rc = clv_graph_finalize(g, &err);
        CHECKF(rc == 0, "%s", err.msg);
        if (rc == 0) {
            int m = clv_graph_n_nodes(g);
            int *cr = malloc(sizeof *cr * (size_t)m);
            clv_graph_crossing(g, cr);
            int bad = 0;
            for (int i = 0; i < m; i++)
                bad += cr[i] != crossing_brute(g, i);
            CHECK(bad == 0);
            /* topological: every input's producer comes earlier */
            int unordered = 0;
            for (int i = 0; i < m; i++) {
                const clv_node *nd = clv_graph_node(g, i);
                for (int k = 0; k < nd->n_inputs; k++) {
                    int pr = clv_graph_tensor(g, nd->inputs[k])->producer;
                    unordered += pr >= i;
                }
            }
            CHECK(unordered == 0);
            CHECK(find_node(g, "n1") >= 0);
            free(cr);
        }
        free(perm);
        free(ts);
        clv_graph_free(g);
    }
}

static void test_names_tables(void)
{
    clv_op op;
    CHECK(clv_op_from_name("Conv", &op) == 0 && op == CLV_OP_CONV);
    CHECK(clv_op_from_name("Upsample", &op) == 0 && op == CLV_OP_RESIZE);
    CHECK(clv_op_from_name("LSTM", &op) == CLV_ENOTFOUND);
    CHECK(strcmp(clv_op_name(CLV_OP_BATCHNORM), "BatchNormalization") == 0);
    CHECK(strcmp(clv_op_name(CLV_OP_COUNT), "?") == 0);
    CHECK(clv_dtype_size(CLV_DT_INT64) == 8 && clv_dtype_size(CLV_DT_FLOAT) == 4);
    CHECK(strcmp(clv_strerror(CLV_ECYCLE), "graph has a cycle") == 0);
    CHECK(strcmp(clv_strerror(-999), "unknown error") == 0);
    clv_error e;
    clv_error_clear(&e);
    clv_error_set(&e, CLV_EIO, "inner %d", 5);
    clv_error_prefix(&e, "file.onnx: ");
    CHECK(strcmp(e.msg, "file.onnx: inner 5") == 0 && e.code == CLV_EIO);
    CHECK(clv_error_set(NULL, CLV_EIO, "x") == CLV_EIO);
}

/* Partitions by hand on the diamond and the input skip: what crosses, in
 * which order, what returns, the cut's name and the refusals. */
static void check_part(const clv_graph *g, const char *edge_names,
                       const char *want_send, const char *want_ret,
                       const char *want_text)
{
    int n = clv_graph_n_nodes(g);
    unsigned char on_edge[16] = {0};
    for (int i = 0; i < n; i++)
        on_edge[i] = strchr(edge_names, clv_graph_node(g, i)->name[0]) != NULL;
    clv_partition p;
    clv_partition_init(&p);
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_partition_make(g, on_edge, &p, &err);
    CHECKF(rc == 0, "edge {%s}: %s", edge_names, err.msg);
    char send[64] = "", ret[64] = "", text[64];
    for (int k = 0; k < p.n_send; k++)
        strcat(send, clv_graph_tensor(g, p.send[k])->name);
    for (int k = 0; k < p.n_ret; k++)
        strcat(ret, clv_graph_tensor(g, p.ret[k])->name);
    clv_partition_cut_text(g, &p, text, sizeof text);
    CHECKF(strcmp(send, want_send) == 0, "edge {%s}: sends '%s', want '%s'",
           edge_names, send, want_send);
    CHECKF(strcmp(ret, want_ret) == 0, "edge {%s}: returns '%s', want '%s'",
           edge_names, ret, want_ret);
    CHECKF(strcmp(text, want_text) == 0, "edge {%s}: cut '%s', want '%s'",
           edge_names, text, want_text);
    CHECK(p.n_edge == (int)strlen(edge_names) && p.n_edge + p.n_cloud == n);
    uint64_t bytes = 0;
    for (int k = 0; k < p.n_send; k++)
        bytes += clv_tensor_bytes(clv_graph_tensor(g, p.send[k]));
    CHECK(p.send_bytes == bytes);
    /* the same partition from its cloud nodes, and a copy */
    clv_partition q, c;
    clv_partition_init(&q);
    clv_partition_init(&c);
    CHECK(clv_partition_from_cloud(g, p.cloud_nodes, p.n_cloud, &q, NULL) == 0);
    CHECK(clv_partition_equal(&p, &q) && q.n_send == p.n_send);
    CHECK(clv_partition_copy(&c, &p, NULL) == 0 && clv_partition_equal(&c, &p));
    CHECK(c.n_send == p.n_send && c.n_ret == p.n_ret &&
          (p.n_send == 0 || memcmp(c.send, p.send, sizeof *c.send * (size_t)p.n_send) == 0));
    clv_partition_release(&q);
    clv_partition_release(&c);
    clv_partition_release(&p);
    clv_partition_release(&p); /* twice is fine */
}

static void test_partitions(void)
{
    clv_graph *g = diamond();
    int x, a, b, c;
    CHECK(clv_graph_finalize(g, NULL) == 0);
    check_part(g, "AB", "ab", "e", "A+B");
    check_part(g, "AC", "ac", "e", "A+C");
    check_part(g, "ABC", "bc", "e", "B+C");
    check_part(g, "ABCD", "d", "e", "D");
    check_part(g, "ABCDE", "", "", "(all edge)");
    check_part(g, "", "x", "e", "(input)");
    /* a cloud node feeding an edge node */
    unsigned char bad[5] = {1, 0, 1, 1, 0}; /* A, C, D on the edge */
    clv_partition p;
    clv_partition_init(&p);
    clv_error err;
    clv_error_clear(&err);
    CHECK(clv_partition_make(g, bad, &p, &err) == CLV_EINVAL);
    CHECKF(strstr(err.msg, "'B' runs on the cloud but feeds 'D' on the edge"),
           "%s", err.msg);
    CHECK(p.n_nodes == 0 && p.on_edge == NULL);
    int twice[2] = {1, 1}, out_of_range[1] = {5};
    CHECK(clv_partition_from_cloud(g, twice, 2, &p, &err) == CLV_EINVAL);
    CHECKF(strstr(err.msg, "'B' is named twice"), "%s", err.msg);
    CHECK(clv_partition_from_cloud(g, out_of_range, 1, &p, &err) == CLV_EINVAL);
    CHECKF(strstr(err.msg, "out of range"), "%s", err.msg);
    clv_graph_free(g);

    /* the input itself crosses next to a cut tensor */
    g = clv_graph_create();
    x = input(g, "x");
    a = tensor(g, "a");
    b = tensor(g, "b");
    c = tensor(g, "c");
    node1(g, "A", CLV_OP_RELU, x, a);
    node1(g, "B", CLV_OP_TANH, a, b);
    node2(g, "C", CLV_OP_ADD, b, x, c);
    clv_graph_mark_output(g, c);
    CHECK(clv_graph_finalize(g, NULL) == 0);
    check_part(g, "A", "ax", "c", "A");
    check_part(g, "AB", "bx", "c", "B");
    clv_graph_free(g);
}

/* Random DAGs and random node sets: a set is accepted exactly when no
 * cloud node feeds an edge node, and the tensors sent are exactly those a
 * cloud node reads from the edge or the input (brute force). */
static void test_random_partitions(void)
{
    clv_rng r;
    clv_rng_seed(&r, 7);
    int accepted = 0, refused = 0, wrong = 0;
    for (int iter = 0; iter < 200; iter++) {
        clv_graph *g = clv_graph_create();
        int n = 2 + (int)(clv_rng_next(&r) % 14);
        int ts[17];
        char name[32];
        ts[0] = input(g, "x");
        for (int i = 1; i <= n; i++) {
            snprintf(name, sizeof name, "t%d", i);
            ts[i] = tensor(g, name);
        }
        for (int i = 1; i <= n; i++) {
            int p = (int)(clv_rng_next(&r) % (uint64_t)i);
            snprintf(name, sizeof name, "n%d", i);
            if (i > 1 && clv_rng_uniform(&r) < 0.4)
                node2(g, name, CLV_OP_ADD, ts[p],
                      ts[clv_rng_next(&r) % (uint64_t)i], ts[i]);
            else
                node1(g, name, CLV_OP_RELU, ts[p], ts[i]);
        }
        clv_graph_mark_output(g, ts[n]);
        if (clv_graph_finalize(g, NULL)) {
            wrong++;
            clv_graph_free(g);
            continue;
        }
        int m = clv_graph_n_nodes(g), nt = clv_graph_n_tensors(g);
        for (int trial = 0; trial < 20; trial++) {
            unsigned char e[16];
            /* half the trials: a prefix (always valid) */
            int k = (int)(clv_rng_next(&r) % (uint64_t)(m + 1));
            for (int i = 0; i < m; i++)
                e[i] = trial % 2 ? clv_rng_uniform(&r) < 0.5 : i < k;
            bool valid = true;
            unsigned char want[40] = {0};
            for (int i = 0; i < m; i++) {
                const clv_node *nd = clv_graph_node(g, i);
                for (int j = 0; j < nd->n_inputs; j++) {
                    const clv_tensor *t = clv_graph_tensor(g, nd->inputs[j]);
                    bool from_edge = t->producer < 0 || e[t->producer];
                    if (e[i] && !from_edge)
                        valid = false;
                    if (!e[i] && from_edge)
                        want[nd->inputs[j]] = 1;
                }
            }
            clv_partition p;
            clv_partition_init(&p);
            int rc = clv_partition_make(g, e, &p, NULL);
            if (rc != (valid ? 0 : CLV_EINVAL))
                wrong++;
            if (rc) {
                refused++;
                continue;
            }
            accepted++;
            unsigned char got[40] = {0};
            for (int s = 0; s < p.n_send; s++)
                wrong += got[p.send[s]]++ != 0; /* each once */
            wrong += memcmp(got, want, (size_t)nt) != 0;
            clv_partition_release(&p);
        }
        clv_graph_free(g);
    }
    CHECK(wrong == 0);
    CHECKF(accepted > 500 && refused > 300, "%d accepted, %d refused",
           accepted, refused);
}

int main(void)
{
    test_names_tables();
    test_builder_errors();
    test_names_and_attrs();
    test_topo_order();
    test_cycle();
    test_dangling_and_missing();
    test_diamond();
    test_input_skip();
    test_random_dags();
    test_partitions();
    test_random_partitions();
    return check_report("test_graph");
}
