/*
 * Many jobs at once: the JPS paper (Duan & Wu, ICPP '21). Johnson's rule
 * for two stages (Algorithm 1), the exact makespan of an order for two or
 * three stages, and the joint partition of n identical jobs: the virtual
 * blocks and binary search of Algorithm 2 on a chain of cuts or on the
 * frontier of min-cuts, with the paper's ratio and the best count, and
 * brute force over every multiset of cuts for small cases.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/internal.h"

/* ---- scheduling ----------------------------------------------------------- */

typedef struct johnson_key {
    int job;
    bool first; /* f < g: the communication-heavy set S1 */
    double key; /* S1: f ascending; S2: g descending */
} johnson_key;

static int cmp_johnson(const void *a, const void *b)
{
    const johnson_key *x = a, *y = b;
    if (x->first != y->first)
        return x->first ? -1 : 1;
    double kx = x->first ? x->key : -x->key;
    double ky = y->first ? y->key : -y->key;
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return (x->job > y->job) - (x->job < y->job); /* stable */
}

int clv_sched_johnson(int n, const double *f, const double *g, int *order)
{
    johnson_key *k = malloc(((size_t)n + 1) * sizeof *k);
    if (!k)
        return CLV_ENOMEM;
    for (int j = 0; j < n; j++) {
        k[j].job = j;
        k[j].first = f[j] < g[j];
        k[j].key = k[j].first ? f[j] : g[j];
    }
    qsort(k, (size_t)n, sizeof *k, cmp_johnson);
    for (int j = 0; j < n; j++)
        order[j] = k[j].job;
    free(k);
    return 0;
}

double clv_sched_makespan(int n, const double *f, const double *g,
                          const double *c, const int *order)
{
    double e = 0, l = 0, s = 0; /* when each stage is free */
    for (int i = 0; i < n; i++) {
        int j = order ? order[i] : i;
        e += f[j];
        l = (l > e ? l : e) + g[j];
        if (c)
            s = (s > l ? s : l) + c[j];
    }
    return c ? s : l;
}

/* ---- the schedule ----------------------------------------------------------- */

void clv_schedule_init(clv_schedule *s)
{
    memset(s, 0, sizeof *s);
    s->lstar = -1;
}

void clv_schedule_release(clv_schedule *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_parts; i++)
        clv_plan_release(&s->parts[i]);
    free(s->parts);
    free(s->job_part);
    free(s->order);
    free(s->order3);
    clv_schedule_init(s);
}

/* ---- candidate cuts ------------------------------------------------------- */

typedef struct cand {
    unsigned char *on_edge; /* problem nodes */
    double f, g; /* edge and transfer time (ms) */
} cand;

typedef struct cands {
    int n, cap, n_nodes;
    cand *v;
} cands;

static void cands_free(cands *cs)
{
    for (int i = 0; i < cs->n; i++)
        free(cs->v[i].on_edge);
    free(cs->v);
    memset(cs, 0, sizeof *cs);
}

/* Adds the partition `on_edge` (copied) with its costs; a partition
 * already there is not added twice. 0 or CLV_ENOMEM. */
static int cands_add(cands *cs, const unsigned char *on_edge,
                     const clv_plan *pl)
{
    for (int i = 0; i < cs->n; i++)
        if (memcmp(cs->v[i].on_edge, on_edge, (size_t)cs->n_nodes) == 0)
            return 0;
    if (cs->n == cs->cap) {
        int cap = cs->cap ? 2 * cs->cap : 16;
        cand *v = realloc(cs->v, (size_t)cap * sizeof *v);
        if (!v)
            return CLV_ENOMEM;
        cs->v = v;
        cs->cap = cap;
    }
    cand *c = &cs->v[cs->n];
    c->on_edge = malloc((size_t)cs->n_nodes + 1);
    if (!c->on_edge)
        return CLV_ENOMEM;
    memcpy(c->on_edge, on_edge, (size_t)cs->n_nodes);
    c->f = pl->edge_ms;
    c->g = pl->transfer_ms;
    cs->n++;
    return 0;
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->f != y->f)
        return x->f < y->f ? -1 : 1;
    return (x->g > y->g) - (x->g < y->g);
}

/* The virtual blocks (JPS §3.2): a cut that sends at least as much as one
 * with no more edge time is never better, whatever the other jobs do
 * (both of its stages are no shorter), so it joins the block before it.
 * What stays has f increasing and g decreasing. */
static void cands_frontier(cands *cs)
{
    qsort(cs->v, (size_t)cs->n, sizeof *cs->v, cmp_cand);
    int k = 0;
    for (int i = 0; i < cs->n; i++) {
        if (k > 0 && cs->v[i].g >= cs->v[k - 1].g) {
            free(cs->v[i].on_edge);
            continue;
        }
        if (k > 0 && cs->v[i].f == cs->v[k - 1].f) {
            /* same edge time, less to send: it replaces the previous */
            free(cs->v[k - 1].on_edge);
            cs->v[k - 1] = cs->v[i];
            continue;
        }
        cs->v[k++] = cs->v[i];
    }
    cs->n = k;
}

/* Every cut of the chain: nodes 0..k of the problem's (topological) order
 * on the edge, k = 0 (the raw frame crosses) to n - 1 (all on the edge). */
static int chain_cands(const clv_problem *p, const clv_link *link, cands *cs,
                       clv_error *err)
{
    int n = clv_problem_n_nodes(p), rc = 0;
    unsigned char *e = calloc((size_t)n + 1, 1);
    clv_plan pl;
    clv_plan_init(&pl);
    if (!e || clv_plan__reserve(&pl, n)) {
        free(e);
        clv_plan_release(&pl);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    /* a prefix of a topological order is a valid partition: the costs
     * alone (the partitions of the schedule's own cuts come later) */
    for (int k = 0; k < n && !rc; k++) {
        e[k] = 1;
        clv_plan__eval_fast(p, link, e, &pl);
        if (cands_add(cs, e, &pl))
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    clv_plan_release(&pl);
    free(e);
    return rc;
}

/* The distinct min-cuts of f + lambda * g over lambda > 0: the vertices
 * of the lower convex hull of the (f, g) points of all partitions, found
 * by a parametric search (each pair of neighbours on the hull gives the
 * lambda at which both are optimal; a cut below their line there is a new
 * vertex between them). The cloud's time does not count (the two stages
 * of JPS), so the min-cuts are taken on a copy of the problem without it;
 * lambda scales the link's bandwidth. */
typedef struct frontier {
    clv_planner *pl;
    const clv_problem *p, *p0;
    clv_link link;
    cands *cs;
    clv_plan trial, truth;
    long cuts;
} frontier;

static int frontier_cut(frontier *fr, double lambda, double *f, double *g,
                        clv_error *err)
{
    clv_plan_options o;
    clv_plan_options_init(&o);
    o.method = CLV_PLAN_DSL;
    o.link = fr->link;
    o.link.rtt_ms = 0;
    o.link.bandwidth_mbps = fr->link.bandwidth_mbps / lambda;
    int rc = clv_planner_run(fr->pl, &o, &fr->trial, err);
    fr->cuts++;
    if (rc)
        return rc;
    /* its costs on the real problem and link (a min-cut is a valid
     * partition) */
    if (clv_plan__reserve(&fr->truth, fr->p->n_nodes))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    clv_plan__eval_fast(fr->p, &fr->link, fr->trial.on_edge, &fr->truth);
    /* f and g of the search: the real edge time, the transfer without the
     * round trip (which every offloading cut pays alike) */
    *f = fr->truth.edge_ms;
    *g = fr->trial.transfer_ms / lambda;
    if (cands_add(fr->cs, fr->trial.on_edge, &fr->truth))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    return 0;
}

static int frontier_between(frontier *fr, double fa, double ga, double fb,
                            double gb, int depth, clv_error *err)
{
    /* a: less edge time, more to send */
    if (!(ga > gb) || !(fb > fa) || depth > 64)
        return 0;
    double lambda = (fb - fa) / (ga - gb), f = 0, g = 0;
    int rc = frontier_cut(fr, lambda, &f, &g, err);
    if (rc)
        return rc;
    double va = fa + lambda * ga, v = f + lambda * g;
    if (!(v < va - 1e-9 * (fabs(va) + 1)))
        return 0; /* a and b are neighbours on the hull */
    if ((rc = frontier_between(fr, fa, ga, f, g, depth + 1, err)))
        return rc;
    return frontier_between(fr, f, g, fb, gb, depth + 1, err);
}

static int frontier_cands(const clv_problem *p, const clv_link *link,
                          cands *cs, long *cuts, clv_error *err)
{
    frontier fr;
    memset(&fr, 0, sizeof fr);
    fr.p = p;
    fr.link = *link;
    fr.cs = cs;
    clv_plan_init(&fr.trial);
    clv_plan_init(&fr.truth);
    clv_problem *p0 = clv_problem_create();
    int rc = p0 ? 0 : clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < clv_problem_n_nodes(p) && !rc; i++) {
        const clv_problem_node *nd = clv_problem_node_at(p, i);
        rc = clv_problem_add_node(p0, nd->name, nd->t_edge_ms, 0,
                                  nd->out_bytes, nd->n_inputs, nd->inputs,
                                  NULL, err);
    }
    if (!rc)
        rc = clv_problem_finalize(p0, err);
    if (!rc)
        rc = clv_planner_create(p0, &fr.pl, err);
    double f_lo, g_lo, f_hi, g_hi;
    /* the extremes: send the least (all edge, or the smallest cut), and
     * compute the least on the edge */
    if (!rc)
        rc = frontier_cut(&fr, 1e9, &f_hi, &g_hi, err);
    if (!rc)
        rc = frontier_cut(&fr, 1e-9, &f_lo, &g_lo, err);
    if (!rc)
        rc = frontier_between(&fr, f_lo, g_lo, f_hi, g_hi, 0, err);
    *cuts = fr.cuts;
    clv_plan_release(&fr.trial);
    clv_plan_release(&fr.truth);
    clv_planner_free(fr.pl);
    clv_problem_free(p0);
    return rc;
}

/* ---- schedules of two cuts ------------------------------------------------ */

/* Fills s with count[k] jobs at candidate k (n in all), each candidate
 * used becoming one of s->parts in candidate order, the jobs in that
 * order too; then Johnson's order and both makespans. */
static int fill_counts(const clv_problem *p, const clv_link *link,
                       const cands *cs, const int *count, int n,
                       clv_schedule *s, clv_error *err)
{
    int used = 0, rc = 0;
    for (int k = 0; k < cs->n; k++)
        used += count[k] > 0;
    s->parts = calloc((size_t)used + 1, sizeof *s->parts);
    s->job_part = malloc(((size_t)n + 1) * sizeof *s->job_part);
    s->order = malloc(((size_t)n + 1) * sizeof *s->order);
    double *f = malloc(((size_t)n + 1) * 3 * sizeof *f);
    if (!s->parts || !s->job_part || !s->order || !f) {
        free(f);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    double *g = f + n, *c = g + n;
    s->n_jobs = n;
    for (int k = 0, j = 0; k < cs->n && !rc; k++) {
        if (!count[k])
            continue;
        clv_plan *pl = &s->parts[s->n_parts];
        clv_plan_init(pl);
        rc = clv_plan_evaluate(p, link, cs->v[k].on_edge, pl, err);
        for (int q = 0; q < count[k] && !rc; q++, j++) {
            s->job_part[j] = s->n_parts;
            f[j] = pl->edge_ms;
            g[j] = pl->transfer_ms;
            c[j] = pl->cloud_ms;
        }
        s->n_parts++;
    }
    if (!rc && clv_sched_johnson(n, f, g, s->order))
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
    if (!rc) {
        s->makespan_ms = clv_sched_makespan(n, f, g, NULL, s->order);
        s->makespan3_ms = clv_sched_makespan(n, f, g, c, s->order);
    }
    free(f);
    return rc;
}

/* fill_counts with n1 jobs at candidate a and the rest at b (a <= b). */
static int fill_two(const clv_problem *p, const clv_link *link,
                    const cands *cs, int a, int b, int n, int n1,
                    clv_schedule *s, clv_error *err)
{
    int *count = calloc((size_t)cs->n + 1, sizeof *count);
    if (!count)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    count[a] += n1;
    count[b] += n - n1;
    int rc = fill_counts(p, link, cs, count, n, s, err);
    free(count);
    return rc;
}

/* The two-stage makespan of n1 jobs at a and n - n1 at b in Johnson's
 * order, which puts a's jobs (f < g, the set S1) before b's (f >= g);
 * f and g are scratch for n jobs. */
static double two_makespan(const cand *a, const cand *b, int n, int n1,
                           double *f, double *g)
{
    for (int j = 0; j < n; j++) {
        const cand *c = j < n1 ? a : b;
        f[j] = c->f;
        g[j] = c->g;
    }
    return clv_sched_makespan(n, f, g, NULL, NULL);
}

/* Algorithm 2 on the candidates (f increasing, g decreasing): the binary
 * search for l*, the leftmost cut with f >= g; the paper's ratio of jobs
 * at l* - 1 to jobs at l*; and the best count by trying every split. */
static int algorithm2(const clv_problem *p, const clv_link *link,
                      const cands *cs, int n, clv_schedule *s,
                      clv_error *err)
{
    int lo = 0, hi = cs->n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cs->v[mid].f < cs->v[mid].g)
            lo = mid + 1;
        else
            hi = mid;
    }
    int ls = lo; /* the last candidate has the least g: all edge, g = 0 */
    s->lstar = ls;
    if (ls == 0 || cs->v[ls].f == cs->v[ls].g) {
        /* nothing to pair with, or a perfect balance: every job at l* */
        s->ratio = 0;
        s->count_ratio = s->count_best = 0;
        int rc = fill_two(p, link, cs, ls, ls, n, 0, s, err);
        s->makespan_ratio_ms = s->makespan_ms;
        return rc;
    }
    const cand *a = &cs->v[ls - 1], *b = &cs->v[ls];
    double r = floor((b->f - b->g) / (a->g - a->f));
    s->ratio = r > 1e9 ? 1000000000 : (int)r;
    /* ratio r : 1 of jobs at l* - 1 and at l* */
    int n1 = (int)floor((double)n * r / (r + 1));
    s->count_ratio = n1;
    double *f = malloc(((size_t)n + 1) * 2 * sizeof *f);
    if (!f)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    s->makespan_ratio_ms = two_makespan(a, b, n, n1, f, f + n);
    int best = n1;
    double bm = s->makespan_ratio_ms;
    for (int k = 0; k <= n; k++) {
        double m = two_makespan(a, b, n, k, f, f + n);
        if (m < bm) {
            bm = m;
            best = k;
        }
    }
    free(f);
    s->count_best = best;
    return fill_two(p, link, cs, ls - 1, ls, n, best, s, err);
}

/* ---- brute force ------------------------------------------------------------ */

/* Every multiset of the candidates for n identical jobs, each
 * Johnson-ordered: the least two-stage makespan. */
typedef struct brute_jps {
    const cands *cs;
    int n;
    int *count, *best;
    double *f, *g;
    int *order;
    double best_m;
    long evals;
} brute_jps;

static void brute_rec(brute_jps *b, int i, int left)
{
    if (i == b->cs->n - 1) {
        b->count[i] = left;
        int j = 0;
        for (int k = 0; k < b->cs->n; k++)
            for (int q = 0; q < b->count[k]; q++, j++) {
                b->f[j] = b->cs->v[k].f;
                b->g[j] = b->cs->v[k].g;
            }
        clv_sched_johnson(b->n, b->f, b->g, b->order);
        double m = clv_sched_makespan(b->n, b->f, b->g, NULL, b->order);
        b->evals++;
        if (m < b->best_m) {
            b->best_m = m;
            memcpy(b->best, b->count, (size_t)b->cs->n * sizeof *b->best);
        }
        return;
    }
    for (int c = left; c >= 0; c--) {
        b->count[i] = c;
        brute_rec(b, i + 1, left - c);
    }
}

/* C(n + k - 1, k - 1), or -1 beyond `max`. */
static long multisets(int n, int k, long max)
{
    double v = 1;
    for (int i = 1; i < k; i++) {
        v = v * (double)(n + i) / (double)i;
        if (v > (double)max)
            return -1;
    }
    return (long)(v + 0.5);
}

static int brute_schedule(const clv_problem *p, const clv_link *link,
                          const cands *cs, int n, long max, clv_schedule *s,
                          clv_error *err)
{
    long combos = multisets(n, cs->n, max);
    if (combos < 0)
        return clv_error_set(err, CLV_ELIMIT,
                             "jps brute force: %d jobs over %d cuts are more "
                             "than %ld combinations; use fewer jobs, or the "
                             "frontier or chain method",
                             n, cs->n, max);
    brute_jps b;
    memset(&b, 0, sizeof b);
    b.cs = cs;
    b.n = n;
    b.best_m = INFINITY;
    b.count = calloc((size_t)cs->n, sizeof *b.count);
    b.best = calloc((size_t)cs->n, sizeof *b.best);
    b.f = malloc((size_t)n * 2 * sizeof *b.f);
    b.order = malloc((size_t)n * sizeof *b.order);
    int rc = 0;
    if (!b.count || !b.best || !b.f || !b.order) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto out;
    }
    b.g = b.f + n;
    brute_rec(&b, 0, n);
    /* the schedule of the best multiset */
    rc = fill_counts(p, link, cs, b.best, n, s, err);
    s->evaluations = b.evals;
out:
    free(b.count);
    free(b.best);
    free(b.f);
    free(b.order);
    return rc;
}

/* ---- Algorithm 3: the DAG as independent paths ------------------------------ */

#define JPS_MAX_PATHS 4096

/* Paths from the source to each node, saturated at `cap` + 1. */
static long count_paths(const clv_problem *p, long cap)
{
    int n = p->n_nodes;
    long *np = calloc((size_t)n + 1, sizeof *np), total = 0;
    if (!np)
        return -1;
    np[0] = 1;
    for (int i = 0; i < n; i++) {
        const clv_problem_node *nd = &p->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) {
            np[i] += np[nd->inputs[k]];
            if (np[i] > cap)
                np[i] = cap + 1;
        }
        if (nd->n_consumers == 0) {
            total += np[i];
            if (total > cap)
                total = cap + 1;
        }
    }
    free(np);
    return total;
}

typedef struct paths {
    int n;          /* paths */
    int *start;     /* path i: nodes node[start[i] .. start[i+1]) */
    int *node;
    int *cut;       /* path i's cut: nodes start[i] .. cut[i] on the edge */
    double *f, *g;  /* path-local f and g at that cut */
} paths;

static void paths_free(paths *ps)
{
    free(ps->start);
    free(ps->node);
    free(ps->cut);
    free(ps->f);
    memset(ps, 0, sizeof *ps);
}

/* Depth-first: every path from node v to a sink, the prefix in `stack`. */
static void paths_rec(const clv_problem *p, paths *ps, int *stack, int depth,
                      int v, int *at)
{
    stack[depth] = v;
    const clv_problem_node *nd = &p->nodes[v];
    if (nd->n_consumers == 0) {
        ps->start[ps->n] = *at;
        memcpy(ps->node + *at, stack, (size_t)(depth + 1) * sizeof *stack);
        *at += depth + 1;
        ps->n++;
        ps->start[ps->n] = *at;
        return;
    }
    for (int k = 0; k < nd->n_consumers; k++)
        paths_rec(p, ps, stack, depth + 1, nd->consumers[k], at);
}

/* Algorithm 2 on one path: its cut points i = 0 .. m (nodes 0..i on the
 * edge), f the path's own edge time, g the cut node's transfer (0 for the
 * sink); the virtual blocks; l*; and of l* - 1 and l* the one with the
 * smaller max(f, g) (ties: l*), the single cut a path gets. */
static int path_cut(const clv_problem *p, const clv_link *link,
                    const int *node, int m, double *fo, double *go)
{
    double f = 0, best_g = INFINITY;
    int nk = 0, ks[4096];
    double kf[4096], kg[4096];
    for (int i = 0; i <= m; i++) {
        const clv_problem_node *nd = &p->nodes[node[i]];
        f += nd->t_edge_ms;
        double g = i == m ? clv_plan__result_ms(p, link, node[i])
                          : clv_link_transfer_ms(link, nd->out_bytes);
        if (g < best_g && nk < 4096) {
            if (nk > 0 && kf[nk - 1] == f)
                nk--; /* same edge time, less to send */
            kf[nk] = f;
            kg[nk] = g;
            ks[nk++] = i;
            best_g = g;
        }
    }
    int lo = 0, hi = nk - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (kf[mid] < kg[mid])
            lo = mid + 1;
        else
            hi = mid;
    }
    int pick = lo;
    if (lo > 0) {
        double a = kf[lo - 1] > kg[lo - 1] ? kf[lo - 1] : kg[lo - 1];
        double b = kf[lo] > kg[lo] ? kf[lo] : kg[lo];
        if (a < b)
            pick = lo - 1;
    }
    *fo = kf[pick];
    *go = kg[pick];
    return ks[pick];
}

/* Johnson's rule over the path pieces of every job; duplicated nodes are
 * computed once and a tensor crosses once per job (the paper's modified
 * Algorithm 1). Returns the two-stage makespan. */
typedef struct piece {
    int job, path;
} piece;

static int paths_makespan(const clv_problem *p, const clv_link *link,
                          const paths *ps, int n_jobs, double *out)
{
    long np = (long)ps->n * n_jobs;
    int nn = p->n_nodes;
    double *f = malloc(((size_t)np + 1) * 2 * sizeof *f);
    int *order = malloc(((size_t)np + 1) * sizeof *order);
    unsigned char *done = calloc((size_t)nn * (size_t)n_jobs + 1, 1);
    unsigned char *sent = calloc((size_t)nn * (size_t)n_jobs + 1, 1);
    unsigned char *need = malloc((size_t)nn + 1);
    int rc = 0;
    if (!f || !order || !done || !sent || !need) {
        rc = CLV_ENOMEM;
        goto out;
    }
    double *g = f + np;
    for (long q = 0; q < np; q++) {
        f[q] = ps->f[q % ps->n];
        g[q] = ps->g[q % ps->n];
    }
    if ((rc = clv_sched_johnson((int)np, f, g, order)))
        goto out;
    double e = 0, l = 0;
    for (long i = 0; i < np; i++) {
        int q = order[i], job = q / ps->n, path = q % ps->n;
        unsigned char *dj = done + (size_t)job * (size_t)nn;
        /* the prefix and its ancestors not yet computed for this job */
        memset(need, 0, (size_t)nn);
        for (int k = ps->start[path]; k <= ps->cut[path]; k++)
            need[ps->node[k]] = 1;
        double fe = 0;
        for (int v = nn - 1; v >= 0; v--) {
            if (!need[v])
                continue;
            const clv_problem_node *nd = &p->nodes[v];
            for (int k = 0; k < nd->n_inputs; k++)
                need[nd->inputs[k]] = 1;
            if (!dj[v]) {
                dj[v] = 1;
                fe += nd->t_edge_ms;
            }
        }
        int cutv = ps->node[ps->cut[path]];
        double ge = 0;
        if (!sent[(size_t)job * (size_t)nn + (size_t)cutv] &&
            ps->cut[path] < ps->start[path + 1] - 1) {
            sent[(size_t)job * (size_t)nn + (size_t)cutv] = 1;
            ge = clv_link_transfer_ms(link, p->nodes[cutv].out_bytes);
        }
        e += fe;
        l = (l > e ? l : e) + ge;
    }
    *out = l;
out:
    free(f);
    free(order);
    free(done);
    free(sent);
    free(need);
    return rc;
}

static int algorithm3(const clv_problem *p, const clv_link *link, int n,
                      clv_schedule *s, clv_error *err)
{
    long total = count_paths(p, JPS_MAX_PATHS);
    if (total < 0)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if (total > JPS_MAX_PATHS)
        return clv_error_set(err, CLV_ELIMIT,
                             "jps paths (Algorithm 3): '%s' has more than %d "
                             "source-to-output paths; the frontier method "
                             "handles any DAG",
                             clv_problem_name(p), JPS_MAX_PATHS);
    int nn = p->n_nodes, rc = 0;
    paths ps;
    memset(&ps, 0, sizeof ps);
    ps.start = malloc(((size_t)total + 2) * sizeof *ps.start);
    ps.node = malloc(((size_t)total * (size_t)nn + 1) * sizeof *ps.node);
    ps.cut = malloc(((size_t)total + 1) * sizeof *ps.cut);
    ps.f = malloc(((size_t)total + 1) * 2 * sizeof *ps.f);
    int *stack = malloc(((size_t)nn + 1) * sizeof *stack);
    unsigned char *e = calloc((size_t)nn + 1, 1);
    if (!ps.start || !ps.node || !ps.cut || !ps.f || !stack || !e) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto out;
    }
    ps.g = ps.f + total;
    int at = 0;
    paths_rec(p, &ps, stack, 0, 0, &at);
    for (int i = 0; i < ps.n; i++) {
        int m = ps.start[i + 1] - ps.start[i] - 1;
        int c = path_cut(p, link, ps.node + ps.start[i], m, &ps.f[i],
                         &ps.g[i]);
        ps.cut[i] = ps.start[i] + c;
        for (int k = ps.start[i]; k <= ps.cut[i]; k++)
            e[ps.node[k]] = 1;
    }
    /* one partition for every job: the union of the prefixes, closed
     * under predecessors */
    for (int v = nn - 1; v >= 0; v--)
        if (e[v])
            for (int k = 0; k < p->nodes[v].n_inputs; k++)
                e[p->nodes[v].inputs[k]] = 1;
    cands one;
    memset(&one, 0, sizeof one);
    one.n_nodes = nn;
    clv_plan pl;
    clv_plan_init(&pl);
    rc = clv_plan_evaluate(p, link, e, &pl, err);
    if (!rc && cands_add(&one, e, &pl))
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
    clv_plan_release(&pl);
    if (!rc)
        rc = fill_two(p, link, &one, 0, 0, n, 0, s, err);
    cands_free(&one);
    if (!rc && paths_makespan(p, link, &ps, n, &s->makespan_paths_ms))
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
    s->n_paths = ps.n;
    s->n_cands = 1;
out:
    paths_free(&ps);
    free(stack);
    free(e);
    return rc;
}

/* ---- the planner ------------------------------------------------------------ */

/* The schedule's three-stage order (see clv_schedule.order3). */
static int three_stages(clv_schedule *s, clv_error *err)
{
    int n = s->n_jobs, rc = 0;
    double *f = malloc(((size_t)n * 3 + 1) * sizeof *f);
    s->order3 = malloc(((size_t)n + 1) * sizeof *s->order3);
    if (!f || !s->order3) {
        free(f);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    double *g = f + n, *c = g + n, m = INFINITY;
    for (int j = 0; j < n; j++) {
        const clv_plan *pl = &s->parts[s->job_part[j]];
        f[j] = pl->edge_ms;
        g[j] = pl->transfer_ms;
        c[j] = pl->cloud_ms;
    }
    if (n <= 12) {
        rc = clv_sched_exact3(n, f, g, c, 1000000, s->order3, &m);
        s->exact3 = rc == 0;
        if (rc == CLV_ELIMIT)
            rc = 0;
    } else {
        rc = clv_sched_neh(n, f, g, c, s->order3);
        if (!rc)
            m = clv_sched_makespan(n, f, g, c, s->order3);
    }
    if (!rc && !(m < s->makespan3_ms)) {
        memcpy(s->order3, s->order, (size_t)n * sizeof *s->order3);
        m = s->makespan3_ms;
    }
    s->makespan3_best_ms = m;
    free(f);
    return rc ? clv_error_set(err, CLV_ENOMEM, "out of memory") : 0;
}

void clv_jps_options_init(clv_jps_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = CLV_JPS_CHAIN;
    clv_link_preset("wifi", &o->link);
    o->jobs = 10;
    o->brute_max = 1000000;
}

int clv_jps_plan(const clv_problem *p, const clv_jps_options *o,
                 clv_schedule *out, clv_error *err)
{
    cands cs;
    long cuts = 0;
    int rc;
    clv_schedule_release(out);
    if (!p || !p->finalized)
        return clv_error_set(err, CLV_EINVAL, "jps needs a finalized problem");
    if ((rc = clv_plan__check_link(&o->link, err)))
        return rc;
    if (o->jobs < 1 || o->jobs > 1000000)
        return clv_error_set(err, CLV_EINVAL,
                             "jps: the number of jobs must be 1 to 1000000, "
                             "not %d",
                             o->jobs);
    if (o->method == CLV_JPS_PATHS) {
        rc = algorithm3(p, &o->link, o->jobs, out, err);
        if (!rc)
            rc = three_stages(out, err);
        if (rc)
            clv_schedule_release(out);
        return rc;
    }
    memset(&cs, 0, sizeof cs);
    cs.n_nodes = clv_problem_n_nodes(p);
    /* brute force tries both kinds of candidates */
    if (o->method != CLV_JPS_CHAIN)
        rc = frontier_cands(p, &o->link, &cs, &cuts, err);
    if (!rc && o->method != CLV_JPS_FRONTIER)
        rc = chain_cands(p, &o->link, &cs, err);
    if (!rc) {
        cands_frontier(&cs);
        out->n_cands = cs.n;
        if (o->method == CLV_JPS_BRUTE)
            rc = brute_schedule(p, &o->link, &cs, o->jobs, o->brute_max,
                                out, err);
        else
            rc = algorithm2(p, &o->link, &cs, o->jobs, out, err);
    }
    if (!rc)
        rc = three_stages(out, err);
    if (!rc && o->method == CLV_JPS_FRONTIER)
        out->evaluations = cuts;
    else if (!rc && o->method == CLV_JPS_CHAIN)
        out->evaluations = clv_problem_n_nodes(p);
    out->n_cands = cs.n;
    cands_free(&cs);
    if (rc) {
        clv_schedule_release(out);
        out->n_cands = 0;
    }
    return rc;
}

/* ---- three stages ------------------------------------------------------------ */

int clv_sched_neh(int n, const double *f, const double *g, const double *c,
                  int *order)
{
    /* Nawaz, Enscore and Ham: jobs by total time, longest first; each is
     * inserted where the partial order's makespan is least (ties: the
     * earliest place), every place weighed at once with Taillard's heads
     * and tails, O(n^2) in all */
    johnson_key *k = malloc(((size_t)n + 1) * sizeof *k);
    int *cur = malloc(((size_t)n + 1) * sizeof *cur);
    double *e = malloc(((size_t)n + 2) * 3 * 3 * sizeof *e);
    if (!k || !cur || !e) {
        free(k);
        free(cur);
        free(e);
        return CLV_ENOMEM;
    }
    double *q = e + (size_t)(n + 2) * 3, *fi = q + (size_t)(n + 2) * 3;
    for (int j = 0; j < n; j++) {
        k[j].job = j;
        k[j].first = false;
        k[j].key = f[j] + g[j] + (c ? c[j] : 0);
    }
    qsort(k, (size_t)n, sizeof *k, cmp_johnson); /* key descending */
#define PT(job, st) ((st) == 0 ? f[job] : (st) == 1 ? g[job] : c ? c[job] : 0)
    int m = 0;
    for (int t = 0; t < n; t++) {
        int x = k[t].job;
        /* heads e[i]: job i's completion on each stage; tails q[i]: from
         * its start on each stage to the end */
        for (int i = 0; i < m; i++)
            for (int st = 0; st < 3; st++) {
                double up = i ? e[(i - 1) * 3 + st] : 0;
                double left = st ? e[i * 3 + st - 1] : 0;
                e[i * 3 + st] = (up > left ? up : left) + PT(cur[i], st);
            }
        for (int st = 0; st < 3; st++)
            q[m * 3 + st] = 0;
        for (int i = m - 1; i >= 0; i--)
            for (int st = 2; st >= 0; st--) {
                double down = q[(i + 1) * 3 + st];
                double right = st < 2 ? q[i * 3 + st + 1] : 0;
                q[i * 3 + st] = (down > right ? down : right) + PT(cur[i], st);
            }
        int best = 0;
        double bm = INFINITY;
        for (int at = 0; at <= m; at++) {
            double ms = 0;
            for (int st = 0; st < 3; st++) {
                double up = at ? e[(at - 1) * 3 + st] : 0;
                double left = st ? fi[st - 1] : 0;
                fi[st] = (up > left ? up : left) + PT(x, st);
                double v = fi[st] + q[at * 3 + st];
                if (v > ms)
                    ms = v;
            }
            if (ms < bm) {
                bm = ms;
                best = at;
            }
        }
        memmove(cur + best + 1, cur + best, (size_t)(m - best) * sizeof *cur);
        cur[best] = x;
        m++;
    }
#undef PT
    memcpy(order, cur, (size_t)n * sizeof *order);
    free(k);
    free(cur);
    free(e);
    return 0;
}

/* Depth-first over the orders with a lower bound: the best so far is
 * kept; a prefix whose bound reaches it is cut. The bound: each stage's
 * free time after the prefix plus the work left on it and, after that
 * stage, the least remaining time of a job on the stages after it. */
typedef struct bb3 {
    int n;
    const double *f, *g, *c;
    int *cur, *best;
    unsigned char *used;
    double best_m;
    long nodes, max_nodes;
} bb3;

static void bb3_rec(bb3 *b, int depth, double e, double l, double s,
                    double rf, double rg, double rc)
{
    if (++b->nodes > b->max_nodes)
        return;
    if (depth == b->n) {
        if (s < b->best_m) {
            b->best_m = s;
            memcpy(b->best, b->cur, (size_t)b->n * sizeof *b->best);
        }
        return;
    }
    double min_gc = INFINITY, min_c = INFINITY;
    for (int j = 0; j < b->n; j++)
        if (!b->used[j]) {
            if (b->g[j] + b->c[j] < min_gc)
                min_gc = b->g[j] + b->c[j];
            if (b->c[j] < min_c)
                min_c = b->c[j];
        }
    double lb1 = e + rf + min_gc, lb2 = (l > e ? l : e) + rg + min_c,
           lb3 = s + rc;
    double lb = lb1 > lb2 ? lb1 : lb2;
    if (lb3 > lb)
        lb = lb3;
    if (lb >= b->best_m - 1e-12)
        return;
    for (int j = 0; j < b->n; j++) {
        if (b->used[j])
            continue;
        b->used[j] = 1;
        b->cur[depth] = j;
        double e2 = e + b->f[j];
        double l2 = (l > e2 ? l : e2) + b->g[j];
        double s2 = (s > l2 ? s : l2) + b->c[j];
        bb3_rec(b, depth + 1, e2, l2, s2, rf - b->f[j], rg - b->g[j],
                rc - b->c[j]);
        b->used[j] = 0;
    }
}

int clv_sched_exact3(int n, const double *f, const double *g, const double *c,
                     long max_nodes, int *order, double *makespan)
{
    bb3 b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.f = f;
    b.g = g;
    b.c = c;
    b.max_nodes = max_nodes > 0 ? max_nodes : 10000000;
    b.cur = malloc(((size_t)n + 1) * sizeof *b.cur);
    b.best = malloc(((size_t)n + 1) * sizeof *b.best);
    b.used = calloc((size_t)n + 1, 1);
    if (!b.cur || !b.best || !b.used) {
        free(b.cur);
        free(b.best);
        free(b.used);
        return CLV_ENOMEM;
    }
    /* start from the better of Johnson's and NEH's orders */
    int rc = clv_sched_neh(n, f, g, c, b.best);
    if (!rc) {
        b.best_m = clv_sched_makespan(n, f, g, c, b.best);
        rc = clv_sched_johnson(n, f, g, b.cur);
        double mj = clv_sched_makespan(n, f, g, c, b.cur);
        if (!rc && mj < b.best_m) {
            b.best_m = mj;
            memcpy(b.best, b.cur, (size_t)n * sizeof *b.best);
        }
    }
    if (!rc) {
        double rf = 0, rg = 0, rcl = 0;
        for (int j = 0; j < n; j++) {
            rf += f[j];
            rg += g[j];
            rcl += c[j];
        }
        bb3_rec(&b, 0, 0, 0, 0, rf, rg, rcl);
        if (b.nodes > b.max_nodes)
            rc = CLV_ELIMIT;
        memcpy(order, b.best, (size_t)n * sizeof *order);
        if (makespan)
            *makespan = b.best_m;
    }
    free(b.cur);
    free(b.best);
    free(b.used);
    return rc;
}
