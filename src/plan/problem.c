/* The planning problem: building, checking, problem files, and problems
 * made from a graph and two profiles. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "plan/internal.h"
#include "util/json.h"
#include "util/util.h"

#define PROBLEM_MAX_FILE ((uint64_t)256 << 20)
#define MAX_BYTES 9007199254740992.0 /* 2^53: exact in a JSON number */

/* ---- a name table: open addressing over an array of names -------------- */


typedef struct name_table {
    int *slot; /* index + 1, 0 = empty */
    size_t cap;
} name_table;

static int table_init(name_table *t, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 1)
        cap *= 2;
    t->slot = calloc(cap, sizeof *t->slot);
    t->cap = cap;
    return t->slot ? 0 : CLV_ENOMEM;
}

/* The index of `name` among names[], or -1; `names(i)` is given as an
 * array of pointers. */
static int table_find(const name_table *t, const char *const *names,
                      const char *name)
{
    if (!t->slot)
        return -1;
    size_t mask = t->cap - 1, h = (size_t)clv_util_hash_str(name) & mask;
    while (t->slot[h]) {
        int i = t->slot[h] - 1;
        if (strcmp(names[i], name) == 0)
            return i;
        h = (h + 1) & mask;
    }
    return -1;
}

static void table_insert(name_table *t, const char *name, int i)
{
    size_t mask = t->cap - 1, h = (size_t)clv_util_hash_str(name) & mask;
    while (t->slot[h])
        h = (h + 1) & mask;
    t->slot[h] = i + 1;
}

/* ---- building ------------------------------------------------------------ */

clv_problem *clv_problem_create(void)
{
    return calloc(1, sizeof(clv_problem));
}

void clv_problem_free(clv_problem *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_nodes; i++) {
        free(p->nodes[i].name);
        free(p->nodes[i].inputs);
    }
    free(p->nodes);
    free(p->hash);
    free(p->consumer_store);
    free(p->name);
    free(p);
}

int clv_problem_set_name(clv_problem *p, const char *name)
{
    char *copy = clv_util_strdup(name ? name : "");
    if (!copy)
        return CLV_ENOMEM;
    free(p->name);
    p->name = copy;
    return 0;
}

int clv_problem_set_frame_codec(clv_problem *p, const clv_codec *c,
                                clv_error *err)
{
    if (!p->graph || p->n_nodes < 1)
        return clv_error_set(err, CLV_EINVAL,
                             "a frame codec prices a problem made from a graph");
    const clv_tensor *in = clv_graph_tensor(p->graph, clv_graph_input(p->graph, 0));
    uint64_t bytes;
    char name[32];
    if (in->dtype != CLV_DT_FLOAT)
        return clv_error_set(err, CLV_EINVAL, "the input '%s' is %s, not float32",
                             in->name, clv_dtype_name(in->dtype));
    if (!clv_codec_fixed_bytes(c, in->ndim, in->dims, &bytes))
        return clv_error_set(err, CLV_EINVAL,
                             "%s: the frame's size depends on its values",
                             clv_codec_name(c, name, sizeof name));
    /* raw crosses without the codec's header (the wire's codec 0) */
    p->nodes[0].out_bytes = c->kind == CLV_CODEC_RAW ? clv_tensor_bytes(in) : bytes;
    return 0;
}

const char *clv_problem_name(const clv_problem *p)
{
    return p->name ? p->name : "";
}

/* Finds a node by name with the problem's own hash. */
int clv_problem_find(const clv_problem *p, const char *name)
{
    if (!p->hash || !name)
        return -1;
    size_t mask = p->hash_cap - 1, h = (size_t)clv_util_hash_str(name) & mask;
    while (p->hash[h]) {
        int i = p->hash[h] - 1;
        if (strcmp(p->nodes[i].name, name) == 0)
            return i;
        h = (h + 1) & mask;
    }
    return -1;
}

static int grow_hash(clv_problem *p)
{
    size_t cap = p->hash_cap ? p->hash_cap * 2 : 64;
    int *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return CLV_ENOMEM;
    for (int i = 0; i < p->n_nodes; i++) {
        size_t h = (size_t)clv_util_hash_str(p->nodes[i].name) & (cap - 1);
        while (slot[h])
            h = (h + 1) & (cap - 1);
        slot[h] = i + 1;
    }
    free(p->hash);
    p->hash = slot;
    p->hash_cap = cap;
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int clv_problem_add_node(clv_problem *p, const char *name, double t_edge_ms,
                         double t_cloud_ms, uint64_t out_bytes, int n_inputs,
                         const int *inputs, int *id, clv_error *err)
{
    if (p->finalized)
        return clv_error_set(err, CLV_EINVAL,
                             "cannot add node '%s' to a finalized problem",
                             name ? name : "");
    if (!name || !name[0])
        return clv_error_set(err, CLV_EINVAL,
                             "node %d: a node needs a non-empty name",
                             p->n_nodes);
    if (clv_problem_find(p, name) >= 0)
        return clv_error_set(err, CLV_EINVAL, "node '%s': duplicate name",
                             name);
    if (!isfinite(t_edge_ms) || t_edge_ms < 0 || !isfinite(t_cloud_ms) ||
        t_cloud_ms < 0)
        return clv_error_set(err, CLV_EINVAL,
                             "node '%s': times must be finite and >= 0 "
                             "(t_edge_ms %g, t_cloud_ms %g)",
                             name, t_edge_ms, t_cloud_ms);
    if (n_inputs < 0 || (n_inputs > 0 && !inputs))
        return clv_error_set(err, CLV_EINVAL, "node '%s': bad input list",
                             name);
    for (int k = 0; k < n_inputs; k++)
        if (inputs[k] < 0 || inputs[k] >= p->n_nodes)
            return clv_error_set(err, CLV_EINVAL,
                                 "node '%s': input %d is not an earlier "
                                 "node (there are %d)",
                                 name, inputs[k], p->n_nodes);

    if (p->n_nodes == p->cap_nodes) {
        int cap = p->cap_nodes ? 2 * p->cap_nodes : 16;
        clv_problem_node *nn = realloc(p->nodes, (size_t)cap * sizeof *nn);
        if (!nn)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        p->nodes = nn;
        p->cap_nodes = cap;
    }
    if ((size_t)(p->n_nodes + 1) * 2 > p->hash_cap && grow_hash(p))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");

    clv_problem_node *nd = &p->nodes[p->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->name = clv_util_strdup(name);
    if (n_inputs > 0)
        nd->inputs = malloc((size_t)n_inputs * sizeof *nd->inputs);
    if (!nd->name || (n_inputs > 0 && !nd->inputs)) {
        free(nd->name);
        free(nd->inputs);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    if (n_inputs > 0)
        memcpy(nd->inputs, inputs, (size_t)n_inputs * sizeof *nd->inputs);
    if (n_inputs > 1)
        qsort(nd->inputs, (size_t)n_inputs, sizeof *nd->inputs, cmp_int);
    int k = 0;
    for (int j = 0; j < n_inputs; j++)
        if (k == 0 || nd->inputs[k - 1] != nd->inputs[j])
            nd->inputs[k++] = nd->inputs[j];
    nd->n_inputs = k;
    nd->t_edge_ms = t_edge_ms;
    nd->t_cloud_ms = t_cloud_ms;
    nd->out_bytes = out_bytes;

    size_t mask = p->hash_cap - 1, h = (size_t)clv_util_hash_str(name) & mask;
    while (p->hash[h])
        h = (h + 1) & mask;
    p->hash[h] = p->n_nodes + 1;
    if (id)
        *id = p->n_nodes;
    p->n_nodes++;
    return 0;
}

int clv_problem_finalize(clv_problem *p, clv_error *err)
{
    if (p->finalized)
        return clv_error_set(err, CLV_EINVAL, "problem already finalized");
    if (p->n_nodes == 0)
        return clv_error_set(err, CLV_EINVAL, "the problem has no nodes");
    for (int i = 1; i < p->n_nodes; i++)
        if (p->nodes[i].n_inputs == 0)
            return clv_error_set(
                err, CLV_EINVAL,
                "two sources: nodes '%s' and '%s' both have no inputs "
                "(exactly one node, the frame, may have none)",
                p->nodes[0].name, p->nodes[i].name);
    /* Each time is finite; so must their sums be, and far from overflow:
     * the planners scale and round sums of times (a server that claims
     * 1e308 ms per node must not reach them). */
    double sum_edge = 0, sum_cloud = 0;
    for (int i = 0; i < p->n_nodes; i++) {
        sum_edge += p->nodes[i].t_edge_ms;
        sum_cloud += p->nodes[i].t_cloud_ms;
    }
    if (!(sum_edge <= CLV_PROBLEM_MAX_TOTAL_MS) ||
        !(sum_cloud <= CLV_PROBLEM_MAX_TOTAL_MS))
        return clv_error_set(err, CLV_EINVAL,
                             "the node times sum to %g ms on the edge and %g "
                             "ms on the cloud; at most %g ms is believable",
                             sum_edge, sum_cloud, CLV_PROBLEM_MAX_TOTAL_MS);
    size_t total = 0;
    for (int i = 0; i < p->n_nodes; i++)
        total += (size_t)p->nodes[i].n_inputs;
    int *store = malloc((total ? total : 1) * sizeof *store);
    if (!store)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < p->n_nodes; i++)
        p->nodes[i].n_consumers = 0;
    for (int i = 0; i < p->n_nodes; i++)
        for (int k = 0; k < p->nodes[i].n_inputs; k++)
            p->nodes[p->nodes[i].inputs[k]].n_consumers++;
    size_t at = 0;
    for (int i = 0; i < p->n_nodes; i++) {
        p->nodes[i].consumers = store + at;
        at += (size_t)p->nodes[i].n_consumers;
        p->nodes[i].n_consumers = 0;
    }
    /* consumers come out ascending because i ascends */
    for (int i = 0; i < p->n_nodes; i++)
        for (int k = 0; k < p->nodes[i].n_inputs; k++) {
            clv_problem_node *u = &p->nodes[p->nodes[i].inputs[k]];
            u->consumers[u->n_consumers++] = i;
        }
    p->consumer_store = store;
    p->finalized = true;
    return 0;
}

int clv_problem_n_nodes(const clv_problem *p)
{
    return p->n_nodes;
}

const clv_problem_node *clv_problem_node_at(const clv_problem *p, int i)
{
    if (i < 0 || i >= p->n_nodes)
        return NULL;
    return &p->nodes[i];
}

void clv_problem_set_link(clv_problem *p, const clv_link *link)
{
    p->has_link = link != NULL;
    if (link)
        p->link = *link;
}

bool clv_problem_link(const clv_problem *p, clv_link *out)
{
    if (p->has_link && out)
        *out = p->link;
    return p->has_link;
}

/* ---- problem files ------------------------------------------------------- */

static int check_header(const cJSON *root, const char *label,
                        const char *format, clv_error *err)
{
    if (!cJSON_IsObject(root))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: the top level must be a JSON object",
                             label);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsString(f) || strcmp(f->valuestring, format) != 0)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"format\" is %s%s%s, expected \"%s\"",
                             label, cJSON_IsString(f) ? "\"" : "",
                             cJSON_IsString(f) ? f->valuestring : "missing",
                             cJSON_IsString(f) ? "\"" : "", format);
    if (!cJSON_IsNumber(v) || v->valuedouble != 1.0)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: unsupported \"version\" (this reader "
                             "knows version 1)",
                             label);
    return 0;
}

/* A non-negative finite number field of node `who`. */
static int get_number(const cJSON *obj, const char *key, bool required,
                      double def, double *out, const char *label,
                      const char *who, clv_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) {
        if (required)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s: node '%s': \"%s\" is missing", label,
                                 who, key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: node '%s': \"%s\" must be a number", label,
                             who, key);
    if (!isfinite(it->valuedouble) || it->valuedouble < 0)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: node '%s': \"%s\" is %g; it must be "
                             "finite and >= 0",
                             label, who, key, it->valuedouble);
    *out = it->valuedouble;
    return 0;
}

static int parse_link(const cJSON *l, const char *label, clv_link *link,
                      clv_error *err)
{
    if (!cJSON_IsObject(l))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"link\" must be an object", label);
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(l, "bandwidth_mbps");
    const cJSON *rtt = cJSON_GetObjectItemCaseSensitive(l, "rtt_ms");
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(l, "count_result");
    if (!cJSON_IsNumber(bw) || !isfinite(bw->valuedouble) ||
        bw->valuedouble <= 0)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: link: \"bandwidth_mbps\" must be a "
                             "number > 0",
                             label);
    if (rtt && (!cJSON_IsNumber(rtt) || !isfinite(rtt->valuedouble) ||
                rtt->valuedouble < 0))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: link: \"rtt_ms\" must be a number >= 0",
                             label);
    if (cr && !cJSON_IsBool(cr))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: link: \"count_result\" must be true or "
                             "false",
                             label);
    link->bandwidth_mbps = bw->valuedouble;
    link->rtt_ms = rtt ? rtt->valuedouble : 0;
    link->count_result = cr && cJSON_IsTrue(cr);
    return 0;
}

/* Reports a cycle among the nodes left unsorted by the topological sort:
 * walk back along unsorted inputs until a node repeats. */
static int cycle_error(int n, const char *const *names, const int *in_start,
                       const int *in_idx, const int *indeg, bool no_source,
                       const char *label, clv_error *err)
{
    int start = -1;
    for (int i = 0; i < n && start < 0; i++)
        if (indeg[i] > 0)
            start = i;
    int *seen = calloc((size_t)n, sizeof *seen); /* step + 1 */
    int *path = malloc((size_t)n * sizeof *path);
    if (!seen || !path) {
        free(seen);
        free(path);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    int len = 0, v = start;
    while (!seen[v]) {
        seen[v] = ++len;
        path[len - 1] = v;
        int next = -1;
        for (int k = in_start[v]; k < in_start[v + 1]; k++)
            if (indeg[in_idx[k]] > 0) {
                next = in_idx[k];
                break;
            }
        v = next; /* an unsorted node always has an unsorted input */
    }
    /* path[seen[v]-1 .. len-1] walks the cycle backwards (input of) */
    char msg[CLV_ERROR_MSG_MAX];
    size_t at = 0;
    msg[0] = '\0';
    for (int k = len - 1; k >= seen[v] - 1 && at < sizeof msg - 8; k--) {
        int w = snprintf(msg + at, sizeof msg - at, "'%s' -> ",
                         names[path[k]]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    if (at < sizeof msg)
        snprintf(msg + at, sizeof msg - at, "'%s'", names[path[len - 1]]);
    free(seen);
    free(path);
    return clv_error_set(err, CLV_ECYCLE,
                         "%s: %sthe nodes form a cycle: %s (each feeds the "
                         "next)",
                         label,
                         no_source ? "no source (every node has inputs): "
                                   : "",
                         msg);
}

int clv_problem_parse(const char *text, size_t len, const char *label,
                      clv_problem **out, clv_error *err)
{
    cJSON *root = NULL;
    clv_problem *p = NULL;
    const char **names = NULL;
    const cJSON **objs = NULL;
    int *in_start = NULL, *in_idx = NULL, *indeg = NULL, *order = NULL,
        *pos = NULL, *cons_start = NULL, *cons = NULL, *tmp = NULL;
    name_table tab = {NULL, 0};
    int rc, n = 0;

    *out = NULL;
    if (!label)
        label = "problem";
    if ((rc = clv_util_json_parse(text, len, label, &root, err)))
        return rc;
    if ((rc = check_header(root, label, "cleave-problem", err)))
        goto fail;
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) == 0) {
        rc = clv_error_set(err, CLV_EFORMAT,
                           "%s: \"nodes\" must be a non-empty array", label);
        goto fail;
    }
    n = cJSON_GetArraySize(nodes);
    names = calloc((size_t)n, sizeof *names);
    objs = calloc((size_t)n, sizeof *objs);
    in_start = calloc((size_t)n + 1, sizeof *in_start);
    indeg = calloc((size_t)n, sizeof *indeg);
    order = malloc((size_t)n * sizeof *order);
    pos = malloc((size_t)n * sizeof *pos);
    cons_start = calloc((size_t)n + 1, sizeof *cons_start);
    if (!names || !objs || !in_start || !indeg || !order || !pos ||
        !cons_start || table_init(&tab, (size_t)n)) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }

    /* names, unique */
    int i = 0;
    const cJSON *it;
    size_t n_in = 0;
    cJSON_ArrayForEach(it, nodes)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (!cJSON_IsObject(it) || !cJSON_IsString(nm) ||
            !nm->valuestring[0]) {
            rc = clv_error_set(err, CLV_EFORMAT,
                               "%s: node %d (counting from 0) needs a "
                               "non-empty string \"name\"",
                               label, i);
            goto fail;
        }
        int prev = table_find(&tab, names, nm->valuestring);
        if (prev >= 0) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: node '%s': duplicate name (nodes %d and "
                               "%d, counting from 0)",
                               label, nm->valuestring, prev, i);
            goto fail;
        }
        names[i] = nm->valuestring;
        objs[i] = it;
        table_insert(&tab, names[i], i);
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(it, "inputs");
        if (ins && !cJSON_IsArray(ins)) {
            rc = clv_error_set(err, CLV_EFORMAT,
                               "%s: node '%s': \"inputs\" must be an array "
                               "of node names",
                               label, names[i]);
            goto fail;
        }
        in_start[i + 1] = ins ? cJSON_GetArraySize(ins) : 0;
        n_in += (size_t)in_start[i + 1];
        i++;
    }
    for (i = 0; i < n; i++)
        in_start[i + 1] += in_start[i];
    in_idx = malloc((n_in ? n_in : 1) * sizeof *in_idx);
    cons = malloc((n_in ? n_in : 1) * sizeof *cons);
    tmp = malloc(((n_in ? n_in : 1) + 1) * sizeof *tmp);
    if (!in_idx || !cons || !tmp) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }

    /* inputs by name; times and bytes checked */
    for (i = 0; i < n; i++) {
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(objs[i], "inputs");
        int k = in_start[i];
        const cJSON *x;
        cJSON_ArrayForEach(x, ins)
        {
            if (!cJSON_IsString(x)) {
                rc = clv_error_set(err, CLV_EFORMAT,
                                   "%s: node '%s': \"inputs\" must hold node "
                                   "names (strings)",
                                   label, names[i]);
                goto fail;
            }
            int j = table_find(&tab, names, x->valuestring);
            if (j < 0) {
                rc = clv_error_set(err, CLV_EINVAL,
                                   "%s: node '%s': input '%s' is not a node "
                                   "of the problem",
                                   label, names[i], x->valuestring);
                goto fail;
            }
            if (j == i) {
                rc = clv_error_set(err, CLV_ECYCLE,
                                   "%s: node '%s' reads its own output (a "
                                   "cycle)",
                                   label, names[i]);
                goto fail;
            }
            in_idx[k++] = j;
        }
        double te, tc, bytes;
        if ((rc = get_number(objs[i], "t_edge_ms", true, 0, &te, label,
                             names[i], err)) ||
            (rc = get_number(objs[i], "t_cloud_ms", true, 0, &tc, label,
                             names[i], err)) ||
            (rc = get_number(objs[i], "out_bytes", true, 0, &bytes, label,
                             names[i], err)))
            goto fail;
        if (bytes > MAX_BYTES || bytes != floor(bytes)) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: node '%s': \"out_bytes\" must be a whole "
                               "number up to 2^53 (got %g)",
                               label, names[i], bytes);
            goto fail;
        }
    }

    /* sources: nodes without inputs; exactly one */
    int first_src = -1;
    for (i = 0; i < n; i++) {
        if (in_start[i + 1] != in_start[i])
            continue;
        if (first_src >= 0) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: two sources: nodes '%s' and '%s' both "
                               "have no inputs (exactly one node, the frame, "
                               "may have none)",
                               label, names[first_src], names[i]);
            goto fail;
        }
        first_src = i;
    }

    /* topological order (Kahn), file order among ready nodes */
    for (i = 0; i < n; i++)
        for (int k = in_start[i]; k < in_start[i + 1]; k++)
            cons_start[in_idx[k] + 1]++;
    for (i = 0; i < n; i++)
        cons_start[i + 1] += cons_start[i];
    for (i = 0; i < n; i++)
        pos[i] = cons_start[i];
    for (i = 0; i < n; i++)
        for (int k = in_start[i]; k < in_start[i + 1]; k++)
            cons[pos[in_idx[k]]++] = i;
    for (i = 0; i < n; i++)
        indeg[i] = in_start[i + 1] - in_start[i];
    int head = 0, tail = 0;
    for (i = 0; i < n; i++)
        if (indeg[i] == 0)
            order[tail++] = i;
    while (head < tail) {
        int v = order[head++];
        for (int k = cons_start[v]; k < cons_start[v + 1]; k++)
            if (--indeg[cons[k]] == 0)
                order[tail++] = cons[k];
    }
    if (first_src < 0 || tail < n) {
        rc = cycle_error(n, names, in_start, in_idx, indeg, first_src < 0,
                         label, err);
        goto fail;
    }

    /* build the problem in topological order */
    p = clv_problem_create();
    if (!p) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(nm) && clv_problem_set_name(p, nm->valuestring)) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    for (int r = 0; r < n; r++)
        pos[order[r]] = r;
    for (int r = 0; r < n; r++) {
        int v = order[r], k = 0;
        double te, tc, bytes;
        for (int j = in_start[v]; j < in_start[v + 1]; j++)
            tmp[k++] = pos[in_idx[j]];
        get_number(objs[v], "t_edge_ms", true, 0, &te, label, names[v], err);
        get_number(objs[v], "t_cloud_ms", true, 0, &tc, label, names[v], err);
        get_number(objs[v], "out_bytes", true, 0, &bytes, label, names[v],
                   err);
        if ((rc = clv_problem_add_node(p, names[v], te, tc, (uint64_t)bytes,
                                       k, tmp, NULL, err))) {
            clv_error_prefix(err, "%s: ", label);
            goto fail;
        }
    }
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "link");
    if (l) {
        clv_link link;
        if ((rc = parse_link(l, label, &link, err)))
            goto fail;
        clv_problem_set_link(p, &link);
    }
    if ((rc = clv_problem_finalize(p, err))) {
        clv_error_prefix(err, "%s: ", label);
        goto fail;
    }
    *out = p;
    p = NULL;
    rc = 0;

fail:
    clv_problem_free(p);
    free(names);
    free(objs);
    free(in_start);
    free(in_idx);
    free(indeg);
    free(order);
    free(pos);
    free(cons_start);
    free(cons);
    free(tmp);
    free(tab.slot);
    cJSON_Delete(root);
    return rc;
}

int clv_problem_load(const char *path, clv_problem **out, clv_error *err)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = clv_util_read_file(path, PROBLEM_MAX_FILE, &text, &len, err);
    if (rc)
        return rc;
    rc = clv_problem_parse(text, len, path, out, err);
    free(text);
    return rc;
}

char *clv_problem_to_json(const clv_problem *p)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (!root)
        return NULL;
    bool ok = cJSON_AddStringToObject(root, "format", "cleave-problem") &&
              cJSON_AddNumberToObject(root, "version", 1) &&
              cJSON_AddStringToObject(root, "name", clv_problem_name(p));
    if (ok && p->has_link) {
        cJSON *l = cJSON_AddObjectToObject(root, "link");
        ok = l && cJSON_AddNumberToObject(l, "bandwidth_mbps",
                                          p->link.bandwidth_mbps) &&
             cJSON_AddNumberToObject(l, "rtt_ms", p->link.rtt_ms) &&
             cJSON_AddBoolToObject(l, "count_result", p->link.count_result);
    }
    cJSON *nodes = ok ? cJSON_AddArrayToObject(root, "nodes") : NULL;
    ok = nodes != NULL;
    for (int i = 0; ok && i < p->n_nodes; i++) {
        const clv_problem_node *nd = &p->nodes[i];
        cJSON *o = cJSON_CreateObject();
        if (!(ok = clv_util_json_append(nodes, o)))
            break;
        ok = cJSON_AddStringToObject(o, "name", nd->name) &&
             cJSON_AddNumberToObject(o, "t_edge_ms", nd->t_edge_ms) &&
             cJSON_AddNumberToObject(o, "t_cloud_ms", nd->t_cloud_ms) &&
             cJSON_AddNumberToObject(o, "out_bytes", (double)nd->out_bytes);
        cJSON *ins = ok ? cJSON_AddArrayToObject(o, "inputs") : NULL;
        ok = ins != NULL;
        for (int k = 0; ok && k < nd->n_inputs; k++) {
            ok = clv_util_json_append(
                ins, cJSON_CreateString(p->nodes[nd->inputs[k]].name));
        }
    }
    if (ok)
        text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

int clv_problem_save(const clv_problem *p, const char *path, clv_error *err)
{
    char *text = clv_problem_to_json(p);
    if (!text)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(text);
        return clv_error_set(err, CLV_EIO, "%s: cannot write: %s", path,
                             strerror(errno));
    }
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF;
    ok = (fclose(f) == 0) && ok;
    free(text);
    if (!ok)
        return clv_error_set(err, CLV_EIO, "%s: write failed: %s", path,
                             strerror(errno));
    return 0;
}

/* ---- problems from a graph ----------------------------------------------- */

int clv_problem_from_graph(const clv_graph *g, const double *t_edge_ms,
                           const double *t_cloud_ms, clv_problem **out,
                           clv_error *err)
{
    clv_problem *p = NULL;
    int *ins = NULL;
    char *src_name = NULL;
    int rc;

    *out = NULL;
    if (!clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "planning needs a finalized graph");
    if (clv_graph_n_inputs(g) != 1)
        return clv_error_set(err, CLV_EUNSUPPORTED,
                             "model '%s': planning needs exactly one "
                             "run-time input (the frame); it has %d",
                             clv_graph_name(g), clv_graph_n_inputs(g));
    int n = clv_graph_n_nodes(g), max_in = 1;
    int in_tensor = clv_graph_input(g, 0);
    const clv_tensor *it = clv_graph_tensor(g, in_tensor);
    for (int i = 0; i < n; i++)
        if (clv_graph_node(g, i)->n_inputs > max_in)
            max_in = clv_graph_node(g, i)->n_inputs;
    p = clv_problem_create();
    ins = malloc((size_t)max_in * sizeof *ins);
    size_t nl = strlen(it->name);
    src_name = malloc(nl + sizeof ":input");
    if (!p || !ins || !src_name) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    memcpy(src_name, it->name, nl + 1);
    for (int i = 0; i < n; i++)
        if (strcmp(clv_graph_node(g, i)->name, src_name) == 0) {
            memcpy(src_name + nl, ":input", sizeof ":input");
            break;
        }
    if ((rc = clv_problem_set_name(p, clv_graph_name(g))) ||
        (rc = clv_problem_add_node(p, src_name, 0, 0, clv_tensor_bytes(it),
                                   0, NULL, NULL, err)))
        goto fail;
    for (int i = 0; i < n; i++) {
        const clv_node *nd = clv_graph_node(g, i);
        int k = 0;
        for (int j = 0; j < nd->n_inputs; j++) {
            if (nd->inputs[j] < 0)
                continue;
            const clv_tensor *t = clv_graph_tensor(g, nd->inputs[j]);
            if (t->flags & CLV_TENSOR_CONST)
                continue;
            if (t->producer >= 0)
                ins[k++] = t->producer + 1;
            else if (t->flags & CLV_TENSOR_INPUT)
                ins[k++] = 0;
        }
        if (k == 0)
            ins[k++] = 0;
        if ((rc = clv_problem_add_node(p, nd->name, t_edge_ms[i],
                                       t_cloud_ms[i], nd->out_bytes, k, ins,
                                       NULL, err)))
            goto fail;
    }
    if ((rc = clv_problem_finalize(p, err)))
        goto fail;
    p->graph = g;
    *out = p;
    p = NULL;
    rc = 0;
fail:
    if (rc == CLV_ENOMEM && err && !err->msg[0])
        clv_error_set(err, CLV_ENOMEM, "out of memory");
    clv_problem_free(p);
    free(ins);
    free(src_name);
    return rc;
}

/* Reads the "ms" of every node of a profile into a table by name. */
typedef struct profile {
    cJSON *root;
    const char **names;
    double *ms;
    int n;
    name_table tab;
} profile;

static void profile_free(profile *pr)
{
    cJSON_Delete(pr->root);
    free(pr->names);
    free(pr->ms);
    free(pr->tab.slot);
}

static int profile_load(const char *path, profile *pr, clv_error *err)
{
    char *text = NULL;
    size_t len;
    int rc;
    memset(pr, 0, sizeof *pr);
    if ((rc = clv_util_read_file(path, PROBLEM_MAX_FILE, &text, &len, err)))
        return rc;
    rc = clv_util_json_parse(text, len, path, &pr->root, err);
    free(text);
    if (rc)
        return rc;
    if ((rc = check_header(pr->root, path, "cleave-profile", err)))
        return rc;
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(pr->root, "nodes");
    if (!cJSON_IsArray(nodes))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"nodes\" must be an array", path);
    int n = cJSON_GetArraySize(nodes);
    pr->names = calloc((size_t)n + 1, sizeof *pr->names);
    pr->ms = calloc((size_t)n + 1, sizeof *pr->ms);
    if (!pr->names || !pr->ms || table_init(&pr->tab, (size_t)n))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, nodes)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (!cJSON_IsString(nm))
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s: node %d (counting from 0) has no "
                                 "string \"name\"",
                                 path, pr->n);
        double ms;
        if ((rc = get_number(it, "ms", true, 0, &ms, path, nm->valuestring,
                             err)))
            return rc;
        if (table_find(&pr->tab, pr->names, nm->valuestring) >= 0)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s: node '%s' is listed twice", path,
                                 nm->valuestring);
        pr->names[pr->n] = nm->valuestring;
        pr->ms[pr->n] = ms;
        table_insert(&pr->tab, nm->valuestring, pr->n);
        pr->n++;
    }
    return 0;
}

int clv_problem_from_profiles(const clv_graph *g, const char *edge_profile,
                              const char *cloud_profile, clv_problem **out,
                              clv_error *err)
{
    profile pe, pc;
    double *te = NULL, *tc = NULL;
    int rc;
    memset(&pc, 0, sizeof pc);
    *out = NULL;
    if ((rc = profile_load(edge_profile, &pe, err)) ||
        (rc = profile_load(cloud_profile, &pc, err)))
        goto fail;
    int n = clv_graph_n_nodes(g);
    te = malloc(((size_t)n + 1) * sizeof *te);
    tc = malloc(((size_t)n + 1) * sizeof *tc);
    if (!te || !tc) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const char *name = clv_graph_node(g, i)->name;
        int a = table_find(&pe.tab, pe.names, name);
        int b = table_find(&pc.tab, pc.names, name);
        if (a < 0 || b < 0) {
            rc = clv_error_set(err, CLV_ENOTFOUND,
                               "%s: node '%s' of the model is missing from "
                               "the profile",
                               a < 0 ? edge_profile : cloud_profile, name);
            goto fail;
        }
        te[i] = pe.ms[a];
        tc[i] = pc.ms[b];
    }
    rc = clv_problem_from_graph(g, te, tc, out, err);
fail:
    profile_free(&pe);
    profile_free(&pc);
    free(te);
    free(tc);
    return rc;
}
