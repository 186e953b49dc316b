/* The edge's receiver thread: RESULTs complete frames and feed the
 * bandwidth estimate; PROBE_ACKs feed it too; a lost server moves the
 * frames it held to the fallback queue. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/edge_internal.h"

int clv_rt__check_result(const clv_graph *g, const clv_partition *part,
                         const clv_net_result *res, clv_error *err)
{
    unsigned long long id = (unsigned long long)res->frame_id;
    if (res->status)
        return clv_error_set(err, CLV_EIO, "the server could not run frame "
                             "%llu: %s: %s",
                             id, clv_net_err_text(res->status),
                             res->message ? res->message : "");
    if (res->n_tensors != (uint32_t)part->n_ret)
        return clv_error_set(err, CLV_EFORMAT,
                             "RESULT %llu carries %u tensors, expected %d", id,
                             res->n_tensors, part->n_ret);
    for (uint32_t i = 0; i < res->n_tensors; i++) {
        const clv_net_tensor *t = &res->tensors[i];
        int rc = clv_net_tensor_check(g, t, err);
        if (rc)
            return rc;
        if (t->codec != CLV_NET_CODEC_RAW) /* its bytes are not the size */
            return clv_error_set(err, CLV_EFORMAT,
                                 "RESULT %llu: tensor %u is encoded (codec "
                                 "%d); results are raw",
                                 id, t->id, t->codec);
        bool output = false, expected = false;
        for (int k = 0; k < clv_graph_n_outputs(g); k++)
            output |= clv_graph_output(g, k) == (int)t->id;
        for (int k = 0; k < part->n_ret; k++)
            expected |= (uint32_t)part->ret[k] == t->id;
        for (uint32_t j = 0; j < i; j++)
            expected &= res->tensors[j].id != t->id;
        if (!output || !expected)
            return clv_error_set(err, CLV_EFORMAT,
                                 "RESULT %llu carries tensor %u, which the "
                                 "plan does not return (or twice)",
                                 id, t->id);
    }
    return 0;
}

/* The server said BUSY: frames stay on the edge for `ms` (the next
 * back-off after that is twice as long, at most 2 s). Under mu. */
static void back_off(edge_ctx *x, int ms)
{
    x->busy_ms = ms > 2000 ? 2000 : ms;
    x->busy_until = clv_net_now_ns() + (uint64_t)x->busy_ms * 1000000u;
}

/* Takes a RESULT's tensors into frame f; 0 or an error. */
static int take_result(edge_ctx *x, eframe *f, const clv_net_result *res,
                       clv_error *err)
{
    eplan *p = f->plan;
    int rc = clv_rt__check_result(x->g, &p->part, res, err);
    if (!rc)
        rc = clv_rt__alloc_outputs(x, f, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < res->n_tensors; i++) {
        const clv_net_tensor *t = &res->tensors[i];
        int o = -1;
        for (int k = 0; k < x->n_out; k++)
            if (clv_graph_output(x->g, k) == (int)t->id)
                o = k;
        memcpy(f->out[o], t->data, (size_t)t->nbytes);
        if (t->dtype == CLV_DT_FLOAT) {
            const float *v = f->out[o];
            for (uint64_t e = 0; e < t->nbytes / 4 && !f->audit; e++)
                f->audit = isfinite(v[e]) ? 0 : 2; /* believed only if
                                                      the edge gets it too */
        }
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

void *clv_rt__rx_main(void *arg)
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
                clv_rt__lose_connection(x);
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
                clv_rt__lose_connection(x);
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
            pthread_mutex_lock(&x->mu);
            if (m.result.status == CLV_NET_ERR_BUSY) {
                /* the server sheds load: keep frames here a while,
                 * longer each time it says so again */
                x->rep->n_busy++;
                back_off(x, x->busy_ms ? x->busy_ms * 2 : 100);
            } else if (m.result.status == 0) {
                x->busy_ms = 0;
            }
            pthread_mutex_unlock(&x->mu);
            rc = take_result(x, f, &m.result, &err);
            if (rc) {
                ELOG(x, "frame %llu: %s; finishing it on the edge",
                     (unsigned long long)f->id, clv_error_text(&err, rc));
                pthread_mutex_lock(&x->mu);
                clv_rt__push_fallback(x, f);
                pthread_mutex_unlock(&x->mu);
                continue;
            }
            pthread_mutex_lock(&x->mu);
            clv_net_bw_add(x->bw, f->payload, m.result.recv_ns);
            pthread_mutex_unlock(&x->mu);
            r->where = CLV_EDGE_SPLIT;
            /* the 1st good result is audited, then every audit_every-th */
            uint64_t k = x->n_results++;
            if (x->o.audit_every > 0 && !f->audit &&
                k % (uint64_t)x->o.audit_every == 0)
                f->audit = 1;
            if (f->audit) {
                /* the edge thread checks it (clv_rt__drain_fallback) */
                pthread_mutex_lock(&x->mu);
                clv_rt__push_fallback(x, f);
                pthread_mutex_unlock(&x->mu);
                continue;
            }
            clv_rt__frame_finish(x, f, 0, NULL);
        } else if (m.type == CLV_NET_PROBE_ACK) {
            pthread_mutex_lock(&x->mu);
            clv_net_bw_add(x->bw, m.probe_ack.bytes, m.probe_ack.recv_ns);
            pthread_mutex_unlock(&x->mu);
        } else if (m.type == CLV_NET_PLAN_ACK) {
            if (m.plan_ack.status)
                ELOG(x, "the server refused plan %llu: %s",
                     (unsigned long long)m.plan_ack.version,
                     m.plan_ack.message ? m.plan_ack.message : "");
            if (m.plan_ack.status) {
                pthread_mutex_lock(&x->mu);
                x->refused_plan = m.plan_ack.version;
                if (m.plan_ack.status == CLV_NET_ERR_BUSY)
                    back_off(x, 2000);
                pthread_mutex_unlock(&x->mu);
            }
        } else if (m.type == CLV_NET_BYE || m.type == CLV_NET_ERROR) {
            pthread_mutex_lock(&x->mu);
            if (x->conn_up && x->conn == c && !x->quit) {
                if (m.type == CLV_NET_ERROR)
                    ELOG(x, "the server sent ERROR: %s",
                         m.error.text ? m.error.text : "");
                else
                    ELOG(x, "the server said BYE");
                clv_rt__lose_connection(x);
            }
            pthread_mutex_unlock(&x->mu);
            break;
        }
    }
    clv_net_msg_release(&m);
    return NULL;
}
