/* The edge's connection and sender thread: connecting (handshake, the
 * server's times, the probe), PLANs, FRAMEs and PROBEs through the pacer,
 * and reconnecting with backoff. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/edge_internal.h"

void clv_rt__drop_conn(edge_ctx *x)
{
    if (!x->conn)
        return;
    pthread_mutex_lock(&x->mu);
    if (x->conn_up)
        clv_rt__lose_connection(x);
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

/* server_times: asks the server for its per-node times on the fresh
 * connection c (before the receiver thread runs) and hands them to the
 * edge thread for planning (x->t_cloud_new). A server without times, or
 * with a count that does not match the model, is logged and the times
 * planned with stay. 0, or an I/O or protocol error (the connection is
 * then unusable). */
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
            pthread_mutex_lock(&x->mu);
            free(x->t_cloud_new);
            x->t_cloud_new = t;
            pthread_mutex_unlock(&x->mu);
            ELOG(x, "the server's own times: %.1f ms for the whole model "
                    "(%u runs)",
                 sum, (unsigned)m.times.runs);
        }
    }
    clv_net_msg_release(&m);
    return rc;
}

int clv_rt__open_conn(edge_ctx *x, bool probe, double *probe_bps,
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
    clv_net_session ses;
    rc = clv_net_handshake_client(c, &co, &ses, err);
    if (rc)
        goto fail;
    /* a server that claims to keep more plans than this is tracked for
     * this many: the edge then re-sends a PLAN it may not need to, which
     * the server acknowledges */
    uint32_t track = ses.max_plans < 1024 ? ses.max_plans : 1024;
    uint64_t *held = realloc(x->held, track * sizeof *held);
    if (!held) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    x->held = held;
    x->max_held = (int)track;
    x->n_held = 0;
    clv_net_conn_set_timeout(c, 15000);
    /* every connection: a reconnect may reach another server */
    if (x->o.server_times && (rc = request_times(x, c, err)))
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
    x->connected = 1;
    pthread_mutex_unlock(&x->mu);
    if (pthread_create(&x->rx, NULL, clv_rt__rx_main, a)) {
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

/* Sends message m as the link would carry it: the pacer's credit for
 * the time the link was quiet is forfeited first (a real link has none;
 * see clv_net_pacer_forfeit_idle), and the link is busy until it is out. */
static int send_paced(edge_ctx *x, const clv_net_msg *m,
                      clv_net_send_info *info, clv_error *err)
{
    if (x->pacer)
        clv_net_pacer_forfeit_idle(x->pacer, x->link_free_ns);
    int rc = clv_net_send(x->conn, m, info, err);
    x->link_free_ns = clv_net_now_ns();
    return rc;
}

/* Notes that the next message names plan `version` and says whether the
 * server holds it already: the server keeps the max_plans most recently
 * named plans of a connection (docs/protocol.md), and `held` tracks the
 * same order. */
static bool held_use(edge_ctx *x, uint64_t version)
{
    int i = 0;
    while (i < x->n_held && x->held[i] != version)
        i++;
    bool had = i < x->n_held;
    if (!had) {
        if (x->n_held < x->max_held)
            x->n_held++;
        i = x->n_held - 1; /* the least recent one drops out */
    }
    memmove(&x->held[1], &x->held[0], (size_t)i * sizeof *x->held);
    x->held[0] = version;
    return had;
}

/* Forgets that the server holds `version` (it refused that PLAN): the
 * next FRAME of it is preceded by the PLAN again. */
static void held_drop(edge_ctx *x, uint64_t version)
{
    for (int i = 0; version && i < x->n_held; i++)
        if (x->held[i] == version) {
            memmove(&x->held[i], &x->held[i + 1],
                    (size_t)(x->n_held - i - 1) * sizeof *x->held);
            x->n_held--;
            return;
        }
}

static int send_plan(edge_ctx *x, eplan *p, clv_error *err)
{
    uint32_t *store = NULL;
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_PLAN;
    int rc = clv_net_plan_from_partition(&p->part, p->version, &m.plan,
                                         &store, err);
    if (!rc)
        rc = send_paced(x, &m, NULL, err);
    free(store);
    return rc;
}

/* Encodes FRAME tensor *t (raw, pointing at the edge's data) with `cc`:
 * *t then points at a copy of the encoding, *buf, which the caller frees
 * once the FRAME is sent. */
static int encode_tensor(edge_ctx *x, const clv_codec *cc, clv_net_tensor *t,
                         void **buf, clv_error *err)
{
    const clv_tensor *gt = clv_graph_tensor(x->g, (int)t->id);
    const uint8_t *bytes;
    size_t n;
    int rc = clv_codec_encode(x->enc, cc, t->data, gt->ndim, gt->dims, &bytes, &n,
                              err);
    if (rc)
        return clv_error_prefix(err, "tensor '%s': ", gt->name);
    if (!(*buf = malloc(n ? n : 1)))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    memcpy(*buf, bytes, n);
    t->codec = (int)cc->kind;
    t->nbytes = n;
    t->data = *buf;
    return 0;
}

static void free_encoded(void **enc, int n)
{
    if (!enc)
        return;
    for (int i = 0; i < n; i++)
        free(enc[i]);
    free(enc);
}

static int send_frame(edge_ctx *x, eframe *f, clv_error *err)
{
    eplan *p = f->plan;
    const clv_partition *part = &p->part;
    clv_net_tensor *ts = calloc((size_t)part->n_send + 1, sizeof *ts);
    void **enc = calloc((size_t)part->n_send + 1, sizeof *enc);
    int rc = 0;
    uint64_t t_enc = clv_net_now_ns();
    if (!ts || !enc) {
        free(ts);
        free(enc);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    for (int i = 0; i < part->n_send && !rc; i++) {
        int t = part->send[i];
        const void *data = NULL;
        int pos = p->eng ? clv_engine_find_output(p->eng, t) : -1;
        int k_in = clv_rt__input_pos(x, t);
        if (pos >= 0)
            data = f->edge_out[pos];
        else if (k_in >= 0)
            data = f->in[k_in];
        if (!data)
            rc = clv_error_set(err, CLV_EINVAL, "no data for tensor %d", t);
        else
            rc = clv_net_tensor_from_graph(x->g, t, data, &ts[i], err);
        const clv_codec *cc = clv_rt__send_codec(x, &f->codec, pos >= 0);
        if (!rc && cc->kind != CLV_CODEC_RAW && ts[i].dtype == CLV_DT_FLOAT)
            rc = encode_tensor(x, cc, &ts[i], &enc[i], err);
    }
    f->rec->encode_ns = clv_net_now_ns() - t_enc;
    f->rec->data_bytes = 0;
    for (int i = 0; i < part->n_send && !rc; i++)
        f->rec->data_bytes += ts[i].nbytes;
    if (rc) {
        /* not sent and not awaited: the edge finishes it */
        ELOG(x, "frame %llu: %s", (unsigned long long)f->id,
             clv_error_text(err, rc));
        pthread_mutex_lock(&x->mu);
        clv_rt__push_fallback(x, f);
        pthread_mutex_unlock(&x->mu);
        free_encoded(enc, part->n_send);
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
        m.frame.n_tensors = (uint32_t)part->n_send;
        m.frame.tensors = ts;
        pthread_mutex_lock(&x->mu);
        if (!x->conn_up) {
            /* the receiver lost this connection since f left the queue:
             * its awaited frames went to the fallback queue already, and
             * f would wait there for a RESULT that cannot come */
            clv_rt__push_fallback(x, f);
            pthread_mutex_unlock(&x->mu);
            free_encoded(enc, part->n_send);
            free(ts);
            return 0;
        }
        f->next = x->await; /* before the send: the RESULT may be quick */
        x->await = f;
        f->sent_ns = clv_net_now_ns();
        uint64_t f_sent = f->sent_ns; /* f may be finished once sent */
        f->rec->t_send_start = clv_rt__rel_ns(x);
        f->sending = 1; /* whoever takes f waits until the send is over */
        pthread_mutex_unlock(&x->mu);
        info.bytes = 0;
        rc = send_paced(x, &m, &info, err);
        pthread_mutex_lock(&x->mu);
        f->rec->t_send_end = clv_rt__rel_ns(x);
        f->rec->bytes = info.bytes;
        f->rec->n_cut = part->n_send;
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
    free_encoded(enc, part->n_send);
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
    return send_paced(x, &m, NULL, err);
}

void *clv_rt__tx_main(void *arg)
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
            clv_rt__drop_conn(x);
            next_try = clv_net_now_ns() + (uint64_t)backoff * 1000000ull;
            pthread_mutex_lock(&x->mu);
            continue;
        }
        eframe *f = x->sendq_head;
        if (f && (!x->conn || !x->conn_up)) {
            clv_rt__push_fallback(x, clv_rt__fq_pop(&x->sendq_head, &x->sendq_tail));
            continue;
        }
        if (!x->conn && x->o.server && !x->computing_done && !x->untrusted &&
            clv_net_now_ns() >= next_try) {
            pthread_mutex_unlock(&x->mu);
            int rc = clv_rt__open_conn(x, false, NULL, &err);
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
            clv_rt__fq_pop(&x->sendq_head, &x->sendq_tail); /* f, the head */
            uint64_t refused = x->refused_plan;
            x->refused_plan = 0;
            pthread_mutex_unlock(&x->mu);
            held_drop(x, refused);
            int rc = 0;
            if (!held_use(x, f->plan->version))
                rc = send_plan(x, f->plan, &err);
            if (!rc)
                rc = send_frame(x, f, &err);
            else {
                pthread_mutex_lock(&x->mu);
                clv_rt__push_fallback(x, f);
                pthread_mutex_unlock(&x->mu);
            }
            pthread_mutex_lock(&x->mu);
            if (rc && x->conn_up) {
                ELOG(x, "send failed: %s", clv_error_text(&err, rc));
                clv_rt__lose_connection(x); /* also moves f, now awaited */
            }
            pthread_cond_broadcast(&x->cv);
            continue;
        }
        /* idle: keep the estimate alive while frames carry little */
        uint64_t now = clv_net_now_ns();
        uint64_t iv = (uint64_t)(x->o.probe_interval_ms > 0
                                     ? x->o.probe_interval_ms
                                     : 500) * 1000000ull;
        bool small = !x->cur || x->cur->part.n_cloud == 0 ||
                     x->cur->part.send_bytes < 32768;
        if (x->conn && x->conn_up && x->o.adapt && small &&
            now > x->last_send_ns && now - x->last_send_ns > iv &&
            now - x->last_probe_ns > iv && !x->computing_done) {
            pthread_mutex_unlock(&x->mu);
            int rc = send_probe(x, &err);
            pthread_mutex_lock(&x->mu);
            if (rc && x->conn_up) {
                ELOG(x, "probe send failed: %s", clv_error_text(&err, rc));
                clv_rt__lose_connection(x);
            }
            continue;
        }
        clv_rt__cv_wait_ms(x, 50);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}
