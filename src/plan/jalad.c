/* JALAD (Li et al., §III-C to §III-E): the cut i and the width c chosen
 * together, minimising T_E(i) + S_i(c)/BW + T_C(i) under A_i(c) <= drop,
 * from a measured table; by enumeration, or by the paper's 0-1 program
 * through GLPK (the two are checked equal in tests/test_plan_jalad.c).
 * The table's JSON form is here too (docs/jalad.md). */
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/internal.h"
#include "util/json.h"
#include "util/util.h"

#define TABLE_MAX_FILE ((uint64_t)256 << 20)

/* ---- the table ----------------------------------------------------------- */

void clv_jalad_table_free(clv_jalad_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_cuts; i++) {
        free(t->cuts[i].after);
        free(t->cuts[i].tensor);
        free(t->cuts[i].entries);
    }
    free(t->cuts);
    free(t->model);
    free(t->dataset);
    free(t);
}

static int get_num(const cJSON *o, const char *key, double lo, double hi,
                   double *v, const char *label, const char *where,
                   clv_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
        it->valuedouble < lo || it->valuedouble > hi)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s: \"%s\" must be a number in [%g, %g]",
                             label, where, key, lo, hi);
    *v = it->valuedouble;
    return 0;
}

static char *get_str(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) ? clv_util_strdup(it->valuestring) : NULL;
}

int clv_jalad_table_parse(const char *text, size_t len, const char *label,
                          clv_jalad_table **out, clv_error *err)
{
    cJSON *root = NULL;
    const char *lb = label ? label : "jalad table";
    int rc = clv_util_json_parse(text, len, lb, &root, err);
    *out = NULL;
    if (rc)
        return rc;
    clv_jalad_table *t = calloc(1, sizeof *t);
    if (!t) {
        cJSON_Delete(root);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *cuts = cJSON_GetObjectItemCaseSensitive(root, "cuts");
    double d = 0;
    if (!cJSON_IsString(f) || strcmp(f->valuestring, "cleave-jalad-table") ||
        !cJSON_IsNumber(v) || v->valuedouble != 1) {
        rc = clv_error_set(err, CLV_EFORMAT,
                           "%s: not a cleave-jalad-table of version 1", lb);
        goto fail;
    }
    if (!cJSON_IsArray(cuts)) {
        rc = clv_error_set(err, CLV_EFORMAT, "%s: \"cuts\" must be an array", lb);
        goto fail;
    }
    t->model = get_str(root, "model");
    t->dataset = get_str(root, "dataset");
    t->labelled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "labelled"));
    if ((rc = get_num(root, "images", 0, 1e9, &d, lb, "the table", err)))
        goto fail;
    t->images = (int)d;
    if ((rc = get_num(root, "first_image", 0, 1e9, &d, lb, "the table", err)))
        goto fail;
    t->first_image = (int)d;
    if ((rc = get_num(root, "base_accuracy", 0, 1, &t->base_accuracy, lb,
                      "the table", err)))
        goto fail;
    int nc = cJSON_GetArraySize(cuts);
    t->cuts = calloc((size_t)nc + 1, sizeof *t->cuts);
    if (!t->cuts) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, cuts)
    {
        clv_jalad_cut *k = &t->cuts[t->n_cuts++];
        char where[64];
        snprintf(where, sizeof where, "cut %d", t->n_cuts - 1);
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(c, "after");
        if (cJSON_IsString(after)) {
            k->after = clv_util_strdup(after->valuestring);
        } else if (!cJSON_IsNull(after)) {
            rc = clv_error_set(err, CLV_EFORMAT,
                               "%s: %s: \"after\" must be a node name or null "
                               "(cloud-only)",
                               lb, where);
            goto fail;
        }
        k->tensor = get_str(c, "tensor");
        if ((rc = get_num(c, "position", -1, 1e9, &d, lb, where, err)))
            goto fail;
        k->position = (int)d;
        if ((rc = get_num(c, "raw_bytes", 0, 1e18, &d, lb, where, err)))
            goto fail;
        k->raw_bytes = (uint64_t)d;
        const cJSON *es = cJSON_GetObjectItemCaseSensitive(c, "codecs");
        if (!cJSON_IsArray(es)) {
            rc = clv_error_set(err, CLV_EFORMAT, "%s: %s: \"codecs\" must be an array",
                               lb, where);
            goto fail;
        }
        k->entries = calloc((size_t)cJSON_GetArraySize(es) + 1, sizeof *k->entries);
        if (!k->entries) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, es)
        {
            clv_jalad_entry *x = &k->entries[k->n_entries++];
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "codec");
            clv_error ce = {0};
            if (!cJSON_IsString(nm) || clv_codec_parse(nm->valuestring, &x->codec, &ce)) {
                rc = clv_error_set(err, CLV_EFORMAT, "%s: %s: entry %d: %s", lb, where,
                                   k->n_entries - 1,
                                   ce.msg[0] ? ce.msg : "\"codec\" must be a codec name");
                goto fail;
            }
            if ((rc = get_num(e, "accuracy_loss", -1, 1, &x->accuracy_loss, lb, where,
                              err)) ||
                (rc = get_num(e, "agreement", 0, 1, &x->agreement, lb, where, err)) ||
                (rc = get_num(e, "bytes_mean", 0, 1e18, &x->bytes_mean, lb, where,
                              err)) ||
                (rc = get_num(e, "bytes_p95", 0, 1e18, &x->bytes_p95, lb, where, err)))
                goto fail;
            /* optional: codec times */
            if (cJSON_GetObjectItemCaseSensitive(e, "encode_ms") &&
                ((rc = get_num(e, "encode_ms", 0, 1e9, &x->encode_ms, lb, where, err)) ||
                 (rc = get_num(e, "decode_ms", 0, 1e9, &x->decode_ms, lb, where, err))))
                goto fail;
        }
    }
    cJSON_Delete(root);
    *out = t;
    return 0;
fail:
    cJSON_Delete(root);
    clv_jalad_table_free(t);
    return rc;
}

int clv_jalad_table_load(const char *path, clv_jalad_table **out, clv_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = clv_util_read_file(path, TABLE_MAX_FILE, &buf, &len, err);
    if (rc)
        return rc;
    rc = clv_jalad_table_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

char *clv_jalad_table_to_json(const clv_jalad_table *t)
{
    cJSON *root = cJSON_CreateObject(), *cuts;
    bool ok = root && cJSON_AddStringToObject(root, "format", "cleave-jalad-table") &&
              cJSON_AddNumberToObject(root, "version", 1) &&
              cJSON_AddStringToObject(root, "model", t->model ? t->model : "") &&
              cJSON_AddStringToObject(root, "dataset", t->dataset ? t->dataset : "") &&
              cJSON_AddNumberToObject(root, "images", t->images) &&
              cJSON_AddNumberToObject(root, "first_image", t->first_image) &&
              cJSON_AddBoolToObject(root, "labelled", t->labelled) &&
              cJSON_AddNumberToObject(root, "base_accuracy", t->base_accuracy) &&
              (cuts = cJSON_AddArrayToObject(root, "cuts"));
    for (int i = 0; ok && i < t->n_cuts; i++) {
        const clv_jalad_cut *k = &t->cuts[i];
        cJSON *c = cJSON_CreateObject(), *es;
        ok = c && clv_util_json_append(cuts, c) &&
             (k->after ? cJSON_AddStringToObject(c, "after", k->after) != NULL
                       : cJSON_AddNullToObject(c, "after") != NULL) &&
             cJSON_AddNumberToObject(c, "position", k->position) &&
             cJSON_AddStringToObject(c, "tensor", k->tensor ? k->tensor : "") &&
             cJSON_AddNumberToObject(c, "raw_bytes", (double)k->raw_bytes) &&
             (es = cJSON_AddArrayToObject(c, "codecs"));
        for (int j = 0; ok && j < k->n_entries; j++) {
            const clv_jalad_entry *x = &k->entries[j];
            char name[32];
            cJSON *e = cJSON_CreateObject();
            ok = e && clv_util_json_append(es, e) &&
                 cJSON_AddStringToObject(e, "codec",
                                         clv_codec_name(&x->codec, name, sizeof name)) &&
                 cJSON_AddNumberToObject(e, "accuracy_loss", x->accuracy_loss) &&
                 cJSON_AddNumberToObject(e, "agreement", x->agreement) &&
                 cJSON_AddNumberToObject(e, "bytes_mean", x->bytes_mean) &&
                 cJSON_AddNumberToObject(e, "bytes_p95", x->bytes_p95) &&
                 cJSON_AddNumberToObject(e, "encode_ms", x->encode_ms) &&
                 cJSON_AddNumberToObject(e, "decode_ms", x->decode_ms);
        }
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

int clv_jalad_table_save(const clv_jalad_table *t, const char *path, clv_error *err)
{
    char *text = clv_jalad_table_to_json(t);
    if (!text)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0)
        rc = clv_error_set(err, CLV_EIO, "%s: cannot write", path);
    if (f && fclose(f) && !rc)
        rc = clv_error_set(err, CLV_EIO, "%s: cannot write", path);
    free(text);
    return rc;
}

/* ---- the planner --------------------------------------------------------- */

/* The problem node that ends cut k's edge part: its index (0, the source,
 * for cloud-only), or -1 when the problem has no such node. */
static int cut_end(const clv_problem *p, const clv_jalad_cut *k)
{
    return k->after ? clv_problem_find(p, k->after) : 0;
}

/* The 0-1 program of §III-E: one binary column per (cut, entry) pair, a
 * row making exactly one of them 1 and a row bounding the accuracy loss.
 * Writes the chosen column to *best. */
static int solve_ilp(const double *cost, const double *loss, int n,
                     double max_loss, int *best, clv_error *err)
{
    int rc = 0;
    int *ia = malloc(((size_t)2 * n + 1) * sizeof *ia);
    int *ja = malloc(((size_t)2 * n + 1) * sizeof *ja);
    double *ar = malloc(((size_t)2 * n + 1) * sizeof *ar);
    if (!ia || !ja || !ar) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    int prev = glp_term_out(GLP_OFF);
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    glp_add_cols(lp, n);
    glp_add_rows(lp, 2);
    glp_set_row_bnds(lp, 1, GLP_FX, 1.0, 1.0);          /* sum x = 1 */
    glp_set_row_bnds(lp, 2, GLP_UP, 0.0, max_loss);     /* sum A x <= drop */
    int k = 0;
    for (int j = 0; j < n; j++) {
        glp_set_col_kind(lp, j + 1, GLP_BV);
        glp_set_obj_coef(lp, j + 1, cost[j]);
        k++, ia[k] = 1, ja[k] = j + 1, ar[k] = 1.0;
        k++, ia[k] = 2, ja[k] = j + 1, ar[k] = loss[j];
    }
    glp_load_matrix(lp, k, ia, ja, ar);
    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_ON;
    parm.msg_lev = GLP_MSG_OFF;
    parm.tol_obj = 1e-12;
    int ret = glp_intopt(lp, &parm);
    int status = glp_mip_status(lp);
    *best = -1;
    if (ret == 0 && status == GLP_OPT) {
        for (int j = 0; j < n; j++)
            if (glp_mip_col_val(lp, j + 1) > 0.5)
                *best = j;
    } else {
        rc = clv_error_set(err, CLV_ELIMIT,
                           "jalad: GLPK could not solve the 0-1 program "
                           "(glp_intopt returned %d, status %d)",
                           ret, status);
    }
    glp_delete_prob(lp);
    glp_term_out(prev);
done:
    free(ia);
    free(ja);
    free(ar);
    return rc;
}

void clv_jalad_options_init(clv_jalad_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_loss = 0.01;
}

int clv_jalad_plan(const clv_problem *p, const clv_jalad_table *t,
                   const clv_link *link, const clv_jalad_options *opt,
                   clv_plan *out, clv_jalad_choice *choice, clv_error *err)
{
    clv_jalad_options o;
    if (opt)
        o = *opt;
    else
        clv_jalad_options_init(&o);
    double max_loss = o.max_loss;
    clv_jalad_method method = o.method;
    int rc;
    if (!p->finalized)
        return clv_error_set(err, CLV_EINVAL, "the problem is not finalized");
    if ((rc = clv_plan__check_link(link, err)))
        return rc;
    if (!t)
        return clv_error_set(err, CLV_EINVAL,
                             "jalad needs a table of measured accuracy and "
                             "sizes (cleave profile --jalad)");
    if (!(max_loss >= 0 && max_loss <= 1))
        return clv_error_set(err, CLV_EINVAL,
                             "jalad: the accuracy drop is a fraction in [0, 1] "
                             "(got %g)",
                             max_loss);
    int n = p->n_nodes;
    if (clv_plan__reserve(out, n))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    /* prefix sums: T_E of nodes 0..i, T_C of nodes i+1.. */
    double *pe = malloc(((size_t)n + 1) * sizeof *pe);
    double *pc = malloc(((size_t)n + 1) * sizeof *pc);
    int total = 1;
    for (int i = 0; i < t->n_cuts; i++)
        total += t->cuts[i].n_entries;
    double *cost = malloc((size_t)total * sizeof *cost);
    double *loss = malloc((size_t)total * sizeof *loss);
    int *cut_of = malloc((size_t)total * sizeof *cut_of);
    int *ent_of = malloc((size_t)total * sizeof *ent_of);
    if (!pe || !pc || !cost || !loss || !cut_of || !ent_of) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    pe[0] = 0;
    for (int i = 0; i < n; i++)
        pe[i + 1] = pe[i] + p->nodes[i].t_edge_ms;
    pc[n] = 0;
    for (int i = n - 1; i >= 0; i--)
        pc[i] = pc[i + 1] + p->nodes[i].t_cloud_ms;
    /* every (cut, entry) pair; edge-only first */
    int m = 0;
    cost[m] = pe[n];
    loss[m] = 0;
    cut_of[m] = -1;
    ent_of[m++] = -1;
    for (int i = 0; i < t->n_cuts; i++) {
        const clv_jalad_cut *k = &t->cuts[i];
        int end = cut_end(p, k);
        if (end < 0) {
            rc = clv_error_set(err, CLV_ENOTFOUND,
                               "jalad: the table's cut after '%s' names no node "
                               "of the problem (a table of another model?)",
                               k->after);
            goto done;
        }
        for (int j = 0; j < k->n_entries; j++) {
            const clv_jalad_entry *x = &k->entries[j];
            cost[m] = pe[end + 1] + x->encode_ms + pc[end + 1] + x->decode_ms +
                      clv_link_transfer_ms(link, (uint64_t)llround(x->bytes_mean)) +
                      link->rtt_ms;
            loss[m] = o.loss == CLV_JALAD_ACCURACY ? x->accuracy_loss : 1 - x->agreement;
            cut_of[m] = i;
            ent_of[m++] = j;
        }
    }
    int best = 0;
    if (method == CLV_JALAD_ILP) {
        if ((rc = solve_ilp(cost, loss, m, max_loss, &best, err)))
            goto done;
        if (best < 0)
            best = 0;
    } else {
        for (int j = 1; j < m; j++)
            if (loss[j] <= max_loss && cost[j] < cost[best])
                best = j;
    }
    int feasible = 0;
    for (int j = 0; j < m; j++)
        feasible += loss[j] <= max_loss;
    /* the plan: the prefix partition, its times, the encoded bytes */
    int end = cut_of[best] < 0 ? n - 1 : cut_end(p, &t->cuts[cut_of[best]]);
    for (int i = 0; i < n; i++)
        out->on_edge[i] = i <= end;
    clv_plan__eval_fast(p, link, out->on_edge, out);
    memset(&out->codec, 0, sizeof out->codec);
    out->accuracy_loss = 0;
    if (cut_of[best] >= 0) {
        const clv_jalad_entry *x = &t->cuts[cut_of[best]].entries[ent_of[best]];
        /* T_t charged for the encoded bytes, not the float32 tensor */
        out->transfer_ms += clv_link_transfer_ms(link, (uint64_t)llround(x->bytes_mean)) -
                            clv_link_transfer_ms(link, out->cut_bytes);
        out->cut_bytes = (uint64_t)llround(x->bytes_mean);
        out->edge_ms += x->encode_ms;
        out->cloud_ms += x->decode_ms;
        out->latency_ms = out->edge_ms + out->transfer_ms + out->cloud_ms;
        double mx = out->edge_ms > out->transfer_ms ? out->edge_ms : out->transfer_ms;
        out->max_stage_ms = mx > out->cloud_ms ? mx : out->cloud_ms;
        out->fps = out->max_stage_ms > 0 ? 1000.0 / out->max_stage_ms : INFINITY;
        out->codec = x->codec;
        out->accuracy_loss = loss[best];
    }
    out->method = CLV_PLAN_JALAD;
    out->mode = CLV_MODE_NONE;
    out->target_fps = 0;
    out->budget_ms = 0;
    out->budget_infeasible = false;
    out->evaluations = feasible;
    out->note[0] = '\0';
    if (choice) {
        choice->cut = cut_of[best];
        choice->entry = ent_of[best];
        choice->cost_ms = cost[best];
        choice->candidates = feasible;
    }
    rc = clv_plan__fill_partition(p, out, err);
done:
    free(pe);
    free(pc);
    free(cost);
    free(loss);
    free(cut_of);
    free(ent_of);
    return rc;
}
