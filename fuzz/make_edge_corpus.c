/* Writes fuzz/corpus/edge: what a server sends an edge, as fuzz_edge.c
 * reads it (a mode byte, then the server's bytes): HELLO_ACK, TIMES,
 * PLAN_ACK, RESULTs (good, failed), ERROR and BYE in a few orders, and
 * the same session keyed (MACs under the harness's fixed keys). Run from
 * the source tree after a build:
 *   cc -Iinclude -Isrc fuzz/make_edge_corpus.c -Lbuild -lcleave \
 *      -Wl,-rpath,$PWD/build -o /tmp/mk && /tmp/mk fuzz/corpus/edge */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleave/load.h"
#include "cleave/net.h"
#include "net/internal.h"

/* Appends m's bytes as a connection (keyed or not) would send them. */
static void put(clv_net_conn *tx, int rx, const clv_net_msg *m, FILE *f)
{
    uint8_t buf[1 << 16];
    if (clv_net_send(tx, m, NULL, NULL))
        exit(1);
    ssize_t n = read(rx, buf, sizeof buf);
    if (n > 0)
        fwrite(buf, 1, (size_t)n, f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "fuzz/corpus/edge";
    clv_graph *g = NULL;
    if (clv_zoo_build("lenet", 1, 0, &g, NULL))
        return 1;
    int n = clv_graph_n_nodes(g);
    double *ms = calloc((size_t)n, sizeof *ms);
    for (int i = 0; i < n; i++)
        ms[i] = 0.05 * (i + 1);
    int out = clv_graph_output(g, 0);
    float y[10] = {0.1f, 0.9f};
    clv_net_tensor t;
    clv_net_tensor_from_graph(g, out, y, &t, NULL);
    for (int keyed = 0; keyed < 2; keyed++)
        for (int variant = 0; variant < 3; variant++) {
            int sv[2];
            socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
            clv_net_conn *tx = NULL;
            clv_net_conn_from_fd(sv[0], &tx, NULL);
            char path[512];
            snprintf(path, sizeof path, "%s/%s%d", dir,
                     keyed ? "keyed" : "session", variant);
            FILE *f = fopen(path, "wb");
            fputc(keyed, f);
            clv_net_msg m;
            clv_net_msg_init(&m);
            if (!keyed) {
                m.type = CLV_NET_HELLO_ACK;
                m.hello_ack.session = 7;
                m.hello_ack.max_payload = 1 << 20;
                m.hello_ack.max_plans = 4;
                m.hello_ack.name = "rogue";
                put(tx, sv[1], &m, f);
            } else {
                uint8_t ks[32], kr[32];
                memset(ks, 0x22, sizeof ks); /* the edge's receive key */
                memset(kr, 0x11, sizeof kr);
                clv_net__conn_key(tx, ks, kr);
            }
            clv_net_msg_init(&m);
            m.type = CLV_NET_TIMES;
            if (variant == 1) {
                m.times.status = CLV_NET_ERR_UNAVAILABLE;
                m.times.message = "none";
            } else {
                m.times.n = (uint32_t)n;
                m.times.ms = ms;
                m.times.runs = 3;
            }
            put(tx, sv[1], &m, f);
            clv_net_msg_init(&m);
            m.type = CLV_NET_PLAN_ACK;
            m.plan_ack.version = 1;
            m.plan_ack.status = variant == 2 ? CLV_NET_ERR_BUSY : 0;
            put(tx, sv[1], &m, f);
            clv_net_msg_init(&m);
            m.type = CLV_NET_RESULT;
            m.result.frame_id = 0;
            m.result.plan_version = 1;
            if (variant == 2) {
                m.result.status = CLV_NET_ERR_BUSY;
                m.result.message = "busy";
            } else {
                m.result.n_tensors = 1;
                m.result.tensors = &t;
            }
            put(tx, sv[1], &m, f);
            clv_net_msg_init(&m);
            m.type = variant ? CLV_NET_ERROR : CLV_NET_BYE;
            m.error.code = CLV_NET_ERR_SHUTDOWN;
            m.error.text = "bye";
            put(tx, sv[1], &m, f);
            fclose(f);
            clv_net_conn_free(tx);
            close(sv[1]);
        }
    free(ms);
    clv_graph_free(g);
    return 0;
}
