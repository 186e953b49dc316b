/* cleave edge: the edge agent. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cleave/runtime.h"
#include "cli/cli.h"
#include "util/util.h"

static const char edge_usage[] =
    "usage: cleave edge --model MODEL --server HOST:PORT [--frames N | --fps F]\n"
    "                   [--input DIR|FILE] [--planner P] [--link PRESET |\n"
    "                   --bandwidth RATE] [--link-schedule S]\n"
    "                   [--slowdown F | --cpu-quota F]\n"
    "                   [--edge-profile F --cloud-profile F] [--trace F.json]\n"
    "                   [--json] [--token-file F]\n"
    "\n"
    "The edge agent: runs the edge part of every frame, sends the cut tensors\n"
    "to `cleave serve`, collects the results. Three stages overlap: frame k+1\n"
    "is computed while frame k is on the wire and frame k-1 in the cloud. The\n"
    "passive bandwidth estimate (from the frames' own transfer times) drives\n"
    "re-planning: a new plan version is sent and used from a frame boundary.\n"
    "If the server is lost, the frames in flight finish on the edge and the\n"
    "edge reconnects with backoff.\n"
    "\n"
    "  --model MODEL       model.onnx, network.cfg or zoo:NAME (as the server)\n"
    "  --server H:P        the server\n"
    "  --frames N          frames to run (default 20)\n"
    "  --fps F             start frames at this rate (default: as fast as the\n"
    "                      pipeline goes)\n"
    "  --sequential N      the first N frames run one at a time (latency)\n"
    "  --input DIR|FILE    the frames: JPEG/PNG images (resized, normalised\n"
    "                      as `cleave run` does) or raw float32 files of\n"
    "                      exactly the input's size; a directory's files are\n"
    "                      used in name order, cycling (default: seeded\n"
    "                      random values in [0, 1))\n"
    "  --planner P         dads (default), dsl, dsh, neurosurgeon, edge, cloud,\n"
    "                      jalad (--table T from `cleave jalad-table`, with\n"
    "                      --accuracy-drop X, default 0.01: the share of\n"
    "                      answers the codec may change, or with --loss\n"
    "                      accuracy the paper's calibration accuracy loss;\n"
    "                      cut and codec chosen together, docs/jalad.md),\n"
    "                      jps (docs/jps.md): --jobs N (10) frames at once,\n"
    "                      each with its own cut, --bursts K (1) of them;\n"
    "                      each burst's makespan is reported; --compare\n"
    "                      also runs all-edge (LO) and dsl's cut (PO)\n"
    "  --link PRESET       pace the uplink: cat1, 3g, 4g, wifi\n";
static const char edge_usage_link[] =
    "  --bandwidth RATE    pace the uplink: 7.5 (Mbit/s), 500kbit, ...\n"
    "  --link-schedule S   rates over time, e.g. \"0:wifi,10:3g,20:4g\"\n"
    "  --no-adapt          keep the first plan\n"
    "  --threshold X       relative bandwidth change that re-plans (0.25)\n"
    "  --dads-fps F        the frame rate dads plans for (default 30)\n"
    "  --rtt MS            the round trip to plan for (default: the probe's)\n"
    "  --slowdown F        emulate a slow edge: duty cycle F in (0,1], the\n"
    "                      edge computes at fraction F of this CPU (0.25 =\n"
    "                      four times slower); its profile is scaled alike\n"
    "  --cpu-quota F       emulate a slow edge with the kernel: the whole edge\n"
    "                      process runs in a new cgroup limited to fraction F\n"
    "                      of one core (0.01..64; needs root or a delegated\n"
    "                      cgroup tree). The cloud's times are measured first,\n"
    "                      unlimited; the edge's inside the group\n"
    "  --edge-profile F    per-node edge times from a `cleave profile` file\n"
    "  --cloud-profile F   per-node cloud times from a profile file\n"
    "  --cloud-times S     where the cloud's times come from without\n"
    "                      --cloud-profile: \"server\" (default) asks the\n"
    "                      server for the times it measured of itself (`cleave\n"
    "                      serve --profile-runs`), falling back to \"local\":\n"
    "                      measured here once, divided by --cloud-speedup\n"
    "  --cloud-speedup X   the cloud is X times faster than this machine\n"
    "                      (local cloud times only; default 1)\n"
    "  --codec C           how the cut tensors cross: raw (default), qC+huffman,\n"
    "                      qC+zstd, qC+packed (C-bit quantization, 1..16;\n"
    "                      qCc: per channel; docs/codec.md). Lossy: results\n"
    "                      are those of the decoded tensors\n"
    "  --dataset PATH      frames from a labelled data set (IDX, as `cleave run\n"
    "                      --dataset`), from image --first K (default 0) on;\n"
    "                      prints the run's top-1 accuracy beside the\n"
    "                      uncompressed model's on the same frames\n"
    "  --frame-codec F     how a frame crosses when the plan sends it as it is:\n"
    "                      u8 (8-bit pixels, the default for random frames,\n"
    "                      which are pixels / 255), png, jpeg[:Q], or raw\n"
    "                      float32 (the default with --input)\n"
    "  --threads N         engine threads on the edge (default 1)\n";
static const char edge_usage_more[] =
    "  --max-plans N       plans (cuts with their engines) kept at once\n"
    "                      (default 4): returning to a kept cut builds\n"
    "                      nothing, here or on the server\n"
    "  --trace F.json      a Chrome trace of every stage of every frame\n"
    "  --json              the summary as JSON\n"
    "  --token-file F      the shared secret the server requires\n"
    "  --audit N           also run every Nth frame the server finished\n"
    "                      here and compare the results bit for bit; a\n"
    "                      difference drops the server for the rest of the\n"
    "                      run (default: 32 without a token, whose server\n"
    "                      could be anyone; 0 with one)\n"
    "  --seed N            weight seed of zoo: models and of random inputs\n"
    "  --quiet             no log lines\n";

typedef struct edge_inputs {
    int n;
    char **paths;
    const clv_tensor *t; /* the model's input */
    bool imagenet;       /* normalise images ImageNet-style (not darknet) */
} edge_inputs;

static int edge_read_input(void *ctx, uint64_t frame, void *const *bufs,
                           clv_error *err)
{
    edge_inputs *in = ctx;
    return cli_input_load(in->paths[frame % (uint64_t)in->n], in->t,
                          in->imagenet, bufs[0], err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int edge_list_inputs(const char *path, edge_inputs *in)
{
    DIR *d = opendir(path);
    if (!d) {
        in->paths = malloc(sizeof *in->paths);
        if (!in->paths || !(in->paths[0] = clv_util_strdup(path)))
            return -1;
        in->n = 1;
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **p = realloc(in->paths, (size_t)(in->n + 1) * sizeof *p);
        if (!p)
            break;
        in->paths = p;
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        char *s = malloc(l);
        if (!s)
            break;
        snprintf(s, l, "%s/%s", path, e->d_name);
        in->paths[in->n++] = s;
    }
    closedir(d);
    if (in->n == 0)
        return -1;
    qsort(in->paths, (size_t)in->n, sizeof *in->paths, cmp_str);
    return 0;
}

static void edge_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "cleave edge: %s\n", line);
}

static void print_summary(const clv_edge_report *r)
{
    printf("frames      %d (ok %d, failed %d, finished on the edge after a "
           "lost server %d)\n",
           r->n_frames, r->n_ok, r->n_failed, r->n_fallback);
    printf("latency     p50 %.1f ms, p95 %.1f ms, max %.1f ms, mean %.1f ms\n",
           r->p50_ms, r->p95_ms, r->max_ms, r->mean_ms);
    if (r->audits)
        printf("audits      %d server results checked against the whole "
               "model here, %d differed%s\n",
               r->audits, r->audit_failures,
               r->audit_failures ? ": the server was dropped" : "");
    printf("throughput  %.2f frames/s\n", r->fps);
    printf("bytes sent  %llu (%.1f KiB per frame)\n",
           (unsigned long long)r->bytes_sent,
           r->n_frames ? (double)r->bytes_sent / 1024.0 / r->n_frames : 0);
    printf("bandwidth   probe %.3g Mbit/s, passive estimate %.3g Mbit/s\n",
           r->probe_bps / 1e6, r->bw_bps / 1e6);
    if (r->plan.n_nodes)
        printf("first plan  %s%s%s at %.3g Mbit/s: predicted T_e %.1f + T_t "
               "%.1f + T_c %.1f = %.1f ms, %.2f fps (cloud times: %s)\n",
               clv_plan_method_name(r->plan.method),
               r->plan.mode ? "/" : "",
               r->plan.mode ? clv_plan_mode_name(r->plan.mode) : "",
               r->plan_bps / 1e6, r->plan.edge_ms, r->plan.transfer_ms,
               r->plan.cloud_ms, r->plan.latency_ms, r->plan.fps,
               r->server_times ? "the server's" : "this machine's");
    for (int i = 0; i < r->n_switches; i++) {
        const clv_edge_switch *s = &r->switches[i];
        printf("switch      t=%.2f s at %.3g Mbit/s: plan %llu -> %llu, cut "
               "%s -> %s\n",
               s->t_s, s->bw_bps / 1e6, (unsigned long long)s->old_version,
               (unsigned long long)s->new_version, s->old_cut, s->new_cut);
    }
}

/* The median makespan of the bursts (the first left out as warm-up when
 * there are at least three). */
static double burst_median(const clv_edge_report *r)
{
    double v[64];
    int n = 0;
    for (int b = r->n_bursts >= 3 ? 1 : 0; b < r->n_bursts && n < 64; b++)
        v[n++] = r->burst_ms[b];
    return clv_util_median(v, n);
}

/* --planner jps --compare: LO, PO and JPS on the same bursts. */
static int jps_compare(const clv_graph *g, const clv_edge_options *base,
                       const double *te, const double *tc, double bps,
                       double rtt, const clv_schedule *js, bool json,
                       clv_error *err)
{
    int n = js->n_jobs, rc = 0, nn = clv_graph_n_nodes(g);
    clv_partition lo, *arr = malloc(((size_t)n + 1) * sizeof *arr);
    clv_plan po;
    clv_edge_report rep;
    unsigned char *all = malloc((size_t)nn + 1);
    double *f = malloc(((size_t)n + 1) * 3 * sizeof *f);
    double pred[3], meas[3];
    const char *name[3] = {"LO", "PO", "JPS"};
    char cut[3][96];
    clv_partition_init(&lo);
    clv_plan_init(&po);
    clv_edge_report_init(&rep);
    if (!arr || !all || !f) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto out;
    }
    memset(all, 1, (size_t)nn);
    if ((rc = clv_partition_make(g, all, &lo, err)) ||
        (rc = clv_runtime_plan(g, te, tc, CLV_PLAN_DSL, bps, rtt, 0, &po,
                               err)))
        goto out;
    double *gg = f + n, *c = gg + n, all_edge_ms = 0;
    for (int v = 0; v < nn; v++)
        all_edge_ms += te[v];
    for (int s = 0; s < 3 && !rc; s++) {
        const clv_plan *pl = s == 1 ? &po : NULL;
        for (int i = 0; i < n; i++) {
            if (s == 2) {
                const clv_plan *q = &js->parts[js->job_part[js->order3[i]]];
                arr[i] = q->part;
                f[i] = q->edge_ms;
                gg[i] = q->transfer_ms;
                c[i] = q->cloud_ms;
            } else {
                arr[i] = s == 0 ? lo : pl->part;
                f[i] = s == 0 ? all_edge_ms : pl->edge_ms;
                gg[i] = s == 0 ? 0 : pl->transfer_ms;
                c[i] = s == 0 ? 0 : pl->cloud_ms;
            }
        }
        pred[s] = s == 2 ? js->makespan3_best_ms
                         : clv_sched_makespan(n, f, gg, c, NULL);
        clv_partition_cut_text(g, &arr[0], cut[s], sizeof cut[s]);
        if (s == 2 && js->n_parts > 1)
            snprintf(cut[s], sizeof cut[s], "%d cuts", js->n_parts);
        clv_edge_options o = *base;
        o.partitions = arr;
        o.n_partitions = n;
        clv_edge_report_release(&rep);
        rc = clv_edge_run(g, &o, &rep, err);
        if (!rc && rep.n_failed)
            rc = clv_error_set(err, CLV_EIO, "%s: %d frames failed", name[s],
                               rep.n_failed);
        meas[s] = rc ? NAN : burst_median(&rep);
    }
    if (rc)
        goto out;
    if (json) {
        printf("{\"jobs\": %d, \"bandwidth_mbit\": %.6g, \"schemes\": [", n,
               bps / 1e6);
        for (int s = 0; s < 3; s++)
            printf("%s{\"name\": \"%s\", \"predicted_ms\": %.3f, "
                   "\"measured_ms\": %.3f}",
                   s ? ", " : "", name[s], pred[s], meas[s]);
        printf("]}\n");
        goto out;
    }
    printf("%d jobs a burst at %.3g Mbit/s, makespan (median of bursts):\n",
           n, bps / 1e6);
    printf("  %-4s %-30s %12s %12s %8s %14s\n", "", "cut", "predicted",
           "measured", "x", "vs LO measured");
    for (int s = 0; s < 3; s++)
        printf("  %-4s %-30s %9.1f ms %9.1f ms %8.3f %13.1f%%\n", name[s],
               cut[s], pred[s], meas[s], meas[s] / pred[s],
               100 * (1 - meas[s] / meas[0]));
out:
    clv_edge_report_release(&rep);
    clv_partition_release(&lo);
    clv_plan_release(&po);
    free(arr);
    free(all);
    free(f);
    return rc;
}

int cli_edge(int argc, char **argv)
{
    const char *model = NULL, *server = NULL, *input = NULL, *link = NULL;
    const char *bandwidth = NULL, *sched = NULL, *trace = NULL, *token = NULL;
    const char *eprof = NULL, *cprof = NULL, *planner = "dads";
    const char *cloud_times = "server", *codec = "raw", *frame_codec = NULL;
    const char *table_path = NULL, *dataset = NULL, *loss = NULL;
    double drop = 0.01;
    uint64_t first = 0;
    bool have_drop = false;
    uint64_t frames = 20, seed = 1, threads = 1, sequential = 0;
    double fps = 0, slowdown = 1, threshold = 0.25, speedup = 1, dads_fps = 0;
    double quota = 0, rtt = 0;
    bool json = false, quiet = false, adapt = true;
    int ret = CLI_FAIL;
    uint64_t max_plans = 4, jobs = 10, bursts = 1, audit = 0;
    bool have_audit = false;
    bool have_jobs = false, have_bursts = false, compare = false;
    const cli_opt opts[] = {
        {"compare", 0, CLI_FLAG, &compare, NULL},
        {"jobs", 0, CLI_U64, &jobs, &have_jobs},
        {"bursts", 0, CLI_U64, &bursts, &have_bursts},
        {"model", 0, CLI_STR, &model, NULL},
        {"server", 0, CLI_STR, &server, NULL},
        {"input", 0, CLI_STR, &input, NULL},
        {"planner", 0, CLI_STR, &planner, NULL},
        {"link", 0, CLI_STR, &link, NULL},
        {"bandwidth", 0, CLI_STR, &bandwidth, NULL},
        {"link-schedule", 0, CLI_STR, &sched, NULL},
        {"trace", 0, CLI_STR, &trace, NULL},
        {"token-file", 0, CLI_STR, &token, NULL},
        {"audit", 0, CLI_U64, &audit, &have_audit},
        {"edge-profile", 0, CLI_STR, &eprof, NULL},
        {"cloud-profile", 0, CLI_STR, &cprof, NULL},
        {"cloud-times", 0, CLI_STR, &cloud_times, NULL},
        {"codec", 0, CLI_STR, &codec, NULL},
        {"table", 0, CLI_STR, &table_path, NULL},
        {"dataset", 0, CLI_STR, &dataset, NULL},
        {"first", 0, CLI_U64, &first, NULL},
        {"accuracy-drop", 0, CLI_DBL, &drop, &have_drop},
        {"loss", 0, CLI_STR, &loss, NULL},
        {"frame-codec", 0, CLI_STR, &frame_codec, NULL},
        {"frames", 0, CLI_U64, &frames, NULL},
        {"seed", 0, CLI_U64, &seed, NULL},
        {"threads", 0, CLI_U64, &threads, NULL},
        {"sequential", 0, CLI_U64, &sequential, NULL},
        {"max-plans", 0, CLI_U64, &max_plans, NULL},
        {"fps", 0, CLI_DBL, &fps, NULL},
        {"slowdown", 0, CLI_DBL, &slowdown, NULL},
        {"threshold", 0, CLI_DBL, &threshold, NULL},
        {"cloud-speedup", 0, CLI_DBL, &speedup, NULL},
        {"dads-fps", 0, CLI_DBL, &dads_fps, NULL},
        {"cpu-quota", 0, CLI_DBL, &quota, NULL},
        {"rtt", 0, CLI_DBL, &rtt, NULL},
        {"json", 0, CLI_FLAG, &json, NULL},
        {"quiet", 0, CLI_FLAG, &quiet, NULL},
        {"no-adapt", 0, CLI_UNFLAG, &adapt, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int prc = cli_parse("edge", CLI_TEXT(edge_usage, edge_usage_link, edge_usage_more), opts, argc, argv, "", NULL, 0,
                        NULL);
    if (prc >= 0)
        return prc;
    if (!model || !server) {
        fprintf(stderr, "cleave edge: --model and --server are required "
                        "(see cleave edge --help)\n");
        return CLI_USAGE;
    }
    clv_plan_method method = CLV_PLAN_DSL;
    bool jps = !strcmp(planner, "jps");
    if (!jps && (clv_plan_method_from_name(planner, &method) ||
                 method == CLV_PLAN_BRUTE || method == CLV_PLAN_DSCCS)) {
        fprintf(stderr, "cleave edge: --planner: '%s' is not one of dads, dsl, "
                        "dsh, neurosurgeon, edge, cloud, jalad, jps\n", planner);
        return CLI_USAGE;
    }
    if (!jps && (have_jobs || have_bursts || compare)) {
        fprintf(stderr, "cleave edge: --jobs, --bursts and --compare go with "
                        "--planner jps\n");
        return CLI_USAGE;
    }
    if (jps && (jobs < 1 || jobs > 10000 || bursts < 1 ||
                jobs * bursts > 10000000)) {
        fprintf(stderr, "cleave edge: --jobs: 1 to 10000, --bursts: at "
                        "least 1\n");
        return CLI_USAGE;
    }
    if (jps && !link && !bandwidth) {
        fprintf(stderr, "cleave edge: --planner jps plans for one rate: give "
                        "--link or --bandwidth\n");
        return CLI_USAGE;
    }
    /* one line per mistake, naming the option */
    const char *bad = NULL;
    if (!(slowdown > 0 && slowdown <= 1))
        bad = "--slowdown: a duty cycle in (0, 1]";
    else if (quota != 0 && !(quota >= 0.01 && quota <= 64))
        bad = "--cpu-quota: a fraction of a core in [0.01, 64]";
    else if (quota > 0 && slowdown < 1)
        bad = "--cpu-quota and --slowdown: one way to slow the edge, not both";
    else if (!(speedup > 0))
        bad = "--cloud-speedup: a factor > 0";
    else if (fps < 0)
        bad = "--fps: a rate >= 0";
    else if (dads_fps < 0)
        bad = "--dads-fps: a rate >= 0";
    else if (frames > 10000000)
        bad = "--frames: at most 10000000";
    else if (threads < 1 || threads > 64)
        bad = "--threads: 1 to 64";
    else if (max_plans < 1 || max_plans > 1024)
        bad = "--max-plans: 1 to 1024";
    else if (threshold < 0)
        bad = "--threshold: a relative change >= 0";
    else if (link && bandwidth)
        bad = "--link and --bandwidth: one of them";
    else if (!!eprof != !!cprof)
        bad = "--edge-profile and --cloud-profile: both or neither";
    else if (!(rtt >= 0 && rtt < 1e6))
        bad = "--rtt: milliseconds >= 0";
    else if (strcmp(cloud_times, "server") && strcmp(cloud_times, "local"))
        bad = "--cloud-times: server or local";
    else if (method == CLV_PLAN_JALAD && !jps && !table_path)
        bad = "--planner jalad needs --table FILE (made by cleave jalad-table)";
    else if ((table_path || have_drop || loss) && (jps || method != CLV_PLAN_JALAD))
        bad = "--table, --accuracy-drop and --loss go with --planner jalad";
    else if (loss && strcmp(loss, "accuracy") && strcmp(loss, "disagreement"))
        bad = "--loss: accuracy or disagreement";
    else if (!(drop >= 0 && drop <= 1))
        bad = "--accuracy-drop: a fraction in [0, 1] (0.01 = one point)";
    else if (dataset && input)
        bad = "--dataset and --input: one source of frames";
    else if (first && !dataset)
        bad = "--first goes with --dataset";
    if (bad) {
        fprintf(stderr, "cleave edge: %s\n", bad);
        return CLI_USAGE;
    }
    clv_error err;
    clv_error_clear(&err);
    double link_bps = 0;
    if ((link || bandwidth) &&
        clv_net_parse_rate(link ? link : bandwidth, &link_bps, &err)) {
        fprintf(stderr, "cleave edge: %s\n", err.msg);
        return CLI_USAGE;
    }
    clv_codec cut_codec, fr_codec;
    if (clv_codec_parse(codec, &cut_codec, &err) || cut_codec.kind >= CLV_CODEC_U8) {
        fprintf(stderr, "cleave edge: --codec: %s\n",
                err.msg[0] ? err.msg : "u8, png and jpeg are for frames (--frame-codec)");
        return CLI_USAGE;
    }
    if (clv_codec_parse(frame_codec ? frame_codec : input ? "raw" : "u8", &fr_codec,
                        &err)) {
        fprintf(stderr, "cleave edge: --frame-codec: %s\n", err.msg);
        return CLI_USAGE;
    }
    clv_net_schedule *schedule = NULL;
    if (sched && clv_net_schedule_parse(sched, &schedule, &err)) {
        fprintf(stderr, "cleave edge: --link-schedule: %s\n", err.msg);
        return CLI_USAGE;
    }
    clv_net_secret secret;
    edge_inputs inputs = {0};
    clv_jalad_table *table = NULL;
    clv_dataset *dset = NULL;
    cli_edge_data edata = {0};
    clv_graph *g = NULL;
    double *te = NULL, *tc = NULL;
    clv_edge_report rep;
    clv_cpu_limit *lim = NULL;
    clv_schedule jsch;
    clv_partition *jparts = NULL;
    clv_schedule_init(&jsch);
    clv_edge_report_init(&rep);
    int rc = 0;
    if (token && (rc = clv_net_secret_load(token, &secret, &err)))
        goto fail;
    g = cli_load(model, seed);
    if (!g)
        goto out;
    if (table_path && (rc = clv_jalad_table_load(table_path, &table, &err)))
        goto fail;
    if (dataset) {
        if ((rc = clv_dataset_load(dataset, NULL, &dset, &err)))
            goto fail;
        const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
        if (clv_graph_n_inputs(g) != 1 ||
            clv_tensor_numel(ti) != dset->channels * dset->rows * dset->cols ||
            (int64_t)first >= dset->count) {
            fprintf(stderr, "cleave edge: --dataset: %s's %lldx%lld images (from "
                            "%llu) do not fit the model's input '%s'\n",
                    dset->name, (long long)dset->rows, (long long)dset->cols,
                    (unsigned long long)first, ti->name);
            ret = CLI_USAGE;
            goto out;
        }
        edata.d = dset;
        edata.first = (int64_t)first;
    }
    if (input) {
        if (clv_graph_n_inputs(g) != 1 || edge_list_inputs(input, &inputs)) {
            fprintf(stderr, "cleave edge: --input %s: no input files (or the "
                            "model has more than one input)\n", input);
            ret = CLI_USAGE;
            goto out;
        }
        inputs.t = clv_graph_tensor(g, clv_graph_input(g, 0));
        inputs.imagenet = !cli_ends_with(model, ".cfg");
        /* every file is read now, so a bad one stops the edge before it
         * profiles and connects */
        void *probe = malloc((size_t)clv_tensor_bytes(inputs.t) + 1);
        if (!probe) {
            rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
        for (int i = 0; i < inputs.n && !rc; i++)
            rc = cli_input_load(inputs.paths[i], inputs.t, inputs.imagenet,
                                probe, &err);
        free(probe);
        if (rc) {
            fprintf(stderr, "cleave edge: --input: %s\n",
                    clv_error_text(&err, rc));
            ret = CLI_USAGE;
            goto out;
        }
    }
    int n = clv_graph_n_nodes(g);
    te = calloc((size_t)n + 1, sizeof *te);
    tc = calloc((size_t)n + 1, sizeof *tc);
    if (!te || !tc) {
        rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
        goto fail;
    }
    if (quota > 0) {
        if (!quiet)
            fprintf(stderr, "cleave edge: %s%s, then running in a cgroup "
                            "limited to %.3g of one core\n",
                    eprof ? "reading the profiles" : "profiling ",
                    eprof ? "" : model, quota);
        rc = clv_runtime_times_limited(g, eprof, cprof, quota, speedup, 7,
                                       (int)threads, te, tc, &lim, &err);
        if (!rc && !quiet)
            fprintf(stderr, "cleave edge: in cgroup v%d %s\n",
                    clv_cpu_limit_version(lim), clv_cpu_limit_path(lim));
    } else {
        if (!quiet && !eprof)
            fprintf(stderr, "cleave edge: profiling %s on this machine (edge "
                            "= measured / %.3g; cloud: %s)\n",
                    model, slowdown,
                    strcmp(cloud_times, "server")
                        ? "measured / --cloud-speedup"
                        : "the server's times, else measured / "
                          "--cloud-speedup");
        rc = clv_runtime_times(g, eprof, cprof, slowdown, speedup, 5,
                               (int)threads, te, tc, &err);
    }
    if (rc)
        goto fail;

    clv_edge_options o;
    clv_edge_options_init(&o);
    o.server = server;
    o.frames = (int)frames;
    o.fps = fps;
    o.sequential = (int)sequential;
    o.planner = method;
    o.link_bps = link_bps;
    o.schedule = schedule;
    o.t_edge_ms = te;
    o.t_cloud_ms = tc;
    o.server_times = !cprof && !strcmp(cloud_times, "server");
    o.slowdown = slowdown;
    o.threads = (int)threads;
    o.max_plans = (int)max_plans;
    o.adapt = adapt;
    o.adapt_threshold = threshold;
    o.dads_fps = dads_fps;
    o.rtt_ms = rtt;
    o.secret = token ? &secret : NULL;
    o.audit_every = (int)(have_audit ? (audit > 1000000 ? 1000000 : audit)
                                     : token ? 0 : 32);
    o.name = "cleave edge";
    o.seed = seed;
    o.codec = cut_codec;
    o.frame_codec = fr_codec;
    o.jalad_table = table;
    o.accuracy_drop = drop;
    o.jalad_paper_loss = loss && !strcmp(loss, "accuracy");
    if (dset) {
        o.input = cli_edge_dataset_input;
        o.input_ctx = &edata;
        o.keep_outputs = true;
    }
    o.log = quiet ? NULL : edge_log;
    if (input) {
        o.input = edge_read_input;
        o.input_ctx = &inputs;
    }
    if (jps) {
        /* n jobs at once: JPS's schedule (the frontier of min-cuts, the
         * cloud's times as planned here), each burst's frames in its
         * three-stage order with their own cuts */
        clv_problem *p = NULL;
        clv_jps_options jo;
        clv_jps_options_init(&jo);
        jo.method = CLV_JPS_FRONTIER;
        jo.link.bandwidth_mbps = link_bps / 1e6;
        jo.link.rtt_ms = rtt;
        jo.jobs = (int)jobs;
        rc = clv_problem_from_graph(g, te, tc, &p, &err);
        if (!rc)
            rc = clv_jps_plan(p, &jo, &jsch, &err);
        clv_problem_free(p);
        if (!rc && !(jparts = malloc(jobs * sizeof *jparts)))
            rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
        if (rc)
            goto fail;
        for (uint64_t i = 0; i < jobs; i++)
            jparts[i] = jsch.parts[jsch.job_part[jsch.order3[i]]].part;
        o.partitions = jparts;
        o.n_partitions = (int)jobs;
        o.frames = (int)(jobs * bursts);
        o.burst = o.window = (int)jobs;
        o.adapt = false;
        o.server_times = false;
        if (!quiet)
            for (int k = 0; k < jsch.n_parts; k++) {
                char cut[96];
                int cnt = 0;
                for (int j = 0; j < jsch.n_jobs; j++)
                    cnt += jsch.job_part[j] == k;
                clv_partition_cut_text(g, &jsch.parts[k].part, cut,
                                       sizeof cut);
                fprintf(stderr, "cleave edge: jps: %d of %d jobs cut at %s "
                                "(edge %.1f, link %.1f, cloud %.1f ms)\n",
                        cnt, (int)jobs, cut, jsch.parts[k].edge_ms,
                        jsch.parts[k].transfer_ms, jsch.parts[k].cloud_ms);
            }
    }
    if (jps && compare) {
        rc = jps_compare(g, &o, te, tc, link_bps, rtt, &jsch, json, &err);
        if (rc)
            goto fail;
        ret = CLI_OK;
        goto out;
    }
    rc = clv_edge_run(g, &o, &rep, &err);
    if (rc)
        goto fail;
    if (trace && (rc = clv_edge_write_trace(&rep, trace, &err)))
        goto fail;
    if (json) {
        char *text = clv_edge_report_json(&rep);
        if (!text) {
            rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
            goto fail;
        }
        if (dset) {
            cJSON *root = cJSON_Parse(text);
            free(text);
            text = NULL;
            if (root && cli_edge_accuracy(g, &edata, &rep,
                                          method == CLV_PLAN_JALAD ? drop : -1,
                                          root) == CLI_OK)
                text = cJSON_Print(root);
            cJSON_Delete(root);
            if (!text) {
                rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
                goto fail;
            }
        }
        puts(text);
        free(text);
    } else {
        print_summary(&rep);
        if (dset)
            cli_edge_accuracy(g, &edata, &rep, method == CLV_PLAN_JALAD ? drop : -1,
                              NULL);
    }
    if (jps && !json)
        for (int b = 0; b < rep.n_bursts; b++)
            printf("burst %-5d makespan %.1f ms measured, %.1f ms predicted "
                   "(x%.3f)\n",
                   b, rep.burst_ms[b], jsch.makespan3_best_ms,
                   rep.burst_ms[b] / jsch.makespan3_best_ms);
    for (int i = 0; i < rep.n_frames; i++)
        if (rep.frames[i].status)
            fprintf(stderr, "cleave edge: frame %d failed: %s\n", i,
                    rep.frames[i].error);
    ret = rep.n_failed ? CLI_FAIL : CLI_OK;
    goto out;
fail:
    fprintf(stderr, "cleave edge: %s\n", clv_error_text(&err, rc));
out:
    if (lim) {
        clv_error lerr;
        clv_error_clear(&lerr);
        if (clv_cpu_limit_leave(lim, &lerr))
            fprintf(stderr, "cleave edge: %s\n", lerr.msg);
    }
    clv_edge_report_release(&rep);
    clv_jalad_table_free(table);
    clv_dataset_free(dset);
    clv_schedule_release(&jsch);
    free(jparts);
    for (int i = 0; i < inputs.n; i++)
        free(inputs.paths[i]);
    free(inputs.paths);
    free(te);
    free(tc);
    clv_graph_free(g);
    clv_net_schedule_free(schedule);
    return ret;
}
