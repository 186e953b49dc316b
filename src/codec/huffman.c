/* Canonical Huffman coding of quantized values (JALAD §III-B: "we introduce
 * Huffman Coding to further compress the quantized integer feature maps").
 *
 * Written here rather than taken from a library: zstd's Huffman coder is
 * not part of its public API (and codes bytes only, while c goes to 16 bits),
 * and the code lengths are also what the JALAD tables and the tests need.
 *
 * Lengths: Moffat and Katajainen's in-place minimum-redundancy algorithm on
 * the counts sorted ascending, then limited to CLV_CODEC_HUFFMAN_MAX_LEN by
 * moving overlong codes to the limit and splitting shorter ones until the
 * Kraft sum is exactly 1 (as JPEG's Annex K and miniz do).
 * Bitstream: LSB first, each code written from its most significant bit
 * (so codes are stored bit-reversed); the decoder looks up 11 bits at a
 * time and walks the canonical code for longer ones.
 * Table: the code lengths, either packed 5 bits per symbol of the alphabet
 * ("dense") or as (gap, length) pairs of the used symbols ("sparse"),
 * whichever is smaller. docs/codec.md has the bytes. */
#include <stdlib.h>
#include <string.h>

#include "codec/internal.h"

#define MAXLEN CLV_CODEC_HUFFMAN_MAX_LEN
#define LOOKUP 11
/* the limit for alphabets of at most 256 symbols (c <= 8), as zstd's
 * literals: every code then fits the decoder's table */
#define SHORT_LEN LOOKUP
/* values from which the bitstream is cut into four (decoded together) */
#define FOUR_STREAMS 4096
#define FORM_DENSE 0
#define FORM_SPARSE 1

typedef struct wsym {
    uint64_t w;
    uint32_t sym;
} wsym;

static int cmp_wsym(const void *a, const void *b)
{
    const wsym *x = a, *y = b;
    if (x->w != y->w)
        return x->w < y->w ? -1 : 1;
    return x->sym < y->sym ? -1 : x->sym > y->sym;
}

/* Moffat & Katajainen (1995): A[0..n-1] ascending weights in, code lengths
 * out (A[i] the length of the i-th lightest symbol), in place, O(n). */
static void min_redundancy(uint64_t *A, int n)
{
    if (n == 1) {
        A[0] = 0;
        return;
    }
    /* pass 1: combine, leaving parent pointers in A[0..n-2] */
    A[0] += A[1];
    int root = 0, leaf = 2, next;
    for (next = 1; next < n - 1; next++) {
        if (leaf >= n || A[root] < A[leaf]) {
            A[next] = A[root];
            A[root++] = (uint64_t)next;
        } else {
            A[next] = A[leaf++];
        }
        if (leaf >= n || (root < next && A[root] < A[leaf])) {
            A[next] += A[root];
            A[root++] = (uint64_t)next;
        } else {
            A[next] += A[leaf++];
        }
    }
    /* pass 2: depths of the internal nodes */
    A[n - 2] = 0;
    for (next = n - 3; next >= 0; next--)
        A[next] = A[A[next]] + 1;
    /* pass 3: depths of the leaves */
    int avbl = 1, used = 0;
    uint64_t dpth = 0;
    root = n - 2;
    next = n - 1;
    while (avbl > 0) {
        while (root >= 0 && A[root] == dpth) {
            used++;
            root--;
        }
        while (avbl > used) {
            A[next--] = dpth;
            avbl--;
        }
        avbl = 2 * used;
        dpth++;
        used = 0;
    }
}

static int huff_lengths(const uint64_t *freq, int nsym, uint8_t *len, int limit);

int clv_codec_huffman_lengths(const uint64_t *freq, int nsym, uint8_t *len)
{
    return huff_lengths(freq, nsym, len, nsym <= 256 ? SHORT_LEN : MAXLEN);
}

static int huff_lengths(const uint64_t *freq, int nsym, uint8_t *len, int limit)
{
    int m = 0;
    if (nsym <= 0 || nsym > (1 << CLV_CODEC_MAX_BITS))
        return CLV_EINVAL;
    for (int s = 0; s < nsym; s++) {
        m += freq[s] > 0;
        len[s] = 0;
    }
    if (m <= 1)
        return 0; /* nothing, or one symbol that costs no bits */
    wsym *ws = malloc((size_t)m * sizeof *ws);
    uint64_t *A = calloc((size_t)m, sizeof *A);
    if (!ws || !A) {
        free(ws);
        free(A);
        return CLV_ENOMEM;
    }
    m = 0;
    for (int s = 0; s < nsym; s++)
        if (freq[s])
            ws[m++] = (wsym){freq[s], (uint32_t)s};
    qsort(ws, (size_t)m, sizeof *ws, cmp_wsym);
    for (int i = 0; i < m; i++)
        A[i] = ws[i].w;
    min_redundancy(A, m);
    /* count per length, overlong codes folded onto the limit */
    uint32_t bl[MAXLEN + 1] = {0};
    for (int i = 0; i < m; i++)
        bl[A[i] > (uint64_t)limit ? limit : (int)A[i]]++;
    uint64_t total = 0;
    for (int l = 1; l <= limit; l++)
        total += (uint64_t)bl[l] << (limit - l);
    while (total > ((uint64_t)1 << limit)) {
        /* drop one code at the limit; split a shorter one into two longer */
        bl[limit]--;
        for (int l = limit - 1; l > 0; l--) {
            if (bl[l]) {
                bl[l]--;
                bl[l + 1] += 2;
                break;
            }
        }
        total--;
    }
    /* the lightest symbols take the longest codes */
    int i = 0;
    for (int l = limit; l > 0; l--)
        for (uint32_t k = 0; k < bl[l]; k++)
            len[ws[i++].sym] = (uint8_t)l;
    free(ws);
    free(A);
    return 0;
}

/* Canonical codes from lengths, bit-reversed for the LSB-first stream. */
static void canonical_codes(const uint8_t *len, int nsym, uint32_t *code)
{
    uint32_t bl[MAXLEN + 1] = {0}, next[MAXLEN + 2];
    for (int s = 0; s < nsym; s++)
        bl[len[s]]++;
    bl[0] = 0;
    uint32_t c = 0;
    for (int l = 1; l <= MAXLEN; l++) {
        c = (c + bl[l - 1]) << 1;
        next[l] = c;
    }
    for (int s = 0; s < nsym; s++) {
        int l = len[s];
        if (!l)
            continue;
        uint32_t v = next[l]++, r = 0;
        for (int b = 0; b < l; b++)
            r |= ((v >> b) & 1u) << (l - 1 - b);
        code[s] = r;
    }
}

static size_t varint_len(uint32_t v)
{
    return v < 0x80 ? 1 : v < 0x4000 ? 2 : 3;
}

static uint8_t *put_varint(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

int clv_codec__huffman_encode(clv_codec_ctx *ctx, const uint16_t *q, size_t n,
                              int bits, clv_error *err)
{
    if (bits < 1 || bits > CLV_CODEC_MAX_BITS)
        return clv_error_set(err, CLV_EINVAL, "codec: %d bits", bits);
    int nsym = 1 << bits;
    uint32_t *f = ctx->freq;
    memset(f, 0, (size_t)nsym * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[q[i]]++;
    uint64_t f64[256];
    uint64_t *fw = nsym <= 256 ? f64 : malloc((size_t)nsym * sizeof *fw);
    if (!fw)
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    for (int s = 0; s < nsym; s++)
        fw[s] = f[s];
    int rc = huff_lengths(fw, nsym, ctx->len, nsym <= 256 ? SHORT_LEN : MAXLEN);
    if (fw != f64)
        free(fw);
    if (rc)
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    uint8_t *len = ctx->len;
    uint32_t m = 0, prev = 0;
    size_t sparse = 0;
    uint64_t nbits = 0;
    for (int s = 0; s < nsym; s++) {
        if (!f[s])
            continue;
        sparse += varint_len(m ? (uint32_t)s - prev - 1 : (uint32_t)s) + 1;
        prev = (uint32_t)s;
        m++;
        nbits += (uint64_t)f[s] * len[s];
    }
    size_t dense = ((size_t)nsym * 5 + 7) / 8;
    int form = m >= 2 && dense < sparse ? FORM_DENSE : FORM_SPARSE;
    int ns = m >= 2 && n >= FOUR_STREAMS ? 4 : 1;
    size_t tb = 1 + 4 + (form == FORM_DENSE ? dense : sparse) + 1 + 8 * (size_t)ns;
    size_t body = (size_t)((nbits + 7) / 8) + (size_t)ns;
    if (clv_codec__reserve(&ctx->out, tb + body + 8))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    uint8_t *p = ctx->out.p + ctx->out.len;
    *p++ = (uint8_t)form;
    clv_codec__put_u32(p, m);
    p += 4;
    if (form == FORM_DENSE) {
        memset(p, 0, dense);
        for (int s = 0; s < nsym; s++) {
            size_t bit = (size_t)s * 5;
            uint32_t v = (uint32_t)len[s] << (bit & 7);
            p[bit >> 3] |= (uint8_t)v;
            if ((bit & 7) > 3)
                p[(bit >> 3) + 1] |= (uint8_t)(v >> 8);
        }
        p += dense;
    } else {
        uint32_t k = 0;
        for (int s = 0; s < nsym; s++) {
            if (!f[s])
                continue;
            p = put_varint(p, k ? (uint32_t)s - prev - 1 : (uint32_t)s);
            *p++ = len[s];
            prev = (uint32_t)s;
            k++;
        }
    }
    /* the streams: value ranges [n s / ns, n (s+1) / ns), each its own
     * bitstream from a byte boundary; their bit counts are patched in */
    *p++ = (uint8_t)ns;
    uint8_t *counts = p;
    p += 8 * ns;
    canonical_codes(len, nsym, ctx->code);
    const uint32_t *code = ctx->code;
    uint8_t *o = p;
    for (int st = 0; st < ns; st++) {
        size_t a = n * (size_t)st / (size_t)ns, b = n * (size_t)(st + 1) / (size_t)ns;
        uint64_t acc = 0, sbits = 0;
        int have = 0;
        for (size_t i = a; m >= 2 && i < b; i++) {
            uint16_t s = q[i];
            acc |= (uint64_t)code[s] << have;
            have += len[s];
            sbits += len[s];
            if (have >= 32) {
                clv_codec__put_u32(o, (uint32_t)acc);
                o += 4;
                acc >>= 32;
                have -= 32;
            }
        }
        while (have > 0) {
            *o++ = (uint8_t)acc;
            acc >>= 8;
            have -= 8;
        }
        clv_codec__put_u64(counts + 8 * st, sbits);
    }
    ctx->out.len = (size_t)(o - ctx->out.p);
    return 0;
}

/* ---- decode -------------------------------------------------------------- */

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Reads a code table into len[0..2^bits-1]; *m_out is the number of used
 * symbols and *only the symbol when there is one. */
static int read_table(codec_rd *r, uint8_t *len, int bits, uint32_t *m_out,
                      uint32_t *only, clv_error *err)
{
    int nsym = 1 << bits, rc;
    uint8_t form;
    uint32_t m;
    if ((rc = clv_codec__rd_u8(r, &form, "the code table's form", err)) ||
        (rc = clv_codec__rd_u32(r, &m, "the code table's symbol count", err)))
        return rc;
    if (form > FORM_SPARSE)
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: unknown code table form %u",
                             r->what, form);
    if (m > (uint32_t)nsym)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: the code table claims %u symbols of %d",
                             r->what, m, nsym);
    memset(len, 0, (size_t)nsym);
    if (form == FORM_DENSE) {
        const uint8_t *p;
        size_t dense = ((size_t)nsym * 5 + 7) / 8;
        if ((rc = clv_codec__rd_bytes(r, dense, &p, "the code lengths", err)))
            return rc;
        uint32_t used = 0;
        for (int s = 0; s < nsym; s++) {
            size_t bit = (size_t)s * 5;
            uint32_t v = p[bit >> 3] >> (bit & 7);
            if ((bit & 7) > 3)
                v |= (uint32_t)p[(bit >> 3) + 1] << (8 - (bit & 7));
            len[s] = (uint8_t)(v & 31);
            used += len[s] != 0;
        }
        if (used != m || m == 1)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: the dense code table has %u codes, "
                                 "it says %u",
                                 r->what, used, m);
    } else {
        uint32_t sym = 0;
        for (uint32_t k = 0; k < m; k++) {
            uint32_t gap = 0;
            for (int shift = 0;; shift += 7) {
                uint8_t b;
                if ((rc = clv_codec__rd_u8(r, &b, "a code table gap", err)))
                    return rc;
                if (shift > 14 || (shift == 14 && b > 3))
                    return clv_error_set(err, CLV_EFORMAT,
                                         "%s tensor: a code table gap past 2^16",
                                         r->what);
                gap |= (uint32_t)(b & 0x7f) << shift;
                if (!(b & 0x80))
                    break;
            }
            uint64_t s = k ? (uint64_t)sym + 1 + gap : gap;
            if (s >= (uint64_t)nsym)
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s tensor: code table symbol %llu past %d",
                                     r->what, (unsigned long long)s, nsym - 1);
            sym = (uint32_t)s;
            uint8_t l;
            if ((rc = clv_codec__rd_u8(r, &l, "a code length", err)))
                return rc;
            if ((m == 1) != (l == 0))
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s tensor: code length %u for symbol %u "
                                     "(one symbol takes 0, several take 1..%d)",
                                     r->what, l, sym, MAXLEN);
            len[sym] = l;
            *only = sym;
        }
    }
    if (m >= 2) {
        uint64_t kraft = 0;
        for (int s = 0; s < nsym; s++) {
            if (len[s] > MAXLEN)
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s tensor: code length %u past %d",
                                     r->what, len[s], MAXLEN);
            if (len[s])
                kraft += (uint64_t)1 << (MAXLEN - len[s]);
        }
        if (kraft != ((uint64_t)1 << MAXLEN))
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: the code lengths do not make a "
                                 "complete prefix code (Kraft sum %s 1)",
                                 r->what, kraft > ((uint64_t)1 << MAXLEN) ? ">" : "<");
    }
    *m_out = m;
    return 0;
}

/* One bitstream being read: buf holds cnt valid bits; bytes past the end
 * read as 0, and the bits taken are checked against the count at the end. */
typedef struct hreader {
    const uint8_t *p;
    size_t nbytes, pos;
    uint64_t buf;
    int cnt;
    size_t at, end; /* the values it decodes: q[at..end) */
} hreader;

/* The decoding tables of one code. */
typedef struct hcode {
    const uint32_t *tab;  /* 2^look entries: symbol | length << 16, 0: longer */
    const uint64_t *pair; /* up to two symbols per entry */
    uint32_t tmask;
    int maxlen;
    const uint32_t *first, *bl, *offs;
    const uint16_t *sorted;
} hcode;

static inline void refill_fast(hreader *h)
{
    h->buf |= load64(h->p + h->pos) << h->cnt;
    h->pos += (size_t)(63 - h->cnt) >> 3;
    h->cnt |= 56;
}

/* One value by walking the canonical code (codes longer than the table);
 * -1 when nothing matches (cannot happen with a complete code). */
static inline int slow_one(const hcode *c, hreader *h, uint16_t *out)
{
    uint32_t v = 0;
    for (int l = 1; l <= c->maxlen; l++) {
        v = v << 1 | (uint32_t)(h->buf & 1);
        h->buf >>= 1;
        h->cnt--;
        if (v - c->first[l] < c->bl[l]) {
            *out = c->sorted[c->offs[l] + v - c->first[l]];
            return 0;
        }
    }
    return -1;
}

/* Decodes the rest of h's values: four table lookups of at most 11 bits
 * per refill of at least 56 while 8 bytes of stream and 8 values of room
 * are left (a long code, at most 20 bits with 23 still there, ends the
 * round), then one value at a time. */
static int decode_stream(const hcode *c, hreader *h, uint16_t *q)
{
    size_t i = h->at;
    while (i + 8 <= h->end && h->pos + 8 <= h->nbytes) {
        refill_fast(h);
        for (int k = 0; k < 4; k++) {
            uint64_t e = c->pair[h->buf & c->tmask];
            int ns = (int)(e >> 32) & 3, l = (int)(e >> 40);
            if (!ns) {
                if (slow_one(c, h, &q[i++]))
                    return -1;
                break;
            }
            q[i] = (uint16_t)e;
            q[i + 1] = (uint16_t)(e >> 16); /* overwritten next when ns = 1 */
            i += (size_t)ns;
            h->buf >>= l;
            h->cnt -= l;
        }
    }
    int per_refill = 56 / c->maxlen;
    while (i < h->end) {
        if (h->pos + 8 <= h->nbytes) {
            refill_fast(h);
        } else {
            while (h->cnt <= 56) {
                h->buf |= (uint64_t)(h->pos < h->nbytes ? h->p[h->pos] : 0) << h->cnt;
                h->pos++;
                h->cnt += 8;
            }
        }
        size_t end = i + (size_t)per_refill < h->end ? i + (size_t)per_refill : h->end;
        while (i < end) {
            uint32_t e = c->tab[h->buf & c->tmask];
            int l = (int)(e >> 16);
            if (l) {
                q[i++] = (uint16_t)e;
                h->buf >>= l;
                h->cnt -= l;
            } else if (slow_one(c, h, &q[i++])) {
                return -1;
            }
        }
    }
    h->at = i;
    return 0;
}

/* Four streams at once while each has 8 bytes and 10 values of room left
 * (codes of at most 11 bits: five lookups per refill, none long), so that
 * their table lookups overlap; decode_stream finishes each. The readers'
 * state lives in locals (an array of structs stays in memory). */
static void decode_four(const hcode *c, hreader *h, uint16_t *q)
{
    const uint64_t *pair = c->pair;
    const uint64_t tm = c->tmask;
#define FOUR(X) X(0) X(1) X(2) X(3)
#define LOAD(k)                                                               \
    const uint8_t *p##k = h[k].p;                                             \
    size_t pos##k = h[k].pos, at##k = h[k].at, end##k = h[k].end,             \
           nb##k = h[k].nbytes;                                               \
    uint64_t buf##k = h[k].buf;                                               \
    int cnt##k = h[k].cnt;
    FOUR(LOAD)
#define ROOM(k) (at##k + 10 <= end##k && pos##k + 8 <= nb##k) &&
#define REFILL(k)                                                             \
    buf##k |= load64(p##k + pos##k) << cnt##k;                                \
    pos##k += (size_t)(63 - cnt##k) >> 3;                                     \
    cnt##k |= 56;
#define STEP(k)                                                               \
    {                                                                         \
        uint64_t e = pair[buf##k & tm];                                       \
        int l = (int)(e >> 40);                                               \
        q[at##k] = (uint16_t)e;                                               \
        q[at##k + 1] = (uint16_t)(e >> 16);                                   \
        at##k += (e >> 32) & 3;                                               \
        buf##k >>= l;                                                         \
        cnt##k -= l;                                                          \
    }
#define STORE(k)                                                              \
    h[k].pos = pos##k;                                                        \
    h[k].at = at##k;                                                          \
    h[k].buf = buf##k;                                                        \
    h[k].cnt = cnt##k;
    while (FOUR(ROOM) 1) {
        FOUR(REFILL)
        FOUR(STEP)
        FOUR(STEP)
        FOUR(STEP)
        FOUR(STEP)
        FOUR(STEP)
    }
    FOUR(STORE)
#undef FOUR
#undef LOAD
#undef ROOM
#undef REFILL
#undef STEP
#undef STORE
}

int clv_codec__huffman_decode(clv_codec_ctx *ctx, codec_rd *r, uint16_t *q,
                              size_t n, int bits, clv_error *err)
{
    int nsym = 1 << bits, rc;
    uint8_t *len = ctx->len;
    uint32_t m = 0, only = 0;
    uint8_t ns;
    size_t start = r->pos;
    if ((rc = read_table(r, len, bits, &m, &only, err)) ||
        (rc = clv_codec__rd_u8(r, &ns, "the stream count", err)))
        return rc;
    if (ns != 1 && ns != 4)
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: %u streams (1 or 4)",
                             r->what, ns);
    uint64_t nbits[4], total = 0;
    for (int s = 0; s < ns; s++) {
        if ((rc = clv_codec__rd_u64(r, &nbits[s], "a stream's bit count", err)))
            return rc;
        if (nbits[s] > 8 * (uint64_t)(r->n - r->pos))
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: %llu bits of code, %zu bytes left "
                                 "(truncated?)",
                                 r->what, (unsigned long long)nbits[s], r->n - r->pos);
        total += nbits[s];
    }
    ctx->huff_table = r->pos - start;
    hreader h[4];
    for (int s = 0; s < ns; s++) {
        size_t a = n * (size_t)s / ns, b = n * (size_t)(s + 1) / ns;
        size_t nb = (size_t)((nbits[s] + 7) / 8);
        memset(&h[s], 0, sizeof h[s]);
        if ((rc = clv_codec__rd_bytes(r, nb, &h[s].p, "a bitstream", err)))
            return rc;
        h[s].nbytes = nb;
        h[s].at = a;
        h[s].end = b;
        if (m >= 2 && (nbits[s] < b - a || nbits[s] > (uint64_t)(b - a) * MAXLEN))
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: %llu bits cannot hold %zu values",
                                 r->what, (unsigned long long)nbits[s], b - a);
    }
    if (m <= 1) {
        /* no symbols (an empty tensor) or one that costs no bits */
        if (total || (m == 0 && n))
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: %u symbols and %llu bits for %zu "
                                 "values",
                                 r->what, m, (unsigned long long)total, n);
        for (size_t i = 0; i < n; i++)
            q[i] = (uint16_t)only;
        return 0;
    }
    /* canonical decoding arrays */
    uint32_t bl[MAXLEN + 1] = {0}, first[MAXLEN + 2], offs[MAXLEN + 2];
    int maxlen = 0;
    for (int s = 0; s < nsym; s++) {
        bl[len[s]]++;
        maxlen = len[s] > maxlen ? len[s] : maxlen;
    }
    bl[0] = 0;
    uint32_t cc = 0, o = 0;
    for (int l = 1; l <= MAXLEN; l++) {
        cc = (cc + bl[l - 1]) << 1;
        first[l] = cc;
        offs[l] = o;
        o += bl[l];
    }
    uint32_t fill[MAXLEN + 1];
    memcpy(fill, offs, sizeof fill);
    for (int s = 0; s < nsym; s++)
        if (len[s])
            ctx->sorted[fill[len[s]]++] = (uint16_t)s;
    canonical_codes(len, nsym, ctx->code);
    int look = maxlen < LOOKUP ? maxlen : LOOKUP;
    uint32_t *tab = ctx->table, tmask = (1u << look) - 1;
    memset(tab, 0, ((size_t)1 << look) * sizeof *tab);
    for (int s = 0; s < nsym; s++) {
        int l = len[s];
        if (!l || l > look)
            continue;
        for (uint32_t k = ctx->code[s]; k <= tmask; k += 1u << l)
            tab[k] = (uint32_t)s | (uint32_t)l << 16;
    }
    /* up to two symbols per lookup when both codes fit the table's bits
     * (skewed counts, as after a ReLU, make most codes short) */
    uint64_t *pair = ctx->pair;
    for (uint32_t idx = 0; idx <= tmask; idx++) {
        uint32_t e1 = tab[idx];
        int l1 = (int)(e1 >> 16);
        uint64_t v = 0;
        if (l1) {
            v = (e1 & 0xffff) | (uint64_t)1 << 32 | (uint64_t)l1 << 40;
            uint32_t e2 = l1 < look ? tab[idx >> l1] : 0;
            int l2 = (int)(e2 >> 16);
            if (l2 && l2 <= look - l1)
                v = (e1 & 0xffff) | (uint64_t)(e2 & 0xffff) << 16 | (uint64_t)2 << 32 |
                    (uint64_t)(l1 + l2) << 40;
        }
        pair[idx] = v;
    }
    hcode c = {tab, pair, tmask, maxlen, first, bl, offs, ctx->sorted};
    if (ns == 4 && maxlen <= LOOKUP)
        decode_four(&c, h, q);
    for (int s = 0; s < ns; s++) {
        if (decode_stream(&c, &h[s], q))
            return clv_error_set(err, CLV_EFORMAT, "%s tensor: no code matches",
                                 r->what);
        uint64_t taken = (uint64_t)h[s].pos * 8 - (uint64_t)h[s].cnt;
        if (taken != nbits[s])
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: stream %d's values took %llu bits, "
                                 "it has %llu",
                                 r->what, s, (unsigned long long)taken,
                                 (unsigned long long)nbits[s]);
    }
    return 0;
}
