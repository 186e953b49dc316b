/*
 * Internals of the net module (not installed).
 */
#ifndef CLEAVE_NET_INTERNAL_H
#define CLEAVE_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/net.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "cleave's wire format assumes a little-endian host"
#endif
#endif

/* ---- little-endian stores and loads -------------------------------------- */

static inline void clv_net__put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void clv_net__put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void clv_net__put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t clv_net__get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t clv_net__get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t clv_net__get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- SHA-256 -------------------------------------------------------------- */

/* Streaming SHA-256 over libcrypto's EVP interface: init (0, or
 * CLV_ENOMEM), any number of updates, final (which frees the context). */
typedef struct clv_net__sha256 {
    struct evp_md_ctx_st *ctx; /* EVP_MD_CTX */
} clv_net__sha256;

int clv_net__sha256_init(clv_net__sha256 *s);
void clv_net__sha256_update(clv_net__sha256 *s, const void *data, size_t len);
void clv_net__sha256_final(clv_net__sha256 *s, uint8_t out[32]);

/* Streaming HMAC-SHA256 over the SHA-256 above (RFC 2104): init with a
 * 32-byte key, updates, final (which frees). 0 or CLV_ENOMEM. */
typedef struct clv_net__hmac {
    clv_net__sha256 inner;
    uint8_t opad[64];
} clv_net__hmac;
int clv_net__hmac_init(clv_net__hmac *h, const uint8_t key[32]);
void clv_net__hmac_update(clv_net__hmac *h, const void *data, size_t len);
void clv_net__hmac_final(clv_net__hmac *h, uint8_t out[32]);

/* Keys a connection's messages from now on (handshake.c, after an
 * authenticated handshake): every message sent carries the header flag
 * CLV_NET_FLAG_MAC and, after its payload, HMAC-SHA256(send_key, seq ||
 * header || payload) with seq the count of messages sent since; every
 * message received must carry one made with recv_key and the count of
 * messages received since. */
void clv_net__conn_key(clv_net_conn *c, const uint8_t send_key[32],
                       const uint8_t recv_key[32]);

/* The socket of a connection (for tests that relay raw bytes). */
int clv_net__conn_fd(const clv_net_conn *c);

/* Constant-time comparison of n bytes: 0 when equal. */
int clv_net__memcmp_ct(const void *a, const void *b, size_t n);

/* ---- buffers and encoding -------------------------------------------------- */

/* Makes room for `extra` more bytes. 0 or CLV_ENOMEM. */
int clv_net__buf_reserve(clv_net_buf *b, size_t extra);

/* Decodes the payload without checking its CRC (the fuzz harness uses it to
 * reach the parser with mutated payloads). As clv_net_decode_payload. */
int clv_net__decode_payload_nocrc(clv_net_type type, const void *payload,
                                  size_t len, const clv_net_limits *lim,
                                  clv_net_msg *m, clv_error *err);

/* Bytes of a message's payload cap for `type`, given limits. */
uint64_t clv_net__type_cap(clv_net_type type, const clv_net_limits *lim);

/* The active probe's arithmetic (bw.c). Whether the median of the pair estimates est[0..n) strays more than 10%
 * from `ref`, the estimate of the sizing round's last pair (ref <= 0: no
 * reference, never). est is not changed. */
bool clv_net__probe_disagree(const double *est, int n, double ref);

#endif
