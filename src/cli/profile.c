/* cleave profile: measure every layer on this device (optionally under a
 * CPU limit), fit a regression predictor to profiles, or predict a profile
 * for an unseen model. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/load.h"
#include "cleave/profile.h"
#include "cli/cli.h"

#define PROFILE_MAX_FIT 256

static const char profile_usage[] =
    "usage: cleave profile MODEL --device NAME -o PROFILE.json [--runs N]\n"
    "                      [--warmup N] [--threads N] [--cpu-quota F]\n"
    "                      [--cpu-period US] [--slowdown F] [--size HW]\n"
    "                      [--seed N] [--top K]\n"
    "       cleave profile --fit PREDICTOR.json PROFILE.json...\n"
    "                      [--min-samples N] [--relative | --absolute]\n"
    "                      [--intercept] [--floor-ms MS]\n"
    "       cleave profile --predict PREDICTOR.json MODEL -o PROFILE.json\n"
    "                      [--device NAME] [--size HW] [--seed N]\n"
    "\n"
    "Measures each node of MODEL with cleave's engine (fusion off, so every\n"
    "node has its own time): N timed runs of the whole model after the\n"
    "warm-up runs; each node's median latency, output bytes and FLOPs, and\n"
    "the median whole-model time go to PROFILE.json (docs/profile.md), which\n"
    "`cleave plan --edge-profile/--cloud-profile` reads.\n"
    "\n"
    "  MODEL           model.onnx, network.cfg (darknet) or zoo:NAME\n"
    "  --device NAME   a name for the device or condition (recorded)\n"
    "  -o FILE         where to write the profile\n"
    "  --runs N        timed runs (default 10)\n"
    "  --warmup N      untimed runs first (default 2)\n"
    "  --threads N     engine threads (default 1)\n"
    "  --cpu-quota F   measure inside a new cgroup limited to F of one core\n"
    "                  (0.2 = 20%), cgroup v2 cpu.max or v1\n"
    "                  cpu.cfs_quota_us; the group is removed afterwards.\n"
    "                  Needs root or a delegated cgroup; where that is not\n"
    "                  possible it says why and fails (status 1)\n"
    "  --cpu-period US the cgroup's CFS period in microseconds (default\n"
    "                  10000: short periods spread the throttling evenly\n"
    "                  over the nodes)\n"
    "  --slowdown F    no-root emulation: after each run of b seconds sleep\n"
    "                  b*(1-F)/F, and record node times divided by F\n"
    "  --size HW       input size of a zoo: model (default: the model's)\n"
    "  --seed N        seed of the input values and of zoo:/.cfg weights\n"
    "                  (default 1)\n"
    "  --top K         print the K slowest nodes (default 5)\n"
    "\n"
    "  --fit PRED      fit a latency predictor (per op class, ms linear in\n"
    "                  FLOPs, input, output and weight bytes, non-negative\n"
    "                  least squares) to the PROFILE.json files, all measured\n"
    "                  on one device, and write it to PRED\n"
    "  --min-samples N least nodes for a class of its own (default 6)\n"
    "  --relative      least relative squared error: each node weighted by\n"
    "                  1/max(ms, MS) (default for profiles of medians)\n"
    "  --absolute      least squares in ms (default for profiles of means,\n"
    "                  i.e. measured with --cpu-quota)\n"
    "  --floor-ms MS   the floor of the relative weighting (default 0.01)\n"
    "  --intercept     fit a constant term per model too (default: none)\n"
    "  --predict PRED  write the profile PRED predicts for MODEL (runs 0,\n"
    "                  \"predicted_by\" PRED) instead of measuring\n"
    "\n"
    "Exit status: 0 success, 1 the work failed (model, files, CPU limit),\n"
    "2 bad command line.\n";

typedef struct profile_args {
    const char *model;
    const char *device;
    const char *output;
    const char *fit;
    const char *predict;
    const char *files[PROFILE_MAX_FIT];
    int n_files;
    uint64_t runs, warmup, threads, size, seed, top, min_samples, period;
    double quota, slowdown, floor_ms;
    bool absolute, relative, intercept;
} profile_args;

/* The value of a numeric option lies in [lo, hi]; false after saying
 * which option is not. */
static bool in_range(const char *opt, bool given, double v, double lo,
                     double hi)
{
    if (!given || (v >= lo && v <= hi))
        return true;
    fprintf(stderr, "cleave profile: %s: '%g' is not a number from %g to %g\n",
            opt, v, lo, hi);
    return false;
}

/* Parses the command line; returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, profile_args *a)
{
    bool have_quota = false, have_slow = false, have_floor = false;
    memset(a, 0, sizeof *a);
    a->runs = 10;
    a->warmup = 2;
    a->threads = 1;
    a->seed = 1;
    a->top = 5;
    const cli_opt opts[] = {
        {"device", 0, CLI_STR, &a->device, NULL},
        {"output", 'o', CLI_STR, &a->output, NULL},
        {"fit", 0, CLI_STR, &a->fit, NULL},
        {"predict", 0, CLI_STR, &a->predict, NULL},
        {"runs", 0, CLI_U64, &a->runs, NULL},
        {"warmup", 0, CLI_U64, &a->warmup, NULL},
        {"threads", 0, CLI_U64, &a->threads, NULL},
        {"size", 0, CLI_U64, &a->size, NULL},
        {"seed", 0, CLI_U64, &a->seed, NULL},
        {"top", 0, CLI_U64, &a->top, NULL},
        {"min-samples", 0, CLI_U64, &a->min_samples, NULL},
        {"cpu-period", 0, CLI_U64, &a->period, NULL},
        {"cpu-quota", 0, CLI_DBL, &a->quota, &have_quota},
        {"slowdown", 0, CLI_DBL, &a->slowdown, &have_slow},
        {"floor-ms", 0, CLI_DBL, &a->floor_ms, &have_floor},
        {"absolute", 0, CLI_FLAG, &a->absolute, NULL},
        {"relative", 0, CLI_FLAG, &a->relative, NULL},
        {"intercept", 0, CLI_FLAG, &a->intercept, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int rc = cli_parse("profile", CLI_TEXT(profile_usage), opts, argc, argv, "file",
                       a->files, PROFILE_MAX_FIT, &a->n_files);
    if (rc >= 0)
        return rc;
    if (!in_range("--cpu-quota", have_quota, a->quota, 0.01, 64) ||
        !in_range("--slowdown", have_slow, a->slowdown, 1e-3, 1) ||
        !in_range("--floor-ms", have_floor, a->floor_ms, 1e-6, 1e6))
        return CLI_USAGE;
    return -1;
}

/* Loads MODEL, at input size `size` for zoo: models when size > 0. */
static clv_graph *load_model(const char *model, uint64_t size,
                             uint64_t seed)
{
    if (!size)
        return cli_load(model, seed);
    if (strncmp(model, "zoo:", 4) != 0) {
        fprintf(stderr,
                "cleave profile: --size applies to zoo: models only, not "
                "'%s'\n",
                model);
        return NULL;
    }
    clv_graph *g = NULL;
    clv_error err;
    clv_error_clear(&err);
    int rc = clv_zoo_build(model + 4, seed, (int64_t)size, &g, &err);
    if (rc) {
        fprintf(stderr, "cleave: %s\n", clv_error_text(&err, rc));
        return NULL;
    }
    return g;
}

static int cmp_node_ms(const void *x, const void *y)
{
    const clv_profile_node *a = *(const clv_profile_node *const *)x;
    const clv_profile_node *b = *(const clv_profile_node *const *)y;
    return (a->ms < b->ms) - (a->ms > b->ms);
}

static void print_summary(const clv_profile *p, const char *path,
                          uint64_t top, const char *limit_note)
{
    double sum = 0;
    for (int i = 0; i < p->n_nodes; i++)
        sum += p->nodes[i].ms;
    printf("%s %s on '%s': %d nodes, %d thread%s",
           p->predicted_by ? "predicted" : "profiled", p->model, p->device,
           p->n_nodes, p->threads, p->threads == 1 ? "" : "s");
    if (p->predicted_by)
        printf(", by %s\n", p->predicted_by);
    else
        printf(", %d runs after %d warm-up\n", p->runs, p->warmup);
    if (limit_note)
        printf("condition: %s\n", limit_note);
    if (p->predicted_by)
        printf("total %.3f ms (sum of node times)\n", p->total_ms);
    else
        printf("total %.3f ms (median whole run; fastest %.3f ms); sum of "
               "node times %.3f ms\n",
               p->total_ms, p->min_total_ms, sum);
    if (p->node_mean)
        printf("node times are means over the runs (the cgroup's waits fall "
               "into nodes at random)\n");
    if (!p->predicted_by && p->min_total_ms > 0 && !p->node_mean &&
        p->total_ms > 1.3 * p->min_total_ms)
        printf("note: the median whole run is %.0f%% above the fastest: "
               "the machine looks busy; node times are medians, which "
               "filter most preemptions\n",
               100 * (p->total_ms / p->min_total_ms - 1));
    if (top > 0 && p->n_nodes > 0) {
        const clv_profile_node **s = malloc((size_t)p->n_nodes * sizeof *s);
        if (s) {
            for (int i = 0; i < p->n_nodes; i++)
                s[i] = &p->nodes[i];
            qsort(s, (size_t)p->n_nodes, sizeof *s, cmp_node_ms);
            printf("slowest nodes:\n");
            for (int i = 0; i < p->n_nodes && (uint64_t)i < top; i++)
                printf("  %-32.32s %-18s %10.3f ms  %5.1f%%\n", s[i]->name,
                       s[i]->op, s[i]->ms,
                       sum > 0 ? 100.0 * s[i]->ms / sum : 0.0);
            free(s);
        }
    }
    printf("wrote %s\n", path);
}

static int do_fit(const profile_args *a)
{
    clv_profile *ps = NULL;
    const clv_profile **pp = NULL;
    clv_predictor *pr = NULL;
    clv_predictor_options po;
    clv_error err;
    int rc, status = CLI_FAIL, loaded = 0;

    if (a->n_files == 0) {
        fprintf(stderr, "cleave profile: --fit needs one or more "
                        "PROFILE.json files\n");
        return CLI_USAGE;
    }
    if (a->output || a->predict) {
        fprintf(stderr, "cleave profile: --fit writes its own file; it "
                        "takes no -o or --predict\n");
        return CLI_USAGE;
    }
    ps = calloc((size_t)a->n_files, sizeof *ps);
    pp = calloc((size_t)a->n_files, sizeof *pp);
    if (!ps || !pp) {
        fprintf(stderr, "cleave: out of memory\n");
        goto done;
    }
    clv_error_clear(&err);
    for (int i = 0; i < a->n_files; i++) {
        clv_profile_init(&ps[i]);
        loaded = i + 1;
        if ((rc = clv_profile_load(a->files[i], &ps[i], &err))) {
            fprintf(stderr, "cleave profile: %s\n", clv_error_text(&err, rc));
            goto done;
        }
        pp[i] = &ps[i];
    }
    memset(&po, 0, sizeof po);
    po.min_samples = (int)(a->min_samples > 100000 ? 100000 : a->min_samples);
    po.weighting = a->absolute   ? CLV_PREDICT_ABSOLUTE
                   : a->relative ? CLV_PREDICT_RELATIVE
                                 : CLV_PREDICT_AUTO;
    po.floor_ms = a->floor_ms;
    po.intercept = a->intercept;
    if ((rc = clv_predictor_fit(pp, a->n_files, &po, &pr, &err)) ||
        (rc = clv_predictor_save(pr, a->fit, &err))) {
        fprintf(stderr, "cleave profile: %s\n", clv_error_text(&err, rc));
        goto done;
    }
    printf("fitted a predictor for '%s' to %d profile%s:\n",
           clv_predictor_device(pr), a->n_files, a->n_files == 1 ? "" : "s");
    static const char *const shown[] = {
        "all", "conv", "act", "eltwise", "pool", "move", "other", "Conv",
        "Conv1x1", "ConvDepthwise", "ConvGrouped", "Gemm", "MatMul"};
    printf("  %-14s %7s %12s %12s %12s %12s %12s\n", "model", "samples",
           "ms", "ms/GFLOP", "ms/MB in", "ms/MB out", "ms/MB wts");
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++) {
        double c[CLV_PREDICT_FEATURES];
        int n = clv_predictor_coef(pr, shown[i], c);
        if (n < 0)
            continue;
        printf("  %-14s %7d %12.4g %12.4g %12.4g %12.4g %12.4g\n", shown[i],
               n, c[0], c[1] * 1e9, c[2] * 1e6, c[3] * 1e6, c[4] * 1e6);
    }
    printf("wrote %s\n", a->fit);
    status = CLI_OK;
done:
    for (int i = 0; ps && i < loaded; i++)
        clv_profile_release(&ps[i]);
    free(ps);
    free(pp);
    clv_predictor_free(pr);
    return status;
}

/* The profile's "model" label: MODEL, or MODEL@SIZE with --size. */
static void model_label(const profile_args *a, char *label, size_t cap)
{
    if (a->size)
        snprintf(label, cap, "%s@%llu", a->files[0],
                 (unsigned long long)a->size);
    else
        snprintf(label, cap, "%s", a->files[0]);
}

static int do_predict(const profile_args *a)
{
    clv_predictor *pr = NULL;
    clv_graph *g = NULL;
    clv_profile p;
    clv_error err;
    char label[1024];
    int rc, status = CLI_FAIL;

    if (a->n_files != 1 || !a->output) {
        fprintf(stderr, "cleave profile: --predict PRED needs one MODEL and "
                        "-o PROFILE.json\n");
        return CLI_USAGE;
    }
    clv_profile_init(&p);
    clv_error_clear(&err);
    if ((rc = clv_predictor_load(a->predict, &pr, &err))) {
        fprintf(stderr, "cleave profile: %s\n", clv_error_text(&err, rc));
        return CLI_FAIL;
    }
    g = load_model(a->files[0], a->size, a->seed);
    if (!g)
        goto done;
    model_label(a, label, sizeof label);
    if ((rc = clv_predictor_predict(pr, g, label, a->predict, &p, &err))) {
        fprintf(stderr, "cleave profile: %s\n", clv_error_text(&err, rc));
        goto done;
    }
    if (a->device) {
        char *d = malloc(strlen(a->device) + 1);
        if (!d) {
            fprintf(stderr, "cleave: out of memory\n");
            goto done;
        }
        strcpy(d, a->device);
        free(p.device);
        p.device = d;
    }
    if ((rc = clv_profile_save(&p, a->output, &err))) {
        fprintf(stderr, "cleave profile: %s\n", clv_error_text(&err, rc));
        goto done;
    }
    print_summary(&p, a->output, a->top, NULL);
    status = CLI_OK;
done:
    clv_profile_release(&p);
    clv_predictor_free(pr);
    clv_graph_free(g);
    return status;
}

static int do_measure(const profile_args *a)
{
    clv_graph *g = NULL;
    clv_cpu_limit *lim = NULL;
    clv_profile p;
    clv_profile_options o;
    clv_error err;
    char label[1024], note[1200];
    const char *note_p = NULL;
    int rc, status = CLI_FAIL;

    if (a->n_files != 1) {
        fprintf(stderr, a->n_files ? "cleave profile: one MODEL only\n"
                                   : "cleave profile: no MODEL given\n\n");
        if (!a->n_files)
            fputs(profile_usage, stderr);
        return CLI_USAGE;
    }
    if (!a->device || !a->output) {
        fprintf(stderr, "cleave profile: measuring needs --device NAME and "
                        "-o PROFILE.json\n");
        return CLI_USAGE;
    }
    if (a->quota > 0 && a->slowdown > 0) {
        fprintf(stderr, "cleave profile: give --cpu-quota or --slowdown, not "
                        "both\n");
        return CLI_USAGE;
    }
    if (a->period && !(a->quota > 0)) {
        fprintf(stderr, "cleave profile: --cpu-period goes with "
                        "--cpu-quota\n");
        return CLI_USAGE;
    }
    if (a->runs < 1 || a->runs > CLV_PROFILE_MAX_RUNS ||
        a->warmup > CLV_PROFILE_MAX_RUNS || a->threads > 64 ||
        a->period > 1000000) {
        fprintf(stderr, "cleave profile: --runs must be 1 to %d, --warmup at "
                        "most %d, --threads at most 64, --cpu-period at most "
                        "1000000\n",
                CLV_PROFILE_MAX_RUNS, CLV_PROFILE_MAX_RUNS);
        return CLI_USAGE;
    }
    clv_profile_init(&p);
    clv_error_clear(&err);
    g = load_model(a->files[0], a->size, a->seed);
    if (!g)
        return CLI_FAIL;
    model_label(a, label, sizeof label);

    clv_profile_options_init(&o);
    o.model = label;
    o.device = a->device;
    o.runs = (int)a->runs;
    o.warmup = (int)a->warmup;
    o.threads = (int)a->threads;
    o.seed = a->seed;
    o.slowdown = a->slowdown;
    if (a->quota > 0) {
        clv_cpu_limit_options lo;
        memset(&lo, 0, sizeof lo);
        lo.period_us = (int)a->period;
        if ((rc = clv_cpu_limit_enter(a->quota, &lo, &lim, &err))) {
            fprintf(stderr, "cleave profile: --cpu-quota %g: %s\n", a->quota,
                    clv_error_text(&err, rc));
            goto done;
        }
        o.cpu_quota = a->quota;
        snprintf(note, sizeof note, "cpu quota %g of one core, cgroup v%d %s",
                 a->quota, clv_cpu_limit_version(lim),
                 clv_cpu_limit_path(lim));
        note_p = note;
    } else if (a->slowdown > 0 && a->slowdown < 1) {
        snprintf(note, sizeof note,
                 "duty-cycle slowdown %g (sleep %.3g s per busy second)",
                 a->slowdown, (1 - a->slowdown) / a->slowdown);
        note_p = note;
    }
    rc = clv_profile_measure(g, &o, &p, &err);
    if (lim) {
        clv_error lerr;
        clv_error_clear(&lerr);
        int lrc = clv_cpu_limit_leave(lim, &lerr);
        lim = NULL;
        if (lrc)
            fprintf(stderr, "cleave profile: warning: %s\n",
                    clv_error_text(&lerr, lrc));
    }
    if (rc) {
        fprintf(stderr, "cleave profile: %s: %s\n", label,
                clv_error_text(&err, rc));
        goto done;
    }
    if ((rc = clv_profile_save(&p, a->output, &err))) {
        fprintf(stderr, "cleave profile: %s\n", clv_error_text(&err, rc));
        goto done;
    }
    print_summary(&p, a->output, a->top, note_p);
    status = CLI_OK;
done:
    clv_cpu_limit_leave(lim, NULL);
    clv_profile_release(&p);
    clv_graph_free(g);
    return status;
}

int cli_profile(int argc, char **argv)
{
    profile_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.fit && a.predict) {
        fprintf(stderr, "cleave profile: --fit and --predict are separate "
                        "steps\n");
        return CLI_USAGE;
    }
    if (a.fit)
        return do_fit(&a);
    if (a.predict)
        return do_predict(&a);
    return do_measure(&a);
}
