/* The codec: round trips of every encoding on random, constant, all-zero,
 * empty and 2^16-symbol tensors; the dequantization bound; Huffman code
 * lengths against the empirical entropy; the length limit; and the decoder
 * against every truncation and one-byte corruption of an encoding. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/codec.h"
#include "util/util.h"

static clv_codec_ctx *enc_ctx, *dec_ctx;

static size_t numel_of(int ndim, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)dims[i];
    return n;
}

/* Encodes x with `name`, decodes it, and returns the decoded copy (malloc)
 * and the encoded size; NULL on failure (reported). */
static float *round_trip(const char *name, const float *x, int ndim,
                         const int64_t *dims, size_t *bytes)
{
    clv_codec spec;
    clv_error err = {0};
    CHECKF(clv_codec_parse(name, &spec, &err) == 0, "%s: %s", name, err.msg);
    const uint8_t *enc;
    size_t n;
    int rc = clv_codec_encode(enc_ctx, &spec, x, ndim, dims, &enc, &n, &err);
    CHECKF(rc == 0, "encode %s: %s", name, err.msg);
    if (rc)
        return NULL;
    size_t numel = numel_of(ndim, dims);
    float *y = malloc((numel ? numel : 1) * sizeof *y);
    uint8_t *copy = malloc(n);
    memcpy(copy, enc, n);
    clv_codec_info info;
    rc = clv_codec_decode(dec_ctx, copy, n, ndim, dims, y, &info, &err);
    CHECKF(rc == 0, "decode %s: %s", name, err.msg);
    if (!rc) {
        char got[32];
        clv_codec_name(&info.spec, got, sizeof got);
        char want[32];
        clv_codec_name(&spec, want, sizeof want);
        /* per channel of a rank-1 tensor is one range: written per tensor */
        CHECKF(!strcmp(got, want) || (spec.per_channel && ndim < 2),
               "decoded spec %s, encoded %s", got, want);
        CHECK(info.table_bytes + info.body_bytes == n);
    }
    free(copy);
    if (bytes)
        *bytes = n;
    if (rc) {
        free(y);
        return NULL;
    }
    return y;
}

/* The largest |x - y| / step over the tensor, per tensor or per channel
 * (axis 1), with step = (max - min) / (2^bits - 1) of the encoder's range,
 * after taking out the float32 rounding of y. */
static double worst_steps(const float *x, const float *y, int ndim,
                          const int64_t *dims, int bits, int per_channel)
{
    size_t outer = 1, ch = 1, inner = numel_of(ndim, dims);
    if (per_channel && ndim >= 2) {
        outer = (size_t)dims[0];
        ch = (size_t)dims[1];
        inner /= outer * ch;
    }
    double worst = 0;
    for (size_t c = 0; c < ch; c++) {
        float lo = INFINITY, hi = -INFINITY;
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                float v = x[(o * ch + c) * inner + i];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        double step = ((double)hi - lo) / ((1u << bits) - 1);
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                size_t k = (o * ch + c) * inner + i;
                double d = fabs((double)x[k] - y[k]) - fabs((double)y[k]) * 0x1p-24;
                if (step > 0)
                    worst = fmax(worst, d / step);
                else if (d > 0)
                    worst = INFINITY;
            }
    }
    return worst;
}

static void test_parse(void)
{
    const char *good[] = {"raw", "q8+huffman", "q1+packed", "q16c+zstd",
                          "q4c+zstd3", "u8", "png", "jpeg:75"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        clv_codec c;
        clv_error err = {0};
        CHECKF(clv_codec_parse(good[i], &c, &err) == 0, "%s: %s", good[i], err.msg);
        char buf[32];
        CHECKF(!strcmp(clv_codec_name(&c, buf, sizeof buf), good[i]),
               "%s named %s", good[i], buf);
    }
    clv_codec c;
    CHECK(clv_codec_parse("q6", &c, NULL) == 0 && c.entropy == CLV_CODEC_HUFFMAN &&
          c.bits == 6);
    CHECK(clv_codec_parse("jpeg", &c, NULL) == 0 && c.bits == 90);
    const char *bad[] = {"q0", "q17", "q8+gzip", "jpeg:0", "jpeg:101", "png8",
                         "", "q8x", "q4+zstd99"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        clv_error err = {0};
        CHECKF(clv_codec_parse(bad[i], &c, &err) == CLV_EINVAL && err.msg[0],
               "'%s' was taken", bad[i]);
    }
}

static void test_round_trips(void)
{
    clv_rng rng;
    clv_rng_seed(&rng, 7);
    int64_t dims[4] = {2, 6, 9, 11};
    size_t n = numel_of(4, dims);
    float *x = malloc(n * sizeof *x);
    clv_rng_fill_normal(&rng, x, n, 3.0);
    /* channels of very different ranges, and ReLU-like zeros */
    for (size_t i = 0; i < n; i++) {
        size_t c = (i / 99) % 6;
        x[i] = x[i] < 0 ? 0 : x[i] * (float)(1 << (2 * c));
    }
    /* raw is bit exact */
    float *y = round_trip("raw", x, 4, dims, NULL);
    CHECK(y && !memcmp(x, y, n * sizeof *x));
    free(y);
    for (int bits = 1; bits <= 16; bits++) {
        for (int pc = 0; pc < 2; pc++) {
            float *dec[3] = {0};
            const char *ent[3] = {"packed", "huffman", "zstd"};
            size_t sz[3] = {0};
            for (int e = 0; e < 3; e++) {
                char name[32];
                snprintf(name, sizeof name, "q%d%s+%s", bits, pc ? "c" : "", ent[e]);
                dec[e] = round_trip(name, x, 4, dims, &sz[e]);
                if (!dec[e])
                    continue;
                double w = worst_steps(x, dec[e], 4, dims, bits, pc);
                CHECKF(w <= 0.5 + 1e-9, "%s: an error of %.6f steps", name, w);
            }
            /* the entropy stages are lossless: all three decode alike */
            CHECKF(dec[0] && dec[1] && dec[2] &&
                       !memcmp(dec[0], dec[1], n * sizeof *x) &&
                       !memcmp(dec[0], dec[2], n * sizeof *x),
                   "q%d%s: packed, huffman and zstd decode differently", bits,
                   pc ? "c" : "");
            for (int e = 0; e < 3; e++)
                free(dec[e]);
        }
    }
    /* per channel pays on channels of different ranges: channel 0 spans
     * 1/1024 of channel 5, and its error shrinks with its own step */
    size_t s1, s2;
    float *a = round_trip("q4+packed", x, 4, dims, &s1);
    float *b = round_trip("q4c+packed", x, 4, dims, &s2);
    double ea = 0, eb = 0;
    for (size_t o = 0; a && b && o < 2; o++)
        for (size_t i = 0; i < 99; i++) {
            size_t k = o * 6 * 99 + i;
            ea += fabs((double)a[k] - x[k]);
            eb += fabs((double)b[k] - x[k]);
        }
    CHECKF(eb < ea / 8, "channel 0: per channel error %g, per tensor %g", eb, ea);
    free(a);
    free(b);
    free(x);
}

static void test_special_tensors(void)
{
    const char *names[] = {"raw", "q1+packed", "q8+huffman", "q8c+huffman",
                           "q16+huffman", "q3+zstd", "q12c+zstd", "u8"};
    int64_t dims[4] = {1, 3, 16, 16};
    size_t n = numel_of(4, dims);
    float *x = malloc(n * sizeof *x);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        /* constant and all-zero tensors come back exactly */
        for (int z = 0; z < 2; z++) {
            /* u8 keeps pixels: a constant that is one */
            for (size_t i = 0; i < n; i++)
                x[i] = z ? 0.0f : 51.0f / 255.0f;
            float *y = round_trip(names[k], x, 4, dims, NULL);
            CHECKF(y && !memcmp(x, y, n * sizeof *x), "%s: a %s tensor changed",
                   names[k], z ? "zero" : "constant");
            free(y);
        }
        /* empty */
        int64_t e[4] = {1, 3, 0, 16};
        float *y = round_trip(names[k], x, 4, e, NULL);
        CHECKF(y != NULL, "%s: an empty tensor", names[k]);
        free(y);
    }
    /* a constant tensor costs no bits beyond the table under Huffman */
    for (size_t i = 0; i < n; i++)
        x[i] = 1.5f;
    size_t sz;
    float *y = round_trip("q8+huffman", x, 4, dims, &sz);
    CHECKF(sz < 40, "a constant tensor took %zu bytes", sz);
    free(y);
    /* 8-bit pixels survive u8 and PNG, bit for bit; JPEG stays close */
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 7 + (i / 16) * 3) % 256) / 255.0f;
    const char *pix[] = {"u8", "png"};
    for (int k = 0; k < 2; k++) {
        y = round_trip(pix[k], x, 4, dims, NULL);
        CHECKF(y && !memcmp(x, y, n * sizeof *x), "%s changed pixels", pix[k]);
        free(y);
    }
    /* a smooth picture: JPEG at 90 within a few grey levels on average */
    for (size_t c = 0; c < 3; c++)
        for (size_t i = 0; i < 256; i++)
            x[c * 256 + i] = (float)((i % 16) * 8 + (i / 16) * 4 + c * 20) / 255.0f;
    size_t jsz, psz;
    y = round_trip("jpeg:90", x, 4, dims, &jsz);
    double mae = 0;
    for (size_t i = 0; y && i < n; i++)
        mae += fabs((double)x[i] - y[i]);
    mae /= (double)n;
    CHECKF(y && mae < 3.0 / 255, "JPEG 90: mean error %.4f", mae);
    free(y);
    y = round_trip("png", x, 4, dims, &psz);
    free(y);
    /* the paper's "otherwise x_i": integers that fit in c bits pass as is */
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 200);
    y = round_trip("q8+huffman", x, 4, dims, NULL);
    CHECK(y && !memcmp(x, y, n * sizeof *x));
    free(y);
    /* PNG and JPEG refuse what is not a picture */
    int64_t bad[4] = {1, 5, 4, 4};
    clv_codec spec;
    clv_codec_parse("png", &spec, NULL);
    const uint8_t *enc;
    clv_error err = {0};
    CHECK(clv_codec_encode(enc_ctx, &spec, x, 4, bad, &enc, &sz, &err) == CLV_EINVAL);
    /* NaN under quantization is an error, not garbage */
    x[5] = NAN;
    clv_codec_parse("q8", &spec, NULL);
    CHECK(clv_codec_encode(enc_ctx, &spec, x, 4, dims, &enc, &sz, &err) == CLV_EINVAL);
    free(x);

    /* 2^16 symbols: every 16-bit value once, in a shuffled order */
    int64_t d16[1] = {65536};
    float *w = malloc(65536 * sizeof *w);
    clv_rng rng;
    clv_rng_seed(&rng, 3);
    for (int i = 0; i < 65536; i++)
        w[i] = (float)i;
    for (int i = 65535; i > 0; i--) {
        int j = (int)(clv_rng_next(&rng) % (uint64_t)(i + 1));
        float t = w[i];
        w[i] = w[j];
        w[j] = t;
    }
    const char *n16[] = {"q16+huffman", "q16+zstd", "q16+packed"};
    for (int k = 0; k < 3; k++) {
        y = round_trip(n16[k], w, 1, d16, &sz);
        CHECKF(y && !memcmp(w, y, 65536 * sizeof *w), "%s: 2^16 symbols changed",
               n16[k]);
        free(y);
    }
    free(w);
}

/* Shannon entropy of counts, bits per symbol. */
static double entropy(const uint64_t *f, int n)
{
    double tot = 0, h = 0;
    for (int i = 0; i < n; i++)
        tot += (double)f[i];
    for (int i = 0; i < n; i++)
        if (f[i])
            h -= (double)f[i] / tot * log2((double)f[i] / tot);
    return h;
}

static void test_huffman_lengths(void)
{
    static uint64_t f[65536];
    static uint8_t len[65536];
    clv_rng rng;
    clv_rng_seed(&rng, 11);
    for (int trial = 0; trial < 60; trial++) {
        int nsym = 1 << (1 + trial % 16);
        memset(f, 0, sizeof f);
        int kind = trial % 3;
        for (int i = 0; i < nsym; i++) {
            double u = clv_rng_uniform(&rng);
            f[i] = kind == 0 ? (uint64_t)(1 + 1000 * u)                  /* flat */
                   : kind == 1 ? (uint64_t)(100000.0 * pow(0.7, i))      /* geometric */
                               : (u < 0.3 ? (uint64_t)(1 + 50 * u) : 0); /* sparse */
        }
        f[0] += 5000; /* a ReLU's zeros */
        CHECK(clv_codec_huffman_lengths(f, nsym, len) == 0);
        double tot = 0, avg = 0, kraft = 0;
        int maxl = 0, used = 0;
        for (int i = 0; i < nsym; i++) {
            tot += (double)f[i];
            avg += (double)f[i] * len[i];
            if (f[i]) {
                used++;
                kraft += ldexp(1, -len[i]);
                maxl = len[i] > maxl ? len[i] : maxl;
            }
            CHECK(!!f[i] == !!len[i] || used == 1);
        }
        avg /= tot;
        double h = entropy(f, nsym);
        CHECKF(avg >= h - 1e-9 && avg < h + 1, "trial %d: %.4f bits/symbol, entropy %.4f",
               trial, avg, h);
        CHECKF(used < 2 || fabs(kraft - 1) < 1e-12, "trial %d: Kraft sum %.15f", trial,
               kraft);
        CHECK(maxl <= CLV_CODEC_HUFFMAN_MAX_LEN);
    }
    /* Fibonacci counts: an unlimited code would be 29 bits deep; the limit
     * holds (11 bits for at most 256 symbols, 20 beyond), the code stays
     * complete and decodes (codes past 11 bits exercise the decoder's slow
     * path) */
    int nsym = 30;
    memset(f, 0, sizeof f);
    f[0] = f[1] = 1;
    for (int i = 2; i < nsym; i++)
        f[i] = f[i - 1] + f[i - 2];
    for (int big = 0; big < 2; big++) {
        CHECK(clv_codec_huffman_lengths(f, big ? 4096 : 32, len) == 0);
        int maxl = 0;
        double kraft = 0;
        for (int i = 0; i < nsym; i++) {
            maxl = len[i] > maxl ? len[i] : maxl;
            kraft += ldexp(1, -len[i]);
        }
        int want = big ? CLV_CODEC_HUFFMAN_MAX_LEN : 11;
        CHECKF(maxl == want, "Fibonacci: longest code %d, limit %d", maxl, want);
        CHECKF(fabs(kraft - 1) < 1e-12, "Fibonacci: Kraft sum %.15f", kraft);
    }
    /* as a tensor: symbol s f[s] times (about 1.3 M values), shuffled */
    size_t n = 0;
    for (int i = 0; i < nsym; i++)
        n += (size_t)f[i];
    float *x = malloc(n * sizeof *x);
    size_t k = 0;
    for (int i = 0; i < nsym; i++)
        for (uint64_t j = 0; j < f[i]; j++)
            x[k++] = (float)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(clv_rng_next(&rng) % (i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    int64_t dims[1] = {(int64_t)n};
    double h = entropy(f, 32);
    const char *fib[] = {"q5+huffman", "q12+huffman"};
    for (int k = 0; k < 2; k++) {
        size_t sz;
        float *y = round_trip(fib[k], x, 1, dims, &sz);
        CHECKF(y && !memcmp(x, y, n * sizeof *x), "%s: Fibonacci changed", fib[k]);
        CHECKF((double)sz * 8 < (h + 1) * (double)n + 8 * 64,
               "%s: %zu bytes for %.0f bits of entropy", fib[k], sz, h * (double)n);
        free(y);
    }
    free(x);
}

/* Every truncation is an error; every one-byte corruption is an error or a
 * tensor of the right size, never a crash (the sanitizer build checks the
 * memory side). Returns the number of corruptions the decoder refused. */
static void test_hostile(void)
{
    const char *names[] = {"raw", "q3+packed", "q6+huffman", "q6c+huffman",
                           "q12+huffman", "q5+zstd", "u8", "png", "jpeg:80"};
    int64_t dims[4] = {1, 3, 8, 8};
    size_t n = numel_of(4, dims);
    float *x = malloc(n * sizeof *x);
    clv_rng rng;
    clv_rng_seed(&rng, 5);
    for (size_t i = 0; i < n; i++) {
        double u = clv_rng_uniform(&rng);
        x[i] = u < 0.5 ? 0.0f : (float)u;
    }
    float *y = malloc(n * sizeof *y);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        clv_codec spec;
        clv_codec_parse(names[k], &spec, NULL);
        const uint8_t *enc;
        size_t len;
        clv_error err = {0};
        if (clv_codec_encode(enc_ctx, &spec, x, 4, dims, &enc, &len, &err)) {
            CHECKF(0, "%s: %s", names[k], err.msg);
            continue;
        }
        uint8_t *buf = malloc(len);
        memcpy(buf, enc, len);
        int truncated_ok = 0;
        for (size_t cut = 0; cut < len; cut++) {
            /* a copy of exactly `cut` bytes: reading past it is a bug */
            uint8_t *t = malloc(cut ? cut : 1);
            memcpy(t, buf, cut);
            int rc = clv_codec_decode(dec_ctx, t, cut, 4, dims, y, NULL, &err);
            truncated_ok += rc == 0;
            free(t);
        }
        CHECKF(truncated_ok == 0, "%s: %d truncations decoded", names[k], truncated_ok);
        int refused = 0, tried = 0;
        for (size_t at = 0; at < len; at++) {
            const uint8_t flips[] = {0x01, 0x80, 0xff};
            for (int f = 0; f < 3; f++) {
                buf[at] ^= flips[f];
                int rc = clv_codec_decode(dec_ctx, buf, len, 4, dims, y, NULL, &err);
                refused += rc != 0;
                CHECK(rc == 0 || err.msg[0]);
                tried++;
                buf[at] ^= flips[f];
            }
        }
        /* the original still decodes */
        CHECK(clv_codec_decode(dec_ctx, buf, len, 4, dims, y, NULL, &err) == 0);
        /* a wrong shape is refused */
        int64_t other[4] = {1, 3, 8, 9};
        float *z = malloc(numel_of(4, other) * sizeof *z);
        CHECKF(clv_codec_decode(dec_ctx, buf, len, 4, other, z, NULL, &err) != 0,
               "%s: decoded into another shape", names[k]);
        free(z);
        printf("%-12s %5zu bytes: %4d of %4d one-byte corruptions refused\n",
               names[k], len, refused, tried);
        free(buf);
    }
    free(x);
    free(y);
    /* four bitstreams (4096 values and more): every truncation refused, no
     * corruption read past them */
    int64_t big[4] = {1, 4, 32, 32};
    size_t nb = numel_of(4, big);
    x = malloc(nb * sizeof *x);
    y = malloc(nb * sizeof *y);
    for (size_t i = 0; i < nb; i++) {
        double u = clv_rng_uniform(&rng);
        x[i] = u < 0.6 ? 0.0f : (float)(u * u);
    }
    const char *four[] = {"q4+huffman", "q12+huffman"};
    for (int k = 0; k < 2; k++) {
        clv_codec spec;
        clv_codec_parse(four[k], &spec, NULL);
        const uint8_t *enc;
        size_t len;
        clv_error err = {0};
        CHECK(clv_codec_encode(enc_ctx, &spec, x, 4, big, &enc, &len, &err) == 0);
        uint8_t *buf = malloc(len);
        memcpy(buf, enc, len);
        int ok = 0;
        for (size_t cut = 0; cut < len; cut += 1 + cut / 64) {
            uint8_t *t = malloc(cut ? cut : 1);
            memcpy(t, buf, cut);
            ok += clv_codec_decode(dec_ctx, t, cut, 4, big, y, NULL, &err) == 0;
            free(t);
        }
        CHECKF(ok == 0, "%s: %d truncations of four streams decoded", four[k], ok);
        for (size_t at = 0; at < len; at += 1 + at / 128) {
            buf[at] ^= 0x5a;
            clv_codec_decode(dec_ctx, buf, len, 4, big, y, NULL, &err);
            buf[at] ^= 0x5a;
        }
        CHECK(clv_codec_decode(dec_ctx, buf, len, 4, big, y, NULL, &err) == 0);
        free(buf);
    }
    free(x);
    free(y);
}

int main(void)
{
    enc_ctx = clv_codec_ctx_new();
    dec_ctx = clv_codec_ctx_new();
    test_parse();
    test_round_trips();
    test_special_tensors();
    test_huffman_lengths();
    test_hostile();
    clv_codec_ctx_free(enc_ctx);
    clv_codec_ctx_free(dec_ctx);
    return check_report("test_codec");
}
