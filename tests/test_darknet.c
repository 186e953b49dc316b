/*
 * Tests of the darknet reader.
 *
 *  - Every cfg Debian ships in /usr/share/darknet/cfg loads, except the ones
 *    docs/darknet.md lists as unsupported, which fail with the documented
 *    code and a message naming file, line and the reason.
 *  - Published output shapes (YOLOv2-tiny VOC 125x13x13, COCO 425x13x13,
 *    YOLOv3-tiny 255x13x13 + 255x26x26).
 *  - The peer: libdarknet itself (dlopen'ed in a forked child per cfg)
 *    parses the same cfg; every darknet layer's (out_c, out_h, out_w) and
 *    output count must equal the shape of cleave's "layer<i>" tensor.
 *  - Weights placement: a .weights file with known values for a small cfg;
 *    every constant tensor holds exactly the values darknet loads into the
 *    matching layer field (checked against darknet's load_network too), for
 *    the three header variants (seen as uint64, as int32, transposed).
 *  - Every truncation of that .weights file fails cleanly, naming the layer.
 *  - Malformed cfgs: the right code and "file:line" in the message.
 *
 * Set CLEAVE_DARKNET_PEER_ALL=1 to run the peer over every loadable cfg
 * (about a minute more, libdarknet initialises its weights slowly).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
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
#include <unistd.h>

#include "check.h"
#include "cleave/graph.h"
#include "cleave/load.h"
#include "darknet_lib.h"

static char tmpdir[64];
static int known_seen, attr_seen; /* cfgs the per-cfg checks saw */

/* ---- helpers ----------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

static const clv_tensor *tensor(const clv_graph *g, const char *name)
{
    int t = clv_graph_find_tensor(g, name);
    return t >= 0 ? clv_graph_tensor(g, t) : NULL;
}

static const clv_node *node_named(const clv_graph *g, const char *name)
{
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        if (strcmp(clv_graph_node(g, i)->name, name) == 0)
            return clv_graph_node(g, i);
    return NULL;
}

static bool has_shape(const clv_tensor *t, int ndim, int64_t d0, int64_t d1,
                      int64_t d2, int64_t d3)
{
    int64_t d[4] = {d0, d1, d2, d3};
    if (!t || t->ndim != ndim)
        return false;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != d[i])
            return false;
    return true;
}

/* Loads `text` as a cfg named "t.cfg" (weights optional). */
static int load_text(const char *text, const void *w, size_t wlen,
                     clv_graph **g, clv_error *err)
{
    clv_error_clear(err);
    return clv_load_darknet_mem(text, strlen(text), w, wlen, 7, "t.cfg", g,
                                err);
}

/* ---- the Debian cfgs --------------------------------------------------- */

/* The cfgs cleave refuses, with why (docs/darknet.md has the same table). */
static const struct {
    const char *file;
    int code;
    const char *reason; /* must appear in the message */
} refused[] = {
    {"darknet9000.cfg", CLV_EUNSUPPORTED, "[softmax] tree="},
    {"gru.cfg", CLV_EUNSUPPORTED, "[gru]"},
    {"rnn.cfg", CLV_EUNSUPPORTED, "[rnn]"},
    {"rnn.train.cfg", CLV_EUNSUPPORTED, "[rnn]"},
    {"strided.cfg", CLV_EUNSUPPORTED, "activation=ramp"},
    {"t1.test.cfg", CLV_EUNSUPPORTED, "[detection]"},
    {"yolo9000.cfg", CLV_EUNSUPPORTED, "[region] tree="},
    {"yolov1-tiny.cfg", CLV_EUNSUPPORTED, "[detection]"},
    {"yolov1.cfg", CLV_EUNSUPPORTED, "[local]"},
};

/* The cfgs the issue names; all must load (and are peer-checked). */
static const char *const listed[] = {
    "yolov2-tiny",   "yolov2-tiny-voc", "yolov3-tiny", "yolov3",
    "yolov2",        "alexnet",         "vgg-16",      "resnet18",
    "resnet34",      "resnet50",        "resnet101",   "resnet152",
    "darknet",       "darknet19",       "darknet53",   "densenet201",
    "resnext50",     "resnext101-32x4d", "extraction", "tiny"};

/* Cheap extra peer checks of sections the listed ones do not use much:
 * reorg extra= (go), softmax temperature= (cifar.test), [cost]. */
static const char *const extra_peer[] = {"go", "cifar.test", "writing",
                                         "jnet-conv", "extraction.conv"};

static int refused_index(const char *file)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (strcmp(refused[i].file, file) == 0)
            return (int)i;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All *.cfg names in CFG_DIR, sorted. */
static int list_cfgs(char ***names)
{
    DIR *d = opendir(CFG_DIR);
    struct dirent *e;
    int n = 0, cap = 0;
    *names = NULL;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            *names = realloc(*names, (size_t)cap * sizeof **names);
        }
        (*names)[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(*names, (size_t)n, sizeof **names, cmp_str);
    return n;
}

/* ---- the libdarknet peer ----------------------------------------------- */

typedef struct peer_layer {
    int type, out_c, out_h, out_w, outputs;
} peer_layer;

typedef struct peer {
    pid_t pid;
    FILE *in;
} peer;

#if HAVE_DARKNET_H
/* In the child: parse (and with `weights`, load) the network with
 * libdarknet and stream what the parent checks. */
static void peer_child(const char *cfg, const char *weights, int fd)
{
    FILE *out = fdopen(fd, "wb");
    char tmp[128];
    network *(*parse)(char *) = NULL;
    network *(*load)(char *, char *, int) = NULL;
    void *h;

    if (!out)
        _exit(3);
    h = darknet_child_open(300, RTLD_LAZY | RTLD_LOCAL);
    darknet_sym(h, "parse_network_cfg", &parse, sizeof parse);
    darknet_sym(h, "load_network", &load, sizeof load);
    if (!parse || !load)
        _exit(5);
    snprintf(tmp, sizeof tmp, "%s/peer%ld.cfg", tmpdir, (long)getpid());
    if (darknet_write_batch1(cfg, tmp))
        _exit(6);
    network *net = weights ? load(tmp, (char *)weights, 0) : parse(tmp);
    unlink(tmp);
    if (!net)
        _exit(7);
    int n = net->n;
    fwrite(&n, sizeof n, 1, out);
    for (int i = 0; i < n; i++) {
        const layer *l = &net->layers[i];
        int rec[5] = {(int)l->type, l->out_c, l->out_h, l->out_w,
                      l->outputs};
        fwrite(rec, sizeof rec, 1, out);
        if (!weights)
            continue;
        /* biases, [scales, mean, variance], weights as darknet holds them. */
        int nb = 0, nw = 0, bn = l->batch_normalize;
        if (l->type == CONVOLUTIONAL) {
            nb = l->n;
            nw = l->nweights;
        } else if (l->type == CONNECTED) {
            nb = l->outputs;
            nw = l->outputs * l->inputs;
        }
        int hdr[3] = {nb, nw, bn};
        fwrite(hdr, sizeof hdr, 1, out);
        if (nb) {
            fwrite(l->biases, sizeof(float), (size_t)nb, out);
            if (bn) {
                fwrite(l->scales, sizeof(float), (size_t)nb, out);
                fwrite(l->rolling_mean, sizeof(float), (size_t)nb, out);
                fwrite(l->rolling_variance, sizeof(float), (size_t)nb, out);
            }
            fwrite(l->weights, sizeof(float), (size_t)nw, out);
        }
    }
    _exit(fclose(out) == 0 ? 0 : 8);
}
#endif

/* Starts libdarknet on `cfg` in a child; false when libdarknet is absent. */
static bool peer_start(const char *cfg, const char *weights, peer *p)
{
#if HAVE_DARKNET_H
    int fds[2];
    if (access(DARKNET_LIB, R_OK) != 0 || pipe(fds) != 0)
        return false;
    fflush(stdout);
    fflush(stderr);
    p->pid = fork();
    if (p->pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (p->pid == 0) {
        close(fds[0]);
        peer_child(cfg, weights, fds[1]);
    }
    close(fds[1]);
    p->in = fdopen(fds[0], "rb");
    return p->in != NULL;
#else
    (void)cfg;
    (void)weights;
    (void)p;
    return false;
#endif
}

/* Reads the layer records; returns the count or -1. */
static int peer_layers(peer *p, peer_layer **out)
{
    int n;
    *out = NULL;
    if (fread(&n, sizeof n, 1, p->in) != 1 || n <= 0 || n > 100000)
        return -1;
    *out = calloc((size_t)n, sizeof **out);
    for (int i = 0; i < n; i++)
        if (fread(&(*out)[i], sizeof(int), 5, p->in) != 5)
            return -1;
    return n;
}

/* Closes the pipe and reaps the child; true when it exited with 0. */
static bool peer_finish(peer *p)
{
    int status = 0;
    fclose(p->in);
    if (waitpid(p->pid, &status, 0) != p->pid)
        return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool wants_peer(const char *stem)
{
    /* CLEAVE_DARKNET_PEER=0 leaves out the libdarknet comparison (the
     * sanitizer run does: the plain run covers it, and libdarknet itself is
     * not what the sanitizers check) */
    const char *off = getenv("CLEAVE_DARKNET_PEER");
    if (off && off[0] == '0')
        return false;
    const char *all = getenv("CLEAVE_DARKNET_PEER_ALL");
    if (all && all[0] == '1')
        return true;
    for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++)
        if (strcmp(listed[i], stem) == 0)
            return true;
    for (size_t i = 0; i < sizeof extra_peer / sizeof extra_peer[0]; i++)
        if (strcmp(extra_peer[i], stem) == 0)
            return true;
    return false;
}

/* Compares darknet's layers with cleave's "layer<i>" tensors. */
static void compare_layers(const char *file, const clv_graph *g,
                           const peer_layer *pl, int n, int n_sections)
{
    CHECKF(n == n_sections, "%s: darknet has %d layers, the cfg %d", file, n,
           n_sections);
    for (int i = 0; i < n; i++) {
        char name[32];
        if (pl[i].type == 9 /* COST */)
            continue;
        snprintf(name, sizeof name, "layer%d", i);
        const clv_tensor *t = tensor(g, name);
        CHECKF(t != NULL, "%s: no tensor %s", file, name);
        if (!t)
            continue;
        int64_t numel = clv_tensor_numel(t);
        CHECKF(numel == pl[i].outputs,
               "%s: %s has %lld elements, darknet's layer %d has %d", file,
               name, (long long)numel, i, pl[i].outputs);
        if (pl[i].out_c > 0 && pl[i].out_h > 0 && pl[i].out_w > 0) {
            int64_t c = t->ndim >= 2 ? t->dims[1] : -1;
            int64_t h = t->ndim == 4 ? t->dims[2] : 1;
            int64_t w = t->ndim == 4 ? t->dims[3] : 1;
            CHECKF(t->dims[0] == 1 && c == pl[i].out_c && h == pl[i].out_h &&
                       w == pl[i].out_w,
                   "%s: %s is %lldx%lldx%lld, darknet's layer %d (type %d) "
                   "is %dx%dx%d",
                   file, name, (long long)c, (long long)h, (long long)w, i,
                   pl[i].type, pl[i].out_c, pl[i].out_h, pl[i].out_w);
        }
    }
}

static int count_sections(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[')
            n++;
    }
    fclose(f);
    return n - 1;
}

/* ---- published shapes and op attributes -------------------------------- */

/* Published output shapes, checked when the cfg loads in the pass above. */
static void check_known_outputs(const char *stem, const clv_graph *g)
{
    static const struct {
        const char *cfg;
        int n_out;
        int64_t out[2][3];
    } known[] = {
        {"yolov2-tiny-voc", 1, {{125, 13, 13}}},
        {"yolov2-tiny", 1, {{425, 13, 13}}},
        {"yolov3-tiny", 2, {{255, 13, 13}, {255, 26, 26}}},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(stem, known[i].cfg) != 0)
            continue;
        known_seen++;
        const clv_tensor *in = clv_graph_tensor(g, clv_graph_input(g, 0));
        CHECK(has_shape(in, 4, 1, 3, 416, 416));
        CHECKF(clv_graph_n_outputs(g) == known[i].n_out, "%s: %d outputs",
               known[i].cfg, clv_graph_n_outputs(g));
        for (int k = 0; k < known[i].n_out && k < clv_graph_n_outputs(g);
             k++) {
            const clv_tensor *t = clv_graph_tensor(g, clv_graph_output(g, k));
            char sh[64];
            clv_tensor_shape_str(t, sh, sizeof sh);
            CHECKF(has_shape(t, 4, 1, known[i].out[k][0], known[i].out[k][1],
                             known[i].out[k][2]),
                   "%s: output %d is %s", known[i].cfg, k, sh);
        }
    }
}

/* Op forms and attributes of a few cfgs, checked in the same pass. */
static void check_attributes(const char *stem, const clv_graph *g)
{
    size_t n;
    if (strcmp(stem, "yolov3-tiny") == 0) {
        attr_seen++;
        /* layer 16 is [yolo] mask=3,4,5 of 6 anchors. */
        const clv_node *y = node_named(g, "layer16_yolo");
        CHECK(y && y->op == CLV_OP_YOLO);
        if (y) {
            const int64_t *mask = clv_node_ints(y, "mask", &n);
            CHECK(mask && n == 3 && mask[0] == 3 && mask[1] == 4 &&
                  mask[2] == 5);
            const float *a = clv_node_floats(y, "anchors", &n);
            CHECK(a && n == 12 && a[0] == 10.0f && a[1] == 14.0f &&
                  a[11] == 319.0f);
            CHECK(clv_node_int(y, "classes", -1) == 80);
            CHECK(clv_node_int(y, "num", -1) == 6);
        }
        /* Node and tensor names follow the darknet layer. */
        const clv_node *c = node_named(g, "layer0_conv");
        CHECK(c && c->op == CLV_OP_CONV);
        if (c) {
            const int64_t *pads = clv_node_ints(c, "pads", &n);
            CHECK(pads && n == 4 && pads[0] == 1 && pads[3] == 1);
            CHECK(clv_node_int(c, "group", -1) == 1);
        }
        const clv_node *bn = node_named(g, "layer0_bn");
        CHECK(bn && bn->op == CLV_OP_BATCHNORM &&
              clv_node_float(bn, "epsilon", -1.0f) == 0.0f);
        const clv_node *lk = node_named(g, "layer0_leaky");
        CHECK(lk && lk->op == CLV_OP_LEAKYRELU &&
              fabsf(clv_node_float(lk, "alpha", 0) - 0.1f) < 1e-7f);
        /* maxpool size=2 stride=1: darknet pads 0 before and 1 after. */
        const clv_node *mp = node_named(g, "layer11_maxpool");
        CHECK(mp && mp->op == CLV_OP_MAXPOOL);
        if (mp) {
            const int64_t *pads = clv_node_ints(mp, "pads", &n);
            CHECK(pads && n == 4 && pads[0] == 0 && pads[1] == 0 &&
                  pads[2] == 1 && pads[3] == 1);
        }
        CHECK(has_shape(tensor(g, "layer11"), 4, 1, 512, 13, 13));
        const clv_node *up = node_named(g, "layer19_resize");
        CHECK(up && up->op == CLV_OP_RESIZE &&
              strcmp(clv_node_string(up, "nearest_mode", ""), "floor") == 0 &&
              strcmp(clv_node_string(up, "coordinate_transformation_mode",
                                     ""),
                     "asymmetric") == 0);
        const clv_node *cat = node_named(g, "layer20_concat");
        CHECK(cat && cat->op == CLV_OP_CONCAT && cat->n_inputs == 2);
        CHECK(has_shape(tensor(g, "layer20"), 4, 1, 384, 26, 26));
        const clv_node *id = node_named(g, "layer17_identity");
        CHECK(id && id->op == CLV_OP_IDENTITY);
        for (int i = 0; i < 24; i++) {
            char name[16];
            snprintf(name, sizeof name, "layer%d", i);
            CHECKF(tensor(g, name) != NULL, "no %s", name);
        }
    } else if (strcmp(stem, "yolov2-tiny-voc") == 0) {
        attr_seen++;
        const clv_node *r = node_named(g, "layer15_region");
        CHECK(r && r->op == CLV_OP_REGION);
        if (r) {
            CHECK(clv_node_int(r, "classes", -1) == 20);
            CHECK(clv_node_int(r, "coords", -1) == 4);
            CHECK(clv_node_int(r, "num", -1) == 5);
            CHECK(clv_node_int(r, "softmax", -1) == 1);
            const float *a = clv_node_floats(r, "anchors", &n);
            CHECK(a && n == 10 && fabsf(a[0] - 1.08f) < 1e-6f &&
                  fabsf(a[9] - 10.52f) < 1e-6f);
        }
    } else if (strcmp(stem, "yolov2") == 0) {
        attr_seen++;
        const clv_node *r = node_named(g, "layer27_reorg");
        CHECK(r && r->op == CLV_OP_REORG && clv_node_int(r, "stride", 0) == 2);
        CHECK(has_shape(tensor(g, "layer27"), 4, 1, 256, 19, 19));
    } else if (strcmp(stem, "resnet50") == 0) {
        attr_seen++;
        /* a shortcut from a 64-channel layer into 256 channels */
        const clv_node *p = node_named(g, "layer5_pad");
        CHECK(p && p->op == CLV_OP_PAD);
        CHECK(has_shape(tensor(g, "layer5_pad"), 4, 1, 256, 64, 64));
    } else if (strcmp(stem, "vgg-16") == 0) {
        attr_seen++;
        /* [crop]: centre 224x224 of 256x256, scaled to [-1, 1] */
        const clv_node *sl = node_named(g, "layer0_slice");
        CHECK(sl && sl->op == CLV_OP_SLICE);
        if (sl) {
            const int64_t *st = clv_node_ints(sl, "starts", &n);
            CHECK(st && n == 2 && st[0] == 16 && st[1] == 16);
        }
        CHECK(has_shape(tensor(g, "layer0"), 4, 1, 3, 224, 224));
        CHECK(node_named(g, "layer0_scale") && node_named(g, "layer0_shift"));
    }
}

static void test_debian_cfgs(void)
{
    char **names;
    int n = list_cfgs(&names), loaded = 0, peered = 0;
    bool have_peer = true;
    CHECKF(n >= 40, "found %d cfgs in %s", n, CFG_DIR);
    for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++) {
        char file[64];
        snprintf(file, sizeof file, "%s.cfg", listed[i]);
        bool found = false;
        for (int k = 0; k < n; k++)
            found = found || strcmp(names[k], file) == 0;
        CHECKF(found, "%s is missing from %s", file, CFG_DIR);
        CHECKF(refused_index(file) < 0, "%s must load", file);
    }
    for (int k = 0; k < n; k++) {
        char path[512], stem[256];
        clv_graph *g = NULL;
        clv_error err;
        peer p;
        snprintf(path, sizeof path, "%s/%s", CFG_DIR, names[k]);
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(names[k]) - 4),
                 names[k]);
        int r = refused_index(names[k]);
        bool peering = r < 0 && have_peer && wants_peer(stem) &&
                       peer_start(path, NULL, &p);
        if (r < 0 && wants_peer(stem) && !peering)
            have_peer = false;
        clv_error_clear(&err);
        int rc = clv_load_darknet(path, NULL, 1, &g, &err);
        if (r >= 0) {
            CHECKF(rc == refused[r].code && g == NULL,
                   "%s: rc %d, want %d (%s)", names[k], rc, refused[r].code,
                   err.msg);
            CHECKF(strstr(err.msg, names[k]) && strstr(err.msg, ".cfg:") &&
                       strstr(err.msg, refused[r].reason),
                   "%s: message '%s' should name the file, line and '%s'",
                   names[k], err.msg, refused[r].reason);
            continue;
        }
        CHECKF(rc == 0 && g != NULL, "%s: %s", names[k], err.msg);
        if (rc == 0) {
            loaded++;
            check_known_outputs(stem, g);
            check_attributes(stem, g);
            CHECK(clv_graph_is_finalized(g));
            CHECK(clv_graph_opset(g) == 13);
            CHECK(clv_graph_n_inputs(g) == 1);
            const clv_tensor *in = clv_graph_tensor(g, clv_graph_input(g, 0));
            CHECK(in && strcmp(in->name, "data") == 0 && in->ndim == 4 &&
                  in->dims[0] == 1);
        }
        if (peering) {
            peer_layer *pl = NULL;
            int np = peer_layers(&p, &pl);
            bool ok = peer_finish(&p);
            CHECKF(np > 0 && ok, "%s: libdarknet failed to parse it",
                   names[k]);
            if (np > 0 && g)
                compare_layers(names[k], g, pl, np, count_sections(path));
            free(pl);
            peered++;
        }
        clv_graph_free(g);
    }
    printf("darknet cfgs: %d found, %d loaded, %d checked against "
           "libdarknet%s\n",
           n, loaded, peered, have_peer ? "" : " (libdarknet unavailable)");
    CHECK(loaded + (int)(sizeof refused / sizeof refused[0]) == n);
    CHECKF(known_seen == 3 && attr_seen == 5, "per-cfg checks ran %d + %d",
           known_seen, attr_seen);
    for (int k = 0; k < n; k++)
        free(names[k]);
    free(names);
}

/* Seeded weights: deterministic, He-scaled, BN near identity. */
static void test_random_weights(void)
{
    clv_graph *a = NULL, *b = NULL, *c = NULL;
    clv_error err = {0};
    const char *cfg = CFG_DIR "/yolov3-tiny.cfg";
    int rc = clv_load_darknet(cfg, NULL, 42, &a, &err);
    rc |= clv_load_darknet(cfg, NULL, 42, &b, &err);
    rc |= clv_load_darknet(cfg, NULL, 43, &c, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) {
        const clv_tensor *wa = tensor(a, "layer12_conv.weight");
        const clv_tensor *wb = tensor(b, "layer12_conv.weight");
        const clv_tensor *wc = tensor(c, "layer12_conv.weight");
        CHECK(has_shape(wa, 4, 1024, 512, 3, 3));
        int64_t n = clv_tensor_numel(wa);
        CHECK(wa->data && memcmp(wa->data, wb->data, (size_t)n * 4) == 0);
        CHECK(memcmp(wa->data, wc->data, (size_t)n * 4) != 0);
        double s = 0, s2 = 0;
        const float *x = wa->data;
        for (int64_t i = 0; i < n; i++) {
            s += x[i];
            s2 += (double)x[i] * x[i];
        }
        double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
        double he = sqrt(2.0 / (512 * 9));
        CHECKF(fabs(mean) < 0.01 * he && fabs(sd / he - 1) < 0.01,
               "mean %g sd %g, want 0 and %g", mean, sd, he);
        const clv_tensor *var = tensor(a, "layer12_bn.var");
        const clv_tensor *scale = tensor(a, "layer12_bn.scale");
        bool ok = var && scale;
        for (int i = 0; ok && i < 1024; i++) {
            float v = ((const float *)var->data)[i];
            float sc = ((const float *)scale->data)[i];
            ok = v > 0.8f && v < 1.2f && sc > 0.8f && sc < 1.2f;
        }
        CHECK(ok);
    }
    clv_graph_free(a);
    clv_graph_free(b);
    clv_graph_free(c);
}

/* ---- weights placement ------------------------------------------------- */

static const char *wcfg =
    "[net]\n"
    "width=6\nheight=6\nchannels=2\n"
    "\n"
    "[convolutional]\n" /* layer 0: 3 filters 2x3x3, BN */
    "batch_normalize=1\nfilters=3\nsize=3\nstride=1\npad=1\n"
    "activation=leaky\n"
    "\n"
    "[convolutional]\n" /* layer 1: 2 filters 3x1x1, stride 2, bias */
    "filters=2\nsize=1\nstride=2\nactivation=linear\n"
    "\n"
    "[connected]\n" /* layer 2: 18 -> 4 */
    "output=4\nactivation=relu\n"
    "\n"
    "[connected]\n" /* layer 3: 4 -> 3 with BN */
    "output=3\nbatch_normalize=1\nactivation=linear\n";

/* Float counts of the four layers in file order. */
enum { W_L0 = 3 + 9 + 54, W_L1 = 2 + 6, W_L2 = 4 + 72, W_L3 = 3 + 12 + 9 };
#define W_FLOATS (W_L0 + W_L1 + W_L2 + W_L3)

static float wval(int k)
{
    return 0.01f * (float)(k + 1); /* all positive: variances too */
}

/* A .weights image: header (major, minor, revision, seen) + values. */
static size_t make_weights(unsigned char *buf, int major, int minor,
                           int extra)
{
    int32_t h[3] = {major, minor, 0};
    size_t off = 12;
    memcpy(buf, h, 12);
    bool seen64 = major * 10 + minor >= 2 && major < 1000 && minor < 1000;
    memset(buf + off, 0, seen64 ? 8 : 4);
    buf[off] = 0x40;
    off += seen64 ? 8 : 4;
    for (int k = 0; k < W_FLOATS + extra; k++) {
        float v = wval(k);
        memcpy(buf + off, &v, 4);
        off += 4;
    }
    return off;
}

static int check_floats(const clv_graph *g, const char *name, int64_t n,
                        const float *want)
{
    const clv_tensor *t = tensor(g, name);
    int bad = 0;
    if (!t || !t->data || clv_tensor_numel(t) != n) {
        CHECKF(false, "%s: missing or %lld elements, want %lld", name,
               t ? (long long)clv_tensor_numel(t) : -1LL, (long long)n);
        return 1;
    }
    for (int64_t i = 0; i < n && bad < 3; i++) {
        float got = ((const float *)t->data)[i];
        if (got != want[i]) {
            bad++;
            CHECKF(false, "%s[%lld] = %.9g, want %.9g", name, (long long)i,
                   (double)got, (double)want[i]);
        }
    }
    if (!bad)
        CHECK(true);
    return bad;
}

/* The expected constants, from the file positions darknet reads. */
static void check_placement(const clv_graph *g, bool transposed)
{
    float v[W_FLOATS], exp[128];
    for (int k = 0; k < W_FLOATS; k++)
        v[k] = wval(k);
    int o = 0;
    /* layer 0: biases, scales, mean, variance, weights */
    check_floats(g, "layer0_bn.bias", 3, v + o);
    check_floats(g, "layer0_bn.scale", 3, v + o + 3);
    check_floats(g, "layer0_bn.mean", 3, v + o + 6);
    for (int i = 0; i < 3; i++) {
        double s = sqrt((double)v[o + 9 + i]) + (double)1e-6f;
        exp[i] = (float)(s * s);
    }
    check_floats(g, "layer0_bn.var", 3, exp);
    check_floats(g, "layer0_conv.weight", 54, v + o + 12);
    CHECK(tensor(g, "layer0_conv.bias") == NULL);
    o += W_L0;
    /* layer 1: biases, weights */
    check_floats(g, "layer1_conv.bias", 2, v + o);
    check_floats(g, "layer1_conv.weight", 6, v + o + 2);
    o += W_L1;
    /* layer 2: biases, weights [4][18] (stored [18][4] when transposed) */
    check_floats(g, "layer2_gemm.bias", 4, v + o);
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 18; c++)
            exp[r * 18 + c] = transposed ? v[o + 4 + c * 4 + r]
                                         : v[o + 4 + r * 18 + c];
    check_floats(g, "layer2_gemm.weight", 72, exp);
    o += W_L2;
    /* layer 3: biases, weights, then scales, mean, variance */
    check_floats(g, "layer3_bn.bias", 3, v + o);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            exp[r * 4 + c] = transposed ? v[o + 3 + c * 3 + r]
                                        : v[o + 3 + r * 4 + c];
    check_floats(g, "layer3_gemm.weight", 12, exp);
    check_floats(g, "layer3_bn.scale", 3, v + o + 15);
    check_floats(g, "layer3_bn.mean", 3, v + o + 18);
    for (int i = 0; i < 3; i++) {
        double s = sqrt((double)v[o + 21 + i]) + (double)1e-6f;
        exp[i] = (float)(s * s);
    }
    check_floats(g, "layer3_bn.var", 3, exp);
    o += W_L3;
    CHECK(o == W_FLOATS);
}

/* libdarknet's load_network on the same files must hold the same values
 * (variances untransformed). */
static void check_against_darknet(const char *cfg_path, const char *w_path,
                                  const clv_graph *g, const char *what)
{
    peer p;
    if (!peer_start(cfg_path, w_path, &p)) {
        printf("weights peer (%s): libdarknet unavailable, skipped\n", what);
        return;
    }
    static const char *const conv_names[4][5] = {
        {"layer0_bn.bias", "layer0_bn.scale", "layer0_bn.mean",
         "layer0_bn.var", "layer0_conv.weight"},
        {"layer1_conv.bias", NULL, NULL, NULL, "layer1_conv.weight"},
        {"layer2_gemm.bias", NULL, NULL, NULL, "layer2_gemm.weight"},
        {"layer3_bn.bias", "layer3_bn.scale", "layer3_bn.mean",
         "layer3_bn.var", "layer3_gemm.weight"}};
    int n, mismatches = 0;
    if (fread(&n, sizeof n, 1, p.in) != 1 || n != 4) {
        CHECKF(false, "weights peer (%s): darknet sent no layers", what);
        peer_finish(&p);
        return;
    }
    for (int i = 0; i < n; i++) {
        peer_layer rec;
        int hdr[3];
        if (fread(&rec, sizeof(int), 5, p.in) != 5 ||
            fread(hdr, sizeof hdr, 1, p.in) != 1) {
            mismatches++;
            break;
        }
        int nb = hdr[0], nw = hdr[1], bn = hdr[2];
        for (int part = 0; part < 5; part++) {
            int cnt = part == 4 ? nw : nb;
            if (part >= 1 && part <= 3 && !bn)
                continue;
            float *buf = malloc((size_t)cnt * sizeof *buf);
            if (!buf || fread(buf, sizeof(float), (size_t)cnt, p.in) !=
                            (size_t)cnt) {
                free(buf);
                mismatches++;
                goto out;
            }
            const clv_tensor *t = tensor(g, conv_names[i][part]);
            if (!t || clv_tensor_numel(t) != cnt) {
                mismatches++;
            } else {
                for (int k = 0; k < cnt; k++) {
                    float want = buf[k];
                    if (part == 3) {
                        double s = sqrt((double)want) + (double)1e-6f;
                        want = (float)(s * s);
                    }
                    if (((const float *)t->data)[k] != want)
                        mismatches++;
                }
            }
            free(buf);
        }
    }
out:
    CHECKF(peer_finish(&p), "weights peer (%s): darknet failed", what);
    CHECKF(mismatches == 0,
           "weights peer (%s): %d values differ from libdarknet's", what,
           mismatches);
}

static void test_weights(void)
{
    static unsigned char buf[64 + 4 * (W_FLOATS + 8)];
    char cfg_path[128], w_path[128];
    snprintf(cfg_path, sizeof cfg_path, "%s/w.cfg", tmpdir);
    snprintf(w_path, sizeof w_path, "%s/w.weights", tmpdir);
    CHECK(write_file(cfg_path, wcfg, strlen(wcfg)) == 0);

    /* seen as uint64 (0.2), as int32 (0.1), int32 + transposed (1001.0);
     * and trailing bytes after the last layer, which darknet ignores. */
    static const struct {
        int major, minor, extra;
        bool transposed;
        const char *what;
    } variants[] = {
        {0, 2, 0, false, "v0.2, 64-bit seen"},
        {0, 1, 0, false, "v0.1, 32-bit seen"},
        {1001, 0, 0, true, "v1001.0, transposed connected weights"},
        {0, 2, 5, false, "trailing bytes"},
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        size_t len = make_weights(buf, variants[v].major, variants[v].minor,
                                  variants[v].extra);
        clv_graph *g = NULL;
        clv_error err = {0};
        CHECK(write_file(w_path, buf, len) == 0);
        int rc = clv_load_darknet(cfg_path, w_path, 1, &g, &err);
        CHECKF(rc == 0, "%s: %s", variants[v].what, err.msg);
        if (rc)
            continue;
        check_placement(g, variants[v].transposed);
        check_against_darknet(cfg_path, w_path, g, variants[v].what);
        /* The same from memory. */
        clv_graph *m = NULL;
        rc = clv_load_darknet_mem(wcfg, strlen(wcfg), buf, len, 1, "w.cfg", &m,
                                  &err);
        CHECKF(rc == 0, "%s (mem): %s", variants[v].what, err.msg);
        if (!rc)
            check_placement(m, variants[v].transposed);
        clv_graph_free(m);
        clv_graph_free(g);
    }

    /* Every truncation fails with CLV_EFORMAT and names where it ends. */
    size_t len = make_weights(buf, 0, 2, 0);
    static const size_t ends[4] = {20 + 4 * W_L0, 20 + 4 * (W_L0 + W_L1),
                                   20 + 4 * (W_L0 + W_L1 + W_L2),
                                   20 + 4 * W_FLOATS};
    static const char *const kinds[4] = {"convolutional", "convolutional",
                                         "connected", "connected"};
    int bad = 0;
    for (size_t cut = 0; cut < len; cut++) {
        clv_graph *g = (clv_graph *)&bad; /* must be reset to NULL */
        clv_error err = {0};
        char want[160];
        int rc = clv_load_darknet_mem(wcfg, strlen(wcfg), buf, cut, 1,
                                      "w.cfg", &g, &err);
        if (cut < 20) {
            snprintf(want, sizeof want,
                     "w.weights: ends after %zu bytes, the header needs %zu "
                     "more",
                     cut, (cut < 12 ? 16 : 20) - cut);
        } else {
            int l = 0;
            while (cut >= ends[l])
                l++;
            snprintf(want, sizeof want,
                     "w.weights: ends after %zu bytes, layer %d (%s) needs "
                     "%zu more",
                     cut, l, kinds[l], ends[l] - cut);
        }
        if (rc != CLV_EFORMAT || g != NULL || strcmp(err.msg, want) != 0) {
            if (bad++ < 3)
                CHECKF(false, "cut at %zu: rc %d '%s', want '%s'", cut, rc,
                       err.msg, want);
        }
    }
    CHECKF(bad == 0, "%d of %zu truncations misreported", bad, len);

    /* dontload=1 keeps a layer's random weights and reads nothing. */
    char cfg2[1024];
    snprintf(cfg2, sizeof cfg2, "%s", wcfg);
    char *p = strstr(cfg2, "filters=2\n");
    memmove(p + 11, p, strlen(p) + 1);
    memcpy(p, "dontload=1\n", 11);
    {
        clv_graph *g = NULL;
        clv_error err = {0};
        size_t l2 = make_weights(buf, 0, 2, 0) - 4 * W_L1;
        /* shift layers 2.. down over layer 1's slot */
        memmove(buf + 20 + 4 * W_L0, buf + 20 + 4 * (W_L0 + W_L1),
                4 * (W_L2 + W_L3));
        int rc = clv_load_darknet_mem(cfg2, strlen(cfg2), buf, l2, 1, "d.cfg",
                                      &g, &err);
        CHECKF(rc == 0, "dontload: %s", err.msg);
        if (!rc) {
            float v[W_L2];
            for (int k = 0; k < W_L2; k++)
                v[k] = wval(W_L0 + W_L1 + k);
            check_floats(g, "layer2_gemm.bias", 4, v);
            const clv_tensor *w1 = tensor(g, "layer1_conv.weight");
            CHECK(w1 && ((const float *)w1->data)[0] != wval(W_L0 + 2));
        }
        clv_graph_free(g);
    }
}

/* ---- malformed input --------------------------------------------------- */

#define NET "[net]\nwidth=32\nheight=32\nchannels=3\n"
#define CONV(f) "[convolutional]\nfilters=" #f "\nsize=3\npad=1\nactivation=leaky\n"

static void expect_error(const char *what, const char *text, int code,
                         const char *where, const char *needle)
{
    clv_graph *g = (clv_graph *)&code; /* must be reset to NULL */
    clv_error err;
    int rc = load_text(text, NULL, 0, &g, &err);
    CHECKF(rc == code && err.code == code && g == NULL,
           "%s: rc %d (%s), want %d", what, rc, err.msg, code);
    CHECKF(strstr(err.msg, where) != NULL,
           "%s: message '%s' should contain '%s'", what, err.msg, where);
    CHECKF(!needle || strstr(err.msg, needle) != NULL,
           "%s: message '%s' should contain '%s'", what, err.msg, needle);
}

static void test_malformed(void)
{
    /* line numbers: [net] is 1-4, the first layer starts at line 5 */
    expect_error("filters=0", NET "[convolutional]\nfilters=0\nsize=3\n",
                 CLV_ERANGE, "t.cfg:6:", "filters=0");
    expect_error("size=0", NET "[convolutional]\nfilters=4\nsize=0\n",
                 CLV_ERANGE, "t.cfg:7:", "size=0");
    expect_error("stride=0", NET "[maxpool]\nsize=2\nstride=0\n",
                 CLV_ERANGE, "t.cfg:7:", "stride=0");
    expect_error("missing filters", NET "[convolutional]\nsize=3\n",
                 CLV_EFORMAT, "t.cfg:5:", "needs filters=");
    expect_error("non-numeric", NET "[convolutional]\nfilters=abc\n",
                 CLV_EFORMAT, "t.cfg:6:", "not an integer");
    expect_error("huge int", NET "[convolutional]\nfilters=99999999999\n",
                 CLV_ERANGE, "t.cfg:6:", "out of range");
    expect_error("groups", NET "[convolutional]\nfilters=4\ngroups=2\n",
                 CLV_ERANGE, "t.cfg:7:", "groups=2");
    expect_error("route before first",
                 NET CONV(8) CONV(8) "[route]\nlayers=-40\n", CLV_EFORMAT,
                 "t.cfg:16:",
                 "[route] layers=-40 points before the first layer");
    expect_error("route ahead", NET CONV(8) "[route]\nlayers=3\n",
                 CLV_EFORMAT, "t.cfg:11:", "not before this layer");
    expect_error("route concat sizes",
                 NET CONV(8) "[maxpool]\nsize=2\nstride=2\n"
                             "[route]\nlayers=-1,-2\n",
                 CLV_EFORMAT, "t.cfg:14:", "cannot be concatenated");
    expect_error("shortcut from missing",
                 NET CONV(8) "[shortcut]\nfrom=-5\n", CLV_EFORMAT,
                 "t.cfg:11:", "from=-5 points before the first layer");
    expect_error("shortcut without from", NET CONV(8) "[shortcut]\n",
                 CLV_EFORMAT, "t.cfg:10:", "needs from=");
    expect_error("unknown section", NET CONV(8) "[frobnicate]\nx=1\n",
                 CLV_EUNSUPPORTED, "t.cfg:10:", "[frobnicate]");
    expect_error("rnn section", NET "[rnn]\noutput=4\n", CLV_EUNSUPPORTED,
                 "t.cfg:5:", "[rnn]");
    expect_error("crnn section", NET "[crnn]\n", CLV_EUNSUPPORTED,
                 "t.cfg:5:", "[crnn]");
    expect_error("unknown activation",
                 NET "[convolutional]\nfilters=4\nactivation=elu\n",
                 CLV_EUNSUPPORTED, "t.cfg:7:", "activation=elu");
    expect_error("garbage", "hello world\nthis is not a cfg\n", CLV_EFORMAT,
                 "t.cfg:1:", NULL);
    expect_error("binary garbage", "\x01\x02\xff\xfe[[[===\n", CLV_EFORMAT,
                 "t.cfg:1:", NULL);
    expect_error("empty", "", CLV_EFORMAT, "t.cfg", "no sections");
    expect_error("comments only", "# nothing\n;\n\n", CLV_EFORMAT, "t.cfg",
                 "no sections");
    expect_error("no net", CONV(8), CLV_EFORMAT, "t.cfg:1:", "[net]");
    expect_error("no layers", NET, CLV_EFORMAT, "t.cfg:1:", "no layers");
    expect_error("option before section", "width=3\n" NET CONV(8),
                 CLV_EFORMAT, "t.cfg:1:", "before the first section");
    expect_error("bad header", NET "[convolutional\nfilters=3\n",
                 CLV_EFORMAT, "t.cfg:5:", "section header");
    expect_error("no input size", "[net]\nchannels=3\n" CONV(8),
                 CLV_EFORMAT, "t.cfg:1:", "width, height and channels");
    expect_error("second net", NET CONV(8) NET, CLV_EFORMAT, "t.cfg:10:",
                 "first section");
    expect_error("huge input",
                 "[net]\nwidth=100000\nheight=100000\nchannels=1000\n" CONV(8),
                 CLV_ELIMIT, "t.cfg:1:", "limit");
    expect_error("huge filters",
                 NET "[convolutional]\nfilters=2000000000\nsize=999\npad=1\n",
                 CLV_ELIMIT, "t.cfg:6:", "limit");
    expect_error("huge upsample", NET "[upsample]\nstride=2000000000\n",
                 CLV_ELIMIT, "t.cfg:6:", "limit");
    expect_error("kernel too big",
                 NET "[convolutional]\nfilters=4\nsize=40\n", CLV_ERANGE,
                 "t.cfg:7:", "size=40");
    expect_error("maxpool padding",
                 NET "[maxpool]\nsize=2\nstride=2\npadding=9\n", CLV_ERANGE,
                 "t.cfg:8:", "padding=9");
    expect_error("yolo channels",
                 NET CONV(8) "[yolo]\nmask=0,1,2\nnum=6\nclasses=80\n",
                 CLV_EFORMAT, "t.cfg:10:", "channels");
    expect_error("yolo mask range",
                 NET CONV(255) "[yolo]\nmask=0,1,9\nnum=6\nclasses=80\n",
                 CLV_ERANGE, "t.cfg:11:", "mask");
    expect_error("region channels",
                 NET CONV(8) "[region]\nclasses=20\nnum=5\n", CLV_EFORMAT,
                 "t.cfg:10:", "channels");
    expect_error("reorg stride", NET CONV(8) "[reorg]\nstride=3\n",
                 CLV_ERANGE, "t.cfg:11:", "stride=3");
    expect_error("conv after softmax",
                 NET CONV(8) "[softmax]\n" CONV(4), CLV_EFORMAT, "t.cfg:11:",
                 "flat vector");
    expect_error("float garbage",
                 NET "[dropout]\nprobability=0.5x\n", CLV_EFORMAT,
                 "t.cfg:6:", "not a number");
    expect_error("anchors too many",
                 NET CONV(125) "[region]\nnum=5\nanchors=1,2,3,4,5,6,7,8,9,"
                               "10,11\n",
                 CLV_EFORMAT, "t.cfg:12:", "anchors");

    /* An unreadable file is CLV_EIO naming the path. */
    clv_graph *g = NULL;
    clv_error err = {0};
    int rc = clv_load_darknet("/nonexistent/x.cfg", NULL, 1, &g, &err);
    CHECK(rc == CLV_EIO && g == NULL && strstr(err.msg, "/nonexistent/x.cfg"));
    rc = clv_load_darknet(CFG_DIR "/tiny.cfg", "/nonexistent/x.weights", 1,
                          &g, &err);
    CHECK(rc == CLV_EIO && g == NULL &&
          strstr(err.msg, "/nonexistent/x.weights"));

    /* Lenient where darknet is: blanks anywhere, CRLF, duplicate keys (the
     * first wins), comments, [conv] / [max] / [avg] / [soft] spellings. */
    const char *ok = "# a comment\r\n[net]\r\n width = 8 \r\nheight=8\r\n"
                     "channels=1\r\n; another\r\n[conv]\r\nfilters=2\r\n"
                     "filters=5\r\nsize=3\r\npad=1\r\nactivation=relu\r\n"
                     "[max]\r\nsize=2\r\nstride=2\r\n[avg]\r\n[soft]\r\n";
    rc = load_text(ok, NULL, 0, &g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK(has_shape(tensor(g, "layer0"), 4, 1, 2, 8, 8));
        CHECK(has_shape(tensor(g, "layer1"), 4, 1, 2, 4, 4));
        CHECK(has_shape(tensor(g, "layer3"), 4, 1, 2, 1, 1));
        clv_graph_free(g);
    }
    /* The cost layer has no tensor; the output is the layer before. */
    rc = load_text(NET CONV(4) "[cost]\n", NULL, 0, &g, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (!rc) {
        CHECK(tensor(g, "layer1") == NULL);
        CHECK(clv_graph_n_outputs(g) == 1 &&
              strcmp(clv_graph_tensor(g, clv_graph_output(g, 0))->name,
                     "layer0") == 0);
        clv_graph_free(g);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cleave_darknet_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_malformed();
    test_weights();
    test_random_weights();
    test_debian_cfgs();

    char path[160];
    snprintf(path, sizeof path, "%s/w.cfg", tmpdir);
    remove(path);
    snprintf(path, sizeof path, "%s/w.weights", tmpdir);
    remove(path);
    rmdir(tmpdir);
    return check_report("test_darknet");
}
