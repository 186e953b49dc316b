/* The token-bucket pacer that emulates a link of a given rate. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/internal.h"

/* The automatic bucket: 20 ms of the rate, within these bounds. Grants are
 * an eighth of the bucket at most, so that a sleep that overshoots (the
 * scheduler is late) leaves its surplus in the bucket instead of losing
 * it to the cap, and the long-run rate stays exact. */
#define BURST_MIN 1500.0
#define BURST_MAX 262144.0
#define BURST_SECONDS 0.020
#define GRANT_DIV 8

struct clv_net_pacer {
    clv_net_clock clk;
    double bps;        /* the constant rate, when there is no schedule */
    int n_sched;
    double *sched_t;   /* seconds after t0 */
    double *sched_bps;
    uint64_t burst;    /* 0: automatic */
    double tokens;     /* bytes that may go now */
    uint64_t t0;       /* time 0 of the schedule */
    uint64_t last;     /* tokens are accounted up to here */
};

static uint64_t sys_now(void *ctx)
{
    (void)ctx;
    return clv_net_now_ns();
}

static void sys_sleep(void *ctx, uint64_t ns)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ns / 1000000000u),
                          (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static uint64_t now(const clv_net_pacer *p)
{
    return p->clk.now_ns(p->clk.ctx);
}

/* The rate at `t` seconds after t0, and the next change after it. */
static double rate_at(const clv_net_pacer *p, double t, double *next)
{
    if (!p->n_sched) {
        if (next)
            *next = INFINITY;
        return p->bps;
    }
    int i = 0;
    while (i + 1 < p->n_sched && p->sched_t[i + 1] <= t)
        i++;
    if (next)
        *next = i + 1 < p->n_sched ? p->sched_t[i + 1] : INFINITY;
    return p->sched_bps[i];
}

static double burst_for(const clv_net_pacer *p, double bps)
{
    if (p->burst)
        return (double)p->burst;
    double b = bps / 8 * BURST_SECONDS;
    return b < BURST_MIN ? BURST_MIN : b > BURST_MAX ? BURST_MAX : b;
}

static double seconds(const clv_net_pacer *p, uint64_t t)
{
    return t > p->t0 ? (double)(t - p->t0) * 1e-9 : 0.0;
}

/* Adds the tokens earned from p->last to t, following rate changes. */
static void accrue(clv_net_pacer *p, uint64_t t)
{
    while (p->last < t) {
        double next;
        double r = rate_at(p, seconds(p, p->last), &next);
        uint64_t end = t;
        if (isfinite(next)) {
            double nb = (double)p->t0 + next * 1e9;
            if (nb < (double)end)
                end = (uint64_t)ceil(nb);
            if (end <= p->last)
                end = p->last + 1;
        }
        p->tokens += r / 8 * (double)(end - p->last) * 1e-9;
        p->last = end;
    }
    double cap = burst_for(p, rate_at(p, seconds(p, t), NULL));
    if (p->tokens > cap)
        p->tokens = cap;
}

int clv_net_pacer_create(double bps, uint64_t burst,
                         const clv_net_clock *clock, clv_net_pacer **out,
                         clv_error *err)
{
    *out = NULL;
    if (!isfinite(bps) || bps <= 0)
        return clv_error_set(err, CLV_EINVAL,
                             "pacer: the rate must be finite and > 0 bit/s");
    clv_net_pacer *p = calloc(1, sizeof *p);
    if (!p)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    p->clk.now_ns = clock && clock->now_ns ? clock->now_ns : sys_now;
    p->clk.sleep_ns = clock && clock->sleep_ns ? clock->sleep_ns : sys_sleep;
    p->clk.ctx = clock ? clock->ctx : NULL;
    p->bps = bps;
    p->burst = burst;
    clv_net_pacer_restart(p);
    *out = p;
    return 0;
}

void clv_net_pacer_free(clv_net_pacer *p)
{
    if (!p)
        return;
    free(p->sched_t);
    free(p->sched_bps);
    free(p);
}

static void drop_schedule(clv_net_pacer *p)
{
    free(p->sched_t);
    free(p->sched_bps);
    p->sched_t = p->sched_bps = NULL;
    p->n_sched = 0;
}

int clv_net_pacer_set_rate(clv_net_pacer *p, double bps)
{
    if (!isfinite(bps) || bps <= 0)
        return CLV_EINVAL;
    accrue(p, now(p));
    drop_schedule(p);
    p->bps = bps;
    return 0;
}

int clv_net_pacer_set_schedule(clv_net_pacer *p, const clv_net_schedule *s,
                               clv_error *err)
{
    int n = clv_net_schedule_n(s);
    if (n <= 0)
        return clv_error_set(err, CLV_EINVAL, "pacer: empty schedule");
    double *t = malloc((size_t)n * sizeof *t);
    double *r = malloc((size_t)n * sizeof *r);
    if (!t || !r) {
        free(t);
        free(r);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        clv_net_schedule_entry(s, i, &t[i], &r[i]);
    accrue(p, now(p));
    drop_schedule(p);
    p->sched_t = t;
    p->sched_bps = r;
    p->n_sched = n;
    return 0;
}

void clv_net_pacer_restart(clv_net_pacer *p)
{
    p->t0 = p->last = now(p);
    p->tokens = burst_for(p, rate_at(p, 0, NULL));
}

double clv_net_pacer_rate(clv_net_pacer *p)
{
    return rate_at(p, seconds(p, now(p)), NULL);
}

double clv_net_pacer_elapsed(clv_net_pacer *p)
{
    return seconds(p, now(p));
}

uint64_t clv_net_pacer_acquire(clv_net_pacer *p, uint64_t want)
{
    if (want == 0)
        return 0;
    for (;;) {
        uint64_t t = now(p);
        accrue(p, t);
        double next;
        double r = rate_at(p, seconds(p, t), &next);
        double chunk = floor(burst_for(p, r) / GRANT_DIV);
        if ((double)want < chunk)
            chunk = (double)want;
        chunk = floor(chunk);
        if (chunk < 1)
            chunk = 1;
        if (p->tokens >= chunk) {
            p->tokens -= chunk;
            return (uint64_t)chunk;
        }
        double wait = (chunk - p->tokens) * 8 / r * 1e9;
        if (isfinite(next)) {
            double to_change = (double)p->t0 + next * 1e9 - (double)t;
            if (to_change < wait)
                wait = to_change;
        }
        if (wait < 1000)
            wait = 1000; /* at least a microsecond: no busy loop */
        p->clk.sleep_ns(p->clk.ctx, (uint64_t)ceil(wait));
    }
}

void clv_net_pacer_refund(clv_net_pacer *p, uint64_t n)
{
    p->tokens += (double)n;
    double cap = burst_for(p, rate_at(p, seconds(p, p->last), NULL));
    if (p->tokens > cap)
        p->tokens = cap;
}

void clv_net_pacer_forfeit_idle(clv_net_pacer *p, uint64_t since_ns)
{
    uint64_t t = now(p);
    accrue(p, t);
    double r = rate_at(p, seconds(p, t), NULL);
    double credit = p->tokens;
    if (since_ns) {
        credit = t > since_ns ? (double)(t - since_ns) * 1e-9 * r / 8 : 0;
        if (credit > p->tokens)
            credit = p->tokens;
    }
    p->tokens -= floor(credit);
}
