/* cleave serve: the cloud server. */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleave/profile.h"
#include "cleave/runtime.h"
#include "cli/cli.h"

static const char serve_usage[] =
    "usage: cleave serve --model MODEL [--listen ADDR:PORT] [--threads N]\n"
    "                    [--max-edges N] [--max-plans N] [--token-file F]\n"
    "                    [--seed N] [--profile-runs N | --profile F]\n"
    "                    [--insecure] [--max-handshakes N]\n"
    "                    [--handshake-timeout S] [--idle-timeout S]\n"
    "                    [--min-rate RATE] [--max-memory SIZE]\n"
    "                    [--max-queue N]\n"
    "\n"
    "The cloud server: accepts edges (`cleave edge`) that run the same model,\n"
    "takes their plans and runs the cloud part of every frame they send on a\n"
    "pool of worker threads, one engine per edge and plan (the --max-plans\n"
    "most recently used plans of each edge are kept, so an edge that moves\n"
    "between cuts it used before builds nothing new here). A\n"
    "malformed message closes that edge's connection (the reason is logged),\n"
    "never the server. SIGINT or SIGTERM: no new frames are read, the frames\n"
    "received are finished and answered, then the server exits.\n"
    "\n"
    "  --model MODEL     model.onnx, network.cfg or zoo:NAME (the edges must\n"
    "                    load the same model: HELLO carries its digest)\n"
    "  --listen A:P      address to listen on (default *:7878; port 0 picks one)\n"
    "  --threads N       worker threads (default 2)\n"
    "  --max-edges N     edges served at once (default 64)\n"
    "  --max-plans N     plans (engines) kept per edge (default 4); edges\n"
    "                    learn it at the handshake\n"
    "  --token-file F    require edges to prove they hold this shared secret\n"
    "                    (any 1 to 64 KiB: head -c 32 /dev/urandom | base64)\n"
    "  --insecure        without a token, serve edges beyond this machine\n"
    "                    too; without it a tokenless server answers only\n"
    "                    loopback peers (Redis's protected mode) and refuses\n"
    "                    others with a message saying so\n"
    "\n"
    "Strangers cannot hold the server: a connection has --handshake-timeout\n"
    "to finish its handshake, at most --max-handshakes are in it at once\n"
    "(apart from the --max-edges past it), nothing but small handshake\n"
    "messages is read before it, every message keeps up --min-rate once\n"
    "started, and an edge silent for --idle-timeout is told BYE.\n"
    "  --max-handshakes N  connections in the handshake at once (default 16)\n"
    "  --handshake-timeout S  seconds from accept to the end of the\n"
    "                    handshake, however steadily bytes come (default 5)\n"
    "  --idle-timeout S  seconds an edge with nothing in flight may stay\n"
    "                    silent (default 120; 0: for ever)\n"
    "  --min-rate RATE   slowest transfer of one message once started, as\n"
    "                    edge --bandwidth takes it (default 64kbit)\n"
    "\n"
    "Overload sheds instead of queueing: engines share one copy of the\n"
    "model's packed weights, and a PLAN or FRAME that would pass the memory\n"
    "budget, or a FRAME beyond the queue, is answered BUSY before anything\n"
    "is allocated for it (the edge runs those frames itself and backs off).\n"
    "  --max-memory SIZE the budget: engines, their buffers, frames held\n"
    "                    (e.g. 2G, 512M; default 3/4 of the memory\n"
    "                    available at start)\n"
    "  --max-queue N     frames held for the workers, all edges together\n"
    "                    (default 16 per --threads): bounds queueing delay\n"
    "\n"
    "  --seed N          weight seed of zoo: and .cfg models (default 1)\n"
    "  --profile-runs N  before listening, time every node of the model on\n"
    "                    this machine over N runs (default 5; 0: do not) and\n"
    "                    send these times to edges that ask, so they plan\n"
    "                    with what the cloud really costs\n"
    "  --profile F       send the times of this `cleave profile` file instead\n"
    "  --quiet           log only errors\n";

/* A byte count: a number with an optional binary suffix K, M, G or T
 * (case-insensitive, "B" or "iB" after it allowed). 0, or -1 when not
 * one. */
static int serve_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !(v > 0) || v > 1e18)
        return -1;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1048576.0; end++; break;
    case 'g': case 'G': mul = 1073741824.0; end++; break;
    case 't': case 'T': mul = 1099511627776.0; end++; break;
    default: break;
    }
    if ((end[0] == 'i' || end[0] == 'I') && mul > 1)
        end++;
    if (end[0] == 'b' || end[0] == 'B')
        end++;
    if (*end || v * mul > 1.8e19)
        return -1;
    *out = (uint64_t)(v * mul);
    return 0;
}

/* The one server a signal may stop (the handler needs a global). */
static clv_server *serve_stop_target;

static void serve_on_signal(int sig)
{
    (void)sig;
    clv_server_stop(serve_stop_target);
}

static void serve_log(void *ctx, const char *line)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld cleave serve: %s\n", tm.tm_hour,
            tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, line);
}

/* The server's own per-node times (ms): from the profile file `profile`,
 * or measured here over `runs` runs (fused, as the server's engines run);
 * none (*out NULL) when runs is 0 and there is no file. */
static int serve_times(const clv_graph *g, const char *profile, int runs,
                       bool quiet, double **out, clv_error *err)
{
    *out = NULL;
    if (!profile && runs == 0)
        return 0;
    int n = clv_graph_n_nodes(g);
    double *t = calloc((size_t)n + 1, sizeof *t);
    clv_profile p;
    clv_profile_init(&p);
    if (!t)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    int rc;
    if (profile) {
        rc = clv_profile_load(profile, &p, err);
    } else {
        clv_profile_options po;
        clv_profile_options_init(&po);
        po.runs = runs;
        po.warmup = 1;
        po.device = "cloud";
        po.fuse = true;
        rc = clv_profile_measure(g, &po, &p, err);
    }
    if (!rc)
        rc = clv_profile_node_times(&p, g, t, err);
    clv_profile_release(&p);
    if (rc) {
        free(t);
        return rc;
    }
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    if (!quiet)
        fprintf(stderr, "cleave serve: own times %s: %.1f ms for the whole "
                        "model\n", profile ? profile : "measured", sum);
    *out = t;
    return 0;
}

int cli_serve(int argc, char **argv)
{
    const char *model = NULL, *listen = "*:7878", *token = NULL;
    const char *profile = NULL;
    uint64_t threads = 2, max_edges = 64, seed = 1, prof_runs = 5;
    uint64_t max_plans = 4, max_hs = 16;
    double hs_s = 5, idle_s = 120;
    const char *min_rate = "64kbit", *max_mem = NULL;
    uint64_t max_queue = 0;
    bool quiet = false, insecure = false;
    const cli_opt opts[] = {
        {"model", 0, CLI_STR, &model, NULL},
        {"listen", 0, CLI_STR, &listen, NULL},
        {"token-file", 0, CLI_STR, &token, NULL},
        {"threads", 0, CLI_U64, &threads, NULL},
        {"max-edges", 0, CLI_U64, &max_edges, NULL},
        {"max-plans", 0, CLI_U64, &max_plans, NULL},
        {"profile", 0, CLI_STR, &profile, NULL},
        {"profile-runs", 0, CLI_U64, &prof_runs, NULL},
        {"seed", 0, CLI_U64, &seed, NULL},
        {"quiet", 0, CLI_FLAG, &quiet, NULL},
        {"insecure", 0, CLI_FLAG, &insecure, NULL},
        {"max-handshakes", 0, CLI_U64, &max_hs, NULL},
        {"handshake-timeout", 0, CLI_DBL, &hs_s, NULL},
        {"idle-timeout", 0, CLI_DBL, &idle_s, NULL},
        {"min-rate", 0, CLI_STR, &min_rate, NULL},
        {"max-memory", 0, CLI_STR, &max_mem, NULL},
        {"max-queue", 0, CLI_U64, &max_queue, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int prc = cli_parse("serve", CLI_TEXT(serve_usage), opts, argc, argv, "", NULL, 0,
                        NULL);
    if (prc >= 0)
        return prc;
    if (!model) {
        fprintf(stderr, "cleave serve: --model is required\n\n%s",
                serve_usage);
        return CLI_USAGE;
    }
    if (threads < 1 || threads > 256) {
        fprintf(stderr, "cleave serve: --threads must be 1 to 256\n");
        return CLI_USAGE;
    }
    if (max_edges < 1 || max_edges > 100000) {
        fprintf(stderr, "cleave serve: --max-edges must be 1 to 100000\n");
        return CLI_USAGE;
    }
    if (max_plans < 1 || max_plans > 1024) {
        fprintf(stderr, "cleave serve: --max-plans must be 1 to 1024\n");
        return CLI_USAGE;
    }
    if (max_hs < 1 || max_hs > 100000) {
        fprintf(stderr, "cleave serve: --max-handshakes must be 1 to 100000\n");
        return CLI_USAGE;
    }
    if (!(hs_s >= 0.001 && hs_s <= 3600)) {
        fprintf(stderr, "cleave serve: --handshake-timeout must be 0.001 to "
                        "3600 seconds\n");
        return CLI_USAGE;
    }
    if (!(idle_s >= 0 && idle_s <= 86400 * 7)) {
        fprintf(stderr, "cleave serve: --idle-timeout must be 0 (never) to "
                        "604800 seconds\n");
        return CLI_USAGE;
    }
    double min_bps = 0;
    clv_error perr;
    clv_error_clear(&perr);
    if (strcmp(min_rate, "0") != 0 &&
        clv_net_parse_rate(min_rate, &min_bps, &perr)) {
        fprintf(stderr, "cleave serve: --min-rate: %s\n", perr.msg);
        return CLI_USAGE;
    }
    uint64_t mem_bytes = 0;
    if (max_mem && serve_size(max_mem, &mem_bytes)) {
        fprintf(stderr, "cleave serve: --max-memory: '%s' is not a size "
                        "(a number with K, M, G or T: 512M, 2G)\n",
                max_mem);
        return CLI_USAGE;
    }
    if (max_mem && mem_bytes < (16u << 20)) {
        fprintf(stderr, "cleave serve: --max-memory must be at least 16M\n");
        return CLI_USAGE;
    }
    if (max_queue > 100000) {
        fprintf(stderr, "cleave serve: --max-queue must be 1 to 100000\n");
        return CLI_USAGE;
    }
    if (prof_runs > 1000) {
        fprintf(stderr, "cleave serve: --profile-runs must be 0 to 1000\n");
        return CLI_USAGE;
    }
    clv_error err;
    clv_error_clear(&err);
    clv_net_secret secret;
    if (token) {
        int rc = clv_net_secret_load(token, &secret, &err);
        if (rc) {
            fprintf(stderr, "cleave serve: %s\n", clv_error_text(&err, rc));
            return CLI_FAIL;
        }
    }
    clv_graph *g = cli_load(model, seed);
    if (!g)
        return CLI_FAIL;
    double *times = NULL;
    int rc = serve_times(g, profile, (int)(profile ? 0 : prof_runs), quiet,
                         &times, &err);
    if (rc) {
        fprintf(stderr, "cleave serve: %s\n", clv_error_text(&err, rc));
        clv_graph_free(g);
        return CLI_FAIL;
    }
    clv_server_options o;
    clv_server_options_init(&o);
    o.listen = listen;
    o.threads = (int)threads;
    o.max_conns = (int)max_edges;
    o.max_plans = (int)max_plans;
    o.secret = token ? &secret : NULL;
    o.insecure = insecure;
    o.max_memory = mem_bytes;
    o.max_queue = (int)max_queue;
    o.max_handshakes = (int)max_hs;
    o.handshake_ms = (int)(hs_s * 1000 + 0.5);
    o.idle_ms = (int)(idle_s * 1000 + 0.5);
    o.min_rate = (uint64_t)(min_bps / 8);
    o.name = "cleave serve";
    o.log = quiet ? NULL : serve_log;
    o.node_ms = times;
    o.node_ms_runs = profile ? 0 : (int)prof_runs;
    clv_server *s = NULL;
    rc = clv_server_create(g, &o, &s, &err);
    free(times);
    if (!rc) {
        serve_stop_target = s;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = serve_on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        rc = clv_server_start(s, &err);
    }
    if (rc) {
        fprintf(stderr, "cleave serve: %s\n", clv_error_text(&err, rc));
        clv_server_free(s);
        clv_graph_free(g);
        return CLI_FAIL;
    }
    fprintf(stderr, "cleave serve: %s on port %d\n", model,
            clv_server_port(s));
    fflush(stderr);
    clv_server_join(s);
    clv_server_stats st;
    clv_server_stats_get(s, &st);
    fprintf(stderr, "cleave serve: %llu edges, %llu frames done, %llu "
                    "failed, %llu shed (busy), %llu connections dropped, "
                    "%llu refused, %llu timed out; memory peak %.1f of "
                    "%.1f MiB\n",
            (unsigned long long)st.conns_accepted,
            (unsigned long long)st.frames_done,
            (unsigned long long)st.frames_failed,
            (unsigned long long)st.frames_shed,
            (unsigned long long)st.conns_dropped,
            (unsigned long long)st.conns_refused,
            (unsigned long long)st.conns_timed_out,
            (double)st.mem_peak / 1048576.0,
            (double)st.max_memory / 1048576.0);
    serve_stop_target = NULL;
    clv_server_free(s);
    clv_graph_free(g);
    return CLI_OK;
}
