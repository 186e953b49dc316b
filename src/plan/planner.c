/* The planners: edge, cloud, neurosurgeon, brute, dsl, dsh, dads, and the
 * dispatch to dsccs (dsccs.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/internal.h"

struct clv_planner {
    const clv_problem *p;
    int n;
    /* The min-cut network of Section III-B: vertex v for node v, one
     * auxiliary vertex per node with several consumers; the terminals are
     * the edge (source side) and the cloud (sink side). */
    clv_mf *mf;
    int *tx_pair; /* per node: the pair carrying its transmission cost, or
                     -1 for outputs */
    /* scratch */
    double *red, *blue, *tx; /* per node: cloud, edge, transfer costs */
    double *res;             /* per node: result-return time */
    unsigned char *side, *best;
    clv_plan trial;
    int *cloud_readers; /* brute: cloud consumers per node */
    long cuts;          /* min-cuts solved by the current run */
    /* dsh: the integer capacities of the current min-cut (terminals, and
     * transfer for nodes with consumers), and scratch of flow_cut() */
    int64_t *cs, *ct, *cx, *out, *dem;
    /* the flow of the last cut flow_cut() found (out, dem), whether it is
     * newer than the max-flow's state, each node's pair carrying dem (from
     * its first input), and a per-pair flow for clv_mf_set_flow() */
    int64_t *last_out, *last_dem, *pair_flow;
    bool last_newer;
    int *dem_pair, n_pairs;
    int *queue;
    unsigned char *aux_seen, *alt;
    /* clv_plan__set_check(): solve every dsh min-cut from zero and count
     * the certificates and the wrong ones */
    bool check;
    long certified, wrong;
};

void clv_planner_free(clv_planner *pl)
{
    if (!pl)
        return;
    clv_mf_free(pl->mf);
    free(pl->tx_pair);
    free(pl->red);
    free(pl->blue);
    free(pl->tx);
    free(pl->res);
    free(pl->side);
    free(pl->best);
    free(pl->cloud_readers);
    free(pl->cs);
    free(pl->ct);
    free(pl->cx);
    free(pl->out);
    free(pl->dem);
    free(pl->queue);
    free(pl->aux_seen);
    free(pl->alt);
    free(pl->last_out);
    free(pl->last_dem);
    free(pl->pair_flow);
    free(pl->dem_pair);
    clv_plan_release(&pl->trial);
    free(pl);
}

int clv_planner_create(const clv_problem *p, clv_planner **out,
                       clv_error *err)
{
    *out = NULL;
    if (!p->finalized)
        return clv_error_set(err, CLV_EINVAL,
                             "the problem is not finalized");
    int n = p->n_nodes, n_aux = 0, pairs = 0;
    for (int v = 0; v < n; v++) {
        int c = p->nodes[v].n_consumers;
        if (c == 1)
            pairs += 1;
        else if (c > 1) {
            n_aux++;
            pairs += 1 + 2 * c;
        }
    }
    clv_planner *pl = calloc(1, sizeof *pl);
    if (!pl)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    size_t k = (size_t)n;
    pl->p = p;
    pl->n = n;
    pl->mf = clv_mf_create();
    pl->tx_pair = malloc(k * sizeof *pl->tx_pair);
    pl->red = malloc(k * sizeof *pl->red);
    pl->blue = malloc(k * sizeof *pl->blue);
    pl->tx = malloc(k * sizeof *pl->tx);
    pl->res = malloc(k * sizeof *pl->res);
    pl->side = malloc(k);
    pl->best = malloc(k);
    pl->cloud_readers = calloc(k, sizeof *pl->cloud_readers);
    pl->cs = malloc(k * sizeof *pl->cs);
    pl->ct = malloc(k * sizeof *pl->ct);
    pl->cx = malloc(k * sizeof *pl->cx);
    pl->out = malloc(k * sizeof *pl->out);
    pl->dem = malloc(k * sizeof *pl->dem);
    pl->queue = malloc(k * sizeof *pl->queue);
    pl->aux_seen = malloc(k);
    pl->alt = malloc(k);
    pl->last_out = malloc(k * sizeof *pl->last_out);
    pl->last_dem = malloc(k * sizeof *pl->last_dem);
    pl->pair_flow = malloc((pairs > 0 ? (size_t)pairs : 1) *
                           sizeof *pl->pair_flow);
    pl->dem_pair = malloc(k * sizeof *pl->dem_pair);
    pl->n_pairs = pairs;
    clv_plan_init(&pl->trial);
    if (!pl->mf || !pl->tx_pair || !pl->red || !pl->blue || !pl->tx ||
        !pl->res || !pl->side || !pl->best || !pl->cloud_readers ||
        !pl->cs || !pl->ct || !pl->cx || !pl->out || !pl->dem ||
        !pl->queue || !pl->aux_seen || !pl->alt || !pl->last_out ||
        !pl->last_dem || !pl->pair_flow || !pl->dem_pair ||
        clv_plan__reserve(&pl->trial, n) ||
        clv_mf_reset(pl->mf, n + n_aux, pairs))
        goto nomem;

    /* Transmission links carry the cost of sending v's output; reverse
     * links consumer -> v are infinite so that no consumer on the edge side
     * reads a producer on the cloud side. With several consumers, v -> v'
     * carries the cost once, the links v' -> consumer are infinite (a cloud
     * consumer puts v' on the cloud side), and the reverse links go from
     * each consumer straight to v. */
    int aux = n;
    for (int v = 0; v < n; v++) {
        const clv_problem_node *nd = &p->nodes[v];
        pl->tx_pair[v] = -1;
        if (nd->n_consumers == 1) {
            pl->tx_pair[v] =
                clv_mf_add_pair(pl->mf, v, nd->consumers[0], 0, CLV_MF_INF);
        } else if (nd->n_consumers > 1) {
            pl->tx_pair[v] = clv_mf_add_pair(pl->mf, v, aux, 0, 0);
            for (int c = 0; c < nd->n_consumers; c++) {
                clv_mf_add_pair(pl->mf, aux, nd->consumers[c], CLV_MF_INF,
                                0);
                clv_mf_add_pair(pl->mf, v, nd->consumers[c], 0, CLV_MF_INF);
            }
            aux++;
        }
    }
    /* node w's first input u feeds it through u -> w (one reader) or
     * u' -> w (pair tx_pair[u] + 1 + 2c, w being u's reader c) */
    for (int w = 0; w < n; w++) {
        pl->dem_pair[w] = -1;
        if (w == 0)
            continue;
        const clv_problem_node *u = &p->nodes[p->nodes[w].inputs[0]];
        int t = pl->tx_pair[p->nodes[w].inputs[0]];
        if (u->n_consumers == 1)
            pl->dem_pair[w] = t;
        for (int c = 0; u->n_consumers > 1 && c < u->n_consumers; c++)
            if (u->consumers[c] == w)
                pl->dem_pair[w] = t + 1 + 2 * c;
    }
    *out = pl;
    return 0;
nomem:
    clv_planner_free(pl);
    return clv_error_set(err, CLV_ENOMEM, "out of memory");
}

/* ---- min-cut ------------------------------------------------------------- */

/* Per-node costs for the link: transfer of each output, result return. */
static void base_costs(clv_planner *pl, const clv_link *link)
{
    const clv_problem *p = pl->p;
    for (int v = 0; v < pl->n; v++) {
        pl->tx[v] = p->nodes[v].n_consumers > 0
                        ? clv_link_transfer_ms(link, p->nodes[v].out_bytes)
                        : 0;
        pl->res[v] = clv_plan__result_ms(p, link, v);
    }
}

/* llround(x) for 0 <= x < 2^63, without the libm call: the truncation is
 * floor(x) exactly, and x - floor(x) is exact. */
static inline int64_t round_nonneg(double x)
{
    int64_t t = (int64_t)x;
    return t + (x - (double)t >= 0.5);
}

static void all_on(unsigned char *side, int n, bool edge)
{
    memset(side, edge ? 1 : 0, (size_t)n);
    side[0] = 1;
}

/*
 * Certificates that the minimum cut of the integer network is a trivial
 * one, so that dsh need not solve it. With s_v, t_v the red and blue
 * capacities and x_u the transfer capacity of node u, a valid partition
 * whose cloud set Y (closed under consumers, without the source) is not
 * empty costs, against the all-edge partition,
 *     sum_{v in Y} (s_v - t_v) + sum of x_u over the producers u outside Y
 *     that feed Y,
 * and at least one producer feeds Y (the first node of Y in topological
 * order reads a node outside it). So if the smallest transfer capacity
 * exceeds D = sum_{v != source} max(0, t_v - s_v), every other partition
 * costs strictly more than the all-edge one: it is the only minimum cut,
 * and the max-flow would find exactly it.
 * Likewise against the all-cloud partition (only the source on the edge,
 * its output x_0 sent), a valid partition with edge set {source} + Z (Z
 * not empty) costs sum_{v in Z} (t_v - s_v) + (its transfers) - x_0, its
 * transfers being at least the smallest transfer capacity unless Z is
 * everything. So if t_v >= s_v for every v != source, and both
 * min_v (t_v - s_v) + min x and sum_v (t_v - s_v) exceed x_0, the
 * all-cloud partition is the only minimum cut.
 * The sums are of integer capacities (each below 2^60 + 1, all finite ones
 * together below 2^60 + n), so they are exact.
 */
typedef struct cut_bounds {
    int64_t deficit;   /* D above */
    int64_t min_tx;    /* the smallest transfer capacity (INT64_MAX: none) */
    int64_t tx0;       /* the source's transfer capacity */
    int64_t min_gain;  /* min over v != source of t_v - s_v */
    int64_t sum_gain;  /* sum over v != source of t_v - s_v */
} cut_bounds;

/* 1: the all-edge partition is the only minimum cut; -1: the all-cloud
 * one is; 0: no certificate. */
static int trivial_cut(const cut_bounds *b, int n)
{
    if (b->min_tx > b->deficit)
        return 1;
    if (n > 1 && b->min_gain >= 0 && b->sum_gain > b->tx0 &&
        (b->min_tx == INT64_MAX || b->min_gain > b->tx0 - b->min_tx))
        return -1;
    return 0;
}

/*
 * A maximum flow without the max-flow solver, when one is easy to find:
 * every node w but the source draws what its own red capacity cannot give
 * its blue one, plus what it passes on, from its first input (a tree
 * rooted at the source, whose red link is infinite):
 *     dem(w) = max(0, t_w - s_w + out(w)),  out(u) = sum of dem(w) over
 *     the nodes w whose first input is u,
 * carried by u's transfer link (u -> w, or u -> u' -> w). When no transfer
 * link has to carry more than its capacity, this is a feasible flow that
 * saturates every blue link, so it is a maximum flow (its value is the
 * capacity of the all-edge cut), and the minimum cut the max-flow would
 * report, the nodes reachable from the source in the residual network
 * (the same set for every maximum flow), is found by a search from the
 * source along the residual links:
 *  - red links with capacity left (s_w > t_w + out(w));
 *  - the infinite links from each node to its inputs;
 *  - u's transfer link when it has capacity left, then on to u's readers
 *    (through u' and its infinite links to them);
 *  - from a reader w back into u' when u' -> w carries flow (dem(w) > 0),
 *    and on from u' to u's other readers.
 * Writes the partition to `side` (1 = edge) and returns 1 when it is
 * all-edge, 0 for another, or -1 when the flow does not fit (no answer).
 */
static int flow_cut(clv_planner *pl, unsigned char *side)
{
    const clv_problem *p = pl->p;
    int n = pl->n, head = 0, tail = 0, reached = 0;
    int64_t *out = pl->out, *dem = pl->dem;
    memset(out, 0, (size_t)n * sizeof *out);
    for (int w = n - 1; w >= 1; w--) {
        int64_t d = pl->ct[w] - pl->cs[w] + out[w];
        int u = p->nodes[w].inputs[0];
        dem[w] = d > 0 ? d : 0;
        out[u] += dem[w];
        if (out[u] > pl->cx[u])
            return -1;
    }
    memset(side, 0, (size_t)n);
    memset(pl->aux_seen, 0, (size_t)n);
    side[0] = 1;
    pl->queue[tail++] = 0;
    for (int v = 1; v < n; v++)
        if (pl->cs[v] > pl->ct[v] + out[v]) {
            side[v] = 1;
            pl->queue[tail++] = v;
        }
    while (head < tail) {
        int u = pl->queue[head++];
        const clv_problem_node *nd = &p->nodes[u];
        reached++;
        for (int k = 0; k < nd->n_inputs; k++) {
            int v = nd->inputs[k];
            if (!side[v]) {
                side[v] = 1;
                pl->queue[tail++] = v;
            }
        }
        /* the producers whose readers u can reach: u itself through its
         * transfer link, and its first input back through u' */
        int from[2], nf = 0;
        if (nd->n_consumers > 0 && out[u] < pl->cx[u])
            from[nf++] = u;
        if (u > 0 && dem[u] > 0 && p->nodes[nd->inputs[0]].n_consumers > 1)
            from[nf++] = nd->inputs[0];
        for (int f = 0; f < nf; f++) {
            const clv_problem_node *pn = &p->nodes[from[f]];
            if (pn->n_consumers > 1) {
                if (pl->aux_seen[from[f]])
                    continue;
                pl->aux_seen[from[f]] = 1;
            }
            for (int k = 0; k < pn->n_consumers; k++) {
                int w = pn->consumers[k];
                if (!side[w]) {
                    side[w] = 1;
                    pl->queue[tail++] = w;
                }
            }
        }
    }
    /* keep this flow: the max-flow may start from it later */
    pl->out = pl->last_out;
    pl->last_out = out;
    pl->dem = pl->last_dem;
    pl->last_dem = dem;
    pl->last_newer = true;
    return reached == n;
}

/*
 * The all-cloud counterpart of flow_cut(): a flow that saturates every
 * red link (v != source) and the source's transfer link, whose value is
 * then the capacity of the all-cloud cut, so it is a maximum flow; and
 * then the source reaches nothing in the residual network (its transfer
 * link is full, no flow enters it), so the all-cloud partition is the
 * minimum cut the max-flow would report.
 *  - Backwards, last node first: what a node's red link and the flow from
 *    its readers bring beyond its blue capacity goes on to its first input
 *    (the infinite link reader -> input); none may reach the source.
 *  - Forwards, source first: what enters a node through transfer links
 *    fills the blue capacity its red link and readers left; the rest
 *    leaves through its own transfer link, spread over its readers by
 *    the capacity they have left (the rest to the first).
 * Returns whether the flow fits (if not, there is no answer).
 */
static bool cloud_flow(clv_planner *pl)
{
    const clv_problem *p = pl->p;
    int n = pl->n;
    int64_t *inflow = pl->out, *spare = pl->dem;
    memset(inflow, 0, (size_t)n * sizeof *inflow);
    for (int w = n - 1; w >= 1; w--) {
        int64_t have = pl->cs[w] + inflow[w];
        if (have > pl->ct[w]) {
            inflow[p->nodes[w].inputs[0]] += have - pl->ct[w];
            spare[w] = 0;
        } else {
            spare[w] = pl->ct[w] - have;
        }
    }
    if (inflow[0] > 0)
        return false;
    /* inflow now counts the flow arriving through transfer links */
    memset(inflow, 0, (size_t)n * sizeof *inflow);
    for (int u = 0; u < n; u++) {
        const clv_problem_node *nd = &p->nodes[u];
        int64_t rest = pl->cx[0];
        if (u > 0) {
            int64_t take = inflow[u] < spare[u] ? inflow[u] : spare[u];
            rest = inflow[u] - take;
        }
        if (rest == 0)
            continue;
        if (nd->n_consumers == 0 || rest > pl->cx[u])
            return false;
        for (int k = 0; k < nd->n_consumers && rest > 0; k++) {
            int c = nd->consumers[k];
            int64_t room = spare[c] - inflow[c];
            int64_t give = room < rest ? room : rest;
            if (give > 0) {
                inflow[c] += give;
                rest -= give;
            }
        }
        inflow[nd->consumers[0]] += rest;
    }
    return true;
}

/* Solves the min-cut with edge times scaled by alpha and cloud times by
 * gamma (Section III-C; alpha = gamma = 1 is DSL) and writes the partition
 * to pl->side. Costs are made integers with a quantum chosen so that all
 * finite capacities together stay below 2^60. `warm`: start the max-flow
 * from the previous min-cut's flow and search trees (within one run: each
 * run starts from zero, so that runs do not depend on earlier ones), and
 * skip it when trivial_cut() or flow_cut() finds the cut without it.
 * Returns 1 when the cut is known to be all-edge, 2 when known to be
 * all-cloud (both were dsh candidates before its grid), else 0. */
static int min_cut(clv_planner *pl, double alpha, double gamma, bool warm)
{
    const clv_problem *p = pl->p;
    int n = pl->n;
    double total = 0;
    /* the bounds of trivial_cut() on the costs themselves (ms) */
    double deficit = 0, min_tx = INFINITY, tx0 = 0, min_gain = INFINITY,
           sum_gain = 0;
    for (int v = 0; v < n; v++) {
        double blue = alpha * p->nodes[v].t_edge_ms;
        double red = v == 0 ? 0 : gamma * p->nodes[v].t_cloud_ms + pl->res[v];
        pl->blue[v] = blue;
        pl->red[v] = red;
        total += blue + red + pl->tx[v];
        if (v > 0) {
            double g = blue - red;
            deficit += g > 0 ? g : 0;
            min_gain = g < min_gain ? g : min_gain;
            sum_gain += g;
        }
        if (pl->tx_pair[v] >= 0)
            min_tx = pl->tx[v] < min_tx ? pl->tx[v] : min_tx;
    }
    if (pl->tx_pair[0] >= 0)
        tx0 = pl->tx[0];
    /* With a margin far above the rounding of the integer capacities
     * (each within 0.5 + 2^-53 * 2^60 units of cost / q, units of
     * q = total / 2^60) and of these sums, the certificates of trivial_cut()
     * hold for the integers as well: decided without computing them. */
    int quick = 0;
    if (warm) {
        double margin = total * ((double)n + 16) * 1e-13;
        if (min_tx - deficit > margin)
            quick = 1;
        else if (n > 1 && min_gain > margin && sum_gain - tx0 > margin &&
                 min_gain + min_tx - tx0 > margin)
            quick = 2;
        if (quick && !pl->check) {
            all_on(pl->side, n, quick == 1);
            pl->cuts++;
            return quick;
        }
    }
    double q = total > 0 ? total / 1152921504606846976.0 : 1.0; /* 2^60 */
    cut_bounds b = {0, INT64_MAX, 0, INT64_MAX, 0};
    for (int v = 0; v < n; v++) {
        int64_t s = v == 0 ? CLV_MF_INF : round_nonneg(pl->red[v] / q);
        int64_t t = round_nonneg(pl->blue[v] / q);
        int64_t x = pl->tx_pair[v] >= 0 ? round_nonneg(pl->tx[v] / q) : 0;
        pl->cs[v] = s;
        pl->ct[v] = t;
        pl->cx[v] = x;
        if (v > 0) {
            int64_t g = t - s;
            b.deficit += g > 0 ? g : 0;
            b.min_gain = g < b.min_gain ? g : b.min_gain;
            b.sum_gain += g;
        }
        if (pl->tx_pair[v] >= 0) {
            b.min_tx = x < b.min_tx ? x : b.min_tx;
            if (v == 0)
                b.tx0 = x;
        }
    }
    pl->cuts++;
    /* warm (dsh): first the certificates, then the flow of flow_cut(),
     * then the max-flow from the previous cut's flow and trees (the same
     * cut as from zero) */
    int found = -1;
    if (warm) {
        found = trivial_cut(&b, n);
        if (found) {
            all_on(pl->alt, n, found > 0);
            found = found > 0 ? 1 : 2;
        } else if (b.sum_gain > b.tx0) {
            /* the all-cloud cut is cheaper than the all-edge one, so the
             * all-edge flow of flow_cut() cannot fit */
            found = cloud_flow(pl) ? 2 : -1;
            if (found > 0)
                all_on(pl->alt, n, false);
        } else {
            found = flow_cut(pl, pl->alt);
        }
        if (found >= 0 && !pl->check) {
            memcpy(pl->side, pl->alt, (size_t)n);
            return found;
        }
    }
    for (int v = 0; v < n; v++) {
        clv_mf_set_terminal(pl->mf, v, pl->cs[v], pl->ct[v]);
        if (pl->tx_pair[v] >= 0)
            clv_mf_set_pair(pl->mf, pl->tx_pair[v], pl->cx[v],
                            p->nodes[v].n_consumers == 1 ? CLV_MF_INF : 0);
    }
    if (warm && !pl->check) {
        /* from the newer of the last flow_cut() flow and the max-flow's
         * own state */
        if (pl->last_newer) {
            memset(pl->pair_flow, 0,
                   (size_t)pl->n_pairs * sizeof *pl->pair_flow);
            for (int v = 0; v < n; v++) {
                if (pl->tx_pair[v] >= 0)
                    pl->pair_flow[pl->tx_pair[v]] += pl->last_out[v];
                if (pl->dem_pair[v] >= 0 &&
                    pl->dem_pair[v] != pl->tx_pair[p->nodes[v].inputs[0]])
                    pl->pair_flow[pl->dem_pair[v]] += pl->last_dem[v];
            }
            clv_mf_set_flow(pl->mf, pl->pair_flow);
        }
        clv_mf_solve_dynamic(pl->mf);
    } else {
        int64_t flow;
        clv_mf_solve(pl->mf, &flow);
    }
    pl->last_newer = false;
    for (int v = 0; v < n; v++)
        pl->side[v] = v == 0 || clv_mf_on_source_side(pl->mf, v);
    if (warm && pl->check && quick) {
        all_on(pl->alt, n, quick == 1);
        pl->certified++;
        pl->wrong += memcmp(pl->side, pl->alt, (size_t)n) != 0;
        return quick;
    }
    if (warm && pl->check && found >= 0) {
        pl->certified++;
        pl->wrong += memcmp(pl->side, pl->alt, (size_t)n) != 0;
        return found;
    }
    return 0;
}

/* Is a (stage, latency) better than b's, for the throughput objective? */
static bool better_stage(const clv_plan *a, const clv_plan *b)
{
    if (a->max_stage_ms != b->max_stage_ms)
        return a->max_stage_ms < b->max_stage_ms;
    return a->latency_ms < b->latency_ms;
}

/* DSL: the least-latency partition into out. The min-cut cannot see the
 * rtt (a fixed cost of every partition that sends anything), so the
 * all-edge partition, which sends nothing, is compared as well. */
static void run_dsl(clv_planner *pl, const clv_link *link, clv_plan *out)
{
    base_costs(pl, link);
    min_cut(pl, 1.0, 1.0, false);
    clv_plan__eval_fast(pl->p, link, pl->side, out);
    if (link->rtt_ms > 0) {
        all_on(pl->side, pl->n, true);
        clv_plan__eval_fast(pl->p, link, pl->side, &pl->trial);
        if (pl->trial.latency_ms < out->latency_ms)
            clv_plan__eval_fast(pl->p, link, pl->side, out);
    }
}

/* Tries the partition in pl->side; keeps it in out if better. */
static bool consider_stage(clv_planner *pl, const clv_link *link,
                           clv_plan *out)
{
    clv_plan__eval_fast(pl->p, link, pl->side, &pl->trial);
    if (!better_stage(&pl->trial, out))
        return false;
    clv_plan__eval_fast(pl->p, link, pl->side, out);
    return true;
}

/* DSH (Algorithm 2): min-cuts over a grid of (alpha, gamma), searched in
 * log2 space because the costs span orders of magnitude, coarse first,
 * then finer around the best point. Starts from DSL's plan, so it is never
 * worse than DSL; the all-edge and all-cloud plans are candidates too. */
static void run_dsh(clv_planner *pl, const clv_plan_options *o,
                    clv_plan *out)
{
    const clv_link *link = &o->link;
    const clv_problem *p = pl->p;
    int n = pl->n;
    run_dsl(pl, link, out);
    all_on(pl->side, n, true);
    consider_stage(pl, link, out);
    all_on(pl->side, n, false);
    consider_stage(pl, link, out);

    double lo = INFINITY, hi = 0;
    for (int v = 0; v < n; v++) {
        double c[3] = {p->nodes[v].t_edge_ms, p->nodes[v].t_cloud_ms,
                       pl->tx[v]};
        for (int k = 0; k < 3; k++)
            if (c[k] > 0) {
                lo = c[k] < lo ? c[k] : lo;
                hi = c[k] > hi ? c[k] : hi;
            }
    }
    double span = hi > 0 ? ceil(log2(hi / lo)) : 1;
    if (span < 1)
        span = 1;
    if (span > 30)
        span = 30;
    int grid = o->dsh_grid >= 2 ? o->dsh_grid : 2;
    int k = o->dsh_k >= 2 ? o->dsh_k : 2;
    double step = 2 * span / (grid - 1);
    double best_a = 0, best_c = 0;
    double a_lo = -span, c_lo = -span;
    int per_axis = grid;
    for (int round = 0; round <= o->dsh_rounds; round++) {
        double before = out->max_stage_ms;
        double na = best_a, nc = best_c;
        for (int i = 0; i < per_axis; i++)
            for (int j = 0; j < per_axis; j++) {
                double a = a_lo + i * step, c = c_lo + j * step;
                /* a proven all-edge or all-cloud cut was a candidate
                 * before the grid: it cannot be better than out */
                if (min_cut(pl, exp2(a), exp2(c), true) == 0 &&
                    consider_stage(pl, link, out)) {
                    na = a;
                    nc = c;
                }
            }
        best_a = na;
        best_c = nc;
        if (round > 0 && before - out->max_stage_ms <= o->dsh_eps_ms)
            break;
        /* next: the neighbourhood of the best point, step / k */
        a_lo = best_a - step;
        c_lo = best_c - step;
        step /= k;
        per_axis = 2 * k + 1;
    }
}

void clv_plan__set_check(clv_planner *pl, bool on)
{
    pl->check = on;
    pl->certified = pl->wrong = 0;
}

void clv_plan__check_counts(const clv_planner *pl, long *certified,
                            long *wrong)
{
    *certified = pl->certified;
    *wrong = pl->wrong;
}

/* ---- the simple planners ------------------------------------------------- */

static void run_neurosurgeon(clv_planner *pl, const clv_link *link,
                             clv_plan *out)
{
    int n = pl->n;
    all_on(pl->side, n, true);
    clv_plan__eval_fast(pl->p, link, pl->side, out);
    /* the split after node k: 0..k on the edge */
    for (int k = n - 2; k >= 0; k--) {
        pl->side[k + 1] = 0;
        clv_plan__eval_fast(pl->p, link, pl->side, &pl->trial);
        if (pl->trial.latency_ms < out->latency_ms)
            clv_plan__eval_fast(pl->p, link, pl->side, out);
    }
    out->evaluations = n;
}

/* ---- brute force --------------------------------------------------------- */

typedef struct brute {
    const clv_problem *p;
    const clv_link *link;
    clv_plan_objective obj;
    double budget;
    int n;
    uint32_t inmask[CLV_PLAN_BRUTE_MAX];
    double tx[CLV_PLAN_BRUTE_MAX], res[CLV_PLAN_BRUTE_MAX];
    int *readers; /* cloud consumers per node */
    uint32_t edge;
    int n_cloud;
    /* best so far */
    bool found;
    uint32_t best;
    double b_key, b_lat;
    long leaves;
} brute;

static void brute_leaf(brute *b, double te, double tt, double tc)
{
    b->leaves++;
    if (b->n_cloud > 0)
        tt += b->link->rtt_ms;
    double lat = te + tt + tc, key;
    switch (b->obj) {
    case CLV_OBJ_MAX_STAGE:
        key = te > tt ? te : tt;
        key = key > tc ? key : tc;
        break;
    case CLV_OBJ_BUDGET:
        if (tt + tc > b->budget * (1 + 1e-9) + 1e-12)
            return;
        key = te;
        break;
    default:
        key = lat;
    }
    if (!b->found || key < b->b_key || (key == b->b_key && lat < b->b_lat)) {
        b->found = true;
        b->best = b->edge;
        b->b_key = key;
        b->b_lat = lat;
    }
}

/* Decides node i and the rest: on the edge if all its inputs are there
 * (then also try the cloud), else on the cloud. Only valid partitions are
 * generated. te/tt/tc are the sums over the nodes decided so far (tt
 * without the rtt). */
static void brute_rec(brute *b, int i, double te, double tt, double tc)
{
    if (i == b->n) {
        brute_leaf(b, te, tt, tc);
        return;
    }
    const clv_problem_node *nd = &b->p->nodes[i];
    if ((b->inmask[i] & ~b->edge) == 0) {
        b->edge |= 1u << i;
        brute_rec(b, i + 1, te + nd->t_edge_ms, tt, tc);
        b->edge &= ~(1u << i);
    }
    /* on the cloud: every edge input now crosses (once) */
    double add = b->res[i];
    for (int k = 0; k < nd->n_inputs; k++) {
        int u = nd->inputs[k];
        if ((b->edge >> u) & 1u && b->readers[u]++ == 0)
            add += b->tx[u];
    }
    b->n_cloud++;
    brute_rec(b, i + 1, te, tt + add, tc + nd->t_cloud_ms);
    b->n_cloud--;
    for (int k = 0; k < nd->n_inputs; k++) {
        int u = nd->inputs[k];
        if ((b->edge >> u) & 1u)
            b->readers[u]--;
    }
}

static int run_brute(clv_planner *pl, const clv_plan_options *o,
                     clv_plan *out, clv_error *err)
{
    const clv_problem *p = pl->p;
    int n = pl->n;
    if (n > CLV_PLAN_BRUTE_MAX)
        return clv_error_set(err, CLV_ELIMIT,
                             "brute force enumerates every partition and "
                             "takes at most %d nodes; this problem has %d "
                             "(use dsl, dsh or dsccs)",
                             CLV_PLAN_BRUTE_MAX, n);
    brute b;
    memset(&b, 0, sizeof b);
    b.p = p;
    b.link = &o->link;
    b.obj = o->objective;
    b.budget = o->cloud_budget_ms;
    b.n = n;
    b.readers = pl->cloud_readers;
    memset(b.readers, 0, (size_t)n * sizeof *b.readers);
    for (int i = 0; i < n; i++) {
        const clv_problem_node *nd = &p->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++)
            b.inmask[i] |= 1u << nd->inputs[k];
        b.tx[i] = clv_link_transfer_ms(&o->link, nd->out_bytes);
        b.res[i] = clv_plan__result_ms(p, &o->link, i);
    }
    b.edge = 1u; /* the source */
    brute_rec(&b, 1, p->nodes[0].t_edge_ms, 0, 0);
    if (!b.found) /* only with a budget below 0, checked before */
        b.best = (n == 32 ? 0 : (1u << n)) - 1u;
    for (int i = 0; i < n; i++)
        pl->side[i] = (b.best >> i) & 1u;
    clv_plan__eval_fast(p, &o->link, pl->side, out);
    out->evaluations = b.leaves;
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

int clv_planner_run(clv_planner *pl, const clv_plan_options *o,
                    clv_plan *out, clv_error *err)
{
    const clv_problem *p = pl->p;
    int n = pl->n, rc;
    if ((rc = clv_plan__check_link(&o->link, err)))
        return rc;
    if (clv_plan__reserve(out, n))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    bool budget = o->method == CLV_PLAN_DSCCS ||
                  (o->method == CLV_PLAN_BRUTE &&
                   o->objective == CLV_OBJ_BUDGET);
    if (budget && (!isfinite(o->cloud_budget_ms) || o->cloud_budget_ms < 0))
        return clv_error_set(err, CLV_EINVAL,
                             "%s needs a cloud budget: a finite number of "
                             "ms >= 0 (got %g)",
                             clv_plan_method_name(o->method),
                             o->cloud_budget_ms);
    if (o->method == CLV_PLAN_DADS && !(isfinite(o->fps) && o->fps > 0))
        return clv_error_set(err, CLV_EINVAL,
                             "dads needs the frame rate to keep up with: "
                             "fps > 0 (got %g)",
                             o->fps);

    if (o->method == CLV_PLAN_JALAD) {
        clv_jalad_options jo;
        clv_jalad_options_init(&jo);
        jo.max_loss = o->accuracy_drop;
        jo.loss = o->jalad_paper_loss ? CLV_JALAD_ACCURACY : CLV_JALAD_DISAGREEMENT;
        return clv_jalad_plan(p, o->jalad_table, &o->link, &jo, out, NULL, err);
    }
    memset(&out->codec, 0, sizeof out->codec);
    out->accuracy_loss = 0;
    out->mode = CLV_MODE_NONE;
    out->target_fps = 0;
    out->budget_ms = 0;
    out->budget_infeasible = false;
    out->evaluations = 0;
    out->note[0] = '\0';
    pl->cuts = 0;
    switch (o->method) {
    case CLV_PLAN_EDGE:
    case CLV_PLAN_CLOUD:
        all_on(pl->side, n, o->method == CLV_PLAN_EDGE);
        clv_plan__eval_fast(p, &o->link, pl->side, out);
        out->evaluations = 1;
        break;
    case CLV_PLAN_NEUROSURGEON:
        run_neurosurgeon(pl, &o->link, out);
        break;
    case CLV_PLAN_BRUTE:
        if ((rc = run_brute(pl, o, out, err)))
            return rc;
        break;
    case CLV_PLAN_DSL:
        run_dsl(pl, &o->link, out);
        out->evaluations = pl->cuts;
        break;
    case CLV_PLAN_DSH:
        run_dsh(pl, o, out);
        out->evaluations = pl->cuts;
        break;
    case CLV_PLAN_DADS: {
        double period = 1000.0 / o->fps;
        run_dsl(pl, &o->link, out);
        out->mode = CLV_MODE_LIGHT;
        if (out->max_stage_ms > period) {
            run_dsh(pl, o, out);
            out->mode = CLV_MODE_HEAVY;
            if (out->max_stage_ms > period) {
                out->mode = CLV_MODE_CONGESTED;
                snprintf(out->note, sizeof out->note,
                         "cannot keep up with %g frames/s: the best max "
                         "stage found is %.3f ms, so at most %.3f frames/s "
                         "are sustainable; lower the frame rate",
                         o->fps, out->max_stage_ms, out->fps);
            }
        }
        out->target_fps = o->fps;
        out->evaluations = pl->cuts;
        break;
    }
    case CLV_PLAN_DSCCS: {
        if ((rc = clv_plan__dsccs(p, &o->link, o->cloud_budget_ms, pl->side,
                                  err)))
            return rc;
        clv_plan__eval_fast(p, &o->link, pl->side, out);
        out->budget_ms = o->cloud_budget_ms;
        bool any_cloud = false;
        for (int i = 0; i < n; i++)
            any_cloud |= !pl->side[i];
        if (!any_cloud && n > 1) {
            out->budget_infeasible = true;
            snprintf(out->note, sizeof out->note,
                     "no partition that offloads layers and lowers the edge "
                     "time fits the cloud budget of %g ms: everything runs "
                     "on the edge",
                     o->cloud_budget_ms);
        }
        out->evaluations = 1;
        break;
    }
    default:
        return clv_error_set(err, CLV_EINVAL, "unknown planner %d",
                             (int)o->method);
    }
    out->method = o->method;
    return clv_plan__fill_partition(p, out, err);
}

int clv_plan_solve(const clv_problem *p, const clv_plan_options *o,
                   clv_plan *out, clv_error *err)
{
    clv_planner *pl = NULL;
    int rc = clv_planner_create(p, &pl, err);
    if (rc)
        return rc;
    rc = clv_planner_run(pl, o, out, err);
    clv_planner_free(pl);
    return rc;
}
