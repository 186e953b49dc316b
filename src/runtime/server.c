/* The cloud server: many edges, one receiver thread per connection, a
 * worker pool running the cloud parts, one engine per (connection, plan). */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/internal.h"
#include "util/util.h"

typedef struct srv_plan {
    uint64_t version;
    clv_partition part;  /* what the PLAN named */
    clv_engine *eng;
    int n_in;            /* engine inputs, = the PLAN's inputs */
    int n_out;           /* engine outputs */
    void **out_bufs;     /* one per engine output */
    void **in_bufs;      /* decoded inputs, one per engine input, made when
                            a FRAME first carries an encoded tensor (the
                            plan is busy while a worker decodes into them) */
    uint32_t n_ret;      /* tensors returned: the PLAN's outputs */
    uint64_t mem;        /* bytes counted in the budget for it */
    int *ret_pos;        /* their positions among the engine outputs */
    int busy;            /* a worker runs it (engines are single-threaded) */
    int inflight;        /* frames queued or running with it */
    struct srv_plan *next;
} srv_plan;

typedef struct srv_conn {
    clv_server *srv;
    clv_net_conn *c;
    uint64_t id;
    pthread_t th;
    pthread_mutex_t send_mu;
    srv_plan *plans;     /* most recently used first; under srv->mu */
    int inflight;        /* under srv->mu */
    int refs;            /* under srv->mu: the receiver's + one per job */
    int rx_done, joined, handshaken;
    atomic_int dead;     /* no more sends */
    char peer[96];
    char name[128];
    struct srv_conn *next;
} srv_conn;

typedef struct srv_job {
    srv_conn *conn;
    srv_plan *plan;
    clv_net_msg msg;
    uint64_t t_queued;
    uint64_t recv_ns;
    uint64_t held_bytes; /* its payload, counted in the budget */
    struct srv_job *next;
} srv_job;

struct clv_server {
    const clv_graph *g;
    clv_server_options o;
    clv_net_listener *lis;
    uint8_t digest[CLV_NET_DIGEST_SIZE];
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job may be runnable, or quitting */
    pthread_cond_t done_cv; /* a frame finished (in-flight counts fell) */
    srv_job *q_head, *q_tail;
    int n_held;         /* frames admitted, queued or running, all edges
                           (admit(), frame_release()); under mu */
    uint64_t mem_used;  /* the budget's count, without the shared weights;
                           under mu */
    clv_engine_weights *weights; /* packed weights shared by all engines */
    srv_conn *conns;
    int n_handshakes; /* in the handshake now */
    atomic_int stop;
    int started, joined, workers_quit;
    pthread_t accept_th;
    pthread_t *workers;
    int n_workers;
    uint64_t next_session;
    clv_server_stats st;
    double *node_ms; /* the server's own times (o.node_ms copied), or NULL */
};

/* The largest payload a connection may send before HELLO_ACK: a HELLO
 * with a full-length name, an AUTH, an ERROR. */
#define HANDSHAKE_MAX_PAYLOAD (16u * 1024u)

#define LOG(s, ...) clv_rt__log((s)->o.log, (s)->o.log_ctx, __VA_ARGS__)

void clv_server_options_init(clv_server_options *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "*:7878";
    o->threads = 2;
    o->engine_threads = 1;
    o->max_conns = 64;
    o->max_handshakes = 16;
    o->idle_ms = 120000;
    o->min_rate = 8192;
    o->max_inflight = 4;
    o->max_plans = 4;
    o->io_timeout_ms = 10000;
    o->handshake_ms = 5000;
    o->max_payload = (uint64_t)64 << 20;
}

/* ---- the memory budget ------------------------------------------------------ */

/* What the budget counts now. Under s->mu. */
static uint64_t mem_now(clv_server *s)
{
    return s->mem_used + clv_engine_weights_bytes(s->weights);
}

/* Counts `bytes` against the budget if they fit; false if not. Under
 * s->mu. */
/* Counts bytes already allocated, whether they fit or not. Under s->mu. */
static void mem_add(clv_server *s, uint64_t bytes)
{
    s->mem_used += bytes;
    uint64_t now = mem_now(s);
    if (now > s->st.mem_peak)
        s->st.mem_peak = now;
}

/* Counts `bytes` against the budget if they fit; false if not. Under
 * s->mu. */
static bool mem_take(clv_server *s, uint64_t bytes)
{
    if (mem_now(s) + bytes > s->st.max_memory)
        return false;
    mem_add(s, bytes);
    return true;
}

static void mem_give(clv_server *s, uint64_t bytes)
{
    s->mem_used -= bytes < s->mem_used ? bytes : s->mem_used;
}

/* The admit hook of a connection past the handshake (see
 * clv_net_conn_set_admit): a FRAME is read only when the frames held
 * (admitted, queued or running, all edges) are fewer than max_queue and
 * its payload fits in the budget; both are then held for it until
 * frame_release(). Other messages are small or bounded by the limits. */
static int admit(void *ctx, clv_net_type type, uint64_t payload_len)
{
    srv_conn *c = ctx;
    clv_server *s = c->srv;
    if (type != CLV_NET_FRAME)
        return 0;
    pthread_mutex_lock(&s->mu);
    bool ok = s->n_held < s->o.max_queue && mem_take(s, payload_len);
    if (ok)
        s->n_held++;
    pthread_mutex_unlock(&s->mu);
    return ok ? 0 : 1;
}

/* Gives back what admit() held for a frame. Under s->mu. */
static void frame_release(clv_server *s, uint64_t payload_len)
{
    s->n_held--;
    mem_give(s, payload_len);
}

/* A bound on what an engine of these cloud nodes may allocate before it
 * exists: every tensor they make (the arena is at most that) and every
 * constant they read (packed weights are about their size). */
static uint64_t plan_bound(const clv_graph *g, const clv_net_plan *np)
{
    uint64_t b = 0;
    int nn = clv_graph_n_nodes(g);
    for (uint32_t i = 0; i < np->n_nodes; i++) {
        if (np->nodes[i] >= (uint32_t)nn)
            continue;
        const clv_node *n = clv_graph_node(g, (int)np->nodes[i]);
        for (int k = 0; k < n->n_outputs; k++)
            b += clv_tensor_bytes(clv_graph_tensor(g, n->outputs[k]));
        for (int k = 0; k < n->n_inputs; k++) {
            const clv_tensor *t = n->inputs[k] >= 0
                                      ? clv_graph_tensor(g, n->inputs[k])
                                      : NULL;
            if (t && (t->flags & CLV_TENSOR_CONST))
                b += clv_tensor_bytes(t) + (64u << 10);
        }
    }
    return b;
}

/* ---- plans ----------------------------------------------------------------- */

static void plan_free(srv_plan *p)
{
    if (!p)
        return;
    clv_engine_free(p->eng);
    clv_partition_release(&p->part);
    /* (its bytes leave the budget in the caller, under s->mu) */
    if (p->out_bufs)
        for (int i = 0; i < p->n_out; i++)
            free(p->out_bufs[i]);
    free(p->out_bufs);
    if (p->in_bufs)
        for (int i = 0; i < p->n_in; i++)
            free(p->in_bufs[i]);
    free(p->in_bufs);
    free(p->ret_pos);
    free(p);
}

/* Makes the engine of a received PLAN: its partition (made and checked by
 * clv_net_plan_partition: a valid cloud part whose inputs and outputs are
 * the PLAN's) and the engine of the cloud part. */
static int plan_make(clv_server *s, const clv_net_plan *np, srv_plan **out,
                     clv_error *err)
{
    const clv_graph *g = s->g;
    srv_plan *p = calloc(1, sizeof *p);
    int rc;
    *out = NULL;
    if (!p)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    clv_partition_init(&p->part);
    p->version = np->version;
    rc = clv_net_plan_partition(g, np, &p->part, err);
    if (rc)
        goto fail;
    clv_engine_options eo = {0};
    eo.threads = s->o.engine_threads;
    eo.shared = s->weights;
    rc = clv_engine_create(g, p->part.cloud_nodes, p->part.n_cloud, &eo,
                           &p->eng, err);
    if (rc)
        goto fail;
    p->n_in = clv_engine_n_inputs(p->eng);
    p->n_out = clv_engine_n_outputs(p->eng);
    p->n_ret = np->n_outputs;
    p->ret_pos = calloc(np->n_outputs + 1, sizeof *p->ret_pos);
    p->out_bufs = calloc((size_t)p->n_out + 1, sizeof *p->out_bufs);
    if (!p->ret_pos || !p->out_bufs) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    /* the RESULT returns the PLAN's outputs in the PLAN's order */
    for (uint32_t i = 0; i < np->n_outputs; i++)
        p->ret_pos[i] = clv_engine_find_output(p->eng, (int)np->outputs[i]);
    p->mem = clv_engine_own_bytes(p->eng); /* + decode buffers when made */
    for (int i = 0; i < p->n_out; i++) {
        const clv_tensor *t =
            clv_graph_tensor(g, clv_engine_output(p->eng, i));
        uint64_t nb = clv_tensor_bytes(t);
        p->mem += nb;
        p->out_bufs[i] = malloc(nb ? nb : 1);
        if (!p->out_bufs[i]) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
    }
    *out = p;
    return 0;
fail:
    plan_free(p);
    return rc;
}

/* Frees the idle plans of `c` beyond its max_plans most recently used
 * (c->plans is in that order); busy ones stay until their frames are
 * done. The edge tracks the same order (docs/protocol.md). Under s->mu. */
static void plans_gc(clv_server *s, srv_conn *c)
{
    srv_plan **pp = &c->plans;
    int kept = 0;
    while (*pp) {
        srv_plan *p = *pp;
        bool idle = !p->busy && p->inflight == 0;
        if (idle && kept >= s->o.max_plans) {
            *pp = p->next;
            mem_give(s, p->mem);
            plan_free(p);
            continue;
        }
        kept++;
        pp = &p->next;
    }
}

/* The plan of `c` with `version`, moved to the front (most recently
 * used), or NULL. Under s->mu. */
static srv_plan *plan_use(srv_conn *c, uint64_t version)
{
    for (srv_plan **pp = &c->plans; *pp; pp = &(*pp)->next)
        if ((*pp)->version == version) {
            srv_plan *p = *pp;
            *pp = p->next;
            p->next = c->plans;
            c->plans = p;
            return p;
        }
    return NULL;
}

/* ---- connections ----------------------------------------------------------- */

/* Drops a reference; returns true when the caller must free `c` (after
 * releasing s->mu). Under s->mu. */
static bool conn_unref(clv_server *s, srv_conn *c)
{
    if (--c->refs > 0)
        return false;
    srv_conn **pp = &s->conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    if (s->st.conns_open > 0 && c->handshaken)
        s->st.conns_open--;
    return true;
}

/* Says BYE (if the connection is still good) and frees it. No locks held. */
static void conn_free(clv_server *s, srv_conn *c)
{
    if (!atomic_load(&c->dead)) {
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_BYE;
        clv_net_conn_set_timeout(c->c, 1000);
        clv_net_send(c->c, &m, NULL, NULL);
    }
    while (c->plans) {
        srv_plan *p = c->plans;
        c->plans = p->next;
        pthread_mutex_lock(&s->mu);
        mem_give(s, p->mem);
        pthread_mutex_unlock(&s->mu);
        plan_free(p);
    }
    clv_net_conn_free(c->c);
    pthread_mutex_destroy(&c->send_mu);
    free(c);
}

/* Sends `m` on c under its send mutex; on failure marks it dead and wakes
 * its receiver. */
static int conn_send(srv_conn *c, const clv_net_msg *m, clv_error *err)
{
    int rc = CLV_ECLOSED;
    pthread_mutex_lock(&c->send_mu);
    if (!atomic_load(&c->dead)) {
        rc = clv_net_send(c->c, m, NULL, err);
        if (rc) {
            atomic_store(&c->dead, 1);
            clv_net_conn_shutdown(c->c);
        }
    }
    pthread_mutex_unlock(&c->send_mu);
    return rc;
}

/* Sends an ERROR and marks the connection finished. */
static void conn_refuse(srv_conn *c, int code, const char *text)
{
    pthread_mutex_lock(&c->send_mu);
    if (!atomic_load(&c->dead))
        clv_net_send_error(c->c, code, "%s", text);
    atomic_store(&c->dead, 1);
    pthread_mutex_unlock(&c->send_mu);
}

static int send_result_error(srv_conn *c, uint64_t frame, uint64_t version,
                             int code, const char *text, uint64_t recv_ns)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_RESULT;
    m.result.frame_id = frame;
    m.result.plan_version = version;
    m.result.status = code;
    m.result.message = text;
    m.result.recv_ns = recv_ns;
    return conn_send(c, &m, NULL);
}

/* A PLAN: a new version gets its engine; a version the connection holds
 * again (the edge could not tell that it was kept) is acknowledged when
 * it names the same partition, and refused otherwise. */
static void handle_plan(clv_server *s, srv_conn *c, const clv_net_plan *np)
{
    clv_error err;
    srv_plan *p = NULL;
    int rc;
    bool again = false;
    clv_error_clear(&err);
    pthread_mutex_lock(&s->mu);
    srv_plan *held = plan_use(c, np->version);
    pthread_mutex_unlock(&s->mu);
    if (held) {
        /* held->part is not changed while the plan is listed */
        clv_partition part;
        clv_partition_init(&part);
        rc = clv_net_plan_partition(s->g, np, &part, &err);
        if (!rc && !clv_partition_equal(&part, &held->part))
            rc = clv_error_set(&err, CLV_EINVAL,
                               "plan version %llu is already another "
                               "partition",
                               (unsigned long long)np->version);
        clv_partition_release(&part);
        again = true;
    } else {
        /* within the budget before a byte is allocated for it */
        uint64_t bound = plan_bound(s->g, np);
        pthread_mutex_lock(&s->mu);
        bool fits = mem_take(s, bound);
        if (!fits)
            s->st.plans_shed++;
        uint64_t used = mem_now(s);
        pthread_mutex_unlock(&s->mu);
        if (!fits) {
            rc = clv_error_set(&err, CLV_ENOMEM,
                               "server busy: the plan may need %.1f MiB, "
                               "the memory budget has %.1f of %.1f MiB "
                               "left",
                               (double)bound / 1048576.0,
                               (double)(s->st.max_memory - (used < s->st.max_memory ? used : s->st.max_memory)) / 1048576.0,
                               (double)s->st.max_memory / 1048576.0);
        } else {
            rc = plan_make(s, np, &p, &err);
            pthread_mutex_lock(&s->mu);
            mem_give(s, bound);
            if (!rc)
                mem_add(s, p->mem);
            pthread_mutex_unlock(&s->mu);
        }
    }
    clv_net_msg ack;
    clv_net_msg_init(&ack);
    ack.type = CLV_NET_PLAN_ACK;
    ack.plan_ack.version = np->version;
    if (rc) {
        LOG(s, "edge %llu (%s): plan %llu refused: %s",
            (unsigned long long)c->id, c->peer,
            (unsigned long long)np->version, clv_error_text(&err, rc));
        ack.plan_ack.status = rc == CLV_ENOMEM ? CLV_NET_ERR_BUSY
                                               : CLV_NET_ERR_PLAN;
        ack.plan_ack.message = clv_error_text(&err, rc);
    } else if (!again) {
        pthread_mutex_lock(&s->mu);
        p->next = c->plans;
        c->plans = p;
        plans_gc(s, c);
        s->st.plans++;
        s->st.engines_made++;
        pthread_mutex_unlock(&s->mu);
        LOG(s, "edge %llu (%s): plan %llu: %u cloud nodes, %u tensors in, "
               "%u out",
            (unsigned long long)c->id, c->peer,
            (unsigned long long)np->version, np->n_nodes, np->n_inputs,
            np->n_outputs);
    }
    conn_send(c, &ack, NULL);
}

/* Checks a FRAME against its plan; 0, or an error naming the fault. */
static int frame_check(clv_server *s, const srv_plan *p,
                       const clv_net_frame *f, clv_error *err)
{
    if (f->n_tensors != (uint32_t)p->n_in)
        return clv_error_set(err, CLV_EFORMAT,
                             "FRAME %llu carries %u tensors, plan %llu "
                             "needs %d",
                             (unsigned long long)f->frame_id, f->n_tensors,
                             (unsigned long long)p->version, p->n_in);
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        const clv_net_tensor *t = &f->tensors[i];
        int rc = clv_net_tensor_check(s->g, t, err);
        if (rc)
            return clv_error_prefix(err, "FRAME %llu: ",
                                    (unsigned long long)f->frame_id);
        if (clv_engine_find_input(p->eng, (int)t->id) < 0)
            return clv_error_set(err, CLV_EFORMAT,
                                 "FRAME %llu: tensor %u is not an input of "
                                 "plan %llu",
                                 (unsigned long long)f->frame_id, t->id,
                                 (unsigned long long)p->version);
        for (uint32_t j = 0; j < i; j++)
            if (f->tensors[j].id == t->id)
                return clv_error_set(err, CLV_EFORMAT,
                                     "FRAME %llu: tensor %u twice",
                                     (unsigned long long)f->frame_id, t->id);
    }
    return 0;
}

/* The receiver of one connection. */
static void *conn_main(void *arg)
{
    srv_conn *c = arg;
    clv_server *s = c->srv;
    clv_error err;
    clv_net_msg m;
    int rc;
    bool bad = false;
    clv_net_msg_init(&m);
    clv_error_clear(&err);

    clv_net_server_options so;
    clv_net_server_options_init(&so);
    memcpy(so.digest, s->digest, sizeof so.digest);
    so.name = s->o.name;
    so.secret = s->o.secret;
    so.session = c->id;
    so.max_payload = s->o.max_payload;
    so.max_plans = (uint32_t)s->o.max_plans;
    clv_net_peer peer;
    /* Until HELLO_ACK a stranger sends only small handshake messages, all
     * of them before an absolute deadline. */
    clv_net_limits lim;
    clv_net_limits_default(&lim);
    lim.max_payload = HANDSHAKE_MAX_PAYLOAD;
    lim.accept = CLV_NET_TYPE_BIT(CLV_NET_HELLO) |
                 CLV_NET_TYPE_BIT(CLV_NET_AUTH) |
                 CLV_NET_TYPE_BIT(CLV_NET_ERROR) |
                 CLV_NET_TYPE_BIT(CLV_NET_BYE);
    clv_net_conn_set_limits(c->c, &lim);
    clv_net_conn_set_timeout(c->c, s->o.handshake_ms);
    clv_net_conn_set_min_rate(c->c, s->o.min_rate);
    clv_net_conn_set_deadline(c->c, clv_net_now_ns() +
                                        (uint64_t)s->o.handshake_ms * 1000000u);
    rc = clv_net_handshake_server(c->c, &so, &peer, &err);
    clv_net_conn_set_deadline(c->c, 0);
    pthread_mutex_lock(&s->mu);
    s->n_handshakes--;
    bool full = !rc && s->st.conns_open >= (uint64_t)s->o.max_conns;
    if (rc || full)
        s->st.conns_refused++;
    if (rc == CLV_ETIMEOUT)
        s->st.conns_timed_out++;
    if (!rc && !full) {
        c->handshaken = 1;
        s->st.conns_accepted++;
        s->st.conns_open++;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        LOG(s, "connection %llu (%s): handshake failed: %s",
            (unsigned long long)c->id, c->peer, clv_error_text(&err, rc));
        atomic_store(&c->dead, 1);
        goto out;
    }
    if (full) {
        /* others finished their handshakes first */
        LOG(s, "edge %llu (%s): refused: %d edges already connected",
            (unsigned long long)c->id, c->peer, s->o.max_conns);
        conn_refuse(c, CLV_NET_ERR_BUSY, "server busy: all edge slots taken");
        goto out;
    }
    snprintf(c->name, sizeof c->name, "%s", peer.name);
    lim.max_payload = s->o.max_payload;
    lim.accept = 0;
    clv_net_conn_set_limits(c->c, &lim);
    clv_net_conn_set_admit(c->c, admit, c);
    clv_net_conn_set_timeout(c->c, s->o.io_timeout_ms);
    LOG(s, "edge %llu (%s) connected%s%s%s", (unsigned long long)c->id,
        c->peer, peer.name[0] ? " as '" : "", peer.name,
        peer.name[0] ? "'" : "");

    uint64_t last_rx = clv_net_now_ns();
    while (!atomic_load(&s->stop) && !atomic_load(&c->dead)) {
        /* Back-pressure: read no more frames while too many are queued. */
        pthread_mutex_lock(&s->mu);
        while (c->inflight >= s->o.max_inflight && !atomic_load(&s->stop)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
        if (atomic_load(&s->stop))
            break;
        rc = clv_net_conn_wait(c->c, 200, &err);
        if (rc == 0) {
            /* idle: quiet, and nothing of its in flight (a slow frame's
             * RESULT is not the edge's silence) */
            uint64_t now = clv_net_now_ns();
            pthread_mutex_lock(&s->mu);
            bool waiting = c->inflight > 0;
            pthread_mutex_unlock(&s->mu);
            if (waiting)
                last_rx = now;
            if (s->o.idle_ms > 0 &&
                now - last_rx > (uint64_t)s->o.idle_ms * 1000000u) {
                LOG(s, "edge %llu (%s): idle for %d ms: closing",
                    (unsigned long long)c->id, c->peer, s->o.idle_ms);
                pthread_mutex_lock(&s->mu);
                s->st.conns_timed_out++;
                pthread_mutex_unlock(&s->mu);
                break; /* conn_free says BYE */
            }
            continue;
        }
        if (rc > 0)
            rc = clv_net_recv(c->c, &m, &err);
        last_rx = clv_net_now_ns();
        if (rc) {
            if (rc == CLV_ECLOSED && clv_net_conn_eof(c->c)) {
                LOG(s, "edge %llu (%s) closed the connection",
                    (unsigned long long)c->id, c->peer);
            } else {
                LOG(s, "edge %llu (%s): dropped: %s",
                    (unsigned long long)c->id, c->peer,
                    clv_error_text(&err, rc));
                bad = true;
                if (rc == CLV_ETIMEOUT) {
                    pthread_mutex_lock(&s->mu);
                    s->st.conns_timed_out++;
                    pthread_mutex_unlock(&s->mu);
                }
                if (rc == CLV_EFORMAT || rc == CLV_ELIMIT)
                    conn_refuse(c, rc == CLV_ELIMIT ? CLV_NET_ERR_LIMIT
                                                    : CLV_NET_ERR_PROTOCOL,
                                clv_error_text(&err, rc));
            }
            break;
        }
        if (m.type == CLV_NET_PROBE) {
            pthread_mutex_lock(&c->send_mu);
            rc = atomic_load(&c->dead) ? CLV_ECLOSED
                                       : clv_net_answer_probe(c->c, &m, &err);
            pthread_mutex_unlock(&c->send_mu);
            if (rc) {
                atomic_store(&c->dead, 1);
                bad = true;
                break;
            }
        } else if (m.type == CLV_NET_TIMES_REQUEST) {
            clv_net_msg t;
            clv_net_msg_init(&t);
            t.type = CLV_NET_TIMES;
            if (s->node_ms) {
                t.times.n = (uint32_t)clv_graph_n_nodes(s->g);
                t.times.ms = s->node_ms;
                t.times.runs = (uint32_t)s->o.node_ms_runs;
            } else {
                t.times.status = CLV_NET_ERR_UNAVAILABLE;
                t.times.message = "this server was started without its "
                                  "own times (cleave serve --profile-runs "
                                  "N or --profile FILE)";
            }
            if ((rc = conn_send(c, &t, &err))) {
                bad = true;
                break;
            }
        } else if (m.type == CLV_NET_PLAN) {
            handle_plan(s, c, &m.plan);
        } else if (m.type == CLV_NET_FRAME && m.shed) {
            /* turned away at its header (admit): queue full or over the
             * memory budget; the edge backs off */
            uint64_t recv_ns = m.t_done_ns - m.t_header_ns;
            pthread_mutex_lock(&s->mu);
            s->st.frames_shed++;
            int held = s->n_held;
            pthread_mutex_unlock(&s->mu);
            char text[128];
            snprintf(text, sizeof text,
                     "server busy: %d frames held (at most %d) or the "
                     "memory budget is spent",
                     held, s->o.max_queue);
            send_result_error(c, m.frame.frame_id, m.frame.plan_version,
                              CLV_NET_ERR_BUSY, text, recv_ns);
        } else if (m.type == CLV_NET_FRAME) {
            uint64_t recv_ns = m.t_done_ns - m.t_header_ns;
            uint64_t held_bytes = m.payload_len; /* admitted: see admit() */
            pthread_mutex_lock(&s->mu);
            srv_plan *p = plan_use(c, m.frame.plan_version);
            if (!p)
                frame_release(s, held_bytes);
            if (p)
                p->inflight++; /* keeps it from plans_gc */
            pthread_mutex_unlock(&s->mu);
            if (!p) {
                char text[128];
                snprintf(text, sizeof text, "unknown plan version %llu",
                         (unsigned long long)m.frame.plan_version);
                LOG(s, "edge %llu (%s): frame %llu: %s",
                    (unsigned long long)c->id, c->peer,
                    (unsigned long long)m.frame.frame_id, text);
                pthread_mutex_lock(&s->mu);
                s->st.frames_failed++;
                pthread_mutex_unlock(&s->mu);
                send_result_error(c, m.frame.frame_id, m.frame.plan_version,
                                  CLV_NET_ERR_PLAN, text, recv_ns);
                continue;
            }
            rc = frame_check(s, p, &m.frame, &err);
            if (rc) {
                pthread_mutex_lock(&s->mu);
                p->inflight--;
                frame_release(s, held_bytes);
                pthread_mutex_unlock(&s->mu);
                LOG(s, "edge %llu (%s): dropped: %s",
                    (unsigned long long)c->id, c->peer,
                    clv_error_text(&err, rc));
                conn_refuse(c, CLV_NET_ERR_PROTOCOL, clv_error_text(&err, rc));
                bad = true;
                break;
            }
            srv_job *j = calloc(1, sizeof *j);
            if (!j) {
                pthread_mutex_lock(&s->mu);
                p->inflight--;
                frame_release(s, held_bytes);
                pthread_mutex_unlock(&s->mu);
                send_result_error(c, m.frame.frame_id, m.frame.plan_version,
                                  CLV_NET_ERR_INTERNAL, "out of memory",
                                  recv_ns);
                continue;
            }
            j->conn = c;
            j->plan = p;
            j->held_bytes = held_bytes;
            j->msg = m; /* the job takes the payload */
            clv_net_msg_init(&m);
            j->recv_ns = recv_ns;
            j->t_queued = clv_net_now_ns();
            pthread_mutex_lock(&s->mu);
            c->refs++;
            c->inflight++;
            if (s->q_tail)
                s->q_tail->next = j;
            else
                s->q_head = j;
            s->q_tail = j;
            pthread_cond_signal(&s->work_cv);
            pthread_mutex_unlock(&s->mu);
        } else if (m.type == CLV_NET_BYE) {
            LOG(s, "edge %llu (%s) said BYE", (unsigned long long)c->id,
                c->peer);
            break;
        } else if (m.type == CLV_NET_PROBE_ACK || m.type == CLV_NET_ERROR) {
            if (m.type == CLV_NET_ERROR) {
                LOG(s, "edge %llu (%s) sent ERROR %d: %s",
                    (unsigned long long)c->id, c->peer, m.error.code,
                    m.error.text ? m.error.text : "");
                break;
            }
        } else {
            char text[96];
            snprintf(text, sizeof text, "unexpected %s after the handshake",
                     clv_net_type_name(m.type));
            LOG(s, "edge %llu (%s): dropped: %s", (unsigned long long)c->id,
                c->peer, text);
            conn_refuse(c, CLV_NET_ERR_PROTOCOL, text);
            bad = true;
            break;
        }
    }
    if (bad) {
        pthread_mutex_lock(&s->mu);
        s->st.conns_dropped++;
        pthread_mutex_unlock(&s->mu);
    }
out:
    clv_net_msg_release(&m);
    pthread_mutex_lock(&s->mu);
    c->rx_done = 1;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- workers --------------------------------------------------------------- */

/* Decodes FRAME tensor `nt` (encoded by the codec module) into engine
 * input i's buffer of plan p (made on first use), with the worker's codec
 * context *cx (made on first use: one per worker, not per plan). */
static int decode_input(clv_server *s, srv_plan *p, int i,
                        const clv_net_tensor *nt, clv_codec_ctx **cx,
                        clv_error *err)
{
    const clv_tensor *gt = clv_graph_tensor(s->g, (int)nt->id);
    if (!p->in_bufs && !(p->in_bufs = calloc((size_t)p->n_in + 1, sizeof *p->in_bufs)))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if (!*cx && !(*cx = clv_codec_ctx_new()))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if (!p->in_bufs[i]) {
        uint64_t nb = clv_tensor_bytes(gt);
        if (!(p->in_bufs[i] = malloc(nb ? nb : 1)))
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        pthread_mutex_lock(&s->mu);
        p->mem += nb; /* the plan is busy: no one else reads p->mem */
        mem_add(s, nb);
        pthread_mutex_unlock(&s->mu);
    }
    int rc = clv_codec_decode(*cx, nt->data, nt->nbytes, gt->ndim, gt->dims,
                              p->in_bufs[i], NULL, err);
    if (rc)
        clv_error_prefix(err, "tensor '%s': ", gt->name);
    return rc;
}

static void run_job(clv_server *s, srv_job *j, clv_codec_ctx **cx)
{
    srv_plan *p = j->plan;
    srv_conn *c = j->conn;
    clv_error err;
    const void *in[CLV_NET_MAX_CONTROL / 64]; /* 1024 entries */
    clv_net_tensor *ret = NULL;
    int rc = 0;
    clv_error_clear(&err);
    uint64_t t0 = clv_net_now_ns();
    if (p->n_in > (int)(sizeof in / sizeof in[0])) {
        rc = clv_error_set(&err, CLV_ELIMIT, "too many cut tensors");
    } else {
        for (int i = 0; i < p->n_in && !rc; i++) {
            int t = clv_engine_input(p->eng, i);
            in[i] = NULL;
            for (uint32_t k = 0; k < j->msg.frame.n_tensors && !rc; k++) {
                const clv_net_tensor *nt = &j->msg.frame.tensors[k];
                if ((int)nt->id != t)
                    continue;
                if (nt->codec == CLV_NET_CODEC_RAW)
                    in[i] = nt->data;
                else if (!(rc = decode_input(s, p, i, nt, cx, &err)))
                    in[i] = p->in_bufs[i];
            }
        }
        if (!rc)
        rc = clv_engine_run(p->eng, in, p->out_bufs, &err);
    }
    uint64_t t1 = clv_net_now_ns();
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_RESULT;
    m.result.frame_id = j->msg.frame.frame_id;
    m.result.plan_version = p->version;
    m.result.recv_ns = j->recv_ns;
    m.result.queue_ns = t0 - j->t_queued;
    m.result.compute_ns = t1 - t0;
    if (!rc) {
        ret = calloc(p->n_ret + 1, sizeof *ret);
        if (!ret)
            rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
        for (uint32_t i = 0; !rc && i < p->n_ret; i++) {
            int pos = p->ret_pos[i];
            rc = clv_net_tensor_from_graph(s->g, clv_engine_output(p->eng, pos),
                                           p->out_bufs[pos], &ret[i], &err);
        }
    }
    if (rc) {
        m.result.status = CLV_NET_ERR_COMPUTE;
        m.result.message = clv_error_text(&err, rc);
        LOG(s, "edge %llu (%s): frame %llu failed: %s",
            (unsigned long long)c->id, c->peer,
            (unsigned long long)m.result.frame_id, clv_error_text(&err, rc));
    } else {
        m.result.n_tensors = p->n_ret;
        m.result.tensors = ret;
    }
    pthread_mutex_lock(&s->mu);
    if (rc)
        s->st.frames_failed++;
    else
        s->st.frames_done++;
    pthread_mutex_unlock(&s->mu);
    conn_send(c, &m, NULL);
    free(ret);
}

static void *worker_main(void *arg)
{
    clv_server *s = arg;
    clv_codec_ctx *cx = NULL; /* this worker's decoder, made on first use */
    pthread_mutex_lock(&s->mu);
    for (;;) {
        srv_job *j = NULL, *prev = NULL;
        for (srv_job *q = s->q_head; q; prev = q, q = q->next)
            if (!q->plan->busy) {
                j = q;
                break;
            }
        if (!j) {
            if (s->workers_quit && !s->q_head)
                break;
            pthread_cond_wait(&s->work_cv, &s->mu);
            continue;
        }
        if (prev)
            prev->next = j->next;
        else
            s->q_head = j->next;
        if (s->q_tail == j)
            s->q_tail = prev;
        j->plan->busy = 1;
        pthread_mutex_unlock(&s->mu);

        run_job(s, j, &cx);

        pthread_mutex_lock(&s->mu);
        srv_conn *c = j->conn;
        j->plan->busy = 0;
        j->plan->inflight--;
        c->inflight--;
        frame_release(s, j->held_bytes);
        plans_gc(s, c);
        bool free_it = conn_unref(s, c);
        pthread_cond_broadcast(&s->work_cv);
        pthread_cond_broadcast(&s->done_cv);
        pthread_mutex_unlock(&s->mu);
        clv_net_msg_release(&j->msg);
        free(j);
        if (free_it)
            conn_free(s, c);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    clv_codec_ctx_free(cx);
    return NULL;
}

/* Tells the workers to quit once the queue is empty and joins them. */
static void stop_workers(clv_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->workers_quit = 1;
    pthread_cond_broadcast(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
    s->n_workers = 0;
}

/* ---- accepting ------------------------------------------------------------- */

/* Joins the receivers that have ended and drops their references. */
static void reap(clv_server *s, bool all)
{
    for (;;) {
        srv_conn *done = NULL;
        pthread_mutex_lock(&s->mu);
        for (srv_conn *c = s->conns; c; c = c->next)
            if (!c->joined && (c->rx_done || all)) {
                done = c;
                break;
            }
        if (done)
            done->joined = 1;
        pthread_mutex_unlock(&s->mu);
        if (!done)
            return;
        pthread_join(done->th, NULL);
        pthread_mutex_lock(&s->mu);
        bool free_it = conn_unref(s, done);
        pthread_mutex_unlock(&s->mu);
        if (free_it)
            conn_free(s, done);
    }
}

static void *accept_main(void *arg)
{
    clv_server *s = arg;
    clv_error err;
    clv_error_clear(&err);
    while (!atomic_load(&s->stop)) {
        clv_net_conn *nc = NULL;
        /* With every handshake slot taken, accept nothing: newcomers wait
         * in the kernel's listen queue (a burst of edges connecting at
         * once is served in turn, not refused), and the slots free up by
         * the handshake deadline at the latest. */
        pthread_mutex_lock(&s->mu);
        bool wait = s->n_handshakes >= s->o.max_handshakes;
        pthread_mutex_unlock(&s->mu);
        if (wait) {
            reap(s, false);
            struct timespec ts = {0, 20000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        int rc = clv_net_accept(s->lis, 200, &nc, &err);
        reap(s, false);
        if (rc) {
            LOG(s, "accept: %s", clv_error_text(&err, rc));
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (!nc)
            continue;
        /* Protected mode, as Redis's: a server anyone may use is opened on
         * purpose, not by a forgotten token. Slots: max_conns edges past
         * the handshake; apart from them max_handshakes connections in it
         * (see above), each for at most handshake_ms. */
        char why[192] = "";
        int code = CLV_NET_ERR_AUTH;
        if (!s->o.secret && !s->o.insecure && !clv_net_conn_is_loopback(nc))
            snprintf(why, sizeof why,
                     "protected mode: this server has no token and serves "
                     "only its own machine; give both sides --token-file, "
                     "or start the server with --insecure");
        pthread_mutex_lock(&s->mu);
        int open = (int)s->st.conns_open;
        if (!why[0] && open >= s->o.max_conns) {
            code = CLV_NET_ERR_BUSY;
            snprintf(why, sizeof why, "server busy: %d edges connected",
                     open);
        }
        if (why[0])
            s->st.conns_refused++;
        else
            s->n_handshakes++;
        pthread_mutex_unlock(&s->mu);
        if (why[0]) {
            LOG(s, "%s: refused: %s", clv_net_conn_peer(nc), why);
            clv_net_conn_set_timeout(nc, 100);
            clv_net_send_error(nc, code, "%s", why);
            clv_net_conn_free(nc);
            continue;
        }
        srv_conn *c = calloc(1, sizeof *c);
        if (!c) {
            pthread_mutex_lock(&s->mu);
            s->n_handshakes--;
            pthread_mutex_unlock(&s->mu);
            clv_net_conn_free(nc);
            continue;
        }
        c->srv = s;
        c->c = nc;
        snprintf(c->peer, sizeof c->peer, "%s", clv_net_conn_peer(nc));
        pthread_mutex_init(&c->send_mu, NULL);
        atomic_init(&c->dead, 0);
        pthread_mutex_lock(&s->mu);
        c->id = ++s->next_session;
        c->refs = 1;
        c->next = s->conns;
        s->conns = c;
        pthread_mutex_unlock(&s->mu);
        if (pthread_create(&c->th, NULL, conn_main, c)) {
            pthread_mutex_lock(&s->mu);
            s->n_handshakes--;
            c->joined = 1;
            bool free_it = conn_unref(s, c);
            pthread_mutex_unlock(&s->mu);
            if (free_it)
                conn_free(s, c);
        }
    }
    /* Stopping: no more connections; receivers end within their poll
     * interval (one being read finishes its message); queued frames are
     * finished and answered; then every edge gets BYE. */
    LOG(s, "stopping: finishing the frames in flight");
    reap(s, true);
    stop_workers(s);
    LOG(s, "stopped");
    return NULL;
}

/* ---- the handle ------------------------------------------------------------ */

int clv_server_create(const clv_graph *g, const clv_server_options *o,
                      clv_server **out, clv_error *err)
{
    clv_server_options d;
    *out = NULL;
    if (!o) {
        clv_server_options_init(&d);
        o = &d;
    }
    if (!g || !clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "the server needs a finalized graph");
    if (o->max_queue < 0 || o->threads < 1 || o->threads > 256 || o->max_conns < 1 ||
        o->max_handshakes < 1 || o->handshake_ms < 1 || o->idle_ms < 0 ||
        o->max_inflight < 1 || o->max_plans < 1 || o->engine_threads < 0 ||
        o->engine_threads > CLV_ENGINE_MAX_THREADS || o->max_payload < 1024)
        return clv_error_set(err, CLV_EINVAL,
                             "server options out of range (threads %d, "
                             "max_conns %d, max_inflight %d, max_plans %d)",
                             o->threads, o->max_conns, o->max_inflight,
                             o->max_plans);
    clv_server *s = calloc(1, sizeof *s);
    if (!s)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    s->g = g;
    s->o = *o;
    if (s->o.max_queue == 0)
        s->o.max_queue = 16 * s->o.threads;
    s->st.max_memory = s->o.max_memory;
    if (!s->st.max_memory) {
        uint64_t avail = clv_util_mem_available();
        s->st.max_memory = avail ? avail / 4 * 3 : (uint64_t)4 << 30;
    }

    if (!s->o.listen)
        s->o.listen = "*:7878";
    atomic_init(&s->stop, 0);
    int rc = 0;
    if (o->node_ms) {
        int n = clv_graph_n_nodes(g);
        s->node_ms = malloc(((size_t)n + 1) * sizeof *s->node_ms);
        if (!s->node_ms) {
            free(s);
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        }
        for (int i = 0; i < n; i++) {
            if (!isfinite(o->node_ms[i]) || o->node_ms[i] < 0) {
                rc = clv_error_set(err, CLV_EINVAL,
                                   "the server's time of node %d is %g ms",
                                   i, o->node_ms[i]);
                free(s->node_ms);
                free(s);
                return rc;
            }
            s->node_ms[i] = o->node_ms[i];
        }
    }
    s->o.node_ms = NULL; /* borrowed for the call only */
    rc = clv_net_graph_digest(g, s->digest);
    if (!rc)
        rc = clv_net_listen(s->o.listen, &s->lis, err);
    if (rc) {
        free(s->node_ms);
        free(s);
        return rc;
    }
    s->workers = calloc((size_t)s->o.threads, sizeof *s->workers);
    if (s->workers && !(s->weights = clv_engine_weights_create())) {
        free(s->workers);
        s->workers = NULL;
    }
    if (!s->workers) {
        clv_net_listener_free(s->lis);
        free(s->node_ms);
        free(s);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_cond_init(&s->done_cv, NULL);
    *out = s;
    return 0;
}

int clv_server_port(const clv_server *s)
{
    return clv_net_listener_port(s->lis);
}

int clv_server_start(clv_server *s, clv_error *err)
{
    if (s->started)
        return clv_error_set(err, CLV_EINVAL, "the server already started");
    for (int i = 0; i < s->o.threads; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s))
            break;
        s->n_workers++;
    }
    if (s->n_workers == 0 ||
        pthread_create(&s->accept_th, NULL, accept_main, s)) {
        stop_workers(s);
        return clv_error_set(err, CLV_ENOMEM, "cannot start server threads");
    }
    s->started = 1;
    LOG(s, "listening on port %d with %d workers", clv_server_port(s),
        s->n_workers);
    if (!s->o.secret && !s->o.insecure)
        LOG(s, "protected mode: without a token only edges on this machine "
               "are served (--token-file, or --insecure to serve all)");
    return 0;
}

void clv_server_stop(clv_server *s)
{
    if (s)
        atomic_store(&s->stop, 1);
}

void clv_server_join(clv_server *s)
{
    if (!s || !s->started || s->joined)
        return;
    pthread_join(s->accept_th, NULL);
    s->joined = 1;
}

void clv_server_stats_get(clv_server *s, clv_server_stats *out)
{
    pthread_mutex_lock(&s->mu);
    s->st.mem_used = mem_now(s);
    *out = s->st;
    pthread_mutex_unlock(&s->mu);
}

void clv_server_free(clv_server *s)
{
    if (!s)
        return;
    clv_server_stop(s);
    clv_server_join(s);
    clv_net_listener_free(s->lis);
    clv_engine_weights_free(s->weights);
    free(s->workers);
    free(s->node_ms);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    free(s);
}
