/* The min-cut engine of the planners (src/plan/maxflow.c) against igraph's
 * maximum flow on thousands of random networks, plus its cut's capacity
 * and reuse of one context across solves; its dynamic solves (flow and
 * search trees kept) against solves from zero; and dsh's shortcuts
 * (dynamic solves, all-edge / all-cloud certificates) against dsh with
 * every min-cut solved from zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <igraph/igraph.h>

#include "check.h"
#include "cleave/load.h"
#include "plan/internal.h"
#include "plan/maxflow.h"
#include "util/util.h"

typedef struct arc {
    int u, v;
    int64_t cap;
} arc;

/* Builds our network from an arc list over vertices 0..n-1 with source s
 * and sink t: arcs out of s and into t become terminal capacities, arcs
 * into s, out of t and self loops are dropped (they carry no s-t flow). */
static int64_t our_flow(clv_mf *m, int n, const arc *arcs, int na, int s,
                        int t, unsigned char *side, int64_t *direct)
{
    int64_t flow = 0;
    *direct = 0;
    CHECK(clv_mf_reset(m, n, na) == 0);
    for (int i = 0; i < na; i++) {
        const arc *a = &arcs[i];
        if (a->u == a->v || a->v == s || a->u == t)
            continue;
        if (a->u == s && a->v == t)
            *direct += a->cap;
        else if (a->u == s)
            clv_mf_add_terminal(m, a->v, a->cap, 0);
        else if (a->v == t)
            clv_mf_add_terminal(m, a->u, 0, a->cap);
        else
            CHECK(clv_mf_add_pair(m, a->u, a->v, a->cap, 0) >= 0);
    }
    CHECK(clv_mf_solve(m, &flow) == 0);
    for (int v = 0; v < n; v++)
        side[v] = v == s || (v != t && clv_mf_on_source_side(m, v));
    return flow + *direct;
}

static double igraph_flow(int n, const arc *arcs, int na, int s, int t)
{
    igraph_t g;
    igraph_vector_int_t edges;
    igraph_vector_t cap;
    igraph_real_t value = -1;
    igraph_vector_int_init(&edges, 2 * na);
    igraph_vector_init(&cap, na);
    for (int i = 0; i < na; i++) {
        VECTOR(edges)[2 * i] = arcs[i].u;
        VECTOR(edges)[2 * i + 1] = arcs[i].v;
        VECTOR(cap)[i] = (double)arcs[i].cap;
    }
    igraph_create(&g, &edges, n, IGRAPH_DIRECTED);
    igraph_maxflow_value(&g, &value, s, t, &cap, NULL);
    igraph_destroy(&g);
    igraph_vector_destroy(&cap);
    igraph_vector_int_destroy(&edges);
    return value;
}

static void random_networks(void)
{
    clv_rng rng;
    clv_mf *m = clv_mf_create();
    CHECK(m != NULL);
    clv_rng_seed(&rng, 20240611);
    int bad = 0, total = 10000;
    arc *arcs = malloc(2000 * sizeof *arcs);
    unsigned char *side = malloc(200);
    for (int iter = 0; iter < total; iter++) {
        int n = 2 + (int)(clv_rng_next(&rng) % (iter < 7000 ? 20 : 150));
        int na = (int)(clv_rng_next(&rng) % (size_t)(4 * n + 1));
        int kind = iter % 3; /* small caps / wide caps / zeros and huge */
        for (int i = 0; i < na; i++) {
            arcs[i].u = (int)(clv_rng_next(&rng) % (uint64_t)n);
            arcs[i].v = (int)(clv_rng_next(&rng) % (uint64_t)n);
            uint64_t r = clv_rng_next(&rng);
            if (kind == 0)
                arcs[i].cap = (int64_t)(r % 10);
            else if (kind == 1)
                arcs[i].cap = (int64_t)(r % 1000000);
            else
                arcs[i].cap = r % 4 == 0 ? 0 : (int64_t)(r % 100000000000ull);
        }
        int s = 0, t = n - 1;
        int64_t direct;
        int64_t ours = our_flow(m, n, arcs, na, s, t, side, &direct);
        double theirs = igraph_flow(n, arcs, na, s, t);
        if ((double)ours != theirs) {
            if (bad++ < 5)
                fprintf(stderr, "network %d (n=%d, %d arcs): flow %lld, "
                        "igraph %.0f\n", iter, n, na, (long long)ours,
                        theirs);
        }
        /* the cut found must have exactly the flow's capacity */
        int64_t cut = 0;
        for (int i = 0; i < na; i++)
            if (side[arcs[i].u] && !side[arcs[i].v])
                cut += arcs[i].cap;
        if (cut != ours && bad++ < 5)
            fprintf(stderr, "network %d: cut %lld != flow %lld\n", iter,
                    (long long)cut, (long long)ours);
    }
    CHECKF(bad == 0, "%d of %d networks disagree with igraph", bad, total);
    printf("maxflow: %d random networks agree with igraph\n", total - bad);
    free(arcs);
    free(side);
    clv_mf_free(m);
}

/* Warm solves: one topology, capacities changed several times, each solve
 * started from the previous flow (clv_mf_solve_warm). The cut it finds
 * must have exactly igraph's maximum flow as its capacity. */
static void warm_networks(void)
{
    clv_rng rng;
    clv_mf *m = clv_mf_create();
    clv_rng_seed(&rng, 777);
    int bad = 0, total = 0;
    arc *arcs = malloc(600 * sizeof *arcs);
    int *pair = malloc(600 * sizeof *pair);
    int64_t *scap = malloc(150 * sizeof *scap), *tcap = malloc(150 * sizeof *tcap);
    unsigned char *side = malloc(150);
    for (int net = 0; net < 2000; net++) {
        int n = 3 + (int)(clv_rng_next(&rng) % 60);
        int na = 1 + (int)(clv_rng_next(&rng) % (uint64_t)(4 * n));
        int s = 0, t = n - 1;
        for (int i = 0; i < na; i++) {
            arcs[i].u = (int)(clv_rng_next(&rng) % (uint64_t)n);
            arcs[i].v = (int)(clv_rng_next(&rng) % (uint64_t)n);
        }
        CHECK(clv_mf_reset(m, n, na) == 0);
        for (int i = 0; i < na; i++) {
            const arc *a = &arcs[i];
            pair[i] = -1;
            if (a->u != a->v && a->v != s && a->u != t && a->u != s &&
                a->v != t)
                pair[i] = clv_mf_add_pair(m, a->u, a->v, 0, 0);
        }
        for (int round = 0; round < 6; round++) {
            /* new capacities on the same arcs */
            memset(scap, 0, sizeof *scap * (size_t)n);
            memset(tcap, 0, sizeof *tcap * (size_t)n);
            for (int i = 0; i < na; i++) {
                arc *a = &arcs[i];
                a->cap = (int64_t)(clv_rng_next(&rng) % (round % 2 ? 50 : 100000));
                if (a->u == a->v || a->v == s || a->u == t)
                    continue;
                if (a->u == s && a->v == t)
                    continue; /* no vertex of ours carries it */
                if (a->u == s)
                    scap[a->v] += a->cap;
                else if (a->v == t)
                    tcap[a->u] += a->cap;
                else
                    clv_mf_set_pair(m, pair[i], a->cap, 0);
            }
            for (int v = 0; v < n; v++)
                clv_mf_set_terminal(m, v, scap[v], tcap[v]);
            int64_t flow;
            CHECK((round == 0 ? clv_mf_solve(m, &flow) : clv_mf_solve_warm(m)) == 0);
            for (int v = 0; v < n; v++)
                side[v] = v == s || (v != t && clv_mf_on_source_side(m, v));
            int64_t cut = 0; /* direct s->t arcs are counted below */
            for (int i = 0; i < na; i++)
                if (arcs[i].u != arcs[i].v && side[arcs[i].u] &&
                    !side[arcs[i].v])
                    cut += arcs[i].cap;
            double theirs = igraph_flow(n, arcs, na, s, t);
            total++;
            if ((double)cut != theirs && bad++ < 5)
                fprintf(stderr, "warm network %d round %d: cut %lld, "
                        "igraph flow %.0f\n", net, round, (long long)cut,
                        theirs);
        }
    }
    CHECKF(bad == 0, "%d of %d warm solves disagree with igraph", bad, total);
    printf("maxflow: %d warm solves agree with igraph\n", total - bad);
    free(arcs);
    free(pair);
    free(scap);
    free(tcap);
    free(side);
    clv_mf_free(m);
}

/* A capacity for the dynamic tests: mostly small (ties, zeros), sometimes
 * wide, sometimes infinite (arcs only: terminal capacities go through
 * rand_term, so that every maximum flow is finite). */
static int64_t rand_cap(clv_rng *r, int kind)
{
    uint64_t x = clv_rng_next(r);
    switch (kind) {
    case 0:
        return (int64_t)(x % 8);
    case 1:
        return x % 5 == 0 ? 0 : (int64_t)(x % 1000000);
    default:
        return x % 23 == 0 ? CLV_MF_INF : (int64_t)(x % 100000);
    }
}

static int64_t rand_term(clv_rng *r, int kind)
{
    return rand_cap(r, kind < 2 ? kind : 1);
}

/* Dynamic solves (clv_mf_solve_dynamic): one topology, capacities changed
 * again and again in the ways dsh and other callers change them (all
 * terminals scaled, a few arcs or terminals changed, everything new,
 * capacities raised or lowered to zero or infinity), sometimes after a
 * flow-only warm solve or from a flow set by clv_mf_set_flow(). After each, every vertex must be on the same side
 * as in a solve from zero of the same network (both find the vertices
 * reachable from the source in the residual network of a maximum flow,
 * which do not depend on the flow), and the cut must have the capacity of
 * that solve's maximum flow. */
static void dynamic_networks(void)
{
    clv_rng rng;
    clv_mf *m = clv_mf_create(), *c = clv_mf_create();
    CHECK(m != NULL && c != NULL);
    clv_rng_seed(&rng, 4242);
    enum { MAXN = 80, MAXP = 320 };
    int pu[MAXP], pv[MAXP];
    int64_t cap[MAXP], rcap[MAXP], s0[MAXN], t0[MAXN];
    int64_t prev_cap[MAXP], prev_rcap[MAXP];
    int bad_side = 0, bad_cut = 0, total = 0;
    for (int net = 0; net < 1500; net++) {
        int n = 2 + (int)(clv_rng_next(&rng) % (net < 1000 ? 20 : MAXN - 1));
        int np = (int)(clv_rng_next(&rng) % (uint64_t)(3 * n + 1));
        int kind = net % 3;
        CHECK(clv_mf_reset(m, n, np) == 0 && clv_mf_reset(c, n, np) == 0);
        for (int k = 0; k < np; k++) {
            pu[k] = (int)(clv_rng_next(&rng) % (uint64_t)n);
            pv[k] = (int)(clv_rng_next(&rng) % (uint64_t)(n - 1));
            if (pv[k] >= pu[k])
                pv[k]++;
            cap[k] = rand_cap(&rng, kind);
            rcap[k] = clv_rng_next(&rng) % 3 == 0 ? rand_cap(&rng, kind) : 0;
            CHECK(clv_mf_add_pair(m, pu[k], pv[k], cap[k], rcap[k]) == k);
            CHECK(clv_mf_add_pair(c, pu[k], pv[k], cap[k], rcap[k]) == k);
        }
        for (int v = 0; v < n; v++) {
            s0[v] = clv_rng_next(&rng) % 3 == 0 ? rand_term(&rng, kind) : 0;
            t0[v] = clv_rng_next(&rng) % 3 == 0 ? rand_term(&rng, kind) : 0;
        }
        for (int round = 0; round < 12; round++) {
            int how = (int)(clv_rng_next(&rng) % 6);
            if (round > 0 && how == 0) { /* scale the terminals, as dsh */
                double fs = exp2((double)(clv_rng_next(&rng) % 9) - 4);
                double ft = exp2((double)(clv_rng_next(&rng) % 9) - 4);
                for (int v = 0; v < n; v++) {
                    if (s0[v] < CLV_MF_INF)
                        s0[v] = (int64_t)((double)s0[v] * fs) + 1;
                    if (t0[v] < CLV_MF_INF)
                        t0[v] = (int64_t)((double)t0[v] * ft);
                }
            } else if (round > 0 && how <= 2) { /* a few changes */
                int changes = 1 + (int)(clv_rng_next(&rng) % 4);
                for (int i = 0; i < changes; i++) {
                    uint64_t x = clv_rng_next(&rng);
                    if (np > 0 && x % 2) {
                        int k = (int)(x / 2 % (uint64_t)np);
                        cap[k] = rand_cap(&rng, kind);
                        rcap[k] = x % 7 == 1 ? rand_cap(&rng, kind) : rcap[k];
                    } else {
                        int v = (int)(x / 2 % (uint64_t)n);
                        if (x % 4 == 0)
                            s0[v] = rand_term(&rng, kind);
                        else
                            t0[v] = rand_term(&rng, kind);
                    }
                }
            } else if (round > 0 && how == 3) { /* zero or raise some */
                for (int k = 0; k < np; k++)
                    if (clv_rng_next(&rng) % 4 == 0)
                        cap[k] = clv_rng_next(&rng) % 2 ? 0
                                 : cap[k] < CLV_MF_INF / 4 ? cap[k] * 3 + 1
                                                           : cap[k];
                for (int v = 0; v < n; v++)
                    if (clv_rng_next(&rng) % 4 == 0)
                        s0[v] = clv_rng_next(&rng) % 2 ? 0 : t0[v] + 5;
            } else if (round > 0) { /* everything new */
                for (int k = 0; k < np; k++) {
                    cap[k] = rand_cap(&rng, kind);
                    rcap[k] = clv_rng_next(&rng) % 3 == 0
                                  ? rand_cap(&rng, kind) : 0;
                }
                for (int v = 0; v < n; v++) {
                    s0[v] = clv_rng_next(&rng) % 2 ? rand_term(&rng, kind) : 0;
                    t0[v] = clv_rng_next(&rng) % 2 ? rand_term(&rng, kind) : 0;
                }
            }
            for (int k = 0; k < np; k++) {
                /* m is told only of the pairs that changed (its dynamic
                 * solves then visit only those), c of all */
                if (round == 0 || cap[k] != prev_cap[k] ||
                    rcap[k] != prev_rcap[k] || clv_rng_next(&rng) % 8 == 0)
                    clv_mf_set_pair(m, k, cap[k], rcap[k]);
                clv_mf_set_pair(c, k, cap[k], rcap[k]);
                prev_cap[k] = cap[k];
                prev_rcap[k] = rcap[k];
            }
            for (int v = 0; v < n; v++) {
                clv_mf_set_terminal(m, v, s0[v], t0[v]);
                clv_mf_set_terminal(c, v, s0[v], t0[v]);
            }
            int64_t flow = 0, ignored;
            if (round > 0 && round % 4 == 2) {
                /* start from a flow of our choosing: nothing, a random
                 * one (over capacity, unbalanced), or from-zero's last */
                int64_t guess[MAXP];
                for (int k = 0; k < np; k++) {
                    int64_t span = (cap[k] < 1000000 ? cap[k] : 1000000) +
                                   (rcap[k] < 1000000 ? rcap[k] : 1000000) + 3;
                    guess[k] = (int64_t)(clv_rng_next(&rng) % (uint64_t)span) -
                               (rcap[k] < 1000000 ? rcap[k] : 1000000) - 1;
                }
                clv_mf_set_flow(m, net % 2 ? guess : NULL);
            }
            if (round == 0)
                CHECK(clv_mf_solve(m, &ignored) == 0);
            else if (round % 5 == 4)
                CHECK(clv_mf_solve_warm(m) == 0);
            else
                CHECK(clv_mf_solve_dynamic(m) == 0);
            CHECK(clv_mf_solve(c, &flow) == 0);
            int differ = 0;
            int64_t cut = 0;
            for (int v = 0; v < n; v++) {
                bool sv = clv_mf_on_source_side(m, v);
                differ += sv != clv_mf_on_source_side(c, v);
                cut += sv ? t0[v] : s0[v];
            }
            for (int k = 0; k < np; k++) {
                bool su = clv_mf_on_source_side(m, pu[k]);
                bool sv = clv_mf_on_source_side(m, pv[k]);
                cut += su && !sv ? cap[k] : 0;
                cut += sv && !su ? rcap[k] : 0;
            }
            total++;
            if (differ && bad_side++ < 5)
                fprintf(stderr, "dynamic network %d round %d: %d vertices "
                        "on another side than from zero\n", net, round,
                        differ);
            if (cut != flow && bad_cut++ < 5)
                fprintf(stderr, "dynamic network %d round %d: cut %lld, "
                        "flow from zero %lld\n", net, round,
                        (long long)cut, (long long)flow);
        }
    }
    CHECKF(bad_side == 0 && bad_cut == 0,
           "%d of %d dynamic solves found another cut, %d another capacity",
           bad_side, total, bad_cut);
    printf("maxflow: %d dynamic solves equal solves from zero\n",
           total - bad_side);
    clv_mf_free(m);
    clv_mf_free(c);
}

/* A random problem of n nodes for dsh: every node reads 1 to 3 earlier
 * ones, mostly recent; times and sizes over orders of magnitude, some
 * equal (ties), some zero. */
static clv_problem *dsh_problem(clv_rng *r, int n)
{
    clv_problem *p = clv_problem_create();
    char name[16];
    CHECK(p != NULL);
    for (int i = 0; i < n; i++) {
        int in[3], k = 0;
        for (int j = 0; i > 0 && j < 1 + (int)(clv_rng_next(r) % 3); j++) {
            int back = 1 + (int)(clv_rng_next(r) % (uint64_t)(i < 3 ? i : 3));
            if (clv_rng_next(r) % 5 == 0)
                back = 1 + (int)(clv_rng_next(r) % (uint64_t)i);
            in[k++] = i - back;
        }
        uint64_t x = clv_rng_next(r);
        double te = i == 0 ? 0 : x % 7 == 0 ? 1 : exp(clv_rng_uniform(r) * 10 - 4);
        double tc = x % 11 == 0 ? 0 : te * exp(-clv_rng_uniform(r) * 6);
        uint64_t bytes = x % 13 == 0 ? 4000 : (uint64_t)exp(clv_rng_uniform(r) * 14 + 3);
        snprintf(name, sizeof name, "n%d", i);
        CHECK(clv_problem_add_node(p, name, te, tc, bytes, k, in, NULL,
                                   NULL) == 0);
    }
    CHECK(clv_problem_finalize(p, NULL) == 0);
    return p;
}

/* dsh as planned (dynamic solves, certificates) and dsh with every min-cut
 * solved from zero must give the same plan; the certificates must agree
 * with the solver on every cut they decide, and must decide some. */
static int dsh_compare(clv_problem *p, const clv_link *link, long *certified,
                       long *wrong)
{
    clv_planner *fast = NULL, *slow = NULL;
    clv_plan a, b;
    clv_plan_options o;
    int differ = 0;
    clv_plan_init(&a);
    clv_plan_init(&b);
    clv_plan_options_init(&o);
    o.method = CLV_PLAN_DSH;
    o.link = *link;
    CHECK(clv_planner_create(p, &fast, NULL) == 0);
    CHECK(clv_planner_create(p, &slow, NULL) == 0);
    clv_plan__set_check(slow, true);
    for (int rep = 0; rep < 2; rep++) { /* a planner reused gives the same */
        CHECK(clv_planner_run(fast, &o, &a, NULL) == 0);
        CHECK(clv_planner_run(slow, &o, &b, NULL) == 0);
        differ |= a.max_stage_ms != b.max_stage_ms ||
                  a.latency_ms != b.latency_ms ||
                  a.evaluations != b.evaluations ||
                  memcmp(a.on_edge, b.on_edge, (size_t)a.n_nodes) != 0;
    }
    long c, w;
    clv_plan__check_counts(slow, &c, &w);
    *certified += c;
    *wrong += w;
    clv_plan_release(&a);
    clv_plan_release(&b);
    clv_planner_free(fast);
    clv_planner_free(slow);
    return differ;
}

static void dsh_shortcuts(void)
{
    clv_rng rng;
    clv_rng_seed(&rng, 99);
    long certified = 0, wrong = 0;
    int bad = 0, total = 0;
    for (int iter = 0; iter < 300; iter++) {
        clv_problem *p = dsh_problem(&rng, 2 + (int)(clv_rng_next(&rng) % 60));
        clv_link link = {exp(clv_rng_uniform(&rng) * 10 - 4),
                         iter % 4 == 1 ? 5 * clv_rng_uniform(&rng) : 0,
                         iter % 3 == 2};
        if (dsh_compare(p, &link, &certified, &wrong) && bad++ < 5)
            fprintf(stderr, "dsh problem %d: another plan when every "
                    "min-cut is solved from zero\n", iter);
        total++;
        clv_problem_free(p);
    }
    /* real networks: long chains (resnet) and dense joins (densenet) */
    static const char *const cfgs[] = {"/usr/share/darknet/cfg/resnet18.cfg",
                                        "/usr/share/darknet/cfg/densenet201.cfg"};
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        clv_graph *g = NULL;
        clv_problem *p = NULL;
        FILE *f = fopen(cfgs[i], "r");
        if (!f) {
            printf("maxflow: %s missing, skipped\n", cfgs[i]);
            continue;
        }
        fclose(f);
        CHECK(clv_load_darknet(cfgs[i], NULL, 1, &g, NULL) == 0);
        int n = clv_graph_n_nodes(g);
        double *te = malloc((size_t)n * sizeof *te);
        double *tc = malloc((size_t)n * sizeof *tc);
        CHECK(te && tc);
        for (int v = 0; v < n; v++) {
            double fl = (double)clv_graph_node(g, v)->flops;
            te[v] = fl / 2e6 + 0.05;
            tc[v] = fl / 1e8 + 0.01;
        }
        CHECK(clv_problem_from_graph(g, te, tc, &p, NULL) == 0);
        static const double mbps[] = {0.13, 5.85, 100};
        for (int k = 0; k < 3; k++) {
            clv_link link = {mbps[k], 0, false};
            if (dsh_compare(p, &link, &certified, &wrong) && bad++ < 5)
                fprintf(stderr, "dsh %s at %g Mbit/s: another plan when "
                        "every min-cut is solved from zero\n", cfgs[i],
                        mbps[k]);
            total++;
        }
        free(te);
        free(tc);
        clv_problem_free(p);
        clv_graph_free(g);
    }
    CHECKF(bad == 0, "%d of %d dsh plans change when every min-cut is "
           "solved from zero", bad, total);
    CHECKF(wrong == 0, "%ld of %ld certified cuts are wrong", wrong,
           certified);
    CHECKF(certified > 1000, "only %ld cuts certified: the test does not "
           "exercise the certificates", certified);
    printf("maxflow: %d dsh plans equal with every min-cut from zero; "
           "%ld certified cuts right\n", total, certified);
}

/* A hand example: s->a 3, s->b 2, a->b 1, a->t 2, b->t 3: max flow 5 with
 * the cut {s->a (no), ...}: s->a carries 3 (2 to t, 1 via b), s->b 2. */
static void hand_example(void)
{
    clv_mf *m = clv_mf_create();
    int64_t f = -1;
    CHECK(clv_mf_reset(m, 2, 4) == 0);
    clv_mf_add_terminal(m, 0, 3, 2);
    clv_mf_add_terminal(m, 1, 2, 3);
    int p = clv_mf_add_pair(m, 0, 1, 1, 0);
    CHECK(p == 0);
    CHECK(clv_mf_solve(m, &f) == 0);
    CHECK(f == 5);
    /* the same topology, other capacities: a->b 0 now, so only 2 + 2 */
    clv_mf_set_pair(m, p, 0, 0);
    CHECK(clv_mf_solve(m, &f) == 0);
    CHECK(f == 4);
    CHECK(clv_mf_on_source_side(m, 0)); /* s->a 3 > a->t 2: a stays in S */
    CHECK(!clv_mf_on_source_side(m, 1));
    /* infinite arcs are never cut when a finite cut exists */
    clv_mf_set_pair(m, p, CLV_MF_INF, 0);
    clv_mf_set_terminal(m, 0, CLV_MF_INF, 7);
    CHECK(clv_mf_solve(m, &f) == 0);
    CHECK(f == 7 + 3); /* a->t 7 and b->t 3 both saturate */
    CHECK(clv_mf_on_source_side(m, 0) && clv_mf_on_source_side(m, 1));
    /* reset to a smaller network reuses the memory */
    CHECK(clv_mf_reset(m, 1, 0) == 0);
    clv_mf_add_terminal(m, 0, 4, 9);
    CHECK(clv_mf_solve(m, &f) == 0 && f == 4);
    CHECK(clv_mf_add_pair(m, 0, 0, 1, 1) == -1); /* no room, self loop */
    clv_mf_free(m);
    clv_mf_free(NULL);
}

int main(void)
{
    hand_example();
    random_networks();
    warm_networks();
    dynamic_networks();
    dsh_shortcuts();
    return check_report("test_plan_maxflow");
}
