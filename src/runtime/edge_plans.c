/* The edge's plan cache: one engine per partition, found by partition,
 * at most o.max_plans kept; re-planning for a bandwidth. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/edge_internal.h"

void clv_rt__eplan_free(eplan *p)
{
    if (!p)
        return;
    clv_engine_free(p->eng);
    clv_partition_release(&p->part);
    clv_plan_release(&p->pred);
    free(p);
}

/* The bytes one FRAME of partition `part` puts on the wire: the header,
 * the frame fields and each tensor's description and data (encoded from
 * zeros), each tensor in its codec. Where a codec's size depends on the
 * values, a single crossing tensor takes `guess` bytes (the planner's
 * measured S_i(c), jalad's); otherwise non-zero (the planner's own size
 * then stands). */
static int frame_wire_bytes(edge_ctx *x, const clv_partition *part,
                            const clv_codec *codec, uint64_t guess,
                            uint64_t *out, clv_error *err)
{
    uint64_t most = 1;
    int rc = 0;
    *out = 0;
    if (part->n_send == 0)
        return 0;
    for (int i = 0; i < part->n_send; i++) {
        uint64_t nb = clv_tensor_bytes(clv_graph_tensor(x->g, part->send[i]));
        if (nb > most)
            most = nb;
    }
    void *zeros = calloc((size_t)most, 1);
    clv_net_tensor *ts = calloc((size_t)part->n_send, sizeof *ts);
    clv_net_buf buf = {0};
    if (!zeros || !ts) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < part->n_send && !rc; i++) {
        rc = clv_net_tensor_from_graph(x->g, part->send[i], zeros, &ts[i],
                                       err);
        bool input = clv_rt__input_pos(x, part->send[i]) >= 0;
        const clv_codec *cc = clv_rt__send_codec(x, codec, !input);
        const clv_tensor *gt = clv_graph_tensor(x->g, part->send[i]);
        uint64_t nb;
        if (rc || cc->kind == CLV_CODEC_RAW || gt->dtype != CLV_DT_FLOAT)
            continue;
        if (!clv_codec_fixed_bytes(cc, gt->ndim, gt->dims, &nb))
            nb = part->n_send == 1 ? guess : 0;
        if (!nb || nb > most) {
            rc = 1; /* the size depends on the values: not known here */
            goto out;
        }
        ts[i].codec = (int)cc->kind;
        ts[i].nbytes = nb;
    }
    if (!rc) {
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_FRAME;
        m.frame.plan_version = 1;
        m.frame.frame_id = 1;
        m.frame.n_tensors = (uint32_t)part->n_send;
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
    if (!pr->n_nodes || frame_wire_bytes(x, &p->part, &p->codec,
                                            pr->method == CLV_PLAN_JALAD ? pr->cut_bytes : 0,
                                            &wire, NULL) || !wire)
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

/* Takes prediction `pred` (may be NULL: none) into p for bandwidth bps. */
static int set_prediction(edge_ctx *x, eplan *p, const clv_plan *pred,
                          double bps, clv_error *err)
{
    p->bps = bps;
    if (!pred)
        return 0;
    int rc = clv_plan_copy(&p->pred, pred, err);
    if (!rc)
        predict_wire(x, p, bps);
    return rc;
}

/* A new plan for `part`: its edge engine and its cut's name. */
static int eplan_make(edge_ctx *x, const clv_partition *part, eplan **out,
                      clv_error *err)
{
    eplan *p = calloc(1, sizeof *p);
    int rc;
    *out = NULL;
    if (!p)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    clv_plan_init(&p->pred);
    clv_partition_init(&p->part);
    rc = clv_partition_copy(&p->part, part, err);
    if (!rc && part->n_edge > 0) {
        clv_engine_options eo = {0};
        eo.threads = x->o.threads;
        rc = clv_engine_create(x->g, part->edge_nodes, part->n_edge, &eo,
                               &p->eng, err);
    }
    if (rc) {
        clv_rt__eplan_free(p);
        return rc;
    }
    clv_partition_cut_text(x->g, part, p->cut, sizeof p->cut);
    p->codec = x->o.codec;
    *out = p;
    return 0;
}

/* Drops the least recently used plans beyond o.max_plans that no frame
 * uses and that are not current. Under mu. */
static void trim(edge_ctx *x)
{
    while (x->n_plans > x->o.max_plans) {
        eplan **victim = NULL;
        for (eplan **pp = &x->plans; *pp; pp = &(*pp)->next) {
            eplan *p = *pp;
            if (p != x->cur && p->refs == 0 &&
                (!victim || p->used < (*victim)->used))
                victim = pp;
        }
        if (!victim)
            return;
        eplan *p = *victim;
        *victim = p->next;
        x->n_plans--;
        clv_rt__eplan_free(p);
    }
}

static void record_switch(edge_ctx *x, const eplan *old, const eplan *p,
                          double bps)
{
    clv_edge_report *r = x->rep;
    clv_edge_switch *sw =
        realloc(r->switches, (size_t)(r->n_switches + 1) * sizeof *sw);
    if (sw) {
        r->switches = sw;
        sw = &sw[r->n_switches++];
        memset(sw, 0, sizeof *sw);
        sw->t_s = (double)clv_rt__rel_ns(x) / 1e9;
        sw->bw_bps = bps;
        sw->old_version = old ? old->version : 0;
        sw->new_version = p->version;
        sw->old_n_edge = old ? old->part.n_edge : 0;
        sw->new_n_edge = p->part.n_edge;
        sw->old_cut_bytes = old ? old->part.send_bytes : 0;
        sw->new_cut_bytes = p->part.send_bytes;
        snprintf(sw->old_cut, sizeof sw->old_cut, "%s", old ? old->cut : "");
        snprintf(sw->new_cut, sizeof sw->new_cut, "%s", p->cut);
    }
}

int clv_rt__use_partition(edge_ctx *x, const clv_partition *part,
                          const clv_plan *pred, double bps, bool initial,
                          clv_error *err)
{
    eplan *p = x->cur;
    int rc;
    /* jalad chooses the encoding with the cut: a kept partition takes the
     * new one (frames already started keep theirs) */
    const clv_codec *codec = pred && pred->method == CLV_PLAN_JALAD ? &pred->codec : NULL;
    if (p && clv_partition_equal(&p->part, part)) {
        /* same cut: the new rate is the reference; the prediction the
         * plan was made with stays, unless the encoding changed */
        p->bps = bps;
        if (codec && memcmp(codec, &p->codec, sizeof *codec)) {
            p->codec = *codec;
            if ((rc = set_prediction(x, p, pred, bps, err)))
                return rc;
        }
        pthread_mutex_lock(&x->mu);
        p->used = ++x->tick;
        pthread_mutex_unlock(&x->mu);
        return 0;
    }
    for (p = x->plans; p; p = p->next)
        if (clv_partition_equal(&p->part, part))
            break;
    bool made = p == NULL;
    if (made) {
        if ((rc = eplan_make(x, part, &p, err)))
            return rc;
        p->version = ++x->next_version;
        x->rep->engines_made += p->eng != NULL;
    }
    if (codec)
        p->codec = *codec;
    if ((rc = set_prediction(x, p, pred, bps, err))) {
        if (made)
            clv_rt__eplan_free(p);
        return rc;
    }
    pthread_mutex_lock(&x->mu);
    eplan *old = x->cur;
    if (made) {
        p->next = x->plans;
        x->plans = p;
        x->n_plans++;
    }
    x->cur = p;
    p->used = ++x->tick;
    trim(x);
    pthread_mutex_unlock(&x->mu);
    if (initial && !p->pred.n_nodes) {
        ELOG(x, "plan %llu (given): %d edge / %d cloud nodes, cut %s, %.1f "
                "KiB",
             (unsigned long long)p->version, p->part.n_edge, p->part.n_cloud,
             p->cut, (double)p->part.send_bytes / 1024.0);
        return 0;
    }
    if (initial) {
        ELOG(x, "plan %llu (%s, %.3g Mbit/s): %d edge / %d cloud nodes, cut "
                "%s, %.1f KiB; predicted T_e %.1f T_t %.1f T_c %.1f ms, "
                "latency %.1f ms, %.2f fps",
             (unsigned long long)p->version,
             clv_plan_method_name(x->o.planner), bps / 1e6, p->part.n_edge,
             p->part.n_cloud, p->cut, (double)p->part.send_bytes / 1024.0,
             p->pred.edge_ms, p->pred.transfer_ms, p->pred.cloud_ms,
             p->pred.latency_ms, p->pred.fps);
        return 0;
    }
    if (x->o.partitions)
        return 0; /* a given schedule of cuts: not a switch, not news */
    record_switch(x, old, p, bps);
    ELOG(x, "t=%.2f s: bandwidth %.3g Mbit/s: switch plan %llu -> %llu%s, "
            "cut %s -> %s (%d -> %d edge nodes), predicted latency "
            "%.1f ms, %.2f fps",
         (double)clv_rt__rel_ns(x) / 1e9, bps / 1e6,
         (unsigned long long)(old ? old->version : 0),
         (unsigned long long)p->version, made ? "" : " (cached)",
         old ? old->cut : "-", p->cut, old ? old->part.n_edge : 0,
         p->part.n_edge, p->pred.latency_ms, p->pred.fps);
    return 0;
}

/* Plans for bandwidth bps with the edge's planner: the frame priced by
 * its encoding when that has a fixed size (u8), jalad with its table. */
static int plan_for(edge_ctx *x, double bps, clv_plan *plan, clv_error *err)
{
    clv_plan_options o;
    clv_plan_options_init(&o);
    o.method = x->o.planner;
    o.link.bandwidth_mbps = bps / 1e6;
    o.link.rtt_ms = x->rtt_ms > 0 ? x->rtt_ms : 0;
    o.fps = x->o.dads_fps > 0 ? x->o.dads_fps : 30;
    o.jalad_table = x->o.jalad_table;
    o.accuracy_drop = x->o.accuracy_drop;
    o.jalad_paper_loss = x->o.jalad_paper_loss;
    return clv_rt__plan(x->g, x->o.t_edge_ms, x->t_cloud, &o, &x->o.frame_codec, plan,
                        err);
}

bool clv_rt__take_server(edge_ctx *x)
{
    pthread_mutex_lock(&x->mu);
    double *t = x->t_cloud_new;
    bool connected = x->connected;
    x->t_cloud_new = NULL;
    x->connected = 0;
    pthread_mutex_unlock(&x->mu);
    if (t) {
        free(x->t_cloud_srv);
        x->t_cloud_srv = t;
        x->t_cloud = t;
        x->rep->server_times = true;
    }
    return connected;
}

int clv_rt__replan(edge_ctx *x, double bps, bool initial, clv_error *err)
{
    clv_plan plan;
    clv_partition all;
    int rc;
    clv_plan_init(&plan);
    clv_partition_init(&all);
    if (!x->o.t_edge_ms || !x->t_cloud) {
        /* nothing to plan with: everything on the edge */
        int n = clv_graph_n_nodes(x->g);
        unsigned char *e = malloc((size_t)n + 1);
        if (!e)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        memset(e, 1, (size_t)n);
        rc = clv_partition_make(x->g, e, &all, err);
        free(e);
        if (!rc)
            rc = clv_rt__use_partition(x, &all, NULL, bps, initial, err);
    } else {
        rc = plan_for(x, bps, &plan, err);
        if (!rc)
            rc = clv_rt__use_partition(x, &plan.part, &plan, bps, initial,
                                       err);
    }
    clv_partition_release(&all);
    clv_plan_release(&plan);
    return rc;
}
