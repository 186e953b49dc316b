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

int clv_codec_huffman_lengths(const uint64_t *freq, int nsym, uint8_t *len)
{
    int m = 0;
    if (nsym <= 0 || nsym > (1 << CLV_CODEC_MAX_BITS))
        return CLV_EINVAL;
    for (int s = 0; s < nsym; s++)
        m += freq[s] > 0;
    memset(len, 0, (size_t)nsym);
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
        bl[A[i] > MAXLEN ? MAXLEN : A[i]]++;
    uint64_t total = 0;
    for (int l = 1; l <= MAXLEN; l++)
        total += (uint64_t)bl[l] << (MAXLEN - l);
    while (total > ((uint64_t)1 << MAXLEN)) {
        /* drop one code at the limit; split a shorter one into two longer */
        bl[MAXLEN]--;
        for (int l = MAXLEN - 1; l > 0; l--) {
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
    for (int l = MAXLEN; l > 0; l--)
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
    int rc = clv_codec_huffman_lengths(fw, nsym, ctx->len);
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
    size_t tb = 1 + 4 + (form == FORM_DENSE ? dense : sparse) + 8;
    size_t body = (size_t)((nbits + 7) / 8);
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
    clv_codec__put_u64(p, nbits);
    p += 8;
    canonical_codes(len, nsym, ctx->code);
    const uint32_t *code = ctx->code;
    uint64_t acc = 0;
    int have = 0;
    uint8_t *o = p;
    if (m >= 2) {
        for (size_t i = 0; i < n; i++) {
            uint16_t s = q[i];
            acc |= (uint64_t)code[s] << have;
            have += len[s];
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

int clv_codec__huffman_decode(clv_codec_ctx *ctx, codec_rd *r, uint16_t *q,
                              size_t n, int bits, clv_error *err)
{
    int nsym = 1 << bits, rc;
    uint8_t *len = ctx->len;
    uint32_t m = 0, only = 0;
    uint64_t nbits;
    size_t start = r->pos;
    if ((rc = read_table(r, len, bits, &m, &only, err)) ||
        (rc = clv_codec__rd_u64(r, &nbits, "the bit count", err)))
        return rc;
    if (nbits > 8 * (uint64_t)(r->n - r->pos))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: %llu bits of code, %zu bytes left "
                             "(truncated?)",
                             r->what, (unsigned long long)nbits, r->n - r->pos);
    ctx->huff_table = r->pos - start;
    const uint8_t *p;
    size_t nbytes = (size_t)((nbits + 7) / 8);
    if ((rc = clv_codec__rd_bytes(r, nbytes, &p, "the bitstream", err)))
        return rc;
    if (m <= 1) {
        /* no symbols (an empty tensor) or one that costs no bits */
        if (nbits || (m == 0 && n))
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: %u symbols and %llu bits for %zu "
                                 "values",
                                 r->what, m, (unsigned long long)nbits, n);
        for (size_t i = 0; i < n; i++)
            q[i] = (uint16_t)only;
        return 0;
    }
    if (nbits < n || nbits > (uint64_t)n * MAXLEN)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: %llu bits cannot hold %zu values",
                             r->what, (unsigned long long)nbits, n);
    /* canonical decoding arrays */
    uint32_t bl[MAXLEN + 1] = {0}, first[MAXLEN + 2], offs[MAXLEN + 2];
    int maxlen = 0;
    for (int s = 0; s < nsym; s++) {
        bl[len[s]]++;
        maxlen = len[s] > maxlen ? len[s] : maxlen;
    }
    bl[0] = 0;
    uint32_t c = 0, o = 0;
    for (int l = 1; l <= MAXLEN; l++) {
        c = (c + bl[l - 1]) << 1;
        first[l] = c;
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
    /* the bit reader: buf holds cnt valid bits; bytes past the end read 0,
     * and the count of bits taken is checked against nbits at the end */
    uint64_t buf = 0;
    int cnt = 0;
    size_t pos = 0;
    int per_refill = 56 / maxlen;
    size_t i = 0;
    while (i < n) {
        if (pos + 8 <= nbytes) {
            buf |= load64(p + pos) << cnt;
            pos += (size_t)(63 - cnt) >> 3;
            cnt |= 56;
        } else {
            while (cnt <= 56) {
                buf |= (uint64_t)(pos < nbytes ? p[pos] : 0) << cnt;
                pos++;
                cnt += 8;
            }
        }
        size_t end = i + (size_t)per_refill < n ? i + (size_t)per_refill : n;
        for (; i < end; i++) {
            uint32_t e = tab[buf & tmask];
            int l = (int)(e >> 16);
            if (l) {
                q[i] = (uint16_t)e;
                buf >>= l;
                cnt -= l;
                continue;
            }
            /* a code longer than the table: walk the canonical code */
            uint32_t v = 0;
            for (l = 1; l <= maxlen; l++) {
                v = v << 1 | (uint32_t)(buf & 1);
                buf >>= 1;
                cnt--;
                if (v - first[l] < bl[l])
                    break;
            }
            if (l > maxlen) /* cannot happen with a complete code */
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s tensor: no code matches", r->what);
            q[i] = ctx->sorted[offs[l] + v - first[l]];
        }
    }
    uint64_t taken = (uint64_t)pos * 8 - (uint64_t)cnt;
    if (taken != nbits)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: the values took %llu bits, the "
                             "stream has %llu",
                             r->what, (unsigned long long)taken,
                             (unsigned long long)nbits);
    return 0;
}
