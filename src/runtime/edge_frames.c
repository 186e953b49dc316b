/* The edge's frames: buffers, the send and fallback queues, finishing a
 * frame, and running it whole on the edge when the server cannot. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/edge_internal.h"

void clv_rt__frame_free(edge_ctx *x, eframe *f)
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
void clv_rt__frame_finish(edge_ctx *x, eframe *f, int status,
                         const char *error)
{
    clv_edge_frame *r = f->rec;
    r->status = status;
    r->t_done = clv_rt__rel_ns(x);
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
    clv_rt__frame_free(x, f);
}

int clv_rt__alloc_outputs(edge_ctx *x, eframe *f, clv_error *err)
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
int clv_rt__run_local(edge_ctx *x, eframe *f, clv_error *err)
{
    int rc = clv_rt__alloc_outputs(x, f, err);
    if (rc)
        return rc;
    clv_throttle_begin(&x->th);
    rc = clv_engine_run(x->whole, (const void *const *)f->in, f->out, err);
    clv_throttle_end(&x->th);
    return rc;
}

/* Whether every tensor frame f sent reached the server with the values
 * the edge has: raw, or a frame encoding (u8, PNG) that gives them back
 * bit for bit (random and data-set frames are pixels / 255). Then, and
 * only then, the server's result must equal the whole model's here. */
static bool crossing_exact(edge_ctx *x, eframe *f)
{
    const clv_partition *part = &f->plan->part;
    for (int i = 0; i < part->n_send; i++) {
        int t = part->send[i], k_in = clv_rt__input_pos(x, t);
        const clv_tensor *gt = clv_graph_tensor(x->g, t);
        const clv_codec *cc = clv_rt__send_codec(x, &f->codec, k_in < 0);
        if (gt->dtype != CLV_DT_FLOAT || cc->kind == CLV_CODEC_RAW)
            continue;
        if (k_in < 0 || (cc->kind != CLV_CODEC_U8 && cc->kind != CLV_CODEC_PNG))
            return false; /* quantized or JPEG: lossy by design */
        for (int c = 0; c < 2; c++)
            if (!x->audit_cx[c] && !(x->audit_cx[c] = clv_codec_ctx_new()))
                return false;
        const uint8_t *enc;
        size_t n;
        uint64_t nb = clv_tensor_bytes(gt);
        float *back = malloc(nb ? (size_t)nb : 1);
        bool same = back &&
                    !clv_codec_encode(x->audit_cx[0], cc, f->in[k_in], gt->ndim,
                                      gt->dims, &enc, &n, NULL) &&
                    !clv_codec_decode(x->audit_cx[1], enc, n, gt->ndim,
                                      gt->dims, back, NULL, NULL) &&
                    memcmp(back, f->in[k_in], (size_t)nb) == 0;
        free(back);
        if (!same)
            return false;
    }
    return true;
}

/* Checks frame f's server result (f->out) against the whole model run on
 * the edge: the same bits, or the server is not trusted again (its
 * connection is dropped and never made again) and the edge's result
 * stands. A frame that crossed lossily (crossing_exact) cannot be
 * checked so: its turn passes, and a non-finite result is replaced by
 * the edge's without blaming the server. */
static void finish_audit(edge_ctx *x, eframe *f)
{
    clv_error err;
    clv_error_clear(&err);
    if (!crossing_exact(x, f)) {
        if (f->audit == 1) {
            clv_rt__frame_finish(x, f, 0, NULL);
            return;
        }
        f->rec->where = CLV_EDGE_FALLBACK;
        int rc = clv_rt__run_local(x, f, &err);
        ELOG(x, "frame %llu: the server's result holds a non-finite value; "
                "finished on the edge",
             (unsigned long long)f->id);
        clv_rt__frame_finish(x, f, rc, rc ? clv_error_text(&err, rc) : NULL);
        return;
    }
    void **srv = f->out;
    f->out = NULL;
    int rc = clv_rt__run_local(x, f, &err);
    bool same = !rc;
    for (int i = 0; i < x->n_out && same; i++) {
        uint64_t nb = clv_tensor_bytes(
            clv_graph_tensor(x->g, clv_graph_output(x->g, i)));
        same = memcmp(srv[i], f->out[i], (size_t)nb) == 0;
    }
    for (int i = 0; i < x->n_out; i++)
        free(srv[i]);
    free(srv);
    x->rep->audits++;
    if (!rc && !same) {
        x->rep->audit_failures++;
        f->rec->where = CLV_EDGE_FALLBACK;
        pthread_mutex_lock(&x->mu);
        bool first = !x->untrusted;
        x->untrusted = 1;
        if (x->conn_up)
            clv_rt__lose_connection(x);
        pthread_mutex_unlock(&x->mu);
        if (first)
            ELOG(x, "frame %llu: the server's result differs from the "
                    "whole model's on the edge: the server is not trusted; "
                    "every further frame runs on the edge",
                 (unsigned long long)f->id);
    }
    clv_rt__frame_finish(x, f, rc, rc ? clv_error_text(&err, rc) : NULL);
}

/* Finishes a frame on the edge because the server could not. */
static void finish_fallback(edge_ctx *x, eframe *f)
{
    clv_error err;
    clv_error_clear(&err);
    if (f->audit) {
        finish_audit(x, f);
        return;
    }
    f->rec->where = CLV_EDGE_FALLBACK;
    int rc = clv_rt__run_local(x, f, &err);
    clv_rt__frame_finish(x, f, rc, rc ? clv_error_text(&err, rc) : NULL);
}

/* The frame queues (sendq, fallq): singly linked through `next`, with a
 * tail for appending. Under mu. */
void clv_rt__fq_push(eframe **head, eframe **tail, eframe *f)
{
    f->next = NULL;
    if (*tail)
        (*tail)->next = f;
    else
        *head = f;
    *tail = f;
}

eframe *clv_rt__fq_pop(eframe **head, eframe **tail)
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
void clv_rt__lose_connection(edge_ctx *x)
{
    x->conn_up = 0;
    eframe *list[2] = {x->await, x->sendq_head};
    x->await = NULL;
    x->sendq_head = x->sendq_tail = NULL;
    for (int k = 0; k < 2; k++) {
        eframe *f = list[k];
        while (f) {
            eframe *next = f->next;
            clv_rt__fq_push(&x->fallq_head, &x->fallq_tail, f);
            f = next;
        }
    }
    pthread_cond_broadcast(&x->cv);
}

void clv_rt__push_fallback(edge_ctx *x, eframe *f)
{
    clv_rt__fq_push(&x->fallq_head, &x->fallq_tail, f);
    pthread_cond_broadcast(&x->cv);
}

/* Drains the fallback queue on the edge. */
void clv_rt__drain_fallback(edge_ctx *x)
{
    for (;;) {
        pthread_mutex_lock(&x->mu);
        eframe *f = clv_rt__fq_pop(&x->fallq_head, &x->fallq_tail);
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

/* Waits until fewer than `limit` frames are in the system, finishing
 * fallback frames meanwhile. */
void clv_rt__wait_in_system(edge_ctx *x, int limit)
{
    for (;;) {
        clv_rt__drain_fallback(x);
        pthread_mutex_lock(&x->mu);
        bool ok = x->in_system < limit;
        bool work = x->fallq_head != NULL;
        if (!ok && !work)
            clv_rt__cv_wait_ms(x, 100);
        pthread_mutex_unlock(&x->mu);
        if (ok)
            return;
    }
}
