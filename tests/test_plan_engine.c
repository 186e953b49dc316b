/* Every plan a planner returns can be executed: the edge part and the
 * cloud part of the plan, run by two engines with exactly the plan's cut
 * tensors between them, give the same bits as the whole model. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/engine.h"
#include "cleave/load.h"
#include "cleave/plan.h"
#include "util/util.h"

/* Runs engine `e`, taking each input from bufs[tensor] and writing each
 * output to bufs[tensor] (allocated here when NULL). */
static int run_into(const clv_graph *g, clv_engine *e, void **bufs)
{
    int ni = clv_engine_n_inputs(e), no = clv_engine_n_outputs(e);
    const void **in = calloc((size_t)ni + 1, sizeof *in);
    void **out = calloc((size_t)no + 1, sizeof *out);
    for (int i = 0; i < ni; i++)
        in[i] = bufs[clv_engine_input(e, i)];
    for (int i = 0; i < no; i++) {
        int t = clv_engine_output(e, i);
        if (!bufs[t])
            bufs[t] = malloc(clv_tensor_bytes(clv_graph_tensor(g, t)));
        out[i] = bufs[t];
    }
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_engine_run(e, (const void *const *)in, (void *const *)out,
                            &err);
    CHECKF(rc == 0, "%s", err.msg);
    free(in);
    free(out);
    return rc;
}

static void check_model(const char *name, int64_t hw)
{
    clv_graph *g = NULL;
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_zoo_build(name, 5, hw, &g, &err);
    CHECKF(rc == 0, "%s: %s", name, err.msg);
    if (rc)
        return;
    int n = clv_graph_n_nodes(g), nt = clv_graph_n_tensors(g);

    /* The whole model on a seeded input: the reference. */
    int x = clv_graph_input(g, 0), y = clv_graph_output(g, 0);
    const clv_tensor *xt = clv_graph_tensor(g, x);
    float *input = malloc(clv_tensor_bytes(xt));
    clv_rng r;
    clv_rng_seed(&r, 9);
    clv_rng_fill_uniform(&r, input, (size_t)clv_tensor_numel(xt), -1, 1);
    void **whole = calloc((size_t)nt, sizeof *whole);
    whole[x] = input;
    clv_engine *e = NULL;
    CHECK(clv_engine_create(g, NULL, 0, NULL, &e, &err) == 0);
    run_into(g, e, whole);
    clv_engine_free(e);
    size_t ybytes = clv_tensor_bytes(clv_graph_tensor(g, y));

    /* Times from FLOPs: a slow edge and a fast cloud, so that the planners
     * choose a spread of cuts as the link changes. */
    double *te = malloc(sizeof *te * (size_t)n), *tc = malloc(sizeof *tc * (size_t)n);
    for (int i = 0; i < n; i++) {
        double gf = (double)clv_graph_node(g, i)->flops / 1e9;
        te[i] = 0.01 + gf * 40.0;
        tc[i] = 0.002 + gf * 2.0;
    }
    clv_problem *p = NULL;
    rc = clv_problem_from_graph(g, te, tc, &p, &err);
    CHECKF(rc == 0, "%s: %s", name, err.msg);
    static const clv_plan_method methods[] = {
        CLV_PLAN_EDGE, CLV_PLAN_CLOUD, CLV_PLAN_NEUROSURGEON, CLV_PLAN_DSL,
        CLV_PLAN_DSH, CLV_PLAN_DADS, CLV_PLAN_DSCCS};
    int plans = 0, cut_mismatch = 0, wrong = 0, distinct_cuts = 0;
    int part_mismatch = 0;
    uint64_t last_cut = UINT64_MAX;
    for (int l = 0; p && l < clv_link_n_presets(); l++) {
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            clv_plan_options o;
            clv_plan_options_init(&o);
            o.method = methods[m];
            clv_link_preset(clv_link_preset_name(l), &o.link);
            o.fps = 30;
            o.cloud_budget_ms = 5;
            clv_plan plan;
            clv_plan_init(&plan);
            rc = clv_plan_solve(p, &o, &plan, &err);
            CHECKF(rc == 0, "%s %s: %s", name, clv_plan_method_name(o.method),
                   err.msg);
            if (rc) {
                clv_plan_release(&plan);
                continue;
            }
            plans++;
            if (plan.cut_bytes != last_cut)
                distinct_cuts++;
            last_cut = plan.cut_bytes;
            /* the plan's partition, in graph numbering: problem node i+1
             * is graph node i, node 0 is the frame */
            const clv_partition *pt = &plan.part;
            CHECK(pt->n_nodes == n && pt->n_edge + pt->n_cloud == n);
            for (int i = 0; i < n && pt->n_nodes == n; i++)
                part_mismatch += pt->on_edge[i] != plan.on_edge[i + 1];
            part_mismatch += pt->send_bytes != plan.cut_bytes;
            const int *edge = pt->edge_nodes, *cloud = pt->cloud_nodes;
            int ne = pt->n_edge, nc = pt->n_cloud;
            clv_engine *ee = NULL, *ec = NULL;
            CHECK(clv_engine_create(g, edge, ne, NULL, &ee, &err) == 0);
            CHECK(clv_engine_create(g, cloud, nc, NULL, &ec, &err) == 0);
            void **bufs = calloc((size_t)nt, sizeof *bufs);
            bufs[x] = input;
            if (ee && ec) {
                run_into(g, ee, bufs);
                /* what the cloud reads is exactly the plan's cut */
                uint64_t crossing = 0;
                for (int i = 0; i < clv_engine_n_inputs(ec); i++)
                    crossing += clv_tensor_bytes(
                        clv_graph_tensor(g, clv_engine_input(ec, i)));
                cut_mismatch += crossing != plan.cut_bytes;
                run_into(g, ec, bufs);
                wrong += !bufs[y] || memcmp(bufs[y], whole[y], ybytes) != 0;
            }
            for (int t = 0; t < nt; t++)
                if (t != x)
                    free(bufs[t]);
            free(bufs);
            clv_engine_free(ee);
            clv_engine_free(ec);
            clv_plan_release(&plan);
        }
    }
    CHECKF(part_mismatch == 0, "%s: %d plans whose partition is not their "
           "problem flags shifted by one", name, part_mismatch);
    CHECKF(cut_mismatch == 0, "%s: %d plans whose cut differs from what the "
           "cloud engine reads", name, cut_mismatch);
    CHECKF(wrong == 0, "%s: %d of %d split runs differ from the whole run",
           name, wrong, plans);
    CHECKF(distinct_cuts > 1, "%s: the planners never moved the cut", name);
    printf("%-13s %2d plans executed, bit-identical, %d cut changes\n", name,
           plans, distinct_cuts);
    clv_problem_free(p);
    free(te);
    free(tc);
    for (int t = 0; t < nt; t++)
        if (t != x)
            free(whole[t]);
    free(whole);
    free(input);
    clv_graph_free(g);
}

int main(void)
{
    check_model("lenet", 0);
    check_model("resnet18", 64);
    check_model("googlenet", 64);
    check_model("mobilenet-v2", 64);
    check_model("tiny-yolov2", 128);
    check_model("nin", 96);
    return check_report("test_plan_engine");
}
