/*
 * The graph: storage, building, finalize and structure queries.
 * Shape inference lives in shape.c, constant folding in fold.c.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/internal.h"
#include "util/util.h"

/* ---- dtypes and ops ---------------------------------------------------- */

size_t clv_dtype_size(clv_dtype dt)
{
    switch (dt) {
    case CLV_DT_FLOAT: return 4;
    case CLV_DT_UINT8: return 1;
    case CLV_DT_INT8: return 1;
    case CLV_DT_INT32: return 4;
    case CLV_DT_INT64: return 8;
    case CLV_DT_BOOL: return 1;
    case CLV_DT_DOUBLE: return 8;
    case CLV_DT_UNDEFINED: break;
    }
    return 0;
}

const char *clv_dtype_name(clv_dtype dt)
{
    switch (dt) {
    case CLV_DT_FLOAT: return "float32";
    case CLV_DT_UINT8: return "uint8";
    case CLV_DT_INT8: return "int8";
    case CLV_DT_INT32: return "int32";
    case CLV_DT_INT64: return "int64";
    case CLV_DT_BOOL: return "bool";
    case CLV_DT_DOUBLE: return "float64";
    case CLV_DT_UNDEFINED: break;
    }
    return "undefined";
}

static const char *const op_names[] = {
#define CLV__OP_NAME(id, name) name,
    CLV_OP_MAP(CLV__OP_NAME)
#undef CLV__OP_NAME
};
static_assert(sizeof op_names / sizeof op_names[0] == CLV_OP_COUNT,
              "one name per op");

const char *clv_op_name(clv_op op)
{
    if ((int)op < 0 || op >= CLV_OP_COUNT)
        return "?";
    return op_names[op];
}

int clv_op_from_name(const char *name, clv_op *op)
{
    if (!name)
        return CLV_ENOTFOUND;
    for (int i = 0; i < CLV_OP_COUNT; i++) {
        if (strcmp(op_names[i], name) == 0) {
            *op = (clv_op)i;
            return 0;
        }
    }
    if (strcmp(name, "Upsample") == 0) {
        *op = CLV_OP_RESIZE;
        return 0;
    }
    return CLV_ENOTFOUND;
}

/* ---- name hashes ------------------------------------------------------- */


/* Finds `name` in a hash of ids (+1) whose names come from `name_of`.
 * Returns the slot where it is or where it would go. */
typedef const char *(*name_fn)(const clv_graph *g, int id);

static const char *tensor_name_of(const clv_graph *g, int id)
{
    return g->tensors[id].name;
}

static const char *node_name_of(const clv_graph *g, int id)
{
    return g->nodes[id].name;
}

static size_t hash_slot(const clv_graph *g, const int *tab, size_t cap,
                        name_fn fn, const char *name)
{
    size_t mask = cap - 1, i = (size_t)clv_util_hash_str(name) & mask;
    while (tab[i] && strcmp(fn(g, tab[i] - 1), name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Makes room for one more entry (load factor <= 1/2), rehashing `count`
 * ids. */
static int hash_reserve(const clv_graph *g, int **tab, size_t *cap, int count,
                        name_fn fn)
{
    if ((size_t)(count + 1) * 2 <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    while ((size_t)(count + 1) * 2 > ncap)
        ncap *= 2;
    int *nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return CLV_ENOMEM;
    for (int id = 0; id < count; id++) {
        size_t s = hash_slot(g, nt, ncap, fn, fn(g, id));
        nt[s] = id + 1;
    }
    free(*tab);
    *tab = nt;
    *cap = ncap;
    return 0;
}

/* ---- create / free ----------------------------------------------------- */

clv_graph *clv_graph_create(void)
{
    clv_graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->opset = 13;
    return g;
}

static void attr_clear(clv_attr *a)
{
    free(a->name);
    free(a->ints);
    free(a->floats);
    free(a->s);
    memset(a, 0, sizeof *a);
}

static void node_clear(clv_node *n)
{
    free(n->name);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        attr_clear(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void clv_graph_free(clv_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_nodes; i++)
        node_clear(&g->nodes[i]);
    for (int i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].name);
        free(g->tensors[i].data);
        free(g->tensors[i].consumers);
    }
    free(g->nodes);
    free(g->tensors);
    free(g->inputs);
    free(g->outputs);
    free(g->tensor_hash);
    free(g->node_hash);
    free(g->name);
    free(g);
}

int clv_graph_set_name(clv_graph *g, const char *name)
{
    char *n = clv_util_strdup(name ? name : "");
    if (!n)
        return CLV_ENOMEM;
    free(g->name);
    g->name = n;
    return 0;
}

void clv_graph_set_opset(clv_graph *g, int opset)
{
    g->opset = opset;
}

/* Grows an array of `size`-byte elements to hold `need` of them. */
static int grow(void **arr, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return 0;
    int ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > (1 << 29))
            return CLV_ENOMEM;
        ncap *= 2;
    }
    void *na = realloc(*arr, (size_t)ncap * size);
    if (!na)
        return CLV_ENOMEM;
    *arr = na;
    *cap = ncap;
    return 0;
}

/* ---- tensors ----------------------------------------------------------- */

int clv_graph_add_tensor(clv_graph *g, const char *name, clv_dtype dt,
                         int ndim, const int64_t *dims, int *id,
                         clv_error *err)
{
    if (!name || !name[0])
        return clv_error_set(err, CLV_EINVAL, "a tensor needs a name");
    if (ndim < -1 || ndim > CLV_MAX_DIMS)
        return clv_error_set(err, CLV_EINVAL,
                             "tensor '%s': rank %d is beyond the limit of %d",
                             name, ndim, CLV_MAX_DIMS);
    if (g->finalized)
        return clv_error_set(err, CLV_EINVAL,
                             "tensor '%s': the graph is already finalized",
                             name);
    if (hash_reserve(g, &g->tensor_hash, &g->tensor_hash_cap, g->n_tensors,
                     tensor_name_of) ||
        grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1,
             sizeof *g->tensors))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    size_t slot = hash_slot(g, g->tensor_hash, g->tensor_hash_cap,
                            tensor_name_of, name);
    if (g->tensor_hash[slot])
        return clv_error_set(err, CLV_EINVAL,
                             "tensor '%s' is defined twice", name);
    clv_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = clv_util_strdup(name);
    if (!t->name)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < CLV_MAX_DIMS; i++)
        t->dims[i] = (ndim >= 0 && i < ndim && dims) ? dims[i] : -1;
    if (ndim > 0 && !dims)
        t->ndim = -1;
    for (int i = 0; i < ndim && dims; i++) {
        if (dims[i] < -1) {
            free(t->name);
            return clv_error_set(err, CLV_EINVAL,
                                 "tensor '%s': dim %d is %lld", name, i,
                                 (long long)dims[i]);
        }
    }
    t->producer = -1;
    g->tensor_hash[slot] = g->n_tensors + 1;
    if (id)
        *id = g->n_tensors;
    g->n_tensors++;
    return 0;
}

int clv_graph_find_tensor(const clv_graph *g, const char *name)
{
    if (!name || !g->tensor_hash_cap)
        return -1;
    size_t slot = hash_slot(g, g->tensor_hash, g->tensor_hash_cap,
                            tensor_name_of, name);
    return g->tensor_hash[slot] - 1;
}

int clv_graph_alloc_data(clv_graph *g, int t, void **data, clv_error *err)
{
    if (t < 0 || t >= g->n_tensors)
        return clv_error_set(err, CLV_EINVAL, "tensor id %d out of range", t);
    clv_tensor *x = &g->tensors[t];
    size_t esize = clv_dtype_size(x->dtype);
    int64_t numel = clv_tensor_numel(x);
    if (esize == 0 || numel < 0)
        return clv_error_set(err, CLV_EINVAL,
                             "tensor '%s': constant needs a known type and "
                             "shape",
                             x->name);
    uint64_t bytes;
    if (clv_util_mul_checked((uint64_t)numel, esize, (uint64_t)4 << 30,
                             &bytes))
        return clv_error_set(err, CLV_ELIMIT,
                             "tensor '%s': %lld elements exceed the 4 GiB "
                             "limit for one tensor",
                             x->name, (long long)numel);
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p)
        return clv_error_set(err, CLV_ENOMEM,
                             "tensor '%s': out of memory for %llu bytes",
                             x->name, (unsigned long long)bytes);
    free(x->data);
    x->data = p;
    x->flags |= CLV_TENSOR_CONST;
    if (data)
        *data = p;
    return 0;
}

static int push_id(int **arr, int *n, int *cap, int id)
{
    for (int i = 0; i < *n; i++)
        if ((*arr)[i] == id)
            return 0;
    if (grow((void **)arr, cap, *n + 1, sizeof **arr))
        return CLV_ENOMEM;
    (*arr)[(*n)++] = id;
    return 0;
}

int clv_graph_mark_input(clv_graph *g, int t)
{
    if (t < 0 || t >= g->n_tensors)
        return CLV_EINVAL;
    g->tensors[t].flags |= CLV_TENSOR_INPUT;
    return push_id(&g->inputs, &g->n_inputs, &g->cap_inputs, t);
}

int clv_graph_mark_output(clv_graph *g, int t)
{
    if (t < 0 || t >= g->n_tensors)
        return CLV_EINVAL;
    g->tensors[t].flags |= CLV_TENSOR_OUTPUT;
    return push_id(&g->outputs, &g->n_outputs, &g->cap_outputs, t);
}

/* ---- nodes ------------------------------------------------------------- */

static bool node_name_taken(const clv_graph *g, const char *name)
{
    if (!g->node_hash_cap)
        return false;
    return g->node_hash[hash_slot(g, g->node_hash, g->node_hash_cap,
                                  node_name_of, name)] != 0;
}

int clv_graph_add_node(clv_graph *g, const char *name, clv_op op, int n_in,
                       const int *inputs, int n_out, const int *outputs,
                       int *id, clv_error *err)
{
    char *nm = NULL;
    int *in = NULL, *out = NULL;

    if (g->finalized)
        return clv_error_set(err, CLV_EINVAL, "the graph is finalized");
    if ((int)op < 0 || op >= CLV_OP_COUNT)
        return clv_error_set(err, CLV_EINVAL, "op %d is not an op", (int)op);
    if (n_in < 0 || n_out < 1 || n_in > 1024 || n_out > 1024)
        return clv_error_set(err, CLV_EINVAL,
                             "node '%s': %d inputs and %d outputs",
                             name ? name : "?", n_in, n_out);
    for (int i = 0; i < n_in; i++) {
        if (inputs[i] < -1 || inputs[i] >= g->n_tensors)
            return clv_error_set(err, CLV_EINVAL,
                                 "node '%s': input %d is not a tensor",
                                 name ? name : "?", i);
    }
    for (int i = 0; i < n_out; i++) {
        if (outputs[i] < 0 || outputs[i] >= g->n_tensors)
            return clv_error_set(err, CLV_EINVAL,
                                 "node '%s': output %d is not a tensor",
                                 name ? name : "?", i);
        const clv_tensor *t = &g->tensors[outputs[i]];
        if (t->producer >= 0 || (t->flags & CLV_TENSOR_CONST) ||
            (t->flags & CLV_TENSOR_INPUT))
            return clv_error_set(err, CLV_EINVAL,
                                 "node '%s': tensor '%s' already has a "
                                 "producer (node '%s' or an input/constant)",
                                 name ? name : "?", t->name,
                                 t->producer >= 0
                                     ? g->nodes[t->producer].name
                                     : "-");
        for (int j = 0; j < i; j++)
            if (outputs[j] == outputs[i])
                return clv_error_set(err, CLV_EINVAL,
                                     "node '%s': output '%s' listed twice",
                                     name ? name : "?", t->name);
    }

    /* A unique name: the given one, else "<Op>_<n>", suffixed if taken. */
    if (name && name[0] && !node_name_taken(g, name)) {
        nm = clv_util_strdup(name);
    } else {
        const char *base = (name && name[0]) ? name : clv_op_name(op);
        size_t blen = strlen(base);
        char *cand = malloc(blen + 32);
        if (!cand)
            goto nomem;
        do {
            snprintf(cand, blen + 32, "%s_%d", base, g->auto_names++);
        } while (node_name_taken(g, cand));
        nm = cand;
    }
    if (!nm)
        goto nomem;
    in = malloc(sizeof *in * (size_t)(n_in ? n_in : 1));
    out = malloc(sizeof *out * (size_t)n_out);
    if (!in || !out)
        goto nomem;
    if (n_in)
        memcpy(in, inputs, sizeof *in * (size_t)n_in);
    memcpy(out, outputs, sizeof *out * (size_t)n_out);
    if (hash_reserve(g, &g->node_hash, &g->node_hash_cap, g->n_nodes,
                     node_name_of) ||
        grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1,
             sizeof *g->nodes))
        goto nomem;

    clv_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = nm;
    n->op = op;
    n->n_inputs = n_in;
    n->inputs = in;
    n->n_outputs = n_out;
    n->outputs = out;
    g->node_hash[hash_slot(g, g->node_hash, g->node_hash_cap, node_name_of,
                           nm)] = g->n_nodes + 1;
    for (int i = 0; i < n_out; i++)
        g->tensors[out[i]].producer = g->n_nodes;
    if (id)
        *id = g->n_nodes;
    g->n_nodes++;
    return 0;
nomem:
    free(nm);
    free(in);
    free(out);
    return clv_error_set(err, CLV_ENOMEM, "out of memory");
}

/* ---- attributes -------------------------------------------------------- */

/* The attribute slot `name` of node `node`, created empty if absent. */
static clv_attr *attr_slot(clv_graph *g, int node, const char *name)
{
    if (node < 0 || node >= g->n_nodes || !name)
        return NULL;
    clv_node *n = &g->nodes[node];
    for (int i = 0; i < n->n_attrs; i++) {
        if (strcmp(n->attrs[i].name, name) == 0) {
            char *keep = n->attrs[i].name;
            n->attrs[i].name = NULL;
            attr_clear(&n->attrs[i]);
            n->attrs[i].name = keep;
            return &n->attrs[i];
        }
    }
    char *nm = clv_util_strdup(name);
    if (!nm)
        return NULL;
    clv_attr *na = realloc(n->attrs, sizeof *na * (size_t)(n->n_attrs + 1));
    if (!na) {
        free(nm);
        return NULL;
    }
    n->attrs = na;
    memset(&na[n->n_attrs], 0, sizeof *na);
    na[n->n_attrs].name = nm;
    return &na[n->n_attrs++];
}

static int bad_node(const clv_graph *g, int node)
{
    return node < 0 || node >= g->n_nodes;
}

int clv_graph_set_int(clv_graph *g, int node, const char *name, int64_t v)
{
    if (bad_node(g, node))
        return CLV_EINVAL;
    clv_attr *a = attr_slot(g, node, name);
    if (!a)
        return CLV_ENOMEM;
    a->type = CLV_ATTR_INT;
    a->i = v;
    return 0;
}

int clv_graph_set_float(clv_graph *g, int node, const char *name, float v)
{
    if (bad_node(g, node))
        return CLV_EINVAL;
    clv_attr *a = attr_slot(g, node, name);
    if (!a)
        return CLV_ENOMEM;
    a->type = CLV_ATTR_FLOAT;
    a->f = v;
    return 0;
}

/* Stores a copy of `n` elements of `size` bytes as attribute `name` of
 * type `type` (CLV_ATTR_INTS or CLV_ATTR_FLOATS). */
static int set_array(clv_graph *g, int node, const char *name,
                     clv_attr_type type, size_t n, const void *v, size_t size)
{
    if (bad_node(g, node) || (n && !v))
        return CLV_EINVAL;
    void *copy = malloc(size * (n ? n : 1));
    if (!copy)
        return CLV_ENOMEM;
    if (n)
        memcpy(copy, v, size * n);
    clv_attr *a = attr_slot(g, node, name);
    if (!a) {
        free(copy);
        return CLV_ENOMEM;
    }
    a->type = type;
    if (type == CLV_ATTR_INTS)
        a->ints = copy;
    else
        a->floats = copy;
    a->n = n;
    return 0;
}

int clv_graph_set_ints(clv_graph *g, int node, const char *name, size_t n,
                       const int64_t *v)
{
    return set_array(g, node, name, CLV_ATTR_INTS, n, v, sizeof *v);
}

int clv_graph_set_floats(clv_graph *g, int node, const char *name, size_t n,
                         const float *v)
{
    return set_array(g, node, name, CLV_ATTR_FLOATS, n, v, sizeof *v);
}

int clv_graph_set_string(clv_graph *g, int node, const char *name,
                         const char *v)
{
    if (bad_node(g, node) || !v)
        return CLV_EINVAL;
    char *copy = clv_util_strdup(v);
    if (!copy)
        return CLV_ENOMEM;
    clv_attr *a = attr_slot(g, node, name);
    if (!a) {
        free(copy);
        return CLV_ENOMEM;
    }
    a->type = CLV_ATTR_STRING;
    a->s = copy;
    return 0;
}

void clv_graph_unset(clv_graph *g, int node, const char *name)
{
    if (bad_node(g, node) || !name)
        return;
    clv_node *n = &g->nodes[node];
    for (int i = 0; i < n->n_attrs; i++) {
        if (strcmp(n->attrs[i].name, name) == 0) {
            attr_clear(&n->attrs[i]);
            n->attrs[i] = n->attrs[n->n_attrs - 1];
            n->n_attrs--;
            return;
        }
    }
}

const clv_attr *clv_node_attr(const clv_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t clv_node_int(const clv_node *n, const char *name, int64_t def)
{
    const clv_attr *a = clv_node_attr(n, name);
    return (a && a->type == CLV_ATTR_INT) ? a->i : def;
}

float clv_node_float(const clv_node *n, const char *name, float def)
{
    const clv_attr *a = clv_node_attr(n, name);
    return (a && a->type == CLV_ATTR_FLOAT) ? a->f : def;
}

const int64_t *clv_node_ints(const clv_node *n, const char *name,
                             size_t *count)
{
    const clv_attr *a = clv_node_attr(n, name);
    if (!a || a->type != CLV_ATTR_INTS) {
        if (count)
            *count = 0;
        return NULL;
    }
    if (count)
        *count = a->n;
    return a->ints;
}

const float *clv_node_floats(const clv_node *n, const char *name,
                             size_t *count)
{
    const clv_attr *a = clv_node_attr(n, name);
    if (!a || a->type != CLV_ATTR_FLOATS) {
        if (count)
            *count = 0;
        return NULL;
    }
    if (count)
        *count = a->n;
    return a->floats;
}

const char *clv_node_string(const clv_node *n, const char *name,
                            const char *def)
{
    const clv_attr *a = clv_node_attr(n, name);
    return (a && a->type == CLV_ATTR_STRING) ? a->s : def;
}

int clv_graph__node_error(const clv_graph *g, int node, clv_error *err,
                          int code, const char *fmt, ...)
{
    char msg[CLV_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (node >= 0 && node < g->n_nodes)
        return clv_error_set(err, code, "node '%s': %s",
                             g->nodes[node].name, msg);
    return clv_error_set(err, code, "%s", msg);
}

/* ---- finalize ---------------------------------------------------------- */

/* A binary min-heap of node indices, to take ready nodes in their original
 * order: the result keeps the author's order wherever it is already
 * topological. */
static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        int p = (i - 1) / 2, t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], i = 0;
    h[0] = h[--(*n)];
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m])
            m = l;
        if (r < *n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        int t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

/* Rebuilds every tensor's producer and consumer list from the nodes. */
static int rebuild_links(clv_graph *g)
{
    int *count = calloc((size_t)g->n_tensors + 1, sizeof *count);
    if (!count)
        return CLV_ENOMEM;
    for (int t = 0; t < g->n_tensors; t++) {
        g->tensors[t].producer = -1;
        free(g->tensors[t].consumers);
        g->tensors[t].consumers = NULL;
        g->tensors[t].n_consumers = 0;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const clv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++)
            g->tensors[n->outputs[k]].producer = i;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                count[n->inputs[k]]++;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        if (!count[t])
            continue;
        g->tensors[t].consumers = malloc(sizeof(int) * (size_t)count[t]);
        if (!g->tensors[t].consumers) {
            free(count);
            return CLV_ENOMEM;
        }
    }
    free(count);
    for (int i = 0; i < g->n_nodes; i++) {
        const clv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            clv_tensor *x = &g->tensors[t];
            /* nodes are visited in ascending order: check only the last */
            if (x->n_consumers && x->consumers[x->n_consumers - 1] == i)
                continue;
            x->consumers[x->n_consumers++] = i;
        }
    }
    return 0;
}

/* Names one node on a cycle among the nodes not yet ordered. */
static int cycle_error(clv_graph *g, const int *indeg, clv_error *err)
{
    /* Walk back through unordered producers until a node repeats. */
    int start = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (indeg[i] > 0) {
            start = i;
            break;
        }
    assert(start >= 0);
    char *seen = calloc((size_t)g->n_nodes, 1);
    int cur = start;
    if (seen) {
        while (!seen[cur]) {
            seen[cur] = 1;
            const clv_node *n = &g->nodes[cur];
            int next = -1;
            for (int k = 0; k < n->n_inputs && next < 0; k++) {
                int t = n->inputs[k];
                if (t >= 0 && g->tensors[t].producer >= 0 &&
                    indeg[g->tensors[t].producer] > 0)
                    next = g->tensors[t].producer;
            }
            if (next < 0)
                break;
            cur = next;
        }
        free(seen);
    }
    const clv_node *n = &g->nodes[cur];
    int via = -1;
    for (int k = 0; k < n->n_inputs; k++) {
        int t = n->inputs[k];
        if (t >= 0 && g->tensors[t].producer >= 0 &&
            indeg[g->tensors[t].producer] > 0)
            via = t;
    }
    return clv_error_set(err, CLV_ECYCLE,
                         "the graph has a cycle through node '%s' (it reads "
                         "'%s', which depends on its own output)",
                         n->name, via >= 0 ? g->tensors[via].name : "?");
}

/* Sorts g->nodes topologically (stable), renumbering producers. */
static int topo_sort(clv_graph *g, clv_error *err)
{
    int n = g->n_nodes, rc = 0, heap_n = 0, done = 0;
    int *indeg = calloc((size_t)n + 1, sizeof *indeg);
    int *heap = malloc(sizeof *heap * ((size_t)n + 1));
    int *order = malloc(sizeof *order * ((size_t)n + 1));
    clv_node *sorted = malloc(sizeof *sorted * ((size_t)n + 1));
    if (!indeg || !heap || !order || !sorted) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = rebuild_links(g))) {
        clv_error_set(err, rc, "out of memory");
        goto out;
    }
    /* in-degree = number of distinct producer nodes feeding a node */
    for (int i = 0; i < n; i++) {
        const clv_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) {
            int t = nd->inputs[k];
            if (t < 0 || g->tensors[t].producer < 0)
                continue;
            bool dup = false;
            for (int j = 0; j < k; j++)
                if (nd->inputs[j] == t)
                    dup = true;
            if (!dup)
                indeg[i]++;
        }
    }
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0)
            heap_push(heap, &heap_n, i);
    while (heap_n) {
        int v = heap_pop(heap, &heap_n);
        order[done++] = v;
        const clv_node *nd = &g->nodes[v];
        for (int k = 0; k < nd->n_outputs; k++) {
            const clv_tensor *t = &g->tensors[nd->outputs[k]];
            for (int c = 0; c < t->n_consumers; c++)
                if (--indeg[t->consumers[c]] == 0)
                    heap_push(heap, &heap_n, t->consumers[c]);
        }
    }
    if (done < n) {
        rc = cycle_error(g, indeg, err);
        goto out;
    }
    for (int i = 0; i < n; i++)
        sorted[i] = g->nodes[order[i]];
    if (n) /* g->nodes is NULL in a graph without nodes */
        memcpy(g->nodes, sorted, sizeof *sorted * (size_t)n);
    rc = rebuild_links(g);
    if (rc)
        clv_error_set(err, rc, "out of memory");
out:
    free(indeg);
    free(heap);
    free(order);
    free(sorted);
    return rc;
}

static bool shape_known(const clv_tensor *t)
{
    if (t->ndim < 0 || t->dtype == CLV_DT_UNDEFINED)
        return false;
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] < 0)
            return false;
    return true;
}

/* Rebuilds the node-name hash after nodes were reordered or removed. */
static int rehash_nodes(clv_graph *g)
{
    free(g->node_hash);
    g->node_hash = NULL;
    g->node_hash_cap = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (hash_reserve(g, &g->node_hash, &g->node_hash_cap, i,
                         node_name_of))
            return CLV_ENOMEM;
        g->node_hash[hash_slot(g, g->node_hash, g->node_hash_cap,
                               node_name_of, g->nodes[i].name)] = i + 1;
    }
    return 0;
}

int clv_graph_finalize(clv_graph *g, clv_error *err)
{
    int rc;
    char *dead = NULL;

    if (g->finalized)
        return clv_error_set(err, CLV_EINVAL, "the graph is already finalized");
    if (g->n_inputs == 0)
        return clv_error_set(err, CLV_EINVAL,
                             "the graph has no run-time input");
    if (g->n_outputs == 0)
        return clv_error_set(err, CLV_EINVAL, "the graph has no output");
    for (int i = 0; i < g->n_inputs; i++) {
        const clv_tensor *t = &g->tensors[g->inputs[i]];
        if (t->flags & CLV_TENSOR_CONST)
            return clv_error_set(err, CLV_EINVAL,
                                 "input '%s' is also a constant", t->name);
        if (!shape_known(t))
            return clv_error_set(err, CLV_ESHAPE,
                                 "input '%s' needs a known type and shape",
                                 t->name);
    }
    for (int i = 0; i < g->n_tensors; i++) {
        const clv_tensor *t = &g->tensors[i];
        if ((t->flags & CLV_TENSOR_CONST) && !shape_known(t))
            return clv_error_set(err, CLV_ESHAPE,
                                 "constant '%s' needs a known type and shape",
                                 t->name);
    }

    if ((rc = topo_sort(g, err)))
        return rc;

    /* Every tensor a node reads must come from somewhere. */
    for (int i = 0; i < g->n_nodes; i++) {
        const clv_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            const clv_tensor *x = &g->tensors[t];
            if (x->producer < 0 &&
                !(x->flags & (CLV_TENSOR_INPUT | CLV_TENSOR_CONST)))
                return clv_graph__node_error(
                    g, i, err, CLV_EINVAL,
                    "reads '%s', which no node, input or initializer "
                    "provides",
                    x->name);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const clv_tensor *x = &g->tensors[g->outputs[i]];
        if (x->producer < 0 &&
            !(x->flags & (CLV_TENSOR_INPUT | CLV_TENSOR_CONST)))
            return clv_error_set(err, CLV_EINVAL,
                                 "output '%s' is not produced by any node",
                                 x->name);
    }

    dead = calloc((size_t)g->n_nodes + 1, 1);
    if (!dead)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");

    /* Shapes, canonical form and folding, in topological order. */
    for (int i = 0; i < g->n_nodes; i++) {
        clv_node *n = &g->nodes[i];
        bool all_const = true;
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            if (!shape_known(&g->tensors[t])) {
                rc = clv_graph__node_error(g, i, err, CLV_ESHAPE,
                                           "the shape of input '%s' is "
                                           "unknown",
                                           g->tensors[t].name);
                goto fail;
            }
            if (!(g->tensors[t].flags & CLV_TENSOR_CONST))
                all_const = false;
        }
        if ((rc = clv_graph__infer_node(g, i, err)))
            goto fail;
        for (int k = 0; k < n->n_outputs; k++) {
            const clv_tensor *t = &g->tensors[n->outputs[k]];
            if (!shape_known(t) && t->n_consumers > 0) {
                rc = clv_graph__node_error(g, i, err, CLV_ESHAPE,
                                           "the shape of output '%s' could "
                                           "not be inferred",
                                           t->name);
                goto fail;
            }
        }
        if (all_const || n->op == CLV_OP_SHAPE) {
            bool folded = false;
            if ((rc = clv_graph__fold_node(g, i, &folded, err)))
                goto fail;
            if (folded) {
                dead[i] = 1;
                for (int k = 0; k < n->n_outputs; k++)
                    g->tensors[n->outputs[k]].producer = -1;
            }
        }
    }

    /* Drop folded nodes. */
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (dead[i]) {
            node_clear(&g->nodes[i]);
            continue;
        }
        g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;
    free(dead);
    dead = NULL;
    if ((rc = rebuild_links(g)) || (rc = rehash_nodes(g))) {
        clv_error_set(err, rc, "out of memory");
        goto fail;
    }

    for (int i = 0; i < g->n_outputs; i++) {
        const clv_tensor *x = &g->tensors[g->outputs[i]];
        if (!shape_known(x)) {
            rc = clv_error_set(err, CLV_ESHAPE,
                               "the shape of output '%s' could not be "
                               "inferred",
                               x->name);
            goto fail;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        clv_node *n = &g->nodes[i];
        n->out_bytes = 0;
        n->param_bytes = 0;
        for (int k = 0; k < n->n_outputs; k++)
            n->out_bytes += clv_tensor_bytes(&g->tensors[n->outputs[k]]);
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && (g->tensors[t].flags & CLV_TENSOR_CONST))
                n->param_bytes += clv_tensor_bytes(&g->tensors[t]);
        }
    }
    g->finalized = true;
    return 0;
fail:
    free(dead);
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

const char *clv_graph_name(const clv_graph *g)
{
    return g->name ? g->name : "";
}

int clv_graph_opset(const clv_graph *g)
{
    return g->opset;
}

bool clv_graph_is_finalized(const clv_graph *g)
{
    return g->finalized;
}

int clv_graph_n_nodes(const clv_graph *g)
{
    return g->n_nodes;
}

const clv_node *clv_graph_node(const clv_graph *g, int i)
{
    return (i >= 0 && i < g->n_nodes) ? &g->nodes[i] : NULL;
}

int clv_graph_n_tensors(const clv_graph *g)
{
    return g->n_tensors;
}

const clv_tensor *clv_graph_tensor(const clv_graph *g, int i)
{
    return (i >= 0 && i < g->n_tensors) ? &g->tensors[i] : NULL;
}

int clv_graph_n_inputs(const clv_graph *g)
{
    return g->n_inputs;
}

int clv_graph_input(const clv_graph *g, int i)
{
    return (i >= 0 && i < g->n_inputs) ? g->inputs[i] : -1;
}

int clv_graph_n_outputs(const clv_graph *g)
{
    return g->n_outputs;
}

int clv_graph_output(const clv_graph *g, int i)
{
    return (i >= 0 && i < g->n_outputs) ? g->outputs[i] : -1;
}

int64_t clv_tensor_numel(const clv_tensor *t)
{
    if (t->ndim < 0)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0)
            return -1;
        if (t->dims[i] != 0 && n > INT64_MAX / t->dims[i])
            return -1;
        n *= t->dims[i];
    }
    return n;
}

uint64_t clv_tensor_bytes(const clv_tensor *t)
{
    int64_t n = clv_tensor_numel(t);
    if (n < 0)
        return 0;
    return (uint64_t)n * clv_dtype_size(t->dtype);
}

void clv_tensor_shape_str(const clv_tensor *t, char *buf, size_t len)
{
    size_t used = 0;
    if (!len)
        return;
    buf[0] = '\0';
    if (t->ndim < 0) {
        snprintf(buf, len, "?");
        return;
    }
    if (t->ndim == 0) {
        snprintf(buf, len, "scalar");
        return;
    }
    for (int i = 0; i < t->ndim && used < len; i++) {
        int w;
        if (t->dims[i] < 0)
            w = snprintf(buf + used, len - used, "%s?", i ? "x" : "");
        else
            w = snprintf(buf + used, len - used, "%s%lld", i ? "x" : "",
                         (long long)t->dims[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* ---- structure --------------------------------------------------------- */

int clv_graph_crossing(const clv_graph *g, int *crossing)
{
    if (!g->finalized)
        return CLV_EINVAL;
    int n = g->n_nodes;
    /* A run-time tensor born at b (its producer, or -1 for an input) and
     * last read at l crosses every cut after i with b <= i < l. */
    int *diff = calloc((size_t)n + 2, sizeof *diff);
    if (!diff)
        return CLV_ENOMEM;
    for (int t = 0; t < g->n_tensors; t++) {
        const clv_tensor *x = &g->tensors[t];
        if ((x->flags & CLV_TENSOR_CONST) || x->n_consumers == 0)
            continue;
        int born = x->producer;
        if (born < 0 && !(x->flags & CLV_TENSOR_INPUT))
            continue;
        int last = x->consumers[x->n_consumers - 1];
        if (last <= born)
            continue;
        diff[born + 1]++; /* born may be -1: index 0 */
        diff[last + 1]--;
    }
    int run = diff[0];
    for (int i = 0; i < n; i++) {
        run += diff[i + 1];
        crossing[i] = run;
    }
    free(diff);
    return 0;
}

bool clv_graph_is_chain(const clv_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const clv_node *n = &g->nodes[i];
        int runtime_in = 0;
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && !(g->tensors[t].flags & CLV_TENSOR_CONST))
                runtime_in++;
        }
        if (runtime_in > 1)
            return false;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        const clv_tensor *x = &g->tensors[t];
        if (!(x->flags & CLV_TENSOR_CONST) && x->n_consumers > 1)
            return false;
    }
    return true;
}

uint64_t clv_graph_total_flops(const clv_graph *g)
{
    uint64_t s = 0;
    for (int i = 0; i < g->n_nodes; i++)
        s += g->nodes[i].flops;
    return s;
}

uint64_t clv_graph_param_bytes(const clv_graph *g)
{
    uint64_t s = 0;
    for (int t = 0; t < g->n_tensors; t++)
        if ((g->tensors[t].flags & CLV_TENSOR_CONST) &&
            g->tensors[t].n_consumers > 0)
            s += clv_tensor_bytes(&g->tensors[t]);
    return s;
}
