/* The codec's front: names, the context, the 8-byte header every encoding
 * starts with, min-max quantization (JALAD §III-B) and the packed and zstd
 * entropy stages. Huffman is in huffman.c, pictures in image.c; the byte
 * format is docs/codec.md. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "codec/internal.h"

#define HEADER_BYTES 8
#define FLAG_PER_CHANNEL 1u
/* Tensors the decoder accepts: numel below 2^31 keeps every index, bit
 * count and byte count far from overflow. */
#define MAX_NUMEL ((size_t)1 << 31)

static const char *const kind_names[CLV_CODEC_KIND_COUNT] = {
    "raw", "quant", "u8", "png", "jpeg"};
static const char *const entropy_names[CLV_CODEC_ENTROPY_COUNT] = {
    "packed", "huffman", "zstd"};

/* ---- buffers and reading ------------------------------------------------- */

int clv_codec__reserve(codec_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2)
            return CLV_ENOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return CLV_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int clv_codec__sym_reserve(clv_codec_ctx *ctx, size_t n)
{
    if (n <= ctx->sym_cap)
        return 0;
    uint16_t *s = realloc(ctx->sym, (n ? n : 1) * sizeof *s);
    if (!s)
        return CLV_ENOMEM;
    ctx->sym = s;
    ctx->sym_cap = n;
    return 0;
}

int clv_codec__rd_bytes(codec_rd *r, size_t k, const uint8_t **out,
                        const char *field, clv_error *err)
{
    if (k > r->n - r->pos)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: %s needs %zu bytes, %zu are left "
                             "(truncated?)",
                             r->what, field, k, r->n - r->pos);
    *out = r->p + r->pos;
    r->pos += k;
    return 0;
}

int clv_codec__rd_u8(codec_rd *r, uint8_t *v, const char *field, clv_error *err)
{
    const uint8_t *p;
    int rc = clv_codec__rd_bytes(r, 1, &p, field, err);
    if (!rc)
        *v = p[0];
    return rc;
}

int clv_codec__rd_u32(codec_rd *r, uint32_t *v, const char *field, clv_error *err)
{
    const uint8_t *p;
    int rc = clv_codec__rd_bytes(r, 4, &p, field, err);
    if (!rc)
        *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
             (uint32_t)p[3] << 24;
    return rc;
}

int clv_codec__rd_u64(codec_rd *r, uint64_t *v, const char *field, clv_error *err)
{
    const uint8_t *p;
    int rc = clv_codec__rd_bytes(r, 8, &p, field, err);
    if (!rc) {
        uint64_t x = 0;
        for (int i = 7; i >= 0; i--)
            x = x << 8 | p[i];
        *v = x;
    }
    return rc;
}

int clv_codec__rd_f32(codec_rd *r, float *v, const char *field, clv_error *err)
{
    uint32_t u;
    int rc = clv_codec__rd_u32(r, &u, field, err);
    if (!rc)
        memcpy(v, &u, 4);
    return rc;
}

void clv_codec__put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

void clv_codec__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    clv_codec__put_u32(p, u);
}

/* ---- names --------------------------------------------------------------- */

int clv_codec_check(const clv_codec *c, clv_error *err)
{
    if ((unsigned)c->kind >= CLV_CODEC_KIND_COUNT)
        return clv_error_set(err, CLV_EINVAL, "codec: unknown kind %d", (int)c->kind);
    if (c->kind == CLV_CODEC_QUANT) {
        if (c->bits < 1 || c->bits > CLV_CODEC_MAX_BITS)
            return clv_error_set(err, CLV_EINVAL,
                                 "codec: quantization to %d bits; the width "
                                 "is 1..%d",
                                 c->bits, CLV_CODEC_MAX_BITS);
        if ((unsigned)c->entropy >= CLV_CODEC_ENTROPY_COUNT)
            return clv_error_set(err, CLV_EINVAL, "codec: unknown entropy stage %d",
                                 (int)c->entropy);
        if (c->entropy == CLV_CODEC_ZSTD &&
            (c->level < 0 || c->level > ZSTD_maxCLevel()))
            return clv_error_set(err, CLV_EINVAL,
                                 "codec: zstd level %d; levels are 1..%d",
                                 c->level, ZSTD_maxCLevel());
    }
    if (c->kind == CLV_CODEC_JPEG && (c->bits < 0 || c->bits > 100))
        return clv_error_set(err, CLV_EINVAL,
                             "codec: JPEG quality %d; qualities are 1..100",
                             c->bits);
    return 0;
}

int clv_codec_parse(const char *text, clv_codec *out, clv_error *err)
{
    clv_codec c = {0};
    const char *s = text ? text : "";
    char *end;
    if (!strcmp(s, "raw") || !strcmp(s, "f32")) {
        c.kind = CLV_CODEC_RAW;
    } else if (!strcmp(s, "u8")) {
        c.kind = CLV_CODEC_U8;
        c.bits = 8;
    } else if (!strcmp(s, "png")) {
        c.kind = CLV_CODEC_PNG;
        c.bits = 8;
    } else if (!strncmp(s, "jpeg", 4) || !strncmp(s, "jpg", 3)) {
        c.kind = CLV_CODEC_JPEG;
        c.bits = 90;
        const char *q = s + (s[2] == 'g' ? 3 : 4);
        if (*q == ':') {
            long v = strtol(q + 1, &end, 10);
            if (end == q + 1 || *end || v < 1 || v > 100)
                return clv_error_set(err, CLV_EINVAL,
                                     "codec '%s': the JPEG quality after ':' "
                                     "is 1..100",
                                     s);
            c.bits = (int)v;
        } else if (*q) {
            goto bad;
        }
    } else if (s[0] == 'q' && isdigit((unsigned char)s[1])) {
        c.kind = CLV_CODEC_QUANT;
        c.entropy = CLV_CODEC_HUFFMAN;
        long v = strtol(s + 1, &end, 10);
        if (v < 1 || v > CLV_CODEC_MAX_BITS)
            return clv_error_set(err, CLV_EINVAL,
                                 "codec '%s': the width is 1..%d bits", s,
                                 CLV_CODEC_MAX_BITS);
        c.bits = (int)v;
        if (*end == 'c') {
            c.per_channel = 1;
            end++;
        }
        if (*end == '+') {
            const char *e = end + 1;
            if (!strcmp(e, "huffman") || !strcmp(e, "huf")) {
                c.entropy = CLV_CODEC_HUFFMAN;
            } else if (!strcmp(e, "packed") || !strcmp(e, "none")) {
                c.entropy = CLV_CODEC_PACKED;
            } else if (!strncmp(e, "zstd", 4)) {
                c.entropy = CLV_CODEC_ZSTD;
                if (e[4]) {
                    long lv = strtol(e + 4, &end, 10);
                    if (*end || lv < 1 || lv > ZSTD_maxCLevel())
                        return clv_error_set(err, CLV_EINVAL,
                                             "codec '%s': zstd levels are 1..%d",
                                             s, ZSTD_maxCLevel());
                    c.level = (int)lv;
                }
            } else {
                return clv_error_set(err, CLV_EINVAL,
                                     "codec '%s': the entropy stage after '+' "
                                     "is huffman, zstd[LEVEL] or packed",
                                     s);
            }
        } else if (*end) {
            goto bad;
        }
    } else {
        goto bad;
    }
    *out = c;
    return 0;
bad:
    return clv_error_set(err, CLV_EINVAL,
                         "unknown codec '%s': use raw, qC[c][+huffman|+zstd|"
                         "+packed] (C = 1..16 bits, c = per channel), u8, "
                         "png or jpeg[:QUALITY]",
                         s);
}

const char *clv_codec_name(const clv_codec *c, char *buf, size_t n)
{
    if (!n)
        return buf;
    switch (c->kind) {
    case CLV_CODEC_QUANT: {
        char lv[16] = "";
        if (c->entropy == CLV_CODEC_ZSTD && c->level > 1)
            snprintf(lv, sizeof lv, "%d", c->level);
        snprintf(buf, n, "q%d%s+%s%s", c->bits, c->per_channel ? "c" : "",
                 (unsigned)c->entropy < CLV_CODEC_ENTROPY_COUNT
                     ? entropy_names[c->entropy]
                     : "?",
                 lv);
        break;
    }
    case CLV_CODEC_JPEG:
        snprintf(buf, n, "jpeg:%d", c->bits ? c->bits : 90);
        break;
    default:
        snprintf(buf, n, "%s",
                 (unsigned)c->kind < CLV_CODEC_KIND_COUNT ? kind_names[c->kind]
                                                          : "?");
    }
    return buf;
}

int clv_codec_fixed_bytes(const clv_codec *c, int ndim, const int64_t *dims,
                          uint64_t *bytes)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (uint64_t)dims[i];
    switch (c->kind) {
    case CLV_CODEC_RAW:
        *bytes = HEADER_BYTES + 4 * n;
        return 1;
    case CLV_CODEC_U8:
        *bytes = HEADER_BYTES + n;
        return 1;
    case CLV_CODEC_QUANT:
        if (c->entropy != CLV_CODEC_PACKED)
            return 0;
        *bytes = HEADER_BYTES + 8 * (c->per_channel && ndim >= 2 ? (uint64_t)dims[1] : 1) +
                 (n * (uint64_t)c->bits + 7) / 8;
        return 1;
    default:
        return 0;
    }
}

/* ---- context ------------------------------------------------------------- */

clv_codec_ctx *clv_codec_ctx_new(void)
{
    clv_codec_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    size_t ns = (size_t)1 << CLV_CODEC_MAX_BITS;
    ctx->freq = malloc(ns * sizeof *ctx->freq);
    ctx->len = malloc(ns);
    ctx->code = malloc(ns * sizeof *ctx->code);
    ctx->sorted = malloc(ns * sizeof *ctx->sorted);
    ctx->table = malloc(((size_t)1 << 12) * sizeof *ctx->table);
    ctx->pair = malloc(((size_t)1 << 12) * sizeof *ctx->pair);
    if (!ctx->freq || !ctx->len || !ctx->code || !ctx->sorted || !ctx->table ||
        !ctx->pair) {
        clv_codec_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void clv_codec_ctx_free(clv_codec_ctx *ctx)
{
    if (!ctx)
        return;
    free(ctx->out.p);
    free(ctx->tmp.p);
    free(ctx->sym);
    free(ctx->freq);
    free(ctx->len);
    free(ctx->code);
    free(ctx->sorted);
    free(ctx->table);
    free(ctx->pair);
    ZSTD_freeCCtx(ctx->zc);
    ZSTD_freeDCtx(ctx->zd);
    free(ctx);
}

/* ---- quantization -------------------------------------------------------- */

void clv_codec_quantize(const float *x, size_t n, float lo, float hi, int bits,
                        uint16_t *q)
{
    double top = (double)((1u << bits) - 1);
    if (!(hi > lo)) {
        memset(q, 0, n * sizeof *q);
        return;
    }
    /* in double: the scale and the difference are then exact enough that
     * rounding to the nearest level keeps every value within half a step */
    double scale = top / ((double)hi - (double)lo), dlo = lo;
    for (size_t i = 0; i < n; i++) {
        double v = ((double)x[i] - dlo) * scale + 0.5;
        v = v < 0 ? 0 : v > top ? top : v;
        q[i] = (uint16_t)v;
    }
}

void clv_codec_dequantize(const uint16_t *q, size_t n, float lo, float hi,
                          int bits, float *x)
{
    double step = ((double)hi - (double)lo) / (double)((1u << bits) - 1);
    double dlo = lo;
    if (n >= ((size_t)2 << bits)) {
        /* a table of the 2^bits levels, filled by the same formula */
        float lut[1u << 12];
        if (bits <= 12) {
            for (uint32_t k = 0; k < (1u << bits); k++)
                lut[k] = (float)(dlo + (double)k * step);
            for (size_t i = 0; i < n; i++)
                x[i] = lut[q[i]];
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(dlo + (double)q[i] * step);
}

/* The minimum and maximum of x[0..n-1]; 0 when all are finite. When every
 * value is an integer in 0..2^bits-1 the range becomes exactly that
 * (the paper's "otherwise x_i": values that already fit pass unchanged). */
static int range_of(const float *x, size_t n, int bits, float *lo, float *hi)
{
    float mn = INFINITY, mx = -INFINITY;
    int ints = 1;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v))
            return -1;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    if (!n) {
        *lo = *hi = 0;
        return 0;
    }
    float top = (float)((1u << bits) - 1);
    if (mn >= 0 && mx <= top && mx > mn) {
        for (size_t i = 0; i < n && ints; i++)
            ints = x[i] == floorf(x[i]);
        if (ints) {
            mn = 0;
            mx = top;
        }
    }
    *lo = mn;
    *hi = mx;
    return 0;
}

/* The shape's element count, checked. */
static int numel_of(int ndim, const int64_t *dims, size_t *out, const char *what,
                    clv_error *err)
{
    if (ndim < 0 || ndim > 8)
        return clv_error_set(err, CLV_EINVAL, "%s tensor: rank %d", what, ndim);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return clv_error_set(err, CLV_EINVAL, "%s tensor: dimension %d is %lld",
                                 what, i, (long long)dims[i]);
        if (dims[i] && n > MAX_NUMEL / (size_t)dims[i])
            return clv_error_set(err, CLV_ELIMIT,
                                 "%s tensor: more than 2^31 elements", what);
        n *= (size_t)dims[i];
    }
    if (n > MAX_NUMEL)
        return clv_error_set(err, CLV_ELIMIT, "%s tensor: more than 2^31 elements",
                             what);
    *out = n;
    return 0;
}

/* ---- packed -------------------------------------------------------------- */

static size_t packed_bytes(size_t n, int bits)
{
    return (n * (size_t)bits + 7) / 8;
}

static void pack(const uint16_t *q, size_t n, int bits, uint8_t *out)
{
    uint64_t acc = 0;
    int have = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint64_t)q[i] << have;
        have += bits;
        while (have >= 8) {
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            have -= 8;
        }
    }
    if (have)
        out[o++] = (uint8_t)acc;
}

static void unpack(const uint8_t *in, size_t n, int bits, uint16_t *q)
{
    uint64_t acc = 0;
    int have = 0;
    size_t o = 0;
    uint32_t mask = (1u << bits) - 1;
    for (size_t i = 0; i < n; i++) {
        while (have < bits) {
            acc |= (uint64_t)in[o++] << have;
            have += 8;
        }
        q[i] = (uint16_t)(acc & mask);
        acc >>= bits;
        have -= bits;
    }
}

/* ---- zstd ---------------------------------------------------------------- */

static int zstd_encode(clv_codec_ctx *ctx, const uint16_t *q, size_t n, int bits,
                       int level, clv_error *err)
{
    size_t w = bits <= 8 ? 1 : 2, raw = n * w;
    ctx->tmp.len = 0;
    if (clv_codec__reserve(&ctx->tmp, raw ? raw : 1))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    uint8_t *b = ctx->tmp.p;
    if (w == 1) {
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)q[i];
    } else {
        for (size_t i = 0; i < n; i++) {
            b[2 * i] = (uint8_t)q[i];
            b[2 * i + 1] = (uint8_t)(q[i] >> 8);
        }
    }
    if (!ctx->zc && !(ctx->zc = ZSTD_createCCtx()))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory (zstd)");
    size_t bound = ZSTD_compressBound(raw);
    if (clv_codec__reserve(&ctx->out, bound))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    size_t z = ZSTD_compressCCtx(ctx->zc, ctx->out.p + ctx->out.len, bound, b, raw,
                                 level ? level : 1);
    if (ZSTD_isError(z))
        return clv_error_set(err, CLV_EIO, "codec: zstd: %s", ZSTD_getErrorName(z));
    ctx->out.len += z;
    return 0;
}

static int zstd_decode(clv_codec_ctx *ctx, codec_rd *r, uint16_t *q, size_t n,
                       int bits, clv_error *err)
{
    size_t w = bits <= 8 ? 1 : 2, raw = n * w;
    const uint8_t *src;
    size_t left = r->n - r->pos;
    int rc = clv_codec__rd_bytes(r, left, &src, "the zstd frame", err);
    if (rc)
        return rc;
    unsigned long long want = ZSTD_getFrameContentSize(src, left);
    if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: the zstd frame does not say its size "
                             "(or is not a zstd frame)",
                             r->what);
    if (want != raw)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: the zstd frame holds %llu bytes, the "
                             "shape needs %zu",
                             r->what, want, raw);
    ctx->tmp.len = 0;
    if (clv_codec__reserve(&ctx->tmp, raw ? raw : 1))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    if (!ctx->zd && !(ctx->zd = ZSTD_createDCtx()))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory (zstd)");
    size_t got = ZSTD_decompressDCtx(ctx->zd, ctx->tmp.p, raw, src, left);
    if (ZSTD_isError(got))
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: zstd: %s", r->what,
                             ZSTD_getErrorName(got));
    if (got != raw)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: zstd gave %zu bytes, the shape needs %zu",
                             r->what, got, raw);
    const uint8_t *b = ctx->tmp.p;
    uint32_t top = (1u << bits) - 1;
    if (w == 1) {
        uint8_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            q[i] = b[i];
            bad |= (uint8_t)(b[i] > top);
        }
        if (bad)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: a value past %u in the zstd frame",
                                 r->what, top);
    } else {
        for (size_t i = 0; i < n; i++) {
            q[i] = (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
            if (q[i] > top)
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s tensor: value %u past %u in the zstd "
                                     "frame",
                                     r->what, q[i], top);
        }
    }
    return 0;
}

/* ---- encode -------------------------------------------------------------- */

/* The channel layout of a per-channel quantization: `outer` blocks of
 * `ch` channels of `inner` values each (axis 1). */
static void channel_layout(int ndim, const int64_t *dims, int per_channel,
                           size_t *outer, size_t *ch, size_t *inner)
{
    if (!per_channel || ndim < 2) {
        *outer = 1;
        *ch = 1;
        *inner = 1;
        for (int i = 0; i < ndim; i++)
            *inner *= (size_t)dims[i];
        return;
    }
    *outer = (size_t)dims[0];
    *ch = (size_t)dims[1];
    *inner = 1;
    for (int i = 2; i < ndim; i++)
        *inner *= (size_t)dims[i];
}

static int quant_encode(clv_codec_ctx *ctx, const clv_codec *spec, const float *x,
                        int ndim, const int64_t *dims, size_t numel, clv_error *err)
{
    int bits = spec->bits;
    size_t outer, nch, inner;
    channel_layout(ndim, dims, spec->per_channel, &outer, &nch, &inner);
    if (nch > UINT32_MAX)
        return clv_error_set(err, CLV_ELIMIT, "codec: too many channels");
    if (clv_codec__sym_reserve(ctx, numel) ||
        clv_codec__reserve(&ctx->out, HEADER_BYTES + 8 * nch))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    uint8_t *h = ctx->out.p;
    h[0] = CLV_CODEC_QUANT;
    h[1] = (uint8_t)bits;
    h[2] = (uint8_t)spec->entropy;
    h[3] = spec->per_channel && ndim >= 2 ? FLAG_PER_CHANNEL : 0;
    clv_codec__put_u32(h + 4, (uint32_t)nch);
    uint8_t *sc = h + HEADER_BYTES;
    for (size_t c = 0; c < nch; c++) {
        float lo = INFINITY, hi = -INFINITY;
        int bad = 0;
        if (nch == 1) {
            bad = range_of(x, numel, bits, &lo, &hi);
        } else {
            /* one channel spread over the outer blocks: its range over all */
            for (size_t o = 0; o < outer && !bad; o++) {
                float l, u;
                bad = range_of(x + (o * nch + c) * inner, inner, bits, &l, &u);
                if (!bad && inner) {
                    lo = l < lo ? l : lo;
                    hi = u > hi ? u : hi;
                }
            }
            if (!isfinite(lo) || !isfinite(hi))
                lo = hi = 0;
        }
        if (bad)
            return clv_error_set(err, CLV_EINVAL,
                                 "codec: the tensor holds a NaN or an infinity; "
                                 "quantization needs finite values (use raw)");
        put_f32(sc + 8 * c, lo);
        put_f32(sc + 8 * c + 4, hi);
        for (size_t o = 0; o < outer; o++) {
            size_t at = (o * nch + c) * inner;
            clv_codec_quantize(x + at, inner, lo, hi, bits, ctx->sym + at);
        }
    }
    ctx->out.len = HEADER_BYTES + 8 * nch;
    switch (spec->entropy) {
    case CLV_CODEC_PACKED: {
        size_t pb = packed_bytes(numel, bits);
        if (clv_codec__reserve(&ctx->out, pb))
            return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
        pack(ctx->sym, numel, bits, ctx->out.p + ctx->out.len);
        ctx->out.len += pb;
        return 0;
    }
    case CLV_CODEC_HUFFMAN:
        return clv_codec__huffman_encode(ctx, ctx->sym, numel, bits, err);
    case CLV_CODEC_ZSTD:
        return zstd_encode(ctx, ctx->sym, numel, bits, spec->level, err);
    default:
        return clv_error_set(err, CLV_EINVAL, "codec: unknown entropy stage");
    }
}

int clv_codec_encode(clv_codec_ctx *ctx, const clv_codec *spec, const float *x,
                     int ndim, const int64_t *dims, const uint8_t **out,
                     size_t *out_len, clv_error *err)
{
    int rc = clv_codec_check(spec, err);
    size_t numel;
    if (rc || (rc = numel_of(ndim, dims, &numel, "codec: the", err)))
        return rc;
    ctx->out.len = 0;
    switch (spec->kind) {
    case CLV_CODEC_RAW:
        if (clv_codec__reserve(&ctx->out, HEADER_BYTES + 4 * numel))
            return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
        memset(ctx->out.p, 0, HEADER_BYTES);
        ctx->out.p[0] = CLV_CODEC_RAW;
        for (size_t i = 0; i < numel; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            clv_codec__put_u32(ctx->out.p + HEADER_BYTES + 4 * i, u);
        }
        ctx->out.len = HEADER_BYTES + 4 * numel;
        break;
    case CLV_CODEC_QUANT:
        rc = quant_encode(ctx, spec, x, ndim, dims, numel, err);
        break;
    default:
        rc = clv_codec__image_encode(ctx, spec, x, ndim, dims, numel, err);
    }
    if (rc)
        return rc;
    *out = ctx->out.p;
    *out_len = ctx->out.len;
    return 0;
}

/* ---- decode -------------------------------------------------------------- */

/* Channel c's (min, max) from the scale pairs at sc (little endian). */
static void scale_pair(const uint8_t *sc, size_t c, float *lo, float *hi)
{
    uint32_t a = (uint32_t)sc[8 * c] | (uint32_t)sc[8 * c + 1] << 8 |
                 (uint32_t)sc[8 * c + 2] << 16 | (uint32_t)sc[8 * c + 3] << 24;
    uint32_t b = (uint32_t)sc[8 * c + 4] | (uint32_t)sc[8 * c + 5] << 8 |
                 (uint32_t)sc[8 * c + 6] << 16 | (uint32_t)sc[8 * c + 7] << 24;
    memcpy(lo, &a, 4);
    memcpy(hi, &b, 4);
}

static int quant_decode(clv_codec_ctx *ctx, codec_rd *r, const clv_codec *spec,
                        int ndim, const int64_t *dims, size_t numel,
                        uint32_t nch_wire, float *out, clv_error *err)
{
    size_t outer, nch, inner;
    channel_layout(ndim, dims, spec->per_channel, &outer, &nch, &inner);
    if (spec->per_channel && ndim < 2)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: per channel, but the shape has rank %d",
                             r->what, ndim);
    if (nch_wire != nch)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: %u scale pairs for %zu channel%s",
                             r->what, nch_wire, nch, nch == 1 ? "" : "s");
    const uint8_t *sc;
    int rc = clv_codec__rd_bytes(r, 8 * nch, &sc, "the scale pairs", err);
    if (rc)
        return rc;
    for (size_t c = 0; c < nch; c++) {
        float lo, hi;
        scale_pair(sc, c, &lo, &hi);
        if (!isfinite(lo) || !isfinite(hi) || hi < lo)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: channel %zu's range [%g, %g] is not "
                                 "a finite interval",
                                 r->what, c, (double)lo, (double)hi);
    }
    if (clv_codec__sym_reserve(ctx, numel))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    uint16_t *q = ctx->sym;
    int bits = spec->bits;
    switch (spec->entropy) {
    case CLV_CODEC_PACKED: {
        const uint8_t *b;
        size_t pb = packed_bytes(numel, bits);
        if ((rc = clv_codec__rd_bytes(r, pb, &b, "the packed values", err)))
            return rc;
        unpack(b, numel, bits, q);
        break;
    }
    case CLV_CODEC_HUFFMAN:
        rc = clv_codec__huffman_decode(ctx, r, q, numel, bits, err);
        break;
    default:
        rc = zstd_decode(ctx, r, q, numel, bits, err);
    }
    if (rc)
        return rc;
    for (size_t c = 0; c < nch; c++) {
        float lo, hi;
        scale_pair(sc, c, &lo, &hi);
        for (size_t o = 0; o < outer; o++) {
            size_t at = (o * nch + c) * inner;
            clv_codec_dequantize(q + at, inner, lo, hi, bits, out + at);
        }
    }
    return 0;
}

int clv_codec_decode(clv_codec_ctx *ctx, const void *in, size_t n, int ndim,
                     const int64_t *dims, float *out, clv_codec_info *info,
                     clv_error *err)
{
    size_t numel;
    int rc = numel_of(ndim, dims, &numel, "encoded", err);
    if (rc)
        return rc;
    codec_rd r = {in, n, 0, "encoded"};
    const uint8_t *h;
    if ((rc = clv_codec__rd_bytes(&r, HEADER_BYTES, &h, "the header", err)))
        return rc;
    clv_codec spec = {0};
    if (h[0] >= CLV_CODEC_KIND_COUNT)
        return clv_error_set(err, CLV_EFORMAT, "encoded tensor: unknown codec %u",
                             h[0]);
    spec.kind = (clv_codec_kind)h[0];
    spec.bits = h[1];
    spec.entropy = (clv_codec_entropy)h[2];
    spec.per_channel = (h[3] & FLAG_PER_CHANNEL) != 0;
    uint32_t nch = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 |
                   (uint32_t)h[7] << 24;
    char name[32];
    clv_codec_name(&spec, name, sizeof name);
    r.what = name;
    if (spec.kind != CLV_CODEC_QUANT &&
        (h[2] || h[3] || nch || (spec.kind != CLV_CODEC_JPEG && h[1] != 8 * (spec.kind != CLV_CODEC_RAW))))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: header fields that must be 0 are not",
                             name);
    if (spec.kind == CLV_CODEC_QUANT && (h[3] & ~FLAG_PER_CHANNEL))
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: unknown flags 0x%x",
                             name, h[3]);
    clv_error e2 = {0};
    if (clv_codec_check(&spec, &e2) ||
        (spec.kind == CLV_CODEC_JPEG && spec.bits == 0))
        return clv_error_set(err, CLV_EFORMAT, "encoded tensor: %s",
                             e2.msg[0] ? e2.msg : "JPEG quality 0");
    size_t table0 = r.pos;
    switch (spec.kind) {
    case CLV_CODEC_RAW: {
        const uint8_t *b;
        if ((rc = clv_codec__rd_bytes(&r, 4 * numel, &b, "the values", err)))
            return rc;
        for (size_t i = 0; i < numel; i++) {
            uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                         (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
            memcpy(&out[i], &u, 4);
        }
        break;
    }
    case CLV_CODEC_QUANT:
        rc = quant_decode(ctx, &r, &spec, ndim, dims, numel, nch, out, err);
        break;
    default:
        rc = clv_codec__image_decode(ctx, &r, &spec, ndim, dims, numel, out, err);
    }
    if (rc)
        return rc;
    if (r.pos != n)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: %zu bytes after the encoding", name,
                             n - r.pos);
    if (info) {
        info->spec = spec;
        size_t scale = spec.kind == CLV_CODEC_QUANT ? 8 * (size_t)nch : 0;
        if (spec.kind == CLV_CODEC_QUANT && spec.entropy == CLV_CODEC_HUFFMAN)
            scale += ctx->huff_table;
        info->table_bytes = HEADER_BYTES + scale;
        info->body_bytes = n - table0 - scale;
    }
    return 0;
}
