/* cleave codec: how a float32 tensor crosses the link.
 *
 * The JALAD paper's feature compression (quantize a cut tensor to c bits by
 * its minimum and maximum, then entropy-code the integers) and the
 * encodings a camera sends a frame in (8-bit pixels, PNG, JPEG), behind
 * one pair of calls:
 *
 *     clv_codec_ctx *ctx = clv_codec_ctx_new();
 *     clv_codec spec;
 *     clv_codec_parse("q6+huffman", &spec, &err);
 *     const uint8_t *bytes; size_t n;
 *     clv_codec_encode(ctx, &spec, x, ndim, dims, &bytes, &n, &err);
 *     ... send n bytes ...
 *     clv_codec_decode(ctx, bytes, n, ndim, dims, y, NULL, &err);
 *
 * The encoded bytes describe themselves (kind, width, entropy stage, scale
 * parameters, code table): the decoder needs only the tensor's shape,
 * which the wire carries beside them (docs/protocol.md). The format is in
 * docs/codec.md. Guarantees, each tested in tests/test_codec.c:
 *   - raw, and every lossless stage, round-trip bit for bit;
 *   - after c-bit quantization every value is within half a step
 *     ((max - min) / (2^c - 1), per tensor or per channel) of the input,
 *     plus the float32 rounding of the result;
 *   - the decoder trusts nothing: a truncated, corrupt or hostile encoding
 *     is CLV_EFORMAT (or CLV_ELIMIT) with a message, never a read outside
 *     the `n` bytes given or a write outside the `numel` floats.
 *
 * A context holds scratch buffers (about 0.75 MB of code tables, and the
 * tensor's values as they grow) and the zstd contexts, reused from call to
 * call; it is not thread-safe: one per thread.
 */
#ifndef CLEAVE_CODEC_H
#define CLEAVE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an encoding is. The values are the `codec` byte of a tensor on the
 * wire (docs/protocol.md); 0 is raw. */
typedef enum clv_codec_kind {
    CLV_CODEC_RAW = 0,   /* float32 little endian, as is */
    CLV_CODEC_QUANT = 1, /* c-bit min-max quantization + an entropy stage */
    CLV_CODEC_U8 = 2,    /* a frame as 8-bit pixels: round(255 x), x in [0, 1] */
    CLV_CODEC_PNG = 3,   /* a frame as a PNG file of those pixels (lossless) */
    CLV_CODEC_JPEG = 4,  /* a frame as a JPEG file of those pixels (lossy) */
    CLV_CODEC_KIND_COUNT
} clv_codec_kind;

/* The entropy stage after quantization. */
typedef enum clv_codec_entropy {
    CLV_CODEC_PACKED = 0,  /* none: c bits per value, packed */
    CLV_CODEC_HUFFMAN = 1, /* canonical Huffman over the quantized values (the
                              paper's) */
    CLV_CODEC_ZSTD = 2,    /* zstd over the values as bytes (c <= 8) or
                              16-bit words (c > 8) */
    CLV_CODEC_ENTROPY_COUNT
} clv_codec_entropy;

#define CLV_CODEC_MAX_BITS 16
/* The longest Huffman code the encoder makes (for c > 8; 11 for c <= 8)
 * and the decoder accepts. */
#define CLV_CODEC_HUFFMAN_MAX_LEN 20

/* One encoding. Zero-initialised it is raw. */
typedef struct clv_codec {
    clv_codec_kind kind;
    int bits;        /* QUANT: c, 1..16; JPEG: quality 1..100 (0 = 90);
                        ignored otherwise */
    clv_codec_entropy entropy; /* QUANT only */
    int per_channel; /* QUANT: one minimum and maximum per channel (axis 1
                        of a tensor of rank >= 2) instead of one */
    int level;       /* ZSTD: the compression level, 0 = 1 */
} clv_codec;

/* Parses a codec name:
 *   raw                      float32 as is
 *   qC[c][+huffman|+zstd|+packed]
 *                            C-bit quantization (1..16), per channel with
 *                            the 'c' suffix, then the entropy stage
 *                            (default huffman); +zstd3 sets the zstd level
 *   u8 | png | jpeg[:Q]      frame encodings (JPEG quality Q, default 90)
 * On success fills *out and returns 0; otherwise CLV_EINVAL naming what is
 * wrong. */
int clv_codec_parse(const char *text, clv_codec *out, clv_error *err);

/* Writes the canonical name of `c` ("q6c+zstd", "jpeg:75") into buf (at
 * most n bytes, NUL-terminated) and returns buf. */
const char *clv_codec_name(const clv_codec *c, char *buf, size_t n);

/* 0 when `c` is a valid encoding, else CLV_EINVAL naming the field. */
int clv_codec_check(const clv_codec *c, clv_error *err);

/* When the encoded size of a tensor of shape dims does not depend on its
 * values (raw, u8, quantization with the packed stage), writes it to
 * *bytes and returns 1; otherwise (Huffman, zstd, PNG, JPEG) returns 0. */
int clv_codec_fixed_bytes(const clv_codec *c, int ndim, const int64_t *dims,
                          uint64_t *bytes);

typedef struct clv_codec_ctx clv_codec_ctx;

/* A new context, or NULL when out of memory. */
clv_codec_ctx *clv_codec_ctx_new(void);
/* Frees the context and its buffers. NULL is allowed. */
void clv_codec_ctx_free(clv_codec_ctx *ctx);

/* Encodes the float32 tensor x of shape dims[0..ndim-1] (row-major) with
 * `spec`. On success *out points to *out_len bytes owned by the context,
 * valid until the next call on it. Fails with CLV_EINVAL for a bad spec,
 * a frame encoding of a tensor that is not 1x1xHxW or 1x3xHxW (PNG, JPEG),
 * or a non-finite value under quantization (the step would be NaN),
 * CLV_ENOMEM, or CLV_EIO when zstd or stb fails. */
int clv_codec_encode(clv_codec_ctx *ctx, const clv_codec *spec,
                     const float *x, int ndim, const int64_t *dims,
                     const uint8_t **out, size_t *out_len, clv_error *err);

/* What a decode found in the bytes. */
typedef struct clv_codec_info {
    clv_codec spec;        /* the encoding used */
    size_t table_bytes;    /* bytes of scale parameters and code table */
    size_t body_bytes;     /* bytes of the values themselves */
} clv_codec_info;

/* Decodes n bytes at `in` into out[0..numel-1], where numel is the product
 * of dims (the shape the wire says the tensor has; the bytes must agree).
 * Fills *info when not NULL. Fails with CLV_EFORMAT naming what is wrong
 * (a truncated or corrupt encoding, a code table that is not a prefix code,
 * a value out of range, trailing bytes), CLV_ELIMIT for a shape past 2^31
 * elements, or CLV_ENOMEM. On failure `out` holds unspecified values. */
int clv_codec_decode(clv_codec_ctx *ctx, const void *in, size_t n, int ndim,
                     const int64_t *dims, float *out, clv_codec_info *info,
                     clv_error *err);

/* ---- pieces, for tests, tables and benchmarks ---------------------------- */

/* Quantizes x[0..n-1] with minimum lo and maximum hi to `bits` bits: q =
 * round((2^bits - 1)(x - lo) / (hi - lo)), clamped to 0..2^bits-1; all 0 when
 * hi == lo. */
void clv_codec_quantize(const float *x, size_t n, float lo, float hi,
                        int bits, uint16_t *q);

/* The inverse: x = lo + q (hi - lo) / (2^bits - 1). */
void clv_codec_dequantize(const uint16_t *q, size_t n, float lo, float hi,
                          int bits, float *x);

/* Canonical Huffman code lengths for the symbol counts freq[0..nsym-1]
 * (1 <= nsym <= 2^16), each at most 11 bits when nsym <= 256 (c <= 8: the
 * decoder's table then holds every code) and CLV_CODEC_HUFFMAN_MAX_LEN
 * beyond; 0 for unused symbols, and 0 for the one symbol of a
 * single-symbol alphabet (it costs no bits). Returns 0, CLV_EINVAL (nsym)
 * or CLV_ENOMEM. */
int clv_codec_huffman_lengths(const uint64_t *freq, int nsym, uint8_t *len);

#ifdef __cplusplus
}
#endif
#endif
