/* The JALAD planner: enumeration and the paper's 0-1 program (GLPK) agree
 * with a brute force written here on 1,000 random (T_E, T_C, A, S)
 * tables; the bound holds; the plan's prediction is the objective; the
 * table's JSON form round-trips and refuses what is wrong. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/load.h"
#include "cleave/plan.h"
#include "util/util.h"

/* A chain problem: source "in", then nodes "n1".."n{k-1}". */
static clv_problem *chain(clv_rng *r, int k)
{
    clv_problem *p = clv_problem_create();
    int prev = -1;
    for (int i = 0; i < k; i++) {
        char name[16];
        snprintf(name, sizeof name, i ? "n%d" : "in", i);
        double te = i ? 0.1 + 20 * clv_rng_uniform(r) : 0;
        double tc = i ? te / (2 + 20 * clv_rng_uniform(r)) : 0;
        uint64_t bytes = 1000 + (uint64_t)(500000 * clv_rng_uniform(r));
        CHECK(clv_problem_add_node(p, name, te, tc, bytes, i ? 1 : 0, &prev, &prev,
                                   NULL) == 0);
    }
    CHECK(clv_problem_finalize(p, NULL) == 0);
    return p;
}

static const char *const frame_codecs[] = {"u8", "png", "jpeg:50", "jpeg:90"};

/* A random table over the chain's nodes: cloud-only with frame codecs,
 * and some cut points with q1..q16 in one entropy stage or another. */
static clv_jalad_table *random_table(clv_rng *r, const clv_problem *p)
{
    clv_jalad_table *t = calloc(1, sizeof *t);
    int n = clv_problem_n_nodes(p);
    t->cuts = calloc((size_t)n, sizeof *t->cuts);
    t->labelled = true;
    t->base_accuracy = 0.9;
    for (int i = 0; i < n - 1; i++) {
        if (i > 0 && clv_rng_uniform(r) < 0.4)
            continue;
        clv_jalad_cut *k = &t->cuts[t->n_cuts++];
        k->position = i - 1;
        k->after = i ? clv_util_strdup(clv_problem_node_at(p, i)->name) : NULL;
        k->raw_bytes = clv_problem_node_at(p, i)->out_bytes;
        int ne = i ? 16 : 4;
        k->entries = calloc((size_t)ne, sizeof *k->entries);
        for (int j = 0; j < ne; j++) {
            clv_jalad_entry *x = &k->entries[k->n_entries++];
            char name[32];
            if (i)
                snprintf(name, sizeof name, "q%d+%s", j + 1,
                         clv_rng_uniform(r) < 0.5 ? "huffman" : "zstd");
            CHECK(clv_codec_parse(i ? name : frame_codecs[j], &x->codec, NULL) == 0);
            x->accuracy_loss = -0.01 + 0.2 * clv_rng_uniform(r) * clv_rng_uniform(r);
            x->agreement = 1 - fabs(x->accuracy_loss) - 0.05 * clv_rng_uniform(r);
            x->bytes_mean = (double)k->raw_bytes * (0.002 + 0.3 * clv_rng_uniform(r));
            x->bytes_p95 = x->bytes_mean * 1.1;
            x->encode_ms = 2 * clv_rng_uniform(r);
            x->decode_ms = clv_rng_uniform(r);
        }
    }
    return t;
}

/* The optimum by the definition, from the problem's own numbers. */
static double brute(const clv_problem *p, const clv_jalad_table *t,
                    const clv_link *l, double drop, bool paper, int *cut, int *ent)
{
    int n = clv_problem_n_nodes(p);
    double all_edge = 0;
    for (int v = 0; v < n; v++)
        all_edge += clv_problem_node_at(p, v)->t_edge_ms;
    double best = all_edge;
    *cut = *ent = -1;
    for (int i = 0; i < t->n_cuts; i++) {
        const clv_jalad_cut *k = &t->cuts[i];
        int end = k->after ? clv_problem_find(p, k->after) : 0;
        double te = 0, tc = 0;
        for (int v = 0; v < n; v++) {
            if (v <= end)
                te += clv_problem_node_at(p, v)->t_edge_ms;
            else
                tc += clv_problem_node_at(p, v)->t_cloud_ms;
        }
        for (int j = 0; j < k->n_entries; j++) {
            const clv_jalad_entry *x = &k->entries[j];
            if ((paper ? x->accuracy_loss : 1 - x->agreement) > drop)
                continue;
            double c = te + x->encode_ms + tc + x->decode_ms +
                       llround(x->bytes_mean) * 8.0 / (l->bandwidth_mbps * 1e3) + l->rtt_ms;
            if (c < best) {
                best = c;
                *cut = i;
                *ent = j;
            }
        }
    }
    return best;
}

static void test_random(void)
{
    clv_rng r;
    clv_rng_seed(&r, 2026);
    int ilp_same = 0, enum_same = 0, tried = 0, offload = 0;
    for (int trial = 0; trial < 1000; trial++) {
        clv_problem *p = chain(&r, 3 + (int)(clv_rng_next(&r) % 28));
        clv_jalad_table *t = random_table(&r, p);
        clv_link l = {0};
        l.bandwidth_mbps = 0.1 + 50 * clv_rng_uniform(&r) * clv_rng_uniform(&r);
        l.rtt_ms = trial % 3 ? 0 : 20 * clv_rng_uniform(&r);
        double drop = trial % 5 == 0 ? 0 : 0.1 * clv_rng_uniform(&r);
        bool paper = trial % 2;
        int bc, be;
        double want = brute(p, t, &l, drop, paper, &bc, &be);
        clv_jalad_options jo;
        clv_jalad_options_init(&jo);
        jo.max_loss = drop;
        jo.loss = paper ? CLV_JALAD_ACCURACY : CLV_JALAD_DISAGREEMENT;
        clv_plan a, b;
        clv_plan_init(&a);
        clv_plan_init(&b);
        clv_jalad_choice ca, cb;
        clv_error err = {0};
        int ra = clv_jalad_plan(p, t, &l, &jo, &a, &ca, &err);
        CHECKF(ra == 0, "trial %d: %s", trial, err.msg);
        jo.method = CLV_JALAD_ILP;
        int rb = clv_jalad_plan(p, t, &l, &jo, &b, &cb, &err);
        CHECKF(rb == 0, "trial %d: %s", trial, err.msg);
        tried++;
        if (!ra && fabs(ca.cost_ms - want) <= 1e-9 * (1 + want))
            enum_same++;
        if (!rb && fabs(cb.cost_ms - want) <= 1e-9 * (1 + want))
            ilp_same++;
        else if (!rb)
            fprintf(stderr, "trial %d: ILP %.9f, brute force %.9f\n", trial,
                    cb.cost_ms, want);
        /* the plan predicts its objective, keeps the bound and says its codec */
        CHECKF(!ra && fabs(a.latency_ms - ca.cost_ms) <= 1e-9 * (1 + want),
               "trial %d: latency %.9f, objective %.9f", trial, a.latency_ms, ca.cost_ms);
        CHECK(!ra && a.accuracy_loss <= drop && a.method == CLV_PLAN_JALAD);
        if (!ra && ca.cut >= 0) {
            const clv_jalad_entry *x = &t->cuts[ca.cut].entries[ca.entry];
            CHECK((paper ? x->accuracy_loss : 1 - x->agreement) <= drop);
        }
        if (!ra && ca.cut >= 0) {
            offload++;
            const clv_jalad_entry *x = &t->cuts[ca.cut].entries[ca.entry];
            CHECK(a.codec.kind == x->codec.kind && a.codec.bits == x->codec.bits &&
                  a.cut_bytes == (uint64_t)llround(x->bytes_mean));
            /* the partition is the prefix up to the cut */
            int end = t->cuts[ca.cut].after
                          ? clv_problem_find(p, t->cuts[ca.cut].after)
                          : 0;
            int edge = 0;
            for (int v = 0; v < a.n_nodes; v++)
                edge += a.on_edge[v];
            CHECK(edge == end + 1);
        } else if (!ra) {
            CHECK(a.codec.kind == CLV_CODEC_RAW && a.transfer_ms == 0);
        }
        clv_plan_release(&a);
        clv_plan_release(&b);
        clv_jalad_table_free(t);
        clv_problem_free(p);
    }
    CHECKF(enum_same == tried, "enumeration: %d of %d optimal", enum_same, tried);
    CHECKF(ilp_same == tried, "ILP: %d of %d optimal", ilp_same, tried);
    /* the random tables must exercise both outcomes */
    CHECKF(offload > 100 && offload < 950, "%d of 1000 plans offload", offload);
}

static void test_table_json(void)
{
    clv_rng r;
    clv_rng_seed(&r, 9);
    clv_problem *p = chain(&r, 8);
    clv_jalad_table *t = random_table(&r, p);
    t->model = clv_util_strdup("chain");
    t->images = 100;
    char *a = clv_jalad_table_to_json(t);
    clv_jalad_table *u = NULL;
    clv_error err = {0};
    CHECKF(a && clv_jalad_table_parse(a, strlen(a), "t", &u, &err) == 0, "%s", err.msg);
    char *b = u ? clv_jalad_table_to_json(u) : NULL;
    CHECK(a && b && !strcmp(a, b));
    free(b);
    clv_jalad_table_free(u);
    /* what is wrong is named */
    const char *bad[] = {
        "{\"format\":\"cleave-plan\",\"version\":1}",
        "{\"format\":\"cleave-jalad-table\",\"version\":1,\"images\":1,\"first_image\":0,"
        "\"base_accuracy\":0.9,\"cuts\":[{\"after\":null,\"position\":-1,"
        "\"raw_bytes\":4,\"codecs\":[{\"codec\":\"q99\",\"accuracy_loss\":0,"
        "\"agreement\":1,\"bytes_mean\":1,\"bytes_p95\":1}]}]}",
        "{\"format\":\"cleave-jalad-table\",\"version\":1,\"images\":1,\"first_image\":0,"
        "\"base_accuracy\":0.9,\"cuts\":[{\"after\":null,\"position\":-1,"
        "\"raw_bytes\":4,\"codecs\":[{\"codec\":\"u8\",\"accuracy_loss\":0,"
        "\"agreement\":1,\"bytes_mean\":-1,\"bytes_p95\":1}]}]}",
        "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        clv_error e = {0};
        CHECKF(clv_jalad_table_parse(bad[i], strlen(bad[i]), "t", &u, &e) ==
                       CLV_EFORMAT &&
                   !u && e.msg[0],
               "bad table %zu was taken", i);
    }
    /* a cut naming a node the problem lacks */
    free(t->cuts[t->n_cuts - 1].after);
    t->cuts[t->n_cuts - 1].after = clv_util_strdup("nowhere");
    clv_plan pl;
    clv_plan_init(&pl);
    clv_link l = {0};
    l.bandwidth_mbps = 1;
    CHECK(clv_jalad_plan(p, t, &l, NULL, &pl, NULL, &err) == CLV_ENOTFOUND);
    CHECK(clv_jalad_plan(p, NULL, &l, NULL, &pl, NULL, &err) == CLV_EINVAL);
    clv_plan_release(&pl);
    free(a);
    clv_jalad_table_free(t);
    clv_problem_free(p);
}

/* Through clv_planner_run, as the CLI and the runtime call it. */
static void test_planner_run(void)
{
    clv_rng r;
    clv_rng_seed(&r, 4);
    clv_problem *p = chain(&r, 12);
    clv_jalad_table *t = random_table(&r, p);
    clv_planner *pl = NULL;
    CHECK(clv_planner_create(p, &pl, NULL) == 0);
    clv_plan_options o;
    clv_plan_options_init(&o);
    o.method = CLV_PLAN_JALAD;
    clv_plan a, b;
    clv_plan_init(&a);
    clv_plan_init(&b);
    clv_error err = {0};
    CHECK(clv_planner_run(pl, &o, &a, &err) == CLV_EINVAL); /* no table */
    o.jalad_table = t;
    o.accuracy_drop = 0.05;
    CHECKF(clv_planner_run(pl, &o, &a, &err) == 0, "%s", err.msg);
    clv_jalad_options jo;
    clv_jalad_options_init(&jo);
    jo.max_loss = 0.05;
    CHECK(clv_jalad_plan(p, t, &o.link, &jo, &b, NULL, &err) == 0);
    CHECK(a.latency_ms == b.latency_ms && a.method == CLV_PLAN_JALAD);
    /* another planner on the same plan resets the codec */
    o.method = CLV_PLAN_DSL;
    CHECK(clv_planner_run(pl, &o, &a, &err) == 0 && a.codec.kind == CLV_CODEC_RAW &&
          a.accuracy_loss == 0);
    clv_plan_release(&a);
    clv_plan_release(&b);
    clv_planner_free(pl);
    clv_jalad_table_free(t);
    clv_problem_free(p);
}

/* The frame priced by its encoding: u8 a byte per value (plus the codec's
 * 8-byte header), raw the float32 tensor; codecs whose size depends on the
 * values, and problems without a graph, are refused and change nothing. */
static void test_frame_codec(void)
{
    clv_graph *g = NULL;
    clv_problem *p = NULL;
    CHECK(clv_zoo_build("lenet", 1, 0, &g, NULL) == 0);
    int n = clv_graph_n_nodes(g);
    double *t = calloc((size_t)n, sizeof *t);
    CHECK(clv_problem_from_graph(g, t, t, &p, NULL) == 0);
    const clv_tensor *in = clv_graph_tensor(g, clv_graph_input(g, 0));
    uint64_t f32 = clv_tensor_bytes(in);
    CHECK(clv_problem_node_at(p, 0)->out_bytes == f32);
    clv_codec c;
    clv_error err = {0};
    clv_codec_parse("u8", &c, NULL);
    CHECK(clv_problem_set_frame_codec(p, &c, &err) == 0);
    CHECK(clv_problem_node_at(p, 0)->out_bytes == f32 / 4 + 8);
    clv_codec_parse("png", &c, NULL);
    CHECK(clv_problem_set_frame_codec(p, &c, &err) == CLV_EINVAL && strstr(err.msg, "png"));
    CHECK(clv_problem_node_at(p, 0)->out_bytes == f32 / 4 + 8);
    clv_codec_parse("raw", &c, NULL);
    CHECK(clv_problem_set_frame_codec(p, &c, &err) == 0);
    CHECK(clv_problem_node_at(p, 0)->out_bytes == f32);
    clv_rng r;
    clv_rng_seed(&r, 1);
    clv_problem *q = chain(&r, 4);
    uint64_t before = clv_problem_node_at(q, 0)->out_bytes;
    CHECK(clv_problem_set_frame_codec(q, &c, &err) == CLV_EINVAL &&
          clv_problem_node_at(q, 0)->out_bytes == before);
    clv_problem_free(q);
    clv_problem_free(p);
    clv_graph_free(g);
    free(t);
}

int main(void)
{
    test_frame_codec();
    test_random();
    test_table_json();
    test_planner_run();
    return check_report("test_plan_jalad");
}
