/* The regression predictor: per op class, ms = c . (1, FLOPs, input
 * bytes, output bytes, weight bytes) with c >= 0, fitted by non-negative
 * least squares over profiles measured on one device. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/internal.h"
#include "util/json.h"
#include "util/util.h"

#define NF CLV_PREDICT_FEATURES

static const char *const feature_names[NF] = {"1", "flops", "in_bytes",
                                              "out_bytes", "param_bytes"};

typedef struct pmodel {
    char *name;
    int samples;
    double coef[NF];
    double rms_rel; /* root mean square relative error on its samples */
} pmodel;

struct clv_predictor {
    char *device;
    int threads;
    double cpu_quota, slowdown;
    int min_samples;
    bool absolute, intercept;
    double floor_ms;
    int n_models;
    pmodel *models;
};

void clv_predictor_free(clv_predictor *pr)
{
    if (!pr)
        return;
    for (int i = 0; i < pr->n_models; i++)
        free(pr->models[i].name);
    free(pr->models);
    free(pr->device);
    free(pr);
}

static const pmodel *find_model(const clv_predictor *pr, const char *name)
{
    for (int i = 0; i < pr->n_models; i++)
        if (strcmp(pr->models[i].name, name) == 0)
            return &pr->models[i];
    return NULL;
}

/* ---- least squares ---------------------------------------------------------- */

/*
 * Least squares on the columns `cols` (k of them) of the n x NF matrix X
 * (row-major) with row weights w: minimises sum_i (w_i (y_i - x_i c))^2 by
 * Householder QR of the column-scaled, row-weighted matrix. `a` is n*k
 * scratch, `b` n scratch. Writes the k coefficients to c and returns the
 * weighted squared residual, or -1 when the columns are (numerically)
 * dependent.
 */
static double lsq(const double *X, const double *y, const double *w, int n,
                  const int *cols, int k, double *a, double *b, double *c)
{
    double scale[NF], r[NF][NF], qtb[NF];
    if (n < k)
        return -1;
    for (int j = 0; j < k; j++) {
        double m = 0;
        for (int i = 0; i < n; i++)
            m = fmax(m, fabs(X[(size_t)i * NF + (size_t)cols[j]]));
        if (m == 0)
            return -1;
        scale[j] = m;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++)
            a[(size_t)i * (size_t)k + (size_t)j] =
                w[i] * X[(size_t)i * NF + (size_t)cols[j]] / scale[j];
        b[i] = w[i] * y[i];
    }
    /* Householder QR, applied to b as we go. */
    for (int j = 0; j < k; j++) {
        double norm = 0;
        for (int i = j; i < n; i++) {
            double v = a[(size_t)i * (size_t)k + (size_t)j];
            norm += v * v;
        }
        norm = sqrt(norm);
        /* columns are scaled to max 1 (times the weights), so an absolute
         * tolerance relative to sqrt(n) detects dependence */
        double wmax = 0;
        for (int i = 0; i < n; i++)
            wmax = fmax(wmax, w[i]);
        if (norm <= 1e-10 * wmax)
            return -1;
        double ajj = a[(size_t)j * (size_t)k + (size_t)j];
        double alpha = ajj > 0 ? -norm : norm;
        /* v = x - alpha e1, stored in place; v1 = ajj - alpha */
        double v1 = ajj - alpha;
        double vnorm2 = v1 * v1 + (norm * norm - ajj * ajj);
        if (vnorm2 <= 0) {
            r[j][j] = ajj;
        } else {
            a[(size_t)j * (size_t)k + (size_t)j] = v1;
            for (int jj = j + 1; jj < k; jj++) {
                double dot = 0;
                for (int i = j; i < n; i++)
                    dot += a[(size_t)i * (size_t)k + (size_t)j] *
                           a[(size_t)i * (size_t)k + (size_t)jj];
                double f = 2 * dot / vnorm2;
                for (int i = j; i < n; i++)
                    a[(size_t)i * (size_t)k + (size_t)jj] -=
                        f * a[(size_t)i * (size_t)k + (size_t)j];
            }
            double dot = 0;
            for (int i = j; i < n; i++)
                dot += a[(size_t)i * (size_t)k + (size_t)j] * b[i];
            double f = 2 * dot / vnorm2;
            for (int i = j; i < n; i++)
                b[i] -= f * a[(size_t)i * (size_t)k + (size_t)j];
            r[j][j] = alpha;
        }
        for (int jj = j + 1; jj < k; jj++)
            r[j][jj] = a[(size_t)j * (size_t)k + (size_t)jj];
        qtb[j] = b[j];
    }
    double rmax = 0;
    for (int j = 0; j < k; j++)
        rmax = fmax(rmax, fabs(r[j][j]));
    for (int j = 0; j < k; j++)
        if (fabs(r[j][j]) <= 1e-9 * rmax)
            return -1;
    for (int j = k - 1; j >= 0; j--) {
        double s = qtb[j];
        for (int jj = j + 1; jj < k; jj++)
            s -= r[j][jj] * c[jj];
        c[j] = s / r[j][j];
    }
    for (int j = 0; j < k; j++)
        c[j] /= scale[j];
    /* the residual, computed directly (more accurate than |b[k:]|) */
    double sse = 0;
    for (int i = 0; i < n; i++) {
        double p = 0;
        for (int j = 0; j < k; j++)
            p += X[(size_t)i * NF + (size_t)cols[j]] * c[j];
        double d = w[i] * (y[i] - p);
        sse += d * d;
    }
    return sse;
}

/*
 * Non-negative least squares by enumerating the active sets: the optimum
 * is the unconstrained least-squares solution on its support, so the best
 * of the subsets whose solution is non-negative is the optimum. With
 * NF = 5 that is 31 small problems. Fills coef (zeros off the support).
 * Returns 0, or -1 when no subset is solvable (all features zero).
 */
static int nnls(const double *X, const double *y, const double *w, int n,
                bool intercept, double *a, double *b, double *coef)
{
    double best = DBL_MAX;
    int found = -1;
    for (unsigned mask = intercept ? 1 : 2; mask < (1u << NF);
         mask += intercept ? 1 : 2) {
        int cols[NF], k = 0;
        double c[NF];
        for (int j = 0; j < NF; j++)
            if (mask & (1u << j))
                cols[k++] = j;
        double sse = lsq(X, y, w, n, cols, k, a, b, c);
        if (sse < 0)
            continue;
        bool ok = true;
        for (int j = 0; j < k && ok; j++)
            ok = c[j] >= 0;
        if (!ok)
            continue;
        /* strictly better, or as good with fewer features */
        if (sse < best * (1 - 1e-12) || found < 0) {
            best = sse;
            found = 0;
            for (int j = 0; j < NF; j++)
                coef[j] = 0;
            for (int j = 0; j < k; j++)
                coef[cols[j]] = c[j];
        }
    }
    return found;
}

/* ---- fitting ------------------------------------------------------------------ */

static void features(uint64_t flops, uint64_t in, uint64_t out,
                     uint64_t param, double *x)
{
    x[0] = 1;
    x[1] = (double)flops;
    x[2] = (double)in;
    x[3] = (double)out;
    x[4] = (double)param;
}

static double dot(const double *c, const double *x)
{
    double s = 0;
    for (int j = 0; j < NF; j++)
        s += c[j] * x[j];
    return s;
}

static bool same_condition(const clv_profile *a, const clv_profile *b)
{
    return strcmp(a->device ? a->device : "", b->device ? b->device : "") ==
               0 &&
           a->threads == b->threads && a->cpu_quota == b->cpu_quota &&
           a->slowdown == b->slowdown && a->node_mean == b->node_mean;
}

/* The samples of a fit and its scratch memory. */
typedef struct fit_data {
    const double *X, *y, *w; /* n rows of NF features, times, weights */
    bool *sel;               /* the rows of the group being fitted */
    int n;
    bool intercept;
    double *gx, *gy, *gw, *a, *b; /* scratch: the group's rows, QR */
} fit_data;

/* Fits the model `name` to the rows with sel[i] set; appends it. */
static int fit_group(clv_predictor *pr, const char *name, const fit_data *d)
{
    double *gx = d->gx, *gy = d->gy, *gw = d->gw;
    int n = 0;
    for (int i = 0; i < d->n; i++)
        if (d->sel[i]) {
            memcpy(gx + (size_t)n * NF, d->X + (size_t)i * NF,
                   NF * sizeof *gx);
            gy[n] = d->y[i];
            gw[n] = d->w[i];
            n++;
        }
    pmodel m;
    memset(&m, 0, sizeof m);
    if (nnls(gx, gy, gw, n, d->intercept, d->a, d->b, m.coef) != 0) {
        /* no usable feature at all: the mean time as a constant */
        double s = 0;
        for (int i = 0; i < n; i++)
            s += gy[i];
        m.coef[0] = n ? s / n : 0;
    }
    m.samples = n;
    double e2 = 0;
    for (int i = 0; i < n; i++) {
        double p = dot(m.coef, gx + (size_t)i * NF);
        double rel = (p - gy[i]) / fmax(gy[i], 0.01);
        e2 += rel * rel;
    }
    m.rms_rel = n ? sqrt(e2 / n) : 0;
    m.name = clv_util_strdup(name);
    if (!m.name)
        return CLV_ENOMEM;
    pr->models[pr->n_models++] = m;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int clv_predictor_fit(const clv_profile *const *profiles, int np,
                      const clv_predictor_options *opt, clv_predictor **out,
                      clv_error *err)
{
    clv_predictor_options o;
    clv_predictor *pr = NULL;
    double *X = NULL, *y = NULL, *w = NULL, *gx = NULL, *gy = NULL,
           *gw = NULL, *a = NULL, *b = NULL;
    const char **cls = NULL, **names = NULL;
    bool *sel = NULL;
    int rc = 0, n = 0;

    *out = NULL;
    if (opt)
        o = *opt;
    else
        memset(&o, 0, sizeof o);
    if (o.min_samples <= 0)
        o.min_samples = 6;
    if (!(o.floor_ms > 0))
        o.floor_ms = 0.01;
    if (o.weighting < CLV_PREDICT_AUTO || o.weighting > CLV_PREDICT_ABSOLUTE)
        return clv_error_set(err, CLV_EINVAL,
                             "predictor: weighting %d is not one of "
                             "CLV_PREDICT_AUTO, _RELATIVE, _ABSOLUTE",
                             o.weighting);
    if (np <= 0 || !profiles)
        return clv_error_set(err, CLV_EINVAL,
                             "predictor: no profiles to fit");
    int total = 0;
    for (int p = 0; p < np; p++) {
        const clv_profile *P = profiles[p];
        if (!same_condition(P, profiles[0]))
            return clv_error_set(
                err, CLV_EINVAL,
                "predictor: profile %d (%s on '%s', %d threads, cpu_quota "
                "%g, slowdown %g, node %s) was measured under another "
                "condition than profile 0 (%s on '%s', %d threads, "
                "cpu_quota %g, slowdown %g, node %s); a predictor describes "
                "one device and condition",
                p, P->model ? P->model : "?", P->device ? P->device : "?",
                P->threads, P->cpu_quota, P->slowdown,
                P->node_mean ? "means" : "medians",
                profiles[0]->model ? profiles[0]->model : "?",
                profiles[0]->device ? profiles[0]->device : "?",
                profiles[0]->threads, profiles[0]->cpu_quota,
                profiles[0]->slowdown,
                profiles[0]->node_mean ? "means" : "medians");
        for (int i = 0; i < P->n_nodes; i++)
            if (!P->nodes[i].op_class)
                return clv_error_set(
                    err, CLV_EINVAL,
                    "predictor: profile %d (%s): node '%s' has no \"class\" "
                    "and input/weight bytes; annotate the profile with its "
                    "graph (clv_profile_annotate) or measure it again",
                    p, P->model ? P->model : "?", P->nodes[i].name);
        total += P->n_nodes;
    }
    if (total == 0)
        return clv_error_set(err, CLV_EINVAL,
                             "predictor: the profiles have no nodes");
    bool absolute = o.weighting == CLV_PREDICT_ABSOLUTE ||
                    (o.weighting == CLV_PREDICT_AUTO &&
                     profiles[0]->node_mean);

    X = malloc((size_t)total * NF * sizeof *X);
    gx = malloc((size_t)total * NF * sizeof *gx);
    a = malloc((size_t)total * NF * sizeof *a);
    y = malloc((size_t)total * sizeof *y);
    w = malloc((size_t)total * sizeof *w);
    gy = malloc((size_t)total * sizeof *gy);
    gw = malloc((size_t)total * sizeof *gw);
    b = malloc((size_t)total * sizeof *b);
    cls = malloc((size_t)total * sizeof *cls);
    names = malloc(((size_t)total + 16) * sizeof *names);
    sel = malloc((size_t)total * sizeof *sel);
    pr = calloc(1, sizeof *pr);
    if (!X || !gx || !a || !y || !w || !gy || !gw || !b || !cls || !names ||
        !sel || !pr)
        goto nomem;
    for (int p = 0; p < np; p++)
        for (int i = 0; i < profiles[p]->n_nodes; i++) {
            const clv_profile_node *nd = &profiles[p]->nodes[i];
            features(nd->flops, nd->in_bytes, nd->out_bytes, nd->param_bytes,
                     X + (size_t)n * NF);
            y[n] = nd->ms;
            w[n] = absolute ? 1.0 : 1.0 / fmax(nd->ms, o.floor_ms);
            cls[n] = nd->op_class;
            n++;
        }

    /* the distinct classes, sorted */
    int n_names = 0;
    for (int i = 0; i < n; i++)
        names[n_names++] = cls[i];
    qsort(names, (size_t)n_names, sizeof *names, cmp_str);
    int u = 0;
    for (int i = 0; i < n_names; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
            names[u++] = names[i];
    n_names = u;
    static const char *const families[] = {"conv", "act",  "eltwise",
                                           "pool", "move", "other"};
    int nfam = (int)(sizeof families / sizeof *families);
    pr->models = calloc((size_t)(n_names + nfam + 1), sizeof *pr->models);
    if (!pr->models)
        goto nomem;

    fit_data fd = {X, y, w, sel, n, o.intercept, gx, gy, gw, a, b};
    for (int c = 0; c < n_names; c++) {
        int cnt = 0;
        for (int i = 0; i < n; i++)
            cnt += sel[i] = strcmp(cls[i], names[c]) == 0;
        if (cnt >= o.min_samples && fit_group(pr, names[c], &fd))
            goto nomem;
    }
    for (int f = 0; f < nfam; f++) {
        int cnt = 0;
        for (int i = 0; i < n; i++)
            cnt += sel[i] =
                strcmp(clv_profile__family(cls[i]), families[f]) == 0;
        if (cnt >= o.min_samples && fit_group(pr, families[f], &fd))
            goto nomem;
    }
    for (int i = 0; i < n; i++)
        sel[i] = true;
    if (fit_group(pr, "all", &fd))
        goto nomem;

    pr->device = clv_util_strdup(profiles[0]->device ? profiles[0]->device
                                                     : "");
    if (!pr->device)
        goto nomem;
    pr->threads = profiles[0]->threads;
    pr->cpu_quota = profiles[0]->cpu_quota;
    pr->slowdown = profiles[0]->slowdown;
    pr->min_samples = o.min_samples;
    pr->absolute = absolute;
    pr->intercept = o.intercept;
    pr->floor_ms = o.floor_ms;
    *out = pr;
    pr = NULL;
    goto done;
nomem:
    rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
done:
    clv_predictor_free(pr);
    free(X);
    free(y);
    free(w);
    free(gx);
    free(gy);
    free(gw);
    free(a);
    free(b);
    free(cls);
    free(names);
    free(sel);
    return rc;
}

/* ---- predicting ------------------------------------------------------------------ */

/* The model for a class: its own, its family's, or "all". */
static const pmodel *model_for(const clv_predictor *pr, const char *c)
{
    const pmodel *m = find_model(pr, c);
    if (!m)
        m = find_model(pr, clv_profile__family(c));
    if (!m)
        m = find_model(pr, "all");
    return m;
}

double clv_predictor_node_ms(const clv_predictor *pr, const clv_graph *g,
                             int node, const char **model_used)
{
    const clv_node *nd = clv_graph_node(g, node);
    double x[NF];
    if (model_used)
        *model_used = NULL;
    if (!nd)
        return 0;
    const pmodel *m = model_for(pr, clv_profile_op_class(g, node));
    if (!m)
        return 0;
    if (model_used)
        *model_used = m->name;
    features(nd->flops, clv_profile__in_bytes(g, node), nd->out_bytes,
             nd->param_bytes, x);
    return dot(m->coef, x);
}

int clv_predictor_predict(const clv_predictor *pr, const clv_graph *g,
                          const char *model, const char *label,
                          clv_profile *out, clv_error *err)
{
    clv_profile_release(out);
    if (!g || !clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "predict: the graph is not finalized");
    int n = clv_graph_n_nodes(g);
    out->model = clv_util_strdup(model ? model : clv_graph_name(g));
    out->device = clv_util_strdup(pr->device);
    out->predicted_by = clv_util_strdup(label ? label : "predictor");
    if (!out->model || !out->device || !out->predicted_by ||
        clv_profile__fill_nodes(g, out, err))
        goto nomem;
    out->threads = pr->threads;
    out->runs = 0;
    out->cpu_quota = pr->cpu_quota;
    out->slowdown = pr->slowdown;
    double total = 0;
    for (int i = 0; i < n; i++) {
        out->nodes[i].ms = clv_predictor_node_ms(pr, g, i, NULL);
        total += out->nodes[i].ms;
    }
    out->total_ms = total;
    return 0;
nomem:
    clv_profile_release(out);
    return clv_error_set(err, CLV_ENOMEM, "out of memory");
}

int clv_predictor_coef(const clv_predictor *pr, const char *name,
                       double *coef)
{
    const pmodel *m = find_model(pr, name);
    if (!m)
        return -1;
    if (coef)
        memcpy(coef, m->coef, sizeof m->coef);
    return m->samples;
}

const char *clv_predictor_device(const clv_predictor *pr)
{
    return pr->device;
}

int clv_predictor_threads(const clv_predictor *pr)
{
    return pr->threads;
}

double clv_predictor_cpu_quota(const clv_predictor *pr)
{
    return pr->cpu_quota;
}

double clv_predictor_slowdown(const clv_predictor *pr)
{
    return pr->slowdown;
}

/* ---- files ------------------------------------------------------------------------ */

char *clv_predictor_to_json(const clv_predictor *pr)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    bool ok = root != NULL;
    ok = ok && cJSON_AddStringToObject(root, "format", "cleave-predictor");
    ok = ok && cJSON_AddNumberToObject(root, "version", 1);
    ok = ok && cJSON_AddStringToObject(root, "device", pr->device);
    ok = ok && cJSON_AddNumberToObject(root, "threads", pr->threads);
    if (pr->cpu_quota > 0)
        ok = ok && cJSON_AddNumberToObject(root, "cpu_quota", pr->cpu_quota);
    else
        ok = ok && cJSON_AddNullToObject(root, "cpu_quota");
    if (pr->slowdown > 0)
        ok = ok && cJSON_AddNumberToObject(root, "slowdown", pr->slowdown);
    else
        ok = ok && cJSON_AddNullToObject(root, "slowdown");
    ok = ok && cJSON_AddStringToObject(root, "weighting",
                                       pr->absolute ? "absolute"
                                                    : "relative");
    if (!pr->absolute)
        ok = ok && cJSON_AddNumberToObject(root, "floor_ms", pr->floor_ms);
    ok = ok && cJSON_AddBoolToObject(root, "intercept", pr->intercept);
    ok = ok && cJSON_AddNumberToObject(root, "min_samples", pr->min_samples);
    cJSON *fs = ok ? cJSON_AddArrayToObject(root, "features") : NULL;
    ok = ok && fs;
    for (int j = 0; ok && j < NF; j++) {
        ok = clv_util_json_append(fs, cJSON_CreateString(feature_names[j]));
    }
    cJSON *ms = ok ? cJSON_AddArrayToObject(root, "models") : NULL;
    ok = ok && ms;
    for (int i = 0; ok && i < pr->n_models; i++) {
        const pmodel *m = &pr->models[i];
        cJSON *o = cJSON_CreateObject();
        if (!(ok = clv_util_json_append(ms, o)))
            break;
        ok = cJSON_AddStringToObject(o, "name", m->name) &&
             cJSON_AddNumberToObject(o, "samples", m->samples) &&
             cJSON_AddNumberToObject(o, "rms_rel_error", m->rms_rel);
        cJSON *c = ok ? cJSON_AddArrayToObject(o, "coef") : NULL;
        ok = ok && c;
        for (int j = 0; ok && j < NF; j++) {
            ok = clv_util_json_append(c, cJSON_CreateNumber(m->coef[j]));
        }
    }
    if (ok)
        text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

int clv_predictor_save(const clv_predictor *pr, const char *path,
                       clv_error *err)
{
    char *text = clv_predictor_to_json(pr);
    if (!text)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    int rc = clv_profile__write_text(path, text, err);
    cJSON_free(text);
    return rc;
}

static int parse_model(const cJSON *it, int index, const char *label,
                       pmodel *m, clv_error *err)
{
    char where[160];
    const char *name;
    double v;
    int rc;
    if ((rc = clv_profile__named_object(it, "model", index, label, &name,
                                        where, sizeof where, err)))
        return rc;
    if ((rc = clv_profile__number(it, "samples", true, true, false, 0, &v,
                                  label, where, err)))
        return rc;
    m->samples = v > 1e9 ? 1000000000 : (int)v;
    if ((rc = clv_profile__number(it, "rms_rel_error", false, false, false,
                                  0, &m->rms_rel, label, where, err)))
        return rc;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "coef");
    if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) != NF)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s: \"coef\" must be an array of %d "
                             "numbers",
                             label, where, NF);
    int j = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, c)
    {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) ||
            e->valuedouble < 0)
            return clv_error_set(err, CLV_EINVAL,
                                 "%s: %s: coefficient %d (%s) must be a "
                                 "finite number >= 0",
                                 label, where, j, feature_names[j]);
        m->coef[j++] = e->valuedouble;
    }
    m->name = clv_util_strdup(name);
    return m->name ? 0 : clv_error_set(err, CLV_ENOMEM, "out of memory");
}

static int parse_predictor(const cJSON *root, const char *label,
                           clv_predictor *pr, clv_error *err)
{
    const char *who = "the predictor";
    double v;
    int rc;
    if ((rc = clv_profile__check_header(root, label, "cleave-predictor",
                                        err)))
        return rc;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "device");
    if (!cJSON_IsString(d))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"device\" is missing or not a string",
                             label);
    pr->device = clv_util_strdup(d->valuestring);
    if (!pr->device)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    if ((rc = clv_profile__number(root, "threads", true, true, false, 0, &v,
                                  label, who, err)))
        return rc;
    if (v < 1 || v > 1e6)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: \"threads\" is %g; it must be 1 or more",
                             label, v);
    pr->threads = (int)v;
    if ((rc = clv_profile__number(root, "cpu_quota", false, false, true, 0,
                                  &pr->cpu_quota, label, who, err)) ||
        (rc = clv_profile__number(root, "slowdown", false, false, true, 0,
                                  &pr->slowdown, label, who, err)) ||
        (rc = clv_profile__number(root, "min_samples", false, true, false, 6,
                                  &v, label, who, err)))
        return rc;
    pr->min_samples = v > 1e9 ? 1000000000 : (int)v;
    const cJSON *wt = cJSON_GetObjectItemCaseSensitive(root, "weighting");
    pr->absolute = cJSON_IsString(wt) &&
                   strcmp(wt->valuestring, "absolute") == 0;
    pr->intercept = cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(root, "intercept"));
    if ((rc = clv_profile__number(root, "floor_ms", false, false, false,
                                  0.01, &pr->floor_ms, label, who, err)))
        return rc;
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(root, "features");
    bool fok = cJSON_IsArray(fs) && cJSON_GetArraySize(fs) == NF;
    for (int j = 0; fok && j < NF; j++) {
        const cJSON *s = cJSON_GetArrayItem(fs, j);
        fok = cJSON_IsString(s) && strcmp(s->valuestring, feature_names[j]) ==
                                       0;
    }
    if (!fok)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"features\" must be [\"1\", \"flops\", "
                             "\"in_bytes\", \"out_bytes\", \"param_bytes\"]",
                             label);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (!cJSON_IsArray(ms))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: \"models\" is missing or not an array",
                             label);
    int n = cJSON_GetArraySize(ms);
    if (n > 0) {
        pr->models = calloc((size_t)n, sizeof *pr->models);
        if (!pr->models)
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, ms)
    {
        pmodel m;
        memset(&m, 0, sizeof m);
        if ((rc = parse_model(it, pr->n_models, label, &m, err))) {
            free(m.name);
            return rc;
        }
        if (find_model(pr, m.name)) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: model '%s' is listed twice", label,
                               m.name);
            free(m.name);
            return rc;
        }
        pr->models[pr->n_models++] = m;
    }
    if (!find_model(pr, "all"))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: there is no model \"all\" (the fallback "
                             "for classes without their own)",
                             label);
    return 0;
}

int clv_predictor_parse(const char *text, size_t len, const char *label,
                        clv_predictor **out, clv_error *err)
{
    cJSON *root = NULL;
    int rc;
    *out = NULL;
    if (!label)
        label = "predictor";
    if ((rc = clv_profile__parse_json(text, len, label, &root, err)))
        return rc;
    clv_predictor *pr = calloc(1, sizeof *pr);
    if (!pr) {
        cJSON_Delete(root);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    rc = parse_predictor(root, label, pr, err);
    cJSON_Delete(root);
    if (rc) {
        clv_predictor_free(pr);
        return rc;
    }
    *out = pr;
    return 0;
}

int clv_predictor_load(const char *path, clv_predictor **out,
                       clv_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc;
    *out = NULL;
    if ((rc = clv_util_read_file(path, CLV_PROFILE__MAX_FILE, &text, &len,
                                 err)))
        return rc;
    rc = clv_predictor_parse(text, len, path, out, err);
    free(text);
    return rc;
}
