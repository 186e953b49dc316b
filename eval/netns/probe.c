/* The active probe alone, many times, for the netns testbed: how far the
 * estimate of clv_net_probe_link strays from a tc-shaped rate, and how that
 * depends on the number of pairs and the target difference.
 *
 *   probe serve HOST:PORT
 *   probe HOST:PORT [TRIALS [REPEATS [TARGET_MS]]]
 *
 * `serve` answers PROBEs on one connection at a time until the peer
 * closes. The client opens one connection, runs TRIALS probes (default 10)
 * of REPEATS measured pairs (default 1, as `cleave edge` does) aiming at
 * TARGET_MS (default 100, as `cleave edge`) and prints one line per trial:
 * Mbit/s of the pair(s), of the receiver's timing, rtt, pairs, seconds.
 * Not part of the build: eval/netns/probe.sh compiles it against a build
 * directory's libcleave.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/net.h"

static int serve(const char *addr)
{
    clv_error err = {0};
    clv_net_listener *l = NULL;
    if (clv_net_listen(addr, &l, &err)) {
        fprintf(stderr, "probe: %s\n", err.msg);
        return 1;
    }
    for (;;) {
        clv_net_conn *c = NULL;
        if (clv_net_accept(l, -1, &c, &err) || !c) {
            fprintf(stderr, "probe: accept: %s\n", err.msg);
            continue;
        }
        clv_net_conn_set_timeout(c, -1);
        clv_net_msg m;
        clv_net_msg_init(&m);
        while (clv_net_recv(c, &m, &err) == 0) {
            if (m.type == CLV_NET_PROBE &&
                clv_net_answer_probe(c, &m, &err))
                break;
        }
        clv_net_msg_release(&m);
        clv_net_conn_free(c);
    }
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2]);
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: probe serve HOST:PORT\n"
                        "       probe HOST:PORT [TRIALS [REPEATS "
                        "[TARGET_MS]]]\n");
        return 2;
    }
    int trials = argc > 2 ? atoi(argv[2]) : 10;
    clv_net_probe_options o;
    clv_net_probe_options_init(&o);
    o.repeats = argc > 3 ? atoi(argv[3]) : 1;
    o.target_ms = argc > 4 ? atof(argv[4]) : 100;
    o.max_bytes = 8u << 20;
    clv_error err = {0};
    clv_net_conn *c = NULL;
    if (clv_net_connect(argv[1], 2000, &c, &err)) {
        fprintf(stderr, "probe: %s\n", err.msg);
        return 1;
    }
    clv_net_conn_set_timeout(c, 20000);
    int rc = 0;
    for (int i = 0; i < trials && !rc; i++) {
        clv_net_probe_result r;
        uint64_t t0 = clv_net_now_ns();
        rc = clv_net_probe_link(c, &o, &r, &err);
        if (rc) {
            fprintf(stderr, "probe: %s\n", err.msg);
            break;
        }
        printf("%.4f %.4f %.2f %d %.2f\n", r.bps / 1e6, r.recv_bps / 1e6,
               r.rtt_ms, r.pairs,
               (double)(clv_net_now_ns() - t0) * 1e-9);
        fflush(stdout);
    }
    clv_net_conn_free(c);
    return rc ? 1 : 0;
}
