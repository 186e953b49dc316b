/* Measuring a profile with the engine, and the duty-cycle throttle. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleave/engine.h"
#include "profile/internal.h"
#include "util/util.h"

/* ---- clock and throttle --------------------------------------------------- */

double clv_profile_now(void)
{
    return clv_util_now_s();
}

int clv_throttle_init(clv_throttle *t, double fraction)
{
    memset(t, 0, sizeof *t);
    t->start_s = -1;
    if (!(fraction > 0 && fraction <= 1)) {
        t->fraction = 1;
        return CLV_EINVAL;
    }
    t->fraction = fraction;
    return 0;
}

/* Sleeps `s` seconds (restarting after signals). */
static void sleep_seconds(double s)
{
    struct timespec req, rem;
    if (!(s > 0))
        return;
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (double)req.tv_sec) * 1e9);
    if (req.tv_nsec > 999999999L)
        req.tv_nsec = 999999999L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

double clv_throttle_pay(clv_throttle *t, double busy_s)
{
    if (!(busy_s > 0) || !(t->fraction < 1))
        return 0;
    t->busy_s += busy_s;
    t->debt_s += busy_s * (1 - t->fraction) / t->fraction;
    if (t->debt_s < CLV_THROTTLE_MIN_SLEEP_S)
        return 0;
    double t0 = clv_profile_now();
    sleep_seconds(t->debt_s);
    double slept = clv_profile_now() - t0;
    /* oversleeping becomes negative debt, paid back by the next call */
    t->debt_s -= slept;
    t->slept_s += slept;
    return slept;
}

void clv_throttle_begin(clv_throttle *t)
{
    t->start_s = clv_profile_now();
    if (t->cpu_time)
        t->start_cpu_s = clv_util_thread_cpu_s();
}

/* cpu_time: the work since begin() is made to last busy / F of wall-clock
 * time; lateness is not carried, a small oversleep is. */
static double pay_cpu(clv_throttle *t, double busy, double wall)
{
    double owe = busy / t->fraction - wall + t->debt_s;
    t->busy_s += busy;
    if (owe < CLV_THROTTLE_MIN_SLEEP_S) {
        t->debt_s = owe < -CLV_THROTTLE_MAX_CREDIT_S ? 0 : owe;
        return 0;
    }
    double t0 = clv_profile_now();
    sleep_seconds(owe);
    double slept = clv_profile_now() - t0;
    t->slept_s += slept;
    t->debt_s = owe - slept;
    if (t->debt_s < -CLV_THROTTLE_MAX_CREDIT_S)
        t->debt_s = -CLV_THROTTLE_MAX_CREDIT_S;
    return slept;
}

double clv_throttle_end(clv_throttle *t)
{
    if (t->start_s < 0)
        return 0;
    double wall = clv_profile_now() - t->start_s;
    t->start_s = -1;
    if (!t->cpu_time) {
        clv_throttle_pay(t, wall);
        return wall;
    }
    double busy = clv_util_thread_cpu_s() - t->start_cpu_s;
    if (t->fraction < 1)
        pay_cpu(t, busy, wall);
    return busy;
}

/* ---- measuring ------------------------------------------------------------ */

void clv_profile_options_init(clv_profile_options *o)
{
    memset(o, 0, sizeof *o);
    o->runs = 10;
    o->warmup = 2;
    o->threads = 1;
    o->seed = 1;
}

static int check_options(const clv_profile_options *o, clv_error *err)
{
    if (o->runs < 1 || o->runs > CLV_PROFILE_MAX_RUNS)
        return clv_error_set(err, CLV_EINVAL,
                             "profile: runs is %d; it must be 1 to %d",
                             o->runs, CLV_PROFILE_MAX_RUNS);
    if (o->warmup < 0 || o->warmup > CLV_PROFILE_MAX_RUNS)
        return clv_error_set(err, CLV_EINVAL,
                             "profile: warmup is %d; it must be 0 to %d",
                             o->warmup, CLV_PROFILE_MAX_RUNS);
    if (o->threads < 0 || o->threads > CLV_ENGINE_MAX_THREADS)
        return clv_error_set(err, CLV_EINVAL,
                             "profile: threads is %d; it must be 1 to %d",
                             o->threads, CLV_ENGINE_MAX_THREADS);
    if (!isfinite(o->cpu_quota) || o->cpu_quota < 0)
        return clv_error_set(err, CLV_EINVAL,
                             "profile: cpu_quota is %g; it must be >= 0",
                             o->cpu_quota);
    if (!isfinite(o->slowdown) || o->slowdown < 0 || o->slowdown > 1)
        return clv_error_set(err, CLV_EINVAL,
                             "profile: slowdown is %g; it must be in (0, 1] "
                             "(or 0 for none)",
                             o->slowdown);
    return 0;
}

int clv_profile__fill_nodes(const clv_graph *g, clv_profile *out,
                            clv_error *err)
{
    int n = clv_graph_n_nodes(g);
    if (n > 0) {
        out->nodes = calloc((size_t)n, sizeof *out->nodes);
        if (!out->nodes)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        const clv_node *nd = clv_graph_node(g, i);
        clv_profile_node *pn = &out->nodes[i];
        out->n_nodes = i + 1;
        pn->name = clv_util_strdup(nd->name);
        pn->op = clv_util_strdup(clv_op_name(nd->op));
        pn->op_class = clv_util_strdup(clv_profile_op_class(g, i));
        if (!pn->name || !pn->op || !pn->op_class)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        pn->out_bytes = nd->out_bytes;
        pn->flops = nd->flops;
        pn->in_bytes = clv_profile__in_bytes(g, i);
        pn->param_bytes = nd->param_bytes;
    }
    uint64_t in = 0;
    for (int i = 0; i < clv_graph_n_inputs(g); i++)
        in += clv_tensor_bytes(clv_graph_tensor(g, clv_graph_input(g, i)));
    out->input_bytes = in;
    return 0;
}

/* Gives every engine input a buffer of seeded values and every output a
 * buffer. */
static int make_buffers(const clv_engine *e, const clv_graph *g,
                        uint64_t seed, void ***ins, void ***outs,
                        clv_error *err)
{
    int ni = clv_engine_n_inputs(e), no = clv_engine_n_outputs(e);
    clv_rng rng;
    clv_rng_seed(&rng, seed);
    *ins = calloc((size_t)ni + 1, sizeof **ins);
    *outs = calloc((size_t)no + 1, sizeof **outs);
    if (!*ins || !*outs)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < ni; i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_input(e, i));
        uint64_t bytes = clv_tensor_bytes(t);
        (*ins)[i] = calloc(bytes ? (size_t)bytes : 1, 1);
        if (!(*ins)[i])
            return clv_error_set(err, CLV_ENOMEM,
                                 "out of memory for input '%s'", t->name);
        if (t->dtype == CLV_DT_FLOAT)
            clv_rng_fill_uniform(&rng, (*ins)[i], (size_t)(bytes / 4), 0.0f,
                                 1.0f);
    }
    for (int i = 0; i < no; i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_output(e, i));
        uint64_t bytes = clv_tensor_bytes(t);
        (*outs)[i] = malloc(bytes ? (size_t)bytes : 1);
        if (!(*outs)[i])
            return clv_error_set(err, CLV_ENOMEM,
                                 "out of memory for output '%s'", t->name);
    }
    return 0;
}

static void free_buffers(void **v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int clv_profile_measure(const clv_graph *g, const clv_profile_options *opt,
                        clv_profile *out, clv_error *err)
{
    clv_profile_options o;
    clv_engine_options eo;
    clv_engine *e = NULL;
    clv_throttle th;
    void **ins = NULL, **outs = NULL;
    double *samples = NULL, *node_s = NULL, *total = NULL, *col = NULL;
    int rc, n_steps = 0, n_in = 0, n_out = 0;

    clv_profile_release(out);
    if (opt)
        o = *opt;
    else
        clv_profile_options_init(&o);
    if (o.threads == 0)
        o.threads = 1;
    if (!g || !clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "profile: the graph is not finalized");
    if ((rc = check_options(&o, err)))
        return rc;
    bool slow = o.slowdown > 0 && o.slowdown < 1;
    clv_throttle_init(&th, slow ? o.slowdown : 1);

    out->model = clv_util_strdup(o.model ? o.model : clv_graph_name(g));
    out->device = clv_util_strdup(o.device ? o.device : "local");
    if (!out->model || !out->device) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    out->threads = o.threads;
    out->runs = o.runs;
    out->warmup = o.warmup;
    out->cpu_quota = o.cpu_quota;
    out->slowdown = slow ? o.slowdown : 0;
    if ((rc = clv_profile__fill_nodes(g, out, err)))
        goto fail;

    memset(&eo, 0, sizeof eo);
    eo.threads = o.threads;
    eo.no_fuse = !o.fuse;
    if ((rc = clv_engine_create(g, NULL, 0, &eo, &e, err)))
        goto fail;
    n_in = clv_engine_n_inputs(e);
    n_out = clv_engine_n_outputs(e);
    if ((rc = make_buffers(e, g, o.seed, &ins, &outs, err)))
        goto fail;
    n_steps = clv_engine_n_nodes(e);
    int n = clv_graph_n_nodes(g);
    samples = malloc(((size_t)n_steps * (size_t)o.runs + 1) * sizeof *samples);
    node_s = malloc(((size_t)n_steps + 1) * sizeof *node_s);
    total = malloc(((size_t)o.runs + 1) * sizeof *total);
    col = malloc(((size_t)o.runs + 1) * sizeof *col);
    if (!samples || !node_s || !total || !col) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }

    for (int r = 0; r < o.warmup + o.runs; r++) {
        double t0 = clv_profile_now();
        rc = clv_engine_run_timed(e, (const void *const *)ins, outs, node_s,
                                  err);
        double busy = clv_profile_now() - t0;
        if (rc)
            goto fail;
        double slept = clv_throttle_pay(&th, busy);
        if (r < o.warmup)
            continue;
        total[r - o.warmup] = busy + slept;
        memcpy(samples + (size_t)(r - o.warmup) * (size_t)n_steps, node_s,
               (size_t)n_steps * sizeof *node_s);
    }

    /* Every graph node is a step of an engine over all nodes (fused into
     * an earlier step: 0 ms); a node the engine did not list (it should
     * not happen) keeps 0 ms. */
    for (int k = 0; k < n_steps; k++) {
        int node = clv_engine_node(e, k);
        if (node < 0 || node >= n)
            continue;
        for (int r = 0; r < o.runs; r++)
            col[r] = samples[(size_t)r * (size_t)n_steps + (size_t)k];
        double m;
        if (o.cpu_quota > 0) {
            m = 0;
            for (int r = 0; r < o.runs; r++)
                m += col[r];
            m = m / o.runs * 1e3;
        } else {
            m = clv_util_median(col, o.runs) * 1e3;
        }
        if (slow)
            m /= o.slowdown;
        out->nodes[node].ms = m;
    }
    double fastest = total[0];
    for (int r = 1; r < o.runs; r++)
        fastest = fmin(fastest, total[r]);
    out->min_total_ms = fastest * 1e3;
    out->total_ms = clv_util_median(total, o.runs) * 1e3;
    out->node_mean = o.cpu_quota > 0;
    rc = 0;
fail:
    clv_engine_free(e);
    free_buffers(ins, n_in);
    free_buffers(outs, n_out);
    free(samples);
    free(node_s);
    free(total);
    free(col);
    if (rc)
        clv_profile_release(out);
    return rc;
}
