/* The edge agent: a three-stage pipeline (edge compute -> paced sender ->
 * cloud, with a receiver collecting RESULTs), passive bandwidth estimates,
 * re-planning at frame boundaries, and edge-only fallback with reconnects.
 * This file: the options, the edge thread and clv_edge_run(); the other
 * concerns are listed in runtime/edge_internal.h. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/edge_internal.h"
#include "util/util.h"

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
    o->max_plans = 4;
    o->window = EDGE_WINDOW;
    o->accuracy_drop = 0.01;
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
    free(r->burst_ms);
    clv_plan_release(&r->plan);
    clv_edge_report_init(r);
}

uint64_t clv_rt__rel_ns(edge_ctx *x)
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
void clv_rt__cv_wait_ms(edge_ctx *x, int ms)
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

/* ---- frames ---------------------------------------------------------------- */

/* ---- the receiver ---------------------------------------------------------- */

/* ---- the connection (sender thread only) ---------------------------------- */

/* ---- the edge thread ------------------------------------------------------- */

static int random_input(edge_ctx *x, uint64_t frame, void *const *bufs)
{
    clv_rng rng;
    clv_rng_seed(&rng, x->o.seed * 1000003ull + frame);
    for (int i = 0; i < x->n_in; i++) {
        const clv_tensor *t = clv_graph_tensor(x->g, clv_graph_input(x->g, i));
        if (t->dtype == CLV_DT_FLOAT && x->o.frame_codec.kind >= CLV_CODEC_U8) {
            /* a camera's frame: pixels / 255, which u8 and PNG keep */
            float *v = bufs[i];
            for (int64_t k = 0; k < clv_tensor_numel(t); k++)
                v[k] = (float)(clv_rng_next(&rng) >> 56) / 255.0f;
        } else if (t->dtype == CLV_DT_FLOAT)
            clv_rng_fill_uniform(&rng, bufs[i], (size_t)clv_tensor_numel(t),
                                 0.0f, 1.0f);
        else
            memset(bufs[i], 0, (size_t)clv_tensor_bytes(t));
    }
    return 0;
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
            clv_rt__frame_free(x, f);
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        }
    }
    pthread_mutex_lock(&x->mu);
    f->plan = x->cur;
    f->plan->refs++;
    f->codec = f->plan->codec;
    bool up = x->conn_up && clv_net_now_ns() >= x->busy_until;
    x->in_system++;
    pthread_mutex_unlock(&x->mu);
    eplan *p = f->plan;
    f->rec->plan_version = p->version;
    f->rec->t_start = clv_rt__rel_ns(x);
    clv_error ferr;
    clv_error_clear(&ferr);
    rc = x->o.input ? x->o.input(x->o.input_ctx, k, f->in, &ferr)
                    : random_input(x, k, f->in);
    if (rc) {
        clv_rt__frame_finish(x, f, rc, clv_error_text(&ferr, rc));
        return 0;
    }
    if (p->part.n_cloud == 0 || !up) {
        f->rec->where = p->part.n_cloud == 0 ? CLV_EDGE_LOCAL : CLV_EDGE_FALLBACK;
        rc = clv_rt__run_local(x, f, &ferr);
        f->rec->t_edge_end = clv_rt__rel_ns(x);
        clv_rt__frame_finish(x, f, rc, rc ? clv_error_text(&ferr, rc) : NULL);
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
            clv_rt__frame_finish(x, f, rc, "out of memory");
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
        clv_throttle_begin(&x->th);
        rc = ni > 16 ? clv_error_set(&ferr, CLV_ELIMIT, "too many inputs")
                     : clv_engine_run(p->eng, ein, f->edge_out, &ferr);
        clv_throttle_end(&x->th);
        if (rc) {
            f->rec->t_edge_end = clv_rt__rel_ns(x);
            clv_rt__frame_finish(x, f, rc, clv_error_text(&ferr, rc));
            return 0;
        }
    }
    f->rec->t_edge_end = clv_rt__rel_ns(x);
    pthread_mutex_lock(&x->mu);
    clv_rt__fq_push(&x->sendq_head, &x->sendq_tail, f);
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    return 0;
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
        o->slowdown < 0 || o->slowdown > 1 || o->link_bps < 0 ||
        o->max_plans < 1 || o->n_partitions < 0 || o->window < 1 ||
        o->burst < 0 ||
        (o->n_partitions > 0) != (o->partitions != NULL))
        return clv_error_set(err, CLV_EINVAL, "edge options out of range");
    for (int i = 0; i < o->n_partitions; i++)
        if (o->partitions[i].n_nodes != clv_graph_n_nodes(g))
            return clv_error_set(err, CLV_EINVAL,
                                 "partition %d is of a graph of %d nodes, "
                                 "not of this one (%d)",
                                 i, o->partitions[i].n_nodes,
                                 clv_graph_n_nodes(g));
    if (o->server && o->planner != CLV_PLAN_EDGE && !o->partitions &&
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
    clv_throttle_init(&x.th, o->slowdown > 0 ? o->slowdown : 1);
    /* the edge is made to compute at fraction F of a CPU whatever else
     * runs on this machine: busy is CPU time while one thread runs it */
    x.th.cpu_time = o->threads <= 1;
    /* edge-only never needs the server; cloud-only never re-plans */
    if (x.o.planner == CLV_PLAN_EDGE)
        x.o.server = NULL;
    if (x.o.planner == CLV_PLAN_CLOUD || x.o.partitions)
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
    if ((rc = clv_codec_check(&o->codec, err)) ||
        (rc = clv_codec_check(&o->frame_codec, err)))
        goto done;
    if (o->codec.kind != CLV_CODEC_RAW && o->codec.kind != CLV_CODEC_QUANT) {
        rc = clv_error_set(err, CLV_EINVAL,
                           "the cut tensors' codec is raw or a quantization; "
                           "u8, PNG and JPEG are for frames (frame_codec)");
        goto done;
    }
    if (o->planner == CLV_PLAN_JALAD && !o->jalad_table) {
        rc = clv_error_set(err, CLV_EINVAL, "jalad needs a measured table");
        goto done;
    }
    if (!(x.enc = clv_codec_ctx_new())) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
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
        int crc = clv_rt__open_conn(&x, o->plan_bps <= 0 && x.o.adapt, &probe_bps,
                            &cerr);
        if (crc)
            ELOG(&x, "cannot reach the server (%s); running on the edge "
                     "until it answers",
                 clv_error_text(&cerr, crc));
    }
    out->probe_bps = probe_bps;
    clv_rt__take_server(&x); /* the first plan is made just below */
    double bps = o->plan_bps > 0 ? o->plan_bps : probe_bps;
    if (!(bps > 0) && o->schedule)
        bps = clv_net_schedule_rate_at(o->schedule, 0);
    if (!(bps > 0))
        bps = o->link_bps > 0 ? o->link_bps : 18.88e6;
    rc = x.o.partitions ? clv_rt__use_partition(&x, &x.o.partitions[0], NULL,
                                                bps, true, err)
                        : clv_rt__replan(&x, bps, true, err);
    if (rc || (x.cur->pred.n_nodes &&
               (rc = clv_plan_copy(&out->plan, &x.cur->pred, err))))
        goto done;
    out->plan_bps = bps;
    if (x.cur)
        snprintf(out->plan_cut, sizeof out->plan_cut, "%s", x.cur->cut);
    out->rtt_ms = x.rtt_ms;
    clv_net_bw_seed(x.bw, bps);
    if (x.pacer)
        clv_net_pacer_restart(x.pacer);
    x.link_free_ns = 0; /* the first send takes the full bucket's credit */
    x.t0 = clv_net_now_ns();
    x.last_send_ns = x.last_probe_ns = clv_net_now_ns();
    if (x.o.server) {
        if (pthread_create(&tx, NULL, clv_rt__tx_main, &x)) {
            rc = clv_error_set(err, CLV_ENOMEM, "cannot start a thread");
            goto done;
        }
        tx_running = 1;
    }

    /* the edge stage */
    for (int k = 0; k < o->frames; k++) {
        /* one frame at a time, or a burst that starts when the one
         * before has finished, or the window */
        if ((k > 0 && k <= o->sequential) ||
            (o->burst > 0 && k > 0 && k % o->burst == 0))
            clv_rt__wait_in_system(&x, 1);
        else
            clv_rt__wait_in_system(&x, o->window);
        if (o->fps > 0) {
            uint64_t due = (uint64_t)((double)k * 1e9 / o->fps);
            uint64_t now = clv_rt__rel_ns(&x);
            if (due > now)
                sleep_ns(due - now);
        }
        if (x.o.partitions) {
            rc = clv_rt__use_partition(
                &x, &x.o.partitions[k % x.o.n_partitions], NULL, x.cur->bps,
                false, err);
            if (rc)
                break;
        } else if (clv_rt__take_server(&x) && x.o.planner != CLV_PLAN_EDGE) {
            /* a server came up since the last plan (late, or another one
             * after a reconnect): plan again with its times */
            pthread_mutex_lock(&x.mu);
            double est = clv_net_bw_estimate(x.bw);
            pthread_mutex_unlock(&x.mu);
            double bps = x.o.adapt && est > 0 ? est : x.cur->bps;
            clv_error perr;
            clv_error_clear(&perr);
            ELOG(&x, "connected: planning again with %s times",
                 x.rep->server_times ? "the server's" : "the given");
            int prc = clv_rt__replan(&x, bps, false, &perr);
            if (prc)
                ELOG(&x, "re-planning failed: %s", clv_error_text(&perr, prc));
        } else if (x.o.adapt && x.o.server && x.o.planner != CLV_PLAN_EDGE &&
            x.o.planner != CLV_PLAN_CLOUD) {
            pthread_mutex_lock(&x.mu);
            double est = clv_net_bw_estimate(x.bw);
            double ref = x.cur->bps;
            bool up = x.conn_up;
            pthread_mutex_unlock(&x.mu);
            if (up && est > 0 && fabs(est / ref - 1) > x.o.adapt_threshold) {
                clv_error perr;
                clv_error_clear(&perr);
                int prc = clv_rt__replan(&x, est, false, &perr);
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
        clv_rt__drain_fallback(&x);
        pthread_mutex_lock(&x.mu);
        bool all = x.in_system == 0;
        if (!all && !x.fallq_head)
            clv_rt__cv_wait_ms(&x, 100);
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
        clv_rt__drop_conn(&x);
    }
    /* frames that never got going (an error stopped the loop) */
    clv_rt__drain_fallback(&x);
    if (out->frames) {
        clv_rt__summarise(out, o->sequential);
        if (o->burst > 0 && clv_rt__burst_makespans(out, o->burst))
            rc = rc ? rc : clv_error_set(err, CLV_ENOMEM, "out of memory");
        out->wall_s = (double)clv_rt__rel_ns(&x) / 1e9;
    }
    out->bw_bps = x.bw ? clv_net_bw_estimate(x.bw) : 0;
    while (x.plans) {
        eplan *p = x.plans;
        x.plans = p->next;
        clv_rt__eplan_free(p);
    }
    clv_engine_free(x.whole);
    free(x.t_cloud_srv);
    free(x.t_cloud_new);
    free(x.held);
    clv_net_bw_free(x.bw);
    clv_net_pacer_free(x.pacer);
    clv_codec_ctx_free(x.enc);
    clv_codec_ctx_free(x.audit_cx[0]);
    clv_codec_ctx_free(x.audit_cx[1]);
    pthread_mutex_destroy(&x.mu);
    pthread_cond_destroy(&x.cv);
    return rc;
}
