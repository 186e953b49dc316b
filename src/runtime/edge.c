/* The edge agent: a three-stage pipeline (edge compute -> paced sender ->
 * cloud, with a receiver collecting RESULTs), passive bandwidth estimates,
 * re-planning at frame boundaries, and edge-only fallback with reconnects. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleave/profile.h"
#include "runtime/internal.h"
#include "util/util.h"

/* Frames in the system at once (computed, not yet done): one on the edge,
 * one on the wire, one in the cloud, and one queued at each hand-over. */
#define EDGE_WINDOW 4
/* A frame whose RESULT takes longer than this means the server is lost. */
#define RESULT_TIMEOUT_NS (20ull * 1000000000ull)
/* Frames below this many bytes do not feed the estimator well enough;
 * probes keep it moving then. */
#define PROBE_BYTES (64u * 1024u)

/* The edge's duty-cycle throttle. Like clv_throttle (src/profile), the edge
 * part of a frame is made to last busy / F, but "busy" is the thread's CPU
 * time (when the edge engine runs on the calling thread alone), not its
 * wall-clock time: time lost to other processes on a shared machine is
 * then absorbed by the sleep instead of being multiplied by 1/F, so the
 * emulated device computes at fraction F of a CPU whatever else runs on
 * this one -- the condition its profile (median busy times / F) was
 * measured for. With more engine threads the wall-clock time is used. */
typedef struct rt_throttle {
    double f;       /* F in (0, 1]; 1: no slowdown */
    bool cpu;       /* busy = thread CPU time */
    double debt_s;  /* sleep owed (oversleeping makes it negative) */
    double w0, c0;  /* begin()'s clocks */
} rt_throttle;

/* Frames sent more than this after the link went quiet pay no idle
 * credit: see drain_idle_credit(). */
#define PACER_BURST_S 0.020
#define PACER_BURST_MIN 1500.0
#define PACER_BURST_MAX 262144.0

typedef struct eplan {
    uint64_t version;
    unsigned char *on_edge;
    int *edge_nodes, n_edge;
    int *cloud_nodes, n_cloud;
    clv_engine *eng;          /* the edge part; NULL without edge nodes */
    uint32_t *send_ids;       /* tensors each FRAME carries */
    int n_send;
    uint32_t *ret_ids;        /* graph outputs the cloud makes */
    int n_ret;
    double bps;               /* the bandwidth it was planned for */
    clv_plan pred;
    char cut[96];
    int refs;                 /* frames using it; under mu */
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
    uint64_t payload;         /* FRAME payload bytes */
    uint64_t sent_ns;
    int sending;              /* the sender still writes it; under mu */
    struct eframe *next;
} eframe;

typedef struct edge_ctx {
    const clv_graph *g;
    clv_edge_options o;
    clv_edge_report *rep;
    uint64_t t0;
    int n_in, n_out;
    clv_engine *whole;
    rt_throttle th;
    clv_net_pacer *pacer;
    clv_net_bw *bw;
    uint8_t digest[CLV_NET_DIGEST_SIZE];
    double rtt_ms;            /* o.rtt_ms, else the first probe's */
    double *t_cloud_srv;      /* the server's own times (server_times) */
    const double *t_cloud;    /* what planning uses: t_cloud_srv or
                                 o.t_cloud_ms */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    eplan *plans;             /* all plans, newest first */
    eplan *cur;
    uint64_t next_version;
    eframe *sendq_head, *sendq_tail; /* computed, to send */
    eframe *await;            /* sent, waiting for a RESULT */
    eframe *fallq_head, *fallq_tail; /* to finish on the edge */
    int in_system;            /* frames started and not done */
    int done;                 /* frames finished */
    int computing_done;       /* the edge thread has made every frame */
    int quit;                 /* the sender may end */

    /* The connection: created and destroyed by the sender only. */
    clv_net_conn *conn;
    int conn_up;              /* under mu */
    uint64_t conn_plan;       /* the last plan version sent on it */
    pthread_t rx;
    int rx_running;
    uint64_t last_send_ns;
    uint64_t last_probe_ns;
    uint64_t probe_id;
    uint64_t link_free_ns;    /* the last paced send ended; 0: never */
} edge_ctx;

#define ELOG(x, ...) clv_rt__log((x)->o.log, (x)->o.log_ctx, __VA_ARGS__)

void clv_edge_options_init(clv_edge_options *o)
{
    memset(o, 0, sizeof *o);
    o->frames = 10;
    o->planner = CLV_PLAN_DADS;
    o->threads = 1;
    o->adapt = true;
    o->adapt_threshold = 0.25;
    o->probe_interval_ms = 500;
    o->reconnect_ms = 250;
    o->connect_timeout_ms = 3000;
    o->seed = 1;
}

void clv_edge_report_init(clv_edge_report *r)
{
    memset(r, 0, sizeof *r);
    clv_plan_init(&r->plan);
}

void clv_edge_report_release(clv_edge_report *r)
{
    if (!r)
        return;
    if (r->outputs)
        for (int i = 0; i < r->n_frames * r->n_outputs; i++)
            free(r->outputs[i]);
    free(r->outputs);
    free(r->frames);
    free(r->switches);
    clv_plan_release(&r->plan);
    clv_edge_report_init(r);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void rt_throttle_init(rt_throttle *t, double f, int threads)
{
    memset(t, 0, sizeof *t);
    t->f = f > 0 && f <= 1 ? f : 1;
    t->cpu = threads <= 1;
}

static void rt_throttle_begin(rt_throttle *t)
{
    if (t->f >= 1)
        return;
    t->w0 = clock_s(CLOCK_MONOTONIC);
    t->c0 = t->cpu ? clock_s(CLOCK_THREAD_CPUTIME_ID) : t->w0;
}

/* Sleeps until the work since begin() has lasted busy / F. */
static void rt_throttle_end(rt_throttle *t)
{
    if (t->f >= 1)
        return;
    double w1 = clock_s(CLOCK_MONOTONIC);
    double busy = t->cpu ? clock_s(CLOCK_THREAD_CPUTIME_ID) - t->c0
                         : w1 - t->w0;
    double owe = busy / t->f - (w1 - t->w0) + t->debt_s;
    if (owe < 5e-5) {
        /* a late frame (preempted) is not made up for by a later one;
         * only a small oversleep is carried */
        t->debt_s = owe < -2e-3 ? 0 : owe;
        return;
    }
    struct timespec ts = {(time_t)owe, (long)((owe - floor(owe)) * 1e9)};
    double s0 = clock_s(CLOCK_MONOTONIC);
    while (nanosleep(&ts, &ts) != 0)
        ;
    double slept = clock_s(CLOCK_MONOTONIC) - s0;
    t->debt_s = owe - slept;
    if (t->debt_s < -2e-3)
        t->debt_s = -2e-3;
}

static uint64_t rel_ns(edge_ctx *x)
{
    return clv_net_now_ns() - x->t0;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull),
                          (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Waits on x->cv for at most `ms`. Under mu. */
static void cv_wait_ms(edge_ctx *x, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&x->cv, &x->mu, &ts);
}

/* ---- plans ----------------------------------------------------------------- */

static void eplan_free(eplan *p)
{
    if (!p)
        return;
    clv_engine_free(p->eng);
    free(p->on_edge);
    free(p->edge_nodes);
    free(p->cloud_nodes);
    free(p->send_ids);
    free(p->ret_ids);
    clv_plan_release(&p->pred);
    free(p);
}

/* Makes the runtime form of a partition: the edge engine, what FRAMEs
 * carry and what RESULTs return. */
static int eplan_make(edge_ctx *x, const unsigned char *on_edge, double bps,
                      const clv_plan *pred, eplan **out, clv_error *err)
{
    const clv_graph *g = x->g;
    int n = clv_graph_n_nodes(g), nt = clv_graph_n_tensors(g), rc;
    eplan *p = calloc(1, sizeof *p);
    unsigned char *mark = NULL;
    *out = NULL;
    if (!p)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    clv_plan_init(&p->pred);
    p->bps = bps;
    p->on_edge = malloc((size_t)n + 1);
    p->send_ids = malloc(((size_t)nt + 1) * sizeof *p->send_ids);
    p->ret_ids = malloc(((size_t)nt + 1) * sizeof *p->ret_ids);
    mark = calloc((size_t)nt + 1, 1);
    if (!p->on_edge || !p->send_ids || !p->ret_ids || !mark) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    memcpy(p->on_edge, on_edge, (size_t)n);
    rc = clv_rt__split_nodes(g, on_edge, &p->edge_nodes, &p->n_edge,
                             &p->cloud_nodes, &p->n_cloud, err);
    if (rc)
        goto fail;
    if (p->n_edge > 0) {
        clv_engine_options eo = {0};
        eo.threads = x->o.threads;
        rc = clv_engine_create(g, p->edge_nodes, p->n_edge, &eo, &p->eng,
                               err);
        if (rc)
            goto fail;
    }
    /* FRAME tensors: run-time tensors a cloud node reads that an edge node
     * makes or that are graph inputs, in the order cloud nodes read them. */
    for (int k = 0; k < p->n_cloud; k++) {
        const clv_node *nd = clv_graph_node(g, p->cloud_nodes[k]);
        for (int j = 0; j < nd->n_inputs; j++) {
            int t = nd->inputs[j];
            if (t < 0 || mark[t])
                continue;
            const clv_tensor *tt = clv_graph_tensor(g, t);
            if (tt->flags & CLV_TENSOR_CONST)
                continue;
            if ((tt->flags & CLV_TENSOR_INPUT) ||
                (tt->producer >= 0 && on_edge[tt->producer])) {
                mark[t] = 1;
                p->send_ids[p->n_send++] = (uint32_t)t;
            }
        }
    }
    for (int i = 0; i < clv_graph_n_outputs(g); i++) {
        int t = clv_graph_output(g, i);
        const clv_tensor *tt = clv_graph_tensor(g, t);
        if (tt->producer >= 0 && !on_edge[tt->producer])
            p->ret_ids[p->n_ret++] = (uint32_t)t;
    }
    if (pred) {
        clv_plan_release(&p->pred);
        p->pred = *pred;
        /* take over the arrays: the caller's plan is re-initialised */
        p->pred.on_edge = malloc((size_t)pred->n_nodes + 1);
        p->pred.cut = malloc(((size_t)pred->n_nodes + 1) * sizeof(int));
        if (!p->pred.on_edge || !p->pred.cut) {
            free(p->pred.on_edge);
            free(p->pred.cut);
            clv_plan_init(&p->pred);
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(p->pred.on_edge, pred->on_edge, (size_t)pred->n_nodes);
        memcpy(p->pred.cut, pred->cut, (size_t)pred->n_cut * sizeof(int));
        p->pred.cut_bytes = pred->cut_bytes;
    }
    clv_rt__cut_text(g, on_edge, p->cut, sizeof p->cut);
    free(mark);
    *out = p;
    return 0;
fail:
    free(mark);
    eplan_free(p);
    return rc;
}

/* The bytes one FRAME of plan p puts on the wire: the header, the frame
 * fields and each tensor's description and data (encoded from zeros). */
static int frame_wire_bytes(edge_ctx *x, const eplan *p, uint64_t *out,
                            clv_error *err)
{
    uint64_t most = 1;
    int rc = 0;
    *out = 0;
    if (p->n_send == 0)
        return 0;
    for (int i = 0; i < p->n_send; i++) {
        uint64_t nb = clv_tensor_bytes(clv_graph_tensor(x->g, (int)p->send_ids[i]));
        if (nb > most)
            most = nb;
    }
    void *zeros = calloc((size_t)most, 1);
    clv_net_tensor *ts = calloc((size_t)p->n_send, sizeof *ts);
    clv_net_buf buf = {0};
    if (!zeros || !ts) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < p->n_send && !rc; i++)
        rc = clv_net_tensor_from_graph(x->g, (int)p->send_ids[i], zeros,
                                       &ts[i], err);
    if (!rc) {
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_FRAME;
        m.frame.plan_version = 1;
        m.frame.frame_id = 1;
        m.frame.n_tensors = (uint32_t)p->n_send;
        m.frame.tensors = ts;
        rc = clv_net_encode(&m, &buf, err);
        if (!rc)
            *out = buf.len;
    }
out:
    clv_net_buf_release(&buf);
    free(ts);
    free(zeros);
    return rc;
}

/* The planner charges cut_bytes * 8 / bandwidth (+ rtt) for the link.
 * What crosses is a FRAME message: its header, the frame and tensor
 * descriptions and the data. The plan's prediction is redone with those
 * bytes, so that the predicted T_t is what the paced link takes; the
 * partition stays the planner's (the difference is a few hundred bytes). */
static void predict_wire(edge_ctx *x, eplan *p, double bps)
{
    clv_plan *pr = &p->pred;
    uint64_t wire = 0;
    if (!pr->n_nodes || frame_wire_bytes(x, p, &wire, NULL) || !wire)
        return;
    /* The round trip lengthens each frame but not the pipeline's period:
     * it is in T_t (and the latency), not in the max stage. */
    double send = (double)wire * 8 / bps * 1e3;
    pr->transfer_ms = send + x->rtt_ms;
    pr->latency_ms = pr->edge_ms + pr->transfer_ms + pr->cloud_ms;
    double m = pr->edge_ms;
    if (send > m)
        m = send;
    if (pr->cloud_ms > m)
        m = pr->cloud_ms;
    pr->max_stage_ms = m;
    pr->fps = m > 0 ? 1000 / m : INFINITY;
}

/* Frees the engines of plans that are neither current nor in use. Under
 * mu. The plan records stay (frames point at them). */
static void eplans_gc(edge_ctx *x)
{
    for (eplan *p = x->plans; p; p = p->next)
        if (p != x->cur && p->refs == 0 && p->eng) {
            clv_engine_free(p->eng);
            p->eng = NULL;
        }
}

/* Plans for bandwidth `bps` and makes it current (a new version) when the
 * partition differs from the current one. Called by the edge thread only,
 * at a frame boundary. Returns 0 (switched or not) or an error. */
static int replan(edge_ctx *x, double bps, bool initial, clv_error *err)
{
    int n = clv_graph_n_nodes(x->g);
    unsigned char *on_edge = malloc((size_t)n + 1);
    clv_plan plan;
    int rc;
    clv_plan_init(&plan);
    if (!on_edge)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if (!x->o.t_edge_ms || !x->t_cloud) {
        memset(on_edge, 1, (size_t)n);
        rc = 0;
    } else {
        rc = clv_runtime_plan(x->g, x->o.t_edge_ms, x->t_cloud,
                              x->o.planner, bps, x->rtt_ms, x->o.dads_fps,
                              &plan, on_edge, err);
    }
    if (rc)
        goto out;
    if (x->cur && memcmp(x->cur->on_edge, on_edge, (size_t)n) == 0) {
        x->cur->bps = bps; /* same cut: the new rate is the reference */
        goto out;
    }
    eplan *p;
    rc = eplan_make(x, on_edge, bps, plan.n_nodes ? &plan : NULL, &p, err);
    if (rc)
        goto out;
    predict_wire(x, p, bps);
    pthread_mutex_lock(&x->mu);
    eplan *old = x->cur;
    p->version = ++x->next_version;
    p->next = x->plans;
    x->plans = p;
    x->cur = p;
    eplans_gc(x);
    pthread_mutex_unlock(&x->mu);
    if (initial) {
        ELOG(x, "plan %llu (%s, %.3g Mbit/s): %d edge / %d cloud nodes, cut "
                "%s, %.1f KiB; predicted T_e %.1f T_t %.1f T_c %.1f ms, "
                "latency %.1f ms, %.2f fps",
             (unsigned long long)p->version,
             clv_plan_method_name(x->o.planner), bps / 1e6, p->n_edge,
             p->n_cloud, p->cut, (double)p->pred.cut_bytes / 1024.0,
             p->pred.edge_ms, p->pred.transfer_ms, p->pred.cloud_ms,
             p->pred.latency_ms, p->pred.fps);
    } else {
        clv_edge_report *r = x->rep;
        clv_edge_switch *sw =
            realloc(r->switches, (size_t)(r->n_switches + 1) * sizeof *sw);
        if (sw) {
            r->switches = sw;
            sw = &sw[r->n_switches++];
            memset(sw, 0, sizeof *sw);
            sw->t_s = (double)rel_ns(x) / 1e9;
            sw->bw_bps = bps;
            sw->old_version = old ? old->version : 0;
            sw->new_version = p->version;
            sw->old_n_edge = old ? old->n_edge : 0;
            sw->new_n_edge = p->n_edge;
            sw->old_cut_bytes = old ? old->pred.cut_bytes : 0;
            sw->new_cut_bytes = p->pred.cut_bytes;
            snprintf(sw->old_cut, sizeof sw->old_cut, "%s",
                     old ? old->cut : "");
            snprintf(sw->new_cut, sizeof sw->new_cut, "%s", p->cut);
        }
        ELOG(x, "t=%.2f s: bandwidth %.3g Mbit/s: switch plan %llu -> %llu, "
                "cut %s -> %s (%d -> %d edge nodes), predicted latency "
                "%.1f ms, %.2f fps",
             (double)rel_ns(x) / 1e9, bps / 1e6,
             (unsigned long long)(old ? old->version : 0),
             (unsigned long long)p->version, old ? old->cut : "-", p->cut,
             old ? old->n_edge : 0, p->n_edge, p->pred.latency_ms,
             p->pred.fps);
    }
out:
    clv_plan_release(&plan);
    free(on_edge);
    return rc;
}

/* ---- frames ---------------------------------------------------------------- */

static void frame_free(edge_ctx *x, eframe *f)
{
    if (!f)
        return;
    if (f->in)
        for (int i = 0; i < x->n_in; i++)
            free(f->in[i]);
    free(f->in);
    if (f->edge_out)
        for (int i = 0; i < f->n_edge_out; i++)
            free(f->edge_out[i]);
    free(f->edge_out);
    if (f->out)
        for (int i = 0; i < x->n_out; i++)
            free(f->out[i]);
    free(f->out);
    free(f);
}

/* Ends a frame: keeps its outputs when asked, updates the counters. The
 * caller has taken it out of every queue. Takes mu. */
static void frame_finish(edge_ctx *x, eframe *f, int status,
                         const char *error)
{
    clv_edge_frame *r = f->rec;
    r->status = status;
    r->t_done = rel_ns(x);
    r->latency_ms = (double)(r->t_done - r->t_start) / 1e6;
    if (status && error)
        snprintf(r->error, sizeof r->error, "%s", error);
    if (x->o.keep_outputs && !status && x->rep->outputs) {
        for (int i = 0; i < x->n_out; i++) {
            x->rep->outputs[(size_t)f->id * (size_t)x->n_out + (size_t)i] =
                f->out[i];
            f->out[i] = NULL;
        }
    }
    pthread_mutex_lock(&x->mu);
    if (f->plan)
        f->plan->refs--;
    x->in_system--;
    x->done++;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    frame_free(x, f);
}

static int alloc_outputs(edge_ctx *x, eframe *f, clv_error *err)
{
    if (f->out)
        return 0;
    f->out = calloc((size_t)x->n_out + 1, sizeof *f->out);
    if (!f->out)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < x->n_out; i++) {
        uint64_t nb =
            clv_tensor_bytes(clv_graph_tensor(x->g, clv_graph_output(x->g, i)));
        f->out[i] = malloc(nb ? nb : 1);
        if (!f->out[i])
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    return 0;
}

/* Runs the whole model on the edge (throttled) for frame f. */
static int run_local(edge_ctx *x, eframe *f, clv_error *err)
{
    int rc = alloc_outputs(x, f, err);
    if (rc)
        return rc;
    rt_throttle_begin(&x->th);
    rc = clv_engine_run(x->whole, (const void *const *)f->in, f->out, err);
    rt_throttle_end(&x->th);
    return rc;
}

/* Finishes a frame on the edge because the server could not. */
static void finish_fallback(edge_ctx *x, eframe *f)
{
    clv_error err;
    clv_error_clear(&err);
    f->rec->where = CLV_EDGE_FALLBACK;
    int rc = run_local(x, f, &err);
    frame_finish(x, f, rc, rc ? clv_error_text(&err, rc) : NULL);
}

/* The frame queues (sendq, fallq): singly linked through `next`, with a
 * tail for appending. Under mu. */
static void fq_push(eframe **head, eframe **tail, eframe *f)
{
    f->next = NULL;
    if (*tail)
        (*tail)->next = f;
    else
        *head = f;
    *tail = f;
}

static eframe *fq_pop(eframe **head, eframe **tail)
{
    eframe *f = *head;
    if (f) {
        *head = f->next;
        if (!*head)
            *tail = NULL;
        f->next = NULL;
    }
    return f;
}

/* Moves every frame waiting for a RESULT, and the queued ones, to the
 * fallback queue. Under mu. */
static void lose_connection(edge_ctx *x)
{
    x->conn_up = 0;
    eframe *list[2] = {x->await, x->sendq_head};
    x->await = NULL;
    x->sendq_head = x->sendq_tail = NULL;
    for (int k = 0; k < 2; k++) {
        eframe *f = list[k];
        while (f) {
            eframe *next = f->next;
            fq_push(&x->fallq_head, &x->fallq_tail, f);
            f = next;
        }
    }
    pthread_cond_broadcast(&x->cv);
}

static void push_fallback(edge_ctx *x, eframe *f)
{
    fq_push(&x->fallq_head, &x->fallq_tail, f);
    pthread_cond_broadcast(&x->cv);
}

/* ---- the receiver ---------------------------------------------------------- */

/* Takes a RESULT's tensors into frame f; 0 or an error. */
static int take_result(edge_ctx *x, eframe *f, const clv_net_result *res,
                       clv_error *err)
{
    eplan *p = f->plan;
    if (res->status)
        return clv_error_set(err, CLV_EIO, "the server could not run frame "
                             "%llu: %s: %s",
                             (unsigned long long)f->id,
                             clv_net_err_text(res->status),
                             res->message ? res->message : "");
    if (res->n_tensors != (uint32_t)p->n_ret)
        return clv_error_set(err, CLV_EFORMAT,
                             "RESULT %llu carries %u tensors, expected %d",
                             (unsigned long long)f->id, res->n_tensors,
                             p->n_ret);
    int rc = alloc_outputs(x, f, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < res->n_tensors; i++) {
        const clv_net_tensor *t = &res->tensors[i];
        rc = clv_net_tensor_check(x->g, t, err);
        if (rc)
            return rc;
        int o = -1;
        for (int k = 0; k < x->n_out; k++)
            if (clv_graph_output(x->g, k) == (int)t->id)
                o = k;
        bool expected = false;
        for (int k = 0; k < p->n_ret; k++)
            expected |= p->ret_ids[k] == t->id;
        if (o < 0 || !expected)
            return clv_error_set(err, CLV_EFORMAT,
                                 "RESULT %llu carries tensor %u, which the "
                                 "plan does not return",
                                 (unsigned long long)f->id, t->id);
        memcpy(f->out[o], t->data, (size_t)t->nbytes);
    }
    /* graph outputs made on the edge */
    if (p->eng)
        for (int k = 0; k < x->n_out; k++) {
            int pos = clv_engine_find_output(p->eng, clv_graph_output(x->g, k));
            if (pos >= 0)
                memcpy(f->out[k], f->edge_out[pos],
                       (size_t)clv_tensor_bytes(clv_graph_tensor(
                           x->g, clv_graph_output(x->g, k))));
        }
    return 0;
}

typedef struct rx_arg {
    edge_ctx *x;
    clv_net_conn *c;
} rx_arg;

static void *rx_main(void *arg)
{
    edge_ctx *x = ((rx_arg *)arg)->x;
    clv_net_conn *c = ((rx_arg *)arg)->c;
    free(arg);
    clv_net_msg m;
    clv_error err;
    clv_net_msg_init(&m);
    clv_error_clear(&err);
    for (;;) {
        int rc = clv_net_conn_wait(c, 200, &err);
        if (rc == 0) {
            /* a server that stopped answering counts as lost */
            pthread_mutex_lock(&x->mu);
            bool stale = false, up = x->conn_up && x->conn == c;
            uint64_t now = clv_net_now_ns();
            for (eframe *f = x->await; f; f = f->next)
                if (now - f->sent_ns > RESULT_TIMEOUT_NS)
                    stale = true;
            if (stale && up) {
                ELOG(x, "no RESULT for %.0f s: server considered lost",
                     (double)RESULT_TIMEOUT_NS / 1e9);
                lose_connection(x);
            }
            pthread_mutex_unlock(&x->mu);
            if (stale || !up)
                break;
            continue;
        }
        if (rc > 0)
            rc = clv_net_recv(c, &m, &err);
        if (rc) {
            pthread_mutex_lock(&x->mu);
            if (x->conn_up && x->conn == c && !x->quit) {
                ELOG(x, "lost the server: %s", clv_error_text(&err, rc));
                lose_connection(x);
            }
            pthread_mutex_unlock(&x->mu);
            break;
        }
        if (m.type == CLV_NET_RESULT) {
            pthread_mutex_lock(&x->mu);
            eframe **pp = &x->await, *f = NULL;
            while (*pp && (*pp)->id != m.result.frame_id)
                pp = &(*pp)->next;
            if (*pp) {
                f = *pp;
                *pp = f->next;
                f->next = NULL;
                while (f->sending)
                    pthread_cond_wait(&x->cv, &x->mu);
            }
            pthread_mutex_unlock(&x->mu);
            if (!f) {
                ELOG(x, "RESULT for frame %llu, which is not in flight",
                     (unsigned long long)m.result.frame_id);
                continue;
            }
            clv_edge_frame *r = f->rec;
            r->cloud_recv_ns = m.result.recv_ns;
            r->cloud_queue_ns = m.result.queue_ns;
            r->cloud_compute_ns = m.result.compute_ns;
            rc = take_result(x, f, &m.result, &err);
            if (rc) {
                ELOG(x, "frame %llu: %s; finishing it on the edge",
                     (unsigned long long)f->id, clv_error_text(&err, rc));
                pthread_mutex_lock(&x->mu);
                push_fallback(x, f);
                pthread_mutex_unlock(&x->mu);
                continue;
            }
            pthread_mutex_lock(&x->mu);
            clv_net_bw_add(x->bw, f->payload, m.result.recv_ns);
            pthread_mutex_unlock(&x->mu);
            r->where = CLV_EDGE_SPLIT;
            frame_finish(x, f, 0, NULL);
        } else if (m.type == CLV_NET_PROBE_ACK) {
            pthread_mutex_lock(&x->mu);
            clv_net_bw_add(x->bw, m.probe_ack.bytes, m.probe_ack.recv_ns);
            pthread_mutex_unlock(&x->mu);
        } else if (m.type == CLV_NET_PLAN_ACK) {
            if (m.plan_ack.status)
                ELOG(x, "the server refused plan %llu: %s",
                     (unsigned long long)m.plan_ack.version,
                     m.plan_ack.message ? m.plan_ack.message : "");
        } else if (m.type == CLV_NET_BYE || m.type == CLV_NET_ERROR) {
            pthread_mutex_lock(&x->mu);
            if (x->conn_up && x->conn == c && !x->quit) {
                if (m.type == CLV_NET_ERROR)
                    ELOG(x, "the server sent ERROR: %s",
                         m.error.text ? m.error.text : "");
                else
                    ELOG(x, "the server said BYE");
                lose_connection(x);
            }
            pthread_mutex_unlock(&x->mu);
            break;
        }
    }
    clv_net_msg_release(&m);
    return NULL;
}

/* ---- the connection (sender thread only) ---------------------------------- */

static void drop_conn(edge_ctx *x)
{
    if (!x->conn)
        return;
    pthread_mutex_lock(&x->mu);
    if (x->conn_up)
        lose_connection(x);
    pthread_mutex_unlock(&x->mu);
    clv_net_conn_shutdown(x->conn);
    if (x->rx_running)
        pthread_join(x->rx, NULL);
    x->rx_running = 0;
    clv_net_stats st;
    clv_net_conn_stats(x->conn, &st);
    x->rep->bytes_sent += st.bytes_sent;
    clv_net_conn_free(x->conn);
    x->conn = NULL;
}

/* Connects, shakes hands, paces, optionally probes, starts the receiver. */
/* server_times: asks the server for its per-node times on the fresh
 * connection c (before the receiver thread runs) and keeps them for
 * planning. A server without times, or with a count that does not match
 * the model, is logged and the given cloud times stay. 0, or an I/O or
 * protocol error (the connection is then unusable). */
static int request_times(edge_ctx *x, clv_net_conn *c, clv_error *err)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_TIMES_REQUEST;
    int rc = clv_net_send(c, &m, NULL, err);
    if (!rc)
        rc = clv_net_recv(c, &m, err);
    if (!rc && m.type != CLV_NET_TIMES)
        rc = clv_error_set(err, CLV_EFORMAT, "the server answered a "
                           "TIMES_REQUEST with %s",
                           clv_net_type_name(m.type));
    int n = clv_graph_n_nodes(x->g);
    if (rc) {
        /* the caller drops the connection */
    } else if (m.times.status) {
        ELOG(x, "the server has no times of its own (%s); planning with "
                "the cloud times given",
             m.times.message && *m.times.message
                 ? m.times.message
                 : clv_net_err_text(m.times.status));
    } else if (m.times.n != (uint32_t)n) {
        ELOG(x, "the server sent %u times for %d nodes; planning with the "
                "cloud times given",
             (unsigned)m.times.n, n);
    } else {
        double *t = malloc(((size_t)n + 1) * sizeof *t);
        if (!t) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        } else {
            double sum = 0;
            for (int i = 0; i < n; i++)
                sum += t[i] = m.times.ms[i];
            x->t_cloud_srv = t;
            x->t_cloud = t;
            x->rep->server_times = true;
            ELOG(x, "the server's own times: %.1f ms for the whole model "
                    "(%u runs)",
                 sum, (unsigned)m.times.runs);
        }
    }
    clv_net_msg_release(&m);
    return rc;
}

static int open_conn(edge_ctx *x, bool probe, double *probe_bps,
                     clv_error *err)
{
    clv_net_conn *c = NULL;
    int rc = clv_net_connect(x->o.server, x->o.connect_timeout_ms, &c, err);
    if (rc)
        return rc;
    clv_net_client_options co;
    clv_net_client_options_init(&co);
    memcpy(co.digest, x->digest, sizeof co.digest);
    co.name = x->o.name;
    co.secret = x->o.secret;
    clv_net_conn_set_timeout(c, x->o.connect_timeout_ms);
    rc = clv_net_handshake_client(c, &co, NULL, err);
    if (rc)
        goto fail;
    clv_net_conn_set_timeout(c, 15000);
    if (x->o.server_times && !x->t_cloud_srv &&
        (rc = request_times(x, c, err)))
        goto fail;
    if (x->pacer)
        clv_net_conn_set_pacer(c, x->pacer);
    if (probe) {
        clv_net_probe_options po;
        clv_net_probe_result pr;
        clv_net_probe_options_init(&po);
        po.target_ms = 100;
        po.repeats = 1;
        po.max_bytes = 8u << 20;
        rc = clv_net_probe_link(c, &po, &pr, err);
        if (rc) {
            ELOG(x, "probe failed: %s", clv_error_text(err, rc));
            rc = 0;
        } else {
            *probe_bps = pr.bps;
            if (!(x->o.rtt_ms > 0) && pr.rtt_ms > 0)
                x->rtt_ms = pr.rtt_ms; /* planned for from now on */
            ELOG(x, "probe: %.3g Mbit/s (receiver %.3g), rtt %.2f ms",
                 pr.bps / 1e6, pr.recv_bps / 1e6, pr.rtt_ms);
        }
    }
    rx_arg *a = malloc(sizeof *a);
    if (!a) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    a->x = x;
    a->c = c;
    pthread_mutex_lock(&x->mu);
    x->conn = c;
    x->conn_up = 1;
    x->conn_plan = 0;
    pthread_mutex_unlock(&x->mu);
    if (pthread_create(&x->rx, NULL, rx_main, a)) {
        free(a);
        pthread_mutex_lock(&x->mu);
        x->conn = NULL;
        x->conn_up = 0;
        pthread_mutex_unlock(&x->mu);
        rc = clv_error_set(err, CLV_ENOMEM, "cannot start a thread");
        goto fail;
    }
    x->rx_running = 1;
    return 0;
fail:
    clv_net_conn_free(c);
    return rc;
}

/*
 * The pacer (clv_net_pacer) lets a sender that was quiet send a burst of
 * up to 20 ms of the rate at once, and starts with a full bucket. A link
 * has no such credit: a frame sent after an idle moment would cross up to
 * 20 ms faster than bytes * 8 / rate (the planner's T_t), frames that run
 * one at a time would all be early, and a short pipelined run would be
 * credited the first bucket (lenet at 10 Mbit/s: 1434 fps measured against
 * 399 predicted). So before each paced send the sender takes, without
 * sending, the credit the bucket earned while the link was quiet (the
 * bucket is documented: 20 ms of the rate, 1500 to 262144 bytes); the
 * pacer grants it at once, so nothing waits, and the message then crosses
 * at exactly the link's rate. Sender thread only.
 */
static void drain_idle_credit(edge_ctx *x)
{
    if (!x->pacer)
        return;
    double r = clv_net_pacer_rate(x->pacer);
    double b = r / 8 * PACER_BURST_S;
    b = b < PACER_BURST_MIN ? PACER_BURST_MIN
                            : b > PACER_BURST_MAX ? PACER_BURST_MAX : b;
    uint64_t now = clv_net_now_ns();
    double credit = b;
    if (x->link_free_ns && now > x->link_free_ns) {
        credit = (double)(now - x->link_free_ns) * 1e-9 * r / 8;
        if (credit > b)
            credit = b;
    } else if (x->link_free_ns) {
        credit = 0;
    }
    uint64_t left = (uint64_t)credit;
    while (left) {
        uint64_t g = clv_net_pacer_acquire(x->pacer, left);
        left -= g < left ? g : left;
    }
}

static void link_used(edge_ctx *x)
{
    x->link_free_ns = clv_net_now_ns();
}

static int send_plan(edge_ctx *x, eplan *p, clv_error *err)
{
    uint32_t *nodes = malloc(((size_t)p->n_cloud + 1) * sizeof *nodes);
    if (!nodes)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < p->n_cloud; i++)
        nodes[i] = (uint32_t)p->cloud_nodes[i];
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_PLAN;
    m.plan.version = p->version;
    m.plan.n_nodes = (uint32_t)p->n_cloud;
    m.plan.nodes = nodes;
    m.plan.n_inputs = (uint32_t)p->n_send;
    m.plan.inputs = p->send_ids;
    m.plan.n_outputs = (uint32_t)p->n_ret;
    m.plan.outputs = p->ret_ids;
    drain_idle_credit(x);
    int rc = clv_net_send(x->conn, &m, NULL, err);
    link_used(x);
    free(nodes);
    return rc;
}

static int send_frame(edge_ctx *x, eframe *f, clv_error *err)
{
    eplan *p = f->plan;
    clv_net_tensor *ts = calloc((size_t)p->n_send + 1, sizeof *ts);
    int rc = 0;
    if (!ts)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < p->n_send && !rc; i++) {
        int t = (int)p->send_ids[i];
        const void *data = NULL;
        int pos = p->eng ? clv_engine_find_output(p->eng, t) : -1;
        if (pos >= 0)
            data = f->edge_out[pos];
        else
            for (int k = 0; k < x->n_in; k++)
                if (clv_graph_input(x->g, k) == t)
                    data = f->in[k];
        if (!data)
            rc = clv_error_set(err, CLV_EINVAL, "no data for tensor %d", t);
        else
            rc = clv_net_tensor_from_graph(x->g, t, data, &ts[i], err);
    }
    if (rc) {
        /* not sent and not awaited: the edge finishes it */
        ELOG(x, "frame %llu: %s", (unsigned long long)f->id,
             clv_error_text(err, rc));
        pthread_mutex_lock(&x->mu);
        push_fallback(x, f);
        pthread_mutex_unlock(&x->mu);
        free(ts);
        return 0;
    }
    if (!rc) {
        clv_net_msg m;
        clv_net_send_info info;
        clv_net_msg_init(&m);
        m.type = CLV_NET_FRAME;
        m.frame.plan_version = p->version;
        m.frame.frame_id = f->id;
        m.frame.n_tensors = (uint32_t)p->n_send;
        m.frame.tensors = ts;
        pthread_mutex_lock(&x->mu);
        f->next = x->await; /* before the send: the RESULT may be quick */
        x->await = f;
        f->sent_ns = clv_net_now_ns();
        uint64_t f_sent = f->sent_ns; /* f may be finished once sent */
        f->rec->t_send_start = rel_ns(x);
        f->sending = 1; /* whoever takes f waits until the send is over */
        pthread_mutex_unlock(&x->mu);
        info.bytes = 0;
        drain_idle_credit(x);
        rc = clv_net_send(x->conn, &m, &info, err);
        link_used(x);
        pthread_mutex_lock(&x->mu);
        f->rec->t_send_end = rel_ns(x);
        f->rec->bytes = info.bytes;
        f->rec->n_cut = p->n_send;
        f->payload = info.bytes > CLV_NET_HEADER_SIZE
                         ? info.bytes - CLV_NET_HEADER_SIZE
                         : 0;
        f->sending = 0;
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->mu);
        /* The kernel takes the whole message at once; the link stays
         * busy until its bytes have crossed at the estimated rate. */
        pthread_mutex_lock(&x->mu);
        double est = clv_net_bw_estimate(x->bw);
        pthread_mutex_unlock(&x->mu);
        uint64_t now = clv_net_now_ns(), busy = now;
        if (est > 0)
            busy = f_sent + (uint64_t)((double)info.bytes * 8 / est * 1e9);
        x->last_send_ns = busy > now ? busy : now;
    }
    free(ts);
    return rc;
}

static int send_probe(edge_ctx *x, clv_error *err)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_PROBE;
    m.probe.id = ++x->probe_id;
    /* large against the pacer's burst (20 ms of the rate), so that the
     * burst does not bias the sample much */
    pthread_mutex_lock(&x->mu);
    double est = clv_net_bw_estimate(x->bw);
    pthread_mutex_unlock(&x->mu);
    uint64_t fill = (uint64_t)(est * 0.25 / 8);
    m.probe.fill = fill > PROBE_BYTES ? fill : PROBE_BYTES;
    if (m.probe.fill > ((uint64_t)4 << 20))
        m.probe.fill = (uint64_t)4 << 20;
    x->last_probe_ns = clv_net_now_ns();
    drain_idle_credit(x);
    int rc = clv_net_send(x->conn, &m, NULL, err);
    link_used(x);
    return rc;
}

static void *tx_main(void *arg)
{
    edge_ctx *x = arg;
    clv_error err;
    int backoff = x->o.reconnect_ms > 0 ? x->o.reconnect_ms : 250;
    uint64_t next_try = clv_net_now_ns() + (uint64_t)backoff * 1000000ull;
    clv_error_clear(&err);
    pthread_mutex_lock(&x->mu);
    for (;;) {
        if (x->quit)
            break;
        /* the receiver lost the connection: tidy up, plan a reconnect */
        if (x->conn && !x->conn_up) {
            pthread_mutex_unlock(&x->mu);
            drop_conn(x);
            next_try = clv_net_now_ns() + (uint64_t)backoff * 1000000ull;
            pthread_mutex_lock(&x->mu);
            continue;
        }
        eframe *f = x->sendq_head;
        if (f && (!x->conn || !x->conn_up)) {
            push_fallback(x, fq_pop(&x->sendq_head, &x->sendq_tail));
            continue;
        }
        if (!x->conn && x->o.server && !x->computing_done &&
            clv_net_now_ns() >= next_try) {
            pthread_mutex_unlock(&x->mu);
            int rc = open_conn(x, false, NULL, &err);
            if (rc) {
                ELOG(x, "reconnect failed (next try in %d ms): %s",
                     backoff * 2 > 8 * x->o.reconnect_ms
                         ? 8 * x->o.reconnect_ms
                         : backoff * 2,
                     clv_error_text(&err, rc));
                if (backoff < 8 * x->o.reconnect_ms)
                    backoff *= 2;
                next_try = clv_net_now_ns() + (uint64_t)backoff * 1000000ull;
            } else {
                ELOG(x, "reconnected to %s", x->o.server);
                x->rep->reconnects++;
                backoff = x->o.reconnect_ms > 0 ? x->o.reconnect_ms : 250;
            }
            pthread_mutex_lock(&x->mu);
            continue;
        }
        if (f) {
            fq_pop(&x->sendq_head, &x->sendq_tail); /* f, the head */
            bool need_plan = f->plan->version > x->conn_plan;
            pthread_mutex_unlock(&x->mu);
            int rc = 0;
            if (need_plan) {
                rc = send_plan(x, f->plan, &err);
                if (!rc)
                    x->conn_plan = f->plan->version;
            }
            if (!rc)
                rc = send_frame(x, f, &err);
            else {
                pthread_mutex_lock(&x->mu);
                push_fallback(x, f);
                pthread_mutex_unlock(&x->mu);
            }
            pthread_mutex_lock(&x->mu);
            if (rc && x->conn_up) {
                ELOG(x, "send failed: %s", clv_error_text(&err, rc));
                lose_connection(x); /* also moves f, now awaited */
            }
            pthread_cond_broadcast(&x->cv);
            continue;
        }
        /* idle: keep the estimate alive while frames carry little */
        uint64_t now = clv_net_now_ns();
        uint64_t iv = (uint64_t)(x->o.probe_interval_ms > 0
                                     ? x->o.probe_interval_ms
                                     : 500) * 1000000ull;
        bool small = !x->cur || x->cur->n_cloud == 0 ||
                     x->cur->pred.cut_bytes < 32768;
        if (x->conn && x->conn_up && x->o.adapt && small &&
            now > x->last_send_ns && now - x->last_send_ns > iv &&
            now - x->last_probe_ns > iv && !x->computing_done) {
            pthread_mutex_unlock(&x->mu);
            int rc = send_probe(x, &err);
            pthread_mutex_lock(&x->mu);
            if (rc && x->conn_up) {
                ELOG(x, "probe send failed: %s", clv_error_text(&err, rc));
                lose_connection(x);
            }
            continue;
        }
        cv_wait_ms(x, 50);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

/* ---- the edge thread ------------------------------------------------------- */

static int random_input(edge_ctx *x, uint64_t frame, void *const *bufs)
{
    clv_rng rng;
    clv_rng_seed(&rng, x->o.seed * 1000003ull + frame);
    for (int i = 0; i < x->n_in; i++) {
        const clv_tensor *t = clv_graph_tensor(x->g, clv_graph_input(x->g, i));
        if (t->dtype == CLV_DT_FLOAT)
            clv_rng_fill_uniform(&rng, bufs[i], (size_t)clv_tensor_numel(t),
                                 0.0f, 1.0f);
        else
            memset(bufs[i], 0, (size_t)clv_tensor_bytes(t));
    }
    return 0;
}

/* Drains the fallback queue on the edge. */
static void drain_fallback(edge_ctx *x)
{
    for (;;) {
        pthread_mutex_lock(&x->mu);
        eframe *f = fq_pop(&x->fallq_head, &x->fallq_tail);
        if (f) {
            while (f->sending)
                pthread_cond_wait(&x->cv, &x->mu);
        }
        pthread_mutex_unlock(&x->mu);
        if (!f)
            return;
        finish_fallback(x, f);
    }
}

/* Computes frame k's edge part and hands it on. */
static int edge_frame(edge_ctx *x, uint64_t k, clv_error *err)
{
    eframe *f = calloc(1, sizeof *f);
    int rc;
    if (!f)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    f->id = k;
    f->rec = &x->rep->frames[k];
    f->rec->id = k;
    f->in = calloc((size_t)x->n_in + 1, sizeof *f->in);
    if (!f->in) {
        free(f);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    for (int i = 0; i < x->n_in; i++) {
        uint64_t nb =
            clv_tensor_bytes(clv_graph_tensor(x->g, clv_graph_input(x->g, i)));
        f->in[i] = malloc(nb ? nb : 1);
        if (!f->in[i]) {
            frame_free(x, f);
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        }
    }
    pthread_mutex_lock(&x->mu);
    f->plan = x->cur;
    f->plan->refs++;
    bool up = x->conn_up;
    x->in_system++;
    pthread_mutex_unlock(&x->mu);
    eplan *p = f->plan;
    f->rec->plan_version = p->version;
    f->rec->t_start = rel_ns(x);
    clv_error ferr;
    clv_error_clear(&ferr);
    rc = x->o.input ? x->o.input(x->o.input_ctx, k, f->in, &ferr)
                    : random_input(x, k, f->in);
    if (rc) {
        frame_finish(x, f, rc, clv_error_text(&ferr, rc));
        return 0;
    }
    if (p->n_cloud == 0 || !up) {
        f->rec->where = p->n_cloud == 0 ? CLV_EDGE_LOCAL : CLV_EDGE_FALLBACK;
        rc = run_local(x, f, &ferr);
        f->rec->t_edge_end = rel_ns(x);
        frame_finish(x, f, rc, rc ? clv_error_text(&ferr, rc) : NULL);
        return 0;
    }
    if (p->eng) {
        int no = clv_engine_n_outputs(p->eng);
        f->edge_out = calloc((size_t)no + 1, sizeof *f->edge_out);
        rc = f->edge_out ? 0 : CLV_ENOMEM;
        if (f->edge_out)
            f->n_edge_out = no;
        for (int i = 0; i < no && !rc; i++) {
            uint64_t nb = clv_tensor_bytes(
                clv_graph_tensor(x->g, clv_engine_output(p->eng, i)));
            f->edge_out[i] = malloc(nb ? nb : 1);
            if (!f->edge_out[i])
                rc = CLV_ENOMEM;
        }
        if (rc) {
            frame_finish(x, f, rc, "out of memory");
            return 0;
        }
        /* the edge's inputs are graph inputs, in the engine's order */
        const void *ein[16];
        int ni = clv_engine_n_inputs(p->eng);
        for (int i = 0; i < ni && i < 16; i++) {
            ein[i] = NULL;
            for (int k2 = 0; k2 < x->n_in; k2++)
                if (clv_graph_input(x->g, k2) == clv_engine_input(p->eng, i))
                    ein[i] = f->in[k2];
        }
        rt_throttle_begin(&x->th);
        rc = ni > 16 ? clv_error_set(&ferr, CLV_ELIMIT, "too many inputs")
                     : clv_engine_run(p->eng, ein, f->edge_out, &ferr);
        rt_throttle_end(&x->th);
        if (rc) {
            f->rec->t_edge_end = rel_ns(x);
            frame_finish(x, f, rc, clv_error_text(&ferr, rc));
            return 0;
        }
    }
    f->rec->t_edge_end = rel_ns(x);
    pthread_mutex_lock(&x->mu);
    fq_push(&x->sendq_head, &x->sendq_tail, f);
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    return 0;
}

/* Waits until fewer than `limit` frames are in the system, finishing
 * fallback frames meanwhile. */
static void wait_in_system(edge_ctx *x, int limit)
{
    for (;;) {
        drain_fallback(x);
        pthread_mutex_lock(&x->mu);
        bool ok = x->in_system < limit;
        bool work = x->fallq_head != NULL;
        if (!ok && !work)
            cv_wait_ms(x, 100);
        pthread_mutex_unlock(&x->mu);
        if (ok)
            return;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The summary. Latency: over the sequential frames when there are any
 * (without frame 0 when there are at least 3: its edge part is the edge
 * engine's first run and its cloud part the server engine's, both on cold
 * caches), else over all frames. Throughput: the steady rate of the
 * pipelined frames, (n - 1) / (last done - first done) -- the completions'
 * spacing, which leaves out the time the first frame takes to fill the
 * pipeline (a short run would otherwise report much less than 1 / max
 * stage); with fewer than 3 pipelined frames, n / (last done - first
 * start). */
static void summarise(edge_ctx *x)
{
    clv_edge_report *r = x->rep;
    double *lat = malloc(((size_t)r->n_frames + 1) * sizeof *lat);
    int n = 0, seq = x->o.sequential;
    int skip = seq >= 3 ? 1 : 0;
    uint64_t first = UINT64_MAX, last = 0, first_done = UINT64_MAX;
    int piped = 0;
    r->n_ok = r->n_failed = r->n_fallback = 0;
    for (int i = 0; i < r->n_frames; i++) {
        clv_edge_frame *f = &r->frames[i];
        if (f->status) {
            r->n_failed++;
            continue;
        }
        r->n_ok++;
        if (f->where == CLV_EDGE_FALLBACK)
            r->n_fallback++;
        if (lat && (seq <= 0 || (i < seq && i >= skip)))
            lat[n++] = f->latency_ms;
        if (i >= seq || seq >= r->n_frames) {
            if (f->t_start < first)
                first = f->t_start;
            if (f->t_done > last)
                last = f->t_done;
            if (f->t_done < first_done)
                first_done = f->t_done;
            piped++;
        }
    }
    if (lat && n) {
        qsort(lat, (size_t)n, sizeof *lat, cmp_double);
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += lat[i];
        r->mean_ms = sum / n;
        r->p50_ms = n % 2 ? lat[n / 2] : (lat[n / 2 - 1] + lat[n / 2]) / 2;
        int k95 = (int)ceil(0.95 * n) - 1;
        r->p95_ms = lat[k95 < 0 ? 0 : k95];
        r->max_ms = lat[n - 1];
    }
    if (piped >= 3 && last > first_done)
        r->fps = (piped - 1) / ((double)(last - first_done) / 1e9);
    else if (piped > 0 && last > first)
        r->fps = piped / ((double)(last - first) / 1e9);
    free(lat);
}

int clv_edge_run(const clv_graph *g, const clv_edge_options *o,
                 clv_edge_report *out, clv_error *err)
{
    edge_ctx x;
    int rc = 0;
    pthread_t tx;
    int tx_running = 0;
    clv_edge_options d;

    if (!o) {
        clv_edge_options_init(&d);
        o = &d;
    }
    clv_edge_report_release(out);
    if (!g || !clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL, "the edge needs a finalized graph");
    if (o->frames < 0 || o->fps < 0 || o->threads < 0 ||
        o->threads > CLV_ENGINE_MAX_THREADS || o->adapt_threshold < 0 ||
        o->slowdown < 0 || o->slowdown > 1 || o->link_bps < 0)
        return clv_error_set(err, CLV_EINVAL, "edge options out of range");
    if (o->server && o->planner != CLV_PLAN_EDGE &&
        (!o->t_edge_ms || !o->t_cloud_ms))
        return clv_error_set(err, CLV_EINVAL,
                             "the edge needs per-node edge and cloud times "
                             "to plan");
    memset(&x, 0, sizeof x);
    x.g = g;
    x.o = *o;
    x.t_cloud = o->t_cloud_ms;
    x.rtt_ms = o->rtt_ms > 0 ? o->rtt_ms : 0;
    x.rep = out;
    x.n_in = clv_graph_n_inputs(g);
    x.n_out = clv_graph_n_outputs(g);
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    rt_throttle_init(&x.th, o->slowdown, o->threads);
    /* edge-only never needs the server; cloud-only never re-plans */
    if (x.o.planner == CLV_PLAN_EDGE)
        x.o.server = NULL;
    if (x.o.planner == CLV_PLAN_CLOUD)
        x.o.adapt = false;

    out->n_frames = o->frames;
    out->frames = calloc((size_t)o->frames + 1, sizeof *out->frames);
    out->n_outputs = x.n_out;
    if (o->keep_outputs)
        out->outputs = calloc((size_t)o->frames * (size_t)x.n_out + 1,
                              sizeof *out->outputs);
    if (!out->frames || (o->keep_outputs && !out->outputs)) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    clv_engine_options eo = {0};
    eo.threads = o->threads;
    rc = clv_engine_create(g, NULL, 0, &eo, &x.whole, err);
    if (rc)
        goto done;
    rc = clv_net_bw_create(NULL, &x.bw, err);
    if (rc)
        goto done;
    rc = clv_net_graph_digest(g, x.digest);
    if (rc)
        goto done;
    if (o->schedule || o->link_bps > 0) {
        rc = clv_net_pacer_create(o->link_bps > 0 ? o->link_bps : 1e9, 0,
                                  NULL, &x.pacer, err);
        if (!rc && o->schedule)
            rc = clv_net_pacer_set_schedule(x.pacer, o->schedule, err);
        if (rc)
            goto done;
    }

    /* connect, probe, first plan */
    x.t0 = clv_net_now_ns();
    double probe_bps = 0;
    if (x.o.server) {
        clv_error cerr;
        clv_error_clear(&cerr);
        int crc = open_conn(&x, o->plan_bps <= 0 && x.o.adapt, &probe_bps,
                            &cerr);
        if (crc)
            ELOG(&x, "cannot reach the server (%s); running on the edge "
                     "until it answers",
                 clv_error_text(&cerr, crc));
    }
    out->probe_bps = probe_bps;
    double bps = o->plan_bps > 0 ? o->plan_bps : probe_bps;
    if (!(bps > 0) && o->schedule)
        bps = clv_net_schedule_rate_at(o->schedule, 0);
    if (!(bps > 0))
        bps = o->link_bps > 0 ? o->link_bps : 18.88e6;
    rc = replan(&x, bps, true, err);
    if (rc)
        goto done;
    out->plan_bps = bps;
    out->rtt_ms = x.rtt_ms;
    if (x.cur->pred.n_nodes) {
        clv_plan_release(&out->plan);
        out->plan = x.cur->pred;
        out->plan.on_edge = malloc((size_t)x.cur->pred.n_nodes + 1);
        out->plan.cut = malloc(((size_t)x.cur->pred.n_nodes + 1) * sizeof(int));
        if (!out->plan.on_edge || !out->plan.cut) {
            free(out->plan.on_edge);
            free(out->plan.cut);
            clv_plan_init(&out->plan);
        } else {
            memcpy(out->plan.on_edge, x.cur->pred.on_edge,
                   (size_t)x.cur->pred.n_nodes);
            memcpy(out->plan.cut, x.cur->pred.cut,
                   (size_t)x.cur->pred.n_cut * sizeof(int));
        }
    }
    clv_net_bw_seed(x.bw, bps);
    if (x.pacer)
        clv_net_pacer_restart(x.pacer);
    x.link_free_ns = 0; /* the first send takes the full bucket's credit */
    x.t0 = clv_net_now_ns();
    x.last_send_ns = x.last_probe_ns = clv_net_now_ns();
    if (x.o.server) {
        if (pthread_create(&tx, NULL, tx_main, &x)) {
            rc = clv_error_set(err, CLV_ENOMEM, "cannot start a thread");
            goto done;
        }
        tx_running = 1;
    }

    /* the edge stage */
    for (int k = 0; k < o->frames; k++) {
        if (k > 0 && k <= o->sequential)
            wait_in_system(&x, 1);
        else
            wait_in_system(&x, EDGE_WINDOW);
        if (o->fps > 0) {
            uint64_t due = (uint64_t)((double)k * 1e9 / o->fps);
            uint64_t now = rel_ns(&x);
            if (due > now)
                sleep_ns(due - now);
        }
        if (x.o.adapt && x.o.server && x.o.planner != CLV_PLAN_EDGE &&
            x.o.planner != CLV_PLAN_CLOUD) {
            pthread_mutex_lock(&x.mu);
            double est = clv_net_bw_estimate(x.bw);
            double ref = x.cur->bps;
            bool up = x.conn_up;
            pthread_mutex_unlock(&x.mu);
            if (up && est > 0 && fabs(est / ref - 1) > x.o.adapt_threshold) {
                clv_error perr;
                clv_error_clear(&perr);
                int prc = replan(&x, est, false, &perr);
                if (prc)
                    ELOG(&x, "re-planning failed: %s",
                         clv_error_text(&perr, prc));
            }
        }
        rc = edge_frame(&x, (uint64_t)k, err);
        if (rc)
            break;
    }
    /* every frame ends: with its result or an error */
    for (;;) {
        drain_fallback(&x);
        pthread_mutex_lock(&x.mu);
        bool all = x.in_system == 0;
        if (!all && !x.fallq_head)
            cv_wait_ms(&x, 100);
        if (all)
            x.computing_done = 1;
        pthread_mutex_unlock(&x.mu);
        if (all)
            break;
    }

done:
    if (tx_running) {
        pthread_mutex_lock(&x.mu);
        x.quit = 1;
        pthread_cond_broadcast(&x.cv);
        pthread_mutex_unlock(&x.mu);
        pthread_join(tx, NULL);
    }
    if (x.conn) {
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_BYE;
        pthread_mutex_lock(&x.mu);
        x.quit = 1;
        bool up = x.conn_up;
        pthread_mutex_unlock(&x.mu);
        if (up)
            clv_net_send(x.conn, &m, NULL, NULL);
        drop_conn(&x);
    }
    /* frames that never got going (an error stopped the loop) */
    drain_fallback(&x);
    if (out->frames) {
        summarise(&x);
        out->wall_s = (double)rel_ns(&x) / 1e9;
    }
    out->bw_bps = x.bw ? clv_net_bw_estimate(x.bw) : 0;
    while (x.plans) {
        eplan *p = x.plans;
        x.plans = p->next;
        eplan_free(p);
    }
    clv_engine_free(x.whole);
    free(x.t_cloud_srv);
    clv_net_bw_free(x.bw);
    clv_net_pacer_free(x.pacer);
    pthread_mutex_destroy(&x.mu);
    pthread_cond_destroy(&x.cv);
    return rc;
}
