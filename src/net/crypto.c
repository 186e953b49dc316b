/* SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), the model digest, shared
 * secrets and kernel randomness. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/internal.h"
#include "util/util.h"

/* ---- SHA-256 -------------------------------------------------------------- */

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu,
    0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u,
    0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u,
    0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u,
    0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u,
    0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u, 0x1e376c08u,
    0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu,
    0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^
                      (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^
                      (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[i] + w[i];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void clv_net__sha256_init(clv_net__sha256 *s)
{
    static const uint32_t h0[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u,
                                   0xa54ff53au, 0x510e527fu, 0x9b05688cu,
                                   0x1f83d9abu, 0x5be0cd19u};
    memcpy(s->h, h0, sizeof h0);
    s->total = 0;
    s->fill = 0;
}

void clv_net__sha256_update(clv_net__sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total += len;
    if (s->fill) {
        size_t n = 64 - s->fill < len ? 64 - s->fill : len;
        memcpy(s->block + s->fill, p, n);
        s->fill += n;
        p += n;
        len -= n;
        if (s->fill < 64)
            return;
        sha256_block(s->h, s->block);
        s->fill = 0;
    }
    while (len >= 64) {
        sha256_block(s->h, p);
        p += 64;
        len -= 64;
    }
    memcpy(s->block, p, len);
    s->fill = len;
}

void clv_net__sha256_final(clv_net__sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->total * 8;
    uint8_t pad[72];
    size_t npad = (s->fill < 56 ? 56 : 120) - s->fill;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++)
        pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
    clv_net__sha256_update(s, pad, npad + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void clv_net_sha256(const void *data, size_t len, uint8_t out[32])
{
    clv_net__sha256 s;
    clv_net__sha256_init(&s);
    clv_net__sha256_update(&s, data, len);
    clv_net__sha256_final(&s, out);
}

void clv_net_hmac_sha256(const void *key, size_t key_len, const void *data,
                         size_t len, uint8_t out[32])
{
    uint8_t k[64], pad[64], inner[32];
    clv_net__sha256 s;
    memset(k, 0, sizeof k);
    if (key_len > 64)
        clv_net_sha256(key, key_len, k);
    else if (key_len)
        memcpy(k, key, key_len);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    clv_net__sha256_init(&s);
    clv_net__sha256_update(&s, pad, 64);
    clv_net__sha256_update(&s, data, len);
    clv_net__sha256_final(&s, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    clv_net__sha256_init(&s);
    clv_net__sha256_update(&s, pad, 64);
    clv_net__sha256_update(&s, inner, 32);
    clv_net__sha256_final(&s, out);
}

int clv_net__memcmp_ct(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d != 0;
}

static void wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

/* ---- the model digest ------------------------------------------------------ */

static void h_u32(clv_net__sha256 *s, uint32_t v)
{
    uint8_t b[4];
    clv_net__put32(b, v);
    clv_net__sha256_update(s, b, 4);
}

static void h_u64(clv_net__sha256 *s, uint64_t v)
{
    uint8_t b[8];
    clv_net__put64(b, v);
    clv_net__sha256_update(s, b, 8);
}

static void h_str(clv_net__sha256 *s, const char *str)
{
    size_t n = str ? strlen(str) : 0;
    h_u64(s, n);
    if (n)
        clv_net__sha256_update(s, str, n);
}

static void h_f32(clv_net__sha256 *s, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    h_u32(s, u);
}

static void h_attr(clv_net__sha256 *s, const clv_attr *a)
{
    h_str(s, a->name);
    h_u32(s, (uint32_t)a->type);
    switch (a->type) {
    case CLV_ATTR_INT:
        h_u64(s, (uint64_t)a->i);
        break;
    case CLV_ATTR_FLOAT:
        h_f32(s, a->f);
        break;
    case CLV_ATTR_INTS:
        h_u64(s, a->n);
        for (size_t k = 0; k < a->n; k++)
            h_u64(s, (uint64_t)a->ints[k]);
        break;
    case CLV_ATTR_FLOATS:
        h_u64(s, a->n);
        for (size_t k = 0; k < a->n; k++)
            h_f32(s, a->floats[k]);
        break;
    case CLV_ATTR_STRING:
        h_str(s, a->s);
        break;
    }
}

int clv_net_graph_digest(const clv_graph *g, uint8_t out[CLV_NET_DIGEST_SIZE])
{
    static const char tag[] = "cleave-model-digest-v1";
    clv_net__sha256 s;
    if (!g || !clv_graph_is_finalized(g))
        return CLV_EINVAL;
    clv_net__sha256_init(&s);
    clv_net__sha256_update(&s, tag, sizeof tag);
    int nt = clv_graph_n_tensors(g);
    h_u32(&s, (uint32_t)nt);
    for (int i = 0; i < nt; i++) {
        const clv_tensor *t = clv_graph_tensor(g, i);
        h_str(&s, t->name);
        h_u32(&s, (uint32_t)t->dtype);
        h_u32(&s, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim && d < CLV_MAX_DIMS; d++)
            h_u64(&s, (uint64_t)t->dims[d]);
        h_u32(&s, t->flags);
        if (t->data) {
            uint64_t nb = clv_tensor_bytes(t);
            h_u64(&s, nb);
            clv_net__sha256_update(&s, t->data, (size_t)nb);
        } else {
            h_u64(&s, UINT64_MAX);
        }
    }
    int nn = clv_graph_n_nodes(g);
    h_u32(&s, (uint32_t)nn);
    for (int i = 0; i < nn; i++) {
        const clv_node *n = clv_graph_node(g, i);
        h_str(&s, n->name);
        h_u32(&s, (uint32_t)n->op);
        h_u32(&s, (uint32_t)n->n_inputs);
        for (int k = 0; k < n->n_inputs; k++)
            h_u32(&s, (uint32_t)n->inputs[k]);
        h_u32(&s, (uint32_t)n->n_outputs);
        for (int k = 0; k < n->n_outputs; k++)
            h_u32(&s, (uint32_t)n->outputs[k]);
        /* Attributes in name order (names are unique within a node), so
         * the order a loader stored them in does not matter. */
        h_u32(&s, (uint32_t)n->n_attrs);
        const char *last = NULL;
        for (int k = 0; k < n->n_attrs; k++) {
            const clv_attr *best = NULL;
            for (int j = 0; j < n->n_attrs; j++) {
                const clv_attr *a = &n->attrs[j];
                if (last && strcmp(a->name, last) <= 0)
                    continue;
                if (!best || strcmp(a->name, best->name) < 0)
                    best = a;
            }
            if (!best)
                break;
            h_attr(&s, best);
            last = best->name;
        }
    }
    int ni = clv_graph_n_inputs(g), no = clv_graph_n_outputs(g);
    h_u32(&s, (uint32_t)ni);
    for (int i = 0; i < ni; i++)
        h_u32(&s, (uint32_t)clv_graph_input(g, i));
    h_u32(&s, (uint32_t)no);
    for (int i = 0; i < no; i++)
        h_u32(&s, (uint32_t)clv_graph_output(g, i));
    clv_net__sha256_final(&s, out);
    return 0;
}

/* ---- secrets --------------------------------------------------------------- */

#define TOKEN_MAX 65536

int clv_net_secret_from_token(const void *token, size_t len,
                              clv_net_secret *out, clv_error *err)
{
    const char *t = token;
    while (len && (t[len - 1] == ' ' || t[len - 1] == '\t' ||
                   t[len - 1] == '\n' || t[len - 1] == '\r'))
        len--;
    if (len == 0)
        return clv_error_set(err, CLV_EINVAL, "the token is empty");
    if (len > TOKEN_MAX)
        return clv_error_set(err, CLV_ELIMIT,
                             "the token has %zu bytes, more than %d", len,
                             TOKEN_MAX);
    clv_net_sha256(t, len, out->key);
    return 0;
}

int clv_net_secret_load(const char *path, clv_net_secret *out,
                        clv_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = clv_util_read_file(path, (uint64_t)TOKEN_MAX + 4096, &buf, &len,
                                err);
    if (rc)
        return rc;
    rc = clv_net_secret_from_token(buf, len, out, err);
    wipe(buf, len);
    free(buf);
    if (rc)
        clv_error_prefix(err, "%s: ", path);
    return rc;
}

int clv_net_random(void *buf, size_t len, clv_error *err)
{
    uint8_t *p = buf;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return clv_error_set(err, CLV_EIO, "/dev/urandom: %s",
                             strerror(errno));
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            return clv_error_set(err, CLV_EIO, "/dev/urandom: %s",
                                 strerror(e));
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return 0;
}
