/* Link rates ("4g", "7.5mbit") and rate schedules ("0:wifi,10:3g"). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/plan.h"
#include "net/internal.h"

#define SCHEDULE_MAX 4096
#define RATE_TEXT_MAX 64

struct clv_net_schedule {
    int n;
    double *t;   /* seconds, t[0] == 0, increasing */
    double *bps;
};

/* Copies s[0..n) lowercased without surrounding spaces into out[cap]. */
static int trimmed_lower(const char *s, size_t n, char *out, size_t cap)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return 0;
}

static int parse_rate_n(const char *text, size_t n, double *bps,
                        clv_error *err)
{
    char s[RATE_TEXT_MAX];
    if (trimmed_lower(text, n, s, sizeof s))
        return clv_error_set(err, CLV_EINVAL, "rate '%.*s...' is too long",
                             20, text);
    if (!s[0])
        return clv_error_set(err, CLV_EINVAL, "empty rate");
    clv_link l;
    if (clv_link_preset(s, &l) == 0) {
        *bps = l.bandwidth_mbps * 1e6;
        return 0;
    }
    char *end = NULL;
    if (!(isdigit((unsigned char)s[0]) || s[0] == '.'))
        goto unknown;
    double v = strtod(s, &end);
    if (end == s)
        goto unknown;
    while (*end == ' ')
        end++;
    static const struct {
        const char *unit;
        double scale;
    } units[] = {{"", 1e6},     {"mbit", 1e6}, {"mbit/s", 1e6},
                 {"bit", 1},    {"bit/s", 1},  {"kbit", 1e3},
                 {"kbit/s", 1e3}, {"gbit", 1e9}, {"gbit/s", 1e9}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            double r = v * units[i].scale;
            if (!isfinite(r) || r <= 0)
                return clv_error_set(err, CLV_EINVAL,
                                     "rate '%s' must be finite and > 0", s);
            *bps = r;
            return 0;
        }
    if (strstr(end, "bps"))
        return clv_error_set(err, CLV_EINVAL,
                             "rate '%s': '%s' is ambiguous (bits or bytes?); "
                             "write kbit, mbit or gbit",
                             s, end);
unknown:
    return clv_error_set(err, CLV_EINVAL,
                         "unknown rate '%s': give a preset (cat1, 3g, 4g, "
                         "wifi) or a number with bit, kbit, mbit (the "
                         "default) or gbit",
                         s);
}

int clv_net_parse_rate(const char *text, double *bps, clv_error *err)
{
    if (!text)
        return clv_error_set(err, CLV_EINVAL, "no rate given");
    return parse_rate_n(text, strlen(text), bps, err);
}

void clv_net_schedule_free(clv_net_schedule *s)
{
    if (!s)
        return;
    free(s->t);
    free(s->bps);
    free(s);
}

int clv_net_schedule_parse(const char *text, clv_net_schedule **out,
                           clv_error *err)
{
    clv_net_schedule *s = NULL;
    int rc = 0;
    *out = NULL;
    if (!text)
        return clv_error_set(err, CLV_EINVAL, "no link schedule given");
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    if (n > SCHEDULE_MAX)
        return clv_error_set(err, CLV_ELIMIT,
                             "link schedule: %zu entries, at most %d", n,
                             SCHEDULE_MAX);
    s = calloc(1, sizeof *s);
    if (!s || !(s->t = malloc(n * sizeof *s->t)) ||
        !(s->bps = malloc(n * sizeof *s->bps))) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        double t = 0;
        if (colon) {
            char ts[RATE_TEXT_MAX];
            char *end;
            if (trimmed_lower(p, (size_t)(colon - p), ts, sizeof ts) ||
                !ts[0] || !(isdigit((unsigned char)ts[0]) || ts[0] == '.') ||
                (t = strtod(ts, &end), *end) || !isfinite(t) || t < 0) {
                rc = clv_error_set(err, CLV_EINVAL,
                                   "bad time '%.*s' (seconds >= 0)",
                                   (int)(colon - p), p);
                goto entry_fail;
            }
        } else if (n > 1) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "expected SECONDS:RATE, got '%.*s'", (int)len,
                               p);
            goto entry_fail;
        }
        if (i == 0 && t != 0) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "the first entry must start at 0, not %g", t);
            goto entry_fail;
        }
        if (i > 0 && t <= s->t[i - 1]) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "time %g does not come after %g", t,
                               s->t[i - 1]);
            goto entry_fail;
        }
        const char *r = colon ? colon + 1 : p;
        if ((rc = parse_rate_n(r, len - (size_t)(r - p), &s->bps[i], err)))
            goto entry_fail;
        s->t[i] = t;
        s->n = (int)i + 1;
        p = e ? e + 1 : p + len;
        continue;
    entry_fail:
        clv_error_prefix(err, "link schedule '%s': entry %zu: ", text, i + 1);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    clv_net_schedule_free(s);
    return rc;
}

int clv_net_schedule_n(const clv_net_schedule *s)
{
    return s ? s->n : 0;
}

int clv_net_schedule_entry(const clv_net_schedule *s, int i, double *t_s,
                           double *bps)
{
    if (!s || i < 0 || i >= s->n)
        return CLV_EINVAL;
    if (t_s)
        *t_s = s->t[i];
    if (bps)
        *bps = s->bps[i];
    return 0;
}

/* The index of the entry in force at t (0 before the start). */
static int entry_at(const clv_net_schedule *s, double t)
{
    int lo = 0, hi = s->n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (s->t[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

double clv_net_schedule_rate_at(const clv_net_schedule *s, double t_s)
{
    return s->bps[entry_at(s, t_s)];
}

double clv_net_schedule_next_change(const clv_net_schedule *s, double t_s)
{
    int i = entry_at(s, t_s);
    if (t_s < s->t[0])
        return s->t[0];
    return i + 1 < s->n ? s->t[i + 1] : INFINITY;
}
