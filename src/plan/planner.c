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
    clv_plan_init(&pl->trial);
    if (!pl->mf || !pl->tx_pair || !pl->red || !pl->blue || !pl->tx ||
        !pl->res || !pl->side || !pl->best || !pl->cloud_readers ||
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

/* Solves the min-cut with edge times scaled by alpha and cloud times by
 * gamma (Section III-C; alpha = gamma = 1 is DSL) and writes the partition
 * to pl->side. Costs are made integers with a quantum chosen so that all
 * finite capacities together stay below 2^60. `warm`: start the max-flow
 * from the previous min-cut's flow (within one run: each run starts from
 * zero, so that runs do not depend on earlier ones). */
static void min_cut(clv_planner *pl, double alpha, double gamma, bool warm)
{
    const clv_problem *p = pl->p;
    int n = pl->n;
    double total = 0;
    for (int v = 0; v < n; v++) {
        pl->blue[v] = alpha * p->nodes[v].t_edge_ms;
        pl->red[v] = v == 0 ? 0
                            : gamma * p->nodes[v].t_cloud_ms + pl->res[v];
        total += pl->blue[v] + pl->red[v] + pl->tx[v];
    }
    double q = total > 0 ? total / 1152921504606846976.0 : 1.0; /* 2^60 */
    for (int v = 0; v < n; v++) {
        int64_t s = v == 0 ? CLV_MF_INF : round_nonneg(pl->red[v] / q);
        int64_t t = round_nonneg(pl->blue[v] / q);
        clv_mf_set_terminal(pl->mf, v, s, t);
        if (pl->tx_pair[v] >= 0)
            clv_mf_set_pair(pl->mf, pl->tx_pair[v],
                            round_nonneg(pl->tx[v] / q),
                            p->nodes[v].n_consumers == 1 ? CLV_MF_INF : 0);
    }
    /* warm: from the previous cut's flow, which dsh's successive cuts
     * change little (the same cut as from zero) */
    if (warm) {
        clv_mf_solve_warm(pl->mf);
    } else {
        int64_t flow;
        clv_mf_solve(pl->mf, &flow);
    }
    for (int v = 0; v < n; v++)
        pl->side[v] = v == 0 || clv_mf_on_source_side(pl->mf, v);
    pl->cuts++;
}

/* Is a (stage, latency) better than b's, for the throughput objective? */
static bool better_stage(const clv_plan *a, const clv_plan *b)
{
    if (a->max_stage_ms != b->max_stage_ms)
        return a->max_stage_ms < b->max_stage_ms;
    return a->latency_ms < b->latency_ms;
}

static void all_on(unsigned char *side, int n, bool edge)
{
    memset(side, edge ? 1 : 0, (size_t)n);
    side[0] = 1;
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
                min_cut(pl, exp2(a), exp2(c), true);
                if (consider_stage(pl, link, out)) {
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
    return 0;
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
