/*
 * The ONNX reader: a ModelProto (unpacked by protobuf-c from Debian's
 * onnx.proto) becomes a clv_graph.
 *
 * The graph is built in two passes because ONNX does not require nodes in
 * topological order: first every tensor (initializers, graph inputs,
 * Constant nodes, every node output), then the nodes, whose inputs must
 * then name an existing tensor. clv_graph_finalize() does the rest (sorting,
 * cycle detection, canonical attributes, shapes, folding).
 */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleave/load.h"
#include "load/onnx_internal.h"
#include "onnx.pb-c.h"
#include "util/util.h"

typedef struct reader {
    const char *label; /* names the model in messages */
    const char *dir;   /* where external data lives; may be NULL */
    clv_graph *g;
    int opset;
    clv_error *err;
    clv_onnx__strset used;  /* names read by a node or listed as output */
    clv_onnx__strset inits; /* initializer names */
} reader;

/* Sets "<label>: <message>" in r->err and returns `code`. */
static int rd_fail(reader *r, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int rd_fail(reader *r, int code, const char *fmt, ...)
{
    char msg[CLV_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clv_error_set(r->err, code, "%s: %s", r->label, msg);
}

/* Puts the model label in front of a message a graph function wrote. */
static int rd_prefix(reader *r, int code)
{
    if (r->err) {
        if (r->err->msg[0] == '\0')
            clv_error_set(r->err, code, "%s", clv_strerror(code));
        clv_error_prefix(r->err, "%s: ", r->label);
        r->err->code = code;
    }
    return code;
}

/* "node 'conv1'" or, for an unnamed node, "node #3". */
static void node_label(const Onnx__NodeProto *np, size_t i, char *buf,
                       size_t len)
{
    if (np->name && np->name[0])
        snprintf(buf, len, "node '%s'", np->name);
    else
        snprintf(buf, len, "node #%zu", i);
}

static void dims_str(const int64_t *dims, size_t n, char *buf, size_t len)
{
    size_t used = 0;
    if (n == 0) {
        snprintf(buf, len, "scalar");
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int k = snprintf(buf + used, len - used, i ? "x%lld" : "%lld",
                         (long long)dims[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static const char *attr_type_name(int t)
{
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "FLOAT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "INT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "STRING";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "FLOATS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "INTS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "GRAPHS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
        return "SPARSE_TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
        return "SPARSE_TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
        return "TYPE_PROTO";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
        return "TYPE_PROTOS";
    default: return "UNDEFINED";
    }
}

/* The type of an attribute; IR version 1 files may leave `type` out, and
 * then the field that is set tells. */
static int attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type)
        return (int)a->type;
    if (a->n_floats)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_strings)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    if (a->t)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->g)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    if (a->has_s)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->has_f)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

/* A decimal number of an external-data entry; false when malformed. */
static bool parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* True when `p` has a ".." component. */
static bool has_dotdot(const char *p)
{
    while (*p) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += n;
        if (*p)
            p++;
    }
    return false;
}

static bool is_absolute(const char *p)
{
    return p[0] == '/' || p[0] == '\\' ||
           (isalpha((unsigned char)p[0]) && p[1] == ':');
}

/* Checks where the external data of tensor `id` (`bytes` bytes) lies,
 * then gives the tensor its storage (in *data) and reads it. */
static int rd_external(reader *r, const Onnx__TensorProto *tp,
                       const char *what, const char *name,
                       const char *shape, uint64_t bytes, int id,
                       void **data)
{
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    uint64_t offset = 0, length = 0, size;
    char *full = NULL;
    FILE *f = NULL;
    long end;
    int rc;

    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key)
            continue;
        if (!strcmp(e->key, "location"))
            loc = e->value;
        else if (!strcmp(e->key, "offset"))
            off_s = e->value;
        else if (!strcmp(e->key, "length"))
            len_s = e->value;
    }
    if (!loc || !*loc)
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s' keeps its data externally but names no "
                       "location",
                       what, name);
    if (!r->dir)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "%s '%s' keeps its data in external file '%s', but "
                       "the model was read from memory without a directory",
                       what, name, loc);
    if (is_absolute(loc))
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s': external data path '%s' is absolute; cleave "
                       "reads external data only from the model's directory",
                       what, name, loc);
    if (has_dotdot(loc))
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s': external data path '%s' contains '..'; "
                       "cleave reads external data only from the model's "
                       "directory",
                       what, name, loc);
    if (off_s && !parse_u64(off_s, &offset))
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s': external data offset '%s' is not a number",
                       what, name, off_s);
    if (len_s && !parse_u64(len_s, &length))
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s': external data length '%s' is not a number",
                       what, name, len_s);
    if (len_s && length != bytes)
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s' (dims %s) has %llu bytes of external data, "
                       "expected %llu",
                       what, name, shape, (unsigned long long)length,
                       (unsigned long long)bytes);

    size_t dl = strlen(r->dir), ll = strlen(loc);
    full = malloc(dl + ll + 2);
    if (!full)
        return rd_fail(r, CLV_ENOMEM, "out of memory");
    memcpy(full, r->dir, dl);
    full[dl] = '/';
    memcpy(full + dl + 1, loc, ll + 1);

    f = fopen(full, "rb");
    if (!f) {
        rc = rd_fail(r, CLV_EIO,
                     "%s '%s': cannot open external data file '%s': %s",
                     what, name, full, strerror(errno));
        goto fail;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0) {
        rc = rd_fail(r, CLV_EIO,
                     "%s '%s': cannot find the size of external data file "
                     "'%s': %s",
                     what, name, full, strerror(errno));
        goto fail;
    }
    size = (uint64_t)end;
    if (offset > size || bytes > size - offset) {
        rc = rd_fail(r, CLV_EFORMAT,
                     "%s '%s' (dims %s): external data of %llu bytes at "
                     "offset %llu runs past the end of '%s' (%llu bytes)",
                     what, name, shape, (unsigned long long)bytes,
                     (unsigned long long)offset, full,
                     (unsigned long long)size);
        goto fail;
    }
    rc = clv_graph_alloc_data(r->g, id, data, r->err);
    if (rc) {
        rc = rd_prefix(r, rc);
        goto fail;
    }
    if (bytes > 0) {
        if (offset > (uint64_t)LONG_MAX ||
            fseek(f, (long)offset, SEEK_SET) != 0 ||
            fread(*data, 1, (size_t)bytes, f) != (size_t)bytes) {
            rc = rd_fail(r, CLV_EIO,
                         "%s '%s': cannot read %llu bytes at offset %llu of "
                         "'%s'",
                         what, name, (unsigned long long)bytes,
                         (unsigned long long)offset, full);
            goto fail;
        }
    }
    fclose(f);
    free(full);
    return 0;
fail:
    if (f)
        fclose(f);
    free(full);
    return rc;
}

/* Checks that the typed field that matches `dt` holds `numel` values. */
static int rd_typed_check(reader *r, const Onnx__TensorProto *tp, int dt,
                          const char *what, const char *name,
                          const char *shape, uint64_t numel)
{
    size_t n;
    const char *field;

    switch (dt) {
    case CLV_DT_FLOAT:
        n = tp->n_float_data;
        field = "float_data";
        break;
    case CLV_DT_DOUBLE:
        n = tp->n_double_data;
        field = "double_data";
        break;
    case CLV_DT_INT64:
        n = tp->n_int64_data;
        field = "int64_data";
        break;
    default: /* int32, int8, uint8, bool */
        n = tp->n_int32_data;
        field = "int32_data";
        break;
    }
    if ((uint64_t)n != numel) {
        if (n == 0)
            return rd_fail(r, CLV_EFORMAT,
                           "%s '%s' (dims %s, %s) has no data", what, name,
                           shape, clv_onnx__dtype_name(dt));
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s' (dims %s) holds %zu values in %s, expected "
                       "%llu",
                       what, name, shape, n, field,
                       (unsigned long long)numel);
    }
    return 0;
}

/* Copies the typed field that matches `dt` (checked by rd_typed_check) into
 * `data`: `n` elements. */
static int rd_typed_copy(reader *r, const Onnx__TensorProto *tp, int dt,
                         const char *what, const char *name, size_t n,
                         void *data)
{
    if (n == 0)
        return 0;
    switch (dt) {
    case CLV_DT_FLOAT:
        memcpy(data, tp->float_data, n * sizeof(float));
        break;
    case CLV_DT_DOUBLE:
        memcpy(data, tp->double_data, n * sizeof(double));
        break;
    case CLV_DT_INT64:
        memcpy(data, tp->int64_data, n * sizeof(int64_t));
        break;
    case CLV_DT_INT32:
        memcpy(data, tp->int32_data, n * sizeof(int32_t));
        break;
    default: {
        uint8_t *d = data;
        int32_t lo = dt == CLV_DT_INT8 ? -128 : 0;
        int32_t hi = dt == CLV_DT_INT8 ? 127 : dt == CLV_DT_BOOL ? 1 : 255;
        for (size_t i = 0; i < n; i++) {
            int32_t v = tp->int32_data[i];
            if (v < lo || v > hi)
                return rd_fail(r, CLV_EFORMAT,
                               "%s '%s': value %ld at index %zu is out of "
                               "range for %s",
                               what, name, (long)v, i,
                               clv_onnx__dtype_name(dt));
            if (dt == CLV_DT_INT8) {
                int8_t s = (int8_t)v;
                memcpy(d + i, &s, 1);
            } else {
                d[i] = (uint8_t)v;
            }
        }
        break;
    }
    }
    return 0;
}

/* Makes a constant tensor called `name` from `tp`. `what` says what it is
 * in messages ("initializer", "Constant"). */
static int rd_tensor(reader *r, const Onnx__TensorProto *tp, const char *name,
                     const char *what, int *out_id)
{
    int dt = tp->has_data_type ? tp->data_type : 0;
    int64_t dims[CLV_MAX_DIMS];
    char shape[160];
    uint64_t numel = 1, bytes;
    void *data = NULL;
    int id, rc;

    if (!clv_onnx__dtype_supported(dt))
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "%s '%s' has element type %s, which cleave does not "
                       "support",
                       what, name, clv_onnx__dtype_name(dt));
    if (tp->segment)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "%s '%s' is stored in segments, which cleave does not "
                       "support",
                       what, name);
    if (tp->n_dims > CLV_MAX_DIMS)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "%s '%s' has %zu dims, more than cleave's limit of %d",
                       what, name, tp->n_dims, CLV_MAX_DIMS);
    dims_str(tp->dims, tp->n_dims, shape, sizeof shape);
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return rd_fail(r, CLV_EFORMAT, "%s '%s' has a negative dim (%s)",
                           what, name, shape);
        if ((uint64_t)tp->dims[i] > CLV_LOAD_MAX_FILE ||
            clv_util_mul_checked(numel, (uint64_t)tp->dims[i],
                                 CLV_LOAD_MAX_FILE, &numel))
            return rd_fail(r, CLV_ELIMIT,
                           "%s '%s' has too many elements (dims %s)", what,
                           name, shape);
        dims[i] = tp->dims[i];
    }
    size_t esize = clv_dtype_size((clv_dtype)dt);
    if (clv_util_mul_checked(numel, esize, CLV_LOAD_MAX_FILE, &bytes))
        return rd_fail(r, CLV_ELIMIT,
                       "%s '%s' (dims %s) is larger than the limit of %llu "
                       "bytes",
                       what, name, shape,
                       (unsigned long long)CLV_LOAD_MAX_FILE);
    if (clv_graph_find_tensor(r->g, name) >= 0)
        return rd_fail(r, CLV_EFORMAT, "tensor '%s' is defined twice", name);

    bool external =
        tp->has_data_location &&
        tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    /* Sizes are checked against the data before any storage is given, so
     * that a small file cannot make the reader allocate gigabytes. */
    if (!external && tp->has_raw_data && (uint64_t)tp->raw_data.len != bytes)
        return rd_fail(r, CLV_EFORMAT,
                       "%s '%s' (dims %s, %s) has %zu bytes of raw_data, "
                       "expected %llu",
                       what, name, shape, clv_onnx__dtype_name(dt),
                       tp->raw_data.len, (unsigned long long)bytes);
    if (!external && !tp->has_raw_data &&
        (rc = rd_typed_check(r, tp, dt, what, name, shape, numel)))
        return rc;

    rc = clv_graph_add_tensor(r->g, name, (clv_dtype)dt, (int)tp->n_dims,
                              dims, &id, r->err);
    if (rc)
        return rd_prefix(r, rc);
    if (external) {
        rc = rd_external(r, tp, what, name, shape, bytes, id, &data);
        if (rc)
            return rc;
        if (!clv_onnx__host_le())
            clv_onnx__swap_bytes(data, (size_t)numel, esize);
    } else {
        rc = clv_graph_alloc_data(r->g, id, &data, r->err);
        if (rc)
            return rd_prefix(r, rc);
        if (tp->has_raw_data && bytes) {
            memcpy(data, tp->raw_data.data, (size_t)bytes);
            if (!clv_onnx__host_le())
                clv_onnx__swap_bytes(data, (size_t)numel, esize);
        } else if (!tp->has_raw_data) {
            rc = rd_typed_copy(r, tp, dt, what, name, (size_t)numel, data);
            if (rc)
                return rc;
        }
    }
    if (out_id)
        *out_id = id;
    return 0;
}

/* A constant of `n` elements (ndim 0 when scalar) from a Constant node's
 * value_float(s) / value_int(s) attribute. */
static int rd_const_values(reader *r, const char *name, clv_dtype dt,
                           bool scalar, size_t n, const void *values)
{
    int64_t dims[1] = {(int64_t)n};
    void *data = NULL;
    int id, rc;

    if (clv_graph_find_tensor(r->g, name) >= 0)
        return rd_fail(r, CLV_EFORMAT, "tensor '%s' is defined twice", name);
    rc = clv_graph_add_tensor(r->g, name, dt, scalar ? 0 : 1, dims, &id,
                              r->err);
    if (rc)
        return rd_prefix(r, rc);
    rc = clv_graph_alloc_data(r->g, id, &data, r->err);
    if (rc)
        return rd_prefix(r, rc);
    if (n)
        memcpy(data, values, n * clv_dtype_size(dt));
    return 0;
}

/* A Constant node becomes the constant tensor it outputs. */
static int rd_constant(reader *r, const Onnx__NodeProto *np, size_t idx)
{
    char nl[300];
    const char *out;

    node_label(np, idx, nl, sizeof nl);
    if (np->n_output != 1 || !np->output[0] || !np->output[0][0])
        return rd_fail(r, CLV_EFORMAT,
                       "%s (Constant) must have exactly one named output",
                       nl);
    out = np->output[0];
    if (np->n_input != 0)
        return rd_fail(r, CLV_EFORMAT, "%s (Constant) has inputs", nl);
    if (!clv_onnx__strset_has(&r->used, out))
        return 0; /* nobody reads it */
    if (np->n_attribute != 1)
        return rd_fail(r, CLV_EFORMAT,
                       "%s (Constant) must have exactly one attribute, not "
                       "%zu",
                       nl, np->n_attribute);
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = a->name ? a->name : "";
    int at = attr_type(a);
    if (!strcmp(an, "value") &&
        at == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && a->t)
        return rd_tensor(r, a->t, out, "Constant", NULL);
    if (!strcmp(an, "value_float") &&
        at == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
        return rd_const_values(r, out, CLV_DT_FLOAT, true, 1, &a->f);
    if (!strcmp(an, "value_floats") &&
        at == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS)
        return rd_const_values(r, out, CLV_DT_FLOAT, false, a->n_floats,
                               a->floats);
    if (!strcmp(an, "value_int") &&
        at == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
        return rd_const_values(r, out, CLV_DT_INT64, true, 1, &a->i);
    if (!strcmp(an, "value_ints") &&
        at == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
        return rd_const_values(r, out, CLV_DT_INT64, false, a->n_ints,
                               a->ints);
    return rd_fail(r, CLV_EUNSUPPORTED,
                   "%s (Constant): attribute '%s' of type %s is not "
                   "supported by cleave",
                   nl, an, attr_type_name(at));
}

/* Copies the attributes of `np` onto graph node `node`. */
static int rd_attrs(reader *r, const Onnx__NodeProto *np, const char *nl,
                    int node)
{
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        int at = attr_type(a), rc;
        if (!a->name || !a->name[0])
            return rd_fail(r, CLV_EFORMAT,
                           "%s has an attribute without a name", nl);
        switch (at) {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
            rc = clv_graph_set_int(r->g, node, a->name, a->i);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
            rc = clv_graph_set_float(r->g, node, a->name, a->f);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
            rc = clv_graph_set_ints(r->g, node, a->name, a->n_ints, a->ints);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
            rc = clv_graph_set_floats(r->g, node, a->name, a->n_floats,
                                      a->floats);
            break;
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: {
            char *s;
            if (a->s.len && memchr(a->s.data, '\0', a->s.len))
                return rd_fail(r, CLV_EFORMAT,
                               "%s: string attribute '%s' holds a NUL byte",
                               nl, a->name);
            s = a->s.len ? clv_util_strndup((const char *)a->s.data, a->s.len)
                         : clv_util_strdup("");
            if (!s)
                return rd_fail(r, CLV_ENOMEM, "out of memory");
            rc = clv_graph_set_string(r->g, node, a->name, s);
            free(s);
            break;
        }
        default:
            return rd_fail(r, CLV_EUNSUPPORTED,
                           "%s: attribute '%s' of type %s is not supported "
                           "by cleave",
                           nl, a->name, attr_type_name(at));
        }
        if (rc)
            return rd_fail(r, rc, "%s: cannot set attribute '%s': %s", nl,
                           a->name, clv_strerror(rc));
    }
    return 0;
}

static bool is_default_domain(const char *d)
{
    return !d || !d[0] || !strcmp(d, "ai.onnx");
}

static bool is_constant(const Onnx__NodeProto *np)
{
    return is_default_domain(np->domain) && np->op_type &&
           !strcmp(np->op_type, "Constant");
}

/* Resolves the op of a (non-Constant) node. */
static int rd_op(reader *r, const Onnx__NodeProto *np, const char *nl,
                 clv_op *op)
{
    const char *type = np->op_type ? np->op_type : "";
    bool dflt = is_default_domain(np->domain);
    bool ours = np->domain && !strcmp(np->domain, CLV_ONNX_CLEAVE_DOMAIN);

    if (!type[0])
        return rd_fail(r, CLV_EFORMAT, "%s has no op_type", nl);
    if ((dflt || ours) && clv_op_from_name(type, op) == 0) {
        bool darknet = *op == CLV_OP_REORG || *op == CLV_OP_REGION ||
                       *op == CLV_OP_YOLO;
        if (darknet == ours)
            return 0;
    }
    if (dflt)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "%s (op '%s', opset %d) is not supported by cleave",
                       nl, type, r->opset);
    return rd_fail(r, CLV_EUNSUPPORTED,
                   "%s (op '%s' of domain '%s') is not supported by cleave",
                   nl, type, np->domain);
}

/* Makes a placeholder tensor for an unnamed output in the middle of a
 * node's outputs. */
static int rd_placeholder(reader *r, size_t idx, size_t k, int *id)
{
    char name[96];
    snprintf(name, sizeof name, "cleave::unused_%zu_%zu", idx, k);
    for (int n = 1; clv_graph_find_tensor(r->g, name) >= 0; n++)
        snprintf(name, sizeof name, "cleave::unused_%zu_%zu_%d", idx, k, n);
    int rc = clv_graph_add_tensor(r->g, name, CLV_DT_UNDEFINED, -1, NULL, id,
                                  r->err);
    return rc ? rd_prefix(r, rc) : 0;
}

static int rd_node(reader *r, const Onnx__NodeProto *np, size_t idx)
{
    char nl[300];
    clv_op op;
    int *ins = NULL, *outs = NULL, node, rc;
    size_t n_in = np->n_input, n_out = np->n_output;

    node_label(np, idx, nl, sizeof nl);
    rc = rd_op(r, np, nl, &op);
    if (rc)
        return rc;
    while (n_out > 0 && (!np->output[n_out - 1] || !np->output[n_out - 1][0]))
        n_out--;
    if (n_out == 0)
        return rd_fail(r, CLV_EFORMAT, "%s has no outputs", nl);
    if (n_in > INT_MAX / 2 || n_out > INT_MAX / 2)
        return rd_fail(r, CLV_ELIMIT, "%s has too many inputs or outputs",
                       nl);

    bool upsample = !strcmp(np->op_type, "Upsample");
    /* Upsample's scales input moves to where Resize of opset >= 11 reads
     * it (X, roi, scales). */
    bool move_scales = upsample && r->opset >= 11 && n_in >= 2;
    size_t n_ins = move_scales ? n_in + 1 : n_in;
    ins = malloc((n_ins ? n_ins : 1) * sizeof *ins);
    outs = malloc(n_out * sizeof *outs);
    if (!ins || !outs) {
        rc = rd_fail(r, CLV_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_in; i++) {
        const char *in = np->input[i];
        if (!in || !in[0]) {
            ins[i] = -1;
            continue;
        }
        ins[i] = clv_graph_find_tensor(r->g, in);
        if (ins[i] < 0) {
            rc = rd_fail(r, CLV_EFORMAT,
                         "%s reads '%s', which no node, input or initializer "
                         "provides",
                         nl, in);
            goto done;
        }
    }
    if (move_scales) {
        for (size_t i = n_ins - 1; i >= 2; i--)
            ins[i] = ins[i - 1];
        ins[1] = -1;
    }
    for (size_t i = 0; i < n_out; i++) {
        const char *o = np->output[i];
        if (!o || !o[0]) {
            rc = rd_placeholder(r, idx, i, &outs[i]);
            if (rc)
                goto done;
            continue;
        }
        outs[i] = clv_graph_find_tensor(r->g, o);
    }
    rc = clv_graph_add_node(r->g, np->name, op, (int)n_ins, ins, (int)n_out,
                            outs, &node, r->err);
    if (rc) {
        rc = rd_prefix(r, rc);
        goto done;
    }
    rc = rd_attrs(r, np, nl, node);
    if (rc)
        goto done;
    if (upsample) {
        if (clv_graph_set_string(r->g, node, "coordinate_transformation_mode",
                                 "asymmetric") ||
            clv_graph_set_string(r->g, node, "nearest_mode", "floor")) {
            rc = rd_fail(r, CLV_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    free(ins);
    free(outs);
    return rc;
}

/* Adds the graph input described by `vi`. */
static int rd_input(reader *r, const Onnx__ValueInfoProto *vi, size_t i)
{
    const char *name = vi->name;
    int64_t dims[CLV_MAX_DIMS];
    uint64_t numel = 1;
    int id, rc, dt;

    if (!name || !name[0])
        return rd_fail(r, CLV_EFORMAT, "graph input #%zu has no name", i);
    if (clv_onnx__strset_has(&r->inits, name))
        return 0; /* an initializer listed as input (IR < 4 style) */
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "graph input '%s' is not a tensor", name);
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    dt = tt->has_elem_type ? tt->elem_type : 0;
    if (!clv_onnx__dtype_supported(dt))
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "graph input '%s' has element type %s, which cleave "
                       "does not support",
                       name, clv_onnx__dtype_name(dt));
    if (!tt->shape)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "graph input '%s' declares no shape; cleave needs the "
                       "rank of every input",
                       name);
    if (tt->shape->n_dim > CLV_MAX_DIMS)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "graph input '%s' has %zu dims, more than cleave's "
                       "limit of %d",
                       name, tt->shape->n_dim, CLV_MAX_DIMS);
    for (size_t k = 0; k < tt->shape->n_dim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return rd_fail(r, CLV_EFORMAT,
                               "graph input '%s' has negative dim %lld at "
                               "axis %zu",
                               name, (long long)d->dim_value, k);
            dims[k] = d->dim_value;
        } else {
            dims[k] = 1; /* symbolic or unknown: batch of one */
        }
        if ((uint64_t)dims[k] > CLV_LOAD_MAX_FILE ||
            clv_util_mul_checked(numel, (uint64_t)dims[k], CLV_LOAD_MAX_FILE,
                                 &numel))
            return rd_fail(r, CLV_ELIMIT,
                           "graph input '%s' has too many elements", name);
    }
    if (clv_graph_find_tensor(r->g, name) >= 0)
        return rd_fail(r, CLV_EFORMAT, "tensor '%s' is defined twice", name);
    rc = clv_graph_add_tensor(r->g, name, (clv_dtype)dt, (int)tt->shape->n_dim,
                              dims, &id, r->err);
    if (rc)
        return rd_prefix(r, rc);
    if (clv_graph_mark_input(r->g, id))
        return rd_fail(r, CLV_EINVAL, "cannot mark input '%s'", name);
    return 0;
}

/* The default-domain opset the model imports, checked. */
static int rd_versions(reader *r, const Onnx__ModelProto *m)
{
    bool found = false;
    int64_t v = 0;

    if (!m->has_ir_version)
        return rd_fail(r, CLV_EFORMAT,
                       "not an ONNX model (no IR version; truncated or "
                       "corrupt)");
    if (m->ir_version < CLV_ONNX_MIN_IR || m->ir_version > CLV_ONNX_MAX_IR)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "IR version %lld is not supported (cleave reads IR "
                       "versions %d to %d)",
                       (long long)m->ir_version, CLV_ONNX_MIN_IR,
                       CLV_ONNX_MAX_IR);
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (is_default_domain(o->domain) && o->has_version) {
            v = o->version;
            found = true;
            break;
        }
    }
    if (!found)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "imports no opset of the default ONNX domain (cleave "
                       "reads opsets %d to %d)",
                       CLV_ONNX_MIN_OPSET, CLV_ONNX_MAX_OPSET);
    if (v < CLV_ONNX_MIN_OPSET || v > CLV_ONNX_MAX_OPSET)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "opset %lld is not supported (cleave reads opsets %d "
                       "to %d of the default ONNX domain)",
                       (long long)v, CLV_ONNX_MIN_OPSET, CLV_ONNX_MAX_OPSET);
    r->opset = (int)v;
    return 0;
}

/* Builds the graph of `gp` into r->g (not finalized). */
static int rd_graph(reader *r, const Onnx__GraphProto *gp)
{
    int rc;

    if (gp->n_node > CLV_LOAD_MAX_NODES)
        return rd_fail(r, CLV_ELIMIT,
                       "has %zu nodes, more than the limit of %d", gp->n_node,
                       CLV_LOAD_MAX_NODES);
    if (gp->n_sparse_initializer)
        return rd_fail(r, CLV_EUNSUPPORTED,
                       "has sparse initializers, which cleave does not "
                       "support");
    if (gp->name && gp->name[0] && clv_graph_set_name(r->g, gp->name))
        return rd_fail(r, CLV_ENOMEM, "out of memory");

    /* The names something reads: node inputs and graph outputs. */
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        for (size_t k = 0; k < np->n_input; k++)
            if (np->input[k] && np->input[k][0] &&
                clv_onnx__strset_add(&r->used, np->input[k]))
                return rd_fail(r, CLV_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < gp->n_output; i++)
        if (gp->output[i]->name &&
            clv_onnx__strset_add(&r->used, gp->output[i]->name))
            return rd_fail(r, CLV_ENOMEM, "out of memory");

    /* Pass 1: every tensor. */
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return rd_fail(r, CLV_EFORMAT, "initializer #%zu has no name", i);
        if (clv_onnx__strset_has(&r->inits, tp->name))
            return rd_fail(r, CLV_EFORMAT, "initializer '%s' is defined twice",
                           tp->name);
        if (clv_onnx__strset_add(&r->inits, tp->name))
            return rd_fail(r, CLV_ENOMEM, "out of memory");
        if (!clv_onnx__strset_has(&r->used, tp->name))
            continue; /* unused weights are dropped */
        rc = rd_tensor(r, tp, tp->name, "initializer", NULL);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        rc = rd_input(r, gp->input[i], i);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        if (is_constant(np)) {
            rc = rd_constant(r, np, i);
            if (rc)
                return rc;
            continue;
        }
        for (size_t k = 0; k < np->n_output; k++) {
            const char *o = np->output[k];
            char nl[300];
            if (!o || !o[0])
                continue;
            if (clv_graph_find_tensor(r->g, o) >= 0) {
                node_label(np, i, nl, sizeof nl);
                return rd_fail(r, CLV_EFORMAT,
                               "%s writes '%s', which another node, an input "
                               "or an initializer already provides",
                               nl, o);
            }
            rc = clv_graph_add_tensor(r->g, o, CLV_DT_UNDEFINED, -1, NULL,
                                      NULL, r->err);
            if (rc)
                return rd_prefix(r, rc);
        }
    }

    /* Pass 2: the nodes. */
    for (size_t i = 0; i < gp->n_node; i++) {
        if (is_constant(gp->node[i]))
            continue;
        rc = rd_node(r, gp->node[i], i);
        if (rc)
            return rc;
    }

    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name;
        int id;
        if (!name || !name[0])
            return rd_fail(r, CLV_EFORMAT, "graph output #%zu has no name",
                           i);
        id = clv_graph_find_tensor(r->g, name);
        if (id < 0)
            return rd_fail(r, CLV_EFORMAT,
                           "graph output '%s' is not made by any node, input "
                           "or initializer",
                           name);
        if (clv_graph_tensor(r->g, id)->flags & CLV_TENSOR_OUTPUT)
            continue;
        if (clv_graph_mark_output(r->g, id))
            return rd_fail(r, CLV_EINVAL, "cannot mark output '%s'", name);
    }
    return 0;
}

/* Reads a protobuf varint at p[*at..n); false when it runs past n or
 * past 10 bytes. */
static bool head_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *at < n; shift += 7) {
        uint8_t b = p[(*at)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* Whether the first bytes `p[0..n)` of a file of `size` bytes begin like
 * an ONNX ModelProto: a field ModelProto has, with its wire type, and a
 * length that fits in the file. Catches a file that is not a model
 * before it is read whole (protobuf has no magic number). */
static bool head_is_model(const uint8_t *p, size_t n, uint64_t size)
{
    static const struct {
        uint8_t field, wire;
    } known[] = {{1, 0}, {2, 2}, {3, 2},  {4, 2},  {5, 0},  {6, 2},
                 {7, 2}, {8, 2}, {14, 2}, {20, 2}, {25, 2}};
    size_t at = 0;
    uint64_t tag, v;
    if (!head_varint(p, n, &at, &tag))
        return false;
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok |= (tag >> 3) == known[i].field && (tag & 7) == known[i].wire;
    if (!ok || !head_varint(p, n, &at, &v))
        return false;
    return (tag & 7) != 2 || v <= size - at;
}

int clv_load_onnx_mem(const void *buf, size_t len, const char *label,
                      const char *dir, clv_graph **out, clv_error *err)
{
    reader r;
    Onnx__ModelProto *m = NULL;
    int rc;

    memset(&r, 0, sizeof r);
    r.label = label ? label : "model";
    r.dir = dir;
    r.err = err;
    if (out)
        *out = NULL;
    if (!out || (!buf && len))
        return clv_error_set(err, CLV_EINVAL, "%s: no buffer or no output",
                             r.label);
    if ((uint64_t)len > CLV_ONNX_MAX_FILE)
        return rd_fail(&r, CLV_ELIMIT,
                       "larger than the limit of %llu bytes",
                       (unsigned long long)CLV_ONNX_MAX_FILE);
    if (!head_is_model(buf, len < 32 ? len : 32, len))
        return rd_fail(&r, CLV_EFORMAT,
                       len ? "not an ONNX model (its first bytes are no "
                             "ONNX protobuf field)"
                           : "an empty file, not an ONNX model");

    rc = clv_onnx__check_depth(&onnx__model_proto__descriptor, buf, len);
    if (rc == CLV_ELIMIT)
        return rd_fail(&r, CLV_EFORMAT,
                       "not a valid ONNX protobuf (messages nested deeper "
                       "than %d levels)",
                       CLV_ONNX_MAX_DEPTH);
    if (rc)
        return rd_fail(&r, CLV_EFORMAT,
                       "not a valid ONNX protobuf (truncated or corrupt)");
    m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m)
        return rd_fail(&r, CLV_EFORMAT,
                       "not a valid ONNX protobuf (truncated or corrupt)");

    rc = rd_versions(&r, m);
    if (rc)
        goto fail;
    if (!m->graph) {
        rc = rd_fail(&r, CLV_EFORMAT, "has no graph (truncated or corrupt)");
        goto fail;
    }
    if (m->graph->n_node == 0) {
        rc = rd_fail(&r, CLV_EFORMAT,
                     "has no nodes: nothing to run or to split");
        goto fail;
    }
    r.g = clv_graph_create();
    if (!r.g) {
        rc = rd_fail(&r, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    clv_graph_set_opset(r.g, r.opset);
    rc = rd_graph(&r, m->graph);
    if (rc)
        goto fail;
    rc = clv_graph_finalize(r.g, err);
    if (rc) {
        rd_prefix(&r, rc);
        goto fail;
    }
    onnx__model_proto__free_unpacked(m, NULL);
    clv_onnx__strset_free(&r.used);
    clv_onnx__strset_free(&r.inits);
    *out = r.g;
    return 0;

fail:
    clv_graph_free(r.g);
    if (m)
        onnx__model_proto__free_unpacked(m, NULL);
    clv_onnx__strset_free(&r.used);
    clv_onnx__strset_free(&r.inits);
    return rc;
}

int clv_load_onnx(const char *path, clv_graph **out, clv_error *err)
{
    char *buf = NULL, *dir = NULL;
    size_t len = 0;
    int rc;

    if (out)
        *out = NULL;
    if (!path || !out)
        return clv_error_set(err, CLV_EINVAL, "clv_load_onnx: no path");
    /* the first bytes and the size before the rest: a file that is no
     * model, or too large, is refused without being read whole */
    uint8_t head[32];
    size_t got = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        got = fread(head, 1, sizeof head, f);
        struct stat st;
        bool reg = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
        fclose(f);
        if (reg && (uint64_t)st.st_size <= CLV_ONNX_MAX_FILE &&
            !head_is_model(head, got, (uint64_t)st.st_size))
            return clv_error_set(err, CLV_EFORMAT,
                                 got ? "%s: not an ONNX model (its first "
                                       "bytes are no ONNX protobuf field)"
                                     : "%s: an empty file, not an ONNX "
                                       "model",
                                 path);
    }
    rc = clv_util_read_file(path, CLV_ONNX_MAX_FILE, &buf, &len, err);
    if (rc)
        return rc;
    const char *slash = strrchr(path, '/');
    if (!slash)
        dir = clv_util_strdup(".");
    else if (slash == path)
        dir = clv_util_strdup("/");
    else
        dir = clv_util_strndup(path, (size_t)(slash - path));
    if (!dir) {
        free(buf);
        return clv_error_set(err, CLV_ENOMEM, "%s: out of memory", path);
    }
    rc = clv_load_onnx_mem(buf, len, path, dir, out, err);
    free(dir);
    free(buf);
    return rc;
}
