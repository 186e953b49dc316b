/* Tensors and plans on the wire, checked against the graph both sides run. */
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

int clv_net_tensor_from_graph(const clv_graph *g, int id, const void *data,
                              clv_net_tensor *out, clv_error *err)
{
    const clv_tensor *t = clv_graph_tensor(g, id);
    if (!t)
        return clv_error_set(err, CLV_EINVAL, "no tensor %d in the graph",
                             id);
    if (t->ndim < 0 || clv_dtype_size(t->dtype) == 0)
        return clv_error_set(err, CLV_EINVAL,
                             "tensor '%s' has no known shape or dtype",
                             t->name);
    memset(out, 0, sizeof *out);
    out->id = (uint32_t)id;
    out->name = t->name;
    out->dtype = t->dtype;
    out->codec = CLV_NET_CODEC_RAW;
    out->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0 || (uint64_t)t->dims[d] > CLV_NET_MAX_DIM)
            return clv_error_set(err, CLV_EINVAL,
                                 "tensor '%s': dim %d is %lld", t->name, d,
                                 (long long)t->dims[d]);
        out->dims[d] = t->dims[d];
    }
    out->nbytes = clv_tensor_bytes(t);
    out->data = data;
    return 0;
}

int clv_net_tensor_check(const clv_graph *g, const clv_net_tensor *t,
                         clv_error *err)
{
    const clv_tensor *gt =
        t->id <= (uint32_t)INT32_MAX ? clv_graph_tensor(g, (int)t->id) : NULL;
    if (!gt)
        return clv_error_set(err, CLV_EFORMAT,
                             "tensor id %u is not in the model",
                             (unsigned)t->id);
    if (gt->flags & CLV_TENSOR_CONST)
        return clv_error_set(err, CLV_EFORMAT,
                             "tensor '%s' is a constant of the model; it is "
                             "never sent",
                             gt->name);
    if (t->codec != CLV_NET_CODEC_RAW && gt->dtype != CLV_DT_FLOAT)
        return clv_error_set(err, CLV_EFORMAT,
                             "tensor '%s': codec %d on %s data; only float32 "
                             "tensors are encoded",
                             gt->name, t->codec, clv_dtype_name(gt->dtype));
    if (t->dtype != gt->dtype)
        return clv_error_set(err, CLV_EFORMAT,
                             "tensor '%s': %s data, the model has %s",
                             gt->name, clv_dtype_name(t->dtype),
                             clv_dtype_name(gt->dtype));
    bool same = t->ndim == gt->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = t->dims[d] == gt->dims[d];
    if (!same) {
        char want[128];
        clv_tensor_shape_str(gt, want, sizeof want);
        return clv_error_set(err, CLV_EFORMAT,
                             "tensor '%s': rank-%d data, the model's shape "
                             "is %s",
                             gt->name, t->ndim, want);
    }
    /* an encoded tensor's bytes describe themselves: its decoder checks
     * them against the shape */
    if (t->codec == CLV_NET_CODEC_RAW && t->nbytes != clv_tensor_bytes(gt))
        return clv_error_set(err, CLV_EFORMAT,
                             "tensor '%s': %llu bytes, the model's tensor "
                             "has %llu",
                             gt->name, (unsigned long long)t->nbytes,
                             (unsigned long long)clv_tensor_bytes(gt));
    return 0;
}

/* Checks one list: ids < n, each once, and for tensors, no constant. */
static int check_list(const clv_graph *g, const uint32_t *v, uint32_t count,
                      uint32_t n, bool tensors, const char *what,
                      clv_error *err)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    int rc = 0;
    if (!seen)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < count && !rc; i++) {
        if (v[i] >= n)
            rc = clv_error_set(err, CLV_EFORMAT,
                               "PLAN: %s entry %u is %u, the model has %u",
                               what, (unsigned)i, (unsigned)v[i],
                               (unsigned)n);
        else if (seen[v[i]])
            rc = clv_error_set(err, CLV_EFORMAT,
                               "PLAN: %s lists %u twice", what,
                               (unsigned)v[i]);
        else if (tensors &&
                 (clv_graph_tensor(g, (int)v[i])->flags & CLV_TENSOR_CONST))
            rc = clv_error_set(err, CLV_EFORMAT,
                               "PLAN: %s: tensor '%s' is a constant", what,
                               clv_graph_tensor(g, (int)v[i])->name);
        else
            seen[v[i]] = 1;
    }
    free(seen);
    return rc;
}

int clv_net_plan_check(const clv_graph *g, const clv_net_plan *plan,
                       clv_error *err)
{
    uint32_t nn = (uint32_t)clv_graph_n_nodes(g);
    uint32_t nt = (uint32_t)clv_graph_n_tensors(g);
    int rc;
    if ((rc = check_list(g, plan->nodes, plan->n_nodes, nn, false, "nodes",
                         err)) ||
        (rc = check_list(g, plan->inputs, plan->n_inputs, nt, true,
                         "inputs", err)) ||
        (rc = check_list(g, plan->outputs, plan->n_outputs, nt, true,
                         "outputs", err)))
        return rc;
    return 0;
}

int clv_net_plan_from_partition(const clv_partition *part, uint64_t version,
                                clv_net_plan *out, uint32_t **store,
                                clv_error *err)
{
    size_t n = (size_t)part->n_cloud + (size_t)part->n_send +
               (size_t)part->n_ret;
    uint32_t *s = malloc((n + 1) * sizeof *s);
    *store = s;
    if (!s)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    uint32_t *nodes = s, *in = nodes + part->n_cloud, *ret = in + part->n_send;
    for (int i = 0; i < part->n_cloud; i++)
        nodes[i] = (uint32_t)part->cloud_nodes[i];
    for (int i = 0; i < part->n_send; i++)
        in[i] = (uint32_t)part->send[i];
    for (int i = 0; i < part->n_ret; i++)
        ret[i] = (uint32_t)part->ret[i];
    out->version = version;
    out->n_nodes = (uint32_t)part->n_cloud;
    out->nodes = nodes;
    out->n_inputs = (uint32_t)part->n_send;
    out->inputs = in;
    out->n_outputs = (uint32_t)part->n_ret;
    out->outputs = ret;
    return 0;
}

/* True when list a (n entries, each once) holds exactly the ids of b. */
static bool same_ids(const uint32_t *a, uint32_t n, const int *b, int nb)
{
    if (n != (uint32_t)nb)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        bool found = false;
        for (int k = 0; k < nb && !found; k++)
            found = (uint32_t)b[k] == a[i];
        if (!found)
            return false;
    }
    return true;
}

int clv_net_plan_partition(const clv_graph *g, const clv_net_plan *plan,
                           clv_partition *out, clv_error *err)
{
    int rc = clv_net_plan_check(g, plan, err);
    if (rc)
        return rc;
    if (plan->n_nodes == 0)
        return clv_error_set(err, CLV_EFORMAT, "PLAN %llu has no cloud nodes",
                             (unsigned long long)plan->version);
    int *nodes = malloc(plan->n_nodes * sizeof *nodes);
    if (!nodes)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < plan->n_nodes; i++)
        nodes[i] = (int)plan->nodes[i];
    rc = clv_partition_from_cloud(g, nodes, (int)plan->n_nodes, out, err);
    free(nodes);
    if (rc) {
        clv_error_prefix(err, "PLAN %llu: ", (unsigned long long)plan->version);
        return rc;
    }
    if (!same_ids(plan->inputs, plan->n_inputs, out->send, out->n_send))
        rc = clv_error_set(err, CLV_EFORMAT,
                           "PLAN %llu: its cloud part reads %d tensors "
                           "from the edge; the PLAN's %u inputs are not those",
                           (unsigned long long)plan->version, out->n_send,
                           plan->n_inputs);
    else if (!same_ids(plan->outputs, plan->n_outputs, out->ret, out->n_ret))
        rc = clv_error_set(err, CLV_EFORMAT,
                           "PLAN %llu: its cloud part makes %d graph "
                           "outputs; the PLAN's %u outputs are not those",
                           (unsigned long long)plan->version, out->n_ret,
                           plan->n_outputs);
    if (rc)
        clv_partition_release(out);
    return rc;
}
