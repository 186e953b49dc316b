/* The runtime under faults, over loopback: a server that meets malformed,
 * truncated, oversized and mis-checksummed messages, wrong digests, slow
 * senders and abrupt disconnects keeps serving its other edges; an edge
 * whose server is unreachable or dies mid-stream finishes every frame. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "cleave/load.h"
#include "cleave/runtime.h"
#include "net/internal.h"
#include "runtime_util.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A connection that completed the handshake with `digest`. */
static clv_net_conn *raw_edge(const char *addr, const uint8_t *digest)
{
    clv_net_conn *c = NULL;
    clv_net_client_options co;
    clv_net_client_options_init(&co);
    memcpy(co.digest, digest, CLV_NET_DIGEST_SIZE);
    if (clv_net_connect(addr, 2000, &c, NULL))
        return NULL;
    clv_net_conn_set_timeout(c, 5000);
    if (clv_net_handshake_client(c, &co, NULL, NULL)) {
        clv_net_conn_free(c);
        return NULL;
    }
    return c;
}

/* Reads until the server closes (or sends ERROR and closes): true when it
 * did within the timeout. */
static bool closed_by_server(clv_net_conn *c)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    for (int i = 0; i < 10; i++) {
        int rc = clv_net_recv(c, &m, NULL);
        if (rc == CLV_ECLOSED || rc == CLV_EIO)
            return true;
        if (rc)
            break;
    }
    clv_net_msg_release(&m);
    return false;
}


static void send_plan(clv_net_conn *c, const clv_graph *g, uint64_t version)
{
    uint32_t nodes[64];
    int n = clv_graph_n_nodes(g);
    for (int i = 0; i < n; i++)
        nodes[i] = (uint32_t)i;
    uint32_t in = (uint32_t)clv_graph_input(g, 0);
    uint32_t out = (uint32_t)clv_graph_output(g, 0);
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_PLAN;
    m.plan.version = version;
    m.plan.n_nodes = (uint32_t)n;
    m.plan.nodes = nodes;
    m.plan.n_inputs = 1;
    m.plan.inputs = &in;
    m.plan.n_outputs = 1;
    m.plan.outputs = &out;
    clv_net_send(c, &m, NULL, NULL);
}

static void test_server_faults(const clv_graph *g)
{
    clv_server_options so;
    clv_server *s = NULL;
    clv_error err = {0};
    char addr[64];
    uint8_t digest[32], wrong[32];
    clv_server_options_init(&so);
    so.listen = "127.0.0.1:0";
    so.log = quiet_log;
    so.io_timeout_ms = 400;
    so.handshake_ms = 400;
    so.max_payload = 1 << 20;
    if (clv_server_create(g, &so, &s, &err) || clv_server_start(s, &err)) {
        CHECKF(0, "server: %s", err.msg);
        clv_server_free(s);
        return;
    }
    snprintf(addr, sizeof addr, "127.0.0.1:%d", clv_server_port(s));
    clv_net_graph_digest(g, digest);
    memcpy(wrong, digest, 32);
    wrong[0] ^= 1;

    /* a good edge first, and one that stays connected throughout */
    CHECK(good_edge(g, addr));
    clv_net_conn *keep = raw_edge(addr, digest);
    CHECK(keep != NULL);
    if (keep)
        send_plan(keep, g, 1);

    /* wrong model digest: refused at the handshake */
    clv_net_conn *c = raw_edge(addr, wrong);
    CHECK(c == NULL);

    /* garbage instead of a header */
    c = raw_edge(addr, digest);
    CHECK(c != NULL);
    if (c) {
        uint8_t junk[64];
        memset(junk, 0xab, sizeof junk);
        clv_net_send_bytes(c, junk, sizeof junk, NULL, NULL);
        CHECK(closed_by_server(c));
        clv_net_conn_free(c);
    }

    /* a header announcing more than the server's limit */
    c = raw_edge(addr, digest);
    if (c) {
        uint8_t h[32];
        memcpy(h, "CLV1", 4);
        clv_net__put16(h + 4, 1);
        clv_net__put16(h + 6, CLV_NET_FRAME);
        clv_net__put32(h + 8, 0);
        clv_net__put32(h + 12, 0);
        clv_net__put64(h + 16, (uint64_t)1 << 40);
        clv_net__put32(h + 24, 0);
        clv_net__put32(h + 28, clv_net_crc32c(0, h, 28));
        clv_net_send_bytes(c, h, 32, NULL, NULL);
        CHECK(closed_by_server(c));
        clv_net_conn_free(c);
    }

    /* a bad payload checksum */
    c = raw_edge(addr, digest);
    if (c) {
        clv_net_buf b = {0};
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_PROBE;
        m.probe.fill = 100;
        clv_net_encode(&m, &b, NULL);
        b.data[b.len - 1] ^= 0x40;
        clv_net_send_bytes(c, b.data, b.len, NULL, NULL);
        CHECK(closed_by_server(c));
        clv_net_buf_release(&b);
        clv_net_conn_free(c);
    }

    /* truncated: half a message, then a slow sender that never finishes
     * (the server's I/O timeout closes it) */
    c = raw_edge(addr, digest);
    if (c) {
        clv_net_buf b = {0};
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_PROBE;
        m.probe.fill = 4000;
        clv_net_encode(&m, &b, NULL);
        clv_net_send_bytes(c, b.data, b.len / 2, NULL, NULL);
        CHECK(closed_by_server(c));
        clv_net_buf_release(&b);
        clv_net_conn_free(c);
    }

    /* abrupt disconnect inside a FRAME */
    c = raw_edge(addr, digest);
    if (c) {
        send_plan(c, g, 1);
        uint8_t h[32];
        memcpy(h, "CLV1", 4);
        clv_net__put16(h + 4, 1);
        clv_net__put16(h + 6, CLV_NET_FRAME);
        clv_net__put32(h + 8, 0);
        clv_net__put32(h + 12, 0);
        clv_net__put64(h + 16, 5000);
        clv_net__put32(h + 24, 0);
        clv_net__put32(h + 28, clv_net_crc32c(0, h, 28));
        clv_net_send_bytes(c, h, 32, NULL, NULL);
        clv_net_conn_free(c);
    }

    /* a FRAME whose tensor has the wrong shape: closed; one naming an
     * unknown plan: a RESULT with status PLAN, the connection stays */
    c = raw_edge(addr, digest);
    if (c) {
        send_plan(c, g, 1);
        clv_net_msg m, r;
        clv_net_msg_init(&r);
        int rc = clv_net_recv(c, &r, NULL);
        CHECK(rc == 0 && r.type == CLV_NET_PLAN_ACK && r.plan_ack.status == 0);
        const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
        float *data = calloc((size_t)clv_tensor_numel(ti), sizeof *data);
        clv_net_tensor t;
        clv_net_tensor_from_graph(g, clv_graph_input(g, 0), data, &t, NULL);
        clv_net_msg_init(&m);
        m.type = CLV_NET_FRAME;
        m.frame.plan_version = 9;
        m.frame.frame_id = 1;
        m.frame.n_tensors = 1;
        m.frame.tensors = &t;
        clv_net_send(c, &m, NULL, NULL);
        rc = clv_net_recv(c, &r, NULL);
        CHECK(rc == 0 && r.type == CLV_NET_RESULT &&
              r.result.status == CLV_NET_ERR_PLAN);
        /* a plan with an out-of-range node: refused, not fatal */
        uint32_t bad = 100000;
        clv_net_msg p;
        clv_net_msg_init(&p);
        p.type = CLV_NET_PLAN;
        p.plan.version = 2;
        p.plan.n_nodes = 1;
        p.plan.nodes = &bad;
        clv_net_send(c, &p, NULL, NULL);
        rc = clv_net_recv(c, &r, NULL);
        CHECK(rc == 0 && r.type == CLV_NET_PLAN_ACK && r.plan_ack.status != 0);
        /* now a wrong shape */
        m.frame.plan_version = 1;
        t.dims[t.ndim - 1] -= 1;
        t.nbytes -= (uint64_t)t.dims[t.ndim - 2] * 4 * (uint64_t)t.dims[1];
        t.nbytes = 4;
        for (int i = 0; i < t.ndim; i++)
            t.nbytes *= (uint64_t)t.dims[i];
        clv_net_send(c, &m, NULL, NULL);
        CHECK(closed_by_server(c));
        clv_net_msg_release(&r);
        free(data);
        clv_net_conn_free(c);
    }

    sleep_ms(600);
    /* the server is still serving: the kept edge gets its plan ack and a
     * probe answer, and a new edge runs */
    if (keep) {
        clv_net_msg r;
        clv_net_msg_init(&r);
        int rc = clv_net_recv(keep, &r, NULL);
        CHECK(rc == 0 && r.type == CLV_NET_PLAN_ACK);
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_PROBE;
        m.probe.id = 7;
        m.probe.fill = 1000;
        clv_net_send(keep, &m, NULL, NULL);
        rc = clv_net_recv(keep, &r, NULL);
        CHECK(rc == 0 && r.type == CLV_NET_PROBE_ACK && r.probe_ack.id == 7);
        clv_net_msg_release(&r);
        clv_net_conn_free(keep);
    }
    CHECK(good_edge(g, addr));
    clv_server_stats st;
    clv_server_stats_get(s, &st);
    CHECKF(st.conns_dropped >= 6 && st.conns_refused >= 1,
           "dropped %llu refused %llu", (unsigned long long)st.conns_dropped,
           (unsigned long long)st.conns_refused);
    clv_server_free(s);
}

typedef struct killer {
    clv_server *s;
    int after_ms;
} killer;

static void *kill_main(void *p)
{
    killer *k = p;
    sleep_ms(k->after_ms);
    clv_server_stop(k->s);
    clv_server_join(k->s);
    return NULL;
}

/* The server dies mid-stream, and one that is never there. */
static void test_edge_fallback(const clv_graph *g)
{
    clv_error err = {0};
    char addr[64];
    clv_server *s = start_server(g, addr, sizeof addr);
    CHECK(s != NULL);
    if (!s)
        return;
    int n = clv_graph_n_nodes(g);
    double te[64], tc[64];
    for (int i = 0; i < n && i < 64; i++)
        te[i] = 1, tc[i] = 0.01;
    for (int round = 0; round < 2; round++) {
        clv_edge_options o;
        clv_edge_report r;
        clv_edge_options_init(&o);
        clv_edge_report_init(&r);
        o.server = addr;
        o.frames = 30;
        o.fps = 40;
        o.planner = CLV_PLAN_CLOUD;
        o.plan_bps = 50e6;
        o.t_edge_ms = te;
        o.t_cloud_ms = tc;
        o.reconnect_ms = 50;
        o.connect_timeout_ms = 300;
        o.log = quiet_log;
        pthread_t th;
        killer k = {s, 300};
        bool killing = round == 0 && pthread_create(&th, NULL, kill_main, &k) == 0;
        int rc = clv_edge_run(g, &o, &r, &err);
        if (killing)
            pthread_join(th, NULL);
        CHECKF(rc == 0, "%s", err.msg);
        /* every frame ends with a result: none failed, none dropped */
        int ended = 0, split = 0, fb = 0;
        for (int i = 0; i < r.n_frames; i++) {
            ended += r.frames[i].t_done > 0;
            split += r.frames[i].where == CLV_EDGE_SPLIT;
            fb += r.frames[i].where == CLV_EDGE_FALLBACK;
        }
        CHECKF(ended == 30 && r.n_ok == 30 && r.n_failed == 0,
               "round %d: ended %d ok %d", round, ended, r.n_ok);
        if (round == 0)
            CHECKF(split >= 1 && fb >= 1, "split %d fallback %d", split, fb);
        else
            CHECK(split == 0 && fb == 30);
        clv_edge_report_release(&r);
    }
    clv_server_free(s);
}

int main(void)
{
    clv_graph *g = NULL;
    clv_error err = {0};
    if (clv_zoo_build("lenet", 1, 0, &g, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_server_faults(g);
    test_edge_fallback(g);
    clv_graph_free(g);
    return check_report("runtime_faults");
}
