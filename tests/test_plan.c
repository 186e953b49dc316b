/* Tests of the planners: the DNN Surgery paper's Fig. 9 example, a
 * YOLOv2-like chain whose best cut moves with the bandwidth, evaluation,
 * dads modes, and every planner against brute force on random DAGs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/plan.h"
#include "util/util.h"

#define NEAR(a, b) \
    (fabs((double)(a) - (double)(b)) <= \
     1e-9 * (1 + fabs((double)(a)) + fabs((double)(b))))

typedef struct spec {
    const char *name;
    double te, tc;
    uint64_t bytes;
    int n_in;
    int in[3];
} spec;

static clv_problem *build(const spec *s, int n)
{
    clv_problem *p = clv_problem_create();
    clv_error err;
    clv_error_clear(&err);
    for (int i = 0; i < n; i++)
        CHECKF(clv_problem_add_node(p, s[i].name, s[i].te, s[i].tc,
                                    s[i].bytes, s[i].n_in, s[i].in, NULL,
                                    &err) == 0,
               "%s", err.msg);
    CHECKF(clv_problem_finalize(p, &err) == 0, "%s", err.msg);
    return p;
}

static int run(const clv_problem *p, clv_plan_method m, double mbps,
               clv_plan *plan)
{
    clv_plan_options o;
    clv_error err;
    clv_error_clear(&err);
    clv_plan_options_init(&o);
    o.method = m;
    o.link.bandwidth_mbps = mbps;
    int rc = clv_plan_solve(p, &o, plan, &err);
    CHECKF(rc == 0, "%s: %s", clv_plan_method_name(m), err.msg);
    return rc;
}

/* Runs the planner `pl` with the options `o` as planner `m` (left in
 * o->method). */
static int run_as(clv_planner *pl, clv_plan_options *o, clv_plan_method m,
                  clv_plan *out)
{
    o->method = m;
    return clv_planner_run(pl, o, out, NULL);
}

/* The paper's Fig. 9: v1 feeds v2 and v3, both feed v4. At 1 Mbit/s,
 * v1's 1000 bytes take 8 ms. Hand-computed partitions (edge set: T_e +
 * T_t + T_c):
 *   {v1}           1 + 8 + 2.5           = 11.5   <- optimum
 *   {v1,v2}        6 + (8 + 32) + 1.5    = 47.5
 *   {v1,v3}        5 + (8 + 24) + 1.5    = 38.5
 *   {v1,v2,v3}     10 + (32 + 24) + 0.5  = 66.5
 *   all            13                    = 13
 * A min-cut without the auxiliary vertex would pay v1's 8 ms twice (19.5)
 * and pick the all-edge plan. */
static const spec fig9[] = {
    {"v1", 1, 0.5, 1000, 0, {0}},
    {"v2", 5, 1, 4000, 1, {0}},
    {"v3", 4, 1, 3000, 1, {0}},
    {"v4", 3, 0.5, 100, 2, {1, 2}},
};

static void test_fig9(void)
{
    clv_problem *p = build(fig9, 4);
    clv_plan plan;
    clv_plan_init(&plan);
    clv_plan_method ms[] = {CLV_PLAN_DSL, CLV_PLAN_BRUTE,
                            CLV_PLAN_NEUROSURGEON, CLV_PLAN_DSH};
    for (int k = 0; k < 4; k++) {
        if (run(p, ms[k], 1.0, &plan))
            continue;
        if (ms[k] != CLV_PLAN_DSH) {
            CHECKF(NEAR(plan.latency_ms, 11.5), "%s: %g",
                   clv_plan_method_name(ms[k]), plan.latency_ms);
            CHECK(plan.on_edge[0] && !plan.on_edge[1] && !plan.on_edge[2] &&
                  !plan.on_edge[3]);
            CHECK(plan.n_cut == 1 && plan.cut[0] == 0);
            CHECK(plan.cut_bytes == 1000);
            CHECK(NEAR(plan.transfer_ms, 8) && NEAR(plan.edge_ms, 1) &&
                  NEAR(plan.cloud_ms, 2.5) && NEAR(plan.max_stage_ms, 8));
            CHECK(NEAR(plan.fps, 125));
        }
    }
    /* max stage: {v1} has 8, all-edge 13; nothing beats 8 (the other
     * partitions send >= 32 ms), so dsh and brute-stage give 8 */
    CHECK(NEAR(plan.max_stage_ms, 8)); /* dsh, last run */
    run(p, CLV_PLAN_EDGE, 1.0, &plan);
    CHECK(NEAR(plan.latency_ms, 13) && plan.n_cut == 0 &&
          NEAR(plan.transfer_ms, 0));
    run(p, CLV_PLAN_CLOUD, 1.0, &plan);
    CHECK(NEAR(plan.latency_ms, 11.5));
    /* slow link: 0.1 Mbit/s makes v1's transfer 80 ms: all-edge wins */
    run(p, CLV_PLAN_DSL, 0.1, &plan);
    CHECK(NEAR(plan.latency_ms, 13) && plan.n_cut == 0);

    /* rtt and result return: {v1} now costs 1 + (8 + 0.8 + 5) + 2.5 */
    clv_link link = {1.0, 5.0, true};
    unsigned char part[4] = {1, 0, 0, 0};
    clv_error err;
    clv_error_clear(&err);
    CHECK(clv_plan_evaluate(p, &link, part, &plan, &err) == 0);
    CHECK(NEAR(plan.transfer_ms, 13.8) && NEAR(plan.latency_ms, 17.3));
    clv_plan_options o;
    clv_plan_options_init(&o);
    o.link = link;
    o.method = CLV_PLAN_DSL;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    CHECK(NEAR(plan.latency_ms, 13) && plan.n_cut == 0);
    o.method = CLV_PLAN_BRUTE;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    CHECK(NEAR(plan.latency_ms, 13));

    /* invalid partitions */
    unsigned char bad1[4] = {1, 0, 1, 1}; /* v2 cloud feeds v4 edge */
    CHECK(clv_plan_evaluate(p, &link, bad1, &plan, &err) == CLV_EINVAL);
    CHECK(strstr(err.msg, "'v2' runs on the cloud but feeds 'v4'") != NULL);
    unsigned char bad2[4] = {0, 0, 0, 0};
    CHECK(clv_plan_evaluate(p, &link, bad2, &plan, &err) == CLV_EINVAL);
    CHECK(strstr(err.msg, "'v1'") && strstr(err.msg, "source"));
    clv_link nolink = {0, 0, false};
    unsigned char ok[4] = {1, 1, 1, 1};
    CHECK(clv_plan_evaluate(p, &nolink, ok, &plan, &err) == CLV_EINVAL);

    /* dads: dsl's plan has max stage 8 ms (125 fps) */
    o.link.bandwidth_mbps = 1.0;
    o.link.rtt_ms = 0;
    o.link.count_result = false;
    o.method = CLV_PLAN_DADS;
    o.fps = 100;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    CHECK(plan.mode == CLV_MODE_LIGHT && NEAR(plan.max_stage_ms, 8));
    o.fps = 200; /* 5 ms: nothing reaches it */
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    CHECK(plan.mode == CLV_MODE_CONGESTED && NEAR(plan.fps, 125));
    CHECK(strstr(plan.note, "125") != NULL);
    o.fps = 0;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == CLV_EINVAL);
    CHECK(strstr(err.msg, "fps") != NULL);

    /* dsccs: budget 2.5 ms fits {v1} only when transfer is free; at
     * 1 Mbit/s {v1} needs 8 + 2.5 = 10.5 ms of cloud-side time */
    o.method = CLV_PLAN_DSCCS;
    o.cloud_budget_ms = 10.5;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    CHECK(NEAR(plan.edge_ms, 1) && !plan.budget_infeasible);
    o.cloud_budget_ms = 10.4;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    CHECK(NEAR(plan.edge_ms, 13) && plan.budget_infeasible);
    CHECK(strstr(plan.note, "budget") != NULL);
    o.cloud_budget_ms = -1;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == CLV_EINVAL);

    /* JSON and DOT carry the plan */
    o.method = CLV_PLAN_DSL;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    char *json = clv_plan_to_json(p, &o.link, &plan);
    CHECK(json && strstr(json, "\"planner\":\t\"dsl\"") &&
          strstr(json, "\"cut\":") && strstr(json, "\"latency_ms\":\t11.5"));
    free(json);
    char *dot = clv_plan_to_dot(p, &plan);
    CHECK(dot && strstr(dot, "\"v1\" -> \"v2\" [color=red"));
    free(dot);
    clv_plan_release(&plan);
    clv_problem_free(p);
}

/* A tiny-YOLOv2-like chain (output sizes of the real network, float32;
 * edge times made up, cloud 40 times faster). Hand-computed: at 18.88
 * Mbit/s the best is to send the frame (519168 B: 219.986 ms; cloud
 * 3363/40 = 84.075 ms; total 304.061 ms); at 4 Mbit/s, to run up to
 * pool5 on the edge (411 ms) and send its 173056 B (346.112 ms), cloud
 * 2952/40 = 73.8 ms: 830.912 ms; at cat1 speed, everything on the edge. */
static const spec yolo[] = {
    {"frame", 0, 0, 416 * 416 * 3, 0, {0}},
    {"conv1", 60, 1.5, 416 * 416 * 16 * 4, 1, {0}},
    {"pool1", 8, 0.2, 208 * 208 * 16 * 4, 1, {1}},
    {"conv2", 80, 2, 208 * 208 * 32 * 4, 1, {2}},
    {"pool2", 12, 0.3, 104 * 104 * 32 * 4, 1, {3}},
    {"conv3", 80, 2, 104 * 104 * 64 * 4, 1, {4}},
    {"pool3", 6, 0.15, 52 * 52 * 64 * 4, 1, {5}},
    {"conv4", 80, 2, 52 * 52 * 128 * 4, 1, {6}},
    {"pool4", 3, 0.075, 26 * 26 * 128 * 4, 1, {7}},
    {"conv5", 80, 2, 26 * 26 * 256 * 4, 1, {8}},
    {"pool5", 2, 0.05, 13 * 13 * 256 * 4, 1, {9}},
    {"conv6", 220, 5.5, 13 * 13 * 512 * 4, 1, {10}},
    {"pool6", 2, 0.05, 13 * 13 * 512 * 4, 1, {11}},
    {"conv7", 880, 22, 13 * 13 * 1024 * 4, 1, {12}},
    {"conv8", 1760, 44, 13 * 13 * 1024 * 4, 1, {13}},
    {"conv9", 90, 2.25, 13 * 13 * 125 * 4, 1, {14}},
};

static int last_edge(const clv_plan *plan)
{
    int k = 0;
    for (int i = 0; i < plan->n_nodes; i++)
        if (plan->on_edge[i])
            k = i;
    return k;
}

static void test_yolo_chain(void)
{
    clv_problem *p = build(yolo, 16);
    clv_plan plan, other;
    clv_plan_init(&plan);
    clv_plan_init(&other);
    run(p, CLV_PLAN_DSL, 18.88, &plan);
    CHECKF(NEAR(plan.latency_ms, 304.06144067796613), "%.9f",
           plan.latency_ms);
    CHECK(last_edge(&plan) == 0 && plan.cut_bytes == 519168);
    run(p, CLV_PLAN_DSL, 4, &plan);
    CHECKF(NEAR(plan.latency_ms, 830.912), "%.9f", plan.latency_ms);
    CHECK(last_edge(&plan) == 10 && plan.n_cut == 1 && plan.cut[0] == 10);
    run(p, CLV_PLAN_DSL, 0.13, &plan);
    CHECK(last_edge(&plan) == 15 && plan.n_cut == 0);
    /* the cut never moves back towards the input as the bandwidth drops,
     * and on a chain dsl, neurosurgeon and brute agree */
    int prev = 0;
    for (double bw = 40; bw > 0.05; bw *= 0.8) {
        run(p, CLV_PLAN_DSL, bw, &plan);
        CHECKF(last_edge(&plan) >= prev, "bw %g: cut after %d < %d", bw,
               last_edge(&plan), prev);
        prev = last_edge(&plan);
        run(p, CLV_PLAN_NEUROSURGEON, bw, &other);
        CHECK(NEAR(plan.latency_ms, other.latency_ms));
        run(p, CLV_PLAN_BRUTE, bw, &other);
        CHECK(NEAR(plan.latency_ms, other.latency_ms));
    }
    clv_plan_release(&plan);
    clv_plan_release(&other);
    clv_problem_free(p);
}

/* ---- random DAGs ----------------------------------------------------------- */

/* A random DAG of n nodes: node 0 the source, every other node reads 1 to
 * 3 earlier nodes (biased to recent ones, so there are chains, branches
 * and joins). Times and sizes vary over orders of magnitude. */
static clv_problem *random_dag(clv_rng *r, int n)
{
    clv_problem *p = clv_problem_create();
    char name[16];
    for (int i = 0; i < n; i++) {
        int in[3], k = 0;
        if (i > 0) {
            int want = 1 + (int)(clv_rng_next(r) % 3);
            for (int j = 0; j < want; j++) {
                int back = 1 + (int)(clv_rng_next(r) % (uint64_t)(i < 4 ? i : 4));
                if (clv_rng_uniform(r) < 0.2)
                    back = 1 + (int)(clv_rng_next(r) % (uint64_t)i);
                in[k++] = i - back;
            }
        }
        double te = i == 0 ? 0 : exp(clv_rng_uniform(r) * 6 - 2);
        double tc = te * (0.01 + 0.5 * clv_rng_uniform(r));
        uint64_t bytes = (uint64_t)exp(clv_rng_uniform(r) * 10 + 5);
        snprintf(name, sizeof name, "n%d", i);
        CHECK(clv_problem_add_node(p, name, te, tc, bytes, k, in, NULL,
                                   NULL) == 0);
    }
    CHECK(clv_problem_finalize(p, NULL) == 0);
    return p;
}

static void random_link(clv_rng *r, clv_link *link, int iter)
{
    link->bandwidth_mbps = exp(clv_rng_uniform(r) * 8 - 3); /* 0.05..150 */
    link->rtt_ms = iter % 4 == 1 ? 20 * clv_rng_uniform(r) : 0;
    link->count_result = iter % 3 == 2;
}

static void test_dsl_equals_brute(void)
{
    clv_rng r;
    clv_rng_seed(&r, 7);
    clv_plan a, b, c;
    clv_plan_init(&a);
    clv_plan_init(&b);
    clv_plan_init(&c);
    int bad = 0, total = 3000, moved = 0;
    for (int iter = 0; iter < total; iter++) {
        int n = 2 + iter % 15; /* 2..16 */
        clv_problem *p = random_dag(&r, n);
        clv_planner *pl = NULL;
        clv_plan_options o;
        clv_plan_options_init(&o);
        random_link(&r, &o.link, iter);
        CHECK(clv_planner_create(p, &pl, NULL) == 0);
        CHECK(run_as(pl, &o, CLV_PLAN_DSL, &a) == 0);
        CHECK(run_as(pl, &o, CLV_PLAN_BRUTE, &b) == 0);
        CHECK(run_as(pl, &o, CLV_PLAN_NEUROSURGEON, &c) == 0);
        /* dsl's plan must be valid and its costs as evaluated afresh */
        clv_plan check;
        clv_plan_init(&check);
        CHECK(clv_plan_evaluate(p, &o.link, a.on_edge, &check, NULL) == 0);
        CHECK(check.latency_ms == a.latency_ms);
        clv_plan_release(&check);
        if (!NEAR(a.latency_ms, b.latency_ms) && bad++ < 5)
            fprintf(stderr, "dag %d (n=%d): dsl %.9g, brute %.9g\n", iter, n,
                    a.latency_ms, b.latency_ms);
        CHECK(c.latency_ms >= b.latency_ms * (1 - 1e-12));
        moved += a.n_cut > 0 && a.n_cut < n;
        clv_planner_free(pl);
        clv_problem_free(p);
    }
    CHECKF(bad == 0, "%d of %d DAGs: dsl latency differs from brute", bad,
           total);
    CHECK(moved > total / 4); /* the instances are not trivial */
    printf("dsl = brute on %d random DAGs of 2..16 nodes (%d with a cut)\n",
           total - bad, moved);
    clv_plan_release(&a);
    clv_plan_release(&b);
    clv_plan_release(&c);
}

static void test_dsh_ratio(void)
{
    clv_rng r;
    clv_rng_seed(&r, 11);
    clv_plan dsh, dsl, opt;
    clv_plan_init(&dsh);
    clv_plan_init(&dsl);
    clv_plan_init(&opt);
    double worst = 1, sum = 0;
    int total = 2000, exact = 0;
    for (int iter = 0; iter < total; iter++) {
        int n = 3 + iter % 12;
        clv_problem *p = random_dag(&r, n);
        clv_planner *pl = NULL;
        clv_plan_options o;
        clv_plan_options_init(&o);
        random_link(&r, &o.link, iter);
        CHECK(clv_planner_create(p, &pl, NULL) == 0);
        CHECK(run_as(pl, &o, CLV_PLAN_DSH, &dsh) == 0);
        CHECK(run_as(pl, &o, CLV_PLAN_DSL, &dsl) == 0);
        o.objective = CLV_OBJ_MAX_STAGE;
        CHECK(run_as(pl, &o, CLV_PLAN_BRUTE, &opt) == 0);
        CHECK(dsh.max_stage_ms <= dsl.max_stage_ms);
        CHECK(dsh.max_stage_ms >= opt.max_stage_ms * (1 - 1e-12));
        double ratio = opt.max_stage_ms > 0
                           ? dsh.max_stage_ms / opt.max_stage_ms
                           : 1;
        if (ratio > worst)
            worst = ratio;
        sum += ratio;
        exact += NEAR(dsh.max_stage_ms, opt.max_stage_ms);
        clv_planner_free(pl);
        clv_problem_free(p);
    }
    CHECKF(worst <= 3, "dsh/optimum max stage ratio %g > 3", worst);
    printf("dsh vs optimal max stage on %d random DAGs: worst ratio %.4f, "
           "mean %.4f, optimal in %d\n",
           total, worst, sum / total, exact);
    clv_plan_release(&dsh);
    clv_plan_release(&dsl);
    clv_plan_release(&opt);
}

static void test_dsccs_equals_brute(void)
{
    clv_rng r;
    clv_rng_seed(&r, 13);
    clv_plan a, b, lo;
    clv_plan_init(&a);
    clv_plan_init(&b);
    clv_plan_init(&lo);
    int bad = 0, total = 1000, offloaded = 0, infeasible = 0;
    for (int iter = 0; iter < total; iter++) {
        int n = 2 + iter % 15;
        clv_problem *p = random_dag(&r, n);
        clv_planner *pl = NULL;
        clv_plan_options o;
        clv_plan_options_init(&o);
        random_link(&r, &o.link, iter);
        CHECK(clv_planner_create(p, &pl, NULL) == 0);
        /* a budget between nothing and the cloud plan's share */
        CHECK(run_as(pl, &o, CLV_PLAN_CLOUD, &lo) == 0);
        o.cloud_budget_ms =
            (lo.transfer_ms + lo.cloud_ms) * 1.3 * clv_rng_uniform(&r);
        o.method = CLV_PLAN_DSCCS;
        clv_error err;
        clv_error_clear(&err);
        CHECKF(clv_planner_run(pl, &o, &a, &err) == 0, "%s", err.msg);
        o.objective = CLV_OBJ_BUDGET;
        CHECK(run_as(pl, &o, CLV_PLAN_BRUTE, &b) == 0);
        if (!NEAR(a.edge_ms, b.edge_ms) && bad++ < 5)
            fprintf(stderr, "dag %d (n=%d, budget %g): dsccs T_e %.9g, "
                    "brute %.9g\n", iter, n, o.cloud_budget_ms, a.edge_ms,
                    b.edge_ms);
        CHECK(a.transfer_ms + a.cloud_ms <= o.cloud_budget_ms * (1 + 1e-6));
        offloaded += a.n_cut > 0;
        infeasible += a.budget_infeasible;
        clv_planner_free(pl);
        clv_problem_free(p);
    }
    CHECKF(bad == 0, "%d of %d: dsccs differs from brute", bad, total);
    CHECK(offloaded > total / 4 && infeasible > 0);
    printf("dsccs = brute on %d random budgets (%d offload, %d all-edge)\n",
           total - bad, offloaded, infeasible);
    clv_plan_release(&a);
    clv_plan_release(&b);
    clv_plan_release(&lo);
}

static void test_brute_limit(void)
{
    clv_rng r;
    clv_rng_seed(&r, 5);
    clv_problem *p = random_dag(&r, CLV_PLAN_BRUTE_MAX + 1);
    clv_plan plan;
    clv_plan_options o;
    clv_error err;
    clv_plan_init(&plan);
    clv_plan_options_init(&o);
    clv_error_clear(&err);
    o.method = CLV_PLAN_BRUTE;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == CLV_ELIMIT);
    CHECK(strstr(err.msg, "24") && strstr(err.msg, "25"));
    /* the other planners have no such limit */
    o.method = CLV_PLAN_DSH;
    CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
    clv_plan_release(&plan);
    clv_problem_free(p);
}

static void test_names(void)
{
    clv_plan_method m;
    for (int i = 0; i < CLV_PLAN_METHOD_COUNT; i++) {
        CHECK(clv_plan_method_from_name(
                  clv_plan_method_name((clv_plan_method)i), &m) == 0);
        CHECK((int)m == i);
    }
    CHECK(clv_plan_method_from_name("nope", &m) == CLV_ENOTFOUND);
    clv_link l;
    CHECK(clv_link_preset("4g", &l) == 0 && l.bandwidth_mbps == 5.85);
    CHECK(clv_link_preset("cat1", &l) == 0 && l.bandwidth_mbps == 0.13);
    CHECK(clv_link_preset("3g", &l) == 0 && l.bandwidth_mbps == 1.1);
    CHECK(clv_link_preset("wifi", &l) == 0 && l.bandwidth_mbps == 18.88);
    CHECK(clv_link_preset("5g", &l) == CLV_ENOTFOUND);
    CHECK(clv_link_n_presets() == 4 && clv_link_preset_name(4) == NULL);
    /* 1 MB at 8 Mbit/s is one second */
    l.bandwidth_mbps = 8;
    CHECK(NEAR(clv_link_transfer_ms(&l, 1000000), 1000));
}

int main(void)
{
    test_names();
    test_fig9();
    test_yolo_chain();
    test_brute_limit();
    test_dsl_equals_brute();
    test_dsh_ratio();
    test_dsccs_equals_brute();
    return check_report("test_plan");
}
