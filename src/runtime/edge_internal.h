/*
 * The edge agent's internals (not installed), shared by its files:
 *
 *   edge.c        options, the edge thread (computes each frame's edge part)
 *                 and clv_edge_run(), which starts and ends everything;
 *   edge_plans.c  the plan cache: one engine per partition, looked up by
 *                 partition, bounded, and re-planning for a bandwidth;
 *   edge_frames.c frames: their buffers, queues, finishing and fallback;
 *   edge_tx.c     the connection and the sender thread (PLAN, FRAME,
 *                 PROBE through the pacer);
 *   edge_rx.c     the receiver thread (RESULT, PROBE_ACK, PLAN_ACK);
 *   report.c      the report's summary, trace and JSON.
 *
 * Threads: the edge thread (the caller of clv_edge_run), the sender and
 * the receiver. Everything marked "under mu" is shared between them.
 */
#ifndef CLEAVE_RUNTIME_EDGE_INTERNAL_H
#define CLEAVE_RUNTIME_EDGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/internal.h"

/* Frames in the system at once by default (computed, not yet done): one
 * on the edge, one on the wire, one in the cloud, and one queued at each
 * hand-over (clv_edge_options.window). */
#define EDGE_WINDOW 4
/* A frame whose RESULT takes longer than this means the server is lost. */
#define RESULT_TIMEOUT_NS (20ull * 1000000000ull)
/* Frames below this many bytes do not feed the estimator well enough;
 * probes keep it moving then. */
#define PROBE_BYTES (64u * 1024u)

/* A plan in the runtime: a partition, the engine of its edge part, and
 * its prediction. One per distinct partition; its version names it for
 * the whole run (the server keys its engines by it). */
typedef struct eplan {
    uint64_t version;
    clv_partition part;
    clv_engine *eng;          /* the edge part; NULL without edge nodes */
    double bps;               /* the bandwidth it was last chosen for */
    clv_plan pred;            /* the planner's prediction (n_nodes 0 when
                                 the partition was given, not planned) */
    clv_codec codec;          /* how its cut tensors cross (the latest
                                 choice for this partition) */
    char cut[96];             /* clv_partition_cut_text */
    int refs;                 /* frames using it; under mu */
    uint64_t used;            /* when it was last made current (a tick) */
    struct eplan *next;
} eplan;

typedef struct eframe {
    uint64_t id;
    eplan *plan;
    void **in;                /* graph inputs */
    void **edge_out;          /* the edge engine's outputs */
    int n_edge_out;
    void **out;               /* graph outputs */
    clv_edge_frame *rec;
    clv_codec codec;          /* the cut tensors' codec, taken from the plan
                                 when the frame started */
    uint64_t payload;         /* FRAME payload bytes */
    uint64_t sent_ns;
    int sending;              /* the sender still writes it; under mu */
    int audit;                /* its server result (in out) is to be checked
                                 against the whole model's on the edge: 1
                                 its turn (audit_every), 2 the result holds
                                 a non-finite value */
    struct eframe *next;
} eframe;

typedef struct edge_ctx {
    const clv_graph *g;
    clv_edge_options o;
    clv_edge_report *rep;
    uint64_t t0;
    int n_in, n_out;
    clv_engine *whole;
    clv_throttle th;
    clv_net_pacer *pacer;
    clv_net_bw *bw;
    uint8_t digest[CLV_NET_DIGEST_SIZE];
    double rtt_ms;            /* o.rtt_ms, else the first probe's */
    double *t_cloud_srv;      /* the server's own times (server_times);
                                 edge thread */
    const double *t_cloud;    /* what planning uses: t_cloud_srv or
                                 o.t_cloud_ms; edge thread */
    double *t_cloud_new;      /* times of the server just connected, not
                                 yet taken by the edge thread; under mu */
    int connected;            /* a connection came up since the edge
                                 thread last planned; under mu */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    eplan *plans;             /* the cache, at most o.max_plans idle ones
                                 (edge thread; refs under mu) */
    int n_plans;
    eplan *cur;
    uint64_t next_version;
    uint64_t tick;            /* counts plan selections */
    eframe *sendq_head, *sendq_tail; /* computed, to send */
    eframe *await;            /* sent, waiting for a RESULT */
    eframe *fallq_head, *fallq_tail; /* to finish on the edge */
    int in_system;            /* frames started and not done */
    int done;                 /* frames finished */
    int computing_done;       /* the edge thread has made every frame */
    int untrusted;            /* a server result failed an audit: no more
                                 connections; under mu */
    uint64_t busy_until;      /* the server said BUSY: frames run on the
                                 edge until then (clv_net_now_ns); under mu */
    int busy_ms;              /* the next back-off; under mu */
    uint64_t refused_plan;    /* a PLAN the server refused (0: none): the
                                 sender sends it again before its next
                                 FRAME; under mu */
    uint64_t n_results;       /* good RESULTs taken; receiver only */
    int quit;                 /* the sender may end */

    clv_codec_ctx *enc;       /* the sender's encoder */
    clv_codec_ctx *audit_cx[2]; /* the edge thread's, for audits (made when
                                   first needed) */
    /* The connection: created and destroyed by the sender only. */
    clv_net_conn *conn;
    int conn_up;              /* under mu */
    /* The plans the server holds for this connection as far as the edge
     * can tell: the versions named by its PLANs and FRAMEs, most recent
     * first, at most the server's max_plans (HELLO_ACK). Sender only. */
    uint64_t *held;
    int n_held, max_held;
    pthread_t rx;
    int rx_running;
    uint64_t last_send_ns;
    uint64_t last_probe_ns;
    uint64_t probe_id;
    uint64_t link_free_ns;    /* the last paced send ended; 0: never */
} edge_ctx;

/* The position of tensor t among the graph's inputs, or -1. */
static inline int clv_rt__input_pos(const edge_ctx *x, int t)
{
    for (int k = 0; k < x->n_in; k++)
        if (clv_graph_input(x->g, k) == t)
            return k;
    return -1;
}

/* The codec a FRAME tensor crosses in: one the edge part made in the
 * plan's codec `plan`; the frame itself (a graph input) in the plan's
 * codec when that is a frame encoding (jalad's cloud-only), else in
 * options.frame_codec. */
static inline const clv_codec *clv_rt__send_codec(const edge_ctx *x,
                                                  const clv_codec *plan,
                                                  bool made_on_edge)
{
    return made_on_edge || plan->kind >= CLV_CODEC_U8 ? plan : &x->o.frame_codec;
}

#define ELOG(x, ...) clv_rt__log((x)->o.log, (x)->o.log_ctx, __VA_ARGS__)

/* edge.c */
uint64_t clv_rt__rel_ns(edge_ctx *x);        /* ns since the run's start */
void clv_rt__cv_wait_ms(edge_ctx *x, int ms); /* on x->cv, under mu */

/* edge_plans.c */
void clv_rt__eplan_free(eplan *p);
/* Makes partition `part` current (edge thread, at a frame boundary): the
 * cached plan with that partition, else a new one (a new version, its
 * engine built, the least recently used idle plans beyond o.max_plans
 * dropped). `pred` is the planner's prediction (may be NULL); `bps` the
 * bandwidth it is chosen for. A switch is logged and recorded in the
 * report unless `initial`. 0 or an error. */
int clv_rt__use_partition(edge_ctx *x, const clv_partition *part,
                          const clv_plan *pred, double bps, bool initial,
                          clv_error *err);
/* Plans for bandwidth `bps` and makes the plan's partition current. */
int clv_rt__replan(edge_ctx *x, double bps, bool initial, clv_error *err);
/* Edge thread: takes the times of a server connected since the last
 * call, if any, for planning. Returns whether a connection came up since
 * then (a late or new server: the caller plans again). */
bool clv_rt__take_server(edge_ctx *x);

/* edge_frames.c */
void clv_rt__frame_free(edge_ctx *x, eframe *f);
void clv_rt__frame_finish(edge_ctx *x, eframe *f, int status,
                          const char *error);
int clv_rt__alloc_outputs(edge_ctx *x, eframe *f, clv_error *err);
int clv_rt__run_local(edge_ctx *x, eframe *f, clv_error *err);
void clv_rt__fq_push(eframe **head, eframe **tail, eframe *f);
eframe *clv_rt__fq_pop(eframe **head, eframe **tail);
void clv_rt__lose_connection(edge_ctx *x);  /* under mu */
void clv_rt__push_fallback(edge_ctx *x, eframe *f); /* under mu */
void clv_rt__drain_fallback(edge_ctx *x);
void clv_rt__wait_in_system(edge_ctx *x, int limit);

/* edge_tx.c */
int clv_rt__open_conn(edge_ctx *x, bool probe, double *probe_bps,
                      clv_error *err);
void clv_rt__drop_conn(edge_ctx *x);
void *clv_rt__tx_main(void *arg);

/* edge_rx.c: the receiver of connection c (its argument, malloc'd, is
 * freed by the thread). */
typedef struct rx_arg {
    edge_ctx *x;
    clv_net_conn *c;
} rx_arg;
void *clv_rt__rx_main(void *arg);

/* report.c: the summary of the report's frames (latency over the first
 * `sequential` frames when there are any, throughput over the rest). */
void clv_rt__summarise(clv_edge_report *r, int sequential);
/* report.c: each burst's makespan (first start to last completion of its
 * frames, all of which must have ended well). 0 or CLV_ENOMEM. */
int clv_rt__burst_makespans(clv_edge_report *r, int burst);

#endif
