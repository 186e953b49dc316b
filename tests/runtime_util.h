/*
 * What the runtime tests share: a log callback that stays quiet unless
 * CLEAVE_TEST_VERBOSE is set, a cloud server on a free loopback port,
 * per-node time arrays, a good edge's run, and the whole model's outputs
 * to compare a run's with. Shared by the test_runtime*.c files and
 * test_hardening.c.
 */
#ifndef CLEAVE_TESTS_RUNTIME_UTIL_H
#define CLEAVE_TESTS_RUNTIME_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/runtime.h"

/* A clv_server_options / clv_edge_options log callback: prints each line
 * to stderr only when CLEAVE_TEST_VERBOSE is set. */
static inline void quiet_log(void *ctx, const char *line)
{
    (void)ctx;
    if (getenv("CLEAVE_TEST_VERBOSE"))
        fprintf(stderr, "  %s\n", line);
}

/* Starts a server for `g` (borrowed; it must outlive the server) with
 * options `so` (NULL: the defaults; listen and log are set here) on
 * 127.0.0.1 with a port the system chooses, and writes "127.0.0.1:PORT"
 * to `addr` (`len` bytes). Returns the server (free it with
 * clv_server_free), or NULL after printing why to stderr. */
static inline clv_server *start_server_with(const clv_graph *g,
                                            const clv_server_options *so,
                                            char *addr, size_t len)
{
    clv_server_options o;
    clv_server *s = NULL;
    clv_error err = {0};
    if (so)
        o = *so;
    else
        clv_server_options_init(&o);
    o.listen = "127.0.0.1:0";
    o.log = quiet_log;
    if (clv_server_create(g, &o, &s, &err) || clv_server_start(s, &err)) {
        fprintf(stderr, "server: %s\n", err.msg);
        clv_server_free(s);
        return NULL;
    }
    snprintf(addr, len, "127.0.0.1:%d", clv_server_port(s));
    return s;
}

static inline clv_server *start_server(const clv_graph *g, char *addr,
                                       size_t len)
{
    return start_server_with(g, NULL, addr, len);
}

/* Edge options for `frames` frames run one at a time on the edge alone,
 * planned with te / tc, quiet. */
static inline void edge_only_options(clv_edge_options *o, const double *te,
                                     const double *tc, int frames)
{
    clv_edge_options_init(o);
    o->frames = frames;
    o->sequential = frames;
    o->planner = CLV_PLAN_EDGE;
    o->t_edge_ms = te;
    o->t_cloud_ms = tc;
    o->log = quiet_log;
}

/* Allocates the per-node edge and cloud times of `g` (ms, for
 * clv_runtime_times() or clv_edge_options' t_edge_ms and t_cloud_ms):
 * clv_graph_n_nodes(g) zeros each, into *te and *tc, to free(). Returns
 * true, or false with both NULL when memory runs out. */
static inline bool node_times(const clv_graph *g, double **te, double **tc)
{
    size_t n = (size_t)clv_graph_n_nodes(g);
    *te = calloc(n ? n : 1, sizeof **te);
    *tc = calloc(n ? n : 1, sizeof **tc);
    if (*te && *tc)
        return true;
    free(*te);
    free(*tc);
    *te = *tc = NULL;
    return false;
}

/* Edge options for `frames` frames against the server at `addr`, planned
 * by `planner` with te / tc for a 1 Gbit/s link, quiet; the caller sets
 * the rest. */
static inline void offload_options(clv_edge_options *o, const char *addr,
                                   const double *te, const double *tc,
                                   int frames, clv_plan_method planner)
{
    clv_edge_options_init(o);
    o->server = addr;
    o->frames = frames;
    o->planner = planner;
    o->plan_bps = 1e9;
    o->t_edge_ms = te;
    o->t_cloud_ms = tc;
    o->log = quiet_log;
}

/* How many of the report's frames ended `where`. */
static inline int count_where(const clv_edge_report *r, clv_edge_where where)
{
    int n = 0;
    for (int k = 0; k < r->n_frames; k++)
        n += r->frames[k].where == where;
    return n;
}

/* A three-frame run of a real edge against the server at `addr`,
 * everything offloaded (the cloud planner, edge 1 ms and cloud 0.01 ms a
 * node): true when every frame ran split and none fell back. */
static inline bool good_edge(const clv_graph *g, const char *addr)
{
    double *te, *tc;
    if (!node_times(g, &te, &tc))
        return false;
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        te[i] = 1, tc[i] = 0.01;
    clv_edge_options o;
    clv_edge_report r;
    offload_options(&o, addr, te, tc, 3, CLV_PLAN_CLOUD);
    o.plan_bps = 50e6;
    clv_edge_report_init(&r);
    int rc = clv_edge_run(g, &o, &r, NULL);
    bool ok = rc == 0 && r.n_ok == 3 && r.n_fallback == 0 &&
              r.frames[2].where == CLV_EDGE_SPLIT;
    clv_edge_report_release(&r);
    free(te);
    free(tc);
    return ok;
}

/* The truth for `frames` frames: the whole model on the edge alone, each
 * frame's outputs kept in *truth (initialised here; release it). true
 * when every frame ran. */
static inline bool truth_run(const clv_graph *g, const double *te,
                             const double *tc, int frames,
                             clv_edge_report *truth)
{
    clv_edge_options o;
    edge_only_options(&o, te, tc, frames);
    o.sequential = 0;
    o.keep_outputs = true;
    clv_edge_report_init(truth);
    return clv_edge_run(g, &o, truth, NULL) == 0 && truth->n_ok == frames;
}

/* How many of the report's frames hold exactly the outputs (the first
 * graph output) of `truth`'s. */
static inline int same_outputs(const clv_graph *g, const clv_edge_report *r,
                               const clv_edge_report *truth)
{
    uint64_t nb = clv_tensor_bytes(clv_graph_tensor(g, clv_graph_output(g, 0)));
    int same = 0;
    for (int k = 0; k < r->n_frames && k < truth->n_frames; k++)
        same += r->outputs && truth->outputs && r->outputs[k] &&
                truth->outputs[k] &&
                memcmp(r->outputs[k], truth->outputs[k], (size_t)nb) == 0;
    return same;
}

#endif
