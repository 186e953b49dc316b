/* cleave serve: the cloud server. */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleave/runtime.h"
#include "cli/cli.h"

static const char serve_usage[] =
    "usage: cleave serve --model MODEL [--listen ADDR:PORT] [--threads N]\n"
    "                    [--max-edges N] [--token-file F] [--seed N]\n"
    "\n"
    "The cloud server: accepts edges (`cleave edge`) that run the same model,\n"
    "takes their plans and runs the cloud part of every frame they send on a\n"
    "pool of worker threads, one engine per edge and plan version. A\n"
    "malformed message closes that edge's connection (the reason is logged),\n"
    "never the server. SIGINT or SIGTERM: no new frames are read, the frames\n"
    "received are finished and answered, then the server exits.\n"
    "\n"
    "  --model MODEL     model.onnx, network.cfg or zoo:NAME (the edges must\n"
    "                    load the same model: HELLO carries its digest)\n"
    "  --listen A:P      address to listen on (default *:7878; port 0 picks one)\n"
    "  --threads N       worker threads (default 2)\n"
    "  --max-edges N     edges served at once (default 64)\n"
    "  --token-file F    require edges to prove they hold this shared secret\n"
    "  --seed N          weight seed of zoo: and .cfg models (default 1)\n"
    "  --quiet           log only errors\n";

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

int cli_serve(int argc, char **argv)
{
    const char *model = NULL, *listen = "*:7878", *token = NULL;
    uint64_t threads = 2, max_edges = 64, seed = 1;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(serve_usage, stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--model") && v) {
            model = v;
            i++;
        } else if (!strcmp(a, "--listen") && v) {
            listen = v;
            i++;
        } else if (!strcmp(a, "--token-file") && v) {
            token = v;
            i++;
        } else if (!strcmp(a, "--threads") && v) {
            if (!cli_parse_u64(a, v, &threads))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--max-edges") && v) {
            if (!cli_parse_u64(a, v, &max_edges))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            if (!cli_parse_u64(a, v, &seed))
                return CLI_USAGE;
            i++;
        } else if (!strcmp(a, "--quiet")) {
            quiet = true;
        } else {
            fprintf(stderr, "cleave serve: unknown or incomplete argument "
                            "'%s'\n\n%s", a, serve_usage);
            return CLI_USAGE;
        }
    }
    if (!model) {
        fprintf(stderr, "cleave serve: --model is required\n\n%s",
                serve_usage);
        return CLI_USAGE;
    }
    if (threads < 1 || threads > 256 || max_edges < 1 || max_edges > 100000) {
        fprintf(stderr, "cleave serve: --threads must be 1..256 and "
                        "--max-edges 1..100000\n");
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
    clv_server_options o;
    clv_server_options_init(&o);
    o.listen = listen;
    o.threads = (int)threads;
    o.max_conns = (int)max_edges;
    o.secret = token ? &secret : NULL;
    o.name = "cleave serve";
    o.log = quiet ? NULL : serve_log;
    clv_server *s = NULL;
    int rc = clv_server_create(g, &o, &s, &err);
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
                    "failed, %llu connections dropped, %llu refused\n",
            (unsigned long long)st.conns_accepted,
            (unsigned long long)st.frames_done,
            (unsigned long long)st.frames_failed,
            (unsigned long long)st.conns_dropped,
            (unsigned long long)st.conns_refused);
    serve_stop_target = NULL;
    clv_server_free(s);
    clv_graph_free(g);
    return CLI_OK;
}
