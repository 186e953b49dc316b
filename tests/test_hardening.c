/* Strangers cannot hold the server (loopback only, bounded in time): a
 * HELLO trickled one byte at a time meets the handshake's absolute
 * deadline; connections in the handshake have their own small cap (more
 * wait in the listen queue), so edges past it keep their slots; nothing but handshake messages is read
 * before HELLO_ACK (a FRAME header is refused before its payload); an
 * edge silent past the idle timeout is told BYE; a message under the
 * minimum rate is cut off; a server without a token serves only its own
 * machine unless told --insecure. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cleave/codec.h"
#include "cleave/engine.h"
#include "cleave/load.h"
#include "cleave/runtime.h"
#include "net/internal.h"
#include "runtime_util.h"

typedef struct edge_run_arg {
    const clv_graph *g;
    const clv_edge_options *o;
    clv_edge_report *r;
    int rc;
} edge_run_arg;

static void *edge_run_thread(void *p)
{
    edge_run_arg *a = p;
    a->rc = clv_edge_run(a->g, a->o, a->r, NULL);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double since_ms(uint64_t t0)
{
    return (double)(clv_net_now_ns() - t0) / 1e6;
}

/* A raw TCP connection, nothing sent. */
static clv_net_conn *raw_connect(const char *addr)
{
    clv_net_conn *c = NULL;
    if (clv_net_connect(addr, 2000, &c, NULL))
        return NULL;
    clv_net_conn_set_timeout(c, 3000);
    return c;
}

/* A connection past the handshake with the graph's digest. */
static clv_net_conn *raw_edge(const char *addr, const clv_graph *g)
{
    clv_net_client_options co;
    clv_net_client_options_init(&co);
    clv_net_graph_digest(g, co.digest);
    clv_net_conn *c = raw_connect(addr);
    if (c && clv_net_handshake_client(c, &co, NULL, NULL)) {
        clv_net_conn_free(c);
        return NULL;
    }
    return c;
}

/* The encoding of a HELLO for g. */
static void hello_bytes(const clv_graph *g, clv_net_buf *b)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_HELLO;
    m.hello.version = CLV_NET_VERSION;
    m.hello.role = CLV_NET_ROLE_EDGE;
    clv_net_graph_digest(g, m.hello.digest);
    m.hello.name = "slow";
    CHECK(clv_net_encode(&m, b, NULL) == 0);
}

/* What the server does next on c: 'E' ERROR (its code to *code, its text
 * to text), 'B' BYE, 'C' closed, 'T' nothing within the connection's
 * timeout, 'M' another message. */
static char next_event(clv_net_conn *c, int *code, char *text, size_t n)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    int rc = clv_net_recv(c, &m, NULL);
    char ev = rc == CLV_ETIMEOUT ? 'T' : rc ? 'C'
              : m.type == CLV_NET_ERROR ? 'E'
              : m.type == CLV_NET_BYE   ? 'B'
                                        : 'M';
    if (ev == 'E') {
        if (code)
            *code = m.error.code;
        if (text)
            snprintf(text, n, "%s", m.error.text ? m.error.text : "");
    }
    clv_net_msg_release(&m);
    return ev;
}


/* Slowloris in the handshake: 8 connections against a cap of 4 in the
 * handshake. The 4 inside trickle a HELLO a byte at a time and are cut
 * off at the deadline, not a byte per I/O timeout later; the 4 beyond the
 * cap wait unanswered in the listen queue meanwhile, are then taken in
 * turn and meet the same deadline; a real edge then connects. */
static void test_slow_handshake(const clv_graph *g)
{
    clv_server_options so;
    clv_server_options_init(&so);
    so.max_handshakes = 4;
    so.handshake_ms = 800;
    so.io_timeout_ms = 5000; /* the old per-byte timeout would never fire */
    char addr[64];
    clv_server *s = start_server_with(g, &so, addr, sizeof addr);
    CHECK(s != NULL);
    if (!s)
        return;
    clv_net_buf hello = {0};
    hello_bytes(g, &hello);
    enum { N = 8 };
    clv_net_conn *c[N] = {0};
    uint64_t t0 = clv_net_now_ns();
    for (int i = 0; i < N; i++) {
        c[i] = raw_connect(addr);
        CHECK(c[i] != NULL);
        sleep_ms(20); /* accepted in this order */
    }
    /* one byte every 50 ms to the first 4: steady progress, never a whole
     * HELLO */
    bool cut[N] = {0};
    size_t sent = 0;
    while (since_ms(t0) < 1400 && sent + 1 < hello.len) {
        for (int i = 0; i < 4; i++)
            if (c[i] && !cut[i] &&
                clv_net_send_bytes(c[i], hello.data + sent, 1, NULL, NULL))
                cut[i] = true;
        sent++;
        sleep_ms(50);
    }
    int closed = 0;
    for (int i = 0; i < 4; i++) {
        clv_net_conn_set_timeout(c[i], 300);
        char ev = c[i] ? next_event(c[i], NULL, NULL, 0) : 'T';
        closed += ev == 'C' || ev == 'E';
    }
    CHECKF(closed == 4, "%d of 4 trickling handshakes were cut off", closed);
    /* the other 4 were accepted after them, and (silent) cut off too */
    closed = 0;
    for (int i = 4; i < N; i++) {
        clv_net_conn_set_timeout(c[i], 2000);
        char ev = c[i] ? next_event(c[i], NULL, NULL, 0) : 'T';
        closed += ev == 'C' || ev == 'E';
    }
    CHECKF(closed == 4, "%d of 4 queued connections were cut off", closed);
    double ms = since_ms(t0);
    CHECKF(ms < 3500, "8 handshakes held the server %.0f ms", ms);
    clv_server_stats st;
    clv_server_stats_get(s, &st);
    CHECKF(st.conns_timed_out == 8, "%llu timed out",
           (unsigned long long)st.conns_timed_out);
    for (int i = 0; i < N; i++)
        clv_net_conn_free(c[i]);
    CHECK(good_edge(g, addr));
    clv_net_buf_release(&hello);
    clv_server_free(s);
}

/* Before HELLO_ACK: a FRAME header is refused before a byte of its
 * payload is read (at once, not at the deadline), and so is a HELLO
 * longer than the handshake's small limit. */
static void test_before_hello(const clv_graph *g)
{
    clv_server_options so;
    clv_server_options_init(&so);
    so.handshake_ms = 3000;
    char addr[64];
    clv_server *s = start_server_with(g, &so, addr, sizeof addr);
    CHECK(s != NULL);
    if (!s)
        return;
    uint64_t sizes[2] = {(uint64_t)1 << 20, 60000};
    clv_net_type types[2] = {CLV_NET_FRAME, CLV_NET_HELLO};
    const char *want[2] = {"not accepted", "limit"};
    for (int k = 0; k < 2; k++) {
        clv_net_conn *c = raw_connect(addr);
        CHECK(c != NULL);
        if (!c)
            continue;
        uint8_t h[CLV_NET_HEADER_SIZE];
        memcpy(h, CLV_NET_MAGIC, 4);
        clv_net__put16(h + 4, CLV_NET_VERSION);
        clv_net__put16(h + 6, (uint16_t)types[k]);
        clv_net__put32(h + 8, 0);
        clv_net__put32(h + 12, 0);
        clv_net__put64(h + 16, sizes[k]);
        clv_net__put32(h + 24, 0);
        clv_net__put32(h + 28, clv_net_crc32c(0, h, 28));
        uint64_t t0 = clv_net_now_ns();
        CHECK(clv_net_send_bytes(c, h, sizeof h, NULL, NULL) == 0);
        int code = 0;
        char text[256] = "";
        char ev = next_event(c, &code, text, sizeof text);
        CHECKF(ev == 'E' && strstr(text, want[k]), "%s: event %c: %s",
               clv_net_type_name(types[k]), ev, text);
        CHECKF(since_ms(t0) < 1500, "%s refused after %.0f ms",
               clv_net_type_name(types[k]), since_ms(t0));
        clv_net_conn_free(c);
    }
    clv_server_free(s);
}

/* Past the handshake: an edge silent for idle_ms is told BYE; one that
 * starts a message and trickles it below the minimum rate is cut off at
 * the message's deadline, long before a byte-per-timeout reader would. */
static void test_idle_and_slow_body(const clv_graph *g)
{
    clv_server_options so;
    clv_server_options_init(&so);
    so.idle_ms = 500;
    so.io_timeout_ms = 400;
    so.min_rate = 1000; /* bytes/s */
    char addr[64];
    clv_server *s = start_server_with(g, &so, addr, sizeof addr);
    CHECK(s != NULL);
    if (!s)
        return;
    clv_net_conn *c = raw_edge(addr, g);
    CHECK(c != NULL);
    if (c) {
        uint64_t t0 = clv_net_now_ns();
        char ev = next_event(c, NULL, NULL, 0);
        double ms = since_ms(t0);
        CHECKF(ev == 'B' && ms > 400 && ms < 2000,
               "idle edge: event %c after %.0f ms", ev, ms);
        clv_net_conn_free(c);
    }
    /* a PROBE of 600 bytes at 100 bytes/s: allowed 0.4 s + 0.6 s */
    c = raw_edge(addr, g);
    CHECK(c != NULL);
    if (c) {
        clv_net_buf b = {0};
        clv_net_msg m;
        clv_net_msg_init(&m);
        m.type = CLV_NET_PROBE;
        m.probe.fill = 600;
        CHECK(clv_net_encode(&m, &b, NULL) == 0);
        uint64_t t0 = clv_net_now_ns();
        size_t at = 0;
        bool refused = false;
        while (at < b.len && since_ms(t0) < 4000 && !refused) {
            size_t k = b.len - at < 10 ? b.len - at : 10;
            refused = clv_net_send_bytes(c, b.data + at, k, NULL, NULL) != 0;
            at += k;
            sleep_ms(100);
            refused |= clv_net_conn_wait(c, 0, NULL) > 0; /* ERROR or close */
        }
        double ms = since_ms(t0);
        CHECKF(refused && ms < 2000, "slow body: refused %d after %.0f ms",
               refused, ms);
        clv_net_buf_release(&b);
        clv_net_conn_free(c);
    }
    clv_server_stats st;
    clv_server_stats_get(s, &st);
    CHECKF(st.conns_timed_out == 2, "%llu timed out",
           (unsigned long long)st.conns_timed_out);
    clv_server_free(s);
}

/* A non-loopback address of this machine, or false. */
static bool own_address(char *out, size_t n)
{
    struct ifaddrs *ifs = NULL, *i;
    bool found = false;
    if (getifaddrs(&ifs))
        return false;
    for (i = ifs; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(a->sin_addr.s_addr) >> 24) == 127)
            continue;
        found = inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)n) != NULL;
    }
    freeifaddrs(ifs);
    return found;
}

/* Protected mode: without a token, a peer at a non-loopback address is
 * refused with a message naming the way out; --insecure serves it. */
static void test_protected_mode(const clv_graph *g)
{
    char ip[64];
    if (!own_address(ip, sizeof ip)) {
        printf("protected mode: this machine has no non-loopback IPv4 "
               "address; only loopback checked\n");
    }
    for (int insecure = 0; insecure < 2; insecure++) {
        clv_server_options o;
        clv_server *s = NULL;
        clv_error err = {0};
        clv_server_options_init(&o);
        o.listen = "*:0";
        o.log = quiet_log;
        o.insecure = insecure;
        if (clv_server_create(g, &o, &s, &err) || clv_server_start(s, &err)) {
            CHECKF(0, "server: %s", err.msg);
            clv_server_free(s);
            return;
        }
        char addr[96];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", clv_server_port(s));
        CHECK(good_edge(g, addr)); /* loopback: always served */
        if (own_address(ip, sizeof ip)) {
            snprintf(addr, sizeof addr, "%s:%d", ip, clv_server_port(s));
            clv_net_client_options co;
            clv_net_client_options_init(&co);
            clv_net_graph_digest(g, co.digest);
            clv_net_conn *c = raw_connect(addr);
            CHECK(c != NULL);
            int rc = c ? clv_net_handshake_client(c, &co, NULL, &err) : -1;
            if (insecure)
                CHECKF(rc == 0, "insecure: %s", err.msg);
            else
                CHECKF(rc != 0 && strstr(err.msg, "protected mode") &&
                           strstr(err.msg, "--insecure"),
                       "protected: rc %d: %s", rc, err.msg);
            clv_net_conn_free(c);
        }
        clv_server_free(s);
    }
}

/* An edge started before its server: it runs on the edge while nothing
 * answers, and once the server is up it plans again with the server's
 * times and offloads. */
static void test_late_server(const clv_graph *g)
{
    int n = clv_graph_n_nodes(g);
    double *te, *tc;
    if (!node_times(g, &te, &tc))
        return;
    for (int i = 0; i < n; i++)
        te[i] = 5, tc[i] = 50; /* the edge's guess: the cloud is slow */
    /* a free port: taken by a server that is gone again */
    char addr[64];
    clv_server *s = start_server(g, addr, sizeof addr);
    CHECK(s != NULL);
    if (!s)
        return;
    int port = clv_server_port(s);
    clv_server_free(s);
    s = NULL;

    clv_edge_options o;
    clv_edge_report r;
    offload_options(&o, addr, te, tc, 60, CLV_PLAN_DSL);
    clv_edge_report_init(&r);
    o.fps = 30;
    o.plan_bps = 100e6;
    o.adapt = false;
    o.reconnect_ms = 100;
    o.server_times = true;
    edge_run_arg a = {g, &o, &r, -1};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, edge_run_thread, &a) == 0);
    sleep_ms(500);
    /* the server's own times: the cloud is fast */
    clv_server_options so;
    clv_server_options_init(&so);
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    so.listen = listen;
    so.log = quiet_log;
    so.node_ms = tc;
    for (int i = 0; i < n; i++)
        tc[i] = 0.01;
    clv_error err = {0};
    if (clv_server_create(g, &so, &s, &err) || clv_server_start(s, &err))
        CHECKF(0, "late server: %s", err.msg);
    for (int i = 0; i < n; i++)
        tc[i] = 50;
    pthread_join(th, NULL);
    int split = count_where(&r, CLV_EDGE_SPLIT);
    CHECKF(a.rc == 0 && r.n_ok == 60, "rc %d, %d ok", a.rc, r.n_ok);
    CHECKF(r.frames[0].where != CLV_EDGE_SPLIT && split >= 20 &&
               r.frames[59].where == CLV_EDGE_SPLIT && r.server_times,
           "%d of 60 frames split; the last %d; server times %d", split,
           (int)r.frames[59].where, (int)r.server_times);
    clv_edge_report_release(&r);
    clv_server_free(s);
    free(te);
    free(tc);
}

/* ---- the memory budget and the queue -------------------------------------- */

/* Sends PLAN `version` whose cloud part is nodes [from, n) (a suffix, as
 * every partition's cloud part is), taking the tensors they read from
 * earlier nodes or the graph's input and returning the graph's output;
 * returns its PLAN_ACK's status, or -1. */
static int plan_from(clv_net_conn *c, const clv_graph *g, uint64_t version,
                     int from)
{
    int nn = clv_graph_n_nodes(g);
    uint32_t *nodes = calloc((size_t)nn + 1, sizeof *nodes);
    uint32_t ins[64];
    uint32_t n_in = 0;
    for (int i = from; i < nn; i++) {
        nodes[i - from] = (uint32_t)i;
        const clv_node *nd = clv_graph_node(g, i);
        for (int k = 0; k < nd->n_inputs; k++) {
            int t = nd->inputs[k];
            if (t < 0)
                continue;
            const clv_tensor *ts = clv_graph_tensor(g, t);
            if ((ts->flags & CLV_TENSOR_CONST) ||
                (ts->producer >= from && ts->producer >= 0))
                continue;
            bool dup = false;
            for (uint32_t j = 0; j < n_in; j++)
                dup |= ins[j] == (uint32_t)t;
            if (!dup && n_in < 64)
                ins[n_in++] = (uint32_t)t;
        }
    }
    uint32_t out = (uint32_t)clv_graph_output(g, 0);
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_PLAN;
    m.plan.version = version;
    m.plan.n_nodes = (uint32_t)(nn - from);
    m.plan.nodes = nodes;
    m.plan.n_inputs = n_in;
    m.plan.inputs = ins;
    m.plan.n_outputs = 1;
    m.plan.outputs = &out;
    int status = -1;
    if (clv_net_send(c, &m, NULL, NULL) == 0 &&
        clv_net_recv(c, &m, NULL) == 0 && m.type == CLV_NET_PLAN_ACK)
        status = m.plan_ack.status;
    clv_net_msg_release(&m);
    free(nodes);
    return status;
}

/* Packed weights are shared: eight edges with a whole-model plan each
 * hold one copy of them, not eight; a plan that may not fit in the budget
 * is answered BUSY before an engine is made. */
static void test_plan_after_busy(const clv_graph *g, uint64_t alone);

static void test_budget_plans(const clv_graph *g)
{
    /* what one engine of the whole model holds on its own */
    clv_engine *e = NULL;
    CHECK(clv_engine_create(g, NULL, 0, NULL, &e, NULL) == 0);
    uint64_t alone = e ? clv_engine_own_bytes(e) : 0;
    clv_engine_free(e);
    clv_server_options so;
    clv_server_options_init(&so);
    char addr[64];
    clv_server *s = start_server_with(g, &so, addr, sizeof addr);
    CHECK(s != NULL);
    if (!s)
        return;
    enum { N = 8 };
    clv_net_conn *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = raw_edge(addr, g);
        CHECK(c[i] && plan_from(c[i], g, 1, 0) == 0);
    }
    clv_server_stats st;
    clv_server_stats_get(s, &st);
    CHECKF(st.engines_made == N && st.mem_used < alone * 2,
           "%llu engines hold %.1f MiB; one alone holds %.1f MiB",
           (unsigned long long)st.engines_made, st.mem_used / 1048576.0,
           alone / 1048576.0);
    for (int i = 0; i < N; i++)
        clv_net_conn_free(c[i]);
    clv_server_free(s);

    /* a budget below one whole-model engine: that PLAN is BUSY, a small
     * one (the last two nodes) is taken */
    clv_server_options_init(&so);
    so.max_memory = alone / 2;
    s = start_server_with(g, &so, addr, sizeof addr);
    clv_net_conn *one = s ? raw_edge(addr, g) : NULL;
    CHECK(one != NULL);
    if (one) {
        CHECK(plan_from(one, g, 1, 0) == CLV_NET_ERR_BUSY);
        CHECK(plan_from(one, g, 2, clv_graph_n_nodes(g) - 2) == 0);
        clv_server_stats_get(s, &st);
        CHECKF(st.plans_shed == 1 && st.engines_made == 1 &&
                   st.mem_peak <= so.max_memory,
               "%llu shed, %llu made, peak %llu of %llu",
               (unsigned long long)st.plans_shed,
               (unsigned long long)st.engines_made,
               (unsigned long long)st.mem_peak,
               (unsigned long long)so.max_memory);
        clv_net_conn_free(one);
    }
    clv_server_free(s);
    test_plan_after_busy(g, alone);
}

/* Sends FRAME `id` of plan `version` carrying tensor t (zeros). */
static int send_tensor_frame(clv_net_conn *c, const clv_graph *g, int t,
                             uint64_t version, uint64_t id)
{
    uint64_t nb = clv_tensor_bytes(clv_graph_tensor(g, t));
    void *data = calloc(1, (size_t)nb);
    clv_net_tensor nt;
    int rc = clv_net_tensor_from_graph(g, t, data, &nt, NULL);
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_FRAME;
    m.frame.plan_version = version;
    m.frame.frame_id = id;
    m.frame.n_tensors = 1;
    m.frame.tensors = &nt;
    if (!rc)
        rc = clv_net_send(c, &m, NULL, NULL);
    free(data);
    return rc;
}

/* x (1x64x64x64, 1 MiB) -> Relu -> GlobalAveragePool -> y: a cloud part
 * (the pool) that needs little memory and reads a large cut tensor. */
static clv_graph *pool_graph(void)
{
    clv_graph *g = clv_graph_create();
    int64_t big[4] = {1, 64, 64, 64};
    int x, r, y;
    clv_graph_add_tensor(g, "x", CLV_DT_FLOAT, 4, big, &x, NULL);
    clv_graph_add_tensor(g, "r", CLV_DT_FLOAT, -1, NULL, &r, NULL);
    clv_graph_add_tensor(g, "y", CLV_DT_FLOAT, -1, NULL, &y, NULL);
    clv_graph_mark_input(g, x);
    clv_graph_mark_output(g, y);
    clv_graph_add_node(g, "relu", CLV_OP_RELU, 1, &x, 1, &r, NULL, NULL);
    clv_graph_add_node(g, "pool", CLV_OP_GLOBALAVERAGEPOOL, 1, &r, 1, &y, NULL,
                       NULL);
    if (clv_graph_finalize(g, NULL)) {
        clv_graph_free(g);
        return NULL;
    }
    return g;
}

/* More frames than the queue holds: the excess is answered BUSY without
 * being kept, every frame gets exactly one RESULT. A FRAME larger than
 * what is left of the memory budget is answered BUSY as well, its payload
 * read through a small buffer, never allocated. */
static void test_budget_frames(const clv_graph *lenet)
{
    clv_graph *pg = pool_graph();
    CHECK(pg != NULL);
    for (int by_memory = 0; by_memory < 2 && pg; by_memory++) {
        const clv_graph *g = by_memory ? pg : lenet;
        clv_server_options so;
        clv_server_options_init(&so);
        so.threads = 1;
        so.max_queue = by_memory ? 64 : 2;
        so.max_inflight = 64;
        if (by_memory)
            so.max_memory = 512u << 10; /* half a frame */
        char addr[64];
        clv_server *s = start_server_with(g, &so, addr, sizeof addr);
        clv_net_conn *c = s ? raw_edge(addr, g) : NULL;
        CHECK(c != NULL);
        if (!c) {
            clv_server_free(s);
            continue;
        }
        int from = by_memory ? 1 : 0; /* the pool alone, or everything */
        int t = by_memory ? clv_graph_node(g, 1)->inputs[0]
                          : clv_graph_input(g, 0);
        CHECK(plan_from(c, g, 1, from) == 0);
        enum { N = 20 };
        for (int k = 0; k < N; k++)
            CHECK(send_tensor_frame(c, g, t, 1, (uint64_t)k) == 0);
        int got[N] = {0}, ok = 0, busy = 0;
        clv_net_msg m;
        clv_net_msg_init(&m);
        for (int k = 0; k < N; k++) {
            if (clv_net_recv(c, &m, NULL) || m.type != CLV_NET_RESULT ||
                m.result.frame_id >= N)
                break;
            got[m.result.frame_id]++;
            ok += m.result.status == 0;
            busy += m.result.status == CLV_NET_ERR_BUSY;
        }
        clv_net_msg_release(&m);
        int once = 0;
        for (int k = 0; k < N; k++)
            once += got[k] == 1;
        clv_server_stats st;
        clv_server_stats_get(s, &st);
        CHECKF(once == N && ok + busy == N && busy > 0 &&
                   st.frames_shed == (uint64_t)busy &&
                   (by_memory ? ok == 0 && st.mem_peak < so.max_memory
                              : ok >= 2),
               "%s: %d frames answered once, %d ok, %d busy, %llu shed, "
               "peak %llu",
               by_memory ? "memory" : "queue", once, ok, busy,
               (unsigned long long)st.frames_shed,
               (unsigned long long)st.mem_peak);
        clv_net_conn_free(c);
        clv_server_free(s);
    }
    clv_graph_free(pg);
}

/* An edge whose server sheds: it backs off, every frame still ends with
 * the whole model's result. */
static void test_edge_backs_off(const clv_graph *g)
{
    clv_server_options so;
    clv_server_options_init(&so);
    so.threads = 1;
    so.max_queue = 1;
    char addr[64];
    clv_server *s = start_server_with(g, &so, addr, sizeof addr);
    double *te, *tc;
    if (!s || !node_times(g, &te, &tc)) {
        clv_server_free(s);
        return;
    }
    int n = clv_graph_n_nodes(g);
    for (int i = 0; i < n; i++)
        te[i] = 5, tc[i] = 0.01;
    clv_edge_options o;
    clv_edge_report r, truth;
    CHECK(truth_run(g, te, tc, 40, &truth));
    offload_options(&o, addr, te, tc, 40, CLV_PLAN_CLOUD);
    o.keep_outputs = true;
    clv_edge_report_init(&r);
    CHECK(clv_edge_run(g, &o, &r, NULL) == 0);
    int same = same_outputs(g, &r, &truth);
    int split = count_where(&r, CLV_EDGE_SPLIT);
    CHECKF(r.n_ok == 40 && same == 40 && r.n_busy > 0 && split > 0,
           "%d ok, %d right, %d busy, %d split", r.n_ok, same, r.n_busy,
           split);
    clv_edge_report_release(&r);
    clv_edge_report_release(&truth);
    free(te);
    free(tc);
    clv_server_free(s);
}

/* A PLAN the server refuses for memory is sent again after the back-off:
 * while another connection's whole-model plan holds the budget, the
 * edge's own is BUSY and its frames run on the edge; once that
 * connection is gone, the edge's plan is taken and its frames split. */
static void test_plan_after_busy(const clv_graph *g, uint64_t alone)
{
    clv_server_options so;
    clv_server_options_init(&so);
    so.max_memory = alone + alone / 2;
    char addr[64];
    clv_server *s = start_server_with(g, &so, addr, sizeof addr);
    clv_net_conn *hog = s ? raw_edge(addr, g) : NULL;
    CHECK(hog && plan_from(hog, g, 1, 0) == 0);
    double *te, *tc;
    if (!hog || !node_times(g, &te, &tc)) {
        clv_net_conn_free(hog);
        clv_server_free(s);
        return;
    }
    for (int i = 0; i < clv_graph_n_nodes(g); i++)
        te[i] = 5, tc[i] = 0.01;
    edge_run_arg a = {g, NULL, NULL, -1};
    clv_edge_options o;
    clv_edge_report r;
    offload_options(&o, addr, te, tc, 90, CLV_PLAN_CLOUD);
    clv_edge_report_init(&r);
    o.fps = 20;
    a.o = &o;
    a.r = &r;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, edge_run_thread, &a) == 0);
    sleep_ms(800);
    clv_net_conn_free(hog); /* its plan, and the budget, are freed */
    pthread_join(th, NULL);
    int first = -1, split = 0;
    for (int k = 0; k < r.n_frames; k++)
        if (r.frames[k].where == CLV_EDGE_SPLIT) {
            split++;
            if (first < 0)
                first = k;
        }
    clv_server_stats st;
    clv_server_stats_get(s, &st);
    CHECKF(a.rc == 0 && r.n_ok == 90 && st.plans_shed >= 1 && first > 0 &&
               r.frames[89].where == CLV_EDGE_SPLIT,
           "%d ok, %llu plans shed, first split frame %d, %d split",
           r.n_ok, (unsigned long long)st.plans_shed, first, split);
    clv_edge_report_release(&r);
    free(te);
    free(tc);
    clv_server_free(s);
}

/* ---- a rogue server ------------------------------------------------------ */

enum rogue_mode {
    ROGUE_ZEROS,   /* claims 1e-6 ms per node, answers all zeros */
    ROGUE_NAN,     /* answers NaN */
    ROGUE_ENCODED, /* answers an "encoded" tensor longer than the output */
    ROGUE_HUGE     /* claims 1e308 ms for a node (raw bytes) */
};

typedef struct rogue {
    const clv_graph *g;
    enum rogue_mode mode;
    clv_net_listener *lis;
    volatile int stop;
    int conns;
} rogue;

/* Sends a TIMES of n nodes at 1e-6 ms each, with node 0 at 1e308 ms in
 * ROGUE_HUGE (whose encoding the encoder refuses: patched in the bytes). */
static void rogue_times(clv_net_conn *c, int n, enum rogue_mode mode)
{
    double *ms = calloc((size_t)n, sizeof *ms);
    for (int i = 0; i < n; i++)
        ms[i] = 1e-6;
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_TIMES;
    m.times.n = (uint32_t)n;
    m.times.ms = ms;
    m.times.runs = 1;
    clv_net_buf b = {0};
    CHECK(clv_net_encode(&m, &b, NULL) == 0);
    if (mode == ROGUE_HUGE) {
        double huge = 1e308;
        uint64_t bits;
        memcpy(&bits, &huge, 8);
        uint8_t *pl = b.data + CLV_NET_HEADER_SIZE;
        clv_net__put64(pl + 12, bits);
        clv_net__put32(b.data + 12,
                       clv_net_crc32c(0, pl, b.len - CLV_NET_HEADER_SIZE));
        clv_net__put32(b.data + 28, clv_net_crc32c(0, b.data, 28));
    }
    clv_net_send_bytes(c, b.data, b.len, NULL, NULL);
    clv_net_buf_release(&b);
    free(ms);
}

static void rogue_result(rogue *r, clv_net_conn *c, const clv_net_frame *f)
{
    int out = clv_graph_output(r->g, 0);
    const clv_tensor *t = clv_graph_tensor(r->g, out);
    uint64_t nb = clv_tensor_bytes(t);
    float *v = calloc((size_t)nb / 4 + 1024, sizeof *v);
    if (r->mode == ROGUE_NAN)
        for (uint64_t i = 0; i < nb / 4; i++)
            v[i] = (float)NAN;
    clv_net_tensor nt;
    memset(&nt, 0, sizeof nt);
    CHECK(clv_net_tensor_from_graph(r->g, out, v, &nt, NULL) == 0);
    if (r->mode == ROGUE_ENCODED) {
        nt.codec = 1;
        nt.nbytes = nb + 4096; /* past the edge's output buffer */
    }
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_RESULT;
    m.result.frame_id = f->frame_id;
    m.result.plan_version = f->plan_version;
    m.result.n_tensors = 1;
    m.result.tensors = &nt;
    clv_net_send(c, &m, NULL, NULL);
    free(v);
}

static void *rogue_main(void *arg)
{
    rogue *r = arg;
    while (!r->stop) {
        clv_net_conn *c = NULL;
        if (clv_net_accept(r->lis, 100, &c, NULL) || !c)
            continue;
        r->conns++;
        clv_net_server_options so;
        clv_net_server_options_init(&so);
        clv_net_graph_digest(r->g, so.digest);
        so.max_plans = 4;
        clv_net_conn_set_timeout(c, 2000);
        if (clv_net_handshake_server(c, &so, NULL, NULL)) {
            clv_net_conn_free(c);
            continue;
        }
        clv_net_msg m;
        clv_net_msg_init(&m);
        while (!r->stop) {
            int w = clv_net_conn_wait(c, 100, NULL);
            if (w == 0)
                continue;
            if (w < 0 || clv_net_recv(c, &m, NULL))
                break;
            if (m.type == CLV_NET_TIMES_REQUEST) {
                rogue_times(c, clv_graph_n_nodes(r->g), r->mode);
            } else if (m.type == CLV_NET_PLAN) {
                clv_net_msg a;
                clv_net_msg_init(&a);
                a.type = CLV_NET_PLAN_ACK;
                a.plan_ack.version = m.plan.version;
                clv_net_send(c, &a, NULL, NULL);
            } else if (m.type == CLV_NET_FRAME) {
                rogue_result(r, c, &m.frame);
            } else if (m.type == CLV_NET_PROBE) {
                clv_net_answer_probe(c, &m, NULL);
            } else if (m.type == CLV_NET_BYE) {
                break;
            }
        }
        clv_net_msg_release(&m);
        clv_net_conn_free(c);
    }
    return NULL;
}

/* The edge against a rogue server: whatever it claims and answers, every
 * frame ends with the whole model's result; a lie found drops the server
 * for the rest of the run. */
static void test_rogue_server(const clv_graph *g)
{
    int n = clv_graph_n_nodes(g);
    /* the truth, for every frame: the whole model on the edge alone */
    double *te, *tc;
    if (!node_times(g, &te, &tc))
        return;
    for (int i = 0; i < n; i++)
        te[i] = 5, tc[i] = 5;
    clv_edge_options o;
    clv_edge_report truth;
    CHECK(truth_run(g, te, tc, 12, &truth));
    static const char *names[] = {"zeros", "nan", "encoded", "huge"};
    for (int mode = ROGUE_ZEROS; mode <= ROGUE_HUGE; mode++) {
        rogue r = {g, (enum rogue_mode)mode, NULL, 0, 0};
        clv_error err = {0};
        if (clv_net_listen("127.0.0.1:0", &r.lis, &err)) {
            CHECKF(0, "listen: %s", err.msg);
            break;
        }
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d",
                 clv_net_listener_port(r.lis));
        pthread_t th;
        CHECK(pthread_create(&th, NULL, rogue_main, &r) == 0);
        clv_edge_report rep;
        clv_edge_report_init(&rep);
        offload_options(&o, addr, te, tc, 12, CLV_PLAN_DSL);
        o.server_times = true;
        o.keep_outputs = true;
        o.reconnect_ms = 50;
        o.audit_every = mode == ROGUE_ZEROS ? 1 : 0;
        int rc = clv_edge_run(g, &o, &rep, &err);
        int good = same_outputs(g, &rep, &truth);
        int split = count_where(&rep, CLV_EDGE_SPLIT);
        CHECKF(rc == 0 && good == 12, "%s: rc %d, %d of 12 frames right",
               names[mode], rc, good);
        CHECKF(split == 0, "%s: %d frames taken from the server",
               names[mode], split);
        if (mode == ROGUE_ZEROS || mode == ROGUE_NAN)
            CHECKF(rep.audit_failures >= 1 && r.conns == 1,
                   "%s: %d audit failures, %d connections", names[mode],
                   rep.audit_failures, r.conns);
        if (mode == ROGUE_HUGE)
            CHECKF(!rep.server_times, "huge: the server's times were taken");
        r.stop = 1;
        pthread_join(th, NULL);
        clv_net_listener_free(r.lis);
        clv_edge_report_release(&rep);
    }
    clv_edge_report_release(&truth);
    free(te);
    free(tc);
}

/* Audits need a crossing that keeps the values: cut tensors sent
 * quantized (q8) make a result that differs from the whole model's by
 * design, so those frames pass their turn instead of condemning an honest
 * server; u8 frames of pixels / 255 do keep their values and are audited. */
static void test_lossy_not_blamed(const clv_graph *g)
{
    char addr[64];
    clv_server *s = start_server(g, addr, sizeof addr);
    double *te, *tc;
    if (!s || !node_times(g, &te, &tc)) {
        clv_server_free(s);
        return;
    }
    int n = clv_graph_n_nodes(g);
    unsigned char *edge = calloc((size_t)n, 1);
    for (int i = 0; i < 3; i++)
        edge[i] = 1; /* conv, relu, pool on the edge */
    clv_partition part;
    clv_partition_init(&part);
    CHECK(clv_partition_make(g, edge, &part, NULL) == 0);
    for (int mode = 0; mode < 2; mode++) {
        clv_edge_options o;
        clv_edge_report r;
        /* mode 1: the frame itself crosses, as u8 */
        offload_options(&o, addr, te, tc, 8, CLV_PLAN_CLOUD);
        clv_edge_report_init(&r);
        o.audit_every = 1;
        if (mode == 0) {
            o.partitions = &part;
            o.n_partitions = 1;
            o.plan_bps = 0; /* probed */
            CHECK(clv_codec_parse("q8+huffman", &o.codec, NULL) == 0);
        } else {
            CHECK(clv_codec_parse("u8", &o.frame_codec, NULL) == 0);
        }
        CHECK(clv_edge_run(g, &o, &r, NULL) == 0);
        int split = count_where(&r, CLV_EDGE_SPLIT);
        CHECKF(r.n_ok == 8 && split == 8 && r.audit_failures == 0 &&
                   r.audits == (mode == 0 ? 0 : 8),
               "%s: %d ok, %d split, %d audits, %d failed",
               mode == 0 ? "q8 cut" : "u8 frame", r.n_ok, split, r.audits,
               r.audit_failures);
        clv_edge_report_release(&r);
    }
    clv_partition_release(&part);
    free(edge);
    free(te);
    free(tc);
    clv_server_free(s);
}

/* ---- an on-path relay ---------------------------------------------------- */

/* Forwards bytes between an edge and the server; once the handshake has
 * passed (the server's second message, HELLO_ACK after CHALLENGE), it
 * injects one message of its own, into one direction, on its first
 * connection only. */
typedef struct relay {
    clv_net_listener *lis;
    const char *server;
    const clv_graph *g;
    int to_server; /* inject toward the server (a PLAN), else the edge
                      (a RESULT for frame 0) */
    volatile int stop;
    int injected, conns;
} relay;

/* Counts whole messages in a byte stream (header, payload, MAC). */
typedef struct msg_counter {
    uint8_t hdr[CLV_NET_HEADER_SIZE];
    size_t have;
    uint64_t left; /* of the current message after its header */
    int count;
} msg_counter;

static void count_bytes(msg_counter *m, const uint8_t *p, size_t n)
{
    while (n) {
        if (m->have < sizeof m->hdr) {
            size_t k = sizeof m->hdr - m->have < n ? sizeof m->hdr - m->have : n;
            memcpy(m->hdr + m->have, p, k);
            m->have += k, p += k, n -= k;
            if (m->have == sizeof m->hdr) {
                m->left = clv_net__get64(m->hdr + 16) +
                          ((clv_net__get32(m->hdr + 8) & CLV_NET_FLAG_MAC)
                               ? CLV_NET_MAC_SIZE
                               : 0);
                if (!m->left)
                    m->count++, m->have = 0;
            }
            continue;
        }
        size_t k = m->left < n ? (size_t)m->left : n;
        m->left -= k, p += k, n -= k;
        if (!m->left)
            m->count++, m->have = 0;
    }
}

static void relay_inject(relay *r, int fd_edge, int fd_srv)
{
    clv_net_msg m;
    clv_net_msg_init(&m);
    clv_net_buf b = {0};
    uint32_t nodes[64], in = (uint32_t)clv_graph_input(r->g, 0);
    uint32_t out = (uint32_t)clv_graph_output(r->g, 0);
    int nn = clv_graph_n_nodes(r->g) < 64 ? clv_graph_n_nodes(r->g) : 64;
    for (int i = 0; i < nn; i++)
        nodes[i] = (uint32_t)i; /* a valid plan: all of it on the server */
    float zero[16] = {0};
    clv_net_tensor nt;
    memset(&nt, 0, sizeof nt);
    if (r->to_server) {
        m.type = CLV_NET_PLAN;
        m.plan.version = 999;
        m.plan.n_nodes = (uint32_t)nn;
        m.plan.nodes = nodes;
        m.plan.n_inputs = 1;
        m.plan.inputs = &in;
        m.plan.n_outputs = 1;
        m.plan.outputs = &out;
    } else {
        int o = clv_graph_output(r->g, 0); /* lenet: 1x10 */
        clv_net_tensor_from_graph(r->g, o, zero, &nt, NULL);
        m.type = CLV_NET_RESULT;
        m.result.frame_id = 0;
        m.result.plan_version = 1;
        m.result.n_tensors = 1;
        m.result.tensors = &nt;
    }
    if (clv_net_encode(&m, &b, NULL) == 0) {
        int fd = r->to_server ? fd_srv : fd_edge;
        r->injected += write(fd, b.data, b.len) == (ssize_t)b.len;
    }
    clv_net_buf_release(&b);
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    while (!r->stop) {
        clv_net_conn *e = NULL, *s = NULL;
        if (clv_net_accept(r->lis, 100, &e, NULL) || !e)
            continue;
        if (clv_net_connect(r->server, 2000, &s, NULL)) {
            clv_net_conn_free(e);
            continue;
        }
        r->conns++;
        int fe = clv_net__conn_fd(e), fs = clv_net__conn_fd(s);
        msg_counter from_srv = {0};
        bool inject = r->conns == 1, open = true;
        uint8_t buf[65536];
        while (open && !r->stop) {
            struct pollfd p[2] = {{fe, POLLIN, 0}, {fs, POLLIN, 0}};
            if (poll(p, 2, 100) <= 0)
                continue;
            for (int k = 0; k < 2 && open; k++) {
                if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t n = read(p[k].fd, buf, sizeof buf);
                if (n <= 0) {
                    open = false;
                    break;
                }
                int to = k == 0 ? fs : fe;
                for (ssize_t at = 0; at < n;) {
                    struct pollfd w = {to, POLLOUT, 0};
                    poll(&w, 1, 1000);
                    ssize_t m = write(to, buf + at, (size_t)(n - at));
                    if (m <= 0) {
                        open = false;
                        break;
                    }
                    at += m;
                }
                if (k == 1)
                    count_bytes(&from_srv, buf, (size_t)n);
                if (inject && from_srv.count >= 2 && from_srv.have == 0) {
                    relay_inject(r, fe, fs);
                    inject = false;
                }
            }
        }
        clv_net_conn_free(e);
        clv_net_conn_free(s);
    }
    return NULL;
}

/* What the server logged: whether a line held `needle`. */
typedef struct log_watch {
    pthread_mutex_t mu;
    const char *needle[2];
    int seen[2];
} log_watch;

static void watch_log(void *ctx, const char *line)
{
    log_watch *w = ctx;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < 2; i++)
        w->seen[i] += strstr(line, w->needle[i]) != NULL;
    pthread_mutex_unlock(&w->mu);
    quiet_log(NULL, line);
}

/* A relay between a real edge and a real server, both with the token,
 * lets their handshake pass and then injects a message: a PLAN toward the
 * server, or a RESULT toward the edge. Each side refuses it (no MAC from
 * the session keys) and drops the connection; the edge reconnects (the
 * relay then only forwards) and every frame ends with the whole model's
 * result. */
static void test_relay(const clv_graph *g)
{
    clv_net_secret secret;
    CHECK(clv_net_secret_from_token("relay-test-token", 16, &secret, NULL) == 0);
    double *te, *tc;
    if (!node_times(g, &te, &tc))
        return;
    int n = clv_graph_n_nodes(g);
    for (int i = 0; i < n; i++)
        te[i] = 5, tc[i] = 0.01;
    clv_edge_options o;
    clv_edge_report truth;
    CHECK(truth_run(g, te, tc, 30, &truth));
    for (int dir = 0; dir < 2; dir++) {
        log_watch w = {PTHREAD_MUTEX_INITIALIZER,
                       {"without a MAC", "plan 999: "}, {0, 0}};
        clv_server_options so;
        clv_server_options_init(&so);
        so.secret = &secret;
        so.listen = "127.0.0.1:0";
        so.log = watch_log;
        so.log_ctx = &w;
        clv_server *s = NULL;
        clv_error err = {0};
        if (clv_server_create(g, &so, &s, &err) || clv_server_start(s, &err)) {
            CHECKF(0, "server: %s", err.msg);
            clv_server_free(s);
            break;
        }
        char saddr[64], raddr[64];
        snprintf(saddr, sizeof saddr, "127.0.0.1:%d", clv_server_port(s));
        relay r = {NULL, saddr, g, dir == 0, 0, 0, 0};
        CHECK(clv_net_listen("127.0.0.1:0", &r.lis, NULL) == 0);
        snprintf(raddr, sizeof raddr, "127.0.0.1:%d",
                 clv_net_listener_port(r.lis));
        pthread_t th;
        CHECK(pthread_create(&th, NULL, relay_main, &r) == 0);
        clv_edge_report rep;
        clv_edge_report_init(&rep);
        offload_options(&o, raddr, te, tc, 30, CLV_PLAN_CLOUD);
        o.fps = 60; /* long enough for a reconnect */
        o.secret = &secret;
        o.keep_outputs = true;
        o.reconnect_ms = 50;
        CHECK(clv_edge_run(g, &o, &rep, &err) == 0);
        int same = same_outputs(g, &rep, &truth);
        int split = count_where(&rep, CLV_EDGE_SPLIT);
        const char *name = dir == 0 ? "toward the server" : "toward the edge";
        CHECKF(r.injected == 1 && r.conns >= 2 && rep.reconnects >= 1,
               "%s: injected %d, %d connections, %d reconnects", name,
               r.injected, r.conns, rep.reconnects);
        CHECKF(same == 30 && split > 0, "%s: %d of 30 right, %d split",
               name, same, split);
        /* no frame waited out the edge's 20 s RESULT timeout (a frame
         * sent just after its connection was lost once did) */
        double worst = 0;
        for (int k = 0; k < rep.n_frames; k++)
            worst = rep.frames[k].latency_ms > worst ? rep.frames[k].latency_ms
                                                     : worst;
        CHECKF(worst < 10000, "%s: a frame took %.0f ms", name, worst);
        if (dir == 0)
            CHECKF(w.seen[0] >= 1 && w.seen[1] == 0,
                   "the server: refused %d, took the injected plan %d",
                   w.seen[0], w.seen[1]);
        r.stop = 1;
        pthread_join(th, NULL);
        clv_net_listener_free(r.lis);
        clv_edge_report_release(&rep);
        clv_server_free(s);
    }
    clv_edge_report_release(&truth);
    free(te);
    free(tc);
}

int main(void)
{
    clv_graph *g = NULL;
    clv_error err = {0};
    if (clv_zoo_build("lenet", 1, 0, &g, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_slow_handshake(g);
    test_before_hello(g);
    test_idle_and_slow_body(g);
    test_protected_mode(g);
    test_late_server(g);
    test_rogue_server(g);
    test_relay(g);
    test_lossy_not_blamed(g);
    test_budget_frames(g);
    test_edge_backs_off(g);
    clv_graph *big = NULL;
    if (clv_zoo_build("resnet18", 1, 64, &big, &err) == 0)
        test_budget_plans(big);
    else
        CHECKF(0, "resnet18: %s", err.msg);
    clv_graph_free(big);
    clv_graph_free(g);
    return check_report("hardening");
}
