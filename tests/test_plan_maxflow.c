/* The min-cut engine of the planners (src/plan/maxflow.c) against igraph's
 * maximum flow on thousands of random networks, plus its cut's capacity
 * and reuse of one context across solves. */
#include <stdlib.h>
#include <string.h>

#include <igraph/igraph.h>

#include "check.h"
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
    return check_report("test_plan_maxflow");
}
