/* Sockets: addresses, connect/listen/accept, whole-message send and
 * receive with timeouts and pacing. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/internal.h"
#include "util/util.h"

#include <openssl/crypto.h>

#define DEFAULT_TIMEOUT_MS 30000

/* Linux names the control message after the option (asm/socket.h hides
 * the SCM_ name under strict POSIX). */
#if defined(SO_TIMESTAMPNS) && !defined(SCM_TIMESTAMPNS)
#define SCM_TIMESTAMPNS SO_TIMESTAMPNS
#endif

struct clv_net_conn {
    int fd;
    char peer[96];
    clv_net_limits lim;
    int timeout_ms;
    uint64_t deadline_ns; /* absolute (clv_net_now_ns), 0 = none */
    uint64_t min_rate;    /* bytes/s a payload must keep up, 0 = any */
    clv_net_admit_fn admit;
    void *admit_ctx;
    bool keyed;                 /* messages carry MACs (clv_net__conn_key) */
    uint8_t key_send[32], key_recv[32];
    uint64_t seq_send, seq_recv;
    clv_net_pacer *pacer;
    clv_net_buf sbuf;
    bool eof;
    bool loopback; /* the peer is 127.0.0.0/8, ::1, ::ffff:127.x or a
                      local socket */
    clv_net_stats st;
};

struct clv_net_listener {
    int fd;
    int port;
};

uint64_t clv_net_now_ns(void)
{
    return clv_util_now_ns();
}

/* ---- addresses -------------------------------------------------------------- */

static int parse_port(const char *s, int *port)
{
    if (!*s)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    *port = (int)v;
    return 0;
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int clv_net_parse_addr(const char *addr, int default_port, char *host,
                       size_t hostlen, int *port, clv_error *err)
{
    const char *h = addr, *pstr = NULL;
    size_t hl;
    if (!addr || !host || hostlen == 0)
        return clv_error_set(err, CLV_EINVAL, "no address given");
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (!end)
            return clv_error_set(err, CLV_EINVAL,
                                 "address '%s': '[' without ']'", addr);
        h = addr + 1;
        hl = (size_t)(end - h);
        if (end[1] == ':')
            pstr = end + 2;
        else if (end[1] != '\0')
            return clv_error_set(err, CLV_EINVAL,
                                 "address '%s': expected ':PORT' after ']'",
                                 addr);
    } else {
        const char *c = strchr(addr, ':');
        if (c && strchr(c + 1, ':')) { /* a bare IPv6 address */
            hl = strlen(addr);
        } else if (c) {
            hl = (size_t)(c - addr);
            pstr = c + 1;
        } else if (all_digits(addr)) {
            hl = 0;
            pstr = addr;
        } else {
            hl = strlen(addr);
        }
    }
    if (hl >= hostlen)
        return clv_error_set(err, CLV_EINVAL,
                             "address '%s': the host name is too long", addr);
    int p = default_port;
    if (pstr && parse_port(pstr, &p))
        return clv_error_set(err, CLV_EINVAL,
                             "address '%s': bad port '%s' (0 to 65535)",
                             addr, pstr);
    if (p < 0 || p > 65535)
        return clv_error_set(err, CLV_EINVAL, "address '%s': no port",
                             addr);
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = p;
    return 0;
}

static void format_sockaddr(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    } else {
        snprintf(out, n, "local");
    }
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

/* ---- connections ----------------------------------------------------------- */

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        const uint8_t *b = a->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0,
                                           0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, 12) == 0)
            return b[12] == 127;
        return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    return ss->ss_family == AF_UNIX || ss->ss_family == AF_UNSPEC;
}

int clv_net__conn_fd(const clv_net_conn *c)
{
    return c->fd;
}

bool clv_net_conn_is_loopback(const clv_net_conn *c)
{
    return c->loopback;
}

int clv_net_conn_from_fd(int fd, clv_net_conn **out, clv_error *err)
{
    *out = NULL;
    if (fd < 0)
        return clv_error_set(err, CLV_EINVAL, "bad socket");
    clv_net_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    c->fd = fd;
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    clv_net_limits_default(&c->lim);
    set_nonblock(fd);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_sockaddr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
    else
        snprintf(c->peer, sizeof c->peer, "local");
    c->loopback = is_loopback(&ss);
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_TIMESTAMPNS
        /* The kernel's arrival time of the data read (see clv_net_recv):
         * best effort, without it the reader's own clock is used. */
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
#endif
    }
    *out = c;
    return 0;
}

void clv_net__conn_key(clv_net_conn *c, const uint8_t send_key[32],
                       const uint8_t recv_key[32])
{
    memcpy(c->key_send, send_key, 32);
    memcpy(c->key_recv, recv_key, 32);
    c->seq_send = c->seq_recv = 0;
    c->keyed = true;
}

/* Starts HMAC(key, seq || header || payload) of one message, the header
 * as sent (flag and CRC included): the payload is added after. 0 or
 * CLV_ENOMEM. */
static int mac_begin(clv_net__hmac *h, const uint8_t key[32], uint64_t seq,
                     const uint8_t *hdr)
{
    uint8_t s[8];
    clv_net__put64(s, seq);
    if (clv_net__hmac_init(h, key))
        return CLV_ENOMEM;
    clv_net__hmac_update(h, s, 8);
    clv_net__hmac_update(h, hdr, CLV_NET_HEADER_SIZE);
    return 0;
}

/* That MAC of a message whose payload is in one piece (NULL with n == 0:
 * clv_net__hmac_update adds nothing). */
static int message_mac(const uint8_t key[32], uint64_t seq, const uint8_t *hdr,
                       const uint8_t *payload, size_t n, uint8_t out[32])
{
    clv_net__hmac h;
    if (mac_begin(&h, key, seq, hdr))
        return CLV_ENOMEM;
    clv_net__hmac_update(&h, payload, n);
    clv_net__hmac_final(&h, out);
    return 0;
}

void clv_net_conn_free(clv_net_conn *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c->key_send, sizeof c->key_send);
    OPENSSL_cleanse(c->key_recv, sizeof c->key_recv);
    if (c->fd >= 0)
        close(c->fd);
    clv_net_buf_release(&c->sbuf);
    free(c);
}

const char *clv_net_conn_peer(const clv_net_conn *c)
{
    return c->peer;
}

void clv_net_conn_set_limits(clv_net_conn *c, const clv_net_limits *lim)
{
    if (lim)
        c->lim = *lim;
    else
        clv_net_limits_default(&c->lim);
}

void clv_net_conn_set_timeout(clv_net_conn *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void clv_net_conn_set_deadline(clv_net_conn *c, uint64_t deadline_ns)
{
    c->deadline_ns = deadline_ns;
}

void clv_net_conn_set_admit(clv_net_conn *c, clv_net_admit_fn fn, void *ctx)
{
    c->admit = fn;
    c->admit_ctx = ctx;
}

void clv_net_conn_set_min_rate(clv_net_conn *c, uint64_t bytes_per_s)
{
    c->min_rate = bytes_per_s;
}

void clv_net_conn_set_pacer(clv_net_conn *c, clv_net_pacer *p)
{
    c->pacer = p;
}

void clv_net_conn_shutdown(clv_net_conn *c)
{
    if (c && c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

bool clv_net_conn_eof(const clv_net_conn *c)
{
    return c->eof;
}

void clv_net_conn_stats(const clv_net_conn *c, clv_net_stats *out)
{
    *out = c->st;
}

/* Waits for `events` on fd. 1 ready, 0 timed out, -1 error (errno). */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {fd, events, 0};
    for (;;) {
        int n = poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        return n > 0;
    }
}

/* The earlier of two deadlines, 0 meaning none. */
static uint64_t earlier(uint64_t a, uint64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* How long a wait may last: timeout_ms, cut to what is left before
 * `deadline` (0: none). -2 when the deadline has passed. */
static int wait_budget(int timeout_ms, uint64_t deadline)
{
    if (!deadline)
        return timeout_ms;
    uint64_t now = clv_net_now_ns();
    if (now >= deadline)
        return -2;
    uint64_t left = (deadline - now + 999999) / 1000000;
    if (timeout_ms >= 0 && (uint64_t)timeout_ms < left)
        return timeout_ms;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static int deadline_error(const clv_net_conn *c, uint64_t deadline,
                          clv_error *err)
{
    if (deadline == c->deadline_ns)
        return clv_error_set(err, CLV_ETIMEOUT,
                             "%s: the connection's deadline passed",
                             c->peer);
    return clv_error_set(err, CLV_ETIMEOUT,
                         "%s: a message arrived slower than the minimum "
                         "rate (%llu bytes/s after the I/O timeout)",
                         c->peer, (unsigned long long)c->min_rate);
}

int clv_net_conn_wait(clv_net_conn *c, int timeout_ms, clv_error *err)
{
    int r = wait_fd(c->fd, POLLIN, timeout_ms);
    if (r < 0)
        return clv_error_set(err, CLV_EIO, "%s: poll: %s", c->peer,
                             strerror(errno));
    return r;
}

/* Writes exactly n bytes (no pacing). */
static int write_all(clv_net_conn *c, const uint8_t *p, size_t n,
                     int timeout_ms, clv_error *err)
{
    uint64_t deadline = c->deadline_ns;
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            c->st.bytes_sent += (uint64_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_budget(timeout_ms, deadline);
            if (w == -2)
                return deadline_error(c, deadline, err);
            int r = wait_fd(c->fd, POLLOUT, w);
            if (r == 0 && w != timeout_ms)
                return deadline_error(c, deadline, err);
            if (r == 0)
                return clv_error_set(err, CLV_ETIMEOUT,
                                     "%s: send timed out after %d ms without "
                                     "progress",
                                     c->peer, timeout_ms);
            if (r < 0)
                return clv_error_set(err, CLV_EIO, "%s: poll: %s", c->peer,
                                     strerror(errno));
            continue;
        }
        if (k < 0 && (errno == EPIPE || errno == ECONNRESET))
            return clv_error_set(err, CLV_ECLOSED,
                                 "%s: the peer closed the connection",
                                 c->peer);
        return clv_error_set(err, CLV_EIO, "%s: send: %s", c->peer,
                             k < 0 ? strerror(errno) : "no progress");
    }
    return 0;
}

static int send_paced(clv_net_conn *c, const uint8_t *p, size_t n,
                      int timeout_ms, clv_net_send_info *info,
                      clv_error *err)
{
    uint64_t t0 = clv_net_now_ns();
    int rc = 0;
    while (n && !rc) {
        size_t chunk = n;
        if (c->pacer)
            chunk = (size_t)clv_net_pacer_acquire(c->pacer, n);
        rc = write_all(c, p, chunk, timeout_ms, err);
        p += chunk;
        n -= chunk;
    }
    if (info) {
        info->t_start_ns = t0;
        info->t_end_ns = clv_net_now_ns();
    }
    return rc;
}

int clv_net_send_bytes(clv_net_conn *c, const void *data, size_t len,
                       clv_net_send_info *info, clv_error *err)
{
    if (info)
        info->bytes = len;
    return send_paced(c, data, len, c->timeout_ms, info, err);
}

static int send_msg(clv_net_conn *c, const clv_net_msg *m, int timeout_ms,
                    clv_net_send_info *info, clv_error *err)
{
    c->sbuf.len = 0;
    int rc = clv_net_encode(m, &c->sbuf, err);
    if (rc)
        return rc;
    if (c->keyed) {
        /* flag the header (its CRC covers the flags), then the MAC */
        uint8_t *h = c->sbuf.data;
        clv_net__put32(h + 8, CLV_NET_FLAG_MAC);
        clv_net__put32(h + 28, clv_net_crc32c(0, h, 28));
        if ((rc = clv_net__buf_reserve(&c->sbuf, CLV_NET_MAC_SIZE)))
            return clv_error_set(err, rc, "out of memory");
        h = c->sbuf.data;
        if ((rc = message_mac(c->key_send, c->seq_send++, h,
                              h + CLV_NET_HEADER_SIZE,
                              c->sbuf.len - CLV_NET_HEADER_SIZE,
                              h + c->sbuf.len)))
            return clv_error_set(err, rc, "out of memory");
        c->sbuf.len += CLV_NET_MAC_SIZE;
    }
    if (info)
        info->bytes = c->sbuf.len;
    rc = send_paced(c, c->sbuf.data, c->sbuf.len, timeout_ms, info, err);
    if (!rc)
        c->st.msgs_sent++;
    /* Do not keep a huge buffer around after a large message. */
    if (c->sbuf.cap > ((size_t)64 << 20))
        clv_net_buf_release(&c->sbuf);
    return rc;
}

int clv_net_send(clv_net_conn *c, const clv_net_msg *m,
                 clv_net_send_info *info, clv_error *err)
{
    return send_msg(c, m, c->timeout_ms, info, err);
}

int clv_net_send_error(clv_net_conn *c, int code, const char *fmt, ...)
{
    char text[CLV_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    clv_net_msg m;
    clv_net_msg_init(&m);
    m.type = CLV_NET_ERROR;
    m.error.code = code;
    m.error.text = text;
    int t = c->timeout_ms < 0 || c->timeout_ms > 1000 ? 1000 : c->timeout_ms;
    return send_msg(c, &m, t, NULL, NULL);
}

/* One recv; with `arrived`, *arrived becomes the kernel's receive time
 * (CLOCK_REALTIME ns) of the last packet the bytes came from, when the
 * socket reports one (SO_TIMESTAMPNS), and is left alone otherwise. */
static ssize_t recv_stamped(int fd, void *p, size_t n, uint64_t *arrived)
{
#ifdef SO_TIMESTAMPNS
    if (arrived) {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(struct timespec))];
        } ctl;
        struct iovec iov = {p, n};
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.buf;
        mh.msg_controllen = sizeof ctl.buf;
        ssize_t k = recvmsg(fd, &mh, 0);
        if (k <= 0)
            return k;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm;
             cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET &&
                cm->cmsg_type == SCM_TIMESTAMPNS &&
                cm->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                if (ts.tv_sec > 0)
                    *arrived = (uint64_t)ts.tv_sec * 1000000000u +
                               (uint64_t)ts.tv_nsec;
            }
        }
        return k;
    }
#else
    (void)arrived;
#endif
    return recv(fd, p, n, 0);
}

/* Reads exactly n bytes by `deadline` (0: none; see wait_budget).
 * `boundary`: nothing of this message was read yet, so an orderly close is
 * a clean end. `arrived` (may be NULL): see recv_stamped; set for the last
 * byte. */
static int read_all(clv_net_conn *c, uint8_t *p, size_t n, bool boundary,
                    uint64_t deadline, uint64_t *arrived, clv_error *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv_stamped(c->fd, p + got, n - got, arrived);
        if (k > 0) {
            got += (size_t)k;
            c->st.bytes_received += (uint64_t)k;
            continue;
        }
        if (k == 0) {
            if (boundary && got == 0) {
                c->eof = true;
                return clv_error_set(err, CLV_ECLOSED,
                                     "%s: the peer closed the connection",
                                     c->peer);
            }
            return clv_error_set(err, CLV_ECLOSED,
                                 "%s: the peer closed the connection in the "
                                 "middle of a message",
                                 c->peer);
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_budget(c->timeout_ms, deadline);
            if (w == -2)
                return deadline_error(c, deadline, err);
            int r = wait_fd(c->fd, POLLIN, w);
            if (r == 0 && w != c->timeout_ms)
                return deadline_error(c, deadline, err);
            if (r == 0)
                return clv_error_set(err, CLV_ETIMEOUT,
                                     "%s: receive timed out after %d ms "
                                     "without data",
                                     c->peer, c->timeout_ms);
            if (r < 0)
                return clv_error_set(err, CLV_EIO, "%s: poll: %s", c->peer,
                                     strerror(errno));
            continue;
        }
        return clv_error_set(err, CLV_EIO, "%s: recv: %s", c->peer,
                             strerror(errno));
    }
    return 0;
}

/* The reader's clock says when this thread got the header and the last
 * byte; a thread that reads late (preempted, busy, held back) finds part of
 * the payload waiting in the socket buffer and would time a transfer as
 * faster than the link. The kernel's receive times of the packets do not
 * depend on the reader: when the socket gave both (`k_header`, `k_done`,
 * CLOCK_REALTIME), they replace the reader's, moved onto CLOCK_MONOTONIC.
 * (TCP merges packets queued behind a late reader and keeps the newest
 * stamp, so a late reader still shortens the time, by at most one merged
 * packet instead of all it left waiting.) The reader's times stay when a
 * stamp is missing or out of order, or when the last byte would have
 * arrived after the reader got it (the wall clock was stepped). */
static void arrival_times(uint64_t k_header, uint64_t k_done,
                          uint64_t *t_header, uint64_t *t_done)
{
    struct timespec rt;
    if (!k_header || !k_done || k_done < k_header ||
        clock_gettime(CLOCK_REALTIME, &rt))
        return;
    uint64_t now_mono = clv_net_now_ns();
    uint64_t now_real = (uint64_t)rt.tv_sec * 1000000000u +
                        (uint64_t)rt.tv_nsec;
    if (k_done > now_real || now_real - k_done > now_mono)
        return;
    uint64_t done = now_mono - (now_real - k_done);
    if (done > *t_done + 1000000 || k_done - k_header > done)
        return;
    *t_header = done - (k_done - k_header);
    *t_done = done;
}

/* Reads the MAC after a payload and checks it: of hdr and payload[0..n),
 * or, with `partial` (the shed path), of what that stream already took.
 * 0, or CLV_EFORMAT naming the message. */
static int check_mac(clv_net_conn *c, const uint8_t *hdr,
                     const uint8_t *payload, size_t n, clv_net__hmac *partial,
                     uint64_t deadline, clv_error *err)
{
    uint8_t got[CLV_NET_MAC_SIZE], want[CLV_NET_MAC_SIZE];
    int rc = read_all(c, got, sizeof got, false, deadline, NULL, err);
    if (rc)
        return rc;
    if (partial)
        clv_net__hmac_final(partial, want);
    else if (message_mac(c->key_recv, c->seq_recv, hdr, payload, n, want))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    uint64_t seq = c->seq_recv++;
    if (clv_net__memcmp_ct(got, want, sizeof got))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s (message %llu since the handshake) fails "
                             "its MAC: forged, altered, replayed or out of "
                             "order",
                             clv_net_type_name(
                                 (clv_net_type)clv_net__get16(hdr + 6)),
                             (unsigned long long)seq);
    return 0;
}

/* Reads and checks a payload the admit hook refused, through a small
 * buffer: the stream stays in step, nothing is allocated. m gets the type
 * and, for a FRAME, its plan version and frame id. */
static int shed(clv_net_conn *c, const clv_net_header *h, const uint8_t *hdr,
                uint64_t deadline, uint64_t t_header, clv_net_msg *m,
                clv_error *err)
{
    uint8_t buf[16384], first[16] = {0};
    uint64_t left = h->payload_len, at = 0;
    uint32_t crc = 0;
    clv_net__hmac mac;
    if (c->keyed && mac_begin(&mac, c->key_recv, c->seq_recv, hdr))
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    while (left) {
        size_t k = left < sizeof buf ? (size_t)left : sizeof buf;
        int rc = read_all(c, buf, k, false, deadline, NULL, err);
        if (rc) {
            if (c->keyed)
                clv_net__hmac_final(&mac, buf); /* frees it */
            return rc;
        }
        if (at < sizeof first)
            memcpy(first + at, buf,
                   sizeof first - at < k ? sizeof first - at : k);
        crc = clv_net_crc32c(crc, buf, k);
        if (c->keyed)
            clv_net__hmac_update(&mac, buf, k);
        at += k;
        left -= k;
    }
    if (c->keyed) {
        int rc = check_mac(c, hdr, NULL, 0, &mac, deadline, err);
        if (rc)
            return rc;
    }
    if (crc != h->payload_crc)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s: payload checksum mismatch", c->peer,
                             clv_net_type_name(h->type));
    if (h->type == CLV_NET_FRAME && h->payload_len < 16)
        return clv_error_set(err, CLV_EFORMAT, "%s: FRAME: truncated",
                             c->peer);
    clv_net_msg_init(m);
    m->type = h->type;
    m->shed = true;
    m->payload_len = h->payload_len;
    if (h->type == CLV_NET_FRAME) {
        m->frame.plan_version = clv_net__get64(first);
        m->frame.frame_id = clv_net__get64(first + 8);
    }
    m->t_header_ns = t_header;
    m->t_done_ns = clv_net_now_ns();
    c->st.msgs_received++;
    return 0;
}

int clv_net_recv(clv_net_conn *c, clv_net_msg *m, clv_error *err)
{
    uint8_t hdr[CLV_NET_HEADER_SIZE];
    clv_net_header h;
    uint8_t *payload = NULL;
    clv_net_msg_release(m);
    c->eof = false;
    uint64_t k_header = 0, k_done = 0;
    /* With a minimum rate, the header must follow its first byte within
     * the I/O timeout (not one byte per timeout), and the payload keep up
     * the rate: a peer that trickles cannot hold the reader for ever. */
    uint64_t timeout_ns = c->timeout_ms < 0 ? 0 : (uint64_t)c->timeout_ms * 1000000u;
    uint64_t deadline = c->deadline_ns;
    int rc = read_all(c, hdr, 1, true, deadline, &k_header, err);
    if (!rc && c->min_rate && timeout_ns)
        deadline = earlier(deadline, clv_net_now_ns() + timeout_ns);
    if (!rc)
        rc = read_all(c, hdr + 1, sizeof hdr - 1, false, deadline, &k_header,
                      err);
    if (rc)
        return rc;
    uint64_t t_header = clv_net_now_ns();
    if ((rc = clv_net_header_parse(hdr, &c->lim, &h, err)))
        goto fail;
    if (c->keyed != ((h.flags & CLV_NET_FLAG_MAC) != 0)) {
        rc = clv_error_set(err, CLV_EFORMAT,
                           c->keyed ? "%s without a MAC on an authenticated "
                                      "connection (injected, or a peer "
                                      "that does not protect its messages)"
                                    : "%s with a MAC on a connection that "
                                      "has no key",
                           clv_net_type_name(h.type));
        goto fail;
    }
    if (c->min_rate && timeout_ns) {
        double secs = (double)h.payload_len / (double)c->min_rate;
        uint64_t extra = secs > 1e9 ? (uint64_t)1e18 : (uint64_t)(secs * 1e9);
        deadline = earlier(c->deadline_ns, t_header + timeout_ns + extra);
    }
    if (c->admit && c->admit(c->admit_ctx, h.type, h.payload_len))
        return shed(c, &h, hdr, deadline, t_header, m, err);
    /* The length was checked against the limits: now it may be allocated.
     * One spare byte keeps malloc(0) out of the picture. */
    if (h.payload_len >= SIZE_MAX) {
        rc = clv_error_set(err, CLV_ELIMIT, "%s: a %llu-byte payload",
                           clv_net_type_name(h.type),
                           (unsigned long long)h.payload_len);
        goto fail;
    }
    payload = malloc((size_t)h.payload_len + 1);
    if (!payload) {
        rc = clv_error_set(err, CLV_ENOMEM,
                           "%s: out of memory for a %llu-byte %s", c->peer,
                           (unsigned long long)h.payload_len,
                           clv_net_type_name(h.type));
        goto fail;
    }
    if ((rc = read_all(c, payload, (size_t)h.payload_len, false, deadline,
                       &k_done, err)))
        goto fail;
    if (c->keyed && (rc = check_mac(c, hdr, payload, (size_t)h.payload_len,
                                    NULL, deadline, err)))
        goto fail;
    uint64_t t_done = clv_net_now_ns();
    arrival_times(k_header, k_done, &t_header, &t_done);
    if ((rc = clv_net_decode_payload(&h, payload, (size_t)h.payload_len,
                                     &c->lim, m, err)))
        goto fail;
    m->owned_payload_ = payload;
    m->payload_len = h.payload_len;
    m->t_header_ns = t_header;
    m->t_done_ns = t_done;
    c->st.msgs_received++;
    return 0;
fail:
    free(payload);
    clv_net_msg_release(m);
    if (rc == CLV_EFORMAT || rc == CLV_ELIMIT)
        clv_error_prefix(err, "%s: ", c->peer);
    return rc;
}

/* ---- connect, listen, accept ----------------------------------------------- */

int clv_net_connect(const char *addr, int timeout_ms, clv_net_conn **out,
                    clv_error *err)
{
    char host[256], port_s[16], last[160] = "no address";
    int port, rc;
    *out = NULL;
    if ((rc = clv_net_parse_addr(addr, CLV_NET_DEFAULT_PORT, host,
                                 sizeof host, &port, err)))
        return rc;
    if (port == 0)
        return clv_error_set(err, CLV_EINVAL, "address '%s': port 0", addr);
    if (!host[0])
        snprintf(host, sizeof host, "localhost");
    snprintf(port_s, sizeof port_s, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port_s, &hints, &res);
    if (g)
        return clv_error_set(err, CLV_EIO, "%s: cannot resolve '%s': %s",
                             addr, host, gai_strerror(g));
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char where[96];
        format_sockaddr(ai->ai_addr, where, sizeof where);
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            snprintf(last, sizeof last, "%s: socket: %s", where,
                     strerror(errno));
            continue;
        }
        set_nonblock(fd);
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            r = wait_fd(fd, POLLOUT, timeout_ms);
            if (r == 0) {
                snprintf(last, sizeof last, "%s: timed out after %d ms",
                         where, timeout_ms);
                r = -1;
            } else if (r > 0) {
                int e = 0;
                socklen_t el = sizeof e;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
                if (e) {
                    snprintf(last, sizeof last, "%s: %s", where, strerror(e));
                    r = -1;
                } else {
                    r = 0;
                }
            } else {
                snprintf(last, sizeof last, "%s: poll: %s", where,
                         strerror(errno));
            }
        } else if (r < 0) {
            snprintf(last, sizeof last, "%s: %s", where, strerror(errno));
        }
        if (r == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return clv_error_set(err, CLV_EIO, "cannot connect to %s (%s)", addr,
                             last);
    return clv_net_conn_from_fd(fd, out, err);
}

int clv_net_listen(const char *addr, clv_net_listener **out, clv_error *err)
{
    char host[256], port_s[16], last[160] = "no address";
    int port, rc;
    *out = NULL;
    if ((rc = clv_net_parse_addr(addr, CLV_NET_DEFAULT_PORT, host,
                                 sizeof host, &port, err)))
        return rc;
    bool any = !host[0] || strcmp(host, "*") == 0;
    snprintf(port_s, sizeof port_s, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(any ? NULL : host, port_s, &hints, &res);
    if (g)
        return clv_error_set(err, CLV_EIO, "%s: cannot resolve '%s': %s",
                             addr, host, gai_strerror(g));
    int fd = -1;
    /* For the wildcard, IPv6 first (dual stack), then IPv4. */
    for (int pass = 0; pass < 2 && fd < 0; pass++) {
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
            if (any && (pass == 0) != (ai->ai_family == AF_INET6))
                continue;
            if (!any && pass == 1)
                break;
            char where[96];
            format_sockaddr(ai->ai_addr, where, sizeof where);
            fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
            if (fd < 0) {
                snprintf(last, sizeof last, "%s: socket: %s", where,
                         strerror(errno));
                continue;
            }
            int one = 1, zero = 0;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (ai->ai_family == AF_INET6)
                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
                listen(fd, 128) < 0) {
                snprintf(last, sizeof last, "%s: %s", where, strerror(errno));
                close(fd);
                fd = -1;
            }
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return clv_error_set(err, CLV_EIO, "cannot listen on %s (%s)", addr,
                             last);
    set_nonblock(fd);
    clv_net_listener *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    }
    l->fd = fd;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    l->port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    *out = l;
    return 0;
}

void clv_net_listener_free(clv_net_listener *l)
{
    if (!l)
        return;
    close(l->fd);
    free(l);
}

int clv_net_listener_port(const clv_net_listener *l)
{
    return l->port;
}

int clv_net_accept(clv_net_listener *l, int timeout_ms, clv_net_conn **out,
                   clv_error *err)
{
    *out = NULL;
    int r = wait_fd(l->fd, POLLIN, timeout_ms);
    if (r < 0)
        return clv_error_set(err, CLV_EIO, "accept: poll: %s",
                             strerror(errno));
    if (r == 0)
        return 0;
    int fd = accept(l->fd, NULL, NULL);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
            errno == ECONNABORTED || errno == EPROTO)
            return 0;
        return clv_error_set(err, CLV_EIO, "accept: %s", strerror(errno));
    }
    return clv_net_conn_from_fd(fd, out, err);
}
