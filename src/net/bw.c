/* Bandwidth: the active two-size probe and the passive EWMA estimator. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"
#include "util/util.h"

/* ---- the active probe ------------------------------------------------------- */

#define PROBE_MAX_REPEATS 31

void clv_net_probe_options_init(clv_net_probe_options *o)
{
    o->min_bytes = 4 * 1024;
    o->max_bytes = (uint64_t)32 << 20;
    o->target_ms = 200;
    o->repeats = 3;
}

double clv_net_probe_bandwidth(uint64_t small_bytes, uint64_t small_ns,
                               uint64_t large_bytes, uint64_t large_ns)
{
    if (large_bytes <= small_bytes || large_ns <= small_ns)
        return 0;
    return (double)(large_bytes - small_bytes) * 8.0 * 1e9 /
           (double)(large_ns - small_ns);
}

int clv_net_answer_probe(clv_net_conn *c, const clv_net_msg *probe,
                         clv_error *err)
{
    if (!probe || probe->type != CLV_NET_PROBE)
        return clv_error_set(err, CLV_EINVAL, "not a PROBE");
    clv_net_msg a;
    clv_net_msg_init(&a);
    a.type = CLV_NET_PROBE_ACK;
    a.probe_ack.id = probe->probe.id;
    a.probe_ack.bytes = probe->payload_len;
    a.probe_ack.recv_ns = probe->t_done_ns > probe->t_header_ns
                              ? probe->t_done_ns - probe->t_header_ns
                              : 0;
    return clv_net_send(c, &a, NULL, err);
}

/* Sends one probe with `fill` filler bytes and waits for its answer.
 * *ns is the response time, *ack the receiver's report. */
static int probe_once(clv_net_conn *c, uint64_t id, uint64_t fill,
                      uint64_t *ns, clv_net_probe_ack *ack, clv_error *err)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_PROBE;
    m.probe.id = id;
    m.probe.fill = fill;
    uint64_t t0 = clv_net_now_ns();
    int rc = clv_net_send(c, &m, NULL, err);
    if (rc)
        return rc;
    if ((rc = clv_net_recv(c, &m, err)))
        return rc;
    uint64_t t1 = clv_net_now_ns();
    if (m.type != CLV_NET_PROBE_ACK) {
        rc = clv_error_set(err, CLV_EFORMAT,
                           "%s: expected PROBE_ACK, got %s",
                           clv_net_conn_peer(c), clv_net_type_name(m.type));
    } else if (m.probe_ack.id != id || m.probe_ack.bytes != 16 + fill) {
        rc = clv_error_set(err, CLV_EFORMAT,
                           "%s: PROBE_ACK for probe %llu of %llu bytes, "
                           "expected probe %llu of %llu",
                           clv_net_conn_peer(c),
                           (unsigned long long)m.probe_ack.id,
                           (unsigned long long)m.probe_ack.bytes,
                           (unsigned long long)id,
                           (unsigned long long)(16 + fill));
    } else {
        *ns = t1 - t0;
        *ack = m.probe_ack;
    }
    clv_net_msg_release(&m);
    return rc;
}

bool clv_net__probe_disagree(const double *est, int n, double ref)
{
    double v[PROBE_MAX_REPEATS + 2];
    if (!(ref > 0) || n < 1 || n > PROBE_MAX_REPEATS + 2)
        return false;
    memcpy(v, est, (size_t)n * sizeof *v);
    double m = clv_util_median(v, n);
    return !(fabs(m - ref) <= 0.1 * ref);
}

int clv_net_probe_link(clv_net_conn *c, const clv_net_probe_options *opt,
                       clv_net_probe_result *out, clv_error *err)
{
    clv_net_probe_options o;
    clv_net_probe_ack ack;
    uint64_t id = 1, ns_s, ns_l;
    double est[PROBE_MAX_REPEATS + 2], recv[PROBE_MAX_REPEATS + 1];
    double ref = 0; /* the estimate of the sizing's last pair */
    int rc;
    if (opt)
        o = *opt;
    else
        clv_net_probe_options_init(&o);
    if (o.min_bytes < 64 || o.max_bytes < 2 * o.min_bytes ||
        !(o.target_ms > 0) || o.repeats < 1 ||
        o.repeats > PROBE_MAX_REPEATS)
        return clv_error_set(err, CLV_EINVAL,
                             "probe: need 64 <= min_bytes, 2*min_bytes <= "
                             "max_bytes, target_ms > 0, 1..%d repeats",
                             PROBE_MAX_REPEATS);
    memset(out, 0, sizeof *out);
    if ((rc = probe_once(c, id++, 0, &ns_s, &ack, err)))
        return rc;
    out->rtt_ms = (double)ns_s * 1e-6;

    /* Size the pair: grow until the response times differ by target_ms. */
    uint64_t s = o.min_bytes;
    double target_ns = o.target_ms * 1e6;
    for (;;) {
        if ((rc = probe_once(c, id++, s, &ns_s, &ack, err)) ||
            (rc = probe_once(c, id++, 2 * s, &ns_l, &ack, err)))
            return rc;
        out->pairs++;
        double diff = ns_l > ns_s ? (double)(ns_l - ns_s) : 0;
        if (diff >= target_ns) {
            ref = clv_net_probe_bandwidth(16 + s, ns_s, 16 + 2 * s, ns_l);
            break;
        }
        if (s >= o.max_bytes / 2)
            break;
        /* Aim 20% beyond the target from what this pair suggests. */
        /* Trust the pair's estimate once the difference is measurable (a
         * tenth of the target; smaller ones may be a burst the link let
         * through at once); below that, grow fourfold. */
        uint64_t next = s * 4;
        if (diff >= target_ns / 10) {
            double bps = clv_net_probe_bandwidth(s, ns_s, 2 * s, ns_l);
            double want = bps / 8 * target_ns * 1e-9 * 1.2;
            next = s + s / 2;
            if (want > (double)next)
                next = want < (double)o.max_bytes ? (uint64_t)want
                                                  : o.max_bytes;
        }
        if (next > o.max_bytes / 2)
            next = o.max_bytes / 2;
        if (next <= s)
            break;
        s = next;
    }
    /* Drain whatever burst the link allows, so that every measured probe
     * starts in the same state: right after a large one. */
    if ((rc = probe_once(c, id++, 2 * s, &ns_l, &ack, err)))
        return rc;
    /* One pair is at the mercy of one hiccup of the path or of either
     * host (a preempted thread, a lost packet): on a loaded machine a
     * single pair strays by 10-20%, now and then fails outright. The
     * sizing's last pair measured the same thing: when the median of the
     * measured pairs strays more than 10% from it, one more pair is
     * measured and the median of all, that pair included, is kept. */
    int n = 0;
    for (int i = 0; i < o.repeats + 1; i++) {
        if (i == o.repeats && !clv_net__probe_disagree(est, n, ref))
            break;
        if ((rc = probe_once(c, id++, s, &ns_s, &ack, err)) ||
            (rc = probe_once(c, id++, 2 * s, &ns_l, &ack, err)))
            return rc;
        out->pairs++;
        est[n] = clv_net_probe_bandwidth(16 + s, ns_s, 16 + 2 * s, ns_l);
        recv[n++] = ack.recv_ns
                        ? (double)ack.bytes * 8e9 / (double)ack.recv_ns
                        : 0;
        out->diff_ms = ns_l > ns_s ? (double)(ns_l - ns_s) * 1e-6 : 0;
    }
    out->small_bytes = 16 + s;
    out->large_bytes = 16 + 2 * s;
    out->recv_bps = clv_util_median(recv, n);
    if (n > o.repeats)
        est[n++] = ref;
    out->bps = clv_util_median(est, n);
    if (!(out->bps > 0))
        return clv_error_set(err, CLV_ERANGE,
                             "%s: the probes of %llu and %llu bytes took no "
                             "measurably different time; the link is too fast "
                             "to probe within %llu bytes",
                             clv_net_conn_peer(c),
                             (unsigned long long)out->small_bytes,
                             (unsigned long long)out->large_bytes,
                             (unsigned long long)o.max_bytes);
    return 0;
}

/* ---- the passive estimator ------------------------------------------------- */

struct clv_net_bw {
    clv_net_bw_options o;
    uint64_t acc_bytes, acc_ns; /* the sample being gathered */
    double ns_per_byte;         /* the EWMA */
    double last_bps;
    uint64_t n;
};

void clv_net_bw_options_init(clv_net_bw_options *o)
{
    o->alpha = 0.3;
    o->min_bytes = 32 * 1024;
    o->min_ns = 5000000;
}

int clv_net_bw_create(const clv_net_bw_options *o, clv_net_bw **out,
                      clv_error *err)
{
    *out = NULL;
    clv_net_bw_options d;
    if (!o) {
        clv_net_bw_options_init(&d);
        o = &d;
    }
    if (!(o->alpha > 0 && o->alpha <= 1))
        return clv_error_set(err, CLV_EINVAL,
                             "bandwidth estimator: alpha must be in (0, 1]");
    clv_net_bw *b = calloc(1, sizeof *b);
    if (!b)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    b->o = *o;
    *out = b;
    return 0;
}

void clv_net_bw_free(clv_net_bw *b)
{
    free(b);
}

void clv_net_bw_add(clv_net_bw *b, uint64_t bytes, uint64_t ns)
{
    if (!bytes || !ns)
        return;
    b->acc_bytes += bytes;
    b->acc_ns += ns;
    if (b->acc_bytes < b->o.min_bytes || b->acc_ns < b->o.min_ns)
        return;
    /* Averaging time per byte (not rates) weighs every sample alike and
     * gives the rate at which a typical transfer goes. */
    double x = (double)b->acc_ns / (double)b->acc_bytes;
    b->ns_per_byte = b->n ? b->o.alpha * x + (1 - b->o.alpha) * b->ns_per_byte
                          : x;
    b->last_bps = 8e9 / x;
    b->n++;
    b->acc_bytes = b->acc_ns = 0;
}

void clv_net_bw_seed(clv_net_bw *b, double bps)
{
    if (!(bps > 0) || !isfinite(bps))
        return;
    b->ns_per_byte = 8e9 / bps;
    b->last_bps = bps;
    b->n = 1;
    b->acc_bytes = b->acc_ns = 0;
}

double clv_net_bw_estimate(const clv_net_bw *b)
{
    return b->n ? 8e9 / b->ns_per_byte : 0;
}

double clv_net_bw_last(const clv_net_bw *b)
{
    return b->n ? b->last_bps : 0;
}

uint64_t clv_net_bw_samples(const clv_net_bw *b)
{
    return b->n;
}
