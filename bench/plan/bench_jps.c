/*
 * JPS planning time: median microseconds of clv_jps_plan for N jobs
 * (default 100) on zoo models, 4G, with FLOP-based times (a 2 GFLOP/s edge,
 * a 100 GFLOP/s cloud), for the frontier and the chain methods. The target
 * (issue: 100 jobs on googlenet under 1 ms) is read off the googlenet row.
 *
 *   bench_jps RUNS JOBS [MODEL ...]   (MODEL: zoo:NAME; default four)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "cleave/plan.h"
#include "util/util.h"

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 51;
    int jobs = argc > 2 ? atoi(argv[2]) : 100;
    const char *def[] = {"zoo:alexnet", "zoo:mobilenet-v2", "zoo:googlenet",
                         "zoo:resnet18"};
    int nm = argc > 3 ? argc - 3 : 4;
    const char *const *models = argc > 3 ? (const char *const *)argv + 3 : def;
    if (runs < 1 || jobs < 1)
        return 2;
    double *t = malloc(sizeof *t * (size_t)runs);
    printf("%-14s %6s %12s %12s  (median us of %d runs, %d jobs, 4g)\n",
           "model", "nodes", "frontier", "chain", runs, jobs);
    for (int m = 0; m < nm && t; m++) {
        clv_graph *g;
        const char *label;
        if (load_model(models[m], &g, &label))
            return 1;
        int n = clv_graph_n_nodes(g);
        double *te = malloc(sizeof *te * (size_t)n);
        double *tc = malloc(sizeof *tc * (size_t)n);
        for (int i = 0; i < n; i++) {
            double fl = (double)clv_graph_node(g, i)->flops;
            te[i] = fl / 2e6 + 0.05;
            tc[i] = fl / 1e8 + 0.01;
        }
        clv_problem *p = NULL;
        clv_problem_from_graph(g, te, tc, &p, NULL);
        printf("%-14s %6d", label, n);
        for (int k = 0; k < 2 && p; k++) {
            clv_jps_options o;
            clv_schedule s;
            clv_jps_options_init(&o);
            clv_link_preset("4g", &o.link);
            o.jobs = jobs;
            o.method = k ? CLV_JPS_CHAIN : CLV_JPS_FRONTIER;
            clv_schedule_init(&s);
            for (int r = 0; r < runs; r++) {
                double t0 = now_us();
                clv_jps_plan(p, &o, &s, NULL);
                t[r] = now_us() - t0;
            }
            clv_schedule_release(&s);
            printf(" %12.1f", clv_util_median(t, runs));
        }
        printf("\n");
        clv_problem_free(p);
        clv_graph_free(g);
        free(te);
        free(tc);
    }
    free(t);
    return 0;
}
