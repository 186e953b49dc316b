#define _POSIX_C_SOURCE 200809L /* ftruncate, fileno */
/*
 * Tests of the ONNX reader and writer. The models come from
 * scripts/gen_onnx_cases.py (python3-onnx), written into
 * CLEAVE_BINARY_DIR/onnx-cases; saved models are checked with ONNX's own
 * checker (full_check, which runs ONNX shape inference too).
 */
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/load.h"
#include "util/util.h"

#define PYTHON "/usr/bin/python3"
#define CASES CLEAVE_BINARY_DIR "/onnx-cases"

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

/* Runs python3 -c CODE ARG; true when it exits 0. */
static bool py(const char *code, const char *arg)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, PYTHON " -c '%s' '%s'", code, arg);
    return run(cmd) == 0;
}

static bool onnx_check(const char *path)
{
    return py("import onnx,sys; "
              "onnx.checker.check_model(onnx.load(sys.argv[1]), "
              "full_check=True)",
              path);
}

static int load_case(const char *name, clv_graph **g, clv_error *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CASES, name);
    clv_error_clear(err);
    return clv_load_onnx(path, g, err);
}

static const clv_node *find_node(const clv_graph *g, const char *name)
{
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        if (!strcmp(clv_graph_node(g, i)->name, name))
            return clv_graph_node(g, i);
    return NULL;
}

static const clv_tensor *find_tensor(const clv_graph *g, const char *name)
{
    int id = clv_graph_find_tensor(g, name);
    return id < 0 ? NULL : clv_graph_tensor(g, id);
}

static bool shape_is(const clv_tensor *t, const char *want)
{
    char buf[128];
    if (!t)
        return false;
    clv_tensor_shape_str(t, buf, sizeof buf);
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "tensor '%s' has shape %s, want %s\n", t->name, buf,
                want);
        return false;
    }
    return true;
}

static const clv_tensor *out0(const clv_graph *g, const clv_node *n)
{
    return n ? clv_graph_tensor(g, n->outputs[0]) : NULL;
}

/* ---- initializer forms ------------------------------------------------- */

static void check_conv_weights(const clv_graph *g)
{
    const clv_tensor *w = find_tensor(g, "W"), *b = find_tensor(g, "B");
    CHECK(w && shape_is(w, "3x2x3x3") && w->dtype == CLV_DT_FLOAT &&
          (w->flags & CLV_TENSOR_CONST) && w->data);
    CHECK(b && shape_is(b, "3") && b->data);
    if (w && w->data) {
        const float *x = w->data;
        int bad = 0;
        for (int i = 0; i < 54; i++)
            bad += x[i] != (float)i * 0.5f - 3.0f;
        CHECKF(bad == 0, "%d of 54 weights differ (W[0]=%g W[53]=%g)", bad,
               (double)x[0], (double)x[53]);
    }
    if (b && b->data) {
        const float *x = b->data;
        CHECK(x[0] == 1.0f && x[1] == 2.0f && x[2] == 3.0f);
    }
}

static void test_init_forms(void)
{
    clv_graph *g = NULL;
    clv_error err;
    int rc = load_case("init_forms.onnx", &g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc)
        return;
    CHECK(clv_graph_n_nodes(g) == 2);
    CHECK(clv_graph_opset(g) == 13);
    check_conv_weights(g);
    const clv_node *conv = find_node(g, "conv"), *flat = find_node(g, "flat");
    CHECK(conv && conv->op == CLV_OP_CONV && shape_is(out0(g, conv), "1x3x4x4"));
    CHECK(flat && flat->op == CLV_OP_RESHAPE && shape_is(out0(g, flat), "1x48"));
    if (flat) {
        size_t n = 0;
        const int64_t *s = clv_node_ints(flat, "shape", &n);
        CHECK(s && n == 2 && s[0] == 1 && s[1] == -1); /* from int64_data */
    }
    clv_graph_free(g);

    /* External data at offset 16 of external.bin; a symbolic batch dim. */
    rc = load_case("external.onnx", &g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) {
        check_conv_weights(g);
        CHECK(clv_graph_n_inputs(g) == 1 &&
              shape_is(clv_graph_tensor(g, clv_graph_input(g, 0)), "1x2x4x4"));
        clv_graph_free(g);
    }

    /* From memory: external data needs a directory. */
    char *buf = NULL;
    size_t len = 0;
    rc = clv_util_read_file(CASES "/external.onnx", 1 << 20, &buf, &len, &err);
    CHECK(rc == 0);
    if (rc == 0) {
        g = (clv_graph *)1;
        rc = clv_load_onnx_mem(buf, len, "mem.onnx", NULL, &g, &err);
        CHECKF(rc == CLV_EUNSUPPORTED && g == NULL &&
                   strncmp(err.msg, "mem.onnx: ", 10) == 0 &&
                   strstr(err.msg, "external.bin"),
               "rc %d: %s", rc, err.msg);
        rc = clv_load_onnx_mem(buf, len, "mem.onnx", CASES, &g, &err);
        CHECKF(rc == 0, "%s", err.msg);
        if (rc == 0)
            check_conv_weights(g);
        clv_graph_free(g);
        free(buf);
    }
}

/* ---- opset variants ---------------------------------------------------- */

static bool floats_eq(const float *a, size_t na, const float *b, size_t nb)
{
    if (na != nb || !a || !b)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static void test_variants(void)
{
    static const char *const files[] = {"v7.onnx", "v9.onnx", "v11.onnx",
                                        "v13.onnx", "v13_sorted.onnx"};
    static const int opsets[] = {7, 9, 11, 13, 13};
    static const float scales[] = {1, 1, 2, 2};
    clv_graph *ref = NULL;
    clv_error err;

    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        clv_graph *g = NULL;
        int rc = load_case(files[f], &g, &err);
        CHECKF(rc == 0, "%s: %s", files[f], err.msg);
        if (rc)
            continue;
        CHECK(clv_graph_opset(g) == opsets[f]);
        CHECKF(clv_graph_n_nodes(g) == 4, "%s: %d nodes", files[f],
               clv_graph_n_nodes(g));
        static const clv_op ops[] = {CLV_OP_CONV, CLV_OP_CLIP, CLV_OP_RESIZE,
                                     CLV_OP_SOFTMAX};
        for (int i = 0; i < 4 && i < clv_graph_n_nodes(g); i++)
            CHECKF(clv_graph_node(g, i)->op == ops[i], "%s: node %d is %s",
                   files[f], i, clv_op_name(clv_graph_node(g, i)->op));
        const clv_node *clip = find_node(g, "clip"), *up = find_node(g, "up");
        const clv_node *soft = find_node(g, "soft");
        CHECK(clip && clv_node_float(clip, "min", -1) == 0.0f &&
              clv_node_float(clip, "max", -1) == 6.0f);
        CHECK(clip && clip->n_inputs == 1);
        if (up) {
            size_t n = 0;
            const float *s = clv_node_floats(up, "scales", &n);
            CHECKF(floats_eq(s, n, scales, 4), "%s: Resize scales", files[f]);
            CHECK(!strcmp(clv_node_string(up, "mode", ""), "nearest"));
            CHECK(!strcmp(clv_node_string(up, "coordinate_transformation_mode",
                                          ""),
                          "asymmetric"));
            CHECK(!strcmp(clv_node_string(up, "nearest_mode", ""), "floor"));
            CHECKF(up->n_inputs == 1, "%s: Resize has %d inputs", files[f],
                   up->n_inputs);
            CHECK(shape_is(out0(g, up), "1x4x16x16"));
        } else {
            CHECK(!"no node 'up'");
        }
        CHECK(soft && clv_node_int(soft, "axis", -1) == 3);
        CHECK(clv_graph_n_outputs(g) == 1 &&
              shape_is(clv_graph_tensor(g, clv_graph_output(g, 0)),
                       "1x4x16x16"));
        const clv_tensor *w = find_tensor(g, "W");
        CHECK(w && w->data && shape_is(w, "4x3x3x3"));
        if (ref && w) {
            const clv_tensor *rw = find_tensor(ref, "W");
            CHECK(rw && !memcmp(rw->data, w->data, 4 * 27 * sizeof(float)));
        }
        if (!ref)
            ref = g;
        else
            clv_graph_free(g);
    }
    clv_graph_free(ref);
}

/* ---- PyTorch's flatten ------------------------------------------------- */

static void test_flatten_chain(void)
{
    static const char *const files[] = {"flatten_chain_11.onnx",
                                        "flatten_chain_13.onnx"};
    for (int f = 0; f < 2; f++) {
        clv_graph *g = NULL;
        clv_error err;
        int rc = load_case(files[f], &g, &err);
        CHECKF(rc == 0, "%s: %s", files[f], err.msg);
        if (rc)
            continue;
        /* Shape, Gather, Unsqueeze and Concat fold away. */
        CHECKF(clv_graph_n_nodes(g) == 3, "%s: %d nodes", files[f],
               clv_graph_n_nodes(g));
        if (clv_graph_n_nodes(g) == 3) {
            CHECK(clv_graph_node(g, 0)->op == CLV_OP_CONV);
            CHECK(clv_graph_node(g, 1)->op == CLV_OP_RESHAPE);
            CHECK(clv_graph_node(g, 2)->op == CLV_OP_GEMM);
            CHECK(shape_is(out0(g, clv_graph_node(g, 1)), "1x64"));
            CHECK(shape_is(out0(g, clv_graph_node(g, 2)), "1x5"));
            CHECK(clv_graph_node(g, 1)->n_inputs == 1);
        }
        clv_graph_free(g);
    }
}

/* ---- save and load back ------------------------------------------------ */

static bool attr_eq(const clv_attr *a, const clv_attr *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case CLV_ATTR_INT:
        return a->i == b->i;
    case CLV_ATTR_FLOAT:
        return a->f == b->f || (isnan(a->f) && isnan(b->f));
    case CLV_ATTR_STRING:
        return !strcmp(a->s ? a->s : "", b->s ? b->s : "");
    case CLV_ATTR_INTS:
        return a->n == b->n &&
               (a->n == 0 || !memcmp(a->ints, b->ints, a->n * sizeof *a->ints));
    case CLV_ATTR_FLOATS:
        return a->n == b->n &&
               (a->n == 0 ||
                !memcmp(a->floats, b->floats, a->n * sizeof *a->floats));
    }
    return false;
}

static bool tensor_eq(const clv_tensor *a, const clv_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return false;
    for (int k = 0; k < a->ndim; k++)
        if (a->dims[k] != b->dims[k])
            return false;
    if ((a->flags & CLV_TENSOR_CONST) != (b->flags & CLV_TENSOR_CONST))
        return false;
    if (a->flags & CLV_TENSOR_CONST)
        return !memcmp(a->data, b->data, (size_t)clv_tensor_bytes(a));
    return true;
}

/* Same nodes (op, name, attributes but Softmax's legacy flag, inputs and
 * outputs with their shapes, weights bit for bit), same inputs and outputs. */
static int graphs_differ(const clv_graph *a, const clv_graph *b)
{
    int bad = 0;
    if (clv_graph_n_nodes(a) != clv_graph_n_nodes(b) ||
        clv_graph_n_inputs(a) != clv_graph_n_inputs(b) ||
        clv_graph_n_outputs(a) != clv_graph_n_outputs(b)) {
        fprintf(stderr, "graphs differ in size: %d/%d nodes\n",
                clv_graph_n_nodes(a), clv_graph_n_nodes(b));
        return 1;
    }
    for (int i = 0; i < clv_graph_n_inputs(a); i++)
        bad += !tensor_eq(clv_graph_tensor(a, clv_graph_input(a, i)),
                          clv_graph_tensor(b, clv_graph_input(b, i)));
    for (int i = 0; i < clv_graph_n_outputs(a); i++)
        bad += !tensor_eq(clv_graph_tensor(a, clv_graph_output(a, i)),
                          clv_graph_tensor(b, clv_graph_output(b, i)));
    for (int i = 0; i < clv_graph_n_nodes(a); i++) {
        const clv_node *x = clv_graph_node(a, i), *y = clv_graph_node(b, i);
        if (x->op != y->op || strcmp(x->name, y->name) ||
            x->n_inputs != y->n_inputs || x->n_outputs != y->n_outputs) {
            fprintf(stderr, "node %d: %s '%s' (%d in) vs %s '%s' (%d in)\n",
                    i, clv_op_name(x->op), x->name, x->n_inputs,
                    clv_op_name(y->op), y->name, y->n_inputs);
            bad++;
            continue;
        }
        for (int k = 0; k < x->n_inputs; k++) {
            if ((x->inputs[k] < 0) != (y->inputs[k] < 0)) {
                bad++;
                continue;
            }
            if (x->inputs[k] >= 0 &&
                !tensor_eq(clv_graph_tensor(a, x->inputs[k]),
                           clv_graph_tensor(b, y->inputs[k]))) {
                fprintf(stderr, "node '%s': input %d differs\n", x->name, k);
                bad++;
            }
        }
        for (int k = 0; k < x->n_outputs; k++) {
            if (!tensor_eq(clv_graph_tensor(a, x->outputs[k]),
                           clv_graph_tensor(b, y->outputs[k]))) {
                fprintf(stderr, "node '%s': output %d differs\n", x->name, k);
                bad++;
            }
        }
        for (int k = 0; k < x->n_attrs; k++) {
            const clv_attr *p = &x->attrs[k];
            const clv_attr *q = clv_node_attr(y, p->name);
            if (!strcmp(p->name, "legacy"))
                continue;
            if (!q || !attr_eq(p, q)) {
                fprintf(stderr, "node '%s': attribute '%s' differs\n",
                        x->name, p->name);
                bad++;
            }
        }
    }
    return bad;
}

/* Saves `a` as `out`, runs ONNX's checker on it, loads it back and
 * compares. */
static void roundtrip_graph(const clv_graph *a, const char *out,
                            const char *name, bool same_nodes)
{
    clv_graph *b = NULL;
    clv_error err;
    int rc = clv_save_onnx(a, out, &err);
    CHECKF(rc == 0, "save %s: %s", out, err.msg);
    if (rc == 0) {
        CHECKF(onnx_check(out), "onnx.checker rejects %s", out);
        rc = clv_load_onnx(out, &b, &err);
        CHECKF(rc == 0, "reload %s: %s", out, err.msg);
        if (rc == 0 && same_nodes)
            CHECKF(graphs_differ(a, b) == 0, "%s changes in a round trip",
                   name);
        if (rc == 0 && !same_nodes) {
            /* Only the outputs must agree. */
            CHECK(clv_graph_n_outputs(a) == clv_graph_n_outputs(b));
            for (int i = 0; i < clv_graph_n_outputs(a) &&
                            i < clv_graph_n_outputs(b);
                 i++)
                CHECK(tensor_eq(clv_graph_tensor(a, clv_graph_output(a, i)),
                                clv_graph_tensor(b, clv_graph_output(b, i))));
        }
        clv_graph_free(b);
        b = NULL;
        /* Saving the reloaded graph gives the same bytes again. */
        if (rc == 0 && same_nodes) {
            char out2[1100], cmd[2400];
            rc = clv_load_onnx(out, &b, &err);
            snprintf(out2, sizeof out2, "%s.again.onnx", out);
            CHECK(rc == 0 && clv_save_onnx(b, out2, &err) == 0);
            snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", out, out2);
            CHECKF(run(cmd) == 0, "%s: second save differs", name);
            clv_graph_free(b);
            remove(out2);
        }
    }
}

static void roundtrip(const char *name, bool same_nodes)
{
    clv_graph *a = NULL;
    clv_error err;
    char out[1024];
    int rc = load_case(name, &a, &err);
    CHECKF(rc == 0, "%s: %s", name, err.msg);
    if (rc)
        return;
    snprintf(out, sizeof out, "%s/rt_%s", CASES, name);
    roundtrip_graph(a, out, name, same_nodes);
    clv_graph_free(a);
}

/* Every zoo network (the big ones excepted: ONNX's checker needs gigabytes
 * for vgg16) is written, checked by ONNX and read back unchanged. */
static void test_zoo_roundtrip(void)
{
    int tried = 0;
    for (int i = 0; i < clv_zoo_count(); i++) {
        const char *name = clv_zoo_name(i);
        clv_graph *g = NULL;
        clv_error err;
        char out[1024];
        int rc = clv_zoo_build(name, 5, 64, &g, &err);
        if (rc == CLV_ERANGE)
            rc = clv_zoo_build(name, 5, 0, &g, &err);
        CHECKF(rc == 0, "zoo %s: %s", name, err.msg);
        if (rc)
            continue;
        if (clv_graph_param_bytes(g) <= ((uint64_t)128 << 20)) {
            snprintf(out, sizeof out, "%s/zoo_%s.onnx", CASES, name);
            roundtrip_graph(g, out, name, true);
            remove(out);
            tried++;
        }
        clv_graph_free(g);
    }
    CHECKF(clv_zoo_count() == 0 || tried >= 3, "only %d zoo models tried",
           tried);
}

static void test_roundtrip(void)
{
    static const char *const same[] = {
        "roundtrip.onnx",      "init_forms.onnx",    "external.onnx",
        "v7.onnx",             "v9.onnx",            "v11.onnx",
        "v13.onnx",            "flatten_chain_11.onnx",
        "flatten_chain_13.onnx", "pad_split_11.onnx", "clip_resize_11.onnx",
        "conv_relu_pool.onnx", "reorg.onnx",         "opset14.onnx",
        "opset17.onnx",        "upsample_7.onnx"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        roundtrip(same[i], strcmp(same[i], "upsample_7.onnx") != 0);

    /* upsample_7: Softmax(axis=1) of opset 7 on 4-D reads as a 2-D matrix
     * and is written as Flatten -> Softmax -> Reshape. */
    CHECK(py("import onnx,sys; m=onnx.load(sys.argv[1]); "
             "ops=[n.op_type for n in m.graph.node]; "
             "assert ops==[\"Resize\",\"Flatten\",\"Softmax\",\"Reshape\"], ops",
             CASES "/rt_upsample_7.onnx"));
    roundtrip("softmax_legacy_11.onnx", false);
    clv_graph *g = NULL;
    clv_error err;
    if (load_case("rt_softmax_legacy_11.onnx", &g, &err) == 0) {
        CHECK(clv_graph_n_nodes(g) == 3);
        if (clv_graph_n_nodes(g) == 3) {
            CHECK(clv_graph_node(g, 0)->op == CLV_OP_FLATTEN);
            CHECK(clv_graph_node(g, 1)->op == CLV_OP_SOFTMAX);
            CHECK(clv_graph_node(g, 2)->op == CLV_OP_RESHAPE);
            CHECK(clv_node_int(clv_graph_node(g, 0), "axis", -1) == 1);
            CHECK(shape_is(out0(g, clv_graph_node(g, 0)), "2x12"));
            CHECK(shape_is(out0(g, clv_graph_node(g, 2)), "2x3x2x2"));
        }
        clv_graph_free(g);
    } else {
        CHECKF(0, "%s", err.msg);
    }

    /* What the writer puts in the file. */
    CHECK(py("import onnx,sys; m=onnx.load(sys.argv[1]); "
             "assert m.ir_version==8 and m.producer_name==\"cleave\"; "
             "assert {o.domain:o.version for o in m.opset_import}=={\"\":13}; "
             "assert all(t.HasField(\"raw_data\") for t in m.graph.initializer); "
             "c=[n for n in m.graph.node if n.op_type==\"Clip\"][0]; "
             "assert len(c.input)==3 and not c.attribute; "
             "r=[n for n in m.graph.node if n.op_type==\"Resize\"][0]; "
             "assert list(r.input)[1]==\"\" and len(r.input)==3; "
             "p=[n for n in m.graph.node if n.op_type==\"Pad\"][0]; "
             "assert len(p.input)==3; "
             "s=[n for n in m.graph.node if n.op_type==\"Squeeze\"][0]; "
             "assert len(s.input)==2 and not s.attribute",
             CASES "/rt_roundtrip.onnx"));
    CHECK(py("import onnx,sys; m=onnx.load(sys.argv[1]); "
             "assert {o.domain:o.version for o in m.opset_import}=="
             "{\"\":13,\"ai.cleave\":1}; "
             "assert m.graph.node[0].domain==\"ai.cleave\"",
             CASES "/rt_reorg.onnx"));
    CHECK(py("import onnx,sys; m=onnx.load(sys.argv[1]); "
             "assert {o.domain:o.version for o in m.opset_import}=={\"\":14}; "
             "c=[n for n in m.graph.node if n.op_type==\"Clip\"][0]; "
             "assert list(c.input)[1]==\"\" and len(c.input)==3",
             CASES "/rt_opset14.onnx"));
}

static void test_save_errors(void)
{
    clv_graph *g = NULL;
    clv_error err;
    int rc;

    /* Not finalized. */
    g = clv_graph_create();
    clv_error_clear(&err);
    rc = clv_save_onnx(g, CASES "/never.onnx", &err);
    CHECK(rc == CLV_EINVAL && strstr(err.msg, "not finalized"));
    clv_graph_free(g);

    rc = load_case("conv_relu_pool.onnx", &g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc)
        return;
    /* A directory that does not exist. */
    rc = clv_save_onnx(g, CASES "/no/such/dir/m.onnx", &err);
    CHECKF(rc == CLV_EIO && strstr(err.msg, CASES "/no/such/dir/m.onnx") &&
               strstr(err.msg, "No such file or directory"),
           "rc %d: %s", rc, err.msg);
    /* The target is a directory: the rename fails, no PATH.tmp is left. */
    CHECK(run("mkdir -p '" CASES "/a_dir.onnx'") == 0);
    rc = clv_save_onnx(g, CASES "/a_dir.onnx", &err);
    CHECKF(rc == CLV_EIO && strstr(err.msg, "a_dir.onnx"), "rc %d: %s", rc,
           err.msg);
    FILE *f = fopen(CASES "/a_dir.onnx.tmp", "rb");
    CHECK(f == NULL);
    if (f)
        fclose(f);
    clv_graph_free(g);
}

/* ---- malformed input --------------------------------------------------- */

static void expect_fail(const char *name, int code, const char *s1,
                        const char *s2)
{
    clv_graph *g = (clv_graph *)1;
    clv_error err;
    char label[1024];
    int rc = load_case(name, &g, &err);
    snprintf(label, sizeof label, "%s/%s: ", CASES, name);
    CHECKF(rc == code, "%s: rc %d (%s), want %d", name, rc, err.msg, code);
    CHECK(g == NULL);
    CHECKF(!strncmp(err.msg, label, strlen(label)),
           "%s: message does not start with the file: %s", name, err.msg);
    CHECKF(!s1 || strstr(err.msg, s1), "%s: '%s' not in: %s", name, s1,
           err.msg);
    CHECKF(!s2 || strstr(err.msg, s2), "%s: '%s' not in: %s", name, s2,
           err.msg);
    if (rc == 0)
        clv_graph_free(g);
}

static void test_malformed(void)
{
    expect_fail("bad_raw.onnx", CLV_EFORMAT,
                "initializer 'W' (dims 3x2x3x3, float32) has 212 bytes of "
                "raw_data",
                "expected 216");
    expect_fail("bad_float_data.onnx", CLV_EFORMAT,
                "holds 50 values in float_data", "expected 54");
    expect_fail("missing_init.onnx", CLV_EFORMAT,
                "node 'conv' reads 'B', which no node, input or initializer "
                "provides",
                NULL);
    expect_fail("cycle.onnx", CLV_ECYCLE, "cycle", NULL);
    expect_fail("unsupported_op.onnx", CLV_EUNSUPPORTED,
                "node 'foo' (op 'Celu', opset 13) is not supported by cleave",
                NULL);
    expect_fail("opset5.onnx", CLV_EUNSUPPORTED, "opset 5 ", "7 to 17");
    expect_fail("opset99.onnx", CLV_EUNSUPPORTED, "opset 99 ", "7 to 17");
    expect_fail("ext_dotdot.onnx", CLV_EFORMAT, "'../external.bin'", "'..'");
    expect_fail("ext_absolute.onnx", CLV_EFORMAT, "'/etc/passwd'",
                "absolute");
    expect_fail("ext_past_end.onnx", CLV_EFORMAT, "past the end",
                "(240 bytes)");
    expect_fail("ext_bad_length.onnx", CLV_EFORMAT, "212 bytes of external",
                "expected 216");
    expect_fail("ext_missing_file.onnx", CLV_EIO, "nothing.bin",
                "No such file");
    expect_fail("float16.onnx", CLV_EUNSUPPORTED, "'W'", "float16");
    expect_fail("string_input.onnx", CLV_EUNSUPPORTED, "'X'", "string");
    expect_fail("custom_domain.onnx", CLV_EUNSUPPORTED, "'FusedThing'",
                "com.example");
    expect_fail("two_writers.onnx", CLV_EFORMAT, "node 'b' writes 'Y'", NULL);
    expect_fail("no_nodes.onnx", CLV_EFORMAT, "has no nodes", NULL);
    expect_fail("does_not_exist.onnx", CLV_EIO, "does_not_exist.onnx",
                "No such file");
    /* err may be NULL. */
    clv_graph *g = (clv_graph *)1;
    CHECK(clv_load_onnx(CASES "/bad_raw.onnx", &g, NULL) == CLV_EFORMAT &&
          g == NULL);
    CHECK(clv_load_onnx(CASES "/cycle.onnx", &g, NULL) == CLV_ECYCLE);
}

/* Every strict prefix of a valid model and every one-byte corruption give
 * an error or a graph, never a crash; errors start with the label. */
static void test_truncated(void)
{
    char *buf = NULL;
    size_t len = 0;
    clv_error err;
    int rc = clv_util_read_file(CASES "/v13_sorted.onnx", 1 << 20, &buf, &len,
                                &err);
    CHECK(rc == 0 && len > 100);
    if (rc)
        return;
    int wrong = 0, bad_msgs = 0, eformat = 0;
    for (size_t n = 0; n < len; n++) {
        clv_graph *g = (clv_graph *)1;
        rc = clv_load_onnx_mem(buf, n, "trunc.onnx", NULL, &g, &err);
        if (rc == 0 || g != NULL || strncmp(err.msg, "trunc.onnx: ", 12))
            wrong++;
        eformat += rc == CLV_EFORMAT;
        if (rc == 0)
            clv_graph_free(g);
    }
    CHECKF(wrong == 0, "%d of %zu prefixes not rejected properly", wrong, len);
    CHECKF(eformat > (int)len / 2, "only %d of %zu prefixes are EFORMAT",
           eformat, len);
    /* No label: messages say "model: ". */
    clv_graph *whole = NULL;
    rc = clv_load_onnx_mem(buf, len / 2, NULL, NULL, &whole, &err);
    CHECKF(rc != 0 && !strncmp(err.msg, "model: ", 7), "%s", err.msg);

    unsigned char *copy = malloc(len);
    CHECK(copy != NULL);
    for (size_t i = 0; copy && i < len; i++) {
        clv_graph *g = NULL;
        memcpy(copy, buf, len);
        copy[i] ^= 0xa5;
        rc = clv_load_onnx_mem(copy, len, "flip.onnx", NULL, &g, &err);
        if (rc != 0 && (g != NULL || strncmp(err.msg, "flip.onnx: ", 11)))
            bad_msgs++;
        clv_graph_free(g);
    }
    CHECK(bad_msgs == 0);
    free(copy);
    free(buf);
}

/* Appends a length-delimited field to `out`. */
static size_t put_field(unsigned char *out, unsigned field,
                        const unsigned char *body, size_t n)
{
    size_t k = 0;
    out[k++] = (unsigned char)(field << 3 | 2);
    size_t v = n;
    do {
        out[k] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            out[k] |= 0x80;
        k++;
    } while (v);
    memmove(out + k, body, n);
    return k + n;
}

/* Model.graph -> Graph.node -> Node.attribute -> Attribute.g -> Graph ...
 * nested `levels` deep. */
static size_t nested_model(unsigned char *buf, size_t cap, int levels)
{
    unsigned char *tmp = malloc(cap);
    size_t n = 0;
    /* Innermost: an empty GraphProto. Field numbers: Graph.node = 1,
     * Node.attribute = 5, Attribute.g = 6, Model.graph = 7. */
    for (int i = 0; i < levels; i++) {
        memcpy(tmp, buf, n);
        n = put_field(buf, 6, tmp, n);  /* Attribute.g */
        memcpy(tmp, buf, n);
        n = put_field(buf, 5, tmp, n);  /* Node.attribute */
        memcpy(tmp, buf, n);
        n = put_field(buf, 1, tmp, n);  /* Graph.node */
    }
    memcpy(tmp, buf, n);
    n = put_field(buf, 7, tmp, n);      /* Model.graph */
    free(tmp);
    return n;
}

static void test_nesting(void)
{
    size_t cap = 1 << 16;
    unsigned char *buf = malloc(cap);
    clv_graph *g = NULL;
    clv_error err;
    CHECK(buf != NULL);
    if (!buf)
        return;
    size_t n = nested_model(buf, cap, 200);
    int rc = clv_load_onnx_mem(buf, n, "deep.onnx", NULL, &g, &err);
    CHECKF(rc == CLV_EFORMAT && strstr(err.msg, "nested deeper"), "rc %d: %s",
           rc, err.msg);
    n = nested_model(buf, cap, 5);
    rc = clv_load_onnx_mem(buf, n, "shallow.onnx", NULL, &g, &err);
    CHECKF(rc != 0 && !strstr(err.msg, "nested deeper") &&
               strstr(err.msg, "IR version"),
           "rc %d: %s", rc, err.msg);
    rc = clv_load_onnx_mem(buf, 0, "empty.onnx", NULL, &g, &err);
    CHECKF(rc == CLV_EFORMAT && g == NULL, "rc %d: %s", rc, err.msg);
    free(buf);

    /* CLV_LOAD_MAX_NODES + 1 empty nodes: ir_version 8 (field 1), a graph
     * (field 7) of nodes (field 1, empty), opset_import (field 8) {version
     * (field 2) 13}. */
    size_t nodes = CLV_LOAD_MAX_NODES + 1, body = 2 * nodes;
    unsigned char *m = malloc(body + 32);
    CHECK(m != NULL);
    if (!m)
        return;
    size_t k = 0;
    m[k++] = 0x08;
    m[k++] = 8;
    m[k++] = 7 << 3 | 2;
    for (size_t v = body; v; v >>= 7)
        m[k++] = (unsigned char)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
    for (size_t i = 0; i < nodes; i++) {
        m[k++] = 1 << 3 | 2;
        m[k++] = 0;
    }
    m[k++] = 8 << 3 | 2;
    m[k++] = 2;
    m[k++] = 2 << 3;
    m[k++] = 13;
    rc = clv_load_onnx_mem(m, k, "many.onnx", NULL, &g, &err);
    CHECKF(rc == CLV_ELIMIT && strstr(err.msg, "100001 nodes"), "rc %d: %s",
           rc, err.msg);
    free(m);
}

/* ---- clv_load_model ---------------------------------------------------- */

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Files are checked before they are read: a (sparse) file past the ONNX
 * size limit, or one of 1.5 GB whose first bytes are no ONNX field, is
 * refused without its bytes being read (the process does not grow); a
 * file too large for the memory available is refused by its size. */
static void test_checked_before_read(void)
{
    static const struct {
        const char *name;
        uint64_t size;
        int code;
        const char *words;
    } cases[] = {
        {"huge.onnx", (uint64_t)3 << 30, CLV_ELIMIT, "larger than the limit"},
        {"zeros.onnx", (uint64_t)1536 << 20, CLV_EFORMAT, "not an ONNX model"},
        {"empty.onnx", 0, CLV_EFORMAT, "empty file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CASES, cases[i].name);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (!f)
            continue;
        CHECK(ftruncate(fileno(f), (off_t)cases[i].size) == 0);
        fclose(f);
        long before = max_rss_kib();
        clv_graph *g = NULL;
        clv_error err;
        clv_error_clear(&err);
        int rc = clv_load_onnx(path, &g, &err);
        long grew = max_rss_kib() - before;
        CHECKF(rc == cases[i].code && strstr(err.msg, cases[i].words) &&
                   strstr(err.msg, cases[i].name),
               "%s: rc %d: %s", cases[i].name, rc, err.msg);
        CHECKF(grew < 64 * 1024, "%s: the process grew by %ld KiB",
               cases[i].name, grew);
        remove(path);
    }
    /* larger than the memory available (this machine's, read from /proc):
     * refused by its size, whatever the limit */
    uint64_t avail = clv_util_mem_available();
    if (avail && avail < ((uint64_t)1 << 40)) {
        char path[512], *buf = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/more_than_memory.bin", CASES);
        FILE *f = fopen(path, "wb");
        CHECK(f && ftruncate(fileno(f), (off_t)(avail + (1u << 30))) == 0);
        if (f)
            fclose(f);
        clv_error err;
        clv_error_clear(&err);
        int rc = clv_util_read_file(path, UINT64_MAX - 1, &buf, &len, &err);
        CHECKF(rc == CLV_ENOMEM && strstr(err.msg, "memory available"),
               "rc %d: %s", rc, err.msg);
        free(buf);
        remove(path);
    }
}

static void test_load_model(void)
{
    clv_graph *g = NULL;
    clv_error err;
    int rc = clv_load_model(CASES "/v9.onnx", &g, &err);
    CHECKF(rc == 0 && g && clv_graph_opset(g) == 9, "%s", err.msg);
    clv_graph_free(g);
    g = (clv_graph *)1;
    rc = clv_load_model(CASES "/model.txt", &g, &err);
    CHECKF(rc == CLV_EUNSUPPORTED && g == NULL && strstr(err.msg, "'.txt'"),
           "%s", err.msg);
    rc = clv_load_model(CASES "/noext", &g, &err);
    CHECKF(rc == CLV_EUNSUPPORTED && strstr(err.msg, "no file extension"),
           "%s", err.msg);
    rc = clv_load_model(CASES "/missing.cfg", &g, &err);
    CHECK(rc != 0 && g == NULL);

    /* .cfg: with the .weights of the same stem when one is beside it, else
     * weights seeded with 1. */
    static const char cfg[] = "[net]\nwidth=8\nheight=8\nchannels=3\n\n"
                              "[convolutional]\nfilters=2\nsize=3\n"
                              "stride=1\npad=1\nactivation=leaky\n";
    FILE *f = fopen(CASES "/tiny.cfg", "wb");
    FILE *h = fopen(CASES "/seeded.cfg", "wb");
    FILE *w = fopen(CASES "/tiny.weights", "wb");
    CHECK(f && h && w);
    if (!f || !h || !w) {
        if (f)
            fclose(f);
        if (h)
            fclose(h);
        if (w)
            fclose(w);
        return;
    }
    fputs(cfg, f);
    fputs(cfg, h);
    fclose(f);
    fclose(h);
    /* Header: major 0, minor 2, revision 0 (int32), seen 0 (int64); then
     * biases [1, 2] and 54 weights 0.25 * i, all little endian. */
    static const unsigned char header[20] = {0, 0, 0, 0, 2};
    fwrite(header, 1, sizeof header, w);
    for (int i = 0; i < 56; i++) {
        float v = i < 2 ? (float)(i + 1) : 0.25f * (float)(i - 2);
        uint32_t u;
        unsigned char le[4];
        memcpy(&u, &v, 4);
        for (int k = 0; k < 4; k++)
            le[k] = (unsigned char)(u >> (8 * k));
        fwrite(le, 1, 4, w);
    }
    CHECK(fclose(w) == 0);

    rc = clv_load_model(CASES "/tiny.cfg", &g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) {
        const clv_node *conv = clv_graph_node(g, 0);
        CHECK(conv->op == CLV_OP_CONV && conv->n_inputs == 3);
        if (conv->op == CLV_OP_CONV && conv->n_inputs == 3) {
            const float *b = clv_graph_tensor(g, conv->inputs[2])->data;
            const float *wt = clv_graph_tensor(g, conv->inputs[1])->data;
            CHECK(b && b[0] == 1.0f && b[1] == 2.0f);
            CHECK(wt && wt[0] == 0.0f && wt[53] == 0.25f * 53);
        }
        clv_graph_free(g);
    }
    clv_graph *ref = NULL;
    rc = clv_load_model(CASES "/seeded.cfg", &g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    int rc2 = clv_load_darknet(CASES "/seeded.cfg", NULL, 1, &ref, &err);
    CHECKF(rc2 == 0, "%s", err.msg);
    if (rc == 0 && rc2 == 0)
        CHECK(graphs_differ(g, ref) == 0);
    clv_graph_free(g);
    clv_graph_free(ref);
}

int main(void)
{
    if (run(PYTHON " " CLEAVE_SOURCE_DIR "/scripts/gen_onnx_cases.py " CASES)) {
        CHECKF(0, "cannot generate the ONNX test models (python3-onnx)");
        return check_report("test_onnx");
    }
    test_init_forms();
    test_variants();
    test_flatten_chain();
    test_roundtrip();
    test_zoo_roundtrip();
    test_save_errors();
    test_malformed();
    test_truncated();
    test_nesting();
    test_load_model();
    test_checked_before_read();
    return check_report("test_onnx");
}
