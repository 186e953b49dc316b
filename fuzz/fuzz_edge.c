/*
 * libFuzzer harness of the edge's side of a session with a rogue server:
 * the input is what the server sends. Byte 0 picks the mode: even, the
 * edge shakes hands (HELLO, then whatever CHALLENGE / HELLO_ACK / ERROR
 * the bytes hold) and reads the session; odd, the connection is keyed as
 * after an authenticated handshake (fixed keys), so every message must
 * carry a MAC. Every message read goes where the edge would take it:
 * TIMES into the planner (with the model's node count), RESULT through
 * the edge's checks for a whole-model plan (clv_rt__check_result), PLAN_ACK,
 * ERROR and the rest by name. Nothing may crash, leak, read out of bounds
 * or reach undefined behaviour; every refusal has a message.
 * Seeds: fuzz/corpus/edge (made by fuzz/make_edge_corpus.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleave/load.h"
#include "cleave/net.h"
#include "net/internal.h"
#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static clv_graph *g;
static clv_partition all_cloud;
static double *te;

static void init(void)
{
    if (clv_zoo_build("lenet", 1, 0, &g, NULL))
        abort();
    int n = clv_graph_n_nodes(g);
    unsigned char *edge = calloc((size_t)n, 1);
    te = calloc((size_t)n, sizeof *te);
    for (int i = 0; i < n; i++)
        te[i] = 1.0;
    clv_partition_init(&all_cloud);
    if (!edge || !te || clv_partition_make(g, edge, &all_cloud, NULL))
        abort();
    free(edge);
}

static void check_refusal(int rc, const clv_error *err)
{
    if (rc && err->msg[0] == '\0')
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g)
        init();
    if (size < 1)
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        return 0;
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    /* the server's side: all its bytes, then the end of its stream */
    size_t at = 1;
    while (at < size) {
        ssize_t k = write(sv[1], data + at, size - at);
        if (k <= 0)
            break;
        at += (size_t)k;
    }
    shutdown(sv[1], SHUT_WR);
    clv_net_conn *c = NULL;
    if (clv_net_conn_from_fd(sv[0], &c, NULL)) {
        close(sv[1]);
        return 0;
    }
    clv_net_conn_set_timeout(c, 50);
    clv_error err;
    clv_error_clear(&err);
    int rc = 0;
    if (data[0] & 1) {
        uint8_t ks[32], kr[32];
        memset(ks, 0x11, sizeof ks);
        memset(kr, 0x22, sizeof kr);
        clv_net__conn_key(c, ks, kr);
    } else {
        clv_net_client_options co;
        clv_net_client_options_init(&co);
        clv_net_graph_digest(g, co.digest);
        rc = clv_net_handshake_client(c, &co, NULL, &err);
        check_refusal(rc, &err);
    }
    clv_net_msg m;
    clv_net_msg_init(&m);
    for (int i = 0; i < 64 && !rc; i++) {
        clv_error_clear(&err);
        rc = clv_net_recv(c, &m, &err);
        check_refusal(rc, &err);
        if (rc)
            break;
        if (m.type == CLV_NET_TIMES && m.times.status == 0 &&
            m.times.n == (uint32_t)clv_graph_n_nodes(g)) {
            clv_plan_options o;
            clv_plan_options_init(&o);
            o.method = (i & 1) ? CLV_PLAN_DSL : CLV_PLAN_DADS;
            o.link.bandwidth_mbps = 10;
            o.fps = 30;
            clv_plan plan;
            clv_plan_init(&plan);
            clv_codec raw;
            clv_codec_parse("raw", &raw, NULL);
            int prc = clv_rt__plan(g, te, m.times.ms, &o, &raw, &plan, &err);
            check_refusal(prc, &err);
            clv_plan_release(&plan);
        } else if (m.type == CLV_NET_RESULT) {
            int crc = clv_rt__check_result(g, &all_cloud, &m.result, &err);
            check_refusal(crc, &err);
        } else {
            (void)clv_net_type_name(m.type);
        }
    }
    clv_net_msg_release(&m);
    clv_net_conn_free(c);
    close(sv[1]);
    return 0;
}
