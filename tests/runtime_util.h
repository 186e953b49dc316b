/*
 * What the runtime tests share: a log callback that stays quiet unless
 * CLEAVE_TEST_VERBOSE is set, a cloud server on a free loopback port, and
 * per-node time arrays. Shared by test_runtime.c and
 * test_runtime_predict.c.
 */
#ifndef CLEAVE_TESTS_RUNTIME_UTIL_H
#define CLEAVE_TESTS_RUNTIME_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
