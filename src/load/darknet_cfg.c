/*
 * The darknet .cfg tokenizer: sections of key=value lines, read the way
 * darknet's read_cfg() reads them (every blank removed from a line, '#' and
 * ';' start comment lines, the first of duplicate keys wins), but strict
 * where darknet silently guesses: a line that is not a section or
 * key=value, or a number that does not parse, is an error with its line.
 */
#include "load/darknet_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int clv_dk__error(const clv_dk_cfg *cfg, const clv_dk_section *s, int line,
                  clv_error *err, int code, const char *fmt, ...)
{
    char msg[CLV_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s)
        return clv_error_set(err, code, "%s:%d: [%s] %s", cfg->label, line,
                             s->name, msg);
    return clv_error_set(err, code, "%s:%d: %s", cfg->label, line, msg);
}

static bool dk_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
           ch == '\f';
}

static int dk_add_section(clv_dk_cfg *cfg, const char *name, int line,
                          clv_error *err)
{
    if (cfg->n_secs >= CLV_DK_MAX_LAYERS + 1)
        return clv_error_set(err, CLV_ELIMIT,
                             "%s:%d: more than %d sections", cfg->label, line,
                             CLV_DK_MAX_LAYERS + 1);
    if (cfg->n_secs == cfg->cap_secs) {
        int ncap = cfg->cap_secs ? cfg->cap_secs * 2 : 64;
        clv_dk_section *ns = realloc(cfg->secs, (size_t)ncap * sizeof *ns);
        if (!ns)
            return clv_error_set(err, CLV_ENOMEM, "%s: out of memory",
                                 cfg->label);
        cfg->secs = ns;
        cfg->cap_secs = ncap;
    }
    clv_dk_section *s = &cfg->secs[cfg->n_secs++];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->line = line;
    return 0;
}

static int dk_add_opt(clv_dk_cfg *cfg, clv_dk_section *s, const char *key,
                      const char *val, int line, clv_error *err)
{
    if (s->n_opts == s->cap_opts) {
        int ncap = s->cap_opts ? s->cap_opts * 2 : 8;
        clv_dk_opt *no = realloc(s->opts, (size_t)ncap * sizeof *no);
        if (!no)
            return clv_error_set(err, CLV_ENOMEM, "%s: out of memory",
                                 cfg->label);
        s->opts = no;
        s->cap_opts = ncap;
    }
    s->opts[s->n_opts].key = key;
    s->opts[s->n_opts].val = val;
    s->opts[s->n_opts].line = line;
    s->n_opts++;
    return 0;
}

int clv_dk__cfg_parse(clv_dk_cfg *cfg, const char *text, size_t len,
                      const char *label, clv_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->label = label;
    if (len == SIZE_MAX)
        return clv_error_set(err, CLV_ELIMIT, "%s: too large", label);
    cfg->text = malloc(len + 1);
    if (!cfg->text)
        return clv_error_set(err, CLV_ENOMEM, "%s: out of memory", label);
    if (len)
        memcpy(cfg->text, text, len);
    cfg->text[len] = '\0';

    char *p = cfg->text, *end = cfg->text + len;
    int line = 0;
    while (p < end) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        /* Strip every blank of the line in place (darknet's strip()). */
        char *w = p;
        for (char *r = p; r < eol; r++) {
            if (*r == '\0')
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s:%d: NUL byte in the text", label,
                                     line);
            if (!dk_blank(*r))
                *w++ = *r;
        }
        *w = '\0';
        char *s = p;
        size_t n = (size_t)(w - p);
        p = eol + 1;
        if (n == 0 || s[0] == '#' || s[0] == ';')
            continue;
        if (s[0] == '[') {
            if (s[n - 1] != ']' || n < 3)
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s:%d: bad section header '%.60s'",
                                     label, line, s);
            s[n - 1] = '\0';
            int rc = dk_add_section(cfg, s + 1, line, err);
            if (rc)
                return rc;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || eq == s)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s:%d: expected [section] or key=value, "
                                 "got '%.60s'",
                                 label, line, s);
        if (cfg->n_secs == 0)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s:%d: option '%.60s' before the first "
                                 "section",
                                 label, line, s);
        *eq = '\0';
        int rc = dk_add_opt(cfg, &cfg->secs[cfg->n_secs - 1], s, eq + 1,
                            line, err);
        if (rc)
            return rc;
    }
    return 0;
}

void clv_dk__cfg_free(clv_dk_cfg *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->n_secs; i++)
        free(cfg->secs[i].opts);
    free(cfg->secs);
    free(cfg->text);
    memset(cfg, 0, sizeof *cfg);
}

const clv_dk_opt *clv_dk__find(const clv_dk_section *s, const char *key)
{
    for (int i = 0; i < s->n_opts; i++)
        if (strcmp(s->opts[i].key, key) == 0)
            return &s->opts[i];
    return NULL;
}

const char *clv_dk__get_str(const clv_dk_section *s, const char *key,
                            const char *def)
{
    const clv_dk_opt *o = clv_dk__find(s, key);
    return o ? o->val : def;
}

/* Parses a whole decimal int32 ("-40", "+3"); 0 ok, CLV_EFORMAT for text
 * that is not an integer, CLV_ERANGE beyond int32. */
static int dk_parse_int(const char *s, size_t n, int *out)
{
    size_t i = 0;
    bool neg = false;
    long long v = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return CLV_EFORMAT;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return CLV_EFORMAT;
        if (v <= (long long)INT_MAX + 1)
            v = v * 10 + (s[i] - '0');
    }
    if (neg)
        v = -v;
    if (v > INT_MAX || v < INT_MIN)
        return CLV_ERANGE;
    *out = (int)v;
    return 0;
}

/* Parses a whole finite float; 0 or CLV_EFORMAT. */
static int dk_parse_float(const char *s, size_t n, float *out)
{
    char buf[64];
    char *endp;
    if (n == 0 || n >= sizeof buf)
        return CLV_EFORMAT;
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* Only plain decimal notation: no "nan", "inf" or hex floats. */
    for (size_t i = 0; i < n; i++) {
        char ch = buf[i];
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
              ch == '+' || ch == 'e' || ch == 'E'))
            return CLV_EFORMAT;
    }
    errno = 0;
    double v = strtod(buf, &endp);
    if (endp != buf + n || !isfinite(v) || fabs(v) > 3.0e38)
        return CLV_EFORMAT;
    *out = (float)v;
    return 0;
}

int clv_dk__get_int(const clv_dk_cfg *cfg, const clv_dk_section *s,
                    const char *key, int def, bool required, int *out,
                    clv_error *err)
{
    const clv_dk_opt *o = clv_dk__find(s, key);
    if (!o) {
        if (required)
            return clv_dk__error(cfg, s, s->line, err, CLV_EFORMAT,
                                 "needs %s=", key);
        *out = def;
        return 0;
    }
    int rc = dk_parse_int(o->val, strlen(o->val), out);
    if (rc == CLV_EFORMAT)
        return clv_dk__error(cfg, s, o->line, err, rc,
                             "%s=%.40s is not an integer", key, o->val);
    if (rc)
        return clv_dk__error(cfg, s, o->line, err, rc,
                             "%s=%.40s is out of range", key, o->val);
    return 0;
}

int clv_dk__get_float(const clv_dk_cfg *cfg, const clv_dk_section *s,
                      const char *key, float def, float *out, clv_error *err)
{
    const clv_dk_opt *o = clv_dk__find(s, key);
    if (!o) {
        *out = def;
        return 0;
    }
    if (dk_parse_float(o->val, strlen(o->val), out))
        return clv_dk__error(cfg, s, o->line, err, CLV_EFORMAT,
                             "%s=%.40s is not a number", key, o->val);
    return 0;
}

/* The number of comma-separated items of `v`. */
static int dk_count_items(const char *v)
{
    int n = 1;
    for (const char *p = v; *p; p++)
        if (*p == ',')
            n++;
    return n;
}

/* Parses the comma-separated items of `o` (the value of `key`) into a
 * malloc'd array of ints, or of floats when `floats`. */
static int dk_get_list(const clv_dk_cfg *cfg, const clv_dk_section *s,
                       const clv_dk_opt *o, const char *key, bool floats,
                       void **vals, int *n, clv_error *err)
{
    int count = dk_count_items(o->val);
    void *v = malloc((size_t)count * (floats ? sizeof(float) : sizeof(int)));
    if (!v)
        return clv_error_set(err, CLV_ENOMEM, "%s: out of memory",
                             cfg->label);
    const char *p = o->val;
    for (int i = 0; i < count; i++) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        int rc = floats ? dk_parse_float(p, len, (float *)v + i)
                        : dk_parse_int(p, len, (int *)v + i);
        if (rc) {
            free(v);
            return clv_dk__error(cfg, s, o->line, err, rc,
                                 "%s=%.40s: item %d is %s", key, o->val,
                                 i + 1,
                                 floats               ? "not a number"
                                 : rc == CLV_ERANGE ? "out of range"
                                                    : "not an integer");
        }
        p = c ? c + 1 : p + len;
    }
    *vals = v;
    *n = count;
    return 0;
}

int clv_dk__get_ints(const clv_dk_cfg *cfg, const clv_dk_section *s,
                     const char *key, bool required, int **vals, int *n,
                     clv_error *err)
{
    const clv_dk_opt *o = clv_dk__find(s, key);
    void *v = NULL;
    *vals = NULL;
    *n = 0;
    if (!o) {
        if (required)
            return clv_dk__error(cfg, s, s->line, err, CLV_EFORMAT,
                                 "needs %s=", key);
        return 0;
    }
    int rc = dk_get_list(cfg, s, o, key, false, &v, n, err);
    *vals = v;
    return rc;
}

int clv_dk__get_floats(const clv_dk_cfg *cfg, const clv_dk_section *s,
                       const char *key, float **vals, int *n, clv_error *err)
{
    const clv_dk_opt *o = clv_dk__find(s, key);
    void *v = NULL;
    *vals = NULL;
    *n = 0;
    if (!o)
        return 0;
    int rc = dk_get_list(cfg, s, o, key, true, &v, n, err);
    *vals = v;
    return rc;
}
