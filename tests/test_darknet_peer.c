/*
 * The engine against Debian's darknet, layer by layer (issue 3, item 3b).
 *
 * For yolov2-tiny, yolov3-tiny, alexnet and resnet18 (the cfgs Debian ships
 * in /usr/share/darknet/cfg):
 *
 *  1. a forked child dlopens /usr/lib/darknet/libdarknet.so, parses the cfg
 *     (a copy with batch=1) and reports each layer's type and parameter
 *     counts;
 *  2. the parent writes one .weights file (format 0.2, 64-bit seen) with
 *     seeded values for exactly those counts: He-uniform weights, biases in
 *     +-0.1, batch-norm scales and variances in [0.8, 1.2] and means in
 *     +-0.1, except that every 16th channel of every batch-norm is a "dead"
 *     channel (variance 1e-8, scale 1e-4), where darknet's
 *     (x - mean) / (sqrt(var) + 1e-6) and an ONNX-style sqrt(var + eps)
 *     differ by orders of magnitude (docs/darknet.md);
 *  3. the child loads that file (load_weights), runs network_predict on a
 *     seeded input (uniform in [0, 1)) and writes every layer's output
 *     (net->layers[i].output, `outputs` floats) to a file;
 *  4. meanwhile the parent loads the same cfg and weights with
 *     clv_load_darknet and runs cleave's engine one darknet layer at a time:
 *     the nodes named layer<i>_* form one engine (a partition of the graph),
 *     whose outputs include the tensor "layer<i>" that every later layer
 *     reads. It also runs the whole graph as one engine on 2 threads and
 *     checks that its outputs are bit-identical to the layer-by-layer ones.
 *  5. every layer's output is compared: with c cleave's "layer<i>" and d
 *     darknet's layers[i].output, the layer's error is
 *         max_j |c_j - d_j| / max(max_j |d_j|, 1e-30)
 *     and must be <= 1e-4 (docs/peers.md). A control checks that the same
 *     comparison fails on cleave's seeded weights (the weights file really
 *     matters), and the dead channels check darknet's epsilon.
 *
 * [region] (yolov2-tiny) and [yolo] (yolov3-tiny) layers are compared as
 * darknet leaves them at inference: the input with the logistic applied to
 * x, y and objectness (and, for [yolo], the classes; [region] softmaxes the
 * classes of each anchor), w and h raw.
 *
 * Without libdarknet (or darknet.h at build time) the test prints why and
 * skips.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cleave/engine.h"
#include "cleave/graph.h"
#include "cleave/load.h"
#include "darknet_lib.h"
#include "util/util.h"

#define TOLERANCE 1e-4

static const char *const models[] = {"yolov2-tiny", "yolov3-tiny", "alexnet",
                                     "resnet18"};

static char tmpdir[64];

/* What the child reports for each darknet layer. */
typedef struct dk_layer {
    int type;     /* darknet's LAYER_TYPE */
    int n;        /* filters (conv), outputs (connected), channels (bn) */
    int nweights; /* weights of conv / connected */
    int bn;       /* batch_normalize (conv, connected); 1 for [batchnorm] */
    int outputs;  /* floats of layers[i].output */
    int loads;    /* 1 when load_weights reads this layer */
} dk_layer;

enum { DK_CONV = 0, DK_CONNECTED = 2, DK_COST = 9, DK_BATCHNORM = 19 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Uniform in [lo, hi), from the project's seeded generator. */
static float rng_uniform(clv_rng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)clv_rng_uniform(r);
}

static bool write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t k = write(fd, p, len);
        if (k <= 0)
            return false;
        p += k;
        len -= (size_t)k;
    }
    return true;
}

static bool read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t k = read(fd, p, len);
        if (k <= 0)
            return false;
        p += k;
        len -= (size_t)k;
    }
    return true;
}

/* ---- the darknet child ------------------------------------------------- */

#if HAVE_DARKNET_H
/* Runs in the child: never returns. Protocol: layer records to `wfd`, then
 * waits for one byte on `rfd` (1: go), loads `weights`, predicts on the
 * floats in `input_path` and writes every layer's output to `out_path`. */
static void child_main(const char *cfg, const char *weights,
                       const char *input_path, const char *out_path, int rfd,
                       int wfd)
{
    network *(*parse)(char *) = NULL;
    void (*load)(network *, char *) = NULL;
    void (*set_batch)(network *, int) = NULL;
    float *(*predict)(network *, float *) = NULL;
    char tmp[128];
    void *h = darknet_child_open(600, RTLD_NOW | RTLD_LOCAL);

    darknet_sym(h, "parse_network_cfg", &parse, sizeof parse);
    darknet_sym(h, "load_weights", &load, sizeof load);
    darknet_sym(h, "set_batch_network", &set_batch, sizeof set_batch);
    darknet_sym(h, "network_predict", &predict, sizeof predict);
    if (!parse || !load || !set_batch || !predict)
        _exit(5);
    snprintf(tmp, sizeof tmp, "%s/child%ld.cfg", tmpdir, (long)getpid());
    if (darknet_write_batch1(cfg, tmp))
        _exit(6);
    network *net = parse(tmp);
    unlink(tmp);
    if (!net)
        _exit(7);
    set_batch(net, 1);

    int n = net->n;
    if (!write_all(wfd, &n, sizeof n))
        _exit(8);
    for (int i = 0; i < n; i++) {
        const layer *l = &net->layers[i];
        dk_layer r = {(int)l->type, 0, 0, 0, l->outputs, 0};
        if (l->type == CONVOLUTIONAL) {
            r.n = l->n;
            r.nweights = l->nweights;
            r.bn = l->batch_normalize;
            r.loads = !l->dontload;
        } else if (l->type == CONNECTED) {
            r.n = l->outputs;
            r.nweights = l->outputs * l->inputs;
            r.bn = l->batch_normalize;
            r.loads = !l->dontload;
        } else if (l->type == BATCHNORM) {
            r.n = l->c;
            r.bn = 1;
            r.loads = !l->dontload;
        }
        if (!write_all(wfd, &r, sizeof r))
            _exit(8);
    }
    unsigned char go = 0;
    if (!read_all(rfd, &go, 1) || go != 1)
        _exit(0);

    load(net, (char *)weights);
    size_t n_in = (size_t)net->inputs;
    float *input = malloc(n_in * sizeof *input);
    FILE *f = fopen(input_path, "rb");
    if (!input || !f || fread(input, sizeof *input, n_in, f) != n_in)
        _exit(9);
    fclose(f);
    predict(net, input);
    f = fopen(out_path, "wb");
    if (!f)
        _exit(10);
    for (int i = 0; i < n; i++) {
        const layer *l = &net->layers[i];
        if (l->type == COST || !l->output)
            continue;
        if (fwrite(l->output, sizeof(float), (size_t)l->outputs, f) !=
            (size_t)l->outputs)
            _exit(11);
    }
    _exit(fclose(f) == 0 ? 0 : 12);
}
#endif

typedef struct child {
    pid_t pid;
    int rfd, wfd; /* parent's ends */
} child;

static bool child_start(const char *cfg, const char *weights,
                        const char *input_path, const char *out_path,
                        child *c)
{
#if HAVE_DARKNET_H
    int up[2], down[2];
    if (pipe(up))
        return false;
    if (pipe(down)) {
        close(up[0]);
        close(up[1]);
        return false;
    }
    fflush(stdout);
    fflush(stderr);
    c->pid = fork();
    if (c->pid < 0) {
        close(up[0]);
        close(up[1]);
        close(down[0]);
        close(down[1]);
        return false;
    }
    if (c->pid == 0) {
        close(up[0]);
        close(down[1]);
        child_main(cfg, weights, input_path, out_path, down[0], up[1]);
    }
    close(up[1]);
    close(down[0]);
    c->rfd = up[0];
    c->wfd = down[1];
    return true;
#else
    (void)cfg;
    (void)weights;
    (void)input_path;
    (void)out_path;
    (void)c;
    return false;
#endif
}

/* Tells the child to go on (1) or to stop (0), and closes the pipe. */
static void child_go(child *c, unsigned char go)
{
    if (!write_all(c->wfd, &go, 1))
        fprintf(stderr, "darknet child: pipe closed early\n");
    close(c->wfd);
    c->wfd = -1;
}

/* Reaps the child; returns its exit status (-1 killed by a signal). */
static int child_wait(child *c)
{
    int status = 0;
    if (c->wfd >= 0)
        close(c->wfd);
    if (c->rfd >= 0)
        close(c->rfd);
    c->wfd = c->rfd = -1;
    if (waitpid(c->pid, &status, 0) != c->pid)
        return -1;
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- the weights file -------------------------------------------------- */

/* Writes a .weights file (0.2.0, seen uint64) with seeded values for the
 * layers `L`. Returns the number of floats written, or -1. */
static long write_weights(const char *path, const dk_layer *L, int n,
                          uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    int32_t hdr[3] = {0, 2, 0};
    uint64_t seen = 0;
    clv_rng s;
    clv_rng_seed(&s, seed);
    long count = 0;
    bool ok = f && fwrite(hdr, sizeof hdr, 1, f) == 1 &&
              fwrite(&seen, sizeof seen, 1, f) == 1;
#define PUT(v)                                                          \
    do {                                                                \
        float v_ = (v);                                                 \
        ok = ok && fwrite(&v_, sizeof v_, 1, f) == 1;                   \
        count++;                                                        \
    } while (0)
    /* scales, rolling_mean, rolling_variance of a batch-norm over m
     * channels; every 16th channel (from 5) is "dead". */
#define PUT_BN(m)                                                       \
    do {                                                                \
        for (int c = 0; c < (m); c++)                                   \
            PUT(c % 16 == 5 ? 1e-4f : rng_uniform(&s, 0.8f, 1.2f));     \
        for (int c = 0; c < (m); c++)                                   \
            PUT(rng_uniform(&s, -0.1f, 0.1f));                          \
        for (int c = 0; c < (m); c++)                                   \
            PUT(c % 16 == 5 ? 1e-8f : rng_uniform(&s, 0.8f, 1.2f));     \
    } while (0)
    for (int i = 0; ok && i < n; i++) {
        const dk_layer *l = &L[i];
        if (!l->loads)
            continue;
        if (l->type == DK_CONV || l->type == DK_CONNECTED) {
            int fan_in = l->n ? l->nweights / l->n : 1;
            float a = sqrtf(6.0f / (float)(fan_in > 0 ? fan_in : 1));
            for (int k = 0; k < l->n; k++)
                PUT(rng_uniform(&s, -0.1f, 0.1f)); /* biases */
            if (l->type == DK_CONV && l->bn)
                PUT_BN(l->n);
            for (int k = 0; k < l->nweights; k++)
                PUT(rng_uniform(&s, -a, a));
            if (l->type == DK_CONNECTED && l->bn)
                PUT_BN(l->n);
        } else if (l->type == DK_BATCHNORM) {
            PUT_BN(l->n);
        }
    }
#undef PUT
#undef PUT_BN
    if (f && fclose(f) != 0)
        ok = false;
    return ok ? count : -1;
}

/* ---- cleave, one darknet layer at a time -------------------------------- */

/* The darknet layer index of a node named "layer<i>_<step>", or -1. */
static int node_layer(const clv_node *nd)
{
    int i = -1, len = 0;
    if (sscanf(nd->name, "layer%d_%n", &i, &len) != 1 || len == 0)
        return -1;
    return i;
}

/* Runs the nodes of darknet layers 0 to n_layers-1 of `g`, one engine per
 * layer, in layer order; with `all`, checks that these are all the nodes.
 * bufs[t] receives a malloc'ed buffer for every tensor some engine writes;
 * bufs[input] must hold the input. Returns 0, or -1 after a CHECK failed. */
static int run_by_layer(const clv_graph *g, int n_layers, bool all,
                        void **bufs, const char *label)
{
    int n_nodes = clv_graph_n_nodes(g);
    int *nodes = malloc((size_t)(n_nodes ? n_nodes : 1) * sizeof *nodes);
    int rc = 0, covered = 0;
    if (!nodes)
        return -1;
    for (int L = 0; L < n_layers && rc == 0; L++) {
        int k = 0;
        for (int i = 0; i < n_nodes; i++)
            if (node_layer(clv_graph_node(g, i)) == L)
                nodes[k++] = i;
        if (k == 0)
            continue; /* [cost] */
        covered += k;
        clv_engine *e = NULL;
        clv_error err;
        clv_error_clear(&err);
        clv_engine_options opt = {.threads = 1};
        int r = clv_engine_create(g, nodes, k, &opt, &e, &err);
        CHECKF(r == 0, "%s: engine of layer %d: %s", label, L,
               clv_error_text(&err, r));
        if (r) {
            rc = -1;
            break;
        }
        int ni = clv_engine_n_inputs(e), no = clv_engine_n_outputs(e);
        const void **in = calloc((size_t)ni + 1, sizeof *in);
        void **out = calloc((size_t)no + 1, sizeof *out);
        if (!in || !out) {
            rc = -1;
        }
        for (int j = 0; rc == 0 && j < ni; j++) {
            int t = clv_engine_input(e, j);
            in[j] = bufs[t];
            CHECKF(in[j] != NULL, "%s: layer %d reads tensor '%s' that no "
                   "earlier layer made", label, L,
                   clv_graph_tensor(g, t)->name);
            if (!in[j])
                rc = -1;
        }
        for (int j = 0; rc == 0 && j < no; j++) {
            int t = clv_engine_output(e, j);
            size_t bytes = (size_t)clv_tensor_bytes(clv_graph_tensor(g, t));
            CHECKF(bufs[t] == NULL, "%s: tensor '%s' made twice", label,
                   clv_graph_tensor(g, t)->name);
            free(bufs[t]);
            bufs[t] = malloc(bytes ? bytes : 1);
            out[j] = bufs[t];
            if (!out[j])
                rc = -1;
        }
        if (rc == 0) {
            r = clv_engine_run(e, in, out, &err);
            CHECKF(r == 0, "%s: run of layer %d: %s", label, L,
                   clv_error_text(&err, r));
            if (r)
                rc = -1;
        }
        free(in);
        free(out);
        clv_engine_free(e);
    }
    if (rc == 0 && all)
        CHECKF(covered == n_nodes, "%s: %d of %d nodes belong to a layer",
               label, covered, n_nodes);
    free(nodes);
    return rc;
}

/* Runs the whole graph as one engine on `threads` threads and checks its
 * outputs are bit-identical to the layer-by-layer buffers. */
static void check_whole_graph(const clv_graph *g, void **bufs, int input,
                              int threads, const char *label)
{
    clv_engine *e = NULL;
    clv_error err;
    clv_error_clear(&err);
    clv_engine_options opt = {.threads = threads};
    int r = clv_engine_create(g, NULL, 0, &opt, &e, &err);
    CHECKF(r == 0, "%s: whole-graph engine: %s", label,
           clv_error_text(&err, r));
    if (r)
        return;
    int no = clv_engine_n_outputs(e);
    void **out = calloc((size_t)no + 1, sizeof *out);
    const void *in[1] = {bufs[input]};
    bool ok = out != NULL && clv_engine_n_inputs(e) == 1;
    for (int j = 0; ok && j < no; j++) {
        size_t bytes = (size_t)clv_tensor_bytes(
            clv_graph_tensor(g, clv_engine_output(e, j)));
        out[j] = malloc(bytes ? bytes : 1);
        ok = out[j] != NULL;
    }
    CHECK(ok);
    if (ok) {
        r = clv_engine_run(e, in, out, &err);
        CHECKF(r == 0, "%s: whole-graph run: %s", label,
               clv_error_text(&err, r));
        for (int j = 0; r == 0 && j < no; j++) {
            int t = clv_engine_output(e, j);
            const clv_tensor *T = clv_graph_tensor(g, t);
            CHECKF(bufs[t] && memcmp(bufs[t], out[j],
                                     (size_t)clv_tensor_bytes(T)) == 0,
                   "%s: output '%s' of the whole graph (%d threads) differs "
                   "from the layer-by-layer run",
                   label, T->name, threads);
        }
    }
    for (int j = 0; out && j < no; j++)
        free(out[j]);
    free(out);
    clv_engine_free(e);
}

/* max|c - d| / max(max|d|, 1e-30); NaN when either holds a non-finite. */
static double layer_error(const float *c, const float *d, size_t n,
                          double *dmax_out)
{
    double num = 0, den = 0;
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(c[j]) || !isfinite(d[j]))
            return NAN;
        double diff = fabs((double)c[j] - (double)d[j]);
        if (diff > num)
            num = diff;
        if (fabs((double)d[j]) > den)
            den = fabs((double)d[j]);
    }
    if (dmax_out)
        *dmax_out = den;
    return num / (den > 1e-30 ? den : 1e-30);
}

static const char *type_name(int type)
{
    switch (type) {
    case 0: return "convolutional";
    case 1: return "deconvolutional";
    case 2: return "connected";
    case 3: return "maxpool";
    case 4: return "softmax";
    case 6: return "dropout";
    case 7: return "crop";
    case 8: return "route";
    case 9: return "cost";
    case 11: return "avgpool";
    case 13: return "shortcut";
    case 19: return "batchnorm";
    case 22: return "region";
    case 23: return "yolo";
    case 25: return "reorg";
    case 26: return "upsample";
    default: return "?";
    }
}

/* ---- one model --------------------------------------------------------- */

static void test_model(const char *stem, bool control)
{
    char cfg[256], wpath[160], ipath[160], opath[160];
    snprintf(cfg, sizeof cfg, "%s/%s.cfg", CFG_DIR, stem);
    snprintf(wpath, sizeof wpath, "%s/%s.weights", tmpdir, stem);
    snprintf(ipath, sizeof ipath, "%s/%s.input", tmpdir, stem);
    snprintf(opath, sizeof opath, "%s/%s.darknet", tmpdir, stem);
    double t0 = now();

    clv_graph *g = NULL, *gs = NULL;
    dk_layer *L = NULL;
    void **bufs = NULL;
    float *input = NULL, *dk = NULL;
    child c = {-1, -1, -1};
    bool child_running = false;
    clv_error err;
    int n = 0, rc;

    /* The input: uniform in [0, 1), from the cfg's shape as cleave reads
     * it (checked against darknet's element count below). */
    clv_error_clear(&err);
    rc = clv_load_darknet(cfg, NULL, 1, &gs, &err);
    CHECKF(rc == 0, "%s: %s", stem, clv_error_text(&err, rc));
    if (rc)
        goto done;
    const clv_tensor *tin = clv_graph_tensor(gs, clv_graph_input(gs, 0));
    size_t n_in = (size_t)clv_tensor_numel(tin);
    input = malloc(n_in * sizeof *input);
    if (!input)
        goto done;
    clv_rng s;
    clv_rng_seed(&s, 0x5eed0000u + (uint64_t)strlen(stem));
    for (size_t j = 0; j < n_in; j++)
        input[j] = rng_uniform(&s, 0.0f, 1.0f);
    FILE *f = fopen(ipath, "wb");
    CHECK(f && fwrite(input, sizeof *input, n_in, f) == n_in &&
          fclose(f) == 0);

    /* darknet parses the cfg and says what the weights file must hold. */
    if (!child_start(cfg, wpath, ipath, opath, &c)) {
        CHECKF(false, "%s: cannot start the darknet child", stem);
        goto done;
    }
    child_running = true;
    if (!read_all(c.rfd, &n, sizeof n) || n <= 0 || n > 10000) {
        CHECKF(false, "%s: darknet did not parse the cfg (child exit %d)",
               stem, child_wait(&c));
        child_running = false;
        goto done;
    }
    L = calloc((size_t)n, sizeof *L);
    if (!L || !read_all(c.rfd, L, (size_t)n * sizeof *L)) {
        CHECKF(false, "%s: short layer list from darknet", stem);
        goto done;
    }
    long nw = write_weights(wpath, L, n, 0xda7a0000u + (uint64_t)n);
    CHECKF(nw > 0, "%s: cannot write %s", stem, wpath);
    if (nw <= 0)
        goto done;
    child_go(&c, 1); /* darknet loads the weights and predicts ... */

    /* ... while cleave does the same. */
    clv_error_clear(&err);
    rc = clv_load_darknet(cfg, wpath, 0, &g, &err);
    CHECKF(rc == 0, "%s: %s", stem, clv_error_text(&err, rc));
    if (rc)
        goto done;
    int n_t = clv_graph_n_tensors(g);
    int input_t = clv_graph_input(g, 0);
    bufs = calloc((size_t)n_t, sizeof *bufs);
    if (!bufs)
        goto done;
    bufs[input_t] = malloc(n_in * sizeof *input);
    if (!bufs[input_t])
        goto done;
    memcpy(bufs[input_t], input, n_in * sizeof *input);
    double t1 = now();
    if (run_by_layer(g, n, true, bufs, stem))
        goto done;
    double t2 = now();
    check_whole_graph(g, bufs, input_t, 2, stem);

    int st = child_wait(&c);
    child_running = false;
    CHECKF(st == 0, "%s: the darknet child exited with %d", stem, st);
    if (st != 0)
        goto done;
    double t3 = now();

    /* Read darknet's outputs and compare layer by layer. */
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (L[i].type != DK_COST)
            total += (size_t)L[i].outputs;
    dk = malloc(total * sizeof *dk);
    f = fopen(opath, "rb");
    CHECKF(dk && f && fread(dk, sizeof *dk, total, f) == total,
           "%s: darknet's outputs are short", stem);
    if (f)
        fclose(f);
    if (!dk)
        goto done;
    size_t off = 0;
    double worst = 0;
    int worst_layer = -1, compared = 0;
    for (int i = 0; i < n; i++) {
        if (L[i].type == DK_COST)
            continue;
        const float *d = dk + off;
        off += (size_t)L[i].outputs;
        char name[32];
        snprintf(name, sizeof name, "layer%d", i);
        int t = clv_graph_find_tensor(g, name);
        CHECKF(t >= 0 && bufs[t], "%s: no output for %s", stem, name);
        if (t < 0 || !bufs[t])
            continue;
        const clv_tensor *T = clv_graph_tensor(g, t);
        CHECKF(clv_tensor_numel(T) == L[i].outputs,
               "%s: %s has %lld values, darknet's layer %d %d", stem, name,
               (long long)clv_tensor_numel(T), i, L[i].outputs);
        if (clv_tensor_numel(T) != L[i].outputs)
            continue;
        double dmax = 0;
        double e = layer_error(bufs[t], d, (size_t)L[i].outputs, &dmax);
        CHECKF(e <= TOLERANCE,
               "%s: layer %d (%s, %lld values): max |cleave - darknet| / "
               "max |darknet| = %.3g (max |darknet| %.3g)",
               stem, i, type_name(L[i].type),
               (long long)clv_tensor_numel(T), e, dmax);
        /* A layer of zeros would compare equal whatever the kernels do. */
        CHECKF(dmax > 1e-3, "%s: darknet's layer %d is all (near) zero",
               stem, i);
        if (!(e <= worst)) {
            worst = e;
            worst_layer = i;
        }
        compared++;
    }
    CHECKF(off == total, "%s: layer sizes do not add up", stem);
    printf("%s: %d layers compared, worst error %.2g at layer %d (%s); "
           "%ld weights; cleave by layer %.2fs, darknet done at %.2fs\n",
           stem, compared, worst, worst_layer,
           worst_layer >= 0 ? type_name(L[worst_layer].type) : "-", nw,
           t2 - t1, t3 - t0);

    /* Control: cleave with its own seeded weights must NOT match darknet
     * on the first convolution, or the comparison proves nothing. */
    if (control) {
        void **b2 = calloc((size_t)clv_graph_n_tensors(gs), sizeof *b2);
        int in2 = clv_graph_input(gs, 0);
        if (b2 && (b2[in2] = malloc(n_in * sizeof *input))) {
            memcpy(b2[in2], input, n_in * sizeof *input);
            if (run_by_layer(gs, 1, false, b2, "control") == 0) {
                int t = clv_graph_find_tensor(gs, "layer0");
                double e = t >= 0 && b2[t]
                               ? layer_error(b2[t], dk, (size_t)L[0].outputs,
                                             NULL)
                               : 0;
                CHECKF(e > 1e-2,
                       "%s: control: seeded weights match darknet's layer 0 "
                       "(error %.3g)", stem, e);
            }
        }
        for (int t = 0; b2 && t < clv_graph_n_tensors(gs); t++)
            free(b2[t]);
        free(b2);
    }

done:
    if (child_running) {
        if (c.wfd >= 0)
            child_go(&c, 0);
        child_wait(&c);
    }
    for (int t = 0; bufs && t < clv_graph_n_tensors(g); t++)
        free(bufs[t]);
    free(bufs);
    free(dk);
    free(L);
    free(input);
    clv_graph_free(g);
    clv_graph_free(gs);
    remove(wpath);
    remove(ipath);
    remove(opath);
}

/* The dead channels: darknet's epsilon (docs/darknet.md) is what cleave
 * stores, so a tiny variance gives darknet's value, not ONNX's. Checked
 * on one BN layer built by hand: x = 1, mean 0, var 1e-8, scale 1e-4. */
static void test_dead_channel_constant(void)
{
    static const char cfg[] = "[net]\nwidth=1\nheight=1\nchannels=1\n"
                              "[convolutional]\nfilters=1\nsize=1\n"
                              "batch_normalize=1\nactivation=linear\n";
    unsigned char w[20 + 5 * 4];
    int32_t hdr[3] = {0, 2, 0};
    uint64_t seen = 0;
    float v[5] = {0.0f /* bias */, 1e-4f /* scale */, 0.0f /* mean */,
                  1e-8f /* var */, 1.0f /* weight */};
    memcpy(w, hdr, 12);
    memcpy(w + 12, &seen, 8);
    memcpy(w + 20, v, sizeof v);
    clv_graph *g = NULL;
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_load_darknet_mem(cfg, strlen(cfg), w, sizeof w, 0, "d.cfg",
                                  &g, &err);
    CHECKF(rc == 0, "dead channel: %s", clv_error_text(&err, rc));
    if (rc)
        return;
    clv_engine *e = NULL;
    rc = clv_engine_create(g, NULL, 0, NULL, &e, &err);
    CHECKF(rc == 0, "dead channel: %s", clv_error_text(&err, rc));
    if (!rc) {
        float x = 1.0f, y = 0.0f;
        const void *in[1] = {&x};
        void *out[1] = {&y};
        rc = clv_engine_run(e, in, out, &err);
        /* darknet: 1e-4 * 1 / (sqrt(1e-8) + 1e-6) = 1e-4 / 1.01e-4 */
        double want = 1e-4 / (1e-4 + 1e-6);
        CHECKF(rc == 0 && fabs(y - want) <= 1e-5 * want,
               "dead channel: got %.9g, darknet computes %.9g", y, want);
    }
    clv_engine_free(e);
    clv_graph_free(g);
}

int main(void)
{
    double t0 = now();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cleave_dkpeer_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_dead_channel_constant();
    if (!HAVE_DARKNET_H || access(DARKNET_LIB, R_OK) != 0) {
        printf("test_darknet_peer: SKIPPED the libdarknet comparison: %s "
               "not found (Debian package darknet; scripts/install-deps.sh)"
               "\n",
               HAVE_DARKNET_H ? DARKNET_LIB
                              : "/usr/lib/darknet/include/darknet.h");
    } else {
        for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
            test_model(models[i], i == 0);
    }
    rmdir(tmpdir);
    printf("test_darknet_peer: %.1f s\n", now() - t0);
    return check_report("test_darknet_peer");
}
