/* The runtime over loopback: split runs equal whole runs bit for bit,
 * adaptation switches plans mid-stream without losing or mixing frames,
 * many edges at once, and the trace file. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/codec.h"
#include "cleave/engine.h"
#include "cleave/load.h"
#include "cleave/runtime.h"
#include "runtime_util.h"
#include "util/util.h"

typedef struct input_ctx {
    const clv_graph *g;
    uint64_t seed;
} input_ctx;

/* Frame k's input: seeded values, reproducible by the checker. */
static int test_input(void *ctx, uint64_t frame, void *const *bufs,
                      clv_error *err)
{
    input_ctx *c = ctx;
    (void)err;
    const clv_tensor *t = clv_graph_tensor(c->g, clv_graph_input(c->g, 0));
    clv_rng r;
    clv_rng_seed(&r, c->seed * 7919 + frame);
    clv_rng_fill_uniform(&r, bufs[0], (size_t)clv_tensor_numel(t), -1, 1);
    return 0;
}

/* Checks every frame's outputs against a whole-model run of its input. */
static int check_outputs(const clv_graph *g, const clv_edge_report *r,
                         input_ctx *ic)
{
    clv_engine *e = NULL;
    int bad = 0;
    if (clv_engine_create(g, NULL, 0, NULL, &e, NULL))
        return -1;
    const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
    const clv_tensor *to = clv_graph_tensor(g, clv_graph_output(g, 0));
    void *in = malloc(clv_tensor_bytes(ti));
    void *out = malloc(clv_tensor_bytes(to));
    for (int k = 0; k < r->n_frames && in && out; k++) {
        void *bufs[1] = {in};
        test_input(ic, (uint64_t)k, bufs, NULL);
        const void *ins[1] = {in};
        void *outs[1] = {out};
        if (clv_engine_run(e, ins, outs, NULL))
            return -1;
        const void *got = r->outputs[(size_t)k * (size_t)r->n_outputs];
        if (!got || memcmp(got, out, clv_tensor_bytes(to)) != 0)
            bad++;
    }
    free(in);
    free(out);
    clv_engine_free(e);
    return bad;
}

/* Options for an edge run against the server at `addr`, planned with the
 * per-node times te and tc, on the seeded inputs of `ic`, keeping every
 * frame's outputs for check_outputs(). */
static void checked_options(clv_edge_options *o, const char *addr,
                            const double *te, const double *tc,
                            input_ctx *ic)
{
    clv_edge_options_init(o);
    o->server = addr;
    o->t_edge_ms = te;
    o->t_cloud_ms = tc;
    o->input = test_input;
    o->input_ctx = ic;
    o->keep_outputs = true;
    o->log = quiet_log;
}

/* Synthetic times that make the cut depend on the bandwidth: the edge is
 * slow (1 ms a node), the cloud fast. */
static void synthetic_times(const clv_graph *g, double *te, double *tc)
{
    for (int i = 0; i < clv_graph_n_nodes(g); i++) {
        te[i] = 1.0;
        tc[i] = 0.01;
    }
}

/* Cheap early layers on the edge: a cut in the middle wins. */
static void middle_times(const clv_graph *g, double *te, double *tc)
{
    int n = clv_graph_n_nodes(g);
    for (int i = 0; i < n; i++) {
        te[i] = i < n * 6 / 10 ? 0.05 : 2.0;
        tc[i] = 0.01;
    }
}

/* Every planner, split against the server, gives the whole run's bits. */
static void test_planners(const clv_graph *g, const char *addr)
{
    double *te, *tc;
    CHECK(node_times(g, &te, &tc));
    if (!te)
        return;
    middle_times(g, te, tc);
    static const clv_plan_method m[] = {CLV_PLAN_CLOUD, CLV_PLAN_DSL,
                                        CLV_PLAN_NEUROSURGEON, CLV_PLAN_EDGE};
    for (int k = 0; k < 4; k++) {
        clv_edge_options o;
        clv_edge_report r;
        clv_error err = {0};
        input_ctx ic = {g, 3};
        checked_options(&o, addr, te, tc, &ic);
        clv_edge_report_init(&r);
        o.frames = 4;
        o.planner = m[k];
        o.plan_bps = 4e6;
        o.adapt = false;
        int rc = clv_edge_run(g, &o, &r, &err);
        CHECKF(rc == 0, "%s: %s", clv_plan_method_name(m[k]), err.msg);
        CHECKF(r.n_ok == 4 && r.n_failed == 0 && r.n_fallback == 0,
               "%s: ok %d failed %d fallback %d",
               clv_plan_method_name(m[k]), r.n_ok, r.n_failed, r.n_fallback);
        CHECKF(check_outputs(g, &r, &ic) == 0, "%s: outputs differ",
               clv_plan_method_name(m[k]));
        if (m[k] == CLV_PLAN_EDGE)
            CHECK(r.frames[0].where == CLV_EDGE_LOCAL && r.bytes_sent == 0);
        else
            CHECKF(r.frames[0].where == CLV_EDGE_SPLIT && r.bytes_sent > 0,
                   "%s: where %d", clv_plan_method_name(m[k]),
                   r.frames[0].where);
        if (m[k] == CLV_PLAN_DSL)
            CHECKF(r.plan.n_cut >= 1 && r.plan.edge_ms > 0,
                   "dsl: a middle cut, not %d cut nodes", r.plan.n_cut);
        if (m[k] == CLV_PLAN_CLOUD) {
            /* the raw input crosses: at least its bytes per frame */
            uint64_t in = clv_tensor_bytes(
                clv_graph_tensor(g, clv_graph_input(g, 0)));
            CHECK(r.frames[1].bytes > in && r.frames[1].n_cut == 1);
            CHECK(r.p50_ms > 0 && r.max_ms >= r.p50_ms && r.fps > 0);
            CHECK(clv_edge_write_trace(&r, "test_runtime_trace.json", &err) ==
                  0);
            char *text = NULL;
            size_t len = 0;
            CHECK(clv_util_read_file("test_runtime_trace.json", 1 << 24, &text,
                                     &len, NULL) == 0);
            /* four frames: edge-less, so send + cloud + frame each */
            int x = 0;
            for (char *p = text; p && (p = strstr(p, "\"ph\":\"X\"")); p++)
                x++;
            CHECKF(x == 16, "%d events", x); /* edge (empty), send, cloud, frame */
            CHECK(text && text[0] == '[' && strstr(text, "\"name\":\"send\"") &&
                  strstr(text, "\"name\":\"cloud\""));
            free(text);
            remove("test_runtime_trace.json");
        }
        clv_edge_report_release(&r);
    }
    free(te);
    free(tc);
}

/* A server started with its own times sends them on request and the edge
 * plans with them; one without says so and the edge keeps its own. */
static void test_server_times(const clv_graph *g, const char *plain_addr)
{
    int n = clv_graph_n_nodes(g);
    double *te, *tc, *srv = calloc((size_t)n + 1, sizeof *srv);
    double sum_srv = 0, sum_tc = 0;
    CHECK(node_times(g, &te, &tc) && srv);
    if (!te || !srv) {
        free(srv);
        return;
    }
    middle_times(g, te, tc);
    for (int i = 0; i < n; i++) {
        srv[i] = 0.25 + 0.001 * i;
        sum_srv += srv[i];
        sum_tc += tc[i];
    }
    clv_server_options so;
    clv_error err = {0};
    char addr[64] = "127.0.0.1:1";
    clv_server_options_init(&so);
    so.node_ms = srv;
    so.node_ms_runs = 3;
    clv_server *s = start_server_with(g, &so, addr, sizeof addr);
    CHECK(s != NULL);
    for (int k = 0; k < 3; k++) {
        /* k = 0: the server's times; 1: not asked; 2: a server without */
        clv_edge_options o;
        clv_edge_report r;
        input_ctx ic = {g, 5};
        checked_options(&o, k == 2 ? plain_addr : addr, te, tc, &ic);
        clv_edge_report_init(&r);
        o.frames = 3;
        o.planner = CLV_PLAN_CLOUD;
        o.plan_bps = 4e6;
        o.server_times = k != 1;
        int rc = clv_edge_run(g, &o, &r, &err);
        CHECKF(rc == 0 && r.n_ok == 3 && check_outputs(g, &r, &ic) == 0,
               "case %d: rc %d ok %d: %s", k, rc, r.n_ok, err.msg);
        double want = k == 0 ? sum_srv : sum_tc;
        CHECKF(r.server_times == (k == 0) &&
                   fabs(r.plan.cloud_ms - want) < 1e-9 * want,
               "case %d: server times %d, T_c %.6f, expected %.6f", k,
               r.server_times, r.plan.cloud_ms, want);
        clv_edge_report_release(&r);
    }
    clv_server_free(s);
    /* times that are not finite are refused */
    srv[1] = NAN;
    s = NULL;
    CHECK(clv_server_create(g, &so, &s, &err) == CLV_EINVAL && !s);
    free(srv);
    free(te);
    free(tc);
}

/* A planned round trip is in T_t and the latency, not in the period. */
static void test_rtt(const clv_graph *g, const char *addr)
{
    double *te, *tc;
    CHECK(node_times(g, &te, &tc));
    if (!te)
        return;
    middle_times(g, te, tc);
    clv_plan got[2];
    for (int k = 0; k < 2; k++) {
        clv_edge_options o;
        clv_edge_report r;
        clv_error err = {0};
        input_ctx ic = {g, 9};
        checked_options(&o, addr, te, tc, &ic);
        clv_edge_report_init(&r);
        o.frames = 2;
        o.planner = CLV_PLAN_CLOUD;
        o.plan_bps = 4e6;
        o.rtt_ms = k ? 40 : 0;
        CHECK(clv_edge_run(g, &o, &r, &err) == 0 && r.n_ok == 2);
        got[k] = r.plan;
        CHECK(r.rtt_ms == o.rtt_ms);
        clv_edge_report_release(&r);
    }
    CHECKF(fabs(got[1].transfer_ms - got[0].transfer_ms - 40) < 1e-9 &&
               fabs(got[1].latency_ms - got[0].latency_ms - 40) < 1e-9 &&
               got[1].fps == got[0].fps,
           "rtt 40: T_t %.3f vs %.3f, fps %.3f vs %.3f", got[1].transfer_ms,
           got[0].transfer_ms, got[1].fps, got[0].fps);
    free(te);
    free(tc);
}

/* wifi -> 3g -> 4g in short phases: plans switch at frame boundaries, no
 * frame is lost, every result equals the whole model's. */
static void test_adapt(const clv_graph *g, const char *addr)
{
    double *te, *tc;
    CHECK(node_times(g, &te, &tc));
    if (!te)
        return;
    synthetic_times(g, te, tc);
    clv_net_schedule *sch = NULL;
    clv_error err = {0};
    CHECK(clv_net_schedule_parse("0:wifi,1.5:3g,3:4g", &sch, &err) == 0);
    clv_edge_options o;
    clv_edge_report r;
    input_ctx ic = {g, 5};
    checked_options(&o, addr, te, tc, &ic);
    clv_edge_report_init(&r);
    o.frames = 40;
    o.fps = 10;
    o.planner = CLV_PLAN_DSL;
    o.schedule = sch;
    o.plan_bps = 18.88e6;
    int rc = clv_edge_run(g, &o, &r, &err);
    CHECKF(rc == 0, "%s", err.msg);
    CHECKF(r.n_ok == 40 && r.n_failed == 0, "ok %d failed %d", r.n_ok,
           r.n_failed);
    CHECKF(r.n_switches >= 1, "%d switches", r.n_switches);
    CHECKF(check_outputs(g, &r, &ic) == 0, "outputs differ");
    /* versions only grow, and frames ran under more than one */
    uint64_t v = 0;
    bool mono = true;
    for (int k = 0; k < r.n_frames; k++) {
        mono &= r.frames[k].plan_version >= v;
        v = r.frames[k].plan_version;
    }
    CHECK(mono && v > 1);
    for (int i = 0; i < r.n_switches; i++)
        CHECK(r.switches[i].new_version > r.switches[i].old_version &&
              r.switches[i].bw_bps > 0 && r.switches[i].t_s > 0);
    if (getenv("CLEAVE_TEST_VERBOSE"))
        for (int i = 0; i < r.n_switches; i++)
            fprintf(stderr, "switch t=%.2f %.3g Mbit/s %s -> %s\n",
                    r.switches[i].t_s, r.switches[i].bw_bps / 1e6,
                    r.switches[i].old_cut, r.switches[i].new_cut);
    clv_edge_report_release(&r);
    clv_net_schedule_free(sch);
    free(te);
    free(tc);
}

typedef struct many_arg {
    const clv_graph *g;
    const char *addr;
    const double *te, *tc;
    int ok;
} many_arg;

static void *many_main(void *p)
{
    many_arg *a = p;
    clv_edge_options o;
    clv_edge_report r;
    clv_error err = {0};
    clv_edge_options_init(&o);
    clv_edge_report_init(&r);
    o.server = a->addr;
    o.frames = 3;
    o.planner = CLV_PLAN_CLOUD;
    o.plan_bps = 100e6;
    o.t_edge_ms = a->te;
    o.t_cloud_ms = a->tc;
    o.log = quiet_log;
    if (clv_edge_run(a->g, &o, &r, &err) == 0 && r.n_ok == 3 &&
        r.n_fallback == 0)
        a->ok = 1;
    clv_edge_report_release(&r);
    return NULL;
}

/* 32 edges at once on one server. */
static void test_many(const clv_graph *g, clv_server *s, const char *addr)
{
    enum { N = 32 };
    double *te, *tc;
    CHECK(node_times(g, &te, &tc));
    if (!te)
        return;
    synthetic_times(g, te, tc);
    pthread_t th[N];
    many_arg a[N];
    clv_server_stats before, after;
    clv_server_stats_get(s, &before);
    for (int i = 0; i < N; i++) {
        a[i] = (many_arg){g, addr, te, tc, 0};
        if (pthread_create(&th[i], NULL, many_main, &a[i]))
            a[i].ok = -1;
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        if (a[i].ok != -1)
            pthread_join(th[i], NULL);
        ok += a[i].ok == 1;
    }
    clv_server_stats_get(s, &after);
    CHECKF(ok == N, "%d of %d edges finished", ok, N);
    CHECK(after.frames_done - before.frames_done == 3 * N);
    CHECK(after.conns_accepted - before.conns_accepted == N);
    free(te);
    free(tc);
}

/* Graph nodes 0..k-1 on the edge: the partition after node k-1. */
static bool prefix_partition(const clv_graph *g, int k, clv_partition *out)
{
    int n = clv_graph_n_nodes(g);
    unsigned char *e = calloc((size_t)n, 1);
    if (!e)
        return false;
    memset(e, 1, (size_t)k);
    bool ok = clv_partition_make(g, e, out, NULL) == 0;
    free(e);
    return ok;
}

/*
 * Many plans at once: an edge that alternates between cuts frame by frame
 * builds each engine once on each side while both caches hold them, and
 * every frame equals the whole model's. With more cuts in turn than the
 * caches hold (the bound), the least recently used one is always gone:
 * every frame builds its engines again, on both sides.
 */
static void test_alternate(const clv_graph *g)
{
    enum { FRAMES = 200, SMALL = 24 };
    int n = clv_graph_n_nodes(g);
    clv_partition parts[3];
    for (int i = 0; i < 3; i++) {
        clv_partition_init(&parts[i]);
        CHECK(prefix_partition(g, (i + 1) * n / 4, &parts[i]));
    }
    CHECK(!clv_partition_equal(&parts[0], &parts[1]) &&
          !clv_partition_equal(&parts[1], &parts[2]));
    /* A plan that frames in flight use stays beyond the bound until they
     * are done; one frame at a time (sequential) makes the last case
     * exact. */
    struct {
        int n_parts, max_plans, frames, sequential;
        int edge_engines, server_engines; /* expected */
    } cases[] = {{2, 4, FRAMES, 0, 2, 2},
                 {3, 3, SMALL, 0, 3, 3},
                 {3, 2, SMALL, SMALL, SMALL, SMALL}};
    for (int c = 0; c < 3; c++) {
        clv_server_options so;
        clv_server_options_init(&so);
        so.max_plans = cases[c].max_plans;
        char addr[64];
        clv_server *s = start_server_with(g, &so, addr, sizeof addr);
        CHECK(s != NULL);
        if (!s)
            break;
        clv_edge_options o;
        clv_edge_report r;
        clv_error err = {0};
        input_ctx ic = {g, 11};
        checked_options(&o, addr, NULL, NULL, &ic);
        o.frames = cases[c].frames;
        o.partitions = parts;
        o.n_partitions = cases[c].n_parts;
        o.max_plans = cases[c].max_plans;
        o.sequential = cases[c].sequential;
        clv_edge_report_init(&r);
        int rc = clv_edge_run(g, &o, &r, &err);
        CHECKF(rc == 0, "%s", err.msg);
        clv_server_stop(s);
        clv_server_join(s);
        clv_server_stats st;
        clv_server_stats_get(s, &st);
        CHECKF(r.n_ok == o.frames && r.n_fallback == 0,
               "case %d: %d ok, %d fallback of %d", c, r.n_ok, r.n_fallback,
               o.frames);
        CHECKF(check_outputs(g, &r, &ic) == 0,
               "case %d: frames differ from the whole model", c);
        CHECKF(r.engines_made == cases[c].edge_engines,
               "case %d: the edge built %d engines, expected %d", c,
               r.engines_made, cases[c].edge_engines);
        CHECKF((int)st.engines_made == cases[c].server_engines,
               "case %d: the server built %llu engines, expected %d", c,
               (unsigned long long)st.engines_made,
               cases[c].server_engines);
        /* each frame ran with the partition it was given */
        for (int k = 0; k < r.n_frames; k++)
            if (r.frames[k].n_cut !=
                parts[k % o.n_partitions].n_send) {
                CHECKF(0, "case %d: frame %d sent %d tensors, its cut has "
                          "%d", c, k, r.frames[k].n_cut,
                       parts[k % o.n_partitions].n_send);
                break;
            }
        clv_edge_report_release(&r);
        clv_server_free(s);
    }
    /* bursts: three bursts of six frames released together, two cuts in
     * turn; every frame right, each burst's makespan measured */
    char addr[64];
    clv_server *s = start_server(g, addr, sizeof addr);
    CHECK(s != NULL);
    if (s) {
        clv_edge_options o;
        clv_edge_report r;
        clv_error err = {0};
        input_ctx ic = {g, 12};
        checked_options(&o, addr, NULL, NULL, &ic);
        o.frames = 18;
        o.burst = o.window = 6;
        o.partitions = parts;
        o.n_partitions = 2;
        clv_edge_report_init(&r);
        CHECKF(clv_edge_run(g, &o, &r, &err) == 0, "%s", err.msg);
        CHECK(r.n_ok == 18 && check_outputs(g, &r, &ic) == 0);
        CHECK(r.n_bursts == 3 && r.engines_made == 2 && r.n_switches == 0);
        for (int b = 0; b < r.n_bursts; b++) {
            /* from the burst's first start to its last completion */
            uint64_t first = r.frames[6 * b].t_start, last = 0;
            for (int k = 6 * b; k < 6 * b + 6; k++)
                if (r.frames[k].t_done > last)
                    last = r.frames[k].t_done;
            CHECK(fabs(r.burst_ms[b] - (double)(last - first) / 1e6) < 1e-9);
            /* burst b+1 starts after burst b has ended */
            if (b > 0)
                CHECK(r.frames[6 * b].t_start >= r.frames[6 * b - 1].t_done);
        }
        char *j = clv_edge_report_json(&r);
        CHECK(j && strstr(j, "\"bursts_ms\""));
        free(j);
        clv_edge_report_release(&r);
        o.window = 0;
        CHECK(clv_edge_run(g, &o, &r, &err) == CLV_EINVAL);
        clv_edge_report_release(&r);
        clv_server_free(s);
    }
    for (int i = 0; i < 3; i++)
        clv_partition_release(&parts[i]);
}


/* Frame k's input as a camera's: pixels / 255. */
static int pixel_input(void *ctx, uint64_t frame, void *const *bufs,
                       clv_error *err)
{
    input_ctx *c = ctx;
    (void)err;
    const clv_tensor *t = clv_graph_tensor(c->g, clv_graph_input(c->g, 0));
    clv_rng r;
    clv_rng_seed(&r, c->seed * 31 + frame);
    float *v = bufs[0];
    for (int64_t i = 0; i < clv_tensor_numel(t); i++)
        v[i] = (float)(clv_rng_next(&r) % 256) / 255.0f;
    return 0;
}

/*
 * Codecs on the wire: frames alternate between a cut in the middle, whose
 * cut tensors cross as 6-bit Huffman-coded values, and cloud-only, whose
 * frame crosses as 8-bit pixels. Every result equals the cloud part run
 * on the decoded tensors (computed here with the codec module), bit for
 * bit, and the bytes shrink.
 */
static void test_codecs(const clv_graph *g)
{
    enum { FRAMES = 12 };
    int n = clv_graph_n_nodes(g);
    clv_partition parts[2];
    clv_partition_init(&parts[0]);
    clv_partition_init(&parts[1]);
    CHECK(prefix_partition(g, n / 2, &parts[0]));
    CHECK(prefix_partition(g, 0, &parts[1]));
    char addr[64];
    clv_server *s = start_server(g, addr, sizeof addr);
    CHECK(s != NULL);
    if (!s)
        return;
    clv_edge_options o;
    clv_edge_report r;
    clv_error err = {0};
    input_ctx ic = {g, 5};
    checked_options(&o, addr, NULL, NULL, &ic);
    o.input = pixel_input;
    o.frames = FRAMES;
    o.partitions = parts;
    o.n_partitions = 2;
    CHECK(clv_codec_parse("q6+huffman", &o.codec, NULL) == 0);
    CHECK(clv_codec_parse("u8", &o.frame_codec, NULL) == 0);
    clv_edge_report_init(&r);
    int rc = clv_edge_run(g, &o, &r, &err);
    CHECKF(rc == 0 && r.n_ok == FRAMES, "%s (%d ok)", err.msg, r.n_ok);
    /* what each frame's result must be */
    clv_engine *eng[2][2] = {{NULL}};
    for (int p = 0; p < 2; p++) {
        if (parts[p].n_edge)
            CHECK(clv_engine_create(g, parts[p].edge_nodes, parts[p].n_edge, NULL,
                                    &eng[p][0], NULL) == 0);
        CHECK(clv_engine_create(g, parts[p].cloud_nodes, parts[p].n_cloud, NULL,
                                &eng[p][1], NULL) == 0);
    }
    clv_codec_ctx *cx = clv_codec_ctx_new();
    const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
    const clv_tensor *to = clv_graph_tensor(g, clv_graph_output(g, 0));
    float *in = malloc(clv_tensor_bytes(ti)), *out = malloc(clv_tensor_bytes(to));
    int bad = 0;
    uint64_t raw_cut = clv_tensor_bytes(clv_graph_tensor(g, parts[0].send[0]));
    for (int k = 0; k < r.n_frames && cx && in && out; k++) {
        int p = k % 2;
        void *ib[1] = {in};
        pixel_input(&ic, (uint64_t)k, ib, NULL);
        /* the tensors the cloud part reads, after the wire */
        void *cut[8] = {NULL};
        clv_engine *ce = eng[p][1];
        int nci = clv_engine_n_inputs(ce);
        for (int i = 0; i < nci && i < 8; i++) {
            const clv_tensor *t = clv_graph_tensor(g, clv_engine_input(ce, i));
            cut[i] = malloc(clv_tensor_bytes(t));
            const float *src = in;
            float *eo = NULL;
            if (eng[p][0]) {
                int pos = clv_engine_find_output(eng[p][0], clv_engine_input(ce, i));
                int no = clv_engine_n_outputs(eng[p][0]);
                void **outs = calloc((size_t)no, sizeof *outs);
                for (int j = 0; j < no; j++)
                    outs[j] = malloc(clv_tensor_bytes(
                        clv_graph_tensor(g, clv_engine_output(eng[p][0], j))));
                const void *ins[1] = {in};
                CHECK(clv_engine_run(eng[p][0], ins, outs, NULL) == 0);
                eo = outs[pos];
                for (int j = 0; j < no; j++)
                    if (j != pos)
                        free(outs[j]);
                free(outs);
                src = eo;
            }
            clv_codec spec = p == 0 ? o.codec : o.frame_codec;
            const uint8_t *bytes;
            size_t nb;
            CHECK(clv_codec_encode(cx, &spec, src, t->ndim, t->dims, &bytes, &nb,
                                   NULL) == 0);
            CHECK(clv_codec_decode(cx, bytes, nb, t->ndim, t->dims, cut[i], NULL,
                                   NULL) == 0);
            free(eo);
        }
        void *outs[1] = {out};
        CHECK(clv_engine_run(ce, (const void *const *)cut, outs, NULL) == 0);
        const void *got = r.outputs[(size_t)k * (size_t)r.n_outputs];
        bad += !got || memcmp(got, out, clv_tensor_bytes(to)) != 0;
        for (int i = 0; i < 8; i++)
            free(cut[i]);
        /* 6 bits of at most 20 per value, and u8 a quarter of float32 */
        if (p == 0)
            CHECKF(r.frames[k].bytes < raw_cut / 4, "frame %d: %llu bytes, raw %llu",
                   k, (unsigned long long)r.frames[k].bytes,
                   (unsigned long long)raw_cut);
        else
            CHECKF(r.frames[k].bytes < clv_tensor_bytes(ti) / 4 + 256,
                   "frame %d: %llu bytes for a %llu-byte frame", k,
                   (unsigned long long)r.frames[k].bytes,
                   (unsigned long long)clv_tensor_bytes(ti));
    }
    CHECKF(bad == 0, "%d of %d frames differ from the decoded tensors' run", bad,
           r.n_frames);
    free(in);
    free(out);
    clv_codec_ctx_free(cx);
    for (int p = 0; p < 2; p++) {
        clv_engine_free(eng[p][0]);
        clv_engine_free(eng[p][1]);
        clv_partition_release(&parts[p]);
    }
    clv_edge_report_release(&r);
    clv_server_stop(s);
    clv_server_join(s);
    clv_server_free(s);
}

int main(void)
{
    clv_graph *g = NULL;
    clv_error err = {0};
    char addr[64];
    if (clv_zoo_build("resnet18", 1, 64, &g, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    clv_server *s = start_server(g, addr, sizeof addr);
    CHECK(s != NULL);
    if (s) {
        test_planners(g, addr);
        test_server_times(g, addr);
        test_rtt(g, addr);
        test_adapt(g, addr);
    }
    clv_server_free(s);
    /* many edges: a small model, so that 32 of them stay quick */
    clv_graph *lg = NULL;
    CHECK(clv_zoo_build("lenet", 1, 0, &lg, &err) == 0);
    /* every frame of 32 edges (4 in flight each) is held at once: the
     * queue bound is set above that (test_hardening sheds below it) */
    clv_server_options mo;
    clv_server_options_init(&mo);
    mo.max_queue = 256;
    s = lg ? start_server_with(lg, &mo, addr, sizeof addr) : NULL;
    if (s)
        test_many(lg, s, addr);
    clv_server_free(s);
    if (lg) {
        test_alternate(lg);
        test_codecs(lg);
    }
    clv_graph_free(lg);
    clv_graph_free(g);
    return check_report("runtime");
}
