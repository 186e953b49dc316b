/* The model digest, shared secrets, and the security primitives under
 * them, all from OpenSSL's libcrypto: SHA-256, HMAC-SHA256, a
 * constant-time comparison, cleansing and randomness. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "net/internal.h"
#include "util/util.h"

/* ---- digests, MACs, comparison: OpenSSL's libcrypto ----------------------- */

int clv_net__sha256_init(clv_net__sha256 *s)
{
    s->ctx = EVP_MD_CTX_new();
    if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
        return CLV_ENOMEM;
    }
    return 0;
}

void clv_net__sha256_update(clv_net__sha256 *s, const void *data, size_t len)
{
    if (s->ctx && len)
        EVP_DigestUpdate(s->ctx, data, len);
}

void clv_net__sha256_final(clv_net__sha256 *s, uint8_t out[32])
{
    unsigned int n = 0;
    if (s->ctx)
        EVP_DigestFinal_ex(s->ctx, out, &n);
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
}

void clv_net_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void clv_net_hmac_sha256(const void *key, size_t key_len, const void *data,
                         size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    static const uint8_t none;
    /* HMAC() takes a NULL key as "reuse the last key": never pass one */
    HMAC(EVP_sha256(), key_len ? key : &none, (int)key_len,
         (const unsigned char *)data, len, out, &n);
}

int clv_net__hmac_init(clv_net__hmac *h, const uint8_t key[32])
{
    uint8_t ipad[64];
    for (int i = 0; i < 64; i++) {
        uint8_t k = i < 32 ? key[i] : 0;
        ipad[i] = k ^ 0x36;
        h->opad[i] = k ^ 0x5c;
    }
    int rc = clv_net__sha256_init(&h->inner);
    if (!rc)
        clv_net__sha256_update(&h->inner, ipad, sizeof ipad);
    OPENSSL_cleanse(ipad, sizeof ipad);
    return rc;
}

void clv_net__hmac_update(clv_net__hmac *h, const void *data, size_t len)
{
    clv_net__sha256_update(&h->inner, data, len);
}

void clv_net__hmac_final(clv_net__hmac *h, uint8_t out[32])
{
    uint8_t in[32];
    clv_net__sha256 outer;
    clv_net__sha256_final(&h->inner, in);
    if (clv_net__sha256_init(&outer) == 0) {
        clv_net__sha256_update(&outer, h->opad, sizeof h->opad);
        clv_net__sha256_update(&outer, in, sizeof in);
        clv_net__sha256_final(&outer, out);
    } else {
        memset(out, 0, 32); /* never equal to a real MAC by chance */
    }
    OPENSSL_cleanse(h->opad, sizeof h->opad);
}

int clv_net__memcmp_ct(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) != 0;
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
    if (clv_net__sha256_init(&s))
        return CLV_ENOMEM;
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
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (rc)
        clv_error_prefix(err, "%s: ", path);
    return rc;
}

int clv_net_random(void *buf, size_t len, clv_error *err)
{
    /* OpenSSL's DRBG, seeded from the kernel (getrandom) */
    while (len) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(buf, n) != 1)
            return clv_error_set(err, CLV_EIO,
                                 "no random bytes: OpenSSL's generator "
                                 "could not be seeded");
        buf = (uint8_t *)buf + n;
        len -= (size_t)n;
    }
    return 0;
}
