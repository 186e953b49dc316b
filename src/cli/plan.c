/* cleave plan: choose where to cut a model (or a problem file) between the
 * edge and the cloud. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cleave/load.h"
#include "cleave/net.h"
#include "cleave/plan.h"
#include "cli/cli.h"

static const char plan_usage[] =
    "usage: cleave plan MODEL --edge-profile E.json --cloud-profile C.json "
    "[options]\n"
    "       cleave plan MODEL --edge-gflops G --cloud-gflops G [options]\n"
    "       cleave plan --problem FILE.json [options]\n"
    "\n"
    "Chooses which layers run on the edge and which on the cloud, and\n"
    "predicts the time of one frame: edge time + transfer time + cloud time\n"
    "(latency), and the pipeline's max stage and frames/s.\n"
    "\n"
    "The problem (per-layer edge time, cloud time, output size):\n"
    "  MODEL                model.onnx, network.cfg or zoo:NAME, with\n"
    "  --edge-profile F     per-layer times measured on the edge and\n"
    "  --cloud-profile F    on the cloud (docs/profile.md), or\n"
    "  --edge-gflops G      times from each layer's FLOPs at G GFLOP/s on\n"
    "  --cloud-gflops G     the edge and on the cloud\n"
    "  --problem FILE       a problem file (docs/problem.md)\n"
    "  --dump-problem FILE  write the problem as a problem file\n"
    "  --seed N             weight seed for zoo: and .cfg models (default 1)\n"
    "  --frame-codec F      what sending the frame costs (a MODEL's input):\n"
    "                       u8 (8-bit pixels, the default: what a camera\n"
    "                       sends) or raw (float32); docs/codec.md\n"
    "\n"
    "The link (default: the problem file's link, else wifi):\n"
    "  --link NAME          cat1 (0.13 Mbit/s), 3g (1.1), 4g (5.85), wifi "
    "(18.88)\n"
    "  --bandwidth RATE     uplink: 7.5 (Mbit/s), 7.5mbit, 500kbit, 1gbit\n"
    "  --rtt MS             round trip paid once per frame if anything "
    "crosses\n"
    "  --count-result       also charge the outputs' return to the edge\n"
    "\n"
    "The planner (default dsl; docs/plan.md):\n"
    "  --planner NAME       edge, cloud, neurosurgeon, brute, dsl, dsh, dads,\n"
    "                       dsccs, jalad\n"
    "  --fps F              dads: the frame rate to keep up with\n"
    "  --cloud-budget MS    dsccs: the cloud's time per frame (transfer +\n"
    "                       cloud compute)\n"
    "  --objective NAME     brute: latency (default), stage or budget\n"
    "  --table FILE         jalad: the measured accuracy and bytes of every\n"
    "                       cut and codec (`cleave jalad-table`, docs/jalad.md)\n"
    "  --accuracy-drop X    jalad: the largest loss allowed, a fraction (default\n"
    "                       0.01: one point of top-1; see --loss)\n"
    "  --ilp                jalad: solve the paper's 0-1 program with GLPK\n"
    "                       instead of enumerating (the same answer)\n"
    "  --loss WHAT          jalad: what the bound bounds: disagreement (default:\n"
    "                       the share of answers the codec changes, an upper\n"
    "                       bound of the accuracy lost) or accuracy (the\n"
    "                       paper's: calibration accuracy lost, which changes\n"
    "                       that cancel out there hide)\n"
    "  --sweep              every planner on every link preset, side by "
    "side\n"
    "                       (jalad too with --table)\n"
    "  --planner jps        N identical jobs at once (the JPS paper): each\n"
    "                       job its own cut, Johnson's order; the makespan\n"
    "                       beside all-edge (LO), all-cloud (CO) and every\n"
    "                       job at dsl's cut in order (PO)\n"
    "  --jobs N             jps: the number of jobs (default 10)\n"
    "  --jps WAY            jps: frontier (default: the min-cuts of every\n"
    "                       bandwidth, for DAGs), chain (the cuts after each\n"
    "                       layer in order, the paper's Algorithm 2), paths\n"
    "                       (its Algorithm 3: a cut per source-to-output\n"
    "                       path), brute (every mix of the chain and\n"
    "                       frontier cuts; small cases only)\n"
    "\n"
    "Output:\n"
    "  --json               the plan as JSON (docs/plan.md)\n"
    "  --dot FILE           the plan as Graphviz: edge layers blue, cloud\n"
    "                       layers orange, cut tensors red\n";

typedef struct plan_args {
    const char *model, *problem, *edge_prof, *cloud_prof, *dump, *dot;
    const char *link_name;
    double edge_gflops, cloud_gflops;
    double bandwidth, rtt;
    bool have_bw, have_rtt, count_result, json, sweep;
    bool jps;                /* --planner jps */
    uint64_t jobs;           /* --jobs N */
    const char *jps_method;  /* --jps chain|frontier|brute */
    const char *table;       /* --table: jalad's */
    const char *loss;        /* --loss */
    const char *frame_codec; /* --frame-codec */
    bool have_drop, ilp;
    clv_plan_options o;
    uint64_t seed;
} plan_args;

/* Parses the command line. Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, plan_args *a)
{
    const char *link = NULL, *bandwidth = NULL, *planner = NULL;
    const char *objective = NULL;
    bool have_budget = false, have_gflops[2] = {false, false};
    bool have_jobs = false;
    memset(a, 0, sizeof *a);
    clv_plan_options_init(&a->o);
    a->seed = 1;
    a->jobs = 10;
    const cli_opt opts[] = {
        {"json", 0, CLI_FLAG, &a->json, NULL},
        {"sweep", 0, CLI_FLAG, &a->sweep, NULL},
        {"count-result", 0, CLI_FLAG, &a->count_result, NULL},
        {"problem", 0, CLI_STR, &a->problem, NULL},
        {"edge-profile", 0, CLI_STR, &a->edge_prof, NULL},
        {"cloud-profile", 0, CLI_STR, &a->cloud_prof, NULL},
        {"dump-problem", 0, CLI_STR, &a->dump, NULL},
        {"dot", 0, CLI_STR, &a->dot, NULL},
        {"seed", 0, CLI_U64, &a->seed, NULL},
        {"edge-gflops", 0, CLI_DBL, &a->edge_gflops, &have_gflops[0]},
        {"cloud-gflops", 0, CLI_DBL, &a->cloud_gflops, &have_gflops[1]},
        {"link", 0, CLI_STR, &link, NULL},
        {"bandwidth", 0, CLI_STR, &bandwidth, NULL},
        {"rtt", 0, CLI_DBL, &a->rtt, &a->have_rtt},
        {"fps", 0, CLI_DBL, &a->o.fps, NULL},
        {"cloud-budget", 0, CLI_DBL, &a->o.cloud_budget_ms, &have_budget},
        {"planner", 0, CLI_STR, &planner, NULL},
        {"objective", 0, CLI_STR, &objective, NULL},
        {"jobs", 0, CLI_U64, &a->jobs, &have_jobs},
        {"jps", 0, CLI_STR, &a->jps_method, NULL},
        {"table", 0, CLI_STR, &a->table, NULL},
        {"accuracy-drop", 0, CLI_DBL, &a->o.accuracy_drop, &a->have_drop},
        {"ilp", 0, CLI_FLAG, &a->ilp, NULL},
        {"loss", 0, CLI_STR, &a->loss, NULL},
        {"frame-codec", 0, CLI_STR, &a->frame_codec, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int rc = cli_parse("plan", CLI_TEXT(plan_usage), opts, argc, argv, "MODEL",
                       &a->model, 1, NULL);
    if (rc >= 0)
        return rc;
    /* one line per mistake, naming the option */
    for (int k = 0; k < 2; k++) {
        double v = k ? a->cloud_gflops : a->edge_gflops;
        if (have_gflops[k] && !(v > 0)) {
            fprintf(stderr, "cleave plan: --%s-gflops: '%g' is not a "
                            "positive number\n", k ? "cloud" : "edge", v);
            return CLI_USAGE;
        }
    }
    if (a->have_rtt && a->rtt < 0) {
        fprintf(stderr, "cleave plan: --rtt: '%g' is not a non-negative "
                        "number\n", a->rtt);
        return CLI_USAGE;
    }
    if (a->o.fps < 0) {
        fprintf(stderr, "cleave plan: --fps: '%g' is not a positive number\n",
                a->o.fps);
        return CLI_USAGE;
    }
    if (have_budget && a->o.cloud_budget_ms < 0) {
        fprintf(stderr, "cleave plan: --cloud-budget: '%g' is not a "
                        "non-negative number\n", a->o.cloud_budget_ms);
        return CLI_USAGE;
    }
    if (link && bandwidth) {
        fprintf(stderr, "cleave plan: --link and --bandwidth: one of them\n");
        return CLI_USAGE;
    }
    if (link) {
        clv_link l;
        if (clv_link_preset(link, &l)) {
            fprintf(stderr, "cleave plan: --link: unknown link '%s' (cat1, "
                            "3g, 4g or wifi)\n", link);
            return CLI_USAGE;
        }
        a->link_name = link;
        a->bandwidth = l.bandwidth_mbps;
        a->have_bw = true;
    }
    if (bandwidth) {
        /* as `cleave edge` takes it: 7.5 (Mbit/s), 500kbit, 1gbit, 3g */
        double bps = 0;
        clv_error err;
        clv_error_clear(&err);
        if (clv_net_parse_rate(bandwidth, &bps, &err)) {
            fprintf(stderr, "cleave plan: --bandwidth: %s\n", err.msg);
            return CLI_USAGE;
        }
        a->bandwidth = bps / 1e6;
        a->have_bw = true;
    }
    a->jps = planner && !strcmp(planner, "jps");
    if (planner && !a->jps &&
        clv_plan_method_from_name(planner, &a->o.method)) {
        fprintf(stderr, "cleave plan: --planner: unknown planner '%s' (edge, "
                        "cloud, neurosurgeon, brute, dsl, dsh, dads, "
                        "dsccs, jalad, jps)\n", planner);
        return CLI_USAGE;
    }
    if (!a->jps && (have_jobs || a->jps_method)) {
        fprintf(stderr, "cleave plan: --jobs and --jps go with --planner "
                        "jps\n");
        return CLI_USAGE;
    }
    if (a->jps && (a->jobs < 1 || a->jobs > 1000000)) {
        fprintf(stderr, "cleave plan: --jobs: 1 to 1000000\n");
        return CLI_USAGE;
    }
    if (a->jps_method && strcmp(a->jps_method, "chain") &&
        strcmp(a->jps_method, "frontier") && strcmp(a->jps_method, "brute") &&
        strcmp(a->jps_method, "paths")) {
        fprintf(stderr, "cleave plan: --jps: '%s' is not frontier, chain, "
                        "paths or brute\n", a->jps_method);
        return CLI_USAGE;
    }
    if (have_budget)
        a->o.objective = CLV_OBJ_BUDGET;
    if (objective) {
        if (!strcmp(objective, "latency"))
            a->o.objective = CLV_OBJ_LATENCY;
        else if (!strcmp(objective, "stage"))
            a->o.objective = CLV_OBJ_MAX_STAGE;
        else if (!strcmp(objective, "budget"))
            a->o.objective = CLV_OBJ_BUDGET;
        else {
            fprintf(stderr, "cleave plan: --objective: unknown objective "
                            "'%s' (latency, stage or budget)\n", objective);
            return CLI_USAGE;
        }
    }
    bool profiles = a->edge_prof || a->cloud_prof;
    bool gflops = a->edge_gflops > 0 || a->cloud_gflops > 0;
    if (!a->model == !a->problem) {
        fprintf(stderr, "cleave plan: give a MODEL or --problem FILE (one of "
                "them)\n\n%s", plan_usage);
        return CLI_USAGE;
    }
    if (a->model && (profiles == gflops ||
                     (profiles && !(a->edge_prof && a->cloud_prof)) ||
                     (gflops && !(a->edge_gflops > 0 &&
                                  a->cloud_gflops > 0)))) {
        fprintf(stderr, "cleave plan: a MODEL needs --edge-profile and "
                "--cloud-profile, or --edge-gflops and --cloud-gflops\n");
        return CLI_USAGE;
    }
    if (a->problem && (profiles || gflops)) {
        fprintf(stderr, "cleave plan: --problem carries its own times; "
                "profiles and --*-gflops apply to a MODEL\n");
        return CLI_USAGE;
    }
    if (a->have_drop && !(a->o.accuracy_drop >= 0 && a->o.accuracy_drop <= 1)) {
        fprintf(stderr, "cleave plan: --accuracy-drop: a fraction in [0, 1] "
                        "(0.01 = one point of top-1)\n");
        return CLI_USAGE;
    }
    if (a->frame_codec && strcmp(a->frame_codec, "u8") && strcmp(a->frame_codec, "raw")) {
        fprintf(stderr, "cleave plan: --frame-codec: u8 or raw (png and jpeg sizes "
                        "depend on the frame: jalad's table measures them)\n");
        return CLI_USAGE;
    }
    if (a->frame_codec && a->problem) {
        fprintf(stderr, "cleave plan: --frame-codec applies to a MODEL; a problem "
                        "file carries its source's bytes\n");
        return CLI_USAGE;
    }
    if (a->loss && strcmp(a->loss, "accuracy") && strcmp(a->loss, "disagreement")) {
        fprintf(stderr, "cleave plan: --loss: accuracy or disagreement\n");
        return CLI_USAGE;
    }
    a->o.jalad_paper_loss = a->loss && !strcmp(a->loss, "accuracy");
    if (a->o.method == CLV_PLAN_JALAD && !a->table) {
        fprintf(stderr, "cleave plan: jalad needs --table FILE (made by "
                        "cleave jalad-table)\n");
        return CLI_USAGE;
    }
    if ((a->table || a->have_drop || a->ilp || a->loss) && a->o.method != CLV_PLAN_JALAD &&
        !a->sweep) {
        fprintf(stderr, "cleave plan: --table, --accuracy-drop and --ilp go "
                        "with --planner jalad\n");
        return CLI_USAGE;
    }
    if (a->o.method == CLV_PLAN_DADS && !(a->o.fps > 0) && !a->sweep) {
        fprintf(stderr, "cleave plan: dads needs --fps F\n");
        return CLI_USAGE;
    }
    if (a->o.method == CLV_PLAN_DSCCS && a->o.objective != CLV_OBJ_BUDGET &&
        !a->sweep) {
        fprintf(stderr, "cleave plan: dsccs needs --cloud-budget MS\n");
        return CLI_USAGE;
    }
    return -1;
}

/* The problem to plan; a problem made from a model keeps borrowing its
 * graph, which *g then holds (the caller frees it after the problem). */
static clv_problem *build_problem(const plan_args *a, clv_graph **gout)
{
    clv_problem *p = NULL;
    clv_error err;
    int rc;
    clv_error_clear(&err);
    if (a->problem) {
        rc = clv_problem_load(a->problem, &p, &err);
    } else {
        clv_graph *g = cli_load(a->model, a->seed);
        if (!g)
            return NULL;
        *gout = g;
        if (a->edge_prof) {
            rc = clv_problem_from_profiles(g, a->edge_prof, a->cloud_prof,
                                           &p, &err);
        } else {
            int n = clv_graph_n_nodes(g);
            double *te = malloc(((size_t)n + 1) * sizeof *te);
            double *tc = malloc(((size_t)n + 1) * sizeof *tc);
            if (!te || !tc) {
                rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
            } else {
                /* flops / (G * 1e9) s = flops / (G * 1e6) ms */
                for (int i = 0; i < n; i++) {
                    double f = (double)clv_graph_node(g, i)->flops;
                    te[i] = f / (a->edge_gflops * 1e6);
                    tc[i] = f / (a->cloud_gflops * 1e6);
                }
                rc = clv_problem_from_graph(g, te, tc, &p, &err);
            }
            free(te);
            free(tc);
        }
    }
    if (rc) {
        fprintf(stderr, "cleave plan: %s\n", clv_error_text(&err, rc));
        clv_graph_free(*gout);
        *gout = NULL;
        return NULL;
    }
    /* the frame as a camera sends it: 8-bit pixels unless asked (a
     * non-float input keeps its own bytes) */
    clv_codec fc;
    if (*gout && !clv_codec_parse(a->frame_codec ? a->frame_codec : "u8", &fc, NULL))
        clv_problem_set_frame_codec(p, &fc, NULL);
    return p;
}

/* "a, b, c" of the cut (at most `max` chars), or "-" */
static void cut_names(const clv_problem *p, const clv_plan *plan, char *buf,
                      size_t max)
{
    size_t at = 0;
    buf[0] = '\0';
    if (plan->n_cut == 0) {
        snprintf(buf, max, "-");
        return;
    }
    for (int k = 0; k < plan->n_cut; k++) {
        const char *nm = clv_problem_node_at(p, plan->cut[k])->name;
        int w = snprintf(buf + at, max - at, "%s%s", k ? "," : "", nm);
        if (w < 0 || at + (size_t)w >= max) {
            if (max > 4)
                snprintf(buf + max - 4, 4, "...");
            return;
        }
        at += (size_t)w;
    }
}

static void print_size(uint64_t bytes)
{
    if (bytes >= 1024 * 1024)
        printf("%.2f MiB", (double)bytes / (1024.0 * 1024.0));
    else if (bytes >= 1024)
        printf("%.1f KiB", (double)bytes / 1024.0);
    else
        printf("%llu B", (unsigned long long)bytes);
}

static void print_list(const clv_problem *p, const clv_plan *plan, bool edge)
{
    int count = 0, shown = 0;
    for (int i = 0; i < plan->n_nodes; i++)
        count += (plan->on_edge[i] != 0) == edge;
    printf("  %-6s %4d node%s", edge ? "edge" : "cloud", count,
           count == 1 ? " " : "s");
    for (int i = 0; i < plan->n_nodes && shown < 8; i++)
        if ((plan->on_edge[i] != 0) == edge)
            printf("%s%s", shown++ ? ", " : ": ",
                   clv_problem_node_at(p, i)->name);
    printf("%s\n", count > shown ? ", ..." : "");
}

static void print_plan(const clv_problem *p, const clv_link *link,
                       const char *link_label, const clv_plan *plan,
                       bool a_paper_loss)
{
    printf("problem %s: %d nodes; link %s%.4g Mbit/s, rtt %g ms%s\n",
           clv_problem_name(p)[0] ? clv_problem_name(p) : "(unnamed)",
           clv_problem_n_nodes(p), link_label, link->bandwidth_mbps,
           link->rtt_ms, link->count_result ? ", results counted" : "");
    printf("planner %s", clv_plan_method_name(plan->method));
    if (plan->method == CLV_PLAN_DADS)
        printf(" (%g frames/s asked): mode %s", plan->target_fps,
               clv_plan_mode_name(plan->mode));
    if (plan->method == CLV_PLAN_DSCCS)
        printf(" (cloud budget %g ms)", plan->budget_ms);
    if (plan->method == CLV_PLAN_JALAD) {
        char cn[32];
        printf(": %s %s, measured %s %.2f points; %ld candidates "
               "within the bound",
               plan->n_cut ? "the cut crosses as" : "nothing crosses",
               plan->n_cut ? clv_codec_name(&plan->codec, cn, sizeof cn) : "",
               a_paper_loss ? "accuracy loss" : "disagreement", 100 * plan->accuracy_loss,
               plan->evaluations);
    }
    printf("\n");
    print_list(p, plan, true);
    print_list(p, plan, false);
    printf("  cut    %4d tensor%s", plan->n_cut, plan->n_cut == 1 ? " " : "s");
    for (int k = 0; k < plan->n_cut && k < 8; k++) {
        const clv_problem_node *nd = clv_problem_node_at(p, plan->cut[k]);
        printf("%s%s (", k ? ", " : ": ", nd->name);
        print_size(nd->out_bytes);
        if (plan->codec.kind != CLV_CODEC_RAW && plan->n_cut == 1) {
            printf(" as float32; ");
            print_size(plan->cut_bytes);
            printf(" encoded");
        }
        printf(")");
    }
    printf("%s\n", plan->n_cut > 8 ? ", ..." : "");
    printf("\n  %-12s %12s\n", "stage", "ms");
    printf("  %-12s %12.3f\n", "edge", plan->edge_ms);
    printf("  %-12s %12.3f\n", "transfer", plan->transfer_ms);
    printf("  %-12s %12.3f\n", "cloud", plan->cloud_ms);
    printf("  %-12s %12.3f\n", "latency", plan->latency_ms);
    printf("  %-12s %12.3f  (%.2f frames/s)\n", "max stage",
           plan->max_stage_ms, plan->fps);
    if (plan->note[0])
        printf("\nnote: %s\n", plan->note);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cleave plan: %s: %s\n", path, strerror(errno));
        return CLI_FAIL;
    }
    bool ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "cleave plan: %s: write failed\n", path);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Every planner that applies on every link preset. */
static int sweep(const clv_problem *p, const plan_args *a)
{
    clv_planner *pl = NULL;
    clv_plan plan;
    clv_error err;
    cJSON *root = NULL, *arr = NULL;
    int rc = CLI_OK;
    char cut[40];

    clv_error_clear(&err);
    clv_plan_init(&plan);
    if (clv_planner_create(p, &pl, &err)) {
        fprintf(stderr, "cleave plan: %s\n", clv_error_text(&err, CLV_ENOMEM));
        return CLI_FAIL;
    }
    if (a->json) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "format", "cleave-sweep");
        cJSON_AddNumberToObject(root, "version", 1);
        arr = cJSON_AddArrayToObject(root, "plans");
    } else {
        printf("problem %s: %d nodes\n\n%-6s %-13s %-10s %-36s %12s %12s "
               "%10s\n",
               clv_problem_name(p)[0] ? clv_problem_name(p) : "(unnamed)",
               clv_problem_n_nodes(p), "link", "planner", "mode", "cut",
               "latency ms", "stage ms", "frames/s");
    }
    for (int l = 0; l < clv_link_n_presets() && rc == CLI_OK; l++) {
        clv_plan_options o = a->o;
        clv_link_preset(clv_link_preset_name(l), &o.link);
        o.link.rtt_ms = a->rtt;
        o.link.count_result = a->count_result;
        for (int m = 0; m < CLV_PLAN_METHOD_COUNT; m++) {
            o.method = (clv_plan_method)m;
            if (o.method == CLV_PLAN_BRUTE &&
                clv_problem_n_nodes(p) > CLV_PLAN_BRUTE_MAX)
                continue;
            if (o.method == CLV_PLAN_DADS && !(a->o.fps > 0))
                continue;
            if (o.method == CLV_PLAN_DSCCS && a->o.objective != CLV_OBJ_BUDGET)
                continue;
            if (o.method == CLV_PLAN_JALAD && !o.jalad_table)
                continue;
            int r = clv_planner_run(pl, &o, &plan, &err);
            if (r) {
                fprintf(stderr, "cleave plan: %s: %s\n",
                        clv_plan_method_name(o.method),
                        clv_error_text(&err, r));
                rc = CLI_FAIL;
                break;
            }
            if (a->json) {
                char *t = clv_plan_to_json(p, &o.link, &plan);
                cJSON *j = t ? cJSON_Parse(t) : NULL;
                free(t);
                if (!j) {
                    rc = CLI_FAIL;
                    break;
                }
                cJSON_AddStringToObject(j, "link_preset",
                                        clv_link_preset_name(l));
                cJSON_AddItemToArray(arr, j);
                continue;
            }
            cut_names(p, &plan, cut, 37);
            char cn[32] = "";
            if (o.method == CLV_PLAN_JALAD && plan.n_cut) /* the mode: its codec */
                clv_codec_name(&plan.codec, cn, sizeof cn);
            printf("%-6s %-13s %-10s %-36s %12.3f %12.3f %10.3f\n",
                   m == 0 ? clv_link_preset_name(l) : "",
                   clv_plan_method_name(o.method),
                   o.method == CLV_PLAN_DADS ? clv_plan_mode_name(plan.mode) : cn,
                   cut, plan.latency_ms, plan.max_stage_ms, plan.fps);
        }
        if (!a->json)
            printf("\n");
    }
    if (a->json && rc == CLI_OK) {
        char *t = cJSON_Print(root);
        if (t) {
            puts(t);
            cJSON_free(t);
        } else {
            rc = CLI_FAIL;
        }
    }
    cJSON_Delete(root);
    clv_plan_release(&plan);
    clv_planner_free(pl);
    return rc;
}

/* The makespan of n jobs all at partition `on_edge` (problem flags), in
 * order. */
static double same_cut_makespan(const clv_problem *p, const clv_link *link,
                                const unsigned char *on_edge, int n,
                                bool three)
{
    clv_plan pl;
    clv_plan_init(&pl);
    double m = NAN, *f = malloc(((size_t)n + 1) * 3 * sizeof *f);
    if (f && !clv_plan_evaluate(p, link, on_edge, &pl, NULL)) {
        double *g = f + n, *c = g + n;
        for (int i = 0; i < n; i++) {
            f[i] = pl.edge_ms;
            g[i] = pl.transfer_ms;
            c[i] = pl.cloud_ms;
        }
        m = clv_sched_makespan(n, f, g, three ? c : NULL, NULL);
    }
    free(f);
    clv_plan_release(&pl);
    return m;
}

/* cleave plan --planner jps: the schedule and the paper's baselines. */
static int plan_jps(const clv_problem *p, const clv_link *link,
                    const char *label, const plan_args *a)
{
    clv_jps_options o;
    clv_schedule s;
    clv_plan dsl;
    clv_error err;
    int n = (int)a->jobs, rc = CLI_FAIL, np = clv_problem_n_nodes(p);
    clv_error_clear(&err);
    clv_jps_options_init(&o);
    clv_schedule_init(&s);
    clv_plan_init(&dsl);
    o.link = *link;
    o.jobs = n;
    o.method = !a->jps_method || !strcmp(a->jps_method, "frontier")
                   ? CLV_JPS_FRONTIER
               : !strcmp(a->jps_method, "chain") ? CLV_JPS_CHAIN
               : !strcmp(a->jps_method, "paths") ? CLV_JPS_PATHS
                                                 : CLV_JPS_BRUTE;
    const char *way = o.method == CLV_JPS_FRONTIER ? "frontier"
                      : o.method == CLV_JPS_CHAIN  ? "chain"
                      : o.method == CLV_JPS_PATHS  ? "paths"
                                                   : "brute";
    unsigned char *flags = malloc((size_t)np + 1);
    clv_plan_options po;
    clv_plan_options_init(&po);
    po.method = CLV_PLAN_DSL;
    po.link = *link;
    int r = flags ? clv_jps_plan(p, &o, &s, &err) : CLV_ENOMEM;
    if (!r)
        r = clv_plan_solve(p, &po, &dsl, &err);
    if (r) {
        fprintf(stderr, "cleave plan: jps: %s\n", clv_error_text(&err, r));
        goto out;
    }
    /* the baselines: all on the edge, all in the cloud, dsl's cut */
    double base[3], base3[3];
    for (int b = 0; b < 3; b++) {
        if (b < 2)
            for (int i = 0; i < np; i++)
                flags[i] = b == 0 || i == 0;
        else
            memcpy(flags, dsl.on_edge, (size_t)np);
        base[b] = same_cut_makespan(p, link, flags, n, false);
        base3[b] = same_cut_makespan(p, link, flags, n, true);
    }
    static const char *const bname[3] = {"LO", "CO", "PO"};
    if (a->json) {
        cJSON *root = cJSON_CreateObject(), *cuts = cJSON_CreateArray();
        cJSON *order = cJSON_CreateArray(), *bl = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "format", "cleave-schedule");
        cJSON_AddNumberToObject(root, "version", 1);
        cJSON_AddStringToObject(root, "planner", "jps");
        cJSON_AddStringToObject(root, "method", way);
        cJSON_AddNumberToObject(root, "jobs", n);
        cJSON_AddNumberToObject(root, "bandwidth_mbps", link->bandwidth_mbps);
        cJSON_AddNumberToObject(root, "candidates", s.n_cands);
        for (int k = 0; k < s.n_parts; k++) {
            const clv_plan *pl = &s.parts[k];
            cJSON *c = cJSON_CreateObject(), *names = cJSON_CreateArray();
            int cnt = 0;
            for (int j = 0; j < s.n_jobs; j++)
                cnt += s.job_part[j] == k;
            for (int q = 0; q < pl->n_cut; q++)
                cJSON_AddItemToArray(names, cJSON_CreateString(
                    clv_problem_node_at(p, pl->cut[q])->name));
            cJSON_AddNumberToObject(c, "jobs", cnt);
            cJSON_AddItemToObject(c, "cut", names);
            cJSON_AddNumberToObject(c, "cut_bytes", (double)pl->cut_bytes);
            cJSON_AddNumberToObject(c, "edge_ms", pl->edge_ms);
            cJSON_AddNumberToObject(c, "transfer_ms", pl->transfer_ms);
            cJSON_AddNumberToObject(c, "cloud_ms", pl->cloud_ms);
            cJSON_AddItemToArray(cuts, c);
        }
        for (int i = 0; i < s.n_jobs; i++)
            cJSON_AddItemToArray(order,
                                 cJSON_CreateNumber(s.job_part[s.order[i]]));
        cJSON_AddItemToObject(root, "cuts", cuts);
        cJSON_AddItemToObject(root, "order", order);
        cJSON_AddNumberToObject(root, "makespan_ms", s.makespan_ms);
        cJSON_AddNumberToObject(root, "makespan3_ms", s.makespan3_ms);
        cJSON_AddNumberToObject(root, "makespan3_best_ms",
                                s.makespan3_best_ms);
        cJSON_AddBoolToObject(root, "exact3", s.exact3);
        if (o.method == CLV_JPS_PATHS) {
            cJSON_AddNumberToObject(root, "paths", s.n_paths);
            cJSON_AddNumberToObject(root, "makespan_paths_ms",
                                    s.makespan_paths_ms);
        }
        if (s.lstar >= 0) {
            cJSON *al = cJSON_CreateObject();
            cJSON_AddNumberToObject(al, "ratio", s.ratio);
            cJSON_AddNumberToObject(al, "count_ratio", s.count_ratio);
            cJSON_AddNumberToObject(al, "makespan_ratio_ms",
                                    s.makespan_ratio_ms);
            cJSON_AddNumberToObject(al, "count_best", s.count_best);
            cJSON_AddItemToObject(root, "algorithm2", al);
        }
        for (int b = 0; b < 3; b++)
            cJSON_AddNumberToObject(bl, bname[b], base[b]);
        cJSON_AddItemToObject(root, "baselines_ms", bl);
        rc = cli_print_json(root);
        goto out;
    }
    printf("jps (%s) for %d jobs, %s%.4g Mbit/s: %d candidate cuts, %d "
           "used\n",
           way, n, label, link->bandwidth_mbps, s.n_cands, s.n_parts);
    for (int k = 0; k < s.n_parts; k++) {
        const clv_plan *pl = &s.parts[k];
        char cut[160];
        int cnt = 0;
        for (int j = 0; j < s.n_jobs; j++)
            cnt += s.job_part[j] == k;
        cut_names(p, pl, cut, sizeof cut);
        printf("  cut %c  %6d jobs  edge %9.3f  transfer %9.3f  cloud "
               "%8.3f ms  after %s\n",
               'A' + k, cnt, pl->edge_ms, pl->transfer_ms, pl->cloud_ms, cut);
    }
    printf("  order  ");
    for (int i = 0, run = 0; i < s.n_jobs; i++) {
        int k = s.job_part[s.order[i]];
        run++;
        if (i + 1 == s.n_jobs || s.job_part[s.order[i + 1]] != k) {
            printf("%s%d x %c", i + 1 - run ? ", then " : "", run, 'A' + k);
            run = 0;
        }
    }
    printf(" (Johnson's rule)\n");
    if (o.method == CLV_JPS_PATHS)
        printf("  Algorithm 3: %d paths, each with its own cut; the paper's "
               "schedule of path pieces takes %.1f ms\n",
               s.n_paths, s.makespan_paths_ms);
    if (s.lstar >= 0 && s.n_parts == 2)
        printf("  Algorithm 2: the paper's ratio %d:1 puts %d jobs at the "
               "first cut (makespan %.1f ms); every split tried: %d\n",
               s.ratio, s.count_ratio, s.makespan_ratio_ms, s.count_best);
    printf("makespan of %d jobs (edge, link; with the cloud as a third "
           "stage):\n", n);
    static const char *const bdesc[3] = {"all on the edge",
                                         "all in the cloud",
                                         "every job at dsl's cut"};
    for (int b = 0; b < 3; b++)
        printf("  %s %-24s %12.1f ms (%12.1f)\n", bname[b], bdesc[b], base[b],
               base3[b]);
    printf("  JPS %-23s %12.1f ms (%12.1f)  %.2fx of PO, %.2fx of LO\n", way,
           s.makespan_ms, s.makespan3_ms, s.makespan_ms / base[2],
           s.makespan_ms / base[0]);
    printf("  three stages, the same cuts in the %s order: %.1f ms (Johnson's "
           "order: %.1f)\n",
           s.exact3 ? "best" : "NEH", s.makespan3_best_ms, s.makespan3_ms);
    if (a->dot) {
        char *t = clv_schedule_to_dot(p, &s);
        rc = t ? write_text(a->dot, t) : CLI_FAIL;
        free(t);
        goto out;
    }
    rc = CLI_OK;
out:
    free(flags);
    clv_plan_release(&dsl);
    clv_schedule_release(&s);
    return rc;
}

int cli_plan(int argc, char **argv)
{
    plan_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    clv_graph *g = NULL;
    clv_problem *p = build_problem(&a, &g);
    if (!p)
        return CLI_FAIL;

    clv_link link;
    const char *label = "";
    char label_buf[48];
    if (!clv_problem_link(p, &link)) {
        clv_link_preset("wifi", &link);
        label = "wifi (default), ";
    } else {
        label = "from the problem, ";
    }
    if (a.have_bw) {
        link.bandwidth_mbps = a.bandwidth;
        label = "";
        if (a.link_name) {
            snprintf(label_buf, sizeof label_buf, "%s, ", a.link_name);
            label = label_buf;
        }
    }
    if (a.have_rtt)
        link.rtt_ms = a.rtt;
    if (a.count_result)
        link.count_result = true;
    a.o.link = link;

    clv_error err;
    clv_error_clear(&err);
    if (a.dump) {
        clv_problem_set_link(p, &link);
        if (clv_problem_save(p, a.dump, &err)) {
            fprintf(stderr, "cleave plan: %s\n", err.msg);
            clv_problem_free(p);
            clv_graph_free(g);
            return CLI_FAIL;
        }
    }
    if (a.sweep) {
        /* jalad joins the sweep when there is a table */
        clv_jalad_table *st = NULL;
        int r = a.table ? clv_jalad_table_load(a.table, &st, &err) : 0;
        if (r) {
            fprintf(stderr, "cleave plan: %s\n", clv_error_text(&err, r));
            rc = CLI_FAIL;
        } else {
            a.o.jalad_table = st;
            a.rtt = link.rtt_ms;
            a.count_result = link.count_result;
            rc = sweep(p, &a);
        }
        clv_jalad_table_free(st);
        clv_problem_free(p);
        clv_graph_free(g);
        return rc;
    }
    if (a.jps) {
        rc = plan_jps(p, &link, label, &a);
        clv_problem_free(p);
        clv_graph_free(g);
        return rc;
    }

    clv_plan plan;
    clv_plan_init(&plan);
    clv_jalad_table *table = NULL;
    int r = 0;
    if (a.table && (r = clv_jalad_table_load(a.table, &table, &err))) {
        fprintf(stderr, "cleave plan: %s\n", clv_error_text(&err, r));
        rc = CLI_FAIL;
        goto done;
    }
    a.o.jalad_table = table;
    if (a.o.method == CLV_PLAN_JALAD && a.ilp) {
        clv_jalad_options jo;
        clv_jalad_options_init(&jo);
        jo.max_loss = a.o.accuracy_drop;
        jo.method = CLV_JALAD_ILP;
        jo.loss = a.o.jalad_paper_loss ? CLV_JALAD_ACCURACY : CLV_JALAD_DISAGREEMENT;
        r = clv_jalad_plan(p, table, &link, &jo, &plan, NULL, &err);
    }
    else
        r = clv_plan_solve(p, &a.o, &plan, &err);
    if (r) {
        fprintf(stderr, "cleave plan: %s: %s\n",
                clv_plan_method_name(a.o.method), clv_error_text(&err, r));
        rc = CLI_FAIL;
        goto done;
    }
    rc = CLI_OK;
    if (a.json) {
        char *t = clv_plan_to_json(p, &link, &plan);
        if (!t) {
            fprintf(stderr, "cleave plan: out of memory\n");
            rc = CLI_FAIL;
            goto done;
        }
        puts(t);
        free(t);
    } else {
        print_plan(p, &link, label, &plan, a.o.jalad_paper_loss);
    }
    if (a.dot) {
        char *t = clv_plan_to_dot(p, &plan);
        rc = t ? write_text(a.dot, t) : CLI_FAIL;
        free(t);
    }
done:
    clv_plan_release(&plan);
    clv_jalad_table_free(table);
    clv_problem_free(p);
    clv_graph_free(g);
    return rc;
}
