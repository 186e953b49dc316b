/*
 * JALAD planning time: median microseconds of clv_jalad_plan (enumeration
 * and the GLPK 0-1 program) on zoo models with a table of every valid
 * single cut, each with raw and 16 widths in three entropy stages (49
 * encodings), and cloud-only with u8, PNG and five JPEG qualities; sizes
 * and losses are synthetic (the planner's time does not depend on them).
 * The target (issue: under 1 ms for 16 widths on resnet50-size graphs) is
 * read off the resnet50 row.
 *
 *   bench_jalad RUNS [MODEL ...]   (MODEL: zoo:NAME; default three)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "cleave/plan.h"
#include "util/util.h"

static clv_jalad_table *table_for(const clv_graph *g)
{
    int n = clv_graph_n_nodes(g);
    int *crossing = malloc(sizeof *crossing * (size_t)n);
    clv_jalad_table *t = calloc(1, sizeof *t);
    t->cuts = calloc((size_t)n + 1, sizeof *t->cuts);
    clv_graph_crossing(g, crossing);
    clv_rng r;
    clv_rng_seed(&r, 1);
    for (int pos = -1; pos < n - 1; pos++) {
        if (pos >= 0 && crossing[pos] != 1)
            continue;
        clv_jalad_cut *c = &t->cuts[t->n_cuts++];
        c->position = pos;
        c->after = pos >= 0 ? clv_util_strdup(clv_graph_node(g, pos)->name) : NULL;
        c->raw_bytes = 100000;
        c->entries = calloc(49, sizeof *c->entries);
        const char *fr[] = {"raw", "u8", "png", "jpeg:10", "jpeg:25", "jpeg:50",
                            "jpeg:75", "jpeg:90"};
        for (int j = 0; j < (pos < 0 ? 8 : 49); j++) {
            clv_jalad_entry *x = &c->entries[c->n_entries++];
            char name[32];
            const char *st[3] = {"packed", "huffman", "zstd"};
            if (pos >= 0 && j)
                snprintf(name, sizeof name, "q%d+%s", (j - 1) / 3 + 1, st[(j - 1) % 3]);
            clv_codec_parse(pos < 0 ? fr[j] : j ? name : "raw", &x->codec, NULL);
            x->accuracy_loss = 0.1 * clv_rng_uniform(&r);
            x->bytes_mean = 1000 + 100000 * clv_rng_uniform(&r);
        }
    }
    free(crossing);
    return t;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 101;
    const char *def[] = {"zoo:resnet18", "zoo:googlenet", "zoo:resnet50"};
    int nm = argc > 2 ? argc - 2 : 3;
    const char *const *models = argc > 2 ? (const char *const *)argv + 2 : def;
    double *t = malloc(sizeof *t * (size_t)(runs > 0 ? runs : 1));
    if (runs < 1 || !t)
        return 2;
    printf("%-12s %6s %5s %8s %12s %12s  (median us of %d runs, 4g, drop 0.01)\n",
           "model", "nodes", "cuts", "pairs", "enumerate", "glpk", runs);
    for (int m = 0; m < nm; m++) {
        clv_graph *g;
        const char *label;
        if (load_model(models[m], &g, &label))
            return 1;
        int n = clv_graph_n_nodes(g);
        double *te = malloc(sizeof *te * (size_t)n), *tc = malloc(sizeof *tc * (size_t)n);
        for (int i = 0; i < n; i++) {
            te[i] = (double)clv_graph_node(g, i)->flops / 2e6;
            tc[i] = te[i] / 50;
        }
        clv_problem *p = NULL;
        clv_jalad_table *tab = table_for(g);
        if (clv_problem_from_graph(g, te, tc, &p, NULL))
            return 1;
        clv_link l;
        clv_link_preset("4g", &l);
        clv_plan plan;
        clv_plan_init(&plan);
        int pairs = 0;
        for (int i = 0; i < tab->n_cuts; i++)
            pairs += tab->cuts[i].n_entries;
        printf("%-12s %6d %5d %8d", label, n, tab->n_cuts, pairs);
        for (int way = 0; way < 2; way++) {
            for (int r = 0; r < runs; r++) {
                double t0 = now_us();
                clv_jalad_options jo;
                clv_jalad_options_init(&jo);
                jo.method = (clv_jalad_method)way;
                jo.loss = CLV_JALAD_ACCURACY;
                if (clv_jalad_plan(p, tab, &l, &jo, &plan, NULL, NULL))
                    return 1;
                t[r] = now_us() - t0;
            }
            printf(" %12.1f", clv_util_median(t, runs));
        }
        printf("\n");
        clv_plan_release(&plan);
        clv_jalad_table_free(tab);
        clv_problem_free(p);
        clv_graph_free(g);
        free(te);
        free(tc);
    }
    free(t);
    return 0;
}
