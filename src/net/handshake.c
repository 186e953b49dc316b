/* HELLO, CHALLENGE/AUTH and HELLO_ACK: agreeing on the model and, with a
 * shared secret, proving to each other that both hold it. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "net/internal.h"

static const char EDGE_TAG[] = "cleave-auth-v1 edge";   /* NUL included */
static const char CLOUD_TAG[] = "cleave-auth-v1 cloud"; /* NUL included */
/* the keys of the messages after the handshake, one per direction */
static const char EDGE_KEY_TAG[] = "cleave-session-v1 edge";
static const char CLOUD_KEY_TAG[] = "cleave-session-v1 cloud";

/* HMAC(key, tag || a || b || digest), tag with its NUL. */
static void auth_mac(const clv_net_secret *s, const char *tag, size_t taglen,
                     const uint8_t a[CLV_NET_NONCE_SIZE],
                     const uint8_t b[CLV_NET_NONCE_SIZE],
                     const uint8_t digest[CLV_NET_DIGEST_SIZE],
                     uint8_t out[CLV_NET_MAC_SIZE])
{
    uint8_t msg[32 + 2 * CLV_NET_NONCE_SIZE + CLV_NET_DIGEST_SIZE];
    size_t n = 0;
    memcpy(msg, tag, taglen);
    n += taglen;
    memcpy(msg + n, a, CLV_NET_NONCE_SIZE);
    n += CLV_NET_NONCE_SIZE;
    memcpy(msg + n, b, CLV_NET_NONCE_SIZE);
    n += CLV_NET_NONCE_SIZE;
    memcpy(msg + n, digest, CLV_NET_DIGEST_SIZE);
    n += CLV_NET_DIGEST_SIZE;
    clv_net_hmac_sha256(s->key, sizeof s->key, msg, n, out);
}

/* Keys connection c after an authenticated handshake: messages from the
 * edge with HMAC(key, EDGE_KEY_TAG || nonce_e || nonce_c || digest), from
 * the cloud with CLOUD_KEY_TAG; `edge` says which side c is. */
static void key_session(clv_net_conn *c, const clv_net_secret *s, bool edge,
                        const uint8_t nonce_e[CLV_NET_NONCE_SIZE],
                        const uint8_t nonce_c[CLV_NET_NONCE_SIZE],
                        const uint8_t digest[CLV_NET_DIGEST_SIZE])
{
    uint8_t ke[32], kc[32];
    auth_mac(s, EDGE_KEY_TAG, sizeof EDGE_KEY_TAG, nonce_e, nonce_c, digest,
             ke);
    auth_mac(s, CLOUD_KEY_TAG, sizeof CLOUD_KEY_TAG, nonce_e, nonce_c,
             digest, kc);
    clv_net__conn_key(c, edge ? ke : kc, edge ? kc : ke);
    OPENSSL_cleanse(ke, sizeof ke);
    OPENSSL_cleanse(kc, sizeof kc);
}

static void hex8(const uint8_t *d, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* The error for an ERROR message received instead of what was expected. */
static int refused(const clv_net_conn *c, const clv_net_msg *m,
                   clv_error *err)
{
    return clv_error_set(err, CLV_EINVAL, "%s refused the connection: %s (%s)",
                         clv_net_conn_peer(c), m->error.text,
                         clv_net_err_text(m->error.code));
}

static int unexpected(const clv_net_conn *c, const clv_net_msg *m,
                      const char *wanted, clv_error *err)
{
    return clv_error_set(err, CLV_EFORMAT, "%s: expected %s, got %s",
                         clv_net_conn_peer(c), wanted,
                         clv_net_type_name(m->type));
}

void clv_net_client_options_init(clv_net_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->role = CLV_NET_ROLE_EDGE;
    o->require_server_auth = true;
}

void clv_net_server_options_init(clv_net_server_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_payload = (uint64_t)256 << 20;
    o->max_plans = 1;
}

int clv_net_handshake_client(clv_net_conn *c,
                             const clv_net_client_options *o,
                             clv_net_session *out, clv_error *err)
{
    clv_net_msg m;
    uint8_t nonce[CLV_NET_NONCE_SIZE], snonce[CLV_NET_NONCE_SIZE];
    bool challenged = false;
    int rc;
    clv_net_msg_init(&m);
    if ((rc = clv_net_random(nonce, sizeof nonce, err)))
        return rc;
    m.type = CLV_NET_HELLO;
    m.hello.version = CLV_NET_VERSION;
    m.hello.role = o->role ? o->role : CLV_NET_ROLE_EDGE;
    m.hello.flags = o->secret ? CLV_NET_HELLO_AUTH : 0;
    memcpy(m.hello.digest, o->digest, CLV_NET_DIGEST_SIZE);
    memcpy(m.hello.nonce, nonce, CLV_NET_NONCE_SIZE);
    m.hello.name = o->name;
    if ((rc = clv_net_send(c, &m, NULL, err)) ||
        (rc = clv_net_recv(c, &m, err)))
        goto done;
    if (m.type == CLV_NET_CHALLENGE) {
        challenged = true;
        memcpy(snonce, m.challenge.nonce, sizeof snonce);
        if (!o->secret) {
            clv_net_send_error(c, CLV_NET_ERR_AUTH, "the edge has no secret");
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s requires authentication: give the shared "
                               "token (--token-file)",
                               clv_net_conn_peer(c));
            goto done;
        }
        clv_net_msg_release(&m);
        m.type = CLV_NET_AUTH;
        auth_mac(o->secret, EDGE_TAG, sizeof EDGE_TAG, snonce, nonce,
                 o->digest, m.auth.mac);
        if ((rc = clv_net_send(c, &m, NULL, err)) ||
            (rc = clv_net_recv(c, &m, err)))
            goto done;
    }
    if (m.type == CLV_NET_ERROR) {
        rc = refused(c, &m, err);
        goto done;
    }
    if (m.type != CLV_NET_HELLO_ACK) {
        rc = unexpected(c, &m, challenged ? "HELLO_ACK" :
                        "CHALLENGE or HELLO_ACK", err);
        goto done;
    }
    bool authed = false;
    if (o->secret && challenged) {
        uint8_t want[CLV_NET_MAC_SIZE];
        auth_mac(o->secret, CLOUD_TAG, sizeof CLOUD_TAG, nonce, snonce,
                 o->digest, want);
        if (!(m.hello_ack.flags & CLV_NET_HELLO_AUTH) ||
            clv_net__memcmp_ct(want, m.hello_ack.mac, sizeof want)) {
            clv_net_send_error(c, CLV_NET_ERR_AUTH,
                               "the server's proof of the secret is wrong");
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s could not prove that it holds the shared "
                               "secret",
                               clv_net_conn_peer(c));
            goto done;
        }
        authed = true;
        key_session(c, o->secret, true, nonce, snonce, o->digest);
    } else if (o->secret && o->require_server_auth) {
        clv_net_send_error(c, CLV_NET_ERR_AUTH,
                           "the edge requires an authenticated server");
        rc = clv_error_set(err, CLV_EINVAL,
                           "%s does not authenticate (it has no token); "
                           "refusing to send it frames",
                           clv_net_conn_peer(c));
        goto done;
    }
    if (out) {
        out->id = m.hello_ack.session;
        out->authenticated = authed;
        out->max_payload = m.hello_ack.max_payload;
        out->max_plans = m.hello_ack.max_plans ? m.hello_ack.max_plans : 1;
        copy_name(out->server_name, sizeof out->server_name,
                  m.hello_ack.name);
    }
done:
    clv_net_msg_release(&m);
    return rc;
}

int clv_net_handshake_server(clv_net_conn *c,
                             const clv_net_server_options *o,
                             clv_net_peer *out, clv_error *err)
{
    clv_net_msg m;
    uint8_t cnonce[CLV_NET_NONCE_SIZE], snonce[CLV_NET_NONCE_SIZE];
    uint8_t digest[CLV_NET_DIGEST_SIZE];
    clv_net_peer peer;
    int rc;
    clv_net_msg_init(&m);
    memset(&peer, 0, sizeof peer);
    if ((rc = clv_net_recv(c, &m, err))) {
        if (rc == CLV_EFORMAT || rc == CLV_ELIMIT)
            clv_net_send_error(c, rc == CLV_ELIMIT ? CLV_NET_ERR_LIMIT
                                                   : CLV_NET_ERR_PROTOCOL,
                               "%s", clv_error_text(err, rc));
        goto done;
    }
    if (m.type != CLV_NET_HELLO) {
        clv_net_send_error(c, CLV_NET_ERR_PROTOCOL, "expected HELLO, got %s",
                           clv_net_type_name(m.type));
        rc = unexpected(c, &m, "HELLO", err);
        goto done;
    }
    if (m.hello.version != CLV_NET_VERSION) {
        clv_net_send_error(c, CLV_NET_ERR_VERSION,
                           "the edge speaks protocol %u, the server %d",
                           (unsigned)m.hello.version, CLV_NET_VERSION);
        rc = clv_error_set(err, CLV_EINVAL,
                           "%s: protocol version %u, this server speaks %d",
                           clv_net_conn_peer(c), (unsigned)m.hello.version,
                           CLV_NET_VERSION);
        goto done;
    }
    peer.role = m.hello.role;
    copy_name(peer.name, sizeof peer.name, m.hello.name);
    memcpy(cnonce, m.hello.nonce, sizeof cnonce);
    memcpy(digest, m.hello.digest, sizeof digest);
    if (o->secret) {
        if ((rc = clv_net_random(snonce, sizeof snonce, err)))
            goto done;
        clv_net_msg_release(&m);
        m.type = CLV_NET_CHALLENGE;
        memcpy(m.challenge.nonce, snonce, sizeof snonce);
        if ((rc = clv_net_send(c, &m, NULL, err)) ||
            (rc = clv_net_recv(c, &m, err)))
            goto done;
        if (m.type == CLV_NET_ERROR) {
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s gave up authenticating: %s",
                               clv_net_conn_peer(c), m.error.text);
            goto done;
        }
        if (m.type != CLV_NET_AUTH) {
            clv_net_send_error(c, CLV_NET_ERR_PROTOCOL,
                               "expected AUTH, got %s",
                               clv_net_type_name(m.type));
            rc = unexpected(c, &m, "AUTH", err);
            goto done;
        }
        uint8_t want[CLV_NET_MAC_SIZE];
        /* The MAC covers the digest the edge announced: a wrong digest
         * is reported below, after the edge proved who it is. */
        auth_mac(o->secret, EDGE_TAG, sizeof EDGE_TAG, snonce, cnonce, digest,
                 want);
        if (clv_net__memcmp_ct(want, m.auth.mac, sizeof want)) {
            clv_net_send_error(c, CLV_NET_ERR_AUTH, "authentication failed");
            rc = clv_error_set(err, CLV_EINVAL,
                               "%s: authentication failed (wrong token)",
                               clv_net_conn_peer(c));
            goto done;
        }
        peer.authenticated = true;
    }
    if (memcmp(digest, o->digest, sizeof digest) != 0) {
        char a[17], b[17];
        hex8(digest, a);
        hex8(o->digest, b);
        clv_net_send_error(c, CLV_NET_ERR_MODEL,
                           "model digest mismatch: the edge runs %s..., the "
                           "server %s...",
                           a, b);
        rc = clv_error_set(err, CLV_EINVAL,
                           "%s runs another model (digest %s..., ours "
                           "%s...)",
                           clv_net_conn_peer(c), a, b);
        goto done;
    }
    clv_net_msg_release(&m);
    m.type = CLV_NET_HELLO_ACK;
    m.hello_ack.session = o->session;
    m.hello_ack.max_payload = o->max_payload;
    m.hello_ack.max_plans = o->max_plans;
    m.hello_ack.name = o->name;
    if (o->secret) {
        m.hello_ack.flags = CLV_NET_HELLO_AUTH;
        auth_mac(o->secret, CLOUD_TAG, sizeof CLOUD_TAG, cnonce, snonce,
                 digest, m.hello_ack.mac);
    }
    if ((rc = clv_net_send(c, &m, NULL, err)))
        goto done;
    if (o->secret)
        key_session(c, o->secret, false, cnonce, snonce, digest);
    if (out)
        *out = peer;
done:
    clv_net_msg_release(&m);
    return rc;
}
