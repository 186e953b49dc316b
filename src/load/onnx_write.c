/*
 * The ONNX writer: a finalized clv_graph becomes a ModelProto of IR version
 * 8 and default-domain opset 13 (14 or 15 only when an op needs it:
 * HardSwish, Reshape with allowzero, Shape with start/end), packed by
 * protobuf-c straight into PATH.tmp, which is renamed to PATH once
 * complete.
 *
 * Canonical attributes (graph.h) that opset 13 takes as inputs become
 * initializers; every allocation of the message tree comes from one list
 * (writer.allocs) freed at the end, and the tree borrows names and weights
 * from the graph.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/load.h"
#include "load/onnx_internal.h"
#include "onnx.pb-c.h"

#define WR_OPSET 13

typedef struct writer {
    const clv_graph *g;
    const char *path;
    clv_error *err;
    void **allocs;
    size_t n_allocs, cap_allocs;
    clv_onnx__strset names; /* node names and names the writer made */
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    const bool *read; /* per tensor id: some node reads it */
    int opset;
    bool cleave_domain;
} writer;

/* Zeroed memory owned by the writer; NULL when out of memory. */
static void *wr_alloc(writer *w, size_t size)
{
    if (w->n_allocs == w->cap_allocs) {
        size_t ncap = w->cap_allocs ? w->cap_allocs * 2 : 256;
        void **na = realloc(w->allocs, ncap * sizeof *na);
        if (!na)
            return NULL;
        w->allocs = na;
        w->cap_allocs = ncap;
    }
    void *p = calloc(1, size ? size : 1);
    if (p)
        w->allocs[w->n_allocs++] = p;
    return p;
}

/* Appends `p` to a growing pointer array. */
static int wr_push(void ***arr, size_t *n, size_t *cap, void *p)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        void **na = realloc(*arr, ncap * sizeof *na);
        if (!na)
            return CLV_ENOMEM;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

/* True when tensor `name` of the graph appears in the file: an input, an
 * output, a node's output or a constant some node reads. (Constants that
 * canonical attributes replaced stay in the graph unread; their names are
 * free again, so that saving a reloaded graph gives the same file.) */
static bool name_in_file(const writer *w, const char *name)
{
    int id = clv_graph_find_tensor(w->g, name);
    if (id < 0)
        return false;
    const clv_tensor *t = clv_graph_tensor(w->g, id);
    return w->read[id] || t->producer >= 0 ||
           (t->flags & (CLV_TENSOR_INPUT | CLV_TENSOR_OUTPUT));
}

/* A name "<base>::<what>" used by no tensor in the file and no node of the
 * graph and not made before; NULL when out of memory. */
static const char *wr_name(writer *w, const char *base, const char *what)
{
    size_t len = strlen(base) + strlen(what) + 32;
    char *name = wr_alloc(w, len);
    if (!name)
        return NULL;
    snprintf(name, len, "%s::%s", base, what);
    for (int k = 1; name_in_file(w, name) ||
                    clv_onnx__strset_has(&w->names, name);
         k++)
        snprintf(name, len, "%s::%s_%d", base, what, k);
    if (clv_onnx__strset_add(&w->names, name))
        return NULL;
    return name;
}

/* An initializer named `name` (borrowed) holding `numel` elements of `dt`
 * at `data` (borrowed, native byte order). */
static int wr_init(writer *w, const char *name, clv_dtype dt, int ndim,
                   const int64_t *dims, const void *data, size_t numel)
{
    Onnx__TensorProto *tp = wr_alloc(w, sizeof *tp);
    size_t bytes = numel * clv_dtype_size(dt);
    if (!tp)
        return CLV_ENOMEM;
    onnx__tensor_proto__init(tp);
    tp->name = (char *)name;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)dt;
    tp->n_dims = (size_t)ndim;
    if (ndim > 0) {
        tp->dims = wr_alloc(w, (size_t)ndim * sizeof *tp->dims);
        if (!tp->dims)
            return CLV_ENOMEM;
        memcpy(tp->dims, dims, (size_t)ndim * sizeof *tp->dims);
    }
    tp->has_raw_data = 1;
    tp->raw_data.len = bytes;
    if (bytes && clv_onnx__host_le()) {
        tp->raw_data.data = (uint8_t *)data;
    } else if (bytes) {
        tp->raw_data.data = wr_alloc(w, bytes);
        if (!tp->raw_data.data)
            return CLV_ENOMEM;
        memcpy(tp->raw_data.data, data, bytes);
        clv_onnx__swap_bytes(tp->raw_data.data, numel, clv_dtype_size(dt));
    }
    return wr_push((void ***)&w->inits, &w->n_inits, &w->cap_inits, tp);
}

/* A new 1-D int64 initializer "<base>::<what>" holding `n` values (copied);
 * its name in *name. */
static int wr_init_ints(writer *w, const char *base, const char *what,
                        size_t n, const int64_t *v, const char **name)
{
    int64_t dims[1] = {(int64_t)n};
    int64_t *copy = wr_alloc(w, n * sizeof *copy);
    *name = wr_name(w, base, what);
    if (!copy || !*name)
        return CLV_ENOMEM;
    if (n)
        memcpy(copy, v, n * sizeof *copy);
    return wr_init(w, *name, CLV_DT_INT64, 1, dims, copy, n);
}

/* A new 1-D float initializer. */
static int wr_init_floats(writer *w, const char *base, const char *what,
                          size_t n, const float *v, const char **name)
{
    int64_t dims[1] = {(int64_t)n};
    float *copy = wr_alloc(w, n * sizeof *copy);
    *name = wr_name(w, base, what);
    if (!copy || !*name)
        return CLV_ENOMEM;
    if (n)
        memcpy(copy, v, n * sizeof *copy);
    return wr_init(w, *name, CLV_DT_FLOAT, 1, dims, copy, n);
}

/* A new scalar initializer of type `dt` holding `v` (converted). */
static int wr_init_scalar(writer *w, const char *base, const char *what,
                          clv_dtype dt, double v, const char **name)
{
    void *p = wr_alloc(w, 8);
    *name = wr_name(w, base, what);
    if (!p || !*name)
        return CLV_ENOMEM;
    switch (dt) {
    case CLV_DT_DOUBLE: {
        double d = v;
        memcpy(p, &d, sizeof d);
        break;
    }
    case CLV_DT_INT64: {
        int64_t d = (int64_t)v;
        memcpy(p, &d, sizeof d);
        break;
    }
    case CLV_DT_INT32: {
        int32_t d = (int32_t)v;
        memcpy(p, &d, sizeof d);
        break;
    }
    case CLV_DT_INT8: {
        int8_t d = (int8_t)v;
        memcpy(p, &d, sizeof d);
        break;
    }
    case CLV_DT_UINT8:
    case CLV_DT_BOOL: {
        uint8_t d = (uint8_t)v;
        memcpy(p, &d, sizeof d);
        break;
    }
    default: {
        float d = (float)v;
        dt = CLV_DT_FLOAT;
        memcpy(p, &d, sizeof d);
        break;
    }
    }
    return wr_init(w, *name, dt, 0, NULL, p, 1);
}

/* A new node with room for `n_in` inputs, `n_out` outputs and `n_attr`
 * attributes, appended to the graph's node list. */
static Onnx__NodeProto *wr_node(writer *w, const char *op_type,
                                const char *name, const char *domain,
                                size_t n_in, size_t n_out, size_t n_attr)
{
    Onnx__NodeProto *np = wr_alloc(w, sizeof *np);
    if (!np)
        return NULL;
    onnx__node_proto__init(np);
    np->op_type = (char *)op_type;
    np->name = (char *)name;
    if (domain)
        np->domain = (char *)domain;
    np->input = wr_alloc(w, (n_in ? n_in : 1) * sizeof *np->input);
    np->output = wr_alloc(w, (n_out ? n_out : 1) * sizeof *np->output);
    np->attribute = wr_alloc(w, (n_attr ? n_attr : 1) * sizeof *np->attribute);
    if (!np->input || !np->output || !np->attribute)
        return NULL;
    if (wr_push((void ***)&w->nodes, &w->n_nodes, &w->cap_nodes, np))
        return NULL;
    return np;
}

static void wr_in(Onnx__NodeProto *np, const char *name)
{
    np->input[np->n_input++] = (char *)name;
}

static void wr_out(Onnx__NodeProto *np, const char *name)
{
    np->output[np->n_output++] = (char *)name;
}

/* The name of tensor `id`, "" for an absent input. */
static const char *tname(const writer *w, int id)
{
    return id < 0 ? "" : clv_graph_tensor(w->g, id)->name;
}

static Onnx__AttributeProto *wr_attr(writer *w, Onnx__NodeProto *np,
                                     const char *name, int type)
{
    Onnx__AttributeProto *a = wr_alloc(w, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    np->attribute[np->n_attribute++] = a;
    return a;
}

static int wr_attr_int(writer *w, Onnx__NodeProto *np, const char *name,
                       int64_t v)
{
    Onnx__AttributeProto *a =
        wr_attr(w, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (!a)
        return CLV_ENOMEM;
    a->has_i = 1;
    a->i = v;
    return 0;
}

static int wr_attr_string(writer *w, Onnx__NodeProto *np, const char *name,
                          const char *s)
{
    Onnx__AttributeProto *a =
        wr_attr(w, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (!a)
        return CLV_ENOMEM;
    a->has_s = 1;
    a->s.len = strlen(s);
    a->s.data = (uint8_t *)s;
    return 0;
}

/* Copies a cleave attribute (borrowed) onto `np`. */
static int wr_copy_attr(writer *w, Onnx__NodeProto *np, const clv_attr *at)
{
    Onnx__AttributeProto *a;
    switch (at->type) {
    case CLV_ATTR_INT:
        return wr_attr_int(w, np, at->name, at->i);
    case CLV_ATTR_STRING:
        return wr_attr_string(w, np, at->name, at->s ? at->s : "");
    case CLV_ATTR_FLOAT:
        a = wr_attr(w, np, at->name,
                    ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
        if (!a)
            return CLV_ENOMEM;
        a->has_f = 1;
        a->f = at->f;
        return 0;
    case CLV_ATTR_INTS:
        a = wr_attr(w, np, at->name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
        if (!a)
            return CLV_ENOMEM;
        a->n_ints = at->n;
        a->ints = at->ints;
        return 0;
    case CLV_ATTR_FLOATS:
        a = wr_attr(w, np, at->name,
                    ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
        if (!a)
            return CLV_ENOMEM;
        a->n_floats = at->n;
        a->floats = at->floats;
        return 0;
    }
    return CLV_EINVAL;
}

/* The attributes each op takes in opset 13 (space-separated; "*" = all,
 * as for cleave's own darknet ops). Canonical attributes that opset 13
 * takes as inputs are handled by wr_emit(). */
static const char *const op_attrs[CLV_OP_COUNT] = {
    [CLV_OP_CONV] = "kernel_shape strides pads dilations group",
    [CLV_OP_GEMM] = "alpha beta transA transB",
    [CLV_OP_MAXPOOL] =
        "kernel_shape strides pads dilations ceil_mode storage_order",
    [CLV_OP_AVERAGEPOOL] =
        "kernel_shape strides pads ceil_mode count_include_pad",
    [CLV_OP_BATCHNORM] = "epsilon momentum",
    [CLV_OP_LEAKYRELU] = "alpha",
    [CLV_OP_HARDSIGMOID] = "alpha beta",
    [CLV_OP_SOFTMAX] = "axis",
    [CLV_OP_REDUCEMEAN] = "axes keepdims",
    [CLV_OP_REDUCEMAX] = "axes keepdims",
    [CLV_OP_LAYERNORM] = "axis epsilon",
    [CLV_OP_LRN] = "alpha beta bias size",
    [CLV_OP_CONCAT] = "axis",
    [CLV_OP_FLATTEN] = "axis",
    [CLV_OP_TRANSPOSE] = "perm",
    [CLV_OP_PAD] = "mode",
    [CLV_OP_RESIZE] = "mode coordinate_transformation_mode nearest_mode "
                      "cubic_coeff_a exclude_outside extrapolation_value",
    [CLV_OP_GATHER] = "axis",
    [CLV_OP_SPLIT] = "axis",
    [CLV_OP_CAST] = "to",
    [CLV_OP_REORG] = "*",
    [CLV_OP_REGION] = "*",
    [CLV_OP_YOLO] = "*",
};

static bool in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    if (!list)
        return false;
    if (!strcmp(list, "*"))
        return true;
    while (*list) {
        size_t n = strcspn(list, " ");
        if (n == len && !strncmp(list, name, len))
            return true;
        list += n;
        while (*list == ' ')
            list++;
    }
    return false;
}

static int wr_attrs(writer *w, Onnx__NodeProto *np, const clv_node *n)
{
    for (int i = 0; i < n->n_attrs; i++) {
        if (!in_list(op_attrs[n->op], n->attrs[i].name))
            continue;
        int rc = wr_copy_attr(w, np, &n->attrs[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* The node as one ONNX node of the same op, inputs and outputs as given. */
static Onnx__NodeProto *wr_plain(writer *w, const clv_node *n,
                                 size_t extra_in)
{
    const char *domain = NULL;
    if (n->op == CLV_OP_REORG || n->op == CLV_OP_REGION ||
        n->op == CLV_OP_YOLO) {
        domain = CLV_ONNX_CLEAVE_DOMAIN;
        w->cleave_domain = true;
    }
    Onnx__NodeProto *np =
        wr_node(w, clv_op_name(n->op), n->name, domain,
                (size_t)n->n_inputs + extra_in, (size_t)n->n_outputs,
                (size_t)n->n_attrs + 4);
    if (!np)
        return NULL;
    for (int k = 0; k < n->n_outputs; k++)
        wr_out(np, tname(w, n->outputs[k]));
    return np;
}

static int wr_softmax(writer *w, const clv_node *n)
{
    const clv_tensor *x = clv_graph_tensor(w->g, n->inputs[0]);
    int64_t axis = clv_node_int(n, "axis", -1);
    bool legacy = clv_node_int(n, "legacy", 0) != 0;
    Onnx__NodeProto *np;
    int rc;

    if (axis < 0)
        axis += x->ndim;
    if (!legacy || axis == x->ndim - 1) {
        /* Opset 13 semantics already, or the same thing on the last axis. */
        np = wr_plain(w, n, 0);
        if (!np)
            return CLV_ENOMEM;
        wr_in(np, x->name);
        return wr_attr_int(w, np, "axis", axis);
    }
    /* Softmax over the flattened trailing dims: Flatten(axis) ->
     * Softmax(axis=1) -> Reshape back to the input's shape. */
    const char *flat = wr_name(w, n->name, "flat");
    const char *soft = wr_name(w, n->name, "softmax");
    const char *flat_node = wr_name(w, n->name, "flatten");
    const char *back_node = wr_name(w, n->name, "reshape");
    const char *shape;
    if (!flat || !soft || !flat_node || !back_node)
        return CLV_ENOMEM;
    np = wr_node(w, "Flatten", flat_node, NULL, 1, 1, 1);
    if (!np)
        return CLV_ENOMEM;
    wr_in(np, x->name);
    wr_out(np, flat);
    if ((rc = wr_attr_int(w, np, "axis", axis)))
        return rc;
    np = wr_node(w, "Softmax", n->name, NULL, 1, 1, 1);
    if (!np)
        return CLV_ENOMEM;
    wr_in(np, flat);
    wr_out(np, soft);
    if ((rc = wr_attr_int(w, np, "axis", 1)))
        return rc;
    if ((rc = wr_init_ints(w, n->name, "shape", (size_t)x->ndim, x->dims,
                           &shape)))
        return rc;
    np = wr_node(w, "Reshape", back_node, NULL, 2, 1, 0);
    if (!np)
        return CLV_ENOMEM;
    wr_in(np, soft);
    wr_in(np, shape);
    wr_out(np, tname(w, n->outputs[0]));
    return 0;
}

/* Emits node `i` of the graph as one or more ONNX nodes. */
static int wr_emit(writer *w, int i)
{
    const clv_node *n = clv_graph_node(w->g, i);
    const clv_tensor *x =
        n->n_inputs > 0 && n->inputs[0] >= 0
            ? clv_graph_tensor(w->g, n->inputs[0])
            : NULL;
    Onnx__NodeProto *np;
    const char *name;
    const int64_t *iv;
    size_t cnt;
    int rc = 0;

    if (n->op == CLV_OP_SOFTMAX && x)
        return wr_softmax(w, n);
    np = wr_plain(w, n, 5);
    if (!np)
        return CLV_ENOMEM;

    switch (n->op) {
    case CLV_OP_CLIP: {
        float mn = clv_node_float(n, "min", -INFINITY);
        float mx = clv_node_float(n, "max", INFINITY);
        bool has_min = !(isinf(mn) && mn < 0), has_max = !(isinf(mx) && mx > 0);
        clv_dtype dt = x ? x->dtype : CLV_DT_FLOAT;
        wr_in(np, tname(w, n->inputs[0]));
        if (has_min) {
            if ((rc = wr_init_scalar(w, n->name, "min", dt, mn, &name)))
                return rc;
            wr_in(np, name);
        } else if (has_max) {
            wr_in(np, "");
        }
        if (has_max) {
            if ((rc = wr_init_scalar(w, n->name, "max", dt, mx, &name)))
                return rc;
            wr_in(np, name);
        }
        return 0;
    }
    case CLV_OP_PAD: {
        const char *mode = clv_node_string(n, "mode", "constant");
        wr_in(np, tname(w, n->inputs[0]));
        iv = clv_node_ints(n, "pads", &cnt);
        if ((rc = wr_init_ints(w, n->name, "pads", iv ? cnt : 0, iv, &name)))
            return rc;
        wr_in(np, name);
        if (!strcmp(mode, "constant")) {
            if ((rc = wr_init_scalar(w, n->name, "value",
                                     x ? x->dtype : CLV_DT_FLOAT,
                                     clv_node_float(n, "value", 0.0f),
                                     &name)))
                return rc;
            wr_in(np, name);
        }
        return wr_attrs(w, np, n);
    }
    case CLV_OP_SQUEEZE:
    case CLV_OP_UNSQUEEZE:
        wr_in(np, tname(w, n->inputs[0]));
        iv = clv_node_ints(n, "axes", &cnt);
        if (iv) {
            if ((rc = wr_init_ints(w, n->name, "axes", cnt, iv, &name)))
                return rc;
            wr_in(np, name);
        }
        return 0;
    case CLV_OP_REDUCESUM:
        /* ReduceSum-13 takes its axes as an input (the others as an
         * attribute until opset 18) */
        wr_in(np, tname(w, n->inputs[0]));
        iv = clv_node_ints(n, "axes", &cnt);
        if (iv && cnt) {
            if ((rc = wr_init_ints(w, n->name, "axes", cnt, iv, &name)))
                return rc;
            wr_in(np, name);
        } else if ((rc = wr_attr_int(w, np, "noop_with_empty_axes", 1))) {
            return rc;
        }
        return wr_attr_int(w, np, "keepdims", clv_node_int(n, "keepdims", 1));
    case CLV_OP_SPLIT:
        wr_in(np, tname(w, n->inputs[0]));
        iv = clv_node_ints(n, "split", &cnt);
        if (iv) {
            if ((rc = wr_init_ints(w, n->name, "split", cnt, iv, &name)))
                return rc;
            wr_in(np, name);
        }
        return wr_attrs(w, np, n);
    case CLV_OP_SLICE: {
        static const char *const parts[] = {"starts", "ends", "axes",
                                            "steps"};
        wr_in(np, tname(w, n->inputs[0]));
        for (int k = 0; k < 4; k++) {
            iv = clv_node_ints(n, parts[k], &cnt);
            if (!iv) {
                if (k < 2)
                    return CLV_EINVAL;
                wr_in(np, "");
                continue;
            }
            if ((rc = wr_init_ints(w, n->name, parts[k], cnt, iv, &name)))
                return rc;
            wr_in(np, name);
        }
        return 0;
    }
    case CLV_OP_RESHAPE: {
        const clv_tensor *y = clv_graph_tensor(w->g, n->outputs[0]);
        bool allowzero = clv_node_int(n, "allowzero", 0) != 0;
        bool zero_in_shape = false, zero_in_out = false;
        iv = clv_node_ints(n, "shape", &cnt);
        for (size_t k = 0; iv && k < cnt; k++)
            zero_in_shape |= iv[k] == 0;
        if (!iv || (allowzero && zero_in_shape)) {
            /* Write the shape the finalized graph computed instead. */
            iv = y->dims;
            cnt = (size_t)y->ndim;
            for (size_t k = 0; k < cnt; k++)
                zero_in_out |= iv[k] == 0;
        }
        wr_in(np, tname(w, n->inputs[0]));
        if ((rc = wr_init_ints(w, n->name, "shape", cnt, iv, &name)))
            return rc;
        wr_in(np, name);
        if (zero_in_out) {
            if (w->opset < 14)
                w->opset = 14; /* allowzero is new in Reshape-14 */
            return wr_attr_int(w, np, "allowzero", 1);
        }
        return 0;
    }
    case CLV_OP_RESIZE: {
        const float *sc = clv_node_floats(n, "scales", &cnt);
        float *own = NULL;
        wr_in(np, tname(w, n->inputs[0]));
        wr_in(np, ""); /* roi */
        if (!sc && x) {
            const clv_tensor *y = clv_graph_tensor(w->g, n->outputs[0]);
            own = wr_alloc(w, (size_t)(x->ndim > 0 ? x->ndim : 1) *
                                  sizeof *own);
            if (!own)
                return CLV_ENOMEM;
            for (int k = 0; k < x->ndim; k++)
                own[k] = x->dims[k] ? (float)y->dims[k] / (float)x->dims[k]
                                    : 1.0f;
            sc = own;
            cnt = (size_t)x->ndim;
        }
        if ((rc = wr_init_floats(w, n->name, "scales", sc ? cnt : 0, sc,
                                 &name)))
            return rc;
        wr_in(np, name);
        return wr_attrs(w, np, n);
    }
    case CLV_OP_DROPOUT:
        wr_in(np, tname(w, n->inputs[0]));
        return 0;
    case CLV_OP_SHAPE: {
        int64_t start = clv_node_int(n, "start", 0);
        int64_t end = clv_node_int(n, "end", INT64_MAX);
        wr_in(np, tname(w, n->inputs[0]));
        if (start != 0 || (x && end < x->ndim)) {
            if (w->opset < 15)
                w->opset = 15; /* start and end are new in Shape-15 */
            if ((rc = wr_attr_int(w, np, "start", start)))
                return rc;
            return wr_attr_int(w, np, "end", end);
        }
        return 0;
    }
    case CLV_OP_HARDSWISH:
        if (w->opset < 14)
            w->opset = 14; /* HardSwish is new in opset 14 */
        break;
    case CLV_OP_LAYERNORM:
        if (w->opset < 17)
            w->opset = 17; /* LayerNormalization is new in opset 17 */
        break;
    default:
        break;
    }
    for (int k = 0; k < n->n_inputs; k++)
        wr_in(np, tname(w, n->inputs[k]));
    return wr_attrs(w, np, n);
}

/* A ValueInfoProto for tensor `t`: element type and concrete dims. */
static Onnx__ValueInfoProto *wr_value_info(writer *w, const clv_tensor *t)
{
    Onnx__ValueInfoProto *vi = wr_alloc(w, sizeof *vi);
    Onnx__TypeProto *tp = wr_alloc(w, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = wr_alloc(w, sizeof *tt);
    if (!vi || !tp || !tt)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = t->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)t->dtype;
    if (t->ndim >= 0) {
        Onnx__TensorShapeProto *sp = wr_alloc(w, sizeof *sp);
        if (!sp)
            return NULL;
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)t->ndim;
        sp->dim = wr_alloc(w, (size_t)(t->ndim ? t->ndim : 1) *
                                  sizeof *sp->dim);
        if (!sp->dim)
            return NULL;
        for (int k = 0; k < t->ndim; k++) {
            Onnx__TensorShapeProto__Dimension *d = wr_alloc(w, sizeof *d);
            if (!d)
                return NULL;
            onnx__tensor_shape_proto__dimension__init(d);
            if (t->dims[k] >= 0) {
                d->value_case =
                    ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = t->dims[k];
            }
            sp->dim[k] = d;
        }
        tt->shape = sp;
    }
    return vi;
}

/* protobuf-c output straight into a FILE. */
typedef struct file_buffer {
    ProtobufCBuffer base;
    FILE *f;
    int failed;
    int errnum;
} file_buffer;

static void fb_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    file_buffer *fb = (file_buffer *)b;
    if (fb->failed || len == 0)
        return;
    errno = 0;
    if (fwrite(data, 1, len, fb->f) != len) {
        fb->failed = 1;
        fb->errnum = errno ? errno : EIO;
    }
}

/* Packs `m` into `path` by way of PATH.tmp. */
static int wr_file(const Onnx__ModelProto *m, const char *path,
                   clv_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp");
    file_buffer fb;
    int rc, e;

    if (!tmp)
        return clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", sizeof ".tmp");
    memset(&fb, 0, sizeof fb);
    fb.base.append = fb_append;
    fb.f = fopen(tmp, "wb");
    if (!fb.f) {
        rc = clv_error_set(err, CLV_EIO, "%s: cannot write: %s", path,
                           strerror(errno));
        free(tmp);
        return rc;
    }
    onnx__model_proto__pack_to_buffer(m, &fb.base);
    errno = 0;
    if (!fb.failed && fflush(fb.f) != 0) {
        fb.failed = 1;
        fb.errnum = errno ? errno : EIO;
    }
    errno = 0;
    if (fclose(fb.f) != 0 && !fb.failed) {
        fb.failed = 1;
        fb.errnum = errno ? errno : EIO;
    }
    if (fb.failed) {
        remove(tmp);
        rc = clv_error_set(err, CLV_EIO, "%s: cannot write: %s", path,
                           strerror(fb.errnum));
        free(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        remove(tmp);
        rc = clv_error_set(err, CLV_EIO, "%s: cannot write: %s", path,
                           strerror(e));
        free(tmp);
        return rc;
    }
    free(tmp);
    return 0;
}

int clv_save_onnx(const clv_graph *g, const char *path, clv_error *err)
{
    writer w;
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opsets[2];
    Onnx__OperatorSetIdProto *opset_ptrs[2];
    Onnx__ValueInfoProto **ins = NULL, **outs = NULL;
    bool *read = NULL;
    int rc = CLV_ENOMEM;

    if (!g || !path)
        return clv_error_set(err, CLV_EINVAL, "clv_save_onnx: no graph or "
                                              "no path");
    if (!clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "%s: the graph is not finalized", path);
    memset(&w, 0, sizeof w);
    w.g = g;
    w.path = path;
    w.err = err;
    w.opset = WR_OPSET;

    int nt = clv_graph_n_tensors(g), nn = clv_graph_n_nodes(g);
    int ni = clv_graph_n_inputs(g), no = clv_graph_n_outputs(g);
    read = calloc((size_t)(nt > 0 ? nt : 1), sizeof *read);
    if (!read)
        goto fail;
    for (int i = 0; i < nn; i++) {
        const clv_node *n = clv_graph_node(g, i);
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                read[n->inputs[k]] = true;
    }
    w.read = read;
    for (int i = 0; i < nn; i++)
        if (clv_onnx__strset_add(&w.names, clv_graph_node(g, i)->name))
            goto fail;
    for (int i = 0; i < nn; i++) {
        rc = wr_emit(&w, i);
        if (rc == CLV_EINVAL) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: node '%s' (%s) lacks an attribute of its "
                               "canonical form",
                               path, clv_graph_node(g, i)->name,
                               clv_op_name(clv_graph_node(g, i)->op));
            goto out;
        }
        if (rc)
            goto fail;
    }

    /* Initializers: the constants a node reads or the graph outputs. */
    for (int i = 0; i < nt; i++) {
        const clv_tensor *t = clv_graph_tensor(g, i);
        if (!(t->flags & CLV_TENSOR_CONST) ||
            !(read[i] || (t->flags & CLV_TENSOR_OUTPUT)))
            continue;
        int64_t numel = clv_tensor_numel(t);
        if (numel < 0 || t->ndim < 0) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: constant '%s' has an unknown shape",
                               path, t->name);
            goto out;
        }
        if ((rc = wr_init(&w, t->name, t->dtype, t->ndim, t->dims, t->data,
                          (size_t)numel)))
            goto fail;
    }

    ins = wr_alloc(&w, (size_t)(ni > 0 ? ni : 1) * sizeof *ins);
    outs = wr_alloc(&w, (size_t)(no > 0 ? no : 1) * sizeof *outs);
    if (!ins || !outs)
        goto fail;
    for (int i = 0; i < ni; i++)
        if (!(ins[i] = wr_value_info(&w, clv_graph_tensor(g,
                                                          clv_graph_input(g, i)))))
            goto fail;
    for (int i = 0; i < no; i++)
        if (!(outs[i] = wr_value_info(&w,
                                      clv_graph_tensor(g, clv_graph_output(g, i)))))
            goto fail;

    onnx__graph_proto__init(&graph);
    graph.name = (char *)(clv_graph_name(g)[0] ? clv_graph_name(g) : "cleave");
    graph.n_node = w.n_nodes;
    graph.node = w.nodes;
    graph.n_initializer = w.n_inits;
    graph.initializer = w.inits;
    graph.n_input = (size_t)ni;
    graph.input = ins;
    graph.n_output = (size_t)no;
    graph.output = outs;

    for (int k = 0; k < 2; k++) {
        onnx__operator_set_id_proto__init(&opsets[k]);
        opset_ptrs[k] = &opsets[k];
    }
    opsets[0].domain = "";
    opsets[0].has_version = 1;
    opsets[0].version = w.opset;
    opsets[1].domain = CLV_ONNX_CLEAVE_DOMAIN;
    opsets[1].has_version = 1;
    opsets[1].version = 1;

    onnx__model_proto__init(&model);
    model.has_ir_version = 1;
    model.ir_version = 8;
    model.producer_name = "cleave";
    model.producer_version = "0.1";
    model.graph = &graph;
    model.n_opset_import = w.cleave_domain ? 2 : 1;
    model.opset_import = opset_ptrs;

    rc = wr_file(&model, path, err);
    goto out;

fail:
    rc = clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
out:
    for (size_t i = 0; i < w.n_allocs; i++)
        free(w.allocs[i]);
    free(w.allocs);
    free(w.nodes);
    free(w.inits);
    free(read);
    clv_onnx__strset_free(&w.names);
    return rc;
}
