/*
 * libFuzzer harness of the wire-protocol decoder: any bytes must decode to
 * a message or give an error with a message, never a crash, a leak, an
 * out-of-bounds read or undefined behaviour. Whatever decodes must encode
 * again and decode to the same message (compared by its encoding).
 *
 * Each input is tried twice: as a whole message (header, checksums,
 * payload), and, since random mutations rarely keep a CRC32C right, as the
 * payload after the first 32 bytes with the checksum skipped and the type
 * taken from header byte 6, so the parser itself is explored.
 * Seeds: fuzz/corpus/protocol (one valid message of each type).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/net.h"
#include "net/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int rc, const clv_error *err, const clv_net_msg *m)
{
    /* A failure leaves the message empty and says what went wrong. */
    if (rc != CLV_EFORMAT && rc != CLV_ELIMIT && rc != CLV_ENOMEM)
        __builtin_trap();
    if (err->code != rc || err->msg[0] == '\0' || m->type != CLV_NET_NONE ||
        m->owned_arrays_ != NULL)
        __builtin_trap();
}

static void roundtrip(const clv_net_msg *m, const clv_net_limits *lim)
{
    clv_net_buf a = {0}, b = {0};
    clv_net_msg d;
    clv_error err;
    clv_error_clear(&err);
    clv_net_msg_init(&d);
    if (clv_net_encode(m, &a, &err) != 0)
        __builtin_trap();
    if (clv_net_decode(a.data, a.len, lim, &d, &err) != 0)
        __builtin_trap();
    if (clv_net_encode(&d, &b, &err) != 0)
        __builtin_trap();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        __builtin_trap();
    clv_net_msg_release(&d);
    clv_net_buf_release(&a);
    clv_net_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clv_net_limits lim;
    clv_net_msg m;
    clv_error err;
    clv_net_limits_default(&lim);
    lim.max_payload = 1 << 20;
    lim.max_tensors = 64;
    lim.max_plan = 4096;
    lim.max_name = 256;
    lim.max_text = 256;
    clv_net_msg_init(&m);

    clv_error_clear(&err);
    int rc = clv_net_decode(data, size, &lim, &m, &err);
    if (rc == 0)
        roundtrip(&m, &lim);
    else
        check_error(rc, &err, &m);
    clv_net_msg_release(&m);

    if (size >= CLV_NET_HEADER_SIZE) {
        clv_net_header h;
        clv_error_clear(&err);
        rc = clv_net_header_parse(data, &lim, &h, &err);
        if (rc == 0 && (h.type <= CLV_NET_NONE || h.type >= CLV_NET_TYPE_END ||
                        h.payload_len > lim.max_payload))
            __builtin_trap();
        int type = data[6] % CLV_NET_TYPE_END;
        if (type != CLV_NET_NONE) {
            clv_error_clear(&err);
            rc = clv_net__decode_payload_nocrc(
                (clv_net_type)type, data + CLV_NET_HEADER_SIZE,
                size - CLV_NET_HEADER_SIZE, &lim, &m, &err);
            if (rc == 0)
                roundtrip(&m, &lim);
            else
                check_error(rc, &err, &m);
            clv_net_msg_release(&m);
        }
    }
    return 0;
}
