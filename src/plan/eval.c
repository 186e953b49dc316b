/* Links, plans and their evaluation, plan JSON and Graphviz output. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "plan/internal.h"
#include "util/json.h"

/* ---- links --------------------------------------------------------------- */

static const struct {
    const char *name;
    double mbps;
} presets[] = {
    {"cat1", 0.13}, {"3g", 1.1}, {"4g", 5.85}, {"wifi", 18.88}};

#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

int clv_link_n_presets(void)
{
    return N_PRESETS;
}

const char *clv_link_preset_name(int i)
{
    return i >= 0 && i < N_PRESETS ? presets[i].name : NULL;
}

int clv_link_preset(const char *name, clv_link *out)
{
    for (int i = 0; name && i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0) {
            out->bandwidth_mbps = presets[i].mbps;
            out->rtt_ms = 0;
            out->count_result = false;
            return 0;
        }
    return CLV_ENOTFOUND;
}

double clv_link_transfer_ms(const clv_link *link, uint64_t bytes)
{
    /* bits / (Mbit/s * 1e6) seconds = bits / (Mbit/s * 1e3) ms */
    return (double)bytes * 8.0 / (link->bandwidth_mbps * 1e3);
}

int clv_plan__check_link(const clv_link *link, clv_error *err)
{
    if (!link || !isfinite(link->bandwidth_mbps) ||
        link->bandwidth_mbps <= 0)
        return clv_error_set(err, CLV_EINVAL,
                             "the link needs a bandwidth > 0 Mbit/s");
    if (!isfinite(link->rtt_ms) || link->rtt_ms < 0)
        return clv_error_set(err, CLV_EINVAL,
                             "the link's rtt must be finite and >= 0 ms");
    return 0;
}

/* ---- names --------------------------------------------------------------- */

static const char *const method_names[] = {
#define CLV__PLAN_NAME(id, name) name,
    CLV_PLAN_METHOD_MAP(CLV__PLAN_NAME)
#undef CLV__PLAN_NAME
};

const char *clv_plan_method_name(clv_plan_method m)
{
    return (int)m >= 0 && m < CLV_PLAN_METHOD_COUNT ? method_names[m] : "?";
}

int clv_plan_method_from_name(const char *name, clv_plan_method *m)
{
    for (int i = 0; name && i < CLV_PLAN_METHOD_COUNT; i++)
        if (strcmp(method_names[i], name) == 0) {
            *m = (clv_plan_method)i;
            return 0;
        }
    return CLV_ENOTFOUND;
}

const char *clv_plan_mode_name(clv_plan_mode m)
{
    switch (m) {
    case CLV_MODE_LIGHT:
        return "light";
    case CLV_MODE_HEAVY:
        return "heavy";
    case CLV_MODE_CONGESTED:
        return "congested";
    default:
        return "none";
    }
}

/* ---- plans --------------------------------------------------------------- */

void clv_plan_options_init(clv_plan_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = CLV_PLAN_DSL;
    clv_link_preset("wifi", &o->link);
    o->objective = CLV_OBJ_LATENCY;
    o->dsh_grid = 11;
    o->dsh_k = 4;
    o->dsh_rounds = 8;
    o->dsh_eps_ms = 1e-6;
    o->accuracy_drop = 0.01;
}

void clv_plan_init(clv_plan *plan)
{
    memset(plan, 0, sizeof *plan);
}

void clv_plan_release(clv_plan *plan)
{
    if (!plan)
        return;
    free(plan->on_edge);
    free(plan->cut);
    clv_partition_release(&plan->part);
    clv_plan_init(plan);
}

/* Room for n nodes; the arrays keep their size between calls. The
 * allocated size is not stored, so grow to exactly n when n differs. */
int clv_plan__reserve(clv_plan *plan, int n)
{
    if (plan->on_edge && plan->cut && plan->n_nodes == n)
        return 0;
    size_t k = n > 0 ? (size_t)n : 1;
    unsigned char *e = realloc(plan->on_edge, k);
    if (!e)
        return CLV_ENOMEM;
    plan->on_edge = e;
    int *c = realloc(plan->cut, k * sizeof *c);
    if (!c)
        return CLV_ENOMEM;
    plan->cut = c;
    plan->n_nodes = n;
    return 0;
}

double clv_plan__result_ms(const clv_problem *p, const clv_link *link, int i)
{
    const clv_problem_node *nd = &p->nodes[i];
    if (!link->count_result || nd->n_consumers > 0)
        return 0;
    return clv_link_transfer_ms(link, nd->out_bytes);
}

void clv_plan__eval_fast(const clv_problem *p, const clv_link *link,
                         const unsigned char *on_edge, clv_plan *out)
{
    int n = p->n_nodes, n_cut = 0;
    double te = 0, tt = 0, tc = 0;
    uint64_t bytes = 0;
    bool crosses = false;
    for (int i = 0; i < n; i++) {
        const clv_problem_node *nd = &p->nodes[i];
        if (on_edge[i]) {
            te += nd->t_edge_ms;
            for (int k = 0; k < nd->n_consumers; k++)
                if (!on_edge[nd->consumers[k]]) {
                    out->cut[n_cut++] = i;
                    bytes += nd->out_bytes;
                    tt += clv_link_transfer_ms(link, nd->out_bytes);
                    crosses = true;
                    break;
                }
        } else {
            tc += nd->t_cloud_ms;
            if (link->count_result && nd->n_consumers == 0) {
                tt += clv_link_transfer_ms(link, nd->out_bytes);
                crosses = true;
            }
        }
    }
    if (crosses)
        tt += link->rtt_ms;
    if (out->on_edge != on_edge)
        memcpy(out->on_edge, on_edge, (size_t)n);
    out->n_cut = n_cut;
    out->cut_bytes = bytes;
    out->edge_ms = te;
    out->transfer_ms = tt;
    out->cloud_ms = tc;
    out->latency_ms = te + tt + tc;
    double m = te > tt ? te : tt;
    out->max_stage_ms = m > tc ? m : tc;
    out->fps = out->max_stage_ms > 0 ? 1000.0 / out->max_stage_ms
                                     : INFINITY;
}

int clv_plan_evaluate(const clv_problem *p, const clv_link *link,
                      const unsigned char *on_edge, clv_plan *out,
                      clv_error *err)
{
    int rc;
    if (!p->finalized)
        return clv_error_set(err, CLV_EINVAL,
                             "the problem is not finalized");
    if ((rc = clv_plan__check_link(link, err)))
        return rc;
    if (!on_edge[0])
        return clv_error_set(err, CLV_EINVAL,
                             "node '%s' is the source (the frame) and must "
                             "run on the edge",
                             p->nodes[0].name);
    for (int i = 0; i < p->n_nodes; i++) {
        if (on_edge[i])
            continue;
        const clv_problem_node *nd = &p->nodes[i];
        for (int k = 0; k < nd->n_consumers; k++)
            if (on_edge[nd->consumers[k]])
                return clv_error_set(err, CLV_EINVAL,
                                     "node '%s' runs on the cloud but feeds "
                                     "'%s' on the edge",
                                     nd->name,
                                     p->nodes[nd->consumers[k]].name);
    }
    if (on_edge != out->on_edge && clv_plan__reserve(out, p->n_nodes))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    clv_plan__eval_fast(p, link, on_edge, out);
    return clv_plan__fill_partition(p, out, err);
}

int clv_plan__fill_partition(const clv_problem *p, clv_plan *plan,
                             clv_error *err)
{
    if (!p->graph) {
        clv_partition_release(&plan->part);
        return 0;
    }
    /* problem node 0 is the graph's input, node i+1 graph node i */
    return clv_partition_make(p->graph, plan->on_edge + 1, &plan->part, err);
}

int clv_plan_copy(clv_plan *dst, const clv_plan *src, clv_error *err)
{
    clv_plan c = *src;
    c.on_edge = NULL;
    c.cut = NULL;
    clv_partition_init(&c.part);
    if (src->n_nodes) {
        if (clv_plan__reserve(&c, src->n_nodes)) {
            clv_plan_release(&c);
            return clv_error_set(err, CLV_ENOMEM, "out of memory");
        }
        memcpy(c.on_edge, src->on_edge, (size_t)src->n_nodes);
        memcpy(c.cut, src->cut, (size_t)src->n_cut * sizeof *c.cut);
    }
    int rc = clv_partition_copy(&c.part, &src->part, err);
    if (rc) {
        clv_plan_release(&c);
        return rc;
    }
    clv_plan_release(dst);
    *dst = c;
    return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

char *clv_plan_to_json(const clv_problem *p, const clv_link *link,
                       const clv_plan *plan)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (!root)
        return NULL;
    bool ok = cJSON_AddStringToObject(root, "format", "cleave-plan") &&
              cJSON_AddNumberToObject(root, "version", 1) &&
              cJSON_AddStringToObject(root, "problem", clv_problem_name(p)) &&
              cJSON_AddStringToObject(root, "planner",
                                      clv_plan_method_name(plan->method));
    if (ok && plan->method == CLV_PLAN_DADS)
        ok = cJSON_AddStringToObject(root, "mode",
                                     clv_plan_mode_name(plan->mode)) &&
             cJSON_AddNumberToObject(root, "target_fps", plan->target_fps);
    if (ok && plan->method == CLV_PLAN_DSCCS)
        ok = cJSON_AddNumberToObject(root, "cloud_budget_ms",
                                     plan->budget_ms) &&
             cJSON_AddBoolToObject(root, "budget_infeasible",
                                   plan->budget_infeasible);
    cJSON *l = ok ? cJSON_AddObjectToObject(root, "link") : NULL;
    ok = l && cJSON_AddNumberToObject(l, "bandwidth_mbps",
                                      link->bandwidth_mbps) &&
         cJSON_AddNumberToObject(l, "rtt_ms", link->rtt_ms) &&
         cJSON_AddBoolToObject(l, "count_result", link->count_result);
    cJSON *en = ok ? cJSON_AddArrayToObject(root, "edge_nodes") : NULL;
    cJSON *cn = en ? cJSON_AddArrayToObject(root, "cloud_nodes") : NULL;
    cJSON *cut = cn ? cJSON_AddArrayToObject(root, "cut") : NULL;
    ok = cut != NULL;
    for (int i = 0; ok && i < plan->n_nodes; i++) {
        ok = clv_util_json_append(plan->on_edge[i] ? en : cn,
                                  cJSON_CreateString(p->nodes[i].name));
    }
    for (int k = 0; ok && k < plan->n_cut; k++) {
        const clv_problem_node *nd = &p->nodes[plan->cut[k]];
        cJSON *o = cJSON_CreateObject();
        if (!(ok = clv_util_json_append(cut, o)))
            break;
        ok = cJSON_AddStringToObject(o, "node", nd->name) &&
             cJSON_AddNumberToObject(o, "bytes", (double)nd->out_bytes);
    }
    ok = ok &&
         cJSON_AddNumberToObject(root, "cut_bytes", (double)plan->cut_bytes) &&
         cJSON_AddNumberToObject(root, "edge_ms", plan->edge_ms) &&
         cJSON_AddNumberToObject(root, "transfer_ms", plan->transfer_ms) &&
         cJSON_AddNumberToObject(root, "cloud_ms", plan->cloud_ms) &&
         cJSON_AddNumberToObject(root, "latency_ms", plan->latency_ms) &&
         cJSON_AddNumberToObject(root, "max_stage_ms", plan->max_stage_ms);
    if (ok)
        ok = isfinite(plan->fps)
                 ? cJSON_AddNumberToObject(root, "fps", plan->fps) != NULL
                 : cJSON_AddNullToObject(root, "fps") != NULL;
    ok = ok &&
         cJSON_AddNumberToObject(root, "evaluations",
                                 (double)plan->evaluations) &&
         cJSON_AddStringToObject(root, "note", plan->note);
    char cname[32];
    ok = ok &&
         cJSON_AddStringToObject(root, "codec",
                                 clv_codec_name(&plan->codec, cname, sizeof cname)) &&
         cJSON_AddNumberToObject(root, "accuracy_loss", plan->accuracy_loss);
    if (ok)
        text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

/* ---- Graphviz ------------------------------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->len : NULL,
                          b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->failed = true;
            return;
        }
        if (b->s && b->len + (size_t)w < b->cap) {
            b->len += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap <= b->len + (size_t)w)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* A name inside double quotes, with quotes and backslashes escaped. */
static void sb_quoted(sbuf *b, const char *name)
{
    sb_printf(b, "\"");
    for (const char *c = name; *c; c++)
        sb_printf(b, "%s%c", (*c == '"' || *c == '\\') ? "\\" : "", *c);
    sb_printf(b, "\"");
}

static void sb_size(sbuf *b, uint64_t bytes)
{
    if (bytes >= 1024 * 1024)
        sb_printf(b, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    else if (bytes >= 1024)
        sb_printf(b, "%.1f KiB", (double)bytes / 1024.0);
    else
        sb_printf(b, "%llu B", (unsigned long long)bytes);
}

/* The DOT of one plan, or of a schedule's two cuts (A and B): a node is
 * blue on the edge in every cut, orange on the cloud in every cut, green
 * on the edge in A only, violet in B only; A's cut tensors are red, B's
 * dashed violet. */
static char *to_dot(const clv_problem *p, const clv_plan *const *pl, int np)
{
    static const char *const fill[4] = {"#fdae6b", "#a1d99b", "#bcbddc",
                                        "#9ecae1"};
    static const char *const cutstyle[2] = {
        "color=red, penwidth=2.5, fontcolor=red",
        "color=\"#6a51a3\", style=dashed, penwidth=2.5, "
        "fontcolor=\"#6a51a3\""};
    sbuf b = {NULL, 0, 0, false};
    sb_printf(&b, "digraph plan {\n  rankdir=TB;\n  label=");
    sb_quoted(&b, clv_problem_name(p));
    sb_printf(&b, ";\n  node [shape=box, style=filled, fontname=Helvetica];"
                  "\n");
    for (int k = 0; k < np; k++)
        sb_printf(&b, "  // %s%s: edge %.3f ms, transfer %.3f ms, cloud "
                      "%.3f ms\n",
                  np > 1 ? (k ? "cut B, " : "cut A, ") : "",
                  clv_plan_method_name(pl[k]->method), pl[k]->edge_ms,
                  pl[k]->transfer_ms, pl[k]->cloud_ms);
    for (int i = 0; i < p->n_nodes; i++) {
        const clv_problem_node *nd = &p->nodes[i];
        int e0 = pl[0]->on_edge[i] != 0, e1 = pl[np - 1]->on_edge[i] != 0;
        sb_printf(&b, "  ");
        sb_quoted(&b, nd->name);
        sb_printf(&b, " [fillcolor=\"%s\", tooltip=\"edge %.3f ms, cloud "
                      "%.3f ms\"];\n",
                  fill[e0 + 2 * e1],
                  nd->t_edge_ms, nd->t_cloud_ms);
    }
    for (int i = 0; i < p->n_nodes; i++) {
        const clv_problem_node *nd = &p->nodes[i];
        for (int c = 0; c < nd->n_consumers; c++) {
            int v = nd->consumers[c];
            bool any = false;
            for (int k = 0; k < np; k++) {
                if (!(pl[k]->on_edge[i] && !pl[k]->on_edge[v]))
                    continue;
                any = true;
                sb_printf(&b, "  ");
                sb_quoted(&b, nd->name);
                sb_printf(&b, " -> ");
                sb_quoted(&b, p->nodes[v].name);
                sb_printf(&b, " [%s, label=\"", cutstyle[k]);
                sb_size(&b, nd->out_bytes);
                sb_printf(&b, "\"];\n");
            }
            if (any)
                continue;
            sb_printf(&b, "  ");
            sb_quoted(&b, nd->name);
            sb_printf(&b, " -> ");
            sb_quoted(&b, p->nodes[v].name);
            sb_printf(&b, " [color=gray40];\n");
        }
    }
    sb_printf(&b, "  subgraph cluster_legend {\n    label=\"legend\";\n");
    if (np == 1)
        sb_printf(&b, "    \"legend:edge\" [label=\"edge layer\", "
                      "fillcolor=\"#9ecae1\"];\n"
                      "    \"legend:cloud\" [label=\"cloud layer\", "
                      "fillcolor=\"#fdae6b\"];\n"
                      "    \"legend:edge\" -> \"legend:cloud\" [color=red, "
                      "penwidth=2.5, label=\"cut tensor\", fontcolor=red];\n");
    else
        sb_printf(&b, "    \"legend:edge\" [label=\"edge in both cuts\", "
                      "fillcolor=\"#9ecae1\"];\n"
                      "    \"legend:a\" [label=\"edge in cut A only\", "
                      "fillcolor=\"#a1d99b\"];\n"
                      "    \"legend:b\" [label=\"edge in cut B only\", "
                      "fillcolor=\"#bcbddc\"];\n"
                      "    \"legend:cloud\" [label=\"cloud in both cuts\", "
                      "fillcolor=\"#fdae6b\"];\n"
                      "    \"legend:edge\" -> \"legend:a\" [%s, label=\"cut "
                      "A\"];\n"
                      "    \"legend:a\" -> \"legend:b\" [%s, label=\"cut "
                      "B\"];\n",
                  cutstyle[0], cutstyle[1]);
    sb_printf(&b, "  }\n}\n");
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

char *clv_plan_to_dot(const clv_problem *p, const clv_plan *plan)
{
    const clv_plan *one[1] = {plan};
    return to_dot(p, one, 1);
}

char *clv_schedule_to_dot(const clv_problem *p, const clv_schedule *s)
{
    const clv_plan *two[2] = {&s->parts[0], &s->parts[s->n_parts - 1]};
    if (s->n_parts < 1)
        return NULL;
    return to_dot(p, two, s->n_parts > 1 ? 2 : 1);
}
