/* The edge's report: its summary, as a Chrome trace and as JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "runtime/edge_internal.h"
#include "util/util.h"

static int event(FILE *fp, bool *first, const char *name, int tid,
                 uint64_t ts_ns, uint64_t dur_ns, uint64_t frame,
                 uint64_t version)
{
    int n = fprintf(fp,
                    "%s\n{\"name\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,"
                    "\"dur\":%.3f,\"pid\":1,\"tid\":%d,"
                    "\"args\":{\"frame\":%llu,\"plan\":%llu}}",
                    *first ? "" : ",", name, (double)ts_ns / 1e3,
                    (double)dur_ns / 1e3, tid, (unsigned long long)frame,
                    (unsigned long long)version);
    *first = false;
    return n < 0;
}

int clv_edge_write_trace(const clv_edge_report *r, const char *path,
                         clv_error *err)
{
    FILE *fp = fopen(path, "w");
    bool first = true;
    int bad = 0;
    if (!fp)
        return clv_error_set(err, CLV_EIO, "%s: cannot write the trace",
                             path);
    bad |= fputc('[', fp) == EOF;
    for (int i = 0; i < r->n_frames; i++) {
        const clv_edge_frame *f = &r->frames[i];
        if (!f->t_done)
            continue;
        uint64_t v = f->plan_version;
        if (f->t_edge_end > f->t_start)
            bad |= event(fp, &first,
                         f->where == CLV_EDGE_SPLIT ? "edge" : "edge (all)",
                         1, f->t_start, f->t_edge_end - f->t_start, f->id, v);
        if (f->t_send_end > f->t_send_start && f->t_send_start)
            bad |= event(fp, &first, "send", 2, f->t_send_start,
                         f->t_send_end - f->t_send_start, f->id, v);
        if (f->where == CLV_EDGE_SPLIT && f->cloud_compute_ns) {
            /* the server's durations, placed after the frame arrived */
            uint64_t s = f->t_send_end + f->cloud_queue_ns;
            uint64_t d = f->cloud_compute_ns;
            if (s + d > f->t_done)
                s = f->t_done > d ? f->t_done - d : 0;
            bad |= event(fp, &first, "cloud", 3, s, d, f->id, v);
        }
        if (f->where == CLV_EDGE_FALLBACK)
            bad |= event(fp, &first, "fallback", 1, f->t_start,
                         f->t_done - f->t_start, f->id, v);
        bad |= event(fp, &first, "frame", 4, f->t_start,
                     f->t_done - f->t_start, f->id, v);
    }
    bad |= fputs("\n]\n", fp) == EOF;
    bad |= fclose(fp) != 0;
    if (bad)
        return clv_error_set(err, CLV_EIO, "%s: write failed", path);
    return 0;
}

char *clv_edge_report_json(const clv_edge_report *r)
{
    cJSON *o = cJSON_CreateObject(), *l, *b, *p, *sw;
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "frames", r->n_frames);
    cJSON_AddNumberToObject(o, "ok", r->n_ok);
    cJSON_AddNumberToObject(o, "failed", r->n_failed);
    cJSON_AddNumberToObject(o, "fallback", r->n_fallback);
    cJSON_AddNumberToObject(o, "reconnects", r->reconnects);
    cJSON_AddNumberToObject(o, "busy", r->n_busy);
    cJSON_AddNumberToObject(o, "audits", r->audits);
    cJSON_AddNumberToObject(o, "audit_failures", r->audit_failures);
    l = cJSON_AddObjectToObject(o, "latency_ms");
    if (l) {
        cJSON_AddNumberToObject(l, "p50", r->p50_ms);
        cJSON_AddNumberToObject(l, "p95", r->p95_ms);
        cJSON_AddNumberToObject(l, "max", r->max_ms);
        cJSON_AddNumberToObject(l, "mean", r->mean_ms);
    }
    cJSON_AddNumberToObject(o, "fps", r->fps);
    cJSON_AddNumberToObject(o, "wall_s", r->wall_s);
    cJSON_AddNumberToObject(o, "bytes_sent", (double)r->bytes_sent);
    b = cJSON_AddObjectToObject(o, "bandwidth_mbit");
    if (b) {
        cJSON_AddNumberToObject(b, "probe", r->probe_bps / 1e6);
        cJSON_AddNumberToObject(b, "estimate", r->bw_bps / 1e6);
        cJSON_AddNumberToObject(b, "planned", r->plan_bps / 1e6);
    }
    p = cJSON_AddObjectToObject(o, "plan");
    if (p) {
        cJSON_AddStringToObject(p, "planner",
                                clv_plan_method_name(r->plan.method));
        cJSON_AddStringToObject(p, "mode", clv_plan_mode_name(r->plan.mode));
        cJSON_AddStringToObject(p, "cloud_times",
                                r->server_times ? "server" : "edge");
        cJSON_AddNumberToObject(p, "rtt_ms", r->rtt_ms);
        cJSON_AddNumberToObject(p, "cut_bytes", (double)r->plan.cut_bytes);
        cJSON_AddNumberToObject(p, "edge_ms", r->plan.edge_ms);
        cJSON_AddNumberToObject(p, "transfer_ms", r->plan.transfer_ms);
        cJSON_AddNumberToObject(p, "cloud_ms", r->plan.cloud_ms);
        cJSON_AddNumberToObject(p, "latency_ms", r->plan.latency_ms);
        cJSON_AddNumberToObject(p, "max_stage_ms", r->plan.max_stage_ms);
        cJSON_AddNumberToObject(p, "fps", r->plan.fps);
        char cname[32];
        cJSON_AddStringToObject(p, "codec",
                                clv_codec_name(&r->plan.codec, cname, sizeof cname));
        cJSON_AddNumberToObject(p, "accuracy_loss", r->plan.accuracy_loss);
        cJSON_AddStringToObject(p, "cut", r->plan_cut);
    }
    /* Mean stage times over the frames after frame 0 (the warm-up) that
     * finished without error: where measured latency and the prediction
     * part, this says which stage did. */
    double st[5] = {0};
    int ns[5] = {0};
    for (int i = r->n_frames > 1 ? 1 : 0; i < r->n_frames; i++) {
        const clv_edge_frame *f = &r->frames[i];
        if (f->status || !f->t_done)
            continue;
        if (f->t_edge_end >= f->t_start && f->t_edge_end)
            st[0] += (double)(f->t_edge_end - f->t_start) / 1e6, ns[0]++;
        if (f->t_send_start && f->t_send_end >= f->t_send_start)
            st[1] += (double)(f->t_send_end - f->t_send_start) / 1e6,
                ns[1]++;
        if (f->where == CLV_EDGE_SPLIT) {
            st[2] += (double)f->cloud_compute_ns / 1e6, ns[2]++;
            st[3] += (double)f->cloud_queue_ns / 1e6, ns[3]++;
            st[4] += (double)f->cloud_recv_ns / 1e6, ns[4]++;
        }
    }
    cJSON *sm = cJSON_AddObjectToObject(o, "stage_ms");
    if (sm) {
        static const char *const names[5] = {"edge", "send", "cloud",
                                             "cloud_queue", "cloud_recv"};
        for (int k = 0; k < 5; k++)
            cJSON_AddNumberToObject(sm, names[k], ns[k] ? st[k] / ns[k] : 0);
    }
    sw = cJSON_AddArrayToObject(o, "switches");
    for (int i = 0; sw && i < r->n_switches; i++) {
        const clv_edge_switch *s = &r->switches[i];
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddNumberToObject(e, "t_s", s->t_s);
        cJSON_AddNumberToObject(e, "bandwidth_mbit", s->bw_bps / 1e6);
        cJSON_AddNumberToObject(e, "old_version", (double)s->old_version);
        cJSON_AddNumberToObject(e, "new_version", (double)s->new_version);
        cJSON_AddStringToObject(e, "old_cut", s->old_cut);
        cJSON_AddStringToObject(e, "new_cut", s->new_cut);
        cJSON_AddItemToArray(sw, e);
    }
    cJSON_AddNumberToObject(o, "engines_made", r->engines_made);
    if (r->n_bursts) {
        cJSON *b = cJSON_AddArrayToObject(o, "bursts_ms");
        for (int i = 0; b && i < r->n_bursts; i++)
            cJSON_AddItemToArray(b, isfinite(r->burst_ms[i])
                                        ? cJSON_CreateNumber(r->burst_ms[i])
                                        : cJSON_CreateNull());
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
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
void clv_rt__summarise(clv_edge_report *r, int sequential)
{
    double *lat = malloc(((size_t)r->n_frames + 1) * sizeof *lat);
    int n = 0, seq = sequential;
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
        qsort(lat, (size_t)n, sizeof *lat, clv_util_cmp_double);
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += lat[i];
        r->mean_ms = sum / n;
        r->p50_ms = n % 2 ? lat[n / 2] : (lat[n / 2 - 1] + lat[n / 2]) / 2;
        r->p95_ms = clv_util_quantile_sorted(lat, n, 0.95);
        r->max_ms = lat[n - 1];
    }
    if (piped >= 3 && last > first_done)
        r->fps = (piped - 1) / ((double)(last - first_done) / 1e9);
    else if (piped > 0 && last > first)
        r->fps = piped / ((double)(last - first) / 1e9);
    free(lat);
}

int clv_rt__burst_makespans(clv_edge_report *r, int burst)
{
    int nb = (r->n_frames + burst - 1) / burst;
    double *m = malloc(((size_t)nb + 1) * sizeof *m);
    if (!m)
        return CLV_ENOMEM;
    for (int b = 0; b < nb; b++) {
        uint64_t first = UINT64_MAX, last = 0;
        bool ok = true;
        for (int i = b * burst; i < (b + 1) * burst && i < r->n_frames; i++) {
            const clv_edge_frame *f = &r->frames[i];
            ok = ok && f->status == 0;
            if (f->t_start < first)
                first = f->t_start;
            if (f->t_done > last)
                last = f->t_done;
        }
        m[b] = ok && last >= first ? (double)(last - first) / 1e6 : NAN;
    }
    free(r->burst_ms);
    r->burst_ms = m;
    r->n_bursts = nb;
    return 0;
}
