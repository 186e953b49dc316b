/*
 * DSH alone: median microseconds of clv_planner_run with the dsh planner
 * (4g link, per-layer times from FLOPs as in bench_plan.c), and a
 * fingerprint of the plan (max stage, latency, a hash of the edge set), so
 * that two builds of libcleave can be compared for speed and for identical
 * plans.
 *
 * usage: bench_dsh RUNS [MODEL ...]
 *   MODEL: zoo:NAME or a darknet .cfg path; default: zoo:resnet18,
 *   /usr/share/darknet/cfg/resnet101.cfg and densenet201.cfg.
 * Output, one line per model:
 *   label nodes median_us min_us evaluations max_stage latency edge_hash
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "cleave/load.h"
#include "cleave/plan.h"

static int bench_model(const char *model, int runs)
{
    clv_graph *g = NULL;
    clv_error err;
    const char *label = model;
    int rc;
    clv_error_clear(&err);
    if (load_model(model, &g, &label))
        return 1;
    int n = clv_graph_n_nodes(g);
    double *te = malloc((size_t)n * sizeof *te);
    double *tc = malloc((size_t)n * sizeof *tc);
    double *t = malloc((size_t)runs * sizeof *t);
    if (!te || !tc || !t) {
        free(te);
        free(tc);
        free(t);
        clv_graph_free(g);
        return 1;
    }
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
        free(t);
        return 1;
    }
    clv_planner *pl = NULL;
    clv_plan plan;
    clv_plan_init(&plan);
    clv_plan_options o;
    clv_plan_options_init(&o);
    clv_link_preset("4g", &o.link);
    o.method = CLV_PLAN_DSH;
    if ((rc = clv_planner_create(p, &pl, &err))) {
        fprintf(stderr, "%s: %s\n", model, clv_error_text(&err, rc));
        free(t);
        clv_problem_free(p);
        clv_graph_free(g);
        return 1;
    }
    for (int r = 0; r < runs; r++) {
        double t0 = now_us();
        clv_planner_run(pl, &o, &plan, NULL);
        t[r] = now_us() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the edge flags */
    for (int i = 0; i < plan.n_nodes; i++) {
        h ^= plan.on_edge[i];
        h *= 1099511628211ull;
    }
    printf("%-14s %5d %10.1f %10.1f %5ld %.17g %.17g %016llx\n", label,
           clv_problem_n_nodes(p), med, t[0], (long)plan.evaluations,
           plan.max_stage_ms, plan.latency_ms, (unsigned long long)h);
    fflush(stdout);
    free(t);
    clv_plan_release(&plan);
    clv_planner_free(pl);
    clv_problem_free(p);
    clv_graph_free(g); /* after the problem, which borrows it */
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const defaults[] = {
        "zoo:resnet18", "/usr/share/darknet/cfg/resnet101.cfg",
        "/usr/share/darknet/cfg/densenet201.cfg"};
    if (argc < 2 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: bench_dsh RUNS [zoo:NAME | file.cfg ...]\n");
        return 2;
    }
    int runs = atoi(argv[1]), bad = 0;
    if (argc > 2)
        for (int i = 2; i < argc; i++)
            bad |= bench_model(argv[i], runs);
    else
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
            bad |= bench_model(defaults[i], runs);
    return bad;
}
