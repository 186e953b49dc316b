/* Planning for the runtime: per-node times, measured or read, and a plan
 * from them. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleave/engine.h"
#include "cleave/profile.h"
#include "runtime/internal.h"
#include "util/util.h"

void clv_rt__log(clv_log_fn fn, void *ctx, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    if (!fn)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(ctx, line);
}

int clv_rt__plan(const clv_graph *g, const double *te, const double *tc,
                 const clv_plan_options *o, const clv_codec *frame_codec,
                 clv_plan *plan, clv_error *err)
{
    clv_problem *p = NULL;
    double bw = o->link.bandwidth_mbps;
    if (!(bw > 0) || !isfinite(bw))
        return clv_error_set(err, CLV_EINVAL,
                             "planning needs a positive bandwidth, not %g",
                             bw * 1e6);
    int rc = clv_problem_from_graph(g, te, tc, &p, err);
    if (rc)
        return rc;
    /* a frame whose size depends on its values keeps the float32 price */
    if (frame_codec)
        clv_problem_set_frame_codec(p, frame_codec, NULL);
    rc = clv_plan_solve(p, o, plan, err);
    clv_problem_free(p);
    return rc;
}

int clv_runtime_plan(const clv_graph *g, const double *t_edge_ms,
                     const double *t_cloud_ms, clv_plan_method method,
                     double bps, double rtt_ms, double fps, clv_plan *plan,
                     clv_error *err)
{
    clv_plan_options o;
    clv_plan_options_init(&o);
    o.method = method;
    o.link.bandwidth_mbps = bps / 1e6;
    o.link.rtt_ms = rtt_ms > 0 ? rtt_ms : 0;
    o.link.count_result = false;
    o.fps = fps > 0 ? fps : 30;
    return clv_rt__plan(g, t_edge_ms, t_cloud_ms, &o, NULL, plan, err);
}

/*
 * The median CPU time (ms) of the calling thread for one whole run of `g`
 * with the engine as the edge runs it (fusion on, one thread), after one
 * warm-up run. The edge's throttle counts CPU time (src/runtime/edge.c),
 * so that is what its part costs, whatever else runs on the machine; the
 * profile's wall-clock medians include the time other processes took.
 */
static int whole_cpu_ms(const clv_graph *g, int runs, double f,
                        double *out, clv_error *err)
{
    clv_engine *e = NULL;
    clv_engine_options eo = {0};
    int ni = 0, no = 0, rc;
    void **in = NULL, **outs = NULL;
    double *t = NULL;
    *out = 0;
    eo.threads = 1;
    rc = clv_engine_create(g, NULL, 0, &eo, &e, err);
    if (rc)
        return rc;
    ni = clv_engine_n_inputs(e);
    no = clv_engine_n_outputs(e);
    in = calloc((size_t)ni + 1, sizeof *in);
    outs = calloc((size_t)no + 1, sizeof *outs);
    t = malloc(((size_t)runs + 1) * sizeof *t);
    if (!in || !outs || !t) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto out;
    }
    clv_rng rng;
    clv_rng_seed(&rng, 1);
    for (int i = 0; i < ni && !rc; i++) {
        const clv_tensor *tt = clv_graph_tensor(g, clv_engine_input(e, i));
        uint64_t nb = clv_tensor_bytes(tt);
        in[i] = calloc(nb ? (size_t)nb : 1, 1);
        if (!in[i])
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        else if (tt->dtype == CLV_DT_FLOAT)
            clv_rng_fill_uniform(&rng, in[i], (size_t)clv_tensor_numel(tt),
                                 0.0f, 1.0f);
    }
    for (int i = 0; i < no && !rc; i++) {
        uint64_t nb =
            clv_tensor_bytes(clv_graph_tensor(g, clv_engine_output(e, i)));
        outs[i] = malloc(nb ? (size_t)nb : 1);
        if (!outs[i])
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    for (int r = -1; r < runs && !rc; r++) {
        double c0 = clv_util_thread_cpu_s();
        rc = clv_engine_run(e, (const void *const *)in, outs, err);
        double ms = (clv_util_thread_cpu_s() - c0) * 1e3;
        if (r >= 0)
            t[r] = ms;
        /* under the same duty cycle as the edge: after a pause the
         * caches are colder, and a run costs more CPU time than back to
         * back */
        double pause = ms * (1 - f) / f;
        if (pause > 0) {
            struct timespec ts = {(time_t)(pause / 1e3),
                                  (long)(fmod(pause, 1e3) * 1e6)};
            while (nanosleep(&ts, &ts) != 0)
                ;
        }
    }
    if (!rc) {
        *out = clv_util_median(t, runs);
    }
out:
    for (int i = 0; in && i < ni; i++)
        free(in[i]);
    for (int i = 0; outs && i < no; i++)
        free(outs[i]);
    free(in);
    free(outs);
    free(t);
    clv_engine_free(e);
    return rc;
}

int clv_runtime_times(const clv_graph *g, const char *edge_profile,
                      const char *cloud_profile, double slowdown,
                      double cloud_speedup, int runs, int threads,
                      double *t_edge, double *t_cloud, clv_error *err)
{
    clv_profile pr;
    int n = clv_graph_n_nodes(g), rc = 0;
    double f = slowdown > 0 && slowdown <= 1 ? slowdown : 1;
    double cs = cloud_speedup > 0 ? cloud_speedup : 1;
    clv_profile_init(&pr);
    if (!edge_profile || !cloud_profile) {
        clv_profile_options o;
        clv_profile_options_init(&o);
        o.runs = runs > 0 ? runs : 3;
        o.warmup = 1;
        o.threads = threads > 0 ? threads : 1;
        o.device = "local";
        o.fuse = true; /* as the edge's and the server's engines run */
        rc = clv_profile_measure(g, &o, &pr, err);
        if (rc)
            return rc;
        rc = clv_profile_node_times(&pr, g, t_edge, err);
        if (rc)
            goto out;
        /* A throttled edge (one thread) costs CPU time / F: the node
         * times are scaled so that they add up to the median CPU time of
         * a whole run. The cloud runs unthrottled on a machine shared
         * with other work: its wall-clock times stay. */
        double k = 1;
        if (f < 1 && (threads <= 1)) {
            double sum = 0, cpu = 0;
            for (int i = 0; i < n; i++)
                sum += t_edge[i];
            rc = whole_cpu_ms(g, o.runs, f, &cpu, err);
            if (rc)
                goto out;
            if (sum > 0 && cpu > 0)
                k = cpu / sum;
        }
        for (int i = 0; i < n; i++) {
            t_cloud[i] = t_edge[i] / cs;
            t_edge[i] = t_edge[i] * k / f;
        }
        clv_profile_release(&pr);
    }
    const char *paths[2] = {edge_profile, cloud_profile};
    double *dst[2] = {t_edge, t_cloud};
    for (int k = 0; k < 2; k++) {
        if (!paths[k])
            continue;
        rc = clv_profile_load(paths[k], &pr, err);
        if (!rc)
            rc = clv_profile_node_times(&pr, g, dst[k], err);
        clv_profile_release(&pr);
        if (rc)
            return rc;
    }
out:
    clv_profile_release(&pr);
    return rc;
}

int clv_runtime_times_limited(const clv_graph *g, const char *edge_profile,
                              const char *cloud_profile, double quota,
                              double cloud_speedup, int runs, int threads,
                              double *t_edge, double *t_cloud,
                              clv_cpu_limit **lim, clv_error *err)
{
    *lim = NULL;
    int rc = clv_runtime_times(g, edge_profile, cloud_profile, 1,
                               cloud_speedup, runs, threads, t_edge, t_cloud,
                               err);
    if (rc || (rc = clv_cpu_limit_enter(quota, NULL, lim, err)))
        return rc;
    if (edge_profile)
        return 0;
    clv_profile pr;
    clv_profile_options o;
    clv_profile_init(&pr);
    clv_profile_options_init(&o);
    o.runs = runs > 0 ? runs : 3;
    o.warmup = 1;
    o.threads = threads > 0 ? threads : 1;
    o.device = "edge";
    o.cpu_quota = quota;
    o.fuse = true;
    rc = clv_profile_measure(g, &o, &pr, err);
    if (!rc)
        rc = clv_profile_node_times(&pr, g, t_edge, err);
    if (!rc) {
        /* The node means carry the throttled waits but also any run the
         * machine's other work slowed down; scaled to the median whole
         * run, one such run does not move the plan. */
        int n = clv_graph_n_nodes(g);
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += t_edge[i];
        if (sum > 0 && pr.total_ms > 0)
            for (int i = 0; i < n; i++)
                t_edge[i] *= pr.total_ms / sum;
    }
    clv_profile_release(&pr);
    if (rc) {
        clv_cpu_limit_leave(*lim, NULL);
        *lim = NULL;
    }
    return rc;
}
