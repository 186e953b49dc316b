/*
 * The darknet reader: a .cfg network description (and optionally its
 * .weights file) becomes a cleave graph of canonical ONNX-style ops.
 *
 * The semantics follow pjreddie's darknet as Debian packages it (the
 * 2018 tree): layer i reads the output of layer i-1 unless it is a route or
 * shortcut; the tensor that carries darknet layer i's output is named
 * "layer<i>" and the nodes of that layer "layer<i>_<step>". See
 * docs/darknet.md for the mapping of every section.
 */
#include "cleave/load.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/darknet_internal.h"
#include "util/util.h"

/* ---- sections ---------------------------------------------------------- */

typedef enum dk_kind {
    DK_NET,
    DK_CONV,
    DK_CONN,
    DK_MAXPOOL,
    DK_AVGPOOL,
    DK_DROPOUT,
    DK_SOFTMAX,
    DK_ROUTE,
    DK_SHORTCUT,
    DK_UPSAMPLE,
    DK_REORG,
    DK_REGION,
    DK_YOLO,
    DK_COST,
    DK_CROP,
    DK_BATCHNORM,
    DK_ACTIVATION,
    DK_KIND_COUNT
} dk_kind;

/* Canonical section names, indexed by dk_kind (used in messages). */
static const char *const dk_kind_names[] = {
    "net",      "convolutional", "connected", "maxpool", "avgpool",
    "dropout",  "softmax",       "route",     "shortcut", "upsample",
    "reorg",    "region",        "yolo",      "cost",    "crop",
    "batchnorm", "activation"};
_Static_assert(sizeof dk_kind_names / sizeof dk_kind_names[0] ==
                   DK_KIND_COUNT,
               "one name per section kind");

/* Every spelling darknet's string_to_layer_type() accepts for them. */
static const struct {
    const char *name;
    dk_kind kind;
} dk_spellings[] = {
    {"net", DK_NET},           {"network", DK_NET},
    {"convolutional", DK_CONV}, {"conv", DK_CONV},
    {"connected", DK_CONN},     {"conn", DK_CONN},
    {"maxpool", DK_MAXPOOL},    {"max", DK_MAXPOOL},
    {"avgpool", DK_AVGPOOL},    {"avg", DK_AVGPOOL},
    {"dropout", DK_DROPOUT},    {"softmax", DK_SOFTMAX},
    {"soft", DK_SOFTMAX},       {"route", DK_ROUTE},
    {"shortcut", DK_SHORTCUT},  {"upsample", DK_UPSAMPLE},
    {"reorg", DK_REORG},        {"region", DK_REGION},
    {"yolo", DK_YOLO},          {"cost", DK_COST},
    {"crop", DK_CROP},          {"batchnorm", DK_BATCHNORM},
    {"activation", DK_ACTIVATION},
};

/* Sections darknet knows that cleave does not translate. */
static const char *const dk_unsupported[] = {
    "local",  "crnn",          "rnn",    "gru",       "lstm",
    "detection", "deconvolutional", "deconv", "normalization", "lrn",
    "logistic", "l2norm",      "iseg"};

static int dk_kind_of(const char *name)
{
    for (size_t i = 0; i < sizeof dk_spellings / sizeof dk_spellings[0]; i++)
        if (strcmp(dk_spellings[i].name, name) == 0)
            return (int)dk_spellings[i].kind;
    return -1;
}

/* ---- activations ------------------------------------------------------- */

typedef enum dk_act {
    DK_LINEAR,
    DK_LEAKY,
    DK_RELU,
    DK_LOGISTIC,
    DK_TANH
} dk_act;

static const struct {
    const char *name;
    dk_act act;
} dk_acts[] = {{"linear", DK_LINEAR},
               {"leaky", DK_LEAKY},
               {"relu", DK_RELU},
               {"logistic", DK_LOGISTIC},
               {"tanh", DK_TANH}};

/* ---- the build state --------------------------------------------------- */

/* What cleave knows about one layer's output. */
typedef struct dk_layer {
    dk_kind kind;
    int index;        /* darknet layer index; -1 for the network input */
    int tensor;       /* the tensor carrying the output */
    int rank;         /* of that tensor: 4 (1xCxHxW) or 2 (1xN) */
    int64_t dims[4];  /* its expected shape */
    int64_t c, h, w;  /* darknet's out_c, out_h, out_w; 0 for flat outputs */
    int64_t n;        /* darknet's outputs (elements) */
} dk_layer;

typedef struct dk_build {
    clv_graph *g;
    clv_error *err;
    const clv_dk_cfg *cfg;
    const clv_dk_section *sec; /* the section being translated */
    int index;                 /* its darknet layer index */
    dk_layer *layers;          /* layers[0..index-1] are done */
    dk_layer in;               /* the input of the current layer */
    int n_aux;                 /* counter for helper node names */

    const unsigned char *wbuf; /* weights file, NULL for random weights */
    size_t wlen, wpos;
    const char *wlabel;
    bool transpose; /* connected weights stored [in][out] (old files) */

    clv_rng rng;
    uint64_t params, max_params;
} dk_build;

#define DK_NAME_MAX 96

static int dk_fail(dk_build *b, int line, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int dk_fail(dk_build *b, int line, int code, const char *fmt, ...)
{
    char msg[CLV_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clv_dk__error(b->cfg, b->sec, line, b->err, code, "%s", msg);
}

/* The line of option `key` of the current section, or the section's. */
static int dk_line(const dk_build *b, const char *key)
{
    const clv_dk_opt *o = key ? clv_dk__find(b->sec, key) : NULL;
    return o ? o->line : b->sec->line;
}

/* Puts "<cfg>:<line>: " in front of an error from the graph API. */
static int dk_graph_err(dk_build *b, int rc)
{
    if (b->err && b->err->code == rc)
        clv_error_prefix(b->err, "%s:%d: ", b->cfg->label,
                         b->sec ? b->sec->line : 1);
    else
        clv_error_set(b->err, rc, "%s:%d: %s", b->cfg->label,
                      b->sec ? b->sec->line : 1, clv_strerror(rc));
    return rc;
}

static void dk_name(char *buf, int index, const char *suffix)
{
    if (suffix)
        snprintf(buf, DK_NAME_MAX, "layer%d_%s", index, suffix);
    else
        snprintf(buf, DK_NAME_MAX, "layer%d", index);
}

/* Checks a*b*... against the tensor size cap. */
static int dk_elems(dk_build *b, int line, const char *what, int n,
                    const int64_t *f, uint64_t max, uint64_t *out)
{
    uint64_t v = 1;
    for (int i = 0; i < n; i++) {
        if (f[i] < 0 || clv_util_mul_checked(v, (uint64_t)f[i], max, &v))
            return dk_fail(b, line, CLV_ELIMIT,
                           "%s would exceed the limit of %llu", what,
                           (unsigned long long)max);
    }
    if (out)
        *out = v;
    return 0;
}

/* ---- graph helpers ----------------------------------------------------- */

/* A run-time tensor of unknown shape: "layer<i>" when `last`, otherwise
 * "layer<i>_<suffix>". */
static int dk_tensor(dk_build *b, const char *suffix, bool last, int *id)
{
    char name[DK_NAME_MAX];
    dk_name(name, b->index, last ? NULL : suffix);
    int rc = clv_graph_add_tensor(b->g, name, CLV_DT_FLOAT, -1, NULL, id,
                                  b->err);
    return rc ? dk_graph_err(b, rc) : 0;
}

/* A constant "layer<i>_<suffix>" with zeroed storage in *data. */
static int dk_const(dk_build *b, const char *suffix, clv_dtype dt, int ndim,
                    const int64_t *dims, void **data, int *id)
{
    char name[DK_NAME_MAX];
    int t, rc;
    dk_name(name, b->index, suffix);
    rc = clv_graph_add_tensor(b->g, name, dt, ndim, dims, &t, b->err);
    if (!rc)
        rc = clv_graph_alloc_data(b->g, t, data, b->err);
    if (rc)
        return dk_graph_err(b, rc);
    *id = t;
    return 0;
}

static int dk_const_ints(dk_build *b, const char *suffix, int n,
                         const int64_t *v, int *id)
{
    int64_t dims[1] = {n};
    void *data;
    int rc = dk_const(b, suffix, CLV_DT_INT64, 1, dims, &data, id);
    if (!rc)
        memcpy(data, v, (size_t)n * sizeof *v);
    return rc;
}

static int dk_const_floats(dk_build *b, const char *suffix, int n,
                           const float *v, int *id)
{
    int64_t dims[1] = {n};
    void *data;
    int rc = dk_const(b, suffix, CLV_DT_FLOAT, 1, dims, &data, id);
    if (!rc)
        memcpy(data, v, (size_t)n * sizeof *v);
    return rc;
}

/* Adds node "layer<i>_<suffix>" reading `in`, writing a new tensor (see
 * dk_tensor) returned in *out; its index in *node (may be NULL). */
static int dk_node(dk_build *b, const char *suffix, clv_op op, int n_in,
                   const int *in, bool last, int *out, int *node)
{
    char name[DK_NAME_MAX];
    int t, rc;
    if (clv_graph_n_nodes(b->g) >= CLV_LOAD_MAX_NODES)
        return dk_fail(b, b->sec->line, CLV_ELIMIT,
                       "the graph would exceed %d nodes",
                       CLV_LOAD_MAX_NODES);
    rc = dk_tensor(b, suffix, last, &t);
    if (rc)
        return rc;
    dk_name(name, b->index, suffix);
    rc = clv_graph_add_node(b->g, name, op, n_in, in, 1, &t, node, b->err);
    if (rc)
        return dk_graph_err(b, rc);
    *out = t;
    return 0;
}

/* Attribute setters that turn failures into located errors. */
static int dk_set_int(dk_build *b, int node, const char *name, int64_t v)
{
    int rc = clv_graph_set_int(b->g, node, name, v);
    return rc ? dk_graph_err(b, rc) : 0;
}

static int dk_set_float(dk_build *b, int node, const char *name, float v)
{
    int rc = clv_graph_set_float(b->g, node, name, v);
    return rc ? dk_graph_err(b, rc) : 0;
}

static int dk_set_ints(dk_build *b, int node, const char *name, size_t n,
                       const int64_t *v)
{
    int rc = clv_graph_set_ints(b->g, node, name, n, v);
    return rc ? dk_graph_err(b, rc) : 0;
}

static int dk_set_floats(dk_build *b, int node, const char *name, size_t n,
                         const float *v)
{
    int rc = clv_graph_set_floats(b->g, node, name, n, v);
    return rc ? dk_graph_err(b, rc) : 0;
}

static int dk_set_string(dk_build *b, int node, const char *name,
                         const char *v)
{
    int rc = clv_graph_set_string(b->g, node, name, v);
    return rc ? dk_graph_err(b, rc) : 0;
}

/* Reads activation= (default `def`). */
static int dk_get_act(dk_build *b, const char *def, dk_act *act)
{
    const char *s = clv_dk__get_str(b->sec, "activation", def);
    for (size_t i = 0; i < sizeof dk_acts / sizeof dk_acts[0]; i++) {
        if (strcmp(dk_acts[i].name, s) == 0) {
            *act = dk_acts[i].act;
            return 0;
        }
    }
    return dk_fail(b, dk_line(b, "activation"), CLV_EUNSUPPORTED,
                   "activation=%.40s is not supported (cleave knows "
                   "linear, leaky, relu, logistic and tanh)",
                   s);
}

/* Emits the activation node (always the last step of a layer). */
static int dk_emit_act(dk_build *b, dk_act act, int x, int *out)
{
    int node, rc;
    switch (act) {
    case DK_LEAKY:
        rc = dk_node(b, "leaky", CLV_OP_LEAKYRELU, 1, &x, true, out, &node);
        if (!rc)
            rc = dk_set_float(b, node, "alpha", 0.1f);
        return rc;
    case DK_RELU:
        return dk_node(b, "relu", CLV_OP_RELU, 1, &x, true, out, NULL);
    case DK_LOGISTIC:
        return dk_node(b, "logistic", CLV_OP_SIGMOID, 1, &x, true, out,
                       NULL);
    case DK_TANH:
        return dk_node(b, "tanh", CLV_OP_TANH, 1, &x, true, out, NULL);
    case DK_LINEAR:
        break;
    }
    *out = x;
    return 0;
}

/* The current input as a 1xCxHxW tensor: darknet layers that need an
 * image fail on a flat input; a 1xN output of [connected] (darknet's
 * N x 1 x 1) is reshaped. */
static int dk_image(dk_build *b, const dk_layer *l, int *t)
{
    if (l->c <= 0 || l->h <= 0 || l->w <= 0)
        return dk_fail(b, b->sec->line, CLV_EFORMAT,
                       "needs an image input, but layer %d (%s) gives a "
                       "flat vector of %lld values",
                       l->index, dk_kind_names[l->kind], (long long)l->n);
    if (l->rank == 4) {
        *t = l->tensor;
        return 0;
    }
    int64_t shape[4] = {1, l->c, l->h, l->w};
    char suffix[32];
    int s, rc;
    snprintf(suffix, sizeof suffix, "reshape%d.shape", b->n_aux);
    rc = dk_const_ints(b, suffix, 4, shape, &s);
    if (rc)
        return rc;
    int in[2] = {l->tensor, s};
    snprintf(suffix, sizeof suffix, "reshape%d", b->n_aux++);
    return dk_node(b, suffix, CLV_OP_RESHAPE, 2, in, false, t, NULL);
}

/* Fills the output record of the current layer. */
static void dk_set_image(dk_layer *o, int64_t c, int64_t h, int64_t w)
{
    o->rank = 4;
    o->dims[0] = 1;
    o->dims[1] = c;
    o->dims[2] = h;
    o->dims[3] = w;
    o->c = c;
    o->h = h;
    o->w = w;
    o->n = c * h * w;
}

static void dk_set_flat(dk_layer *o, int64_t n, bool vector_like)
{
    o->rank = 2;
    o->dims[0] = 1;
    o->dims[1] = n;
    o->dims[2] = o->dims[3] = 0;
    o->c = vector_like ? n : 0;
    o->h = o->w = vector_like ? 1 : 0;
    o->n = n;
}

/* ---- weights ----------------------------------------------------------- */

/* Accounts for the `total` parameters of the current layer, `from_file` of
 * which come from the weights file, and checks both the cap and that the
 * file holds them — before any of them is allocated. */
static int dk_need(dk_build *b, uint64_t total, uint64_t from_file)
{
    if (total > b->max_params - b->params)
        return dk_fail(b, b->sec->line, CLV_ELIMIT,
                       "layer %d brings the weights over the limit of %llu "
                       "values",
                       b->index, (unsigned long long)b->max_params);
    b->params += total;
    if (!b->wbuf || from_file == 0)
        return 0;
    uint64_t bytes = from_file * 4, left = b->wlen - b->wpos;
    if (bytes > left)
        return clv_error_set(b->err, CLV_EFORMAT,
                             "%s: ends after %zu bytes, layer %d (%s) needs "
                             "%llu more",
                             b->wlabel, b->wlen, b->index,
                             dk_kind_names[b->layers[b->index].kind],
                             (unsigned long long)(bytes - left));
    return 0;
}

/* Copies `n` little-endian float32 values from the weights file. */
static void dk_read(dk_build *b, float *dst, uint64_t n)
{
    const unsigned char *p = b->wbuf + b->wpos;
    for (uint64_t i = 0; i < n; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
    b->wpos += (size_t)(n * 4);
}

/* Reads a [rows][cols] matrix from the file into dst as [cols][rows]
 * (darknet's transpose_matrix). */
static int dk_read_transposed(dk_build *b, float *dst, uint64_t rows,
                              uint64_t cols)
{
    float *tmp = malloc((size_t)(rows * cols) * sizeof *tmp);
    if (!tmp)
        return clv_error_set(b->err, CLV_ENOMEM, "%s: out of memory",
                             b->cfg->label);
    dk_read(b, tmp, rows * cols);
    for (uint64_t i = 0; i < rows; i++)
        for (uint64_t j = 0; j < cols; j++)
            dst[j * rows + i] = tmp[i * cols + j];
    free(tmp);
    return 0;
}

/* darknet normalizes with (x - mean) / (sqrt(var) + 1e-6), not with
 * sqrt(var + eps): BatchNormalization with epsilon 0 and the variance
 * stored as (sqrt(var) + 1e-6)^2 computes exactly that. */
static void dk_bn_variance(float *var, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        double s = sqrt((double)var[i]) + (double)1e-6f;
        var[i] = (float)(s * s);
    }
}

/* The parameter arrays of one conv / connected / batchnorm layer. */
typedef struct dk_params {
    float *bias, *scale, *mean, *var, *weight;
    uint64_t n;
} dk_params;

static void dk_read_bn(dk_build *b, dk_params *p)
{
    dk_read(b, p->scale, p->n);
    dk_read(b, p->mean, p->n);
    dk_read(b, p->var, p->n);
}


/* Random statistics that keep BatchNormalization close to the identity. */
static void dk_random_bn(dk_build *b, dk_params *p)
{
    clv_rng_fill_uniform(&b->rng, p->scale, p->n, 0.9f, 1.1f);
    clv_rng_fill_uniform(&b->rng, p->mean, p->n, -0.05f, 0.05f);
    clv_rng_fill_uniform(&b->rng, p->var, p->n, 0.9f, 1.1f);
}

/* ---- option helpers ---------------------------------------------------- */

/* Reads an int option and checks lo <= v <= hi. */
static int dk_int(dk_build *b, const char *key, int def, bool required,
                  int lo, int hi, int *out)
{
    int rc = clv_dk__get_int(b->cfg, b->sec, key, def, required, out,
                             b->err);
    if (rc)
        return rc;
    if (*out < lo || *out > hi) {
        if (hi == INT_MAX)
            return dk_fail(b, dk_line(b, key), CLV_ERANGE,
                           "%s=%d must be at least %d", key, *out, lo);
        return dk_fail(b, dk_line(b, key), CLV_ERANGE,
                       "%s=%d must be between %d and %d", key, *out, lo,
                       hi);
    }
    return 0;
}

static int dk_flag(dk_build *b, const char *key, bool *out)
{
    int v, rc = dk_int(b, key, 0, false, INT_MIN, INT_MAX, &v);
    if (!rc)
        *out = v != 0;
    return rc;
}

static int dk_float(dk_build *b, const char *key, float def, float *out)
{
    return clv_dk__get_float(b->cfg, b->sec, key, def, out, b->err);
}

/* Options that must be absent or 0 because cleave cannot honour them. */
static int dk_refuse(dk_build *b, const char *const *keys, int n)
{
    for (int k = 0; k < n; k++) {
        int v, rc = dk_int(b, keys[k], 0, false, INT_MIN, INT_MAX, &v);
        if (rc)
            return rc;
        if (v)
            return dk_fail(b, dk_line(b, keys[k]), CLV_EUNSUPPORTED,
                           "%s=%d is not supported", keys[k], v);
    }
    return 0;
}

/* Creates the four BatchNormalization constants "<node>.scale|bias|mean|
 * var" of `n` channels. */
static int dk_bn_consts(dk_build *b, const char *node, int64_t n,
                        dk_params *p, int ids[4])
{
    static const char *const names[4] = {"scale", "bias", "mean", "var"};
    float **dst[4] = {&p->scale, &p->bias, &p->mean, &p->var};
    for (int k = 0; k < 4; k++) {
        char suffix[48];
        void *data;
        snprintf(suffix, sizeof suffix, "%s.%s", node, names[k]);
        int rc = dk_const(b, suffix, CLV_DT_FLOAT, 1, &n, &data, &ids[k]);
        if (rc)
            return rc;
        *dst[k] = data;
    }
    return 0;
}

static int dk_bn_node(dk_build *b, int x, const int ids[4], bool last,
                      int *out)
{
    int in[5] = {x, ids[0], ids[1], ids[2], ids[3]}, node;
    int rc = dk_node(b, "bn", CLV_OP_BATCHNORM, 5, in, last, out, &node);
    if (!rc)
        rc = dk_set_float(b, node, "epsilon", 0.0f);
    return rc;
}

/* ---- layers ------------------------------------------------------------ */

static int dk_conv(dk_build *b, dk_layer *o)
{
    static const char *const refused[] = {"binary", "xnor", "numload"};
    int filters, size, stride, padding, groups, rc;
    bool pad, bn, flipped, dontload, dontloadscales;
    dk_act act;
    const dk_layer *in = &b->in;

    if ((rc = dk_int(b, "filters", 1, true, 1, INT_MAX, &filters)) ||
        (rc = dk_int(b, "size", 1, false, 1, INT_MAX, &size)) ||
        (rc = dk_int(b, "stride", 1, false, 1, INT_MAX, &stride)) ||
        (rc = dk_flag(b, "pad", &pad)) ||
        (rc = dk_int(b, "padding", 0, false, 0, INT_MAX, &padding)) ||
        (rc = dk_int(b, "groups", 1, false, 1, INT_MAX, &groups)) ||
        (rc = dk_flag(b, "batch_normalize", &bn)) ||
        (rc = dk_flag(b, "flipped", &flipped)) ||
        (rc = dk_flag(b, "dontload", &dontload)) ||
        (rc = dk_flag(b, "dontloadscales", &dontloadscales)) ||
        (rc = dk_refuse(b, refused, 3)) ||
        (rc = dk_get_act(b, "logistic", &act)))
        return rc;
    if (pad)
        padding = size / 2;
    int x;
    if ((rc = dk_image(b, in, &x)))
        return rc;
    if (in->c % groups)
        return dk_fail(b, dk_line(b, "groups"), CLV_ERANGE,
                       "groups=%d does not divide the %lld input channels",
                       groups, (long long)in->c);
    if (filters % groups)
        return dk_fail(b, dk_line(b, "groups"), CLV_ERANGE,
                       "groups=%d does not divide filters=%d", groups,
                       filters);
    if (flipped && groups != 1)
        return dk_fail(b, dk_line(b, "flipped"), CLV_EUNSUPPORTED,
                       "flipped=1 with groups=%d is not supported", groups);
    int64_t ph = in->h + 2 * (int64_t)padding;
    int64_t pw = in->w + 2 * (int64_t)padding;
    if (ph < size || pw < size)
        return dk_fail(b, dk_line(b, "size"), CLV_ERANGE,
                       "size=%d is larger than the padded input %lldx%lld",
                       size, (long long)ph, (long long)pw);
    int64_t oh = (ph - size) / stride + 1, ow = (pw - size) / stride + 1;
    int64_t cg = in->c / groups;
    uint64_t n_w = 0, n_out = 0, macs = 0;
    int64_t wf[4] = {filters, cg, size, size}, of[3] = {filters, oh, ow};
    if ((rc = dk_elems(b, dk_line(b, "filters"), "the weights", 4, wf,
                       CLV_DK_MAX_ELEMS, &n_w)) ||
        (rc = dk_elems(b, dk_line(b, "filters"), "the output", 3, of,
                       CLV_DK_MAX_ELEMS, &n_out)))
        return rc;
    int64_t mf[2] = {(int64_t)n_out, (int64_t)(n_w / (uint64_t)filters)};
    if ((rc = dk_elems(b, b->sec->line, "the multiply-adds", 2, mf,
                       CLV_DK_MAX_MACS, &macs)))
        return rc;

    dk_params p = {0};
    p.n = (uint64_t)filters;
    bool file = b->wbuf && !dontload, file_bn = file && bn && !dontloadscales;
    uint64_t total = p.n + n_w + (bn ? 3 * p.n : 0);
    uint64_t from_file = file ? p.n + n_w + (file_bn ? 3 * p.n : 0) : 0;
    if ((rc = dk_need(b, total, from_file)))
        return rc;

    int w_id, b_id = -1, bn_ids[4];
    void *data;
    if ((rc = dk_const(b, "conv.weight", CLV_DT_FLOAT, 4, wf, &data, &w_id)))
        return rc;
    p.weight = data;
    int64_t nd = filters;
    if (bn) {
        if ((rc = dk_bn_consts(b, "bn", nd, &p, bn_ids)))
            return rc;
    } else {
        if ((rc = dk_const(b, "conv.bias", CLV_DT_FLOAT, 1, &nd, &data,
                           &b_id)))
            return rc;
        p.bias = data;
    }

    /* darknet's order: biases, [scales, mean, variance], weights. With
     * batch_normalize the biases are BatchNormalization's B. */
    if (file) {
        dk_read(b, p.bias, p.n);
        if (file_bn)
            dk_read_bn(b, &p);
        else if (bn)
            dk_random_bn(b, &p);
        if (flipped)
            rc = dk_read_transposed(b, p.weight, n_w / p.n, p.n);
        else
            dk_read(b, p.weight, n_w);
        if (rc)
            return rc;
    } else {
        clv_rng_fill_uniform(&b->rng, p.bias, p.n, -0.01f, 0.01f);
        if (bn)
            dk_random_bn(b, &p);
        clv_rng_fill_normal(&b->rng, p.weight, n_w,
                            sqrtf(2.0f / (float)(n_w / p.n)));
    }
    if (bn)
        dk_bn_variance(p.var, p.n);

    int cin[3] = {x, w_id, b_id}, node, t;
    if ((rc = dk_node(b, "conv", CLV_OP_CONV, bn ? 2 : 3, cin,
                      !bn && act == DK_LINEAR, &t, &node)))
        return rc;
    int64_t ks[2] = {size, size}, st[2] = {stride, stride};
    int64_t pads[4] = {padding, padding, padding, padding}, dil[2] = {1, 1};
    if ((rc = dk_set_ints(b, node, "kernel_shape", 2, ks)) ||
        (rc = dk_set_ints(b, node, "strides", 2, st)) ||
        (rc = dk_set_ints(b, node, "pads", 4, pads)) ||
        (rc = dk_set_ints(b, node, "dilations", 2, dil)) ||
        (rc = dk_set_int(b, node, "group", groups)))
        return rc;
    if (bn && (rc = dk_bn_node(b, t, bn_ids, act == DK_LINEAR, &t)))
        return rc;
    if ((rc = dk_emit_act(b, act, t, &o->tensor)))
        return rc;
    dk_set_image(o, filters, oh, ow);
    return 0;
}

static int dk_connected(dk_build *b, dk_layer *o)
{
    int outputs, rc;
    bool bn, dontload, dontloadscales;
    dk_act act;
    const dk_layer *in = &b->in;

    if ((rc = dk_int(b, "output", 1, true, 1, INT_MAX, &outputs)) ||
        (rc = dk_flag(b, "batch_normalize", &bn)) ||
        (rc = dk_flag(b, "dontload", &dontload)) ||
        (rc = dk_flag(b, "dontloadscales", &dontloadscales)) ||
        (rc = dk_get_act(b, "logistic", &act)))
        return rc;
    uint64_t n_w = 0;
    int64_t wf[2] = {outputs, in->n};
    if ((rc = dk_elems(b, dk_line(b, "output"), "the weights", 2, wf,
                       CLV_DK_MAX_ELEMS, &n_w)))
        return rc;

    dk_params p = {0};
    p.n = (uint64_t)outputs;
    bool file = b->wbuf && !dontload, file_bn = file && bn && !dontloadscales;
    uint64_t total = p.n + n_w + (bn ? 3 * p.n : 0);
    uint64_t from_file = file ? p.n + n_w + (file_bn ? 3 * p.n : 0) : 0;
    if ((rc = dk_need(b, total, from_file)))
        return rc;

    int x = in->tensor, fl;
    if (in->rank != 2 &&
        ((rc = dk_node(b, "flatten", CLV_OP_FLATTEN, 1, &in->tensor, false,
                       &x, &fl)) ||
         (rc = dk_set_int(b, fl, "axis", 1))))
        return rc;

    int w_id, b_id = -1, bn_ids[4];
    void *data;
    if ((rc = dk_const(b, "gemm.weight", CLV_DT_FLOAT, 2, wf, &data, &w_id)))
        return rc;
    p.weight = data;
    int64_t nd = outputs;
    if (bn) {
        if ((rc = dk_bn_consts(b, "bn", nd, &p, bn_ids)))
            return rc;
    } else {
        if ((rc = dk_const(b, "gemm.bias", CLV_DT_FLOAT, 1, &nd, &data,
                           &b_id)))
            return rc;
        p.bias = data;
    }

    /* darknet's order: biases, weights, [scales, mean, variance]. */
    if (file) {
        dk_read(b, p.bias, p.n);
        if (b->transpose)
            rc = dk_read_transposed(b, p.weight, (uint64_t)in->n, p.n);
        else
            dk_read(b, p.weight, n_w);
        if (rc)
            return rc;
        if (file_bn)
            dk_read_bn(b, &p);
        else if (bn)
            dk_random_bn(b, &p);
    } else {
        clv_rng_fill_uniform(&b->rng, p.bias, p.n, -0.01f, 0.01f);
        clv_rng_fill_normal(&b->rng, p.weight, n_w,
                            sqrtf(2.0f / (float)in->n));
        if (bn)
            dk_random_bn(b, &p);
    }
    if (bn)
        dk_bn_variance(p.var, p.n);

    int gin[3] = {x, w_id, b_id}, node, t;
    if ((rc = dk_node(b, "gemm", CLV_OP_GEMM, bn ? 2 : 3, gin,
                      !bn && act == DK_LINEAR, &t, &node)) ||
        (rc = dk_set_float(b, node, "alpha", 1.0f)) ||
        (rc = dk_set_float(b, node, "beta", 1.0f)) ||
        (rc = dk_set_int(b, node, "transA", 0)) ||
        (rc = dk_set_int(b, node, "transB", 1)))
        return rc;
    if (bn && (rc = dk_bn_node(b, t, bn_ids, act == DK_LINEAR, &t)))
        return rc;
    if ((rc = dk_emit_act(b, act, t, &o->tensor)))
        return rc;
    dk_set_flat(o, outputs, true);
    return 0;
}

static int dk_batchnorm(dk_build *b, dk_layer *o)
{
    bool dontload;
    int x, rc, ids[4];
    if ((rc = dk_flag(b, "dontload", &dontload)) ||
        (rc = dk_image(b, &b->in, &x)))
        return rc;
    dk_params p = {0};
    p.n = (uint64_t)b->in.c;
    bool file = b->wbuf && !dontload;
    if ((rc = dk_need(b, 4 * p.n, file ? 3 * p.n : 0)) ||
        (rc = dk_bn_consts(b, "bn", b->in.c, &p, ids)))
        return rc;
    /* darknet's [batchnorm] has zero biases and stores scales, mean and
     * variance. */
    if (file)
        dk_read_bn(b, &p);
    else
        dk_random_bn(b, &p);
    dk_bn_variance(p.var, p.n);
    if ((rc = dk_bn_node(b, x, ids, true, &o->tensor)))
        return rc;
    dk_set_image(o, b->in.c, b->in.h, b->in.w);
    return 0;
}

static int dk_activation(dk_build *b, dk_layer *o)
{
    dk_act act;
    int rc = dk_get_act(b, "linear", &act);
    if (rc)
        return rc;
    if (act == DK_LINEAR)
        rc = dk_node(b, "identity", CLV_OP_IDENTITY, 1, &b->in.tensor, true,
                     &o->tensor, NULL);
    else
        rc = dk_emit_act(b, act, b->in.tensor, &o->tensor);
    if (rc)
        return rc;
    *o = (dk_layer){.kind = o->kind, .index = o->index, .tensor = o->tensor,
                    .rank = b->in.rank, .c = b->in.c, .h = b->in.h,
                    .w = b->in.w, .n = b->in.n};
    memcpy(o->dims, b->in.dims, sizeof o->dims);
    return 0;
}

/* Same shape as the input, through one node (dropout, region, yolo). */
static void dk_same_shape(dk_build *b, dk_layer *o)
{
    o->rank = b->in.rank;
    memcpy(o->dims, b->in.dims, sizeof o->dims);
    o->c = b->in.c;
    o->h = b->in.h;
    o->w = b->in.w;
    o->n = b->in.n;
}

static int dk_maxpool(dk_build *b, dk_layer *o)
{
    int stride, size, padding, x, node, rc;
    if ((rc = dk_int(b, "stride", 1, false, 1, INT_MAX, &stride)) ||
        (rc = dk_int(b, "size", stride, false, 1, INT_MAX, &size)) ||
        (rc = dk_int(b, "padding", size - 1, false, 0, INT_MAX, &padding)) ||
        (rc = dk_image(b, &b->in, &x)))
        return rc;
    /* darknet's window starts at -padding/2; the output size
     * (w + padding - size) / stride + 1 leaves padding - padding/2 at the
     * end. A window made of padding only would give -FLT_MAX in darknet. */
    int64_t pb = padding / 2, pe = padding - pb;
    if (pb >= size || pe >= size)
        return dk_fail(b, dk_line(b, "padding"), CLV_ERANGE,
                       "padding=%d is more than 2*size-2 = %lld", padding,
                       2 * (long long)size - 2);
    if (b->in.h + padding < size || b->in.w + padding < size)
        return dk_fail(b, dk_line(b, "size"), CLV_ERANGE,
                       "size=%d is larger than the padded input %lldx%lld",
                       size, (long long)(b->in.h + padding),
                       (long long)(b->in.w + padding));
    int64_t oh = (b->in.h + padding - size) / stride + 1;
    int64_t ow = (b->in.w + padding - size) / stride + 1;
    int64_t ks[2] = {size, size}, st[2] = {stride, stride};
    int64_t pads[4] = {pb, pb, pe, pe}, dil[2] = {1, 1};
    uint64_t macs;
    int64_t mf[4] = {b->in.c, oh, ow, (int64_t)size * size};
    if ((rc = dk_elems(b, dk_line(b, "size"), "the comparisons", 4, mf,
                       CLV_DK_MAX_MACS, &macs)) ||
        (rc = dk_node(b, "maxpool", CLV_OP_MAXPOOL, 1, &x, true, &o->tensor,
                      &node)) ||
        (rc = dk_set_ints(b, node, "kernel_shape", 2, ks)) ||
        (rc = dk_set_ints(b, node, "strides", 2, st)) ||
        (rc = dk_set_ints(b, node, "pads", 4, pads)) ||
        (rc = dk_set_ints(b, node, "dilations", 2, dil)) ||
        (rc = dk_set_int(b, node, "ceil_mode", 0)))
        return rc;
    dk_set_image(o, b->in.c, oh, ow);
    return 0;
}

static int dk_avgpool(dk_build *b, dk_layer *o)
{
    int x, rc;
    if ((rc = dk_image(b, &b->in, &x)) ||
        (rc = dk_node(b, "avgpool", CLV_OP_GLOBALAVERAGEPOOL, 1, &x, true,
                      &o->tensor, NULL)))
        return rc;
    dk_set_image(o, b->in.c, 1, 1);
    return 0;
}

static int dk_dropout(dk_build *b, dk_layer *o)
{
    float prob;
    int rc = dk_float(b, "probability", 0.5f, &prob);
    if (!rc)
        rc = dk_node(b, "dropout", CLV_OP_DROPOUT, 1, &b->in.tensor, true,
                     &o->tensor, NULL);
    if (!rc)
        dk_same_shape(b, o);
    return rc;
}

static int dk_softmax(dk_build *b, dk_layer *o)
{
    int groups, rc, node;
    float temperature;
    const dk_layer *in = &b->in;
    if ((rc = dk_int(b, "groups", 1, false, 1, INT_MAX, &groups)) ||
        (rc = dk_float(b, "temperature", 1.0f, &temperature)))
        return rc;
    if (clv_dk__find(b->sec, "tree"))
        return dk_fail(b, dk_line(b, "tree"), CLV_EUNSUPPORTED,
                       "tree= (a hierarchical softmax) is not supported");
    if (groups != 1)
        return dk_fail(b, dk_line(b, "groups"), CLV_EUNSUPPORTED,
                       "groups=%d is not supported (only 1)", groups);
    if (temperature <= 0.0f)
        return dk_fail(b, dk_line(b, "temperature"), CLV_ERANGE,
                       "temperature=%g must be positive",
                       (double)temperature);
    /* darknet's softmax runs over all `inputs` values of the layer: over
     * the channels of a 1x1 map, over the flattened tensor otherwise. */
    bool keep4 = in->rank == 4 && in->dims[2] == 1 && in->dims[3] == 1;
    int x = in->tensor;
    if (in->rank == 4 && !keep4) {
        if ((rc = dk_node(b, "flatten", CLV_OP_FLATTEN, 1, &in->tensor,
                          false, &x, &node)) ||
            (rc = dk_set_int(b, node, "axis", 1)))
            return rc;
    }
    if (temperature != 1.0f) {
        int t;
        if ((rc = dk_const_floats(b, "div.temperature", 1, &temperature,
                                  &t)))
            return rc;
        int din[2] = {x, t};
        if ((rc = dk_node(b, "div", CLV_OP_DIV, 2, din, false, &x, NULL)))
            return rc;
    }
    if ((rc = dk_node(b, "softmax", CLV_OP_SOFTMAX, 1, &x, true, &o->tensor,
                      &node)) ||
        (rc = dk_set_int(b, node, "axis", 1)))
        return rc;
    if (keep4) {
        o->rank = 4;
        memcpy(o->dims, in->dims, sizeof o->dims);
    } else {
        o->rank = 2;
        o->dims[0] = 1;
        o->dims[1] = in->n;
        o->dims[2] = o->dims[3] = 0;
    }
    o->c = o->h = o->w = 0; /* darknet's softmax has no image shape */
    o->n = in->n;
    return 0;
}

/* Resolves a layer reference of route / shortcut: negative values count
 * back from the current layer. */
static int dk_ref(dk_build *b, const char *key, int v, int *idx)
{
    int64_t i = v < 0 ? (int64_t)b->index + v : v;
    if (i < 0)
        return dk_fail(b, dk_line(b, key),
                       CLV_EFORMAT, "%s=%d points before the first layer",
                       key, v);
    if (i >= b->index)
        return dk_fail(b, dk_line(b, key), CLV_EFORMAT,
                       "%s=%d points to layer %lld, which is not before "
                       "this layer (%d)",
                       key, v, (long long)i, b->index);
    if (b->layers[i].kind == DK_COST)
        return dk_fail(b, dk_line(b, key), CLV_EFORMAT,
                       "%s=%d points to layer %lld, a [cost] layer", key, v,
                       (long long)i);
    *idx = (int)i;
    return 0;
}

static int dk_route(dk_build *b, dk_layer *o)
{
    int *refs = NULL, n = 0, rc, node;
    int *ins = NULL;
    rc = clv_dk__get_ints(b->cfg, b->sec, "layers", true, &refs, &n, b->err);
    if (rc)
        return rc;
    ins = malloc((size_t)n * sizeof *ins);
    if (!ins) {
        rc = clv_error_set(b->err, CLV_ENOMEM, "%s: out of memory",
                           b->cfg->label);
        goto done;
    }
    for (int k = 0; k < n; k++) {
        int idx = 0;
        if ((rc = dk_ref(b, "layers", refs[k], &idx)))
            goto done;
        refs[k] = idx;
    }
    const dk_layer *first = &b->layers[refs[0]];
    if (n == 1) {
        rc = dk_node(b, "identity", CLV_OP_IDENTITY, 1, &first->tensor, true,
                     &o->tensor, NULL);
        if (!rc) {
            int tensor = o->tensor;
            *o = *first;
            o->kind = DK_ROUTE;
            o->index = b->index;
            o->tensor = tensor;
        }
        goto done;
    }
    /* Several layers: concatenated on the channels; darknet needs equal
     * spatial sizes. All flat (connected) layers concatenate as vectors. */
    bool all_flat = true;
    int64_t c = 0, total = 0;
    for (int k = 0; k < n; k++) {
        const dk_layer *l = &b->layers[refs[k]];
        if (l->rank != 2)
            all_flat = false;
        if (l->h != first->h || l->w != first->w || l->c <= 0) {
            rc = dk_fail(b, dk_line(b, "layers"), CLV_EFORMAT,
                         "layers=: layer %d (%lldx%lldx%lld) and layer %d "
                         "(%lldx%lldx%lld) cannot be concatenated",
                         refs[0], (long long)first->c, (long long)first->h,
                         (long long)first->w, refs[k], (long long)l->c,
                         (long long)l->h, (long long)l->w);
            goto done;
        }
        c += l->c;
        total += l->n;
        if (c > (int64_t)CLV_DK_MAX_ELEMS || total > (int64_t)CLV_DK_MAX_ELEMS) {
            rc = dk_fail(b, dk_line(b, "layers"), CLV_ELIMIT,
                         "the output would exceed %llu elements",
                         (unsigned long long)CLV_DK_MAX_ELEMS);
            goto done;
        }
    }
    for (int k = 0; k < n; k++) {
        const dk_layer *l = &b->layers[refs[k]];
        if (all_flat)
            ins[k] = l->tensor;
        else if ((rc = dk_image(b, l, &ins[k])))
            goto done;
    }
    if ((rc = dk_node(b, "concat", CLV_OP_CONCAT, n, ins, true, &o->tensor,
                      &node)) ||
        (rc = dk_set_int(b, node, "axis", 1)))
        goto done;
    if (all_flat)
        dk_set_flat(o, c, true);
    else
        dk_set_image(o, c, first->h, first->w);
done:
    free(refs);
    free(ins);
    return rc;
}

static int dk_shortcut(dk_build *b, dk_layer *o)
{
    int from_v = 0, from = 0, x, f, rc, node;
    float alpha, beta;
    dk_act act;
    if ((rc = dk_int(b, "from", 0, true, INT_MIN, INT_MAX, &from_v)) ||
        (rc = dk_ref(b, "from", from_v, &from)) ||
        (rc = dk_float(b, "alpha", 1.0f, &alpha)) ||
        (rc = dk_float(b, "beta", 1.0f, &beta)) ||
        (rc = dk_get_act(b, "linear", &act)) ||
        (rc = dk_image(b, &b->in, &x)))
        return rc;
    const dk_layer *fl = &b->layers[from];
    if ((rc = dk_image(b, fl, &f)))
        return rc;
    /* darknet's shortcut_cpu: out = input; then for k < min(c), j < min(h),
     * i < min(w): out[k, j*sample, i*sample] = alpha*out[...] +
     * beta*from[k, j*stride, i*stride], stride = from.w / out.w, sample =
     * out.w / from.w. */
    int64_t c1 = fl->c, h1 = fl->h, w1 = fl->w;
    int64_t c2 = b->in.c, h2 = b->in.h, w2 = b->in.w;
    int64_t stride = w1 / w2, sample = w2 / w1;
    if (stride != h1 / h2 || sample != h2 / h1)
        return dk_fail(b, dk_line(b, "from"), CLV_EFORMAT,
                       "from=%d: layer %d (%lldx%lld) and the input "
                       "(%lldx%lld) differ in aspect",
                       from_v, from, (long long)h1, (long long)w1,
                       (long long)h2, (long long)w2);
    if (stride < 1)
        stride = 1;
    if (sample < 1)
        sample = 1;
    if (sample > 1)
        return dk_fail(b, dk_line(b, "from"), CLV_EUNSUPPORTED,
                       "from=%d: adding the smaller layer %d (%lldx%lld) "
                       "into %lldx%lld is not supported",
                       from_v, from, (long long)h1, (long long)w1,
                       (long long)h2, (long long)w2);
    int64_t mc = c1 < c2 ? c1 : c2, mh = h1 < h2 ? h1 : h2;
    int64_t mw = w1 < w2 ? w1 : w2;
    bool partial = mc < c2 || mh < h2 || mw < w2;
    if (partial && alpha != 1.0f)
        return dk_fail(b, dk_line(b, "alpha"), CLV_EUNSUPPORTED,
                       "alpha=%g with layers of different shapes is not "
                       "supported",
                       (double)alpha);
    int add = f;
    if (stride > 1 || mc < c1 || mh < h1 || mw < w1) {
        int64_t starts[3] = {0, 0, 0}, ends[3] = {mc, mh * stride, mw * stride};
        int64_t axes[3] = {1, 2, 3}, steps[3] = {1, stride, stride};
        int sin[5] = {f, 0, 0, 0, 0};
        if ((rc = dk_const_ints(b, "slice.starts", 3, starts, &sin[1])) ||
            (rc = dk_const_ints(b, "slice.ends", 3, ends, &sin[2])) ||
            (rc = dk_const_ints(b, "slice.axes", 3, axes, &sin[3])) ||
            (rc = dk_const_ints(b, "slice.steps", 3, steps, &sin[4])) ||
            (rc = dk_node(b, "slice", CLV_OP_SLICE, 5, sin, false, &add,
                          NULL)))
            return rc;
    }
    if (beta != 1.0f) {
        int t;
        if ((rc = dk_const_floats(b, "beta.value", 1, &beta, &t)))
            return rc;
        int min[2] = {add, t};
        if ((rc = dk_node(b, "beta", CLV_OP_MUL, 2, min, false, &add, NULL)))
            return rc;
    }
    if (partial) {
        int64_t pads[8] = {0, 0, 0, 0, 0, c2 - mc, h2 - mh, w2 - mw};
        int pin[2] = {add, 0};
        if ((rc = dk_const_ints(b, "pad.pads", 8, pads, &pin[1])) ||
            (rc = dk_node(b, "pad", CLV_OP_PAD, 2, pin, false, &add,
                          &node)) ||
            (rc = dk_set_string(b, node, "mode", "constant")))
            return rc;
    }
    int main_in = x;
    if (alpha != 1.0f) {
        int t;
        if ((rc = dk_const_floats(b, "alpha.value", 1, &alpha, &t)))
            return rc;
        int min[2] = {x, t};
        if ((rc = dk_node(b, "alpha", CLV_OP_MUL, 2, min, false, &main_in,
                          NULL)))
            return rc;
    }
    int ain[2] = {main_in, add}, t;
    if ((rc = dk_node(b, "add", CLV_OP_ADD, 2, ain, act == DK_LINEAR, &t,
                      NULL)) ||
        (rc = dk_emit_act(b, act, t, &o->tensor)))
        return rc;
    dk_set_image(o, c2, h2, w2);
    return 0;
}

static int dk_upsample(dk_build *b, dk_layer *o)
{
    int stride, x, rc, node;
    float scale;
    if ((rc = dk_int(b, "stride", 2, false, INT_MIN, INT_MAX, &stride)) ||
        (rc = dk_float(b, "scale", 1.0f, &scale)) ||
        (rc = dk_image(b, &b->in, &x)))
        return rc;
    if (stride < 0)
        return dk_fail(b, dk_line(b, "stride"), CLV_EUNSUPPORTED,
                       "stride=%d (downsampling) is not supported", stride);
    if (stride == 0)
        return dk_fail(b, dk_line(b, "stride"), CLV_ERANGE,
                       "stride=0 must be at least 1");
    int64_t oh = b->in.h * stride, ow = b->in.w * stride;
    int64_t of[3] = {b->in.c, oh, ow};
    float scales[4] = {1.0f, 1.0f, (float)stride, (float)stride};
    int sc;
    if ((rc = dk_elems(b, dk_line(b, "stride"), "the output", 3, of,
                       CLV_DK_MAX_ELEMS, NULL)) ||
        (rc = dk_const_floats(b, "resize.scales", 4, scales, &sc)))
        return rc;
    int rin[3] = {x, -1, sc}, t;
    if ((rc = dk_node(b, "resize", CLV_OP_RESIZE, 3, rin, scale == 1.0f, &t,
                      &node)) ||
        (rc = dk_set_string(b, node, "mode", "nearest")) ||
        (rc = dk_set_string(b, node, "coordinate_transformation_mode",
                            "asymmetric")) ||
        (rc = dk_set_string(b, node, "nearest_mode", "floor")))
        return rc;
    if (scale != 1.0f) {
        int s;
        if ((rc = dk_const_floats(b, "scale.value", 1, &scale, &s)))
            return rc;
        int min[2] = {t, s};
        if ((rc = dk_node(b, "scale", CLV_OP_MUL, 2, min, true, &t, NULL)))
            return rc;
    }
    o->tensor = t;
    dk_set_image(o, b->in.c, oh, ow);
    return 0;
}

static int dk_reorg(dk_build *b, dk_layer *o)
{
    static const char *const refused[] = {"reverse", "flatten"};
    int stride, extra, x, rc, node;
    const dk_layer *in = &b->in;
    if ((rc = dk_int(b, "stride", 1, false, 1, INT_MAX, &stride)) ||
        (rc = dk_int(b, "extra", 0, false, 0, INT_MAX, &extra)) ||
        (rc = dk_refuse(b, refused, 2)))
        return rc;
    if (extra) {
        /* darknet copies the input and leaves `extra` zeros after it
         * (go.cfg's "pass" move): a flat vector. */
        int64_t n = in->n + extra;
        if (n > (int64_t)CLV_DK_MAX_ELEMS)
            return dk_fail(b, dk_line(b, "extra"), CLV_ELIMIT,
                           "the output would exceed %llu elements",
                           (unsigned long long)CLV_DK_MAX_ELEMS);
        x = in->tensor;
        if (in->rank != 2 &&
            ((rc = dk_node(b, "flatten", CLV_OP_FLATTEN, 1, &in->tensor,
                           false, &x, &node)) ||
             (rc = dk_set_int(b, node, "axis", 1))))
            return rc;
        int64_t pads[4] = {0, 0, 0, extra};
        int pin[2] = {x, 0};
        if ((rc = dk_const_ints(b, "pad.pads", 4, pads, &pin[1])) ||
            (rc = dk_node(b, "pad", CLV_OP_PAD, 2, pin, true, &o->tensor,
                          &node)) ||
            (rc = dk_set_string(b, node, "mode", "constant")))
            return rc;
        dk_set_flat(o, n, false);
        return 0;
    }
    if ((rc = dk_image(b, in, &x)))
        return rc;
    int64_t s2 = (int64_t)stride * stride;
    if (in->h % stride || in->w % stride || in->c % s2)
        return dk_fail(b, dk_line(b, "stride"), CLV_ERANGE,
                       "stride=%d does not divide the input %lldx%lldx%lld "
                       "(height and width by stride, channels by stride^2)",
                       stride, (long long)in->c, (long long)in->h,
                       (long long)in->w);
    if ((rc = dk_node(b, "reorg", CLV_OP_REORG, 1, &x, true, &o->tensor,
                      &node)) ||
        (rc = dk_set_int(b, node, "stride", stride)))
        return rc;
    dk_set_image(o, in->c * s2, in->h / stride, in->w / stride);
    return 0;
}

/* anchors= of region / yolo: at most 2*num values, the rest 0.5 (darknet's
 * initial biases). */
static int dk_anchors(dk_build *b, int num, float **out)
{
    float *a = NULL, *v = NULL;
    int n = 0, rc;
    if ((rc = clv_dk__get_floats(b->cfg, b->sec, "anchors", &v, &n,
                                 b->err)))
        return rc;
    if (n > 2 * num) {
        free(v);
        return dk_fail(b, dk_line(b, "anchors"), CLV_EFORMAT,
                       "anchors= has %d values, more than 2*num = %d", n,
                       2 * num);
    }
    a = malloc((size_t)(2 * num) * sizeof *a);
    if (!a) {
        free(v);
        return clv_error_set(b->err, CLV_ENOMEM, "%s: out of memory",
                             b->cfg->label);
    }
    for (int i = 0; i < 2 * num; i++)
        a[i] = i < n ? v[i] : 0.5f;
    free(v);
    *out = a;
    return 0;
}

static int dk_region(dk_build *b, dk_layer *o)
{
    int classes, coords, num, softmax, background, x, rc, node;
    float *anchors = NULL;
    if ((rc = dk_int(b, "classes", 20, false, 0, 1 << 20, &classes)) ||
        (rc = dk_int(b, "coords", 4, false, 0, 1 << 10, &coords)) ||
        (rc = dk_int(b, "num", 1, false, 1, 1 << 16, &num)) ||
        (rc = dk_int(b, "softmax", 0, false, INT_MIN, INT_MAX, &softmax)) ||
        (rc = dk_int(b, "background", 0, false, INT_MIN, INT_MAX,
                     &background)) ||
        (rc = dk_image(b, &b->in, &x)))
        return rc;
    if (clv_dk__find(b->sec, "tree"))
        return dk_fail(b, dk_line(b, "tree"), CLV_EUNSUPPORTED,
                       "tree= (a hierarchical softmax) is not supported");
    int64_t want = (int64_t)num * (classes + coords + 1);
    if (b->in.c != want)
        return dk_fail(b, b->sec->line, CLV_EFORMAT,
                       "expects num*(classes+coords+1) = %lld channels, "
                       "but its input has %lld",
                       (long long)want, (long long)b->in.c);
    if ((rc = dk_anchors(b, num, &anchors)))
        return rc;
    if ((rc = dk_node(b, "region", CLV_OP_REGION, 1, &x, true, &o->tensor,
                      &node)) ||
        (rc = dk_set_int(b, node, "classes", classes)) ||
        (rc = dk_set_int(b, node, "coords", coords)) ||
        (rc = dk_set_int(b, node, "num", num)) ||
        (rc = dk_set_int(b, node, "softmax", softmax != 0)) ||
        (rc = dk_set_int(b, node, "background", background != 0)) ||
        (rc = dk_set_floats(b, node, "anchors", (size_t)(2 * num), anchors)))
        goto done;
    dk_set_image(o, b->in.c, b->in.h, b->in.w);
done:
    free(anchors);
    return rc;
}

static int dk_yolo(dk_build *b, dk_layer *o)
{
    int classes, total, n_mask = 0, x, rc, node;
    int *mask = NULL;
    int64_t *mask64 = NULL;
    float *anchors = NULL;
    if ((rc = dk_int(b, "classes", 20, false, 0, 1 << 20, &classes)) ||
        (rc = dk_int(b, "num", 1, false, 1, 1 << 16, &total)) ||
        (rc = dk_image(b, &b->in, &x)) ||
        (rc = clv_dk__get_ints(b->cfg, b->sec, "mask", false, &mask, &n_mask,
                               b->err)))
        return rc;
    int n = mask ? n_mask : total;
    mask64 = malloc((size_t)n * sizeof *mask64);
    if (!mask64) {
        rc = clv_error_set(b->err, CLV_ENOMEM, "%s: out of memory",
                           b->cfg->label);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        int m = mask ? mask[i] : i;
        if (m < 0 || m >= total) {
            rc = dk_fail(b, dk_line(b, "mask"), CLV_ERANGE,
                         "mask= value %d is not an anchor index below "
                         "num=%d",
                         m, total);
            goto done;
        }
        mask64[i] = m;
    }
    int64_t want = (int64_t)n * (classes + 4 + 1);
    if (b->in.c != want) {
        rc = dk_fail(b, b->sec->line, CLV_EFORMAT,
                     "expects %d masks * (classes+5) = %lld channels, but "
                     "its input has %lld",
                     n, (long long)want, (long long)b->in.c);
        goto done;
    }
    if ((rc = dk_anchors(b, total, &anchors)))
        goto done;
    if ((rc = dk_node(b, "yolo", CLV_OP_YOLO, 1, &x, true, &o->tensor,
                      &node)) ||
        (rc = dk_set_int(b, node, "classes", classes)) ||
        (rc = dk_set_int(b, node, "num", total)) ||
        (rc = dk_set_ints(b, node, "mask", (size_t)n, mask64)) ||
        (rc = dk_set_floats(b, node, "anchors", (size_t)(2 * total),
                            anchors)))
        goto done;
    dk_set_image(o, b->in.c, b->in.h, b->in.w);
done:
    free(mask);
    free(mask64);
    free(anchors);
    return rc;
}

static int dk_crop(dk_build *b, dk_layer *o)
{
    int ch, cw, x, rc;
    bool noadjust;
    if ((rc = dk_int(b, "crop_height", 1, false, 1, INT_MAX, &ch)) ||
        (rc = dk_int(b, "crop_width", 1, false, 1, INT_MAX, &cw)) ||
        (rc = dk_flag(b, "noadjust", &noadjust)) ||
        (rc = dk_image(b, &b->in, &x)))
        return rc;
    if (ch > b->in.h || cw > b->in.w)
        return dk_fail(b, dk_line(b, "crop_height"), CLV_ERANGE,
                       "a %dx%d crop does not fit the %lldx%lld input", ch,
                       cw, (long long)b->in.h, (long long)b->in.w);
    /* At inference darknet takes the centre and maps [0,1] to [-1,1]
     * (x*2 - 1) unless noadjust=1. */
    int64_t dh = (b->in.h - ch) / 2, dw = (b->in.w - cw) / 2;
    int64_t starts[2] = {dh, dw}, ends[2] = {dh + ch, dw + cw};
    int64_t axes[2] = {2, 3}, steps[2] = {1, 1};
    int sin[5] = {x, 0, 0, 0, 0}, t;
    if ((rc = dk_const_ints(b, "slice.starts", 2, starts, &sin[1])) ||
        (rc = dk_const_ints(b, "slice.ends", 2, ends, &sin[2])) ||
        (rc = dk_const_ints(b, "slice.axes", 2, axes, &sin[3])) ||
        (rc = dk_const_ints(b, "slice.steps", 2, steps, &sin[4])) ||
        (rc = dk_node(b, "slice", CLV_OP_SLICE, 5, sin, noadjust, &t, NULL)))
        return rc;
    if (!noadjust) {
        float two = 2.0f, minus_one = -1.0f;
        int k;
        if ((rc = dk_const_floats(b, "scale.value", 1, &two, &k)))
            return rc;
        int min[2] = {t, k};
        if ((rc = dk_node(b, "scale", CLV_OP_MUL, 2, min, false, &t, NULL)) ||
            (rc = dk_const_floats(b, "shift.value", 1, &minus_one, &k)))
            return rc;
        int ain[2] = {t, k};
        if ((rc = dk_node(b, "shift", CLV_OP_ADD, 2, ain, true, &t, NULL)))
            return rc;
    }
    o->tensor = t;
    dk_set_image(o, b->in.c, ch, cw);
    return 0;
}

typedef int (*dk_layer_fn)(dk_build *b, dk_layer *o);

/* One translator per section kind (DK_NET and DK_COST have none). */
static const dk_layer_fn dk_layer_fns[DK_KIND_COUNT] = {
    [DK_CONV] = dk_conv,         [DK_CONN] = dk_connected,
    [DK_MAXPOOL] = dk_maxpool,   [DK_AVGPOOL] = dk_avgpool,
    [DK_DROPOUT] = dk_dropout,   [DK_SOFTMAX] = dk_softmax,
    [DK_ROUTE] = dk_route,       [DK_SHORTCUT] = dk_shortcut,
    [DK_UPSAMPLE] = dk_upsample, [DK_REORG] = dk_reorg,
    [DK_REGION] = dk_region,     [DK_YOLO] = dk_yolo,
    [DK_CROP] = dk_crop,         [DK_BATCHNORM] = dk_batchnorm,
    [DK_ACTIVATION] = dk_activation,
};

/* ---- the network ------------------------------------------------------- */

/* Checks every section name before translating anything, so that an
 * unsupported section is reported even when an earlier one is bad. */
static int dk_check_sections(const clv_dk_cfg *cfg, clv_error *err)
{
    if (cfg->n_secs == 0)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: no sections (an empty or comment-only "
                             "file)",
                             cfg->label);
    if (dk_kind_of(cfg->secs[0].name) != DK_NET)
        return clv_dk__error(cfg, NULL, cfg->secs[0].line, err, CLV_EFORMAT,
                             "the first section must be [net] or "
                             "[network], not [%.40s]",
                             cfg->secs[0].name);
    if (cfg->n_secs == 1)
        return clv_dk__error(cfg, NULL, cfg->secs[0].line, err, CLV_EFORMAT,
                             "no layers after [%s]", cfg->secs[0].name);
    for (int i = 1; i < cfg->n_secs; i++) {
        const clv_dk_section *s = &cfg->secs[i];
        int k = dk_kind_of(s->name);
        if (k == DK_NET)
            return clv_dk__error(cfg, NULL, s->line, err, CLV_EFORMAT,
                                 "[%s] may only be the first section",
                                 s->name);
        if (k >= 0)
            continue;
        for (size_t j = 0; j < sizeof dk_unsupported / sizeof *dk_unsupported;
             j++)
            if (strcmp(dk_unsupported[j], s->name) == 0)
                return clv_dk__error(cfg, NULL, s->line, err,
                                     CLV_EUNSUPPORTED,
                                     "[%s] layers are not supported",
                                     s->name);
        return clv_dk__error(cfg, NULL, s->line, err, CLV_EUNSUPPORTED,
                             "[%.40s] is not a section cleave knows",
                             s->name);
    }
    return 0;
}

/* [net]: the input tensor "data", 1 x channels x height x width. */
static int dk_net(dk_build *b)
{
    int w, h, c, t, rc;
    if ((rc = dk_int(b, "width", 0, false, 0, INT_MAX, &w)) ||
        (rc = dk_int(b, "height", 0, false, 0, INT_MAX, &h)) ||
        (rc = dk_int(b, "channels", 0, false, 0, INT_MAX, &c)))
        return rc;
    if (w <= 0 || h <= 0 || c <= 0)
        return dk_fail(b, b->sec->line, CLV_EFORMAT,
                       "needs width, height and channels above 0 (an image "
                       "input), got %dx%dx%d",
                       c, h, w);
    int64_t dims[4] = {1, c, h, w};
    if ((rc = dk_elems(b, b->sec->line, "the input", 4, dims,
                       CLV_DK_MAX_ELEMS, NULL)))
        return rc;
    rc = clv_graph_add_tensor(b->g, "data", CLV_DT_FLOAT, 4, dims, &t,
                              b->err);
    if (!rc)
        rc = clv_graph_mark_input(b->g, t);
    if (rc)
        return dk_graph_err(b, rc);
    b->in = (dk_layer){.kind = DK_NET, .index = -1, .tensor = t};
    dk_set_image(&b->in, c, h, w);
    return 0;
}

/* The weights header: major, minor, revision (int32), then `seen`, a
 * uint64 when major*10+minor >= 2 and both are below 1000, else an int32.
 * major or minor above 1000 marks [connected] weights stored transposed. */
static int dk_header(dk_build *b)
{
    const unsigned char *p = b->wbuf;
    int32_t v[3];
    if (b->wlen < 12)
        return clv_error_set(b->err, CLV_EFORMAT,
                             "%s: ends after %zu bytes, the header needs "
                             "%zu more",
                             b->wlabel, b->wlen, 16 - b->wlen);
    for (int i = 0; i < 3; i++) {
        uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                     (uint32_t)p[4 * i + 2] << 16 |
                     (uint32_t)p[4 * i + 3] << 24;
        memcpy(&v[i], &u, 4);
    }
    int64_t major = v[0], minor = v[1];
    size_t need = (major * 10 + minor >= 2 && major < 1000 && minor < 1000)
                      ? 20
                      : 16;
    if (b->wlen < need)
        return clv_error_set(b->err, CLV_EFORMAT,
                             "%s: ends after %zu bytes, the header needs "
                             "%zu more",
                             b->wlabel, b->wlen, need - b->wlen);
    b->wpos = need;
    b->transpose = major > 1000 || minor > 1000;
    return 0;
}

/* Compares the shapes finalize inferred with darknet's arithmetic. */
static int dk_verify(dk_build *b, const dk_layer *layers, int n)
{
    for (int i = 0; i < n; i++) {
        const dk_layer *l = &layers[i];
        char name[DK_NAME_MAX], got[64];
        if (l->kind == DK_COST)
            continue;
        dk_name(name, i, NULL);
        int t = clv_graph_find_tensor(b->g, name);
        const clv_tensor *ten = t >= 0 ? clv_graph_tensor(b->g, t) : NULL;
        bool ok = ten && ten->ndim == l->rank;
        for (int k = 0; ok && k < l->rank; k++)
            ok = ten->dims[k] == l->dims[k];
        if (ok)
            continue;
        b->sec = &b->cfg->secs[i + 1];
        if (ten)
            clv_tensor_shape_str(ten, got, sizeof got);
        else
            snprintf(got, sizeof got, "no tensor");
        return dk_fail(b, b->sec->line, CLV_ESHAPE,
                       "layer %d: the graph has %s where darknet computes "
                       "%lldx%lldx%lldx%lld",
                       i, got, (long long)l->dims[0], (long long)l->dims[1],
                       (long long)l->dims[2], (long long)l->dims[3]);
    }
    return 0;
}

int clv_load__darknet(const char *cfg_text, size_t cfg_len,
                      const char *cfg_label, const void *weights,
                      size_t weights_len, const char *weights_label,
                      uint64_t seed, uint64_t max_params, clv_graph **out,
                      clv_error *err)
{
    clv_dk_cfg cfg;
    dk_build b;
    int rc, n_layers = 0, last = -1;

    memset(&b, 0, sizeof b);
    *out = NULL;
    rc = clv_dk__cfg_parse(&cfg, cfg_text, cfg_len, cfg_label, err);
    if (rc)
        goto fail;
    if ((rc = dk_check_sections(&cfg, err)))
        goto fail;
    n_layers = cfg.n_secs - 1;
    b.g = clv_graph_create();
    b.layers = calloc((size_t)n_layers, sizeof *b.layers);
    if (!b.g || !b.layers) {
        rc = clv_error_set(err, CLV_ENOMEM, "%s: out of memory", cfg_label);
        goto fail;
    }
    b.err = err;
    b.cfg = &cfg;
    b.max_params = max_params;
    b.wbuf = weights;
    b.wlen = weights ? weights_len : 0;
    b.wlabel = weights_label;
    clv_rng_seed(&b.rng, seed);
    clv_graph_set_opset(b.g, 13);
    if ((rc = clv_graph_set_name(b.g, cfg_label))) {
        rc = clv_error_set(err, rc, "%s: out of memory", cfg_label);
        goto fail;
    }
    if (b.wbuf && (rc = dk_header(&b)))
        goto fail;

    b.sec = &cfg.secs[0];
    b.index = -1;
    if ((rc = dk_net(&b)))
        goto fail;
    for (int i = 0; i < n_layers; i++) {
        dk_layer *o = &b.layers[i];
        b.sec = &cfg.secs[i + 1];
        b.index = i;
        o->kind = (dk_kind)dk_kind_of(b.sec->name);
        o->index = i;
        if (o->kind == DK_COST) {
            /* No node: the layer passes its input through unchanged. */
            dk_kind k = o->kind;
            *o = b.in;
            o->kind = k;
            o->index = i;
            continue;
        }
        rc = dk_layer_fns[o->kind](&b, o);
        if (rc)
            goto fail;
        last = i;
        b.in = *o;
        if (o->kind == DK_REGION || o->kind == DK_YOLO) {
            if ((rc = clv_graph_mark_output(b.g, o->tensor))) {
                rc = dk_graph_err(&b, rc);
                goto fail;
            }
        }
    }
    if (last < 0) {
        rc = clv_dk__error(&cfg, NULL, cfg.secs[0].line, err, CLV_EFORMAT,
                           "no layers after [%s] besides [cost]",
                           cfg.secs[0].name);
        goto fail;
    }
    /* darknet's network output is the last layer that is not [cost]. */
    if (b.layers[last].kind != DK_REGION && b.layers[last].kind != DK_YOLO &&
        (rc = clv_graph_mark_output(b.g, b.layers[last].tensor))) {
        rc = dk_graph_err(&b, rc);
        goto fail;
    }
    rc = clv_graph_finalize(b.g, err);
    if (rc) {
        if (err)
            clv_error_prefix(err, "%s: ", cfg_label);
        goto fail;
    }
    if ((rc = dk_verify(&b, b.layers, n_layers)))
        goto fail;
    *out = b.g;
    free(b.layers);
    clv_dk__cfg_free(&cfg);
    return 0;
fail:
    clv_graph_free(b.g);
    free(b.layers);
    clv_dk__cfg_free(&cfg);
    return rc;
}

/* "<label>.weights" in place of "<label>.cfg" for messages. */
static void dk_weights_label(const char *label, char *buf, size_t n)
{
    size_t len = strlen(label);
    if (len > 4 && strcmp(label + len - 4, ".cfg") == 0)
        snprintf(buf, n, "%.*s.weights", (int)(len - 4), label);
    else
        snprintf(buf, n, "%s.weights", label);
}

int clv_load_darknet_mem(const char *cfg, size_t cfg_len,
                         const void *weights, size_t weights_len,
                         uint64_t seed, const char *label, clv_graph **out,
                         clv_error *err)
{
    char wlabel[512];
    if (!out)
        return clv_error_set(err, CLV_EINVAL, "darknet: no output pointer");
    *out = NULL;
    if (!label)
        label = "(cfg)";
    if (!cfg && cfg_len)
        return clv_error_set(err, CLV_EINVAL, "%s: no cfg text", label);
    dk_weights_label(label, wlabel, sizeof wlabel);
    return clv_load__darknet(cfg ? cfg : "", cfg_len, label, weights,
                             weights_len, wlabel, seed, CLV_DK_MAX_PARAMS,
                             out, err);
}

int clv_load_darknet(const char *cfg_path, const char *weights_path,
                     uint64_t seed, clv_graph **out, clv_error *err)
{
    char *text = NULL, *wdata = NULL;
    size_t len = 0, wlen = 0;
    int rc;
    if (!out)
        return clv_error_set(err, CLV_EINVAL, "darknet: no output pointer");
    *out = NULL;
    if (!cfg_path)
        return clv_error_set(err, CLV_EINVAL, "darknet: no cfg path");
    rc = clv_util_read_file(cfg_path, CLV_LOAD_MAX_FILE, &text, &len, err);
    if (!rc && weights_path)
        rc = clv_util_read_file(weights_path, CLV_LOAD_MAX_FILE, &wdata,
                                &wlen, err);
    if (!rc)
        rc = clv_load__darknet(text, len, cfg_path, wdata, wlen,
                               weights_path ? weights_path : "", seed,
                               CLV_DK_MAX_PARAMS, out, err);
    free(text);
    free(wdata);
    return rc;
}
