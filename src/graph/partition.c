/* Partitions of a graph into an edge part and a cloud part: made and
 * checked here, and nowhere else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/graph.h"

void clv_partition_init(clv_partition *p)
{
    memset(p, 0, sizeof *p);
}

void clv_partition_release(clv_partition *p)
{
    if (!p)
        return;
    free(p->on_edge);
    free(p->edge_nodes);
    free(p->cloud_nodes);
    free(p->send);
    free(p->ret);
    clv_partition_init(p);
}

/* Fills the lists of `p` from p->on_edge (set, n_nodes known). */
static int fill(const clv_graph *g, clv_partition *p, clv_error *err)
{
    int n = p->n_nodes, nt = clv_graph_n_tensors(g);
    unsigned char *sent = calloc((size_t)nt + 1, 1);
    p->edge_nodes = malloc(((size_t)n + 1) * sizeof *p->edge_nodes);
    p->cloud_nodes = malloc(((size_t)n + 1) * sizeof *p->cloud_nodes);
    p->send = malloc(((size_t)nt + 1) * sizeof *p->send);
    p->ret = malloc(((size_t)clv_graph_n_outputs(g) + 1) * sizeof *p->ret);
    if (!sent || !p->edge_nodes || !p->cloud_nodes || !p->send || !p->ret) {
        free(sent);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (p->on_edge[i]) {
            p->edge_nodes[p->n_edge++] = i;
            continue;
        }
        p->cloud_nodes[p->n_cloud++] = i;
        const clv_node *nd = clv_graph_node(g, i);
        for (int j = 0; j < nd->n_inputs; j++) {
            int t = nd->inputs[j];
            if (t < 0)
                continue;
            const clv_tensor *tt = clv_graph_tensor(g, t);
            if (tt->flags & CLV_TENSOR_CONST)
                continue;
            if (tt->producer >= 0 && !p->on_edge[tt->producer])
                continue;
            if (tt->producer < 0 && !(tt->flags & CLV_TENSOR_INPUT))
                continue;
            if (sent[t])
                continue;
            sent[t] = 1;
            p->send[p->n_send++] = t;
            p->send_bytes += clv_tensor_bytes(tt);
        }
    }
    free(sent);
    /* The edge part must be closed under predecessors: an edge node never
     * reads what a cloud node makes. */
    for (int k = 0; k < p->n_edge; k++) {
        const clv_node *nd = clv_graph_node(g, p->edge_nodes[k]);
        for (int j = 0; j < nd->n_inputs; j++) {
            int t = nd->inputs[j];
            int pr = t < 0 ? -1 : clv_graph_tensor(g, t)->producer;
            if (pr >= 0 && !p->on_edge[pr])
                return clv_error_set(err, CLV_EINVAL,
                                     "node '%s' runs on the cloud but feeds "
                                     "'%s' on the edge",
                                     clv_graph_node(g, pr)->name, nd->name);
        }
    }
    for (int i = 0; i < clv_graph_n_outputs(g); i++) {
        int t = clv_graph_output(g, i);
        int pr = clv_graph_tensor(g, t)->producer;
        if (pr >= 0 && !p->on_edge[pr])
            p->ret[p->n_ret++] = t;
    }
    return 0;
}

int clv_partition_make(const clv_graph *g, const unsigned char *on_edge,
                       clv_partition *out, clv_error *err)
{
    clv_partition_release(out);
    if (!clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "a partition needs a finalized graph");
    int n = clv_graph_n_nodes(g), rc;
    out->on_edge = malloc((size_t)n + 1);
    if (!out->on_edge)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    out->n_nodes = n;
    for (int i = 0; i < n; i++)
        out->on_edge[i] = on_edge[i] != 0;
    rc = fill(g, out, err);
    if (rc)
        clv_partition_release(out);
    return rc;
}

int clv_partition_from_cloud(const clv_graph *g, const int *cloud, int n,
                             clv_partition *out, clv_error *err)
{
    clv_partition_release(out);
    if (!clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "a partition needs a finalized graph");
    int nn = clv_graph_n_nodes(g), rc;
    unsigned char *e = malloc((size_t)nn + 1);
    if (!e)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    memset(e, 1, (size_t)nn);
    for (int k = 0; k < n; k++) {
        if (cloud[k] < 0 || cloud[k] >= nn) {
            free(e);
            return clv_error_set(err, CLV_EINVAL,
                                 "cloud node %d is out of range (the graph "
                                 "has %d nodes)",
                                 cloud[k], nn);
        }
        if (!e[cloud[k]]) {
            free(e);
            return clv_error_set(err, CLV_EINVAL,
                                 "cloud node '%s' is named twice",
                                 clv_graph_node(g, cloud[k])->name);
        }
        e[cloud[k]] = 0;
    }
    rc = clv_partition_make(g, e, out, err);
    free(e);
    return rc;
}

static int dup_ints(int **dst, const int *src, int n)
{
    *dst = malloc(((size_t)n + 1) * sizeof **dst);
    if (!*dst)
        return -1;
    if (n)
        memcpy(*dst, src, (size_t)n * sizeof **dst);
    return 0;
}

int clv_partition_copy(clv_partition *dst, const clv_partition *src,
                       clv_error *err)
{
    clv_partition_release(dst);
    if (!src->n_nodes)
        return 0;
    clv_partition c = *src;
    c.on_edge = malloc((size_t)src->n_nodes + 1);
    c.edge_nodes = c.cloud_nodes = c.send = c.ret = NULL;
    if (!c.on_edge || dup_ints(&c.edge_nodes, src->edge_nodes, src->n_edge) ||
        dup_ints(&c.cloud_nodes, src->cloud_nodes, src->n_cloud) ||
        dup_ints(&c.send, src->send, src->n_send) ||
        dup_ints(&c.ret, src->ret, src->n_ret)) {
        clv_partition_release(&c);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    memcpy(c.on_edge, src->on_edge, (size_t)src->n_nodes);
    *dst = c;
    return 0;
}

bool clv_partition_equal(const clv_partition *a, const clv_partition *b)
{
    return a->n_nodes == b->n_nodes &&
           (a->n_nodes == 0 ||
            memcmp(a->on_edge, b->on_edge, (size_t)a->n_nodes) == 0);
}

void clv_partition_cut_text(const clv_graph *g, const clv_partition *p,
                            char *buf, size_t len)
{
    int shown = 0, total = 0;
    size_t used = 0;
    bool input_sent = false;
    if (!len)
        return;
    buf[0] = 0;
    for (int k = 0; k < p->n_send; k++)
        if (clv_graph_tensor(g, p->send[k])->producer < 0)
            input_sent = true;
    for (int k = 0; k < p->n_edge; k++) {
        const clv_node *nd = clv_graph_node(g, p->edge_nodes[k]);
        bool cut = false;
        for (int o = 0; o < nd->n_outputs && !cut; o++) {
            const clv_tensor *t = clv_graph_tensor(g, nd->outputs[o]);
            for (int c = 0; c < t->n_consumers; c++)
                if (!p->on_edge[t->consumers[c]])
                    cut = true;
        }
        if (!cut)
            continue;
        total++;
        if (shown < 3 && used + strlen(nd->name) + 2 < len) {
            used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                     shown ? "+" : "", nd->name);
            shown++;
        }
    }
    if (total > shown && used + 8 < len)
        snprintf(buf + used, len - used, "+%d", total - shown);
    if (total == 0)
        snprintf(buf, len, "%s", input_sent ? "(input)" : "(all edge)");
}
