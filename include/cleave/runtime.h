/*
 * cleave — the runtime: split inference over a real socket.
 *
 * Two halves. The SERVER (clv_server, `cleave serve`) holds one model,
 * accepts many edges at once and finishes their frames: each connection
 * sends PLANs (a versioned cloud part) and FRAMEs (the cut tensors of one
 * input); a pool of worker threads runs the cloud part of each frame with
 * an engine made for that (connection, plan version) and answers with a
 * RESULT. The EDGE (clv_edge_run, `cleave edge`) runs its part of every
 * frame, ships the cut tensors, collects the results and re-plans when the
 * link's bandwidth moves.
 *
 *     clv_server *s;
 *     clv_server_options so;
 *     clv_server_options_init(&so);
 *     so.listen = "127.0.0.1:0";
 *     clv_server_create(g, &so, &s, &err);
 *     clv_server_start(s, &err);              // serves on its own thread
 *     ... clv_server_port(s) ...
 *
 *     clv_edge_options eo;
 *     clv_edge_report rep;
 *     clv_edge_options_init(&eo);
 *     eo.server = "127.0.0.1:7878";
 *     eo.frames = 20;
 *     eo.t_edge_ms = te; eo.t_cloud_ms = tc;  // per graph node
 *     clv_edge_report_init(&rep);
 *     rc = clv_edge_run(g, &eo, &rep, &err);
 *     ... rep.p50_ms, rep.fps, rep.frames[k] ...
 *     clv_edge_report_release(&rep);
 *
 *     clv_server_stop(s);                    // finishes frames in flight
 *     clv_server_join(s);
 *     clv_server_free(s);
 *
 * Plans and frames. Every FRAME names the plan version it was computed
 * for and the server runs it with exactly that plan, so a switch happens at
 * a frame boundary by construction: no frame is ever computed with parts of
 * two plans, and the results of every frame are bit-identical to running
 * the whole model locally (the engine guarantees that a split run equals a
 * whole run).
 *
 * Logging. The library never prints: both halves report events (a
 * connection, a refused message and why, a plan switch) as one-line
 * sentences through an optional callback, which may be called from any of
 * their threads (the callback must be thread-safe; the CLI's prints a line
 * to stderr).
 *
 * Threads. A server is driven by its own threads; clv_server_stop() is
 * async-signal-safe (it stores one atomic flag), so a SIGINT handler may
 * call it. clv_edge_run() blocks its caller and runs three threads of its
 * own (edge compute, sender, receiver); two edges in one process do not
 * interfere.
 */
#ifndef CLEAVE_RUNTIME_H
#define CLEAVE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/codec.h"
#include "cleave/error.h"
#include "cleave/graph.h"
#include "cleave/net.h"
#include "cleave/plan.h"
#include "cleave/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A log sink: `line` is one sentence without a line end, valid for the
 * call. Called from the runtime's threads, possibly at the same time. */
typedef void (*clv_log_fn)(void *ctx, const char *line);

/* ---- the server ---------------------------------------------------------- */

typedef struct clv_server_options {
    const char *listen;   /* "host:port"; default "*:7878"; port 0 picks
                             a free one (clv_server_port) */
    int threads;          /* workers running cloud parts; default 2 */
    int engine_threads;   /* threads of each engine; default 1 */
    int max_conns;        /* edges served at once (past the handshake);
                             more get ERROR BUSY; default 64 */
    int max_handshakes;   /* connections still in the handshake, counted
                             apart from max_conns; while all are taken the
                             server accepts nothing (newcomers wait in the
                             listen queue); default 16 */
    int max_inflight;     /* frames of one connection queued or running
                             before its receiver stops reading (TCP then
                             slows the edge); default 4 */
    int max_plans;        /* plans (engines) one connection keeps: the
                             max_plans most recently used (by PLAN or
                             FRAME), and older ones only while frames in
                             flight use them; told to the edge in
                             HELLO_ACK; default 4 */
    int io_timeout_ms;    /* without progress inside a message; default
                             10000 */
    int handshake_ms;     /* the whole handshake, from accept to HELLO_ACK:
                             an absolute deadline; default 5000 */
    int idle_ms;          /* an edge that sends nothing this long, with no
                             frame in flight, is told BYE; 0 = never;
                             default 120000 */
    uint64_t min_rate;    /* bytes/s a message must keep up once started
                             (clv_net_conn_set_min_rate); 0 = any; default
                             8192 (64 kbit/s) */
    uint64_t max_payload; /* the largest payload taken; default 64 MiB */
    uint64_t max_memory;  /* the budget for engines (weights shared, one
                             copy per distinct array), their buffers and
                             the frames received and queued: a PLAN or a
                             FRAME that would pass it is answered BUSY
                             before anything is allocated for it; 0
                             (default): 3/4 of the memory available when
                             the server is made */
    int max_queue;        /* frames queued for the workers, all edges
                             together; more are answered BUSY unread (the
                             edge backs off): a bound on queueing delay;
                             default 16 per worker thread */
    const clv_net_secret *secret; /* borrowed; NULL: no authentication */
    bool insecure;        /* without a secret, serve peers beyond loopback
                             too; false (default): a server without a
                             secret refuses them (protected mode) */
    const char *name;     /* the server's name in HELLO_ACK; may be NULL */
    /* The server's own per-node compute times (ms, one per graph node,
     * finite and >= 0; copied at create), which it sends to an edge that
     * asks (TIMES_REQUEST), so the edge plans with what the cloud really
     * costs. `node_ms_runs` is how many runs they come from (0: a profile
     * file). NULL: the server answers that it has none. */
    const double *node_ms;
    int node_ms_runs;
    clv_log_fn log;       /* may be NULL */
    void *log_ctx;
} clv_server_options;

void clv_server_options_init(clv_server_options *o);

typedef struct clv_server clv_server;

/* Counters of a server (clv_server_stats). */
typedef struct clv_server_stats {
    uint64_t conns_accepted;  /* connections that completed the handshake */
    uint64_t conns_refused;   /* failed handshakes and BUSY */
    uint64_t conns_dropped;   /* closed for a malformed message or I/O error */
    uint64_t conns_open;      /* now */
    uint64_t conns_timed_out; /* closed: handshake deadline, a message under
                                 the minimum rate, or idle */
    uint64_t frames_done;     /* RESULTs with status 0 */
    uint64_t frames_failed;   /* RESULTs with an error status */
    uint64_t plans;           /* PLANs taken */
    uint64_t frames_shed;     /* FRAMEs answered BUSY: queue full or over
                                 the memory budget */
    uint64_t plans_shed;      /* PLANs answered BUSY: over the budget */
    uint64_t mem_used;        /* bytes the budget counts now, and ... */
    uint64_t mem_peak;        /* ... at most so far */
    uint64_t max_memory;      /* the budget (the option, or the machine's) */
    uint64_t engines_made;    /* engines created (one per connection and plan) */
} clv_server_stats;

/*
 * Makes a server for the finalized graph `g` (borrowed: it must outlive
 * the server) and binds its listening socket, so that clv_server_port()
 * is known before it serves. `o` is copied (its strings and secret are
 * borrowed until clv_server_free). Returns 0 and *out, or CLV_EINVAL (bad
 * options, g not finalized), CLV_EIO (cannot listen; the message names the
 * address) or CLV_ENOMEM.
 */
int clv_server_create(const clv_graph *g, const clv_server_options *o,
                      clv_server **out, clv_error *err);

/* The TCP port the server listens on. */
int clv_server_port(const clv_server *s);

/* Starts the accept thread and the worker pool and returns. Returns 0, or
 * CLV_EINVAL (already started) or CLV_ENOMEM (no threads). */
int clv_server_start(clv_server *s, clv_error *err);

/* Asks the server to stop: it accepts no more connections and reads no
 * more frames, finishes the frames already received (their RESULTs are
 * sent), says BYE to every edge and ends its threads. Returns at once;
 * async-signal-safe. */
void clv_server_stop(clv_server *s);

/* Waits until a stopped server's threads have ended (call after
 * clv_server_stop, or from a thread while another calls stop). */
void clv_server_join(clv_server *s);

/* Copies the counters (thread-safe). */
void clv_server_stats_get(clv_server *s, clv_server_stats *out);

/* Stops (if running), joins and frees the server. Accepts NULL. */
void clv_server_free(clv_server *s);

/* ---- planning for the runtime --------------------------------------------- */

/*
 * Builds the planning problem of `g` from per-node times (t_edge_ms[i],
 * t_cloud_ms[i] for graph node i, as clv_problem_from_graph) and runs
 * planner `method` for a link of `bps` bit/s (rtt `rtt_ms`) and, for dads,
 * frame rate `fps` (<= 0: 30). Fills `plan`, whose `part` is the partition
 * in graph numbering (what the engine, the wire and the runtime take).
 * Returns 0 or the planner's errors.
 */
int clv_runtime_plan(const clv_graph *g, const double *t_edge_ms,
                     const double *t_cloud_ms, clv_plan_method method,
                     double bps, double rtt_ms, double fps, clv_plan *plan,
                     clv_error *err);

/*
 * Per-node times for planning, t_edge[i] and t_cloud[i] for each graph node
 * i (arrays of clv_graph_n_nodes(g) entries, the caller's). Each comes
 * from a profile file when its path is given (clv_profile_load; the nodes
 * are matched by name), otherwise from one measurement of the whole graph
 * on this machine (clv_profile_measure with fusion on, as the runtime's
 * engines run; `runs` timed runs after one warm-up, `threads` engine
 * threads): the cloud's time is the
 * measured time divided by `cloud_speedup` (> 0; 1 when the server runs on
 * a machine like this one, as in `cleave demo`), and the edge's is
 * measured x (C / S) / F, where C is the CPU time of one whole duty-cycled
 * run, S the sum of the measured node times and F the `slowdown`: what the
 * edge costs when it runs throttled by F, so the edge is planned for the
 * condition it runs under. Returns 0 or the errors of the profile
 * functions.
 */
int clv_runtime_times(const clv_graph *g, const char *edge_profile,
                      const char *cloud_profile, double slowdown,
                      double cloud_speedup, int runs, int threads,
                      double *t_edge, double *t_cloud, clv_error *err);

/*
 * As clv_runtime_times for an edge slowed by the kernel instead of a duty
 * cycle: takes the times with this machine unlimited (profiles when given,
 * else one measurement: cloud = measured / cloud_speedup), then moves the
 * whole calling process into a new cgroup limited to `quota` of one core
 * (clv_cpu_limit_enter, default options) and, without profiles, measures
 * the edge's times again inside it (node means, see
 * clv_profile_options.cpu_quota, scaled so that they add up to the median
 * whole run), as the edge will then run. On success
 * *lim is the group, to leave with clv_cpu_limit_leave() when the edge is
 * done; on failure the process is not left in a group and *lim is NULL.
 * Returns 0, the errors of clv_runtime_times, clv_cpu_limit_enter (CLV_EIO
 * naming why: no root, no cpu controller, ...) or clv_profile_measure.
 */
int clv_runtime_times_limited(const clv_graph *g, const char *edge_profile,
                              const char *cloud_profile, double quota,
                              double cloud_speedup, int runs, int threads,
                              double *t_edge, double *t_cloud,
                              clv_cpu_limit **lim, clv_error *err);

/* ---- the edge ------------------------------------------------------------ */

/* Fills the graph inputs of frame `frame`: bufs[i] is graph input i's
 * buffer of clv_tensor_bytes() bytes. Returns 0 or a CLV_E* code. */
typedef int (*clv_edge_input_fn)(void *ctx, uint64_t frame,
                                 void *const *bufs, clv_error *err);

typedef struct clv_edge_options {
    const char *server;      /* "host:port"; NULL: run every frame on the
                                edge (no connection) */
    int frames;              /* frames to run; default 10 */
    double fps;              /* > 0: start frames at this rate; 0: as fast
                                as the pipeline takes them (default) */
    int sequential;          /* the first `sequential` frames each start
                                when the one before has finished (one frame
                                in the system: their latency is the
                                unpipelined T_e + T_t + T_c); default 0 */
    clv_plan_method planner; /* default CLV_PLAN_DADS */
    double link_bps;         /* pace the socket to this rate; 0: no pacing */
    const clv_net_schedule *schedule; /* borrowed; pacing follows it
                                         (overrides link_bps) */
    double plan_bps;         /* bandwidth of the first plan; 0: probe the
                                link (clv_net_probe_link), else the link's
                                set rate */
    double rtt_ms;           /* planned round trip; 0 (default): the first
                                probe's measured rtt, when it probes */
    double dads_fps;         /* the rate dads plans for; 0: 30 frames/s
                                (clv_runtime_plan) */
    /* Per graph node times (ms) for planning, borrowed, required when a
     * server is given: the edge's under its slowdown, and the cloud's. */
    const double *t_edge_ms;
    const double *t_cloud_ms;
    bool server_times;       /* at the first connection, ask the server for
                                its own per-node times (TIMES_REQUEST) and
                                plan with them instead of t_cloud_ms; a
                                server without times leaves t_cloud_ms
                                (logged); default false */
    double slowdown;         /* duty-cycle fraction F in (0, 1] applied to
                                the edge part: the edge thread sleeps until
                                its work has lasted its CPU time / F (CPU
                                time, not wall time, so that preemption by
                                other processes is not multiplied by 1/F);
                                0 or 1: none */
    int threads;             /* engine threads on the edge; default 1 */
    bool adapt;              /* re-plan when the estimate moves; default
                                true */
    double adapt_threshold;  /* relative change that re-plans; default
                                0.25 */
    int probe_interval_ms;   /* send a PROBE this often while frames carry
                                less than 32 KiB (edge-only plans), so the
                                estimate keeps moving; default 500 */
    int reconnect_ms;        /* first backoff after a lost server (doubles,
                                at most 8x); default 250 */
    int connect_timeout_ms;  /* default 3000 */
    const clv_net_secret *secret; /* borrowed; NULL: no authentication */
    const char *name;        /* the edge's name in HELLO; may be NULL */
    int audit_every;         /* also run every Nth frame the server
                                finished on the edge and compare the two
                                results bit for bit (a split run equals the
                                whole model's exactly); a difference, or a
                                non-finite value the edge does not get
                                itself, makes the server untrusted for the
                                rest of the run: no more frames go to it.
                                0: never (default) */
    clv_edge_input_fn input; /* NULL: seeded random inputs in [0, 1), or
                                random pixels / 255 when frame_codec is
                                u8, png or jpeg */
    void *input_ctx;
    uint64_t seed;           /* of the random inputs; default 1 */
    bool keep_outputs;       /* keep each frame's graph outputs in the
                                report (for checking); default false */
    int max_plans;           /* plans (partitions with their edge engines)
                                kept at once, the least recently used idle
                                ones dropped beyond it; returning to a kept
                                partition builds nothing (and sends no
                                PLAN while the server holds it too: see
                                clv_server_options.max_plans); default 4 */
    /* Given partitions instead of planning (borrowed, n_partitions of
     * them, each of this graph): frame k runs with partition
     * partitions[k % n_partitions], and nothing re-plans. For schedules
     * that give each frame its own cut (JPS), and for tests. NULL/0:
     * plan with `planner`. */
    const clv_partition *partitions;
    int n_partitions;
    int window;              /* frames in the system at once (computed and
                                not done); default 4 */
    int burst;               /* > 0: frames come in bursts of this many,
                                released together (JPS's jobs): burst b+1
                                starts when burst b has finished, and each
                                burst's makespan is reported; set window to
                                the burst so that the edge never waits for
                                the link inside one; default 0 */
    /* How tensors cross the link (include/cleave/codec.h; zero: raw
     * float32). `codec` encodes the cut tensors the edge part makes (a
     * lossy codec breaks the bit-for-bit equality with a whole run: the
     * results are those of the decoded tensors), `frame_codec` the graph
     * inputs a plan sends as they are (u8, png, jpeg: the frame as a
     * camera sends it; lossless for frames of pixel / 255, which the
     * random inputs are then). Float32 tensors only; others go raw. */
    clv_codec codec;
    clv_codec frame_codec;
    /* planner jalad: the measured table (borrowed) and the accuracy loss
     * allowed (default 0.01). The plan's codec then replaces `codec` (and
     * `frame_codec` when it sends the frame), and the planners price the
     * frame by `frame_codec` when its size is fixed (u8). */
    const clv_jalad_table *jalad_table;
    double accuracy_drop;
    bool jalad_paper_loss;   /* bound the paper's A_i(c) instead of the
                                disagreement (clv_jalad_loss) */
    clv_log_fn log;          /* may be NULL */
    void *log_ctx;
} clv_edge_options;

void clv_edge_options_init(clv_edge_options *o);

/* Where a frame's cloud part ran. */
typedef enum clv_edge_where {
    CLV_EDGE_SPLIT = 0,   /* the server finished it */
    CLV_EDGE_LOCAL = 1,   /* the plan put everything on the edge */
    CLV_EDGE_FALLBACK = 2 /* the server was lost: finished on the edge */
} clv_edge_where;

/* One frame. Times are ns since the run's start (edge clock); 0 where a
 * stage did not happen. */
typedef struct clv_edge_frame {
    uint64_t id;
    uint64_t plan_version;
    int status;             /* 0, or the CLV_E* code of its failure */
    clv_edge_where where;
    int n_cut;              /* tensors sent */
    uint64_t bytes;         /* FRAME bytes on the wire */
    uint64_t encode_ns;     /* encoding its tensors (codec, frame_codec) */
    uint64_t data_bytes;    /* the tensors' (encoded) data bytes in it */
    uint64_t t_start, t_edge_end, t_send_start, t_send_end, t_done;
    uint64_t cloud_recv_ns, cloud_queue_ns, cloud_compute_ns;
    double latency_ms;      /* (t_done - t_start) / 1e6 */
    char error[160];        /* why it failed, when status != 0 */
} clv_edge_frame;

/* One plan switch. */
typedef struct clv_edge_switch {
    double t_s;             /* seconds since the start */
    double bw_bps;          /* the estimate that caused it */
    uint64_t old_version, new_version;
    int old_n_edge, new_n_edge; /* graph nodes on the edge */
    uint64_t old_cut_bytes, new_cut_bytes;
    char old_cut[96], new_cut[96]; /* names of the first cut nodes */
} clv_edge_switch;

typedef struct clv_edge_report {
    int n_frames;
    clv_edge_frame *frames;
    int n_switches;
    clv_edge_switch *switches;
    /* With keep_outputs: n_frames * n_outputs buffers, frame-major, each
     * of the graph output's clv_tensor_bytes() (NULL for a failed frame). */
    int n_outputs;
    void **outputs;
    /* Summary over frames with status 0 (the `sequential` first frames are
     * the latency sample when there are any, otherwise all frames; frame 0
     * is left out as warm-up when the sample has at least 3 frames). */
    double p50_ms, p95_ms, max_ms, mean_ms;
    double fps;             /* (n - 1) / (last done - first done) over the n
                               pipelined frames: the steady rate, without
                               the time the pipeline takes to fill */
    double wall_s;
    uint64_t bytes_sent;    /* all bytes written to the server */
    double probe_bps;       /* the active probe's estimate, 0 if none */
    double bw_bps;          /* the passive estimate at the end */
    int n_ok, n_failed, n_fallback, reconnects;
    int n_busy;             /* RESULTs the server answered BUSY (those
                               frames, and the next ones for a growing
                               back-off, ran on the edge) */
    int audits;             /* server results checked (audit_every) */
    int audit_failures;     /* ... that differed: the server was dropped */
    int engines_made;       /* edge engines built (one per partition the
                               cache did not hold; not the whole model's) */
    int n_bursts;           /* with options.burst: bursts, and the makespan
                               of each (ms, first start to last completion;
                               NaN for a burst with a failed frame) */
    double *burst_ms;
    /* The first plan and its prediction. */
    clv_plan plan;
    double plan_bps;        /* the bandwidth it was made for */
    char plan_cut[96];      /* its cut tensors' names (or "-") */
    bool server_times;      /* the cloud's times came from the server */
    double rtt_ms;          /* the round trip planned for: options.rtt_ms,
                               else the first probe's, else 0 */
} clv_edge_report;

void clv_edge_report_init(clv_edge_report *r);
/* Frees the report's arrays and initialises it again. Accepts NULL. */
void clv_edge_report_release(clv_edge_report *r);

/*
 * Runs `o->frames` frames of the finalized graph `g` (borrowed) as a
 * three-stage pipeline: an edge thread runs the edge part of frame k+1
 * (throttled by o->slowdown) while a sender thread puts frame k on the
 * (paced) socket and the server computes frame k-1; a receiver thread
 * takes the RESULTs, feeds their transfer times to the passive bandwidth
 * estimator and completes the frames. With o->adapt the edge thread
 * re-plans at a frame boundary when the estimate differs from the
 * bandwidth of the current plan by more than o->adapt_threshold, sends the
 * new PLAN before the first FRAME that uses it, and records the switch.
 *
 * When the server cannot be reached or is lost, frames it holds are
 * finished on the edge (where = CLV_EDGE_FALLBACK), later frames run
 * edge-only, and the edge reconnects with exponential backoff, re-sending
 * its plan. Every frame ends with its outputs or an error in the report;
 * none is dropped.
 *
 * Returns 0 when the run took place (individual frames may still have
 * failed: see n_failed), or CLV_EINVAL (bad options), CLV_EUNSUPPORTED
 * (the graph does not have exactly one run-time input), CLV_ENOMEM, or an
 * engine error, with a message. `out` (initialised) is filled in both
 * cases as far as the run got.
 */
int clv_edge_run(const clv_graph *g, const clv_edge_options *o,
                 clv_edge_report *out, clv_error *err);

/* Writes the report's frames as a Chrome trace-event JSON array (opens in
 * Perfetto or chrome://tracing): one complete event ("ph":"X") per stage
 * of each frame, "edge", "send", "cloud" and "frame", on the threads
 * "edge", "link" and "cloud". Returns 0, CLV_EIO (naming the path) or
 * CLV_ENOMEM. */
int clv_edge_write_trace(const clv_edge_report *r, const char *path,
                         clv_error *err);

/* The report's summary as JSON text (malloc'd; NULL when out of memory):
 * {"frames", "ok", "failed", "fallback", "latency_ms":{"p50","p95","max",
 * "mean"}, "fps", "bytes_sent", "bandwidth_mbit":{"probe","estimate"},
 * "stage_ms":{mean measured edge, send, cloud and cloud-queue times},
 * "plan":{...predicted...}, "switches":[...]}. */
char *clv_edge_report_json(const clv_edge_report *r);

#ifdef __cplusplus
}
#endif
#endif
