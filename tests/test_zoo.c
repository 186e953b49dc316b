/*
 * Tests of the model zoo: every network builds and finalizes; shapes at the
 * places the reference architectures define them; multiply-adds and
 * parameter counts against the published figures (torchvision's weight
 * metadata, darknet's own per-layer BFLOPs) or, for the networks nobody
 * publishes figures for, against counts worked out by hand from the layer
 * tables; seeded weights are deterministic; bad names and sizes fail with
 * the documented codes; and every network survives the ONNX round trip
 * with ONNX's own checker as the peer.
 *
 * It prints one line per network with the measured figures of docs/zoo.md.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "cleave/graph.h"
#include "cleave/load.h"

/* What each network must look like at its default input size. */
struct expect {
    const char *name;
    int64_t in_c, hw;
    int out_ndim;
    int64_t out[4];
    int nodes;           /* worked out from the layer tables */
    double gmacs;        /* conv + gemm multiply-adds, G */
    const char *source;  /* where gmacs comes from */
    uint64_t params;     /* learnable parameters (BN running stats excluded) */
    bool chain;
};

static const struct expect expects[] = {
    /* NIN: by hand from the caffe prototxt (224, ceil pooling: 54, 27, 13,
     * 6): 1.1001888 G; parameters 7595176 (caffe's 29 MB model file). */
    {"nin", 3, 224, 2, {1, 1000}, 30, 1.1001888, "hand", 7595176, true},
    /* darknet prints 0.150+5*0.399+1.595+3.190+0.043 = 6.973 BFLOPs for
     * yolov2-tiny-voc.cfg at 416 (2 FLOPs per multiply-add). */
    {"tiny-yolov2", 3, 416, 4, {1, 125, 13, 13}, 31, 6.973 / 2, "darknet",
     15861773, true},
    /* torchvision's weight metadata: "_ops" (G multiply-adds) and
     * "num_params". */
    {"vgg16", 3, 224, 2, {1, 1000}, 40, 15.47, "torchvision", 138357544,
     true},
    {"alexnet", 3, 224, 2, {1, 1000}, 22, 0.714, "torchvision", 61100840,
     true},
    {"resnet18", 3, 224, 2, {1, 1000}, 69, 1.814, "torchvision", 11689512,
     false},
    {"mobilenet-v2", 3, 224, 2, {1, 1000}, 153, 0.301, "torchvision",
     3504872, false},
    {"googlenet", 3, 224, 2, {1, 1000}, 197, 1.498, "torchvision", 6624904,
     false},
    {"resnet50", 3, 224, 2, {1, 1000}, 175, 4.089, "torchvision", 25557032,
     false},
    /* LeNet-5: 28*28*6*25 + 10*10*16*150 + 400*120 + 120*84 + 84*10
     * multiply-adds; 156 + 2416 + 48120 + 10164 + 850 parameters. */
    {"lenet", 1, 28, 2, {1, 10}, 12, 416520e-9, "hand", 61706, true},
};
#define N_EXPECT ((int)(sizeof expects / sizeof expects[0]))

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool has_shape(const clv_tensor *t, int ndim, const int64_t *dims)
{
    if (!t || t->ndim != ndim)
        return false;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i])
            return false;
    return true;
}

static const clv_tensor *tensor_named(const clv_graph *g, const char *name)
{
    int id = clv_graph_find_tensor(g, name);
    return id < 0 ? NULL : clv_graph_tensor(g, id);
}

static const clv_node *node_named(const clv_graph *g, const char *name)
{
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        if (strcmp(clv_graph_node(g, i)->name, name) == 0)
            return clv_graph_node(g, i);
    return NULL;
}

/* Checks the shape of tensor `name` against the listed dims. */
static void check_shape(const clv_graph *g, const char *model,
                        const char *name, int ndim, int64_t d0, int64_t d1,
                        int64_t d2, int64_t d3)
{
    const int64_t dims[4] = {d0, d1, d2, d3};
    const clv_tensor *t = tensor_named(g, name);
    char got[64] = "missing";
    if (t)
        clv_tensor_shape_str(t, got, sizeof got);
    CHECKF(has_shape(t, ndim, dims), "%s: tensor '%s' is %s", model, name,
           got);
}

static uint64_t op_flops(const clv_graph *g, clv_op op)
{
    uint64_t s = 0;
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        if (clv_graph_node(g, i)->op == op)
            s += clv_graph_node(g, i)->flops;
    return s;
}

static int count_op(const clv_graph *g, clv_op op)
{
    int n = 0;
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        n += clv_graph_node(g, i)->op == op;
    return n;
}

/* Learnable parameters as torch counts them: every constant except BN's
 * running statistics. */
static uint64_t count_params(const clv_graph *g)
{
    uint64_t n = 0;
    for (int i = 0; i < clv_graph_n_tensors(g); i++) {
        const clv_tensor *t = clv_graph_tensor(g, i);
        if (!(t->flags & CLV_TENSOR_CONST) ||
            ends_with(t->name, ".running_mean") ||
            ends_with(t->name, ".running_var"))
            continue;
        n += (uint64_t)clv_tensor_numel(t);
    }
    return n;
}

static int count_valid_cuts(const clv_graph *g)
{
    int n = clv_graph_n_nodes(g), valid = 0;
    int *crossing = calloc((size_t)n, sizeof *crossing);
    if (!crossing || clv_graph_crossing(g, crossing) != 0) {
        free(crossing);
        return -1;
    }
    for (int i = 0; i < n; i++)
        valid += crossing[i] == 1;
    free(crossing);
    return valid;
}

static clv_graph *build(const char *name, uint64_t seed, int64_t hw)
{
    clv_graph *g = NULL;
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_zoo_build(name, seed, hw, &g, &err);
    CHECKF(rc == 0 && g, "%s at %lld: %s", name, (long long)hw,
           clv_error_text(&err, rc));
    if (rc == 0)
        CHECKF(clv_graph_is_finalized(g), "%s: not finalized", name);
    return rc == 0 ? g : NULL;
}

/* ---- shapes and attributes inside the networks ------------------------- */

static void check_inside(const char *model, const clv_graph *g)
{
    const clv_node *nd;
    size_t cnt;
    const int64_t *iv;

    if (strcmp(model, "resnet18") == 0) {
        /* The last block's output feeds the pool. */
        check_shape(g, "resnet18", "layer4.1.relu_1", 4, 1, 512, 7, 7);
        check_shape(g, "resnet18", "maxpool", 4, 1, 64, 56, 56);
        check_shape(g, "resnet18", "layer2.0.downsample.1", 4, 1, 128, 28, 28);
        nd = node_named(g, "avgpool");
        CHECK(nd && nd->op == CLV_OP_GLOBALAVERAGEPOOL &&
              nd->inputs[0] == clv_graph_find_tensor(g, "layer4.1.relu_1"));
        /* After conv1, bn1, relu, maxpool; after each block's Add and
         * ReLU; after avgpool and flatten. */
        CHECK(count_valid_cuts(g) == 4 + 8 * 2 + 2);
        CHECK(count_op(g, CLV_OP_ADD) == 8);
        nd = node_named(g, "layer2.0.conv1");
        iv = nd ? clv_node_ints(nd, "strides", &cnt) : NULL;
        CHECK(iv && cnt == 2 && iv[0] == 2 && iv[1] == 2);
    }
    if (strcmp(model, "resnet50") == 0) {
        /* v1.5: the stride sits on the 3x3 conv. */
        nd = node_named(g, "layer3.0.conv2");
        iv = nd ? clv_node_ints(nd, "strides", &cnt) : NULL;
        CHECK(iv && cnt == 2 && iv[0] == 2);
        nd = node_named(g, "layer3.0.conv1");
        iv = nd ? clv_node_ints(nd, "strides", &cnt) : NULL;
        CHECK(iv && cnt == 2 && iv[0] == 1);
        check_shape(g, "resnet50", "layer4.2.relu_2", 4, 1, 2048, 7, 7);
        CHECK(count_valid_cuts(g) == 4 + 16 * 2 + 2);
    }
    if (strcmp(model, "vgg16") == 0) {
        check_shape(g, "vgg16", "features.30", 4, 1, 512, 7, 7); /* pool5 */
        check_shape(g, "vgg16", "flatten", 2, 1, 25088, 0, 0);
        CHECK(count_op(g, CLV_OP_CONV) == 13 && count_op(g, CLV_OP_GEMM) == 3);
    }
    if (strcmp(model, "alexnet") == 0) {
        check_shape(g, "alexnet", "features.0", 4, 1, 64, 55, 55);
        check_shape(g, "alexnet", "features.12", 4, 1, 256, 6, 6);
        check_shape(g, "alexnet", "avgpool", 4, 1, 256, 6, 6);
        nd = node_named(g, "avgpool");
        CHECK(nd && nd->op == CLV_OP_AVERAGEPOOL);
    }
    if (strcmp(model, "googlenet") == 0) {
        /* ceil_mode: 112 -> 56 (floor would give 55). */
        check_shape(g, "googlenet", "maxpool1", 4, 1, 64, 56, 56);
        check_shape(g, "googlenet", "maxpool2", 4, 1, 192, 28, 28);
        check_shape(g, "googlenet", "inception3b.concat", 4, 1, 480, 28, 28);
        check_shape(g, "googlenet", "inception4e.concat", 4, 1, 832, 14, 14);
        check_shape(g, "googlenet", "inception5b.concat", 4, 1, 1024, 7, 7);
        nd = node_named(g, "inception3a.branch3.1.conv"); /* torchvision */
        iv = nd ? clv_node_ints(nd, "kernel_shape", &cnt) : NULL;
        CHECK(iv && cnt == 2 && iv[0] == 3);
        nd = node_named(g, "conv1.bn");
        CHECK(nd && fabsf(clv_node_float(nd, "epsilon", 0) - 1e-3f) < 1e-9f);
        CHECK(count_op(g, CLV_OP_CONCAT) == 9);
    }
    if (strcmp(model, "mobilenet-v2") == 0) {
        check_shape(g, "mobilenet-v2", "features.1.conv.2", 4, 1, 16, 112,
                    112);
        check_shape(g, "mobilenet-v2", "features.17.conv.3", 4, 1, 320, 7, 7);
        check_shape(g, "mobilenet-v2", "features.18.2", 4, 1, 1280, 7, 7);
        CHECK(count_op(g, CLV_OP_ADD) == 10);
        CHECK(count_op(g, CLV_OP_CLIP) == 35);
        nd = node_named(g, "features.0.2");
        CHECK(nd && nd->op == CLV_OP_CLIP &&
              clv_node_float(nd, "min", -1) == 0.0f &&
              clv_node_float(nd, "max", -1) == 6.0f);
        nd = node_named(g, "features.2.conv.1.0"); /* depthwise, 96 ch */
        CHECK(nd && clv_node_int(nd, "group", 0) == 96);
        nd = node_named(g, "features.3.add");
        CHECK(nd && nd->op == CLV_OP_ADD);
    }
    if (strcmp(model, "nin") == 0) {
        check_shape(g, "nin", "conv1", 4, 1, 96, 54, 54);
        check_shape(g, "nin", "pool0", 4, 1, 96, 27, 27); /* caffe: ceil */
        check_shape(g, "nin", "pool2", 4, 1, 256, 13, 13);
        check_shape(g, "nin", "pool3", 4, 1, 384, 6, 6);
        check_shape(g, "nin", "relu12", 4, 1, 1000, 6, 6);
    }
    if (strcmp(model, "tiny-yolov2") == 0) {
        check_shape(g, "tiny-yolov2", "layer9.maxpool", 4, 1, 256, 13, 13);
        check_shape(g, "tiny-yolov2", "layer11.maxpool", 4, 1, 512, 13, 13);
        nd = node_named(g, "layer11.maxpool");
        iv = nd ? clv_node_ints(nd, "pads", &cnt) : NULL;
        CHECK(iv && cnt == 4 && iv[0] == 0 && iv[1] == 0 && iv[2] == 1 &&
              iv[3] == 1);
        nd = node_named(g, "layer0.leaky");
        CHECK(nd && nd->op == CLV_OP_LEAKYRELU &&
              fabsf(clv_node_float(nd, "alpha", 0) - 0.1f) < 1e-7f);
        nd = node_named(g, "layer14.conv");
        CHECK(nd && nd->n_inputs == 3); /* the linear conv has a bias */
    }
    if (strcmp(model, "lenet") == 0) {
        check_shape(g, "lenet", "pool1", 4, 1, 6, 14, 14);
        check_shape(g, "lenet", "pool2", 4, 1, 16, 5, 5);
        check_shape(g, "lenet", "fc1", 2, 1, 120, 0, 0);
    }
}

/* Compares every constant of `a` with the tensor of the same name in `b`.
 * Returns the number of constants whose shape or bytes differ (a missing
 * one counts). */
static int weight_diffs(const clv_graph *a, const clv_graph *b, int *n_const)
{
    int diffs = 0;
    *n_const = 0;
    for (int i = 0; i < clv_graph_n_tensors(a); i++) {
        const clv_tensor *t = clv_graph_tensor(a, i);
        if (!(t->flags & CLV_TENSOR_CONST))
            continue;
        ++*n_const;
        const clv_tensor *u = tensor_named(b, t->name);
        if (!u || !(u->flags & CLV_TENSOR_CONST) || u->dtype != t->dtype ||
            !has_shape(u, t->ndim, t->dims) || !u->data ||
            memcmp(t->data, u->data, clv_tensor_bytes(t)) != 0)
            diffs++;
    }
    return diffs;
}

/* ---- the ONNX round trip, with ONNX's checker as the peer -------------- */

/* Writes `g` to CLEAVE_BINARY_DIR/zoo/<name>.onnx, has ONNX's checker
 * (full_check: with its shape inference) accept the file, loads it back and
 * compares: node count, output shapes, FLOPs and every weight's bytes. */
static void check_onnx_peer(const char *name, const clv_graph *g)
{
    char dir[512], path[600], cmd[1024];
    clv_graph *h = NULL;
    clv_error err;
    snprintf(dir, sizeof dir, "%s/zoo", CLEAVE_BINARY_DIR);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        CHECKF(0, "mkdir %s: %s", dir, strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    clv_error_clear(&err);
    int rc = clv_save_onnx(g, path, &err);
    CHECKF(rc == 0, "%s: save: %s", name, clv_error_text(&err, rc));
    if (rc != 0)
        return;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import onnx,sys; "
             "onnx.checker.check_model(onnx.load(sys.argv[1]), "
             "full_check=True)' '%s'",
             path);
    int st = system(cmd);
    CHECKF(st == 0, "%s: onnx.checker rejects %s (status %d)", name, path,
           st);
    clv_error_clear(&err);
    rc = clv_load_onnx(path, &h, &err);
    CHECKF(rc == 0 && h, "%s: load back: %s", name, clv_error_text(&err, rc));
    if (!h)
        return;
    CHECKF(clv_graph_n_nodes(h) == clv_graph_n_nodes(g),
           "%s: %d nodes back, %d written", name, clv_graph_n_nodes(h),
           clv_graph_n_nodes(g));
    CHECK(clv_graph_n_inputs(h) == 1);
    CHECK(clv_graph_n_outputs(h) == clv_graph_n_outputs(g));
    for (int k = 0;
         k < clv_graph_n_outputs(g) && k < clv_graph_n_outputs(h); k++) {
        const clv_tensor *to = clv_graph_tensor(g, clv_graph_output(g, k));
        const clv_tensor *tb = clv_graph_tensor(h, clv_graph_output(h, k));
        CHECKF(has_shape(tb, to->ndim, to->dims) &&
                   strcmp(tb->name, to->name) == 0,
               "%s: output %d differs", name, k);
    }
    CHECKF(clv_graph_total_flops(h) == clv_graph_total_flops(g),
           "%s: %llu flops back, %llu written", name,
           (unsigned long long)clv_graph_total_flops(h),
           (unsigned long long)clv_graph_total_flops(g));
    int n_const = 0, diffs = weight_diffs(g, h, &n_const);
    CHECKF(diffs == 0 && n_const > 0,
           "%s: %d of %d weights differ after the round trip", name, diffs,
           n_const);
    clv_graph_free(h);
}

/* ---- every network at its default size --------------------------------- */

static uint64_t vgg16_conv224, vgg16_gemm224; /* for test_sizes */

static void test_defaults(void)
{
    CHECK(clv_zoo_count() == N_EXPECT);
    CHECK(clv_zoo_name(-1) == NULL && clv_zoo_name(N_EXPECT) == NULL);
    CHECK(clv_zoo_describe(N_EXPECT) == NULL);
    for (int i = 0; i < N_EXPECT; i++) {
        const struct expect *e = &expects[i];
        CHECKF(clv_zoo_name(i) && strcmp(clv_zoo_name(i), e->name) == 0,
               "zoo model %d is '%s', expected '%s'", i,
               clv_zoo_name(i) ? clv_zoo_name(i) : "(null)", e->name);
        CHECK(clv_zoo_describe(i) && clv_zoo_describe(i)[0]);

        clv_graph *g = build(e->name, 1, 0);
        if (!g)
            continue;
        const int64_t in[4] = {1, e->in_c, e->hw, e->hw};
        CHECK(clv_graph_n_inputs(g) == 1 && clv_graph_n_outputs(g) == 1);
        const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
        const clv_tensor *to = clv_graph_tensor(g, clv_graph_output(g, 0));
        CHECKF(ti && strcmp(ti->name, "input") == 0 && has_shape(ti, 4, in),
               "%s: bad input", e->name);
        char got[64] = "";
        if (to)
            clv_tensor_shape_str(to, got, sizeof got);
        CHECKF(to && strcmp(to->name, "output") == 0 &&
                   has_shape(to, e->out_ndim, e->out),
               "%s: output is %s", e->name, got);
        CHECKF(strcmp(clv_graph_name(g), e->name) == 0, "%s: graph name %s",
               e->name, clv_graph_name(g));
        CHECK(clv_graph_opset(g) == 13);

        int n = clv_graph_n_nodes(g);
        CHECKF(n == e->nodes, "%s: %d nodes, expected %d", e->name, n,
               e->nodes);
        uint64_t params = count_params(g);
        CHECKF(params == e->params, "%s: %llu parameters, expected %llu",
               e->name, (unsigned long long)params,
               (unsigned long long)e->params);

        /* Multiply-adds: conv + gemm against the published figure, and the
         * whole graph (elementwise ops included). */
        double mm = (double)(op_flops(g, CLV_OP_CONV) +
                             op_flops(g, CLV_OP_GEMM)) / 2e9;
        double total = (double)clv_graph_total_flops(g) / 2e9;
        double rel = fabs(mm - e->gmacs) / e->gmacs;
        CHECKF(rel < 0.02, "%s: conv+gemm %.4f G multiply-adds, %s says %.4f",
               e->name, mm, e->source, e->gmacs);
        CHECKF(total >= mm, "%s: total flops below conv+gemm", e->name);
        /* Elementwise ops stay a small share, except in MobileNetV2 where
         * BN and ReLU6 run over the wide expanded tensors, and in LeNet
         * (docs/zoo.md). */
        double rel_total = fabs(total - e->gmacs) / e->gmacs;
        if (strcmp(e->name, "mobilenet-v2") != 0 &&
            strcmp(e->name, "lenet") != 0)
            CHECKF(rel_total < 0.02,
                   "%s: all nodes %.4f G multiply-adds, %s says %.4f (%.1f%%)",
                   e->name, total, e->source, e->gmacs, 100 * rel_total);

        CHECKF(clv_graph_is_chain(g) == e->chain, "%s: chain %d", e->name,
               (int)clv_graph_is_chain(g));
        int cuts = count_valid_cuts(g);
        CHECK(cuts >= 0);
        if (e->chain)
            CHECKF(cuts == n - 1, "%s: %d valid cuts in a chain of %d",
                   e->name, cuts, n);

        check_inside(e->name, g);

        /* Node names are never generated ("Conv_12") or de-duplicated
         * ("relu_1" only where torch.onnx would write it). */
        int bad = 0;
        for (int k = 0; k < n; k++) {
            const char *nm = clv_graph_node(g, k)->name;
            const char *op = clv_op_name(clv_graph_node(g, k)->op);
            size_t ol = strlen(op);
            if (!nm[0] || (strncmp(nm, op, ol) == 0 && nm[ol] == '_'))
                bad++;
        }
        CHECKF(bad == 0, "%s: %d generated node names", e->name, bad);

        char out_s[64] = "";
        if (to)
            clv_tensor_shape_str(to, out_s, sizeof out_s);
        printf("| %s | 1x%lldx%lldx%lld | %s | %d | %.3f M | %.4f | %.4f | "
               "%d |\n",
               e->name, (long long)e->in_c, (long long)e->hw,
               (long long)e->hw, out_s, n, (double)params / 1e6, mm, total,
               cuts);
        fflush(stdout);
        if (strcmp(e->name, "vgg16") == 0) {
            vgg16_conv224 = op_flops(g, CLV_OP_CONV);
            vgg16_gemm224 = op_flops(g, CLV_OP_GEMM);
        }
        check_onnx_peer(e->name, g);
        clv_graph_free(g);
    }
}

/* ---- other input sizes ------------------------------------------------- */

static void expect_fail(const char *name, int64_t hw, int code,
                        const char *needle)
{
    clv_graph *g = (clv_graph *)&g; /* must be reset to NULL */
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_zoo_build(name, 1, hw, &g, &err);
    CHECKF(rc == code && g == NULL, "%s at %lld: rc %d (%s), expected %d",
           name, (long long)hw, rc, err.msg, code);
    CHECKF(strstr(err.msg, needle) != NULL,
           "%s at %lld: message '%s' lacks '%s'", name, (long long)hw,
           err.msg, needle);
    if (rc == 0)
        clv_graph_free(g);
}

static void test_sizes(void)
{
    clv_graph *g;
    if ((g = build("resnet18", 1, 160))) {
        check_shape(g, "resnet18@160", "layer4.1.relu_1", 4, 1, 512, 5, 5);
        check_shape(g, "resnet18@160", "output", 2, 1, 1000, 0, 0);
        clv_graph_free(g);
    }
    if ((g = build("resnet50", 1, 32))) {
        check_shape(g, "resnet50@32", "layer4.2.relu_2", 4, 1, 2048, 1, 1);
        clv_graph_free(g);
    }
    if ((g = build("mobilenet-v2", 1, 160))) {
        check_shape(g, "mobilenet-v2@160", "features.18.2", 4, 1, 1280, 5, 5);
        clv_graph_free(g);
    }
    clv_graph *b = build("vgg16", 1, 448);
    if (b) {
        /* Twice the side: 4x the conv work, the same classifier. */
        check_shape(b, "vgg16@448", "features.30", 4, 1, 512, 14, 14);
        check_shape(b, "vgg16@448", "avgpool", 4, 1, 512, 7, 7);
        check_shape(b, "vgg16@448", "output", 2, 1, 1000, 0, 0);
        CHECK(vgg16_conv224 > 0);
        CHECK(op_flops(b, CLV_OP_CONV) == 4 * vgg16_conv224);
        CHECK(op_flops(b, CLV_OP_GEMM) == vgg16_gemm224);
    }
    clv_graph_free(b);
    if ((g = build("tiny-yolov2", 1, 320))) {
        check_shape(g, "tiny-yolov2@320", "output", 4, 1, 125, 10, 10);
        clv_graph_free(g);
    }
    if ((g = build("googlenet", 1, 160))) {
        check_shape(g, "googlenet@160", "output", 2, 1, 1000, 0, 0);
        clv_graph_free(g);
    }
    if ((g = build("lenet", 1, 28))) {
        check_shape(g, "lenet@28", "output", 2, 1, 10, 0, 0);
        clv_graph_free(g);
    }

    /* Classifiers that depend on the spatial size. */
    expect_fail("alexnet", 200, CLV_ERANGE, "223 to 254 (6x6)");
    expect_fail("vgg16", 200, CLV_ERANGE, "224 to 255 (7x7)");
    expect_fail("vgg16", 300, CLV_ERANGE, "avgpool");
    expect_fail("lenet", 32, CLV_ERANGE, "28x28");
    expect_fail("tiny-yolov2", 300, CLV_ERANGE, "multiple of 32");
    /* Too small: the node that cannot take it is named. */
    expect_fail("googlenet", 8, CLV_ERANGE, "'maxpool2'");
    expect_fail("nin", 8, CLV_ERANGE, "'conv1'");
    expect_fail("resnet18", -3, CLV_ERANGE, "-3");
    expect_fail("resnet18", 100000, CLV_ERANGE, "out of range");
}

/* ---- names ------------------------------------------------------------- */

static void test_names(void)
{
    expect_fail("resnet19", 0, CLV_ENOTFOUND, "resnet19");
    expect_fail("resnet19", 0, CLV_ENOTFOUND,
                "nin, tiny-yolov2, vgg16, alexnet, resnet18, mobilenet-v2, "
                "googlenet, resnet50, lenet");
    expect_fail("", 0, CLV_ENOTFOUND, "no model named ''");
    clv_graph *g = (clv_graph *)&g;
    CHECK(clv_zoo_build(NULL, 1, 0, &g, NULL) == CLV_ENOTFOUND && !g);
    CHECK(clv_zoo_build("lenet", 1, 0, NULL, NULL) == CLV_EINVAL);
}

/* ---- weights ----------------------------------------------------------- */

static void stats(const clv_graph *g, const char *name, double *mean,
                  double *sd, float *lo, float *hi)
{
    const clv_tensor *t = tensor_named(g, name);
    *mean = *sd = 0;
    *lo = *hi = NAN;
    CHECKF(t && t->data && t->dtype == CLV_DT_FLOAT, "no weight '%s'", name);
    if (!t || !t->data)
        return;
    const float *x = t->data;
    int64_t n = clv_tensor_numel(t);
    double s = 0, s2 = 0;
    *lo = *hi = x[0];
    for (int64_t i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
        if (x[i] < *lo)
            *lo = x[i];
        if (x[i] > *hi)
            *hi = x[i];
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
}

static void test_weights(void)
{
    clv_graph *a = build("resnet50", 7, 0), *b = build("resnet50", 7, 0),
              *c = build("resnet50", 8, 0);
    int n_const = 0;
    if (a && b) {
        CHECK(weight_diffs(a, b, &n_const) == 0);
        CHECK(n_const == 53 * 1 + 53 * 4 + 2); /* convs, BNs, fc */
    }
    if (a && c)
        CHECKF(weight_diffs(a, c, &n_const) == n_const,
               "a different seed left some weights equal");
    if (a) {
        double mean, sd;
        float lo, hi;
        /* He: std sqrt(2 / fan_in). */
        stats(a, "layer1.0.conv2.weight", &mean, &sd, &lo, &hi);
        CHECKF(fabs(sd - sqrt(2.0 / 576)) < 0.03 * sqrt(2.0 / 576) &&
                   fabs(mean) < 0.002,
               "conv2 weights: mean %g sd %g", mean, sd);
        stats(a, "fc.weight", &mean, &sd, &lo, &hi);
        CHECKF(fabs(sd - sqrt(2.0 / 2048)) < 0.01 * sqrt(2.0 / 2048),
               "fc weights: sd %g", sd);
        stats(a, "fc.bias", &mean, &sd, &lo, &hi);
        CHECK(lo >= -0.01f && hi <= 0.01f && hi > lo);
        stats(a, "layer3.1.bn2.weight", &mean, &sd, &lo, &hi);
        CHECK(lo >= 0.8f && hi <= 1.2f && hi - lo > 0.3f);
        stats(a, "layer3.1.bn2.running_var", &mean, &sd, &lo, &hi);
        CHECK(lo >= 0.5f && hi <= 1.5f && hi - lo > 0.8f);
        stats(a, "layer3.1.bn2.running_mean", &mean, &sd, &lo, &hi);
        CHECK(lo >= -0.1f && hi <= 0.1f);
        stats(a, "bn1.bias", &mean, &sd, &lo, &hi);
        CHECK(lo >= -0.1f && hi <= 0.1f);
        /* The weights the graph counts are the ones it holds. */
        uint64_t bytes = 0;
        for (int i = 0; i < clv_graph_n_tensors(a); i++)
            if (clv_graph_tensor(a, i)->flags & CLV_TENSOR_CONST)
                bytes += clv_tensor_bytes(clv_graph_tensor(a, i));
        CHECK(clv_graph_param_bytes(a) == bytes);
        CHECK(bytes == 4 * (25557032 + 2 * 26560)); /* + BN running stats */
    }
    clv_graph_free(a);
    clv_graph_free(b);
    clv_graph_free(c);
}

int main(void)
{
    printf("| name | input | output | nodes | parameters | conv+gemm G MACs "
           "| all-node G MACs | valid single cuts |\n");
    test_defaults();
    test_sizes();
    test_names();
    test_weights();
    return check_report("test_zoo");
}
