/*
 * libcleave in one page: load a model, measure it, plan where to cut it
 * for a 4G uplink, and run both halves in this process, checking that the
 * split run gives exactly the whole model's output.
 *
 *   cc split.c $(pkg-config --cflags --libs cleave) -o split
 *   ./split                      # zoo:mobilenet-v2 at 128 x 128
 *   ./split model.onnx           # any model with one input
 *
 * Exit status: 0 when the split output equals the whole one bit for bit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cleave/engine.h>
#include <cleave/load.h>
#include <cleave/runtime.h>

/* Runs engine e: its inputs are taken from vals[tensor id], its outputs
 * are written to fresh buffers there. */
static int run(const clv_graph *g, clv_engine *e, void **vals, clv_error *err)
{
    int ni = clv_engine_n_inputs(e), no = clv_engine_n_outputs(e);
    const void **in = calloc((size_t)ni + 1, sizeof *in);
    void **out = calloc((size_t)no + 1, sizeof *out);
    int rc = in && out ? 0 : CLV_ENOMEM;
    for (int i = 0; i < ni && !rc; i++)
        in[i] = vals[clv_engine_input(e, i)];
    for (int i = 0; i < no && !rc; i++) {
        int t = clv_engine_output(e, i);
        vals[t] = out[i] = malloc(clv_tensor_bytes(clv_graph_tensor(g, t)));
        if (!out[i])
            rc = CLV_ENOMEM;
    }
    if (!rc)
        rc = clv_engine_run(e, in, out, err);
    free(in);
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    clv_graph *g = NULL;
    clv_engine *whole = NULL, *edge = NULL, *cloud = NULL;
    clv_plan plan;
    clv_error err;
    double *te = NULL, *tc = NULL;
    void **a = NULL, **b = NULL; /* tensor values: whole run, split run */
    int rc, status = 1;

    clv_error_clear(&err);
    clv_plan_init(&plan);
    rc = argc > 1 ? clv_load_model(argv[1], &g, &err)
                  : clv_zoo_build("mobilenet-v2", 1, 128, &g, &err);
    if (rc)
        goto fail;
    int n = clv_graph_n_nodes(g), nt = clv_graph_n_tensors(g);

    /* per-node times: measured here (3 runs) for the cloud; the edge, a
     * small board, 20 times slower */
    te = malloc(sizeof *te * (size_t)n);
    tc = malloc(sizeof *tc * (size_t)n);
    a = calloc((size_t)nt, sizeof *a);
    b = calloc((size_t)nt, sizeof *b);
    if (!te || !tc || !a || !b) {
        rc = CLV_ENOMEM;
        goto fail;
    }
    rc = clv_runtime_times(g, NULL, NULL, 1.0, 1.0, 3, 1, te, tc, &err);
    if (rc)
        goto fail;
    for (int i = 0; i < n; i++)
        te[i] *= 20;

    /* the least-latency cut (DNN Surgery's min-cut) for 4G: 5.85 Mbit/s */
    rc = clv_runtime_plan(g, te, tc, CLV_PLAN_DSL, 5.85e6, 0, 0, &plan, &err);
    if (rc)
        goto fail;
    const clv_partition *p = &plan.part;
    char cut[96];
    clv_partition_cut_text(g, p, cut, sizeof cut);
    printf("plan: %d nodes on the edge, %d on the cloud, cut %s, %.1f KiB "
           "crossing; predicted %.2f ms (edge %.2f + link %.2f + cloud %.2f)\n",
           p->n_edge, p->n_cloud, cut, (double)p->send_bytes / 1024,
           plan.latency_ms, plan.edge_ms, plan.transfer_ms, plan.cloud_ms);

    /* one input, seeded values in [0, 1) */
    int x = clv_graph_input(g, 0);
    size_t xb = clv_tensor_bytes(clv_graph_tensor(g, x));
    float *input = malloc(xb);
    if (!input) {
        rc = CLV_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < xb / sizeof *input; i++)
        input[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
    a[x] = b[x] = input;

    /* the whole model, then the edge part and the cloud part */
    if ((rc = clv_engine_create(g, NULL, 0, NULL, &whole, &err)) ||
        (rc = run(g, whole, a, &err)))
        goto fail;
    if (p->n_edge && ((rc = clv_engine_create(g, p->edge_nodes, p->n_edge,
                                              NULL, &edge, &err)) ||
                      (rc = run(g, edge, b, &err))))
        goto fail;
    if (p->n_cloud && ((rc = clv_engine_create(g, p->cloud_nodes, p->n_cloud,
                                               NULL, &cloud, &err)) ||
                       (rc = run(g, cloud, b, &err))))
        goto fail;

    int y = clv_graph_output(g, 0);
    size_t yb = clv_tensor_bytes(clv_graph_tensor(g, y));
    bool same = a[y] && b[y] && memcmp(a[y], b[y], yb) == 0;
    printf("split run == whole run: %s (%zu output bytes)\n",
           same ? "yes, bit for bit" : "NO", yb);
    status = same ? 0 : 1;
    goto done;
fail:
    fprintf(stderr, "split: %s\n", clv_error_text(&err, rc));
done:
    for (int t = 0; a && b && t < nt; t++) {
        if (b[t] != a[t])
            free(b[t]);
        free(a[t]);
    }
    free(a);
    free(b);
    free(te);
    free(tc);
    clv_engine_free(whole);
    clv_engine_free(edge);
    clv_engine_free(cloud);
    clv_plan_release(&plan);
    clv_graph_free(g);
    return status;
}
