/* Profiles: the struct, profile files (docs/profile.md), annotation from a
 * graph, op classes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/internal.h"
#include "util/json.h"
#include "util/util.h"

/* ---- the struct ---------------------------------------------------------- */

void clv_profile_init(clv_profile *p)
{
    memset(p, 0, sizeof *p);
}

void clv_profile_release(clv_profile *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_nodes; i++) {
        free(p->nodes[i].name);
        free(p->nodes[i].op);
        free(p->nodes[i].op_class);
    }
    free(p->nodes);
    free(p->model);
    free(p->device);
    free(p->predicted_by);
    clv_profile_init(p);
}

int clv_profile_find(const clv_profile *p, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < p->n_nodes; i++)
        if (p->nodes[i].name && strcmp(p->nodes[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- JSON helpers shared by the module ------------------------------------ */

int clv_profile__parse_json(const char *text, size_t len, const char *label,
                            cJSON **out, clv_error *err)
{
    return clv_util_json_parse(text, len, label, out, err);
}

int clv_profile__check_header(const cJSON *root, const char *label,
                              const char *format, clv_error *err)
{
    if (!cJSON_IsObject(root))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: the top level must be a JSON object",
                             label);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsString(f))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"format\" is missing; expected \"%s\"",
                             label, format);
    if (strcmp(f->valuestring, format) != 0)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"format\" is \"%s\", expected \"%s\"",
                             label, f->valuestring, format);
    if (!cJSON_IsNumber(v))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"version\" is missing or not a number",
                             label);
    if (v->valuedouble != 1.0)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: unsupported \"version\" %g (this reader "
                             "knows version 1)",
                             label, v->valuedouble);
    return 0;
}

int clv_profile__number(const cJSON *obj, const char *key, bool required,
                        bool integer, bool null_ok, double def, double *out,
                        const char *label, const char *where,
                        clv_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || (null_ok && cJSON_IsNull(it))) {
        if (required && !it)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s: %s: \"%s\" is missing", label, where,
                                 key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s: \"%s\" must be a number%s", label,
                             where, key, null_ok ? " or null" : "");
    double v = it->valuedouble;
    if (!isfinite(v) || v < 0)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: %s: \"%s\" is %g; it must be finite and "
                             ">= 0",
                             label, where, key, v);
    if (integer && (v != floor(v) || v > CLV_PROFILE__MAX_INT))
        return clv_error_set(err, CLV_EINVAL,
                             "%s: %s: \"%s\" is %g; it must be a whole "
                             "number <= 2^53",
                             label, where, key, v);
    *out = v;
    return 0;
}

int clv_profile__write_text(const char *path, const char *text,
                            clv_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return clv_error_set(err, CLV_EIO, "%s: cannot create: %s", path,
                             strerror(errno));
    size_t len = strlen(text);
    int bad = fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad)
        return clv_error_set(err, CLV_EIO, "%s: write failed: %s", path,
                             strerror(e));
    return 0;
}

/* ---- reading -------------------------------------------------------------- */

static int get_string(const cJSON *obj, const char *key, bool required,
                      char **out, const char *label, const char *where,
                      clv_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!it || (!required && cJSON_IsNull(it))) {
        if (required)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s: %s: \"%s\" is missing", label, where,
                                 key);
        return 0;
    }
    if (!cJSON_IsString(it))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s: \"%s\" must be a string", label, where,
                             key);
    *out = clv_util_strdup(it->valuestring);
    if (!*out)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    return 0;
}

int clv_profile__named_object(const cJSON *it, const char *what, int index,
                              const char *label, const char **name,
                              char *where, size_t len, clv_error *err)
{
    if (!cJSON_IsObject(it))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s %d (counting from 0) is not an object",
                             label, what, index);
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
    if (!cJSON_IsString(nm) || !nm->valuestring[0])
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s %d (counting from 0) has no non-empty "
                             "string \"name\"",
                             label, what, index);
    *name = nm->valuestring;
    snprintf(where, len, "%s '%.120s'", what, nm->valuestring);
    return 0;
}

static int parse_node(const cJSON *it, int index, const char *label,
                      clv_profile_node *nd, clv_error *err)
{
    char where[160];
    const char *name;
    double v;
    int rc = clv_profile__named_object(it, "node", index, label, &name, where,
                                       sizeof where, err);
    if (rc)
        return rc;
    nd->name = clv_util_strdup(name);
    if (!nd->name)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if ((rc = get_string(it, "op", true, &nd->op, label, where, err)) ||
        (rc = get_string(it, "class", false, &nd->op_class, label, where,
                         err)))
        return rc;
    if ((rc = clv_profile__number(it, "ms", true, false, false, 0,
                                  &nd->ms, label, where, err)))
        return rc;
    if ((rc = clv_profile__number(it, "out_bytes", true, true, false, 0, &v,
                                  label, where, err)))
        return rc;
    nd->out_bytes = (uint64_t)v;
    if ((rc = clv_profile__number(it, "flops", true, true, false, 0, &v,
                                  label, where, err)))
        return rc;
    nd->flops = (uint64_t)v;
    if ((rc = clv_profile__number(it, "in_bytes", false, true, false, 0, &v,
                                  label, where, err)))
        return rc;
    nd->in_bytes = (uint64_t)v;
    if ((rc = clv_profile__number(it, "param_bytes", false, true, false, 0,
                                  &v, label, where, err)))
        return rc;
    nd->param_bytes = (uint64_t)v;
    return 0;
}

/* Names must be unique: sort pointers to them and compare neighbours. */
static int cmp_names(const void *a, const void *b)
{
    const clv_profile_node *x = *(const clv_profile_node *const *)a;
    const clv_profile_node *y = *(const clv_profile_node *const *)b;
    return strcmp(x->name, y->name);
}

static int check_unique(const clv_profile *p, const char *label,
                        clv_error *err)
{
    if (p->n_nodes < 2)
        return 0;
    const clv_profile_node **s = malloc((size_t)p->n_nodes * sizeof *s);
    if (!s)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < p->n_nodes; i++)
        s[i] = &p->nodes[i];
    qsort(s, (size_t)p->n_nodes, sizeof *s, cmp_names);
    int rc = 0;
    for (int i = 1; i < p->n_nodes; i++)
        if (strcmp(s[i - 1]->name, s[i]->name) == 0) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: node '%s' is listed twice", label,
                               s[i]->name);
            break;
        }
    free(s);
    return rc;
}

static int parse_root(const cJSON *root, const char *label, clv_profile *p,
                      clv_error *err)
{
    const char *who = "the profile";
    char *stat = NULL;
    double v;
    int rc;
    if ((rc = clv_profile__check_header(root, label, "cleave-profile", err)))
        return rc;
    if ((rc = get_string(root, "model", true, &p->model, label, who, err)) ||
        (rc = get_string(root, "device", true, &p->device, label, who,
                         err)) ||
        (rc = get_string(root, "predicted_by", false, &p->predicted_by,
                         label, who, err)))
        return rc;
    if ((rc = clv_profile__number(root, "threads", true, true, false, 0, &v,
                                  label, who, err)))
        return rc;
    if (v < 1 || v > 1e6)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: \"threads\" is %g; it must be 1 or more",
                             label, v);
    p->threads = (int)v;
    if ((rc = clv_profile__number(root, "runs", true, true, false, 0, &v,
                                  label, who, err)))
        return rc;
    if (v > CLV_PROFILE_MAX_RUNS)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: \"runs\" is %g; at most %d", label, v,
                             CLV_PROFILE_MAX_RUNS);
    p->runs = (int)v;
    if (p->runs == 0 && !p->predicted_by)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: \"runs\" is 0 but the profile has no "
                             "\"predicted_by\" (a measured profile has at "
                             "least one run)",
                             label);
    if ((rc = clv_profile__number(root, "warmup", false, true, false, 0, &v,
                                  label, who, err)))
        return rc;
    if (v > CLV_PROFILE_MAX_RUNS)
        return clv_error_set(err, CLV_EINVAL, "%s: \"warmup\" is %g; at most "
                             "%d", label, v, CLV_PROFILE_MAX_RUNS);
    p->warmup = (int)v;
    if (!cJSON_GetObjectItemCaseSensitive(root, "cpu_quota"))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: the profile: \"cpu_quota\" is missing "
                             "(null when unlimited)",
                             label);
    if ((rc = clv_profile__number(root, "cpu_quota", false, false, true, 0,
                                  &p->cpu_quota, label, who, err)) ||
        (rc = clv_profile__number(root, "slowdown", false, false, true, 0,
                                  &p->slowdown, label, who, err)))
        return rc;
    if (p->slowdown > 1)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: \"slowdown\" is %g; it must be in (0, 1] "
                             "or null",
                             label, p->slowdown);
    if ((rc = clv_profile__number(root, "input_bytes", true, true, false, 0,
                                  &v, label, who, err)))
        return rc;
    p->input_bytes = (uint64_t)v;
    if ((rc = clv_profile__number(root, "total_ms", true, false, false, 0,
                                  &p->total_ms, label, who, err)) ||
        (rc = clv_profile__number(root, "min_total_ms", false, false, true,
                                  0, &p->min_total_ms, label, who, err)) ||
        (rc = get_string(root, "node_stat", false, &stat, label, who,
                         err)))
        return rc;
    if (stat && strcmp(stat, "mean") != 0 && strcmp(stat, "median") != 0) {
        clv_error_set(err, CLV_EFORMAT,
                      "%s: \"node_stat\" is \"%s\"; it must be \"mean\" "
                      "or \"median\"",
                      label, stat);
        free(stat);
        return CLV_EFORMAT;
    }
    p->node_mean = stat && strcmp(stat, "mean") == 0;
    free(stat);

    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (!nodes)
        return clv_error_set(err, CLV_EFORMAT, "%s: \"nodes\" is missing",
                             label);
    if (!cJSON_IsArray(nodes))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"nodes\" must be an array", label);
    int n = cJSON_GetArraySize(nodes);
    if (n > 0) {
        p->nodes = calloc((size_t)n, sizeof *p->nodes);
        if (!p->nodes)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, nodes)
    {
        rc = parse_node(it, p->n_nodes, label, &p->nodes[p->n_nodes], err);
        p->n_nodes++; /* counted even on failure: release frees it */
        if (rc)
            return rc;
    }
    return check_unique(p, label, err);
}

int clv_profile_parse(const char *text, size_t len, const char *label,
                      clv_profile *out, clv_error *err)
{
    cJSON *root = NULL;
    int rc;
    if (!label)
        label = "profile";
    clv_profile_release(out);
    if ((rc = clv_profile__parse_json(text, len, label, &root, err)))
        return rc;
    rc = parse_root(root, label, out, err);
    cJSON_Delete(root);
    if (rc)
        clv_profile_release(out);
    return rc;
}

int clv_profile_load(const char *path, clv_profile *out, clv_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    clv_profile_release(out);
    if ((rc = clv_util_read_file(path, CLV_PROFILE__MAX_FILE, &text, &len,
                                 err)))
        return rc;
    rc = clv_profile_parse(text, len, path, out, err);
    free(text);
    return rc;
}

/* ---- writing -------------------------------------------------------------- */

/* Adds a number, or null for 0 when `zero_null`; false when out of
 * memory. */
static bool add_num(cJSON *o, const char *key, double v, bool zero_null)
{
    if (zero_null && v == 0)
        return cJSON_AddNullToObject(o, key) != NULL;
    return cJSON_AddNumberToObject(o, key, v) != NULL;
}

char *clv_profile_to_json(const clv_profile *p)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    bool ok = root != NULL;
    ok = ok && cJSON_AddStringToObject(root, "format", "cleave-profile");
    ok = ok && add_num(root, "version", 1, false);
    ok = ok && cJSON_AddStringToObject(root, "model",
                                       p->model ? p->model : "");
    ok = ok && cJSON_AddStringToObject(root, "device",
                                       p->device ? p->device : "");
    ok = ok && add_num(root, "threads", p->threads, false);
    ok = ok && add_num(root, "runs", p->runs, false);
    ok = ok && add_num(root, "warmup", p->warmup, false);
    ok = ok && add_num(root, "cpu_quota", p->cpu_quota, true);
    ok = ok && add_num(root, "slowdown", p->slowdown, true);
    if (p->predicted_by)
        ok = ok && cJSON_AddStringToObject(root, "predicted_by",
                                           p->predicted_by);
    ok = ok && add_num(root, "input_bytes", (double)p->input_bytes, false);
    cJSON *nodes = ok ? cJSON_AddArrayToObject(root, "nodes") : NULL;
    ok = ok && nodes;
    for (int i = 0; ok && i < p->n_nodes; i++) {
        const clv_profile_node *nd = &p->nodes[i];
        cJSON *o = cJSON_CreateObject();
        if (!(ok = clv_util_json_append(nodes, o)))
            break;
        ok = cJSON_AddStringToObject(o, "name", nd->name ? nd->name : "");
        ok = ok && cJSON_AddStringToObject(o, "op", nd->op ? nd->op : "");
        ok = ok && add_num(o, "ms", round(nd->ms * 1e6) / 1e6, false);
        ok = ok && add_num(o, "out_bytes", (double)nd->out_bytes, false);
        ok = ok && add_num(o, "flops", (double)nd->flops, false);
        ok = ok && add_num(o, "in_bytes", (double)nd->in_bytes, false);
        ok = ok && add_num(o, "param_bytes", (double)nd->param_bytes, false);
        if (nd->op_class)
            ok = ok && cJSON_AddStringToObject(o, "class", nd->op_class);
    }
    ok = ok && add_num(root, "total_ms", round(p->total_ms * 1e6) / 1e6,
                       false);
    if (p->min_total_ms > 0)
        ok = ok && add_num(root, "min_total_ms",
                           round(p->min_total_ms * 1e6) / 1e6, false);
    if (!p->predicted_by)
        ok = ok && cJSON_AddStringToObject(root, "node_stat",
                                           p->node_mean ? "mean" : "median");
    if (ok)
        text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

int clv_profile_save(const clv_profile *p, const char *path, clv_error *err)
{
    char *text = clv_profile_to_json(p);
    if (!text)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    int rc = clv_profile__write_text(path, text, err);
    cJSON_free(text);
    return rc;
}

/* ---- graph side ----------------------------------------------------------- */

uint64_t clv_profile__in_bytes(const clv_graph *g, int i)
{
    const clv_node *nd = clv_graph_node(g, i);
    uint64_t sum = 0;
    if (!nd)
        return 0;
    for (int k = 0; k < nd->n_inputs; k++) {
        int t = nd->inputs[k];
        bool seen = false;
        if (t < 0)
            continue;
        for (int j = 0; j < k && !seen; j++)
            seen = nd->inputs[j] == t;
        const clv_tensor *ts = clv_graph_tensor(g, t);
        if (!seen && ts && !(ts->flags & CLV_TENSOR_CONST))
            sum += clv_tensor_bytes(ts);
    }
    return sum;
}

const char *clv_profile_op_class(const clv_graph *g, int i)
{
    const clv_node *nd = clv_graph_node(g, i);
    if (!nd)
        return "?";
    if (nd->op != CLV_OP_CONV)
        return clv_op_name(nd->op);
    int64_t group = clv_node_int(nd, "group", 1);
    const clv_tensor *x =
        nd->n_inputs > 0 && nd->inputs[0] >= 0
            ? clv_graph_tensor(g, nd->inputs[0])
            : NULL;
    int64_t cin = x && x->ndim >= 2 ? x->dims[1] : -1;
    if (group > 1)
        return group == cin ? "ConvDepthwise" : "ConvGrouped";
    size_t nk = 0, ns = 0, np = 0;
    const int64_t *k = clv_node_ints(nd, "kernel_shape", &nk);
    const int64_t *s = clv_node_ints(nd, "strides", &ns);
    const int64_t *p = clv_node_ints(nd, "pads", &np);
    bool one = k && nk > 0;
    for (size_t j = 0; one && j < nk; j++)
        one = k[j] == 1;
    for (size_t j = 0; one && s && j < ns; j++)
        one = s[j] == 1;
    for (size_t j = 0; one && p && j < np; j++)
        one = p[j] == 0;
    return one ? "Conv1x1" : "Conv";
}

const char *clv_profile__family(const char *c)
{
    static const char *const act[] = {"Relu", "LeakyRelu", "PRelu",
                                      "Sigmoid", "Tanh", "Clip",
                                      "HardSigmoid", "HardSwish",
                                      "BatchNormalization"};
    static const char *const elt[] = {"Add", "Sub", "Mul", "Div"};
    static const char *const pool[] = {"MaxPool", "AveragePool",
                                       "GlobalAveragePool",
                                       "GlobalMaxPool", "LRN"};
    static const char *const move[] = {
        "Concat", "Flatten", "Reshape", "Transpose", "Dropout", "Identity",
        "Pad", "Resize", "Shape", "Gather", "Unsqueeze", "Squeeze", "Slice",
        "Split", "Cast", "Reorg"};
    if (strncmp(c, "Conv", 4) == 0 || !strcmp(c, "Gemm") ||
        !strcmp(c, "MatMul"))
        return "conv";
    for (size_t i = 0; i < sizeof act / sizeof *act; i++)
        if (!strcmp(c, act[i]))
            return "act";
    for (size_t i = 0; i < sizeof elt / sizeof *elt; i++)
        if (!strcmp(c, elt[i]))
            return "eltwise";
    for (size_t i = 0; i < sizeof pool / sizeof *pool; i++)
        if (!strcmp(c, pool[i]))
            return "pool";
    for (size_t i = 0; i < sizeof move / sizeof *move; i++)
        if (!strcmp(c, move[i]))
            return "move";
    return "other";
}

int clv_profile_annotate(clv_profile *p, const clv_graph *g, clv_error *err)
{
    if (!clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "clv_profile_annotate: the graph is not "
                             "finalized");
    int n = clv_graph_n_nodes(g);
    for (int i = 0; i < n; i++) {
        const clv_node *nd = clv_graph_node(g, i);
        int k = clv_profile_find(p, nd->name);
        if (k < 0)
            return clv_error_set(err, CLV_ENOTFOUND,
                                 "profile of '%s': node '%s' of the model "
                                 "is missing from the profile",
                                 p->model ? p->model : "?", nd->name);
        char *c = clv_util_strdup(clv_profile_op_class(g, i));
        if (!c)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        free(p->nodes[k].op_class);
        p->nodes[k].op_class = c;
        p->nodes[k].in_bytes = clv_profile__in_bytes(g, i);
        p->nodes[k].param_bytes = nd->param_bytes;
    }
    return 0;
}

int clv_profile_node_times(const clv_profile *p, const clv_graph *g,
                           double *ms, clv_error *err)
{
    int n = clv_graph_n_nodes(g);
    for (int i = 0; i < n; i++) {
        const char *name = clv_graph_node(g, i)->name;
        int k = clv_profile_find(p, name);
        if (k < 0)
            return clv_error_set(err, CLV_ENOTFOUND,
                                 "profile of '%s' on '%s': node '%s' of the "
                                 "model is missing from the profile",
                                 p->model ? p->model : "?",
                                 p->device ? p->device : "?", name);
        ms[i] = p->nodes[k].ms;
    }
    return 0;
}
