/* The wire format: message headers, payload encoders and the validating
 * decoder. The layout is specified in docs/protocol.md. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"
#include "util/util.h"

static_assert(CLV_NET_HEADER_SIZE == 32, "the header is 32 bytes");
static_assert(sizeof CLV_NET_MAGIC - 1 == 4, "the magic is 4 bytes");
static_assert(CLV_MAX_DIMS <= 255, "ndim travels as one byte");

/* Header field offsets. */
enum {
    H_MAGIC = 0,
    H_VERSION = 4,
    H_TYPE = 6,
    H_FLAGS = 8,
    H_PAYLOAD_CRC = 12,
    H_PAYLOAD_LEN = 16,
    H_RESERVED = 24,
    H_HEADER_CRC = 28
};
static_assert(H_HEADER_CRC + 4 == CLV_NET_HEADER_SIZE, "header layout");

/* The fewest wire bytes of one tensor: id, dtype/codec/ndim/reserved, an
 * empty name (length and NUL) and nbytes. */
#define TENSOR_MIN_WIRE (4 + 4 + 4 + 1 + 8)

static const char *type_names[] = {
    "NONE",
#define CLV__NET_TYPE_NAME(id, v, name) name,
    CLV_NET_TYPE_MAP(CLV__NET_TYPE_NAME)
#undef CLV__NET_TYPE_NAME
};
static_assert(sizeof type_names / sizeof type_names[0] == CLV_NET_TYPE_END,
              "message types are numbered 1..N without gaps");

const char *clv_net_type_name(int type)
{
    if (type < 0 || type >= CLV_NET_TYPE_END)
        return "?";
    return type_names[type];
}

const char *clv_net_err_text(int code)
{
    if (code == 0)
        return "success";
    switch (code) {
#define CLV__NET_ERR_CASE(id, v, text) \
    case v:                           \
        return text;
        CLV_NET_ERR_MAP(CLV__NET_ERR_CASE)
#undef CLV__NET_ERR_CASE
    default:
        return "unknown error";
    }
}

void clv_net_limits_default(clv_net_limits *l)
{
    l->max_payload = (uint64_t)256 << 20;
    l->max_tensors = 1024;
    l->max_plan = 1u << 20;
    l->max_name = 4096;
    l->max_text = 4096;
    l->accept = 0;
}

static const clv_net_limits *limits_or_default(const clv_net_limits *lim,
                                               clv_net_limits *tmp)
{
    if (lim)
        return lim;
    clv_net_limits_default(tmp);
    return tmp;
}

static bool is_control(clv_net_type t)
{
    return t == CLV_NET_HELLO || t == CLV_NET_CHALLENGE ||
           t == CLV_NET_AUTH || t == CLV_NET_HELLO_ACK ||
           t == CLV_NET_PLAN_ACK || t == CLV_NET_ERROR ||
           t == CLV_NET_BYE || t == CLV_NET_PROBE_ACK ||
           t == CLV_NET_TIMES_REQUEST;
}

uint64_t clv_net__type_cap(clv_net_type type, const clv_net_limits *lim)
{
    uint64_t cap = is_control(type) && CLV_NET_MAX_CONTROL < lim->max_payload
                       ? CLV_NET_MAX_CONTROL
                       : lim->max_payload;
    if (type == CLV_NET_PLAN) {
        uint64_t plan = 8 + 12 + 12 * (uint64_t)lim->max_plan;
        if (plan < cap)
            cap = plan;
    }
    if (type == CLV_NET_TIMES) {
        uint64_t times = 12 + 8 * (uint64_t)lim->max_plan + 5 + lim->max_text;
        if (times < cap)
            cap = times;
    }
    return cap;
}

void clv_net_msg_init(clv_net_msg *m)
{
    memset(m, 0, sizeof *m);
    m->type = CLV_NET_NONE;
}

void clv_net_msg_release(clv_net_msg *m)
{
    if (!m)
        return;
    free(m->owned_payload_);
    free(m->owned_arrays_);
    clv_net_msg_init(m);
}

void clv_net_buf_release(clv_net_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int clv_net__buf_reserve(clv_net_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return CLV_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return CLV_ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

/* ---- encoding --------------------------------------------------------------- */

typedef struct wr {
    clv_net_buf *b;
    size_t base; /* offset of the payload's first byte */
    int rc;      /* first failure */
} wr;

static uint8_t *w_room(wr *w, size_t n)
{
    if (w->rc)
        return NULL;
    if (clv_net__buf_reserve(w->b, n)) {
        w->rc = CLV_ENOMEM;
        return NULL;
    }
    uint8_t *p = w->b->data + w->b->len;
    w->b->len += n;
    return p;
}

static void w_bytes(wr *w, const void *d, size_t n)
{
    uint8_t *p = w_room(w, n);
    if (p && n)
        memcpy(p, d, n);
}

static void w_u8(wr *w, uint8_t v)
{
    uint8_t *p = w_room(w, 1);
    if (p)
        *p = v;
}

static void w_u32(wr *w, uint32_t v)
{
    uint8_t *p = w_room(w, 4);
    if (p)
        clv_net__put32(p, v);
}

static void w_u64(wr *w, uint64_t v)
{
    uint8_t *p = w_room(w, 8);
    if (p)
        clv_net__put64(p, v);
}

static void w_zero(wr *w, size_t n)
{
    uint8_t *p = w_room(w, n);
    if (p && n)
        memset(p, 0, n);
}

static int w_str(wr *w, const char *s, const char *what, clv_error *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX - 1)
        return clv_error_set(err, CLV_EINVAL, "%s is too long (%zu bytes)",
                             what, n);
    w_u32(w, (uint32_t)n);
    w_bytes(w, s ? s : "", n);
    w_u8(w, 0);
    return 0;
}

static bool dtype_ok(int dt)
{
    return dt >= 0 && dt <= 255 && clv_dtype_size((clv_dtype)dt) > 0;
}

/* Checks a tensor that is about to be encoded. */
static int check_tensor(const clv_net_tensor *t, const char *type, uint32_t i,
                        clv_error *err)
{
    const char *nm = t->name ? t->name : "";
    if (!dtype_ok((int)t->dtype))
        return clv_error_set(err, CLV_EINVAL,
                             "%s: tensor %u ('%s'): dtype %d has no size",
                             type, (unsigned)i, nm, (int)t->dtype);
    if (t->codec < 0 || t->codec > CLV_NET_CODEC_MAX)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: tensor %u ('%s'): codec %d out of 0..%d",
                             type, (unsigned)i, nm, t->codec,
                             CLV_NET_CODEC_MAX);
    if (t->ndim < 0 || t->ndim > CLV_MAX_DIMS)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: tensor %u ('%s'): rank %d out of 0..%d",
                             type, (unsigned)i, nm, t->ndim, CLV_MAX_DIMS);
    uint64_t numel = 1;
    bool zero = false, over = false;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0 || (uint64_t)t->dims[d] > CLV_NET_MAX_DIM)
            return clv_error_set(err, CLV_EINVAL,
                                 "%s: tensor %u ('%s'): dim %d is %lld",
                                 type, (unsigned)i, nm, d,
                                 (long long)t->dims[d]);
        if (t->dims[d] == 0)
            zero = true;
        else if (!over && clv_util_mul_checked(numel, (uint64_t)t->dims[d],
                                               UINT64_MAX, &numel))
            over = true;
    }
    if (t->codec == CLV_NET_CODEC_RAW) {
        uint64_t want = 0;
        if (!zero &&
            (over || clv_util_mul_checked(numel, clv_dtype_size(t->dtype),
                                          UINT64_MAX, &want)))
            return clv_error_set(err, CLV_EINVAL,
                                 "%s: tensor %u ('%s'): too many elements",
                                 type, (unsigned)i, nm);
        if (t->nbytes != want)
            return clv_error_set(err, CLV_EINVAL,
                                 "%s: tensor %u ('%s'): raw %s data of %llu "
                                 "bytes, but its dims need %llu",
                                 type, (unsigned)i, nm,
                                 clv_dtype_name(t->dtype),
                                 (unsigned long long)t->nbytes,
                                 (unsigned long long)want);
    }
    if (t->nbytes && !t->data)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: tensor %u ('%s'): no data", type,
                             (unsigned)i, nm);
    if (t->nbytes > SIZE_MAX / 2)
        return clv_error_set(err, CLV_EINVAL,
                             "%s: tensor %u ('%s'): %llu bytes is too many",
                             type, (unsigned)i, nm,
                             (unsigned long long)t->nbytes);
    return 0;
}

static int w_tensors(wr *w, uint32_t n, const clv_net_tensor *ts,
                     const char *type, clv_error *err)
{
    if (n && !ts)
        return clv_error_set(err, CLV_EINVAL, "%s: %u tensors but no array",
                             type, (unsigned)n);
    for (uint32_t i = 0; i < n; i++) {
        const clv_net_tensor *t = &ts[i];
        int rc = check_tensor(t, type, i, err);
        if (rc)
            return rc;
        w_u32(w, t->id);
        w_u8(w, (uint8_t)t->dtype);
        w_u8(w, (uint8_t)t->codec);
        w_u8(w, (uint8_t)t->ndim);
        w_u8(w, 0);
        if ((rc = w_str(w, t->name, "a tensor name", err)))
            return rc;
        for (int d = 0; d < t->ndim; d++)
            w_u64(w, (uint64_t)t->dims[d]);
        w_u64(w, t->nbytes);
        if (w->rc)
            return w->rc;
        size_t off = w->b->len - w->base;
        w_zero(w, (8 - off % 8) % 8);
        w_bytes(w, t->data, (size_t)t->nbytes);
    }
    return 0;
}

static int w_u32s(wr *w, uint32_t n, const uint32_t *v, const char *what,
                  clv_error *err)
{
    if (n && !v)
        return clv_error_set(err, CLV_EINVAL, "PLAN: %u %s but no array",
                             (unsigned)n, what);
    w_u32(w, n);
    uint8_t *p = w_room(w, (size_t)n * 4);
    for (uint32_t i = 0; p && i < n; i++)
        clv_net__put32(p + 4 * (size_t)i, v[i]);
    return 0;
}

static int encode_payload(wr *w, const clv_net_msg *m, clv_error *err)
{
    int rc = 0;
    switch (m->type) {
    case CLV_NET_HELLO:
        if (m->hello.role != CLV_NET_ROLE_EDGE &&
            m->hello.role != CLV_NET_ROLE_MONITOR)
            return clv_error_set(err, CLV_EINVAL, "HELLO: role %d unknown",
                                 (int)m->hello.role);
        if (m->hello.flags & ~CLV_NET_HELLO_AUTH)
            return clv_error_set(err, CLV_EINVAL, "HELLO: unknown flags");
        w_u32(w, m->hello.version);
        w_u32(w, (uint32_t)m->hello.role);
        w_u32(w, m->hello.flags);
        w_bytes(w, m->hello.digest, CLV_NET_DIGEST_SIZE);
        w_bytes(w, m->hello.nonce, CLV_NET_NONCE_SIZE);
        rc = w_str(w, m->hello.name, "HELLO's name", err);
        break;
    case CLV_NET_CHALLENGE:
        w_bytes(w, m->challenge.nonce, CLV_NET_NONCE_SIZE);
        break;
    case CLV_NET_AUTH:
        w_bytes(w, m->auth.mac, CLV_NET_MAC_SIZE);
        break;
    case CLV_NET_HELLO_ACK:
        if (m->hello_ack.flags & ~CLV_NET_HELLO_AUTH)
            return clv_error_set(err, CLV_EINVAL,
                                 "HELLO_ACK: unknown flags");
        w_u64(w, m->hello_ack.session);
        w_u32(w, m->hello_ack.flags);
        w_u32(w, m->hello_ack.max_plans);
        w_bytes(w, m->hello_ack.mac, CLV_NET_MAC_SIZE);
        w_u64(w, m->hello_ack.max_payload);
        rc = w_str(w, m->hello_ack.name, "HELLO_ACK's name", err);
        break;
    case CLV_NET_PLAN:
        w_u64(w, m->plan.version);
        if ((rc = w_u32s(w, m->plan.n_nodes, m->plan.nodes, "nodes", err)) ||
            (rc = w_u32s(w, m->plan.n_inputs, m->plan.inputs, "inputs",
                         err)) ||
            (rc = w_u32s(w, m->plan.n_outputs, m->plan.outputs, "outputs",
                         err)))
            return rc;
        break;
    case CLV_NET_PLAN_ACK:
        w_u64(w, m->plan_ack.version);
        w_u32(w, (uint32_t)m->plan_ack.status);
        rc = w_str(w, m->plan_ack.message, "PLAN_ACK's message", err);
        break;
    case CLV_NET_FRAME:
        w_u64(w, m->frame.plan_version);
        w_u64(w, m->frame.frame_id);
        w_u32(w, m->frame.n_tensors);
        w_u32(w, 0);
        rc = w_tensors(w, m->frame.n_tensors, m->frame.tensors, "FRAME", err);
        break;
    case CLV_NET_RESULT:
        if (m->result.status != 0 && m->result.n_tensors != 0)
            return clv_error_set(err, CLV_EINVAL,
                                 "RESULT: a failed frame (status %d) "
                                 "carries no tensors",
                                 (int)m->result.status);
        w_u64(w, m->result.frame_id);
        w_u64(w, m->result.plan_version);
        w_u32(w, (uint32_t)m->result.status);
        w_u32(w, m->result.n_tensors);
        w_u64(w, m->result.recv_ns);
        w_u64(w, m->result.queue_ns);
        w_u64(w, m->result.compute_ns);
        if ((rc = w_str(w, m->result.message, "RESULT's message", err)))
            return rc;
        rc = w_tensors(w, m->result.n_tensors, m->result.tensors, "RESULT",
                       err);
        break;
    case CLV_NET_PROBE:
        if (m->probe.fill > SIZE_MAX / 2)
            return clv_error_set(err, CLV_EINVAL, "PROBE: fill too large");
        w_u64(w, m->probe.id);
        w_u64(w, m->probe.fill);
        w_zero(w, (size_t)m->probe.fill);
        break;
    case CLV_NET_PROBE_ACK:
        w_u64(w, m->probe_ack.id);
        w_u64(w, m->probe_ack.bytes);
        w_u64(w, m->probe_ack.recv_ns);
        break;
    case CLV_NET_ERROR:
        w_u32(w, (uint32_t)m->error.code);
        rc = w_str(w, m->error.text, "ERROR's text", err);
        break;
    case CLV_NET_BYE:
        break;
    case CLV_NET_TIMES_REQUEST:
        w_u32(w, 0);
        break;
    case CLV_NET_TIMES:
        if (m->times.status != 0 && m->times.n != 0)
            return clv_error_set(err, CLV_EINVAL,
                                 "TIMES: status %d carries no times",
                                 (int)m->times.status);
        if (m->times.n && !m->times.ms)
            return clv_error_set(err, CLV_EINVAL, "TIMES: %u times but no "
                                 "array", (unsigned)m->times.n);
        for (uint32_t i = 0; i < m->times.n; i++)
            if (!(m->times.ms[i] >= 0 &&
                  m->times.ms[i] <= CLV_NET_MAX_NODE_MS))
                return clv_error_set(err, CLV_EINVAL,
                                     "TIMES: time %u is %g ms (at most %g)",
                                     (unsigned)i, m->times.ms[i],
                                     CLV_NET_MAX_NODE_MS);
        w_u32(w, (uint32_t)m->times.status);
        w_u32(w, m->times.runs);
        w_u32(w, m->times.n);
        for (uint32_t i = 0; i < m->times.n; i++) {
            uint64_t bits;
            memcpy(&bits, &m->times.ms[i], 8);
            w_u64(w, bits);
        }
        rc = w_str(w, m->times.message, "TIMES's message", err);
        break;
    default:
        return clv_error_set(err, CLV_EINVAL, "cannot encode message type %d",
                             (int)m->type);
    }
    return rc;
}

int clv_net_encode(const clv_net_msg *m, clv_net_buf *out, clv_error *err)
{
    size_t start = out->len;
    wr w = {out, 0, 0};
    uint8_t *h = w_room(&w, CLV_NET_HEADER_SIZE);
    if (!h)
        return clv_error_set(err, CLV_ENOMEM, "out of memory encoding %s",
                             clv_net_type_name(m->type));
    w.base = out->len;
    int rc = encode_payload(&w, m, err);
    if (!rc && w.rc)
        rc = clv_error_set(err, w.rc, "out of memory encoding %s",
                           clv_net_type_name(m->type));
    if (rc) {
        out->len = start;
        return rc;
    }
    h = out->data + start; /* the buffer may have moved */
    uint64_t plen = out->len - w.base;
    memcpy(h + H_MAGIC, CLV_NET_MAGIC, 4);
    clv_net__put16(h + H_VERSION, CLV_NET_VERSION);
    clv_net__put16(h + H_TYPE, (uint16_t)m->type);
    clv_net__put32(h + H_FLAGS, 0);
    clv_net__put32(h + H_PAYLOAD_CRC,
                   clv_net_crc32c(0, out->data + w.base, (size_t)plen));
    clv_net__put64(h + H_PAYLOAD_LEN, plen);
    clv_net__put32(h + H_RESERVED, 0);
    clv_net__put32(h + H_HEADER_CRC, clv_net_crc32c(0, h, H_HEADER_CRC));
    return 0;
}

/* ---- decoding --------------------------------------------------------------- */

int clv_net_header_parse(const uint8_t hdr[CLV_NET_HEADER_SIZE],
                         const clv_net_limits *lim, clv_net_header *out,
                         clv_error *err)
{
    clv_net_limits tmp;
    lim = limits_or_default(lim, &tmp);
    if (memcmp(hdr + H_MAGIC, CLV_NET_MAGIC, 4) != 0)
        return clv_error_set(err, CLV_EFORMAT,
                             "not a cleave message (magic %02x %02x %02x "
                             "%02x, expected \"%s\")",
                             hdr[0], hdr[1], hdr[2], hdr[3], CLV_NET_MAGIC);
    uint32_t crc = clv_net_crc32c(0, hdr, H_HEADER_CRC);
    uint32_t got = clv_net__get32(hdr + H_HEADER_CRC);
    if (crc != got)
        return clv_error_set(err, CLV_EFORMAT,
                             "header checksum mismatch (0x%08x, computed "
                             "0x%08x)",
                             (unsigned)got, (unsigned)crc);
    uint16_t version = clv_net__get16(hdr + H_VERSION);
    if (version != CLV_NET_VERSION)
        return clv_error_set(err, CLV_EFORMAT,
                             "protocol version %u, this build speaks %d",
                             (unsigned)version, CLV_NET_VERSION);
    uint16_t type = clv_net__get16(hdr + H_TYPE);
    if (type == 0 || type >= CLV_NET_TYPE_END)
        return clv_error_set(err, CLV_EFORMAT, "unknown message type %u",
                             (unsigned)type);
    uint32_t flags = clv_net__get32(hdr + H_FLAGS);
    if (flags & ~CLV_NET_FLAG_MAC)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: unknown header flags 0x%x",
                             clv_net_type_name(type), (unsigned)flags);
    if (clv_net__get32(hdr + H_RESERVED))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: reserved header field is not 0",
                             clv_net_type_name(type));
    if (lim->accept && !(lim->accept & CLV_NET_TYPE_BIT(type)))
        return clv_error_set(err, CLV_EFORMAT, "%s is not accepted here",
                             clv_net_type_name(type));
    uint64_t len = clv_net__get64(hdr + H_PAYLOAD_LEN);
    uint64_t cap = clv_net__type_cap((clv_net_type)type, lim);
    if (len > cap)
        return clv_error_set(err, CLV_ELIMIT,
                             "%s: payload of %llu bytes, the limit is %llu",
                             clv_net_type_name(type), (unsigned long long)len,
                             (unsigned long long)cap);
    if (out) {
        out->version = version;
        out->type = (clv_net_type)type;
        out->flags = flags;
        out->payload_crc = clv_net__get32(hdr + H_PAYLOAD_CRC);
        out->payload_len = len;
    }
    return 0;
}

typedef struct rd {
    const uint8_t *p;
    size_t n, pos;
    const char *type;
    const clv_net_limits *lim;
    clv_error *err;
} rd;

static int need(rd *r, uint64_t k, const char *what)
{
    if (k > r->n - r->pos)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: truncated: %s needs %llu bytes at offset "
                             "%zu, %zu left",
                             r->type, what, (unsigned long long)k, r->pos,
                             r->n - r->pos);
    return 0;
}

static int r_u8(rd *r, const char *what, uint8_t *v)
{
    int rc = need(r, 1, what);
    if (!rc)
        *v = r->p[r->pos++];
    return rc;
}

static int r_u32(rd *r, const char *what, uint32_t *v)
{
    int rc = need(r, 4, what);
    if (!rc) {
        *v = clv_net__get32(r->p + r->pos);
        r->pos += 4;
    }
    return rc;
}

static int r_u64(rd *r, const char *what, uint64_t *v)
{
    int rc = need(r, 8, what);
    if (!rc) {
        *v = clv_net__get64(r->p + r->pos);
        r->pos += 8;
    }
    return rc;
}

static int r_bytes(rd *r, const char *what, void *out, size_t k)
{
    int rc = need(r, k, what);
    if (!rc) {
        memcpy(out, r->p + r->pos, k);
        r->pos += k;
    }
    return rc;
}

/* A string: u32 length, the bytes, a NUL. *s points into the payload. */
static int r_str(rd *r, const char *what, uint32_t max, const char **s)
{
    uint32_t n;
    int rc = r_u32(r, what, &n);
    if (rc)
        return rc;
    if (n > max)
        return clv_error_set(r->err, CLV_ELIMIT,
                             "%s: %s of %u bytes, the limit is %u", r->type,
                             what, (unsigned)n, (unsigned)max);
    if ((rc = need(r, (uint64_t)n + 1, what)))
        return rc;
    const uint8_t *p = r->p + r->pos;
    if (memchr(p, 0, n) || p[n] != 0)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: %s is not a NUL-terminated string", r->type,
                             what);
    *s = (const char *)p;
    r->pos += (size_t)n + 1;
    return 0;
}

static int r_zero(rd *r, const char *what, uint32_t v)
{
    if (v)
        return clv_error_set(r->err, CLV_EFORMAT, "%s: %s is %u, not 0",
                             r->type, what, (unsigned)v);
    return 0;
}

static int r_end(rd *r)
{
    if (r->pos != r->n)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: %zu unexpected bytes after the payload",
                             r->type, r->n - r->pos);
    return 0;
}

/* A count of items of at least `min_wire` bytes each, bounded by `max`. */
static int r_count(rd *r, const char *what, uint32_t max, size_t min_wire,
                   uint32_t *n)
{
    int rc = r_u32(r, what, n);
    if (rc)
        return rc;
    if (*n > max)
        return clv_error_set(r->err, CLV_ELIMIT,
                             "%s: %u %s, the limit is %u", r->type,
                             (unsigned)*n, what, (unsigned)max);
    if ((uint64_t)*n * min_wire > r->n - r->pos)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: truncated: %u %s cannot fit in the %zu "
                             "bytes left",
                             r->type, (unsigned)*n, what, r->n - r->pos);
    return 0;
}

static int r_tensor(rd *r, uint32_t i, clv_net_tensor *t)
{
    uint8_t dt, codec, ndim, res;
    int rc;
    if ((rc = r_u32(r, "a tensor id", &t->id)) ||
        (rc = r_u8(r, "a tensor dtype", &dt)) ||
        (rc = r_u8(r, "a tensor codec", &codec)) ||
        (rc = r_u8(r, "a tensor rank", &ndim)) ||
        (rc = r_u8(r, "a tensor's reserved byte", &res)) ||
        (rc = r_zero(r, "a tensor's reserved byte", res)) ||
        (rc = r_str(r, "a tensor name", r->lim->max_name, &t->name)))
        return rc;
    if (!dtype_ok(dt))
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: tensor %u ('%s'): unknown dtype %u",
                             r->type, (unsigned)i, t->name, (unsigned)dt);
    if (codec > CLV_NET_CODEC_MAX)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: tensor %u ('%s'): unknown codec %u",
                             r->type, (unsigned)i, t->name, (unsigned)codec);
    if (ndim > CLV_MAX_DIMS)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: tensor %u ('%s'): rank %u, at most %d",
                             r->type, (unsigned)i, t->name, (unsigned)ndim,
                             CLV_MAX_DIMS);
    t->dtype = (clv_dtype)dt;
    t->codec = codec;
    t->ndim = ndim;
    uint64_t numel = 1;
    bool zero = false;
    for (int d = 0; d < ndim; d++) {
        uint64_t v;
        if ((rc = r_u64(r, "a tensor dim", &v)))
            return rc;
        if (v > CLV_NET_MAX_DIM)
            return clv_error_set(r->err, CLV_ELIMIT,
                                 "%s: tensor %u ('%s'): dim %d is %llu, "
                                 "the limit is %llu",
                                 r->type, (unsigned)i, t->name, d,
                                 (unsigned long long)v, CLV_NET_MAX_DIM);
        t->dims[d] = (int64_t)v;
        if (v == 0)
            zero = true;
    }
    uint64_t size = 0, esz = clv_dtype_size(t->dtype);
    if (!zero) {
        for (int d = 0; d < ndim; d++)
            if (clv_util_mul_checked(numel, (uint64_t)t->dims[d],
                                     r->lim->max_payload, &numel))
                goto too_big;
        if (clv_util_mul_checked(numel, esz, r->lim->max_payload, &size))
            goto too_big;
    }
    if ((rc = r_u64(r, "a tensor's byte length", &t->nbytes)))
        return rc;
    if (codec == CLV_NET_CODEC_RAW && t->nbytes != size)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "%s: tensor %u ('%s'): raw %s data of %llu "
                             "bytes, but its dims need %llu",
                             r->type, (unsigned)i, t->name,
                             clv_dtype_name(t->dtype),
                             (unsigned long long)t->nbytes,
                             (unsigned long long)size);
    size_t pad = (8 - r->pos % 8) % 8;
    if ((rc = need(r, pad, "a tensor's padding")))
        return rc;
    for (size_t k = 0; k < pad; k++)
        if (r->p[r->pos + k])
            return clv_error_set(r->err, CLV_EFORMAT,
                                 "%s: tensor %u ('%s'): padding is not zero",
                                 r->type, (unsigned)i, t->name);
    r->pos += pad;
    if ((rc = need(r, t->nbytes, "a tensor's data")))
        return rc;
    t->data = r->p + r->pos;
    r->pos += (size_t)t->nbytes;
    return 0;
too_big:
    return clv_error_set(r->err, CLV_ELIMIT,
                         "%s: tensor %u ('%s'): its dims make more than "
                         "%llu bytes",
                         r->type, (unsigned)i, t->name,
                         (unsigned long long)r->lim->max_payload);
}

static int r_tensors(rd *r, clv_net_msg *m, uint32_t n,
                     const clv_net_tensor **out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    clv_net_tensor *ts = calloc(n, sizeof *ts);
    if (!ts)
        return clv_error_set(r->err, CLV_ENOMEM, "%s: out of memory for %u "
                             "tensors", r->type, (unsigned)n);
    m->owned_arrays_ = ts;
    for (uint32_t i = 0; i < n; i++) {
        int rc = r_tensor(r, i, &ts[i]);
        if (rc)
            return rc;
    }
    *out = ts;
    return 0;
}

static int decode_plan(rd *r, clv_net_msg *m)
{
    clv_net_plan *p = &m->plan;
    uint32_t n[3];
    static const char *what[3] = {"plan nodes", "plan inputs",
                                  "plan outputs"};
    size_t at[3];
    int rc = r_u64(r, "the plan version", &p->version);
    /* First pass: the three counts, so that one block holds all lists. */
    for (int k = 0; !rc && k < 3; k++) {
        if ((rc = r_count(r, what[k], r->lim->max_plan, 4, &n[k])))
            break;
        at[k] = r->pos;
        r->pos += (size_t)n[k] * 4;
    }
    if (rc || (rc = r_end(r)))
        return rc;
    uint64_t total = (uint64_t)n[0] + n[1] + n[2];
    uint32_t *v = NULL;
    if (total) {
        v = malloc((size_t)total * sizeof *v);
        if (!v)
            return clv_error_set(r->err, CLV_ENOMEM,
                                 "PLAN: out of memory for %llu entries",
                                 (unsigned long long)total);
        m->owned_arrays_ = v;
    }
    uint32_t *dst = v;
    const uint32_t **lists[3] = {&p->nodes, &p->inputs, &p->outputs};
    uint32_t *counts[3] = {&p->n_nodes, &p->n_inputs, &p->n_outputs};
    for (int k = 0; k < 3; k++) {
        *counts[k] = n[k];
        *lists[k] = n[k] ? dst : NULL;
        for (uint32_t i = 0; i < n[k]; i++)
            dst[i] = clv_net__get32(r->p + at[k] + 4 * (size_t)i);
        if (n[k])
            dst += n[k]; /* dst is NULL when all three lists are empty */
    }
    return 0;
}

static int decode_times(rd *r, clv_net_msg *m)
{
    clv_net_times *t = &m->times;
    uint32_t u;
    int rc;
    if ((rc = r_u32(r, "the status", &u)) ||
        (rc = r_u32(r, "the run count", &t->runs)) ||
        (rc = r_count(r, "times", r->lim->max_plan, 8, &t->n)))
        return rc;
    t->status = (int32_t)u;
    if (t->status != 0 && t->n != 0)
        return clv_error_set(r->err, CLV_EFORMAT,
                             "TIMES: status %d with %u times",
                             (int)t->status, (unsigned)t->n);
    double *v = NULL;
    if (t->n) {
        v = malloc((size_t)t->n * sizeof *v);
        if (!v)
            return clv_error_set(r->err, CLV_ENOMEM,
                                 "TIMES: out of memory for %u times",
                                 (unsigned)t->n);
        m->owned_arrays_ = v;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        uint64_t bits = clv_net__get64(r->p + r->pos);
        r->pos += 8;
        memcpy(&v[i], &bits, 8);
        if (!(v[i] >= 0 && v[i] <= CLV_NET_MAX_NODE_MS))
            return clv_error_set(r->err, CLV_EFORMAT,
                                 "TIMES: time %u is %g ms (at most %g "
                                 "believable)",
                                 (unsigned)i, v[i], CLV_NET_MAX_NODE_MS);
    }
    t->ms = v;
    return r_str(r, "the message", r->lim->max_text, &t->message);
}

static int decode(rd *r, clv_net_type type, clv_net_msg *m)
{
    int rc = 0;
    uint32_t u, res;
    m->type = type;
    switch (type) {
    case CLV_NET_HELLO:
        if ((rc = r_u32(r, "the version", &m->hello.version)) ||
            (rc = r_u32(r, "the role", &u)) ||
            (rc = r_u32(r, "the flags", &m->hello.flags)))
            break;
        if (u != CLV_NET_ROLE_EDGE && u != CLV_NET_ROLE_MONITOR)
            return clv_error_set(r->err, CLV_EFORMAT, "HELLO: unknown role %u",
                                 (unsigned)u);
        m->hello.role = (clv_net_role)u;
        if (m->hello.flags & ~CLV_NET_HELLO_AUTH)
            return clv_error_set(r->err, CLV_EFORMAT,
                                 "HELLO: unknown flags 0x%x",
                                 (unsigned)m->hello.flags);
        if ((rc = r_bytes(r, "the digest", m->hello.digest,
                          CLV_NET_DIGEST_SIZE)) ||
            (rc = r_bytes(r, "the nonce", m->hello.nonce,
                          CLV_NET_NONCE_SIZE)) ||
            (rc = r_str(r, "the name", r->lim->max_name, &m->hello.name)))
            break;
        break;
    case CLV_NET_CHALLENGE:
        rc = r_bytes(r, "the nonce", m->challenge.nonce, CLV_NET_NONCE_SIZE);
        break;
    case CLV_NET_AUTH:
        rc = r_bytes(r, "the MAC", m->auth.mac, CLV_NET_MAC_SIZE);
        break;
    case CLV_NET_HELLO_ACK:
        if ((rc = r_u64(r, "the session", &m->hello_ack.session)) ||
            (rc = r_u32(r, "the flags", &m->hello_ack.flags)) ||
            (rc = r_u32(r, "the plan limit", &m->hello_ack.max_plans)))
            break;
        if (m->hello_ack.flags & ~CLV_NET_HELLO_AUTH)
            return clv_error_set(r->err, CLV_EFORMAT,
                                 "HELLO_ACK: unknown flags 0x%x",
                                 (unsigned)m->hello_ack.flags);
        if ((rc = r_bytes(r, "the MAC", m->hello_ack.mac,
                          CLV_NET_MAC_SIZE)) ||
            (rc = r_u64(r, "the payload limit",
                        &m->hello_ack.max_payload)) ||
            (rc = r_str(r, "the name", r->lim->max_name,
                        &m->hello_ack.name)))
            break;
        break;
    case CLV_NET_PLAN:
        rc = decode_plan(r, m);
        break;
    case CLV_NET_PLAN_ACK:
        if ((rc = r_u64(r, "the plan version", &m->plan_ack.version)) ||
            (rc = r_u32(r, "the status", &u)) ||
            (rc = r_str(r, "the message", r->lim->max_text,
                        &m->plan_ack.message)))
            break;
        m->plan_ack.status = (int32_t)u;
        break;
    case CLV_NET_FRAME:
        if ((rc = r_u64(r, "the plan version", &m->frame.plan_version)) ||
            (rc = r_u64(r, "the frame id", &m->frame.frame_id)) ||
            (rc = r_count(r, "tensors", r->lim->max_tensors,
                          TENSOR_MIN_WIRE, &m->frame.n_tensors)) ||
            (rc = r_u32(r, "a reserved field", &res)) ||
            (rc = r_zero(r, "a reserved field", res)))
            break;
        rc = r_tensors(r, m, m->frame.n_tensors, &m->frame.tensors);
        break;
    case CLV_NET_RESULT:
        if ((rc = r_u64(r, "the frame id", &m->result.frame_id)) ||
            (rc = r_u64(r, "the plan version", &m->result.plan_version)) ||
            (rc = r_u32(r, "the status", &u)))
            break;
        m->result.status = (int32_t)u;
        if ((rc = r_count(r, "tensors", r->lim->max_tensors, 0,
                          &m->result.n_tensors)) ||
            (rc = r_u64(r, "recv_ns", &m->result.recv_ns)) ||
            (rc = r_u64(r, "queue_ns", &m->result.queue_ns)) ||
            (rc = r_u64(r, "compute_ns", &m->result.compute_ns)) ||
            (rc = r_str(r, "the message", r->lim->max_text,
                        &m->result.message)))
            break;
        if (m->result.status != 0 && m->result.n_tensors != 0)
            return clv_error_set(r->err, CLV_EFORMAT,
                                 "RESULT: a failed frame (status %d) with "
                                 "%u tensors",
                                 (int)m->result.status,
                                 (unsigned)m->result.n_tensors);
        if ((uint64_t)m->result.n_tensors * TENSOR_MIN_WIRE > r->n - r->pos)
            return clv_error_set(r->err, CLV_EFORMAT,
                                 "RESULT: truncated: %u tensors cannot fit "
                                 "in the %zu bytes left",
                                 (unsigned)m->result.n_tensors,
                                 r->n - r->pos);
        rc = r_tensors(r, m, m->result.n_tensors, &m->result.tensors);
        break;
    case CLV_NET_PROBE:
        if ((rc = r_u64(r, "the probe id", &m->probe.id)) ||
            (rc = r_u64(r, "the fill length", &m->probe.fill)))
            break;
        if (m->probe.fill != r->n - r->pos)
            return clv_error_set(r->err, CLV_EFORMAT,
                                 "PROBE: %llu fill bytes announced, %zu sent",
                                 (unsigned long long)m->probe.fill,
                                 r->n - r->pos);
        r->pos = r->n;
        break;
    case CLV_NET_PROBE_ACK:
        if ((rc = r_u64(r, "the probe id", &m->probe_ack.id)) ||
            (rc = r_u64(r, "the byte count", &m->probe_ack.bytes)) ||
            (rc = r_u64(r, "recv_ns", &m->probe_ack.recv_ns)))
            break;
        break;
    case CLV_NET_ERROR:
        if ((rc = r_u32(r, "the code", &u)) ||
            (rc = r_str(r, "the text", r->lim->max_text, &m->error.text)))
            break;
        m->error.code = (int32_t)u;
        break;
    case CLV_NET_BYE:
        break;
    case CLV_NET_TIMES_REQUEST:
        if (!(rc = r_u32(r, "a reserved field", &res)))
            rc = r_zero(r, "a reserved field", res);
        break;
    case CLV_NET_TIMES:
        rc = decode_times(r, m);
        break;
    default:
        return clv_error_set(r->err, CLV_EFORMAT, "unknown message type %d",
                             (int)type);
    }
    if (!rc)
        rc = r_end(r);
    return rc;
}

int clv_net__decode_payload_nocrc(clv_net_type type, const void *payload,
                                  size_t len, const clv_net_limits *lim,
                                  clv_net_msg *m, clv_error *err)
{
    clv_net_limits tmp;
    lim = limits_or_default(lim, &tmp);
    clv_net_msg_release(m);
    if (type <= CLV_NET_NONE || type >= CLV_NET_TYPE_END)
        return clv_error_set(err, CLV_EFORMAT, "unknown message type %d",
                             (int)type);
    if (len > clv_net__type_cap(type, lim))
        return clv_error_set(err, CLV_ELIMIT,
                             "%s: payload of %zu bytes, the limit is %llu",
                             clv_net_type_name(type), len,
                             (unsigned long long)clv_net__type_cap(type, lim));
    if (len && !payload)
        return clv_error_set(err, CLV_EINVAL, "no payload buffer");
    rd r = {payload, len, 0, clv_net_type_name(type), lim, err};
    int rc = decode(&r, type, m);
    if (rc) {
        clv_net_msg_release(m);
        return rc;
    }
    m->payload_len = len;
    return 0;
}

int clv_net_decode_payload(const clv_net_header *h, const void *payload,
                           size_t len, const clv_net_limits *lim,
                           clv_net_msg *m, clv_error *err)
{
    clv_net_msg_release(m);
    if (len != h->payload_len)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %zu payload bytes, the header says %llu",
                             clv_net_type_name(h->type), len,
                             (unsigned long long)h->payload_len);
    uint32_t crc = clv_net_crc32c(0, payload, len);
    if (crc != h->payload_crc)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: payload checksum mismatch (0x%08x, "
                             "computed 0x%08x)",
                             clv_net_type_name(h->type),
                             (unsigned)h->payload_crc, (unsigned)crc);
    return clv_net__decode_payload_nocrc(h->type, payload, len, lim, m, err);
}

int clv_net_decode(const void *buf, size_t len, const clv_net_limits *lim,
                   clv_net_msg *m, clv_error *err)
{
    clv_net_header h;
    clv_net_msg_release(m);
    if (len < CLV_NET_HEADER_SIZE)
        return clv_error_set(err, CLV_EFORMAT,
                             "truncated header: %zu of %d bytes", len,
                             CLV_NET_HEADER_SIZE);
    int rc = clv_net_header_parse(buf, lim, &h, err);
    if (rc)
        return rc;
    const uint8_t *p = (const uint8_t *)buf + CLV_NET_HEADER_SIZE;
    size_t plen = len - CLV_NET_HEADER_SIZE;
    if (plen != h.payload_len)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s: %s: %zu payload bytes, the header says "
                             "%llu",
                             clv_net_type_name(h.type),
                             plen < h.payload_len ? "truncated"
                                                  : "trailing bytes",
                             plen, (unsigned long long)h.payload_len);
    return clv_net_decode_payload(&h, p, plen, lim, m, err);
}
