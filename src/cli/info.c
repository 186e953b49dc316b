/* cleave info: one row per node, totals, structure; --json for machines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

static const char info_usage[] =
    "usage: cleave info MODEL [--json] [--seed N]\n"
    "\n"
    "Prints one row per node of MODEL in topological order: index, name, op,\n"
    "output shape, output size in KiB, MFLOPs (a multiply-add counts as 2),\n"
    "and whether a single cut after the node is valid (exactly one tensor\n"
    "crosses from the nodes before it to the nodes after it, so no parallel\n"
    "branches are split). Then the totals, and whether the graph is a chain\n"
    "or a DAG.\n"
    "\n"
    "  MODEL      model.onnx, network.cfg (darknet) or zoo:NAME\n"
    "  --json     the same data as JSON (schema: docs/info-json.md)\n"
    "  --seed N   weight seed for zoo: models and .cfg without .weights\n"
    "             (default 1; shapes and FLOPs do not depend on it)\n";

/* "yes" where a cut is valid, "end" after the last node, else "-". */
static const char *cut_label(int i, int n, int crossing)
{
    if (i == n - 1)
        return "end";
    return crossing == 1 ? "yes" : "-";
}

static const char *first_output_shape(const clv_graph *g, const clv_node *n,
                                      char *buf, size_t len)
{
    clv_tensor_shape_str(clv_graph_tensor(g, n->outputs[0]), buf, len);
    if (n->n_outputs > 1) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, " +%d", n->n_outputs - 1);
    }
    return buf;
}

static int count_valid(const int *crossing, int n)
{
    int v = 0;
    for (int i = 0; i + 1 < n; i++)
        v += crossing[i] == 1;
    return v;
}

void cli_print_summary(const char *label, const clv_graph *g)
{
    int n = clv_graph_n_nodes(g);
    int *crossing = calloc((size_t)n + 1, sizeof *crossing);
    char shape[96];
    if (!crossing) {
        fprintf(stderr, "cleave: out of memory\n");
        return;
    }
    clv_graph_crossing(g, crossing);

    printf("model %s: %s, opset %d\n", label,
           clv_graph_name(g)[0] ? clv_graph_name(g) : "(unnamed)",
           clv_graph_opset(g));
    for (int i = 0; i < clv_graph_n_inputs(g); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_graph_input(g, i));
        clv_tensor_shape_str(t, shape, sizeof shape);
        printf("input  %-24s %-8s %s (%.1f KiB)\n", t->name,
               clv_dtype_name(t->dtype), shape,
               (double)clv_tensor_bytes(t) / 1024.0);
    }
    int namew = 4;
    for (int i = 0; i < n; i++) {
        int l = (int)strlen(clv_graph_node(g, i)->name);
        if (l > namew)
            namew = l;
    }
    if (namew > 40)
        namew = 40;
    printf("\n%5s  %-*s  %-18s  %-18s  %10s  %10s  %s\n", "#", namew, "name",
           "op", "output", "out KiB", "MFLOPs", "cut");
    for (int i = 0; i < n; i++) {
        const clv_node *nd = clv_graph_node(g, i);
        printf("%5d  %-*.*s  %-18s  %-18s  %10.1f  %10.2f  %s\n", i, namew,
               namew, nd->name, clv_op_name(nd->op),
               first_output_shape(g, nd, shape, sizeof shape),
               (double)nd->out_bytes / 1024.0, (double)nd->flops / 1e6,
               cut_label(i, n, crossing[i]));
    }
    for (int i = 0; i < clv_graph_n_outputs(g); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_graph_output(g, i));
        clv_tensor_shape_str(t, shape, sizeof shape);
        printf("\noutput %-24s %-8s %s (%.1f KiB)", t->name,
               clv_dtype_name(t->dtype), shape,
               (double)clv_tensor_bytes(t) / 1024.0);
    }
    uint64_t flops = clv_graph_total_flops(g);
    printf("\n\ntotal: %d nodes, %.3f GFLOPs (%.3f G multiply-adds), "
           "%.2f MiB of weights\n",
           n, (double)flops / 1e9, (double)flops / 2e9,
           (double)clv_graph_param_bytes(g) / (1024.0 * 1024.0));
    printf("structure: %s, %d valid single-cut points among %d positions\n",
           clv_graph_is_chain(g) ? "chain" : "DAG", count_valid(crossing, n),
           n > 0 ? n - 1 : 0);
    free(crossing);
}

static cJSON *shape_json(const clv_tensor *t)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < t->ndim; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t->dims[i]));
    return a;
}

static cJSON *tensor_json(const clv_tensor *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "dtype", clv_dtype_name(t->dtype));
    cJSON_AddItemToObject(o, "shape", shape_json(t));
    cJSON_AddNumberToObject(o, "bytes", (double)clv_tensor_bytes(t));
    return o;
}

static cJSON *names_json(const clv_graph *g, const int *ids, int n,
                         bool runtime_only)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0)
            continue;
        const clv_tensor *t = clv_graph_tensor(g, ids[i]);
        if (runtime_only && (t->flags & CLV_TENSOR_CONST))
            continue;
        cJSON_AddItemToArray(a, cJSON_CreateString(t->name));
    }
    return a;
}

static int print_json(const char *label, const clv_graph *g)
{
    int n = clv_graph_n_nodes(g);
    int *crossing = calloc((size_t)n + 1, sizeof *crossing);
    cJSON *root = cJSON_CreateObject();
    if (!crossing || !root) {
        free(crossing);
        cJSON_Delete(root);
        fprintf(stderr, "cleave: out of memory\n");
        return CLI_FAIL;
    }
    clv_graph_crossing(g, crossing);
    cJSON_AddStringToObject(root, "format", "cleave-info");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "model", label);
    cJSON_AddStringToObject(root, "name", clv_graph_name(g));
    cJSON_AddNumberToObject(root, "opset", clv_graph_opset(g));
    cJSON_AddStringToObject(root, "structure",
                            clv_graph_is_chain(g) ? "chain" : "dag");
    cJSON *ins = cJSON_AddArrayToObject(root, "inputs");
    for (int i = 0; i < clv_graph_n_inputs(g); i++)
        cJSON_AddItemToArray(
            ins, tensor_json(clv_graph_tensor(g, clv_graph_input(g, i))));
    cJSON *outs = cJSON_AddArrayToObject(root, "outputs");
    for (int i = 0; i < clv_graph_n_outputs(g); i++)
        cJSON_AddItemToArray(
            outs, tensor_json(clv_graph_tensor(g, clv_graph_output(g, i))));
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    for (int i = 0; i < n; i++) {
        const clv_node *nd = clv_graph_node(g, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "name", nd->name);
        cJSON_AddStringToObject(o, "op", clv_op_name(nd->op));
        cJSON_AddItemToObject(o, "inputs",
                              names_json(g, nd->inputs, nd->n_inputs, true));
        cJSON_AddItemToObject(o, "outputs",
                              names_json(g, nd->outputs, nd->n_outputs,
                                         false));
        cJSON_AddItemToObject(
            o, "shape", shape_json(clv_graph_tensor(g, nd->outputs[0])));
        cJSON_AddNumberToObject(o, "out_bytes", (double)nd->out_bytes);
        cJSON_AddNumberToObject(o, "flops", (double)nd->flops);
        cJSON_AddNumberToObject(o, "param_bytes", (double)nd->param_bytes);
        cJSON_AddNumberToObject(o, "crossing", crossing[i]);
        cJSON_AddBoolToObject(o, "cut_valid",
                              i + 1 < n && crossing[i] == 1);
        cJSON_AddItemToArray(nodes, o);
    }
    cJSON *tot = cJSON_AddObjectToObject(root, "totals");
    cJSON_AddNumberToObject(tot, "nodes", n);
    cJSON_AddNumberToObject(tot, "flops", (double)clv_graph_total_flops(g));
    cJSON_AddNumberToObject(tot, "param_bytes",
                            (double)clv_graph_param_bytes(g));
    cJSON_AddNumberToObject(tot, "valid_cuts", count_valid(crossing, n));
    free(crossing);

    return cli_print_json(root);
}

int cli_info(int argc, char **argv)
{
    const char *model = NULL;
    bool json = false;
    uint64_t seed = 1;

    const cli_opt opts[] = {
        {"json", 0, CLI_FLAG, &json, NULL},
        {"seed", 0, CLI_U64, &seed, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int rc = cli_parse("info", CLI_TEXT(info_usage), opts, argc, argv, "MODEL", &model,
                       1, NULL);
    if (rc >= 0)
        return rc;
    if (!model) {
        fputs(info_usage, stderr);
        return CLI_USAGE;
    }
    clv_graph *g = cli_load(model, seed);
    if (!g)
        return CLI_FAIL;
    rc = CLI_OK;
    if (json)
        rc = print_json(model, g);
    else
        cli_print_summary(model, g);
    clv_graph_free(g);
    return rc;
}
