/*
 * Planning time of every planner on the zoo models and on large darknet
 * graphs, median of many runs. Per-layer times come from FLOPs (edge 2
 * GFLOP/s, cloud 100 GFLOP/s, plus 0.05 / 0.01 ms per layer), the link is
 * the 4g preset.
 *
 * usage: bench_plan OUTDIR [MODEL ...]
 *   MODEL: zoo:NAME or a darknet .cfg path; default: the whole zoo, then
 *   /usr/share/darknet/cfg/resnet101.cfg and densenet201.cfg.
 * For each model it also writes OUTDIR/<label>.net, DSL's min-cut network
 * (one line per arc "u v capacity", capacity "inf" for infinite arcs;
 * the first line "n s t flow dsl_us maxflow_us"), which nx_peer.py times
 * with networkx's boykov_kolmogorov on the same graph.
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "cleave/load.h"
#include "cleave/plan.h"
#include "plan/maxflow.h"


/* Median microseconds of clv_planner_run over up to `max_runs` runs (and
 * about 0.3 s at most, at least 5 runs). */
static double time_planner(clv_planner *pl, const clv_plan_options *o,
                           clv_plan *plan, int max_runs, int *runs_out)
{
    double t[1000];
    int runs = 0;
    double start = now_us();
    if (max_runs > 1000)
        max_runs = 1000;
    while (runs < max_runs && (runs < 5 || now_us() - start < 3e5)) {
        double t0 = now_us();
        if (clv_planner_run(pl, o, plan, NULL))
            return -1;
        t[runs++] = now_us() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    *runs_out = runs;
    return runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
}

/* DSL's network for the link, as src/plan/planner.c builds it, written for
 * networkx and solved with our max-flow alone (timed). Capacities are
 * written as the same integers our max-flow sees. */
static double write_network(const clv_problem *p, const clv_link *l,
                            const char *path, double dsl_us,
                            long long *flow_out)
{
    int n = clv_problem_n_nodes(p), aux = 0, pairs = 0;
    for (int v = 0; v < n; v++) {
        int c = clv_problem_node_at(p, v)->n_consumers;
        pairs += c == 1 ? 1 : c > 1 ? 1 + 2 * c : 0;
        aux += c > 1;
    }
    double total = 0;
    for (int v = 0; v < n; v++) {
        const clv_problem_node *nd = clv_problem_node_at(p, v);
        total += nd->t_edge_ms + (v ? nd->t_cloud_ms : 0) +
                 (nd->n_consumers ? clv_link_transfer_ms(l, nd->out_bytes)
                                  : 0);
    }
    double q = total > 0 ? total / 1152921504606846976.0 : 1;
    int S = n + aux, T = S + 1;
    FILE *f = fopen(path, "w");
    clv_mf *m = clv_mf_create();
    if (!f || !m || clv_mf_reset(m, n + aux, pairs)) {
        if (f)
            fclose(f);
        clv_mf_free(m);
        return -1;
    }
    /* first the arcs into a buffer file section; header written last */
    fprintf(f, "%-120s\n", "");
    int a = n;
    for (int v = 0; v < n; v++) {
        const clv_problem_node *nd = clv_problem_node_at(p, v);
        long long red = v ? llround(nd->t_cloud_ms / q) : -1;
        long long blue = llround(nd->t_edge_ms / q);
        clv_mf_add_terminal(m, v, red < 0 ? CLV_MF_INF : red, blue);
        if (red < 0)
            fprintf(f, "%d %d inf\n", S, v);
        else
            fprintf(f, "%d %d %lld\n", S, v, red);
        fprintf(f, "%d %d %lld\n", v, T, blue);
        long long tx =
            nd->n_consumers ? llround(clv_link_transfer_ms(l, nd->out_bytes) / q)
                            : 0;
        if (nd->n_consumers == 1) {
            int w = nd->consumers[0];
            clv_mf_add_pair(m, v, w, tx, CLV_MF_INF);
            fprintf(f, "%d %d %lld\n%d %d inf\n", v, w, tx, w, v);
        } else if (nd->n_consumers > 1) {
            clv_mf_add_pair(m, v, a, tx, 0);
            fprintf(f, "%d %d %lld\n", v, a, tx);
            for (int c = 0; c < nd->n_consumers; c++) {
                int w = nd->consumers[c];
                clv_mf_add_pair(m, a, w, CLV_MF_INF, 0);
                clv_mf_add_pair(m, v, w, 0, CLV_MF_INF);
                fprintf(f, "%d %d inf\n%d %d inf\n", a, w, w, v);
            }
            a++;
        }
    }
    double t[1000];
    int runs = 0;
    int64_t flow = 0;
    double start = now_us();
    while (runs < 1000 && (runs < 5 || now_us() - start < 2e5)) {
        double t0 = now_us();
        clv_mf_solve(m, &flow);
        t[runs++] = now_us() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    double med = t[runs / 2];
    rewind(f);
    fprintf(f, "%d %d %d %lld %.3f %.3f", n + aux + 2, S, T, (long long)flow,
            dsl_us, med);
    fclose(f);
    clv_mf_free(m);
    *flow_out = (long long)flow;
    return med;
}

static void bench_model(const char *model, const char *outdir)
{
    clv_graph *g = NULL;
    clv_error err;
    const char *label = model;
    int rc;
    clv_error_clear(&err);
    if (load_model(model, &g, &label))
        return;
    int n = clv_graph_n_nodes(g);
    double *te = malloc((size_t)n * sizeof *te), *tc = malloc((size_t)n * sizeof *tc);
    for (int i = 0; i < n; i++) {
        double fl = (double)clv_graph_node(g, i)->flops;
        te[i] = fl / 2e6 + 0.05;
        tc[i] = fl / 1e8 + 0.01;
    }
    clv_problem *p = NULL;
    rc = clv_problem_from_graph(g, te, tc, &p, &err);
    free(te);
    free(tc);
    if (rc) {
        clv_graph_free(g);
        fprintf(stderr, "%s: %s\n", model, clv_error_text(&err, rc));
        return;
    }
    clv_planner *pl = NULL;
    double t0 = now_us();
    clv_planner_create(p, &pl, NULL);
    double create_us = now_us() - t0;
    clv_plan plan, cloud;
    clv_plan_init(&plan);
    clv_plan_init(&cloud);
    clv_plan_options o;
    clv_plan_options_init(&o);
    clv_link_preset("4g", &o.link);

    int np = clv_problem_n_nodes(p), runs;
    char label_base[64];
    snprintf(label_base, sizeof label_base, "%s", label);
    char *dot = strrchr(label_base, '.');
    if (dot && strcmp(dot, ".cfg") == 0)
        *dot = '\0';
    printf("%-14s %5d %8.1f", label_base, np, create_us);
    double dsl_us = 0;
    for (int m = 0; m < CLV_PLAN_METHOD_COUNT; m++) {
        o.method = (clv_plan_method)m;
        if ((o.method == CLV_PLAN_BRUTE && np > 24) || o.method == CLV_PLAN_JALAD) {
            printf(" %10s", "-"); /* jalad needs a measured table */
            continue;
        }
        if (o.method == CLV_PLAN_DADS)
            o.fps = 1000; /* never sustainable: dsl, then dsh */
        if (o.method == CLV_PLAN_DSCCS) {
            clv_plan_options c = o;
            c.method = CLV_PLAN_CLOUD;
            clv_planner_run(pl, &c, &cloud, NULL);
            o.cloud_budget_ms = 0.5 * (cloud.transfer_ms + cloud.cloud_ms);
        }
        int max_runs = o.method == CLV_PLAN_BRUTE || o.method == CLV_PLAN_DSCCS
                           ? 21
                           : 1000;
        double us = time_planner(pl, &o, &plan, max_runs, &runs);
        if (o.method == CLV_PLAN_DSL)
            dsl_us = us;
        printf(" %10.1f", us);
    }
    char path[512];
    long long flow = 0;
    snprintf(path, sizeof path, "%s/%s.net", outdir, label_base);
    double mf_us = write_network(p, &o.link, path, dsl_us, &flow);
    printf(" %10.1f\n", mf_us);
    fflush(stdout);
    clv_plan_release(&plan);
    clv_plan_release(&cloud);
    clv_planner_free(pl);
    clv_problem_free(p);
    clv_graph_free(g); /* after the problem, which borrows it */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_plan OUTDIR [zoo:NAME | file.cfg ...]\n");
        return 2;
    }
    printf("median microseconds per plan (4g link; create = building the "
           "planner once)\n\n%-14s %5s %8s", "model", "nodes", "create");
    for (int m = 0; m < CLV_PLAN_METHOD_COUNT; m++)
        printf(" %10s", clv_plan_method_name((clv_plan_method)m));
    printf(" %10s\n", "maxflow");
    if (argc > 2) {
        for (int i = 2; i < argc; i++)
            bench_model(argv[i], argv[1]);
        return 0;
    }
    char name[64];
    for (int i = 0; i < clv_zoo_count(); i++) {
        snprintf(name, sizeof name, "zoo:%s", clv_zoo_name(i));
        bench_model(name, argv[1]);
    }
    bench_model("/usr/share/darknet/cfg/resnet101.cfg", argv[1]);
    bench_model("/usr/share/darknet/cfg/densenet201.cfg", argv[1]);
    return 0;
}
