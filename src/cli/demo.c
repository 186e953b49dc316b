/* cleave demo: a server on loopback, an emulated slow edge on a link that
 * changes rate, and four planners side by side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/runtime.h"
#include "cli/cli.h"

static const char demo_usage[] =
    "usage: cleave demo [--model MODEL] [--frames N] [--slowdown F]\n"
    "                   [--link-schedule S] [--verbose]\n"
    "\n"
    "cleave's main job on one machine, without root. Starts a server on\n"
    "loopback (a thread of this process), profiles the model once, and runs\n"
    "an edge against it four times, with the planners edge (everything on\n"
    "the edge), cloud (the raw frame is uploaded), neurosurgeon (the best\n"
    "single split of the layer chain) and dads (min-cut partitions, DADS\n"
    "Algorithm 3, re-planned as the bandwidth estimate moves). The edge is\n"
    "a slow device emulated by a duty cycle: after each stretch of edge work\n"
    "of b seconds it sleeps b*(1-F)/F, so it computes at fraction F of this\n"
    "CPU (default F = 0.25: four times slower than the server); its profile\n"
    "is scaled the same way. The uplink is paced by a token bucket whose\n"
    "rate follows the schedule (default \"0:wifi,1:4g,3:wifi\": 18.88, 5.85\n"
    "and 18.88 Mbit/s, the DNN Surgery paper's presets). Each run starts\n"
    "with a few frames one at a time (their latency is measured) and then\n"
    "pipelines the rest (throughput). The table puts the measured figures\n"
    "beside the planner's predictions for the first plan.\n"
    "\n"
    "  --model MODEL      default zoo:tiny-yolov2\n"
    "  --frames N         frames per planner (default 10; at least 4)\n"
    "  --slowdown F       the edge's duty cycle, (0,1] (default 0.25)\n"
    "  --link-schedule S  the uplink over time (default 0:wifi,1:4g,3:wifi)\n"
    "  --verbose          log plans, switches and connections\n";

static void demo_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "  | %s\n", line);
}

int cli_demo(int argc, char **argv)
{
    const char *model = "zoo:tiny-yolov2", *sched = "0:wifi,1:4g,3:wifi";
    uint64_t frames = 10;
    double slowdown = 0.25;
    bool verbose = false;
    const cli_opt opts[] = {
        {"model", 0, CLI_STR, &model, NULL},
        {"link-schedule", 0, CLI_STR, &sched, NULL},
        {"frames", 0, CLI_U64, &frames, NULL},
        {"slowdown", 0, CLI_DBL, &slowdown, NULL},
        {"verbose", 0, CLI_FLAG, &verbose, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int prc = cli_parse("demo", CLI_TEXT(demo_usage), opts, argc, argv, "", NULL, 0,
                        NULL);
    if (prc >= 0)
        return prc;
    if (!(slowdown > 0 && slowdown <= 1)) {
        fprintf(stderr, "cleave demo: --slowdown must be in (0, 1]\n");
        return CLI_USAGE;
    }
    if (frames < 4 || frames > 100000) {
        fprintf(stderr, "cleave demo: --frames must be 4..100000\n");
        return CLI_USAGE;
    }
    clv_error err;
    clv_error_clear(&err);
    clv_net_schedule *schedule = NULL;
    if (clv_net_schedule_parse(sched, &schedule, &err)) {
        fprintf(stderr, "cleave demo: --link-schedule: %s\n", err.msg);
        return CLI_USAGE;
    }
    int ret = CLI_FAIL, rc = 0;
    clv_server *srv = NULL;
    double *te = NULL, *tc = NULL;
    clv_edge_report rep[4];
    static const clv_plan_method methods[4] = {
        CLV_PLAN_EDGE, CLV_PLAN_CLOUD, CLV_PLAN_NEUROSURGEON, CLV_PLAN_DADS};
    for (int k = 0; k < 4; k++)
        clv_edge_report_init(&rep[k]);
    clv_graph *g = cli_load(model, 1);
    if (!g)
        goto out;
    int n = clv_graph_n_nodes(g);
    te = calloc((size_t)n + 1, sizeof *te);
    tc = calloc((size_t)n + 1, sizeof *tc);
    if (!te || !tc) {
        rc = clv_error_set(&err, CLV_ENOMEM, "out of memory");
        goto fail;
    }

    clv_server_options so;
    clv_server_options_init(&so);
    so.listen = "127.0.0.1:0";
    so.threads = 1;
    so.log = verbose ? demo_log : NULL;
    rc = clv_server_create(g, &so, &srv, &err);
    if (!rc)
        rc = clv_server_start(srv, &err);
    if (rc)
        goto fail;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", clv_server_port(srv));
    printf("cleave demo: %s, server on %s (a thread of this process)\n",
           model, addr);
    printf("edge: a duty cycle of %.2f (the edge computes %.3gx slower than "
           "the server)\nlink: %s, paced on the socket\n",
           slowdown, 1 / slowdown, sched);
    printf("profiling each layer once on this machine...\n");
    fflush(stdout);
    rc = clv_runtime_times(g, NULL, NULL, slowdown, 1, 3, 1, te, tc, &err);
    if (rc)
        goto fail;
    double sum_e = 0, sum_c = 0;
    for (int i = 0; i < n; i++) {
        sum_e += te[i];
        sum_c += tc[i];
    }
    printf("whole model: %.1f ms on the emulated edge, %.1f ms on the "
           "server\n\n", sum_e, sum_c);
    fflush(stdout);

    for (int k = 0; k < 4; k++) {
        clv_edge_options o;
        clv_edge_options_init(&o);
        o.server = addr;
        o.frames = (int)frames;
        o.sequential = 4; /* frame 0 (warm-up) is left out: 3 timed */
        o.planner = methods[k];
        o.schedule = schedule;
        o.plan_bps = clv_net_schedule_rate_at(schedule, 0);
        o.t_edge_ms = te;
        o.t_cloud_ms = tc;
        o.slowdown = slowdown;
        o.log = verbose ? demo_log : NULL;
        o.name = clv_plan_method_name(methods[k]);
        printf("running %-13s ... ", clv_plan_method_name(methods[k]));
        fflush(stdout);
        rc = clv_edge_run(g, &o, &rep[k], &err);
        if (rc)
            goto fail;
        printf("%.1f s, %d switches\n", rep[k].wall_s, rep[k].n_switches);
        fflush(stdout);
    }

    printf("\n%-13s %-22s %9s %9s %8s %8s %6s %9s\n", "planner", "first cut",
           "lat pred", "lat meas", "fps pred", "fps meas", "switch",
           "KiB/frame");
    printf("%-13s %-22s %9s %9s %8s %8s %6s %9s\n", "", "", "ms", "mean ms", "",
           "", "", "");
    for (int k = 0; k < 4; k++) {
        const clv_edge_report *r = &rep[k];
        char cut[64];
        if (r->plan.n_nodes == 0)
            snprintf(cut, sizeof cut, "-");
        else if (r->plan.n_cut == 0)
            snprintf(cut, sizeof cut, "(all edge)");
        else
            snprintf(cut, sizeof cut, "%d node%s, %.0f KiB", r->plan.n_cut,
                     r->plan.n_cut == 1 ? "" : "s",
                     (double)r->plan.cut_bytes / 1024.0);
        printf("%-13s %-22s %9.1f %9.1f %8.2f %8.2f %6d %9.1f\n",
               clv_plan_method_name(methods[k]), cut, r->plan.latency_ms,
               r->mean_ms, r->plan.fps, r->fps, r->n_switches,
               r->n_frames ? (double)r->bytes_sent / 1024.0 / r->n_frames
                           : 0);
    }
    printf("\nPredictions are the planner's for the first plan at the first "
           "rate (%.3g Mbit/s):\nlatency T_e + T_t + T_c, fps 1000 / max "
           "stage. Measured latency is the mean of frames\n1-3, run one at "
           "a time after a warm-up frame 0; measured fps is the steady rate\n"
           "of the pipelined frames, while the link follows the schedule\n"
           "(planners that adapt re-plan; the others keep their first "
           "cut).\n",
           clv_net_schedule_rate_at(schedule, 0) / 1e6);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < rep[k].n_switches; i++) {
            const clv_edge_switch *s = &rep[k].switches[i];
            printf("%s switch at t=%.2f s, %.3g Mbit/s: plan %llu -> %llu, "
                   "cut %s -> %s\n",
                   clv_plan_method_name(methods[k]), s->t_s, s->bw_bps / 1e6,
                   (unsigned long long)s->old_version,
                   (unsigned long long)s->new_version, s->old_cut, s->new_cut);
        }
    ret = CLI_OK;
    for (int k = 0; k < 4; k++)
        if (rep[k].n_failed) {
            fprintf(stderr, "cleave demo: %s: %d frames failed\n",
                    clv_plan_method_name(methods[k]), rep[k].n_failed);
            ret = CLI_FAIL;
        }
    goto out;
fail:
    printf("\n");
    fprintf(stderr, "cleave demo: %s\n", clv_error_text(&err, rc));
out:
    clv_server_free(srv);
    for (int k = 0; k < 4; k++)
        clv_edge_report_release(&rep[k]);
    free(te);
    free(tc);
    clv_graph_free(g);
    clv_net_schedule_free(schedule);
    return ret;
}
