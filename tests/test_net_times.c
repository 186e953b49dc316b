/* TIMES_REQUEST and TIMES (docs/protocol.md): the server's own per-node
 * times. Round trips, the encoder's refusals, and the decoder on every
 * truncation, bad values, a failed status with times, counts beyond the
 * limits and trailing bytes. With CLEAVE_WRITE_SEEDS=DIR the valid
 * messages are also written as fuzzer seeds. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/net.h"
#include "net/internal.h"

static void write_seed(const char *name, const clv_net_buf *b)
{
    const char *dir = getenv("CLEAVE_WRITE_SEEDS");
    if (!dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b->data, 1, b->len, f) == b->len && fclose(f) == 0);
}

/* Decodes b's payload as `type` without its checksum (so that edited
 * payloads reach the parser); returns the code. */
static int decode_payload(clv_net_type type, const uint8_t *p, size_t n,
                          const clv_net_limits *lim, clv_net_msg *m,
                          clv_error *err)
{
    return clv_net__decode_payload_nocrc(type, p, n, lim, m, err);
}

static void test_roundtrip(void)
{
    static const double ms[5] = {0.0, 1e-3, 2.5, 1234.5678, 1e6};
    clv_net_msg m, d;
    clv_net_buf b = {0};
    clv_error err = {0};
    clv_net_msg_init(&m);
    clv_net_msg_init(&d);
    m.type = CLV_NET_TIMES;
    m.times.runs = 7;
    m.times.n = 5;
    m.times.ms = ms;
    CHECK(clv_net_encode(&m, &b, &err) == 0);
    /* header, status, runs, n, 5 doubles, an empty message */
    CHECK(b.len == CLV_NET_HEADER_SIZE + 12 + 5 * 8 + 5);
    CHECKF(clv_net_decode(b.data, b.len, NULL, &d, &err) == 0, "%s",
           err.msg);
    CHECK(d.type == CLV_NET_TIMES && d.times.status == 0 &&
          d.times.runs == 7 && d.times.n == 5 && d.times.ms &&
          strcmp(d.times.message, "") == 0);
    for (int i = 0; i < 5 && d.times.ms; i++)
        CHECK(memcmp(&d.times.ms[i], &ms[i], sizeof ms[i]) == 0);
    write_seed("times", &b);

    /* every truncation of the payload is refused, never read past */
    const uint8_t *pl = b.data + CLV_NET_HEADER_SIZE;
    size_t pn = b.len - CLV_NET_HEADER_SIZE;
    int refused = 0;
    for (size_t k = 0; k < pn; k++) {
        uint8_t *cut = malloc(k + 1);
        memcpy(cut, pl, k);
        int rc = decode_payload(CLV_NET_TIMES, cut, k, NULL, &d, &err);
        refused += rc == CLV_EFORMAT && d.type == CLV_NET_NONE;
        free(cut);
    }
    CHECKF(refused == (int)pn, "%d of %zu truncations refused", refused, pn);

    /* a trailing byte */
    uint8_t *more = malloc(pn + 1);
    memcpy(more, pl, pn);
    more[pn] = 0;
    CHECK(decode_payload(CLV_NET_TIMES, more, pn + 1, NULL, &d, &err) ==
          CLV_EFORMAT);
    free(more);

    /* a NaN, an infinity and a negative time */
    static const double bad[3] = {NAN, INFINITY, -1.0};
    uint8_t *ed = malloc(pn);
    for (int k = 0; k < 3; k++) {
        memcpy(ed, pl, pn);
        uint64_t bits;
        memcpy(&bits, &bad[k], 8);
        clv_net__put64(ed + 12 + 2 * 8, bits);
        CHECK(decode_payload(CLV_NET_TIMES, ed, pn, NULL, &d, &err) ==
              CLV_EFORMAT);
        CHECKF(strstr(err.msg, "time 2"), "%s", err.msg);
    }
    /* an unbelievable time: finite, but two of them overflow a sum */
    memcpy(ed, pl, pn);
    {
        double huge = 1e308;
        uint64_t bits;
        memcpy(&bits, &huge, 8);
        clv_net__put64(ed + 12 + 3 * 8, bits);
    }
    CHECK(decode_payload(CLV_NET_TIMES, ed, pn, NULL, &d, &err) ==
          CLV_EFORMAT);
    CHECKF(strstr(err.msg, "time 3") && strstr(err.msg, "believable"), "%s",
           err.msg);
    /* a failed status that still carries times */
    memcpy(ed, pl, pn);
    clv_net__put32(ed, CLV_NET_ERR_UNAVAILABLE);
    CHECK(decode_payload(CLV_NET_TIMES, ed, pn, NULL, &d, &err) ==
          CLV_EFORMAT);
    /* more times than the limit allows */
    clv_net_limits lim;
    clv_net_limits_default(&lim);
    lim.max_plan = 4;
    CHECK(decode_payload(CLV_NET_TIMES, pl, pn, &lim, &d, &err) ==
          CLV_ELIMIT);
    /* a count the payload cannot hold */
    memcpy(ed, pl, pn);
    clv_net__put32(ed + 8, 1000000);
    CHECK(decode_payload(CLV_NET_TIMES, ed, pn, NULL, &d, &err) ==
          CLV_EFORMAT);
    free(ed);
    clv_net_buf_release(&b);
    clv_net_msg_release(&d);
}

static void test_unavailable_and_request(void)
{
    clv_net_msg m, d;
    clv_net_buf b = {0};
    clv_error err = {0};
    clv_net_msg_init(&m);
    clv_net_msg_init(&d);
    m.type = CLV_NET_TIMES;
    m.times.status = CLV_NET_ERR_UNAVAILABLE;
    m.times.message = "no times here";
    CHECK(clv_net_encode(&m, &b, &err) == 0);
    CHECK(clv_net_decode(b.data, b.len, NULL, &d, &err) == 0);
    CHECK(d.times.status == CLV_NET_ERR_UNAVAILABLE && d.times.n == 0 &&
          d.times.ms == NULL && strcmp(d.times.message, "no times here") == 0);
    write_seed("times_unavailable", &b);
    b.len = 0;

    m.type = CLV_NET_TIMES_REQUEST;
    CHECK(clv_net_encode(&m, &b, &err) == 0);
    CHECK(b.len == CLV_NET_HEADER_SIZE + 4);
    CHECK(clv_net_decode(b.data, b.len, NULL, &d, &err) == 0 &&
          d.type == CLV_NET_TIMES_REQUEST);
    write_seed("times_request", &b);
    uint8_t one[4] = {1, 0, 0, 0};
    CHECK(decode_payload(CLV_NET_TIMES_REQUEST, one, 4, NULL, &d, &err) ==
          CLV_EFORMAT);
    CHECK(decode_payload(CLV_NET_TIMES_REQUEST, one, 0, NULL, &d, &err) ==
          CLV_EFORMAT);

    /* the encoder refuses what the decoder would */
    static const double neg[2] = {1.0, -0.5};
    m.type = CLV_NET_TIMES;
    m.times.status = 0;
    m.times.n = 2;
    m.times.ms = neg;
    CHECK(clv_net_encode(&m, &b, &err) == CLV_EINVAL);
    m.times.status = CLV_NET_ERR_UNAVAILABLE;
    m.times.ms = NULL;
    CHECK(clv_net_encode(&m, &b, &err) == CLV_EINVAL);
    m.times.status = 0;
    CHECK(clv_net_encode(&m, &b, &err) == CLV_EINVAL); /* n, no array */
    CHECK(strcmp(clv_net_type_name(CLV_NET_TIMES), "TIMES") == 0);
    CHECK(strcmp(clv_net_err_text(CLV_NET_ERR_UNAVAILABLE),
                 "not available") == 0);
    clv_net_buf_release(&b);
    clv_net_msg_release(&d);
}

int main(void)
{
    test_roundtrip();
    test_unavailable_and_request();
    return check_report("net_times");
}
