/* Internal to src/codec: the context, a growable output buffer and a
 * bounds-checked reader. */
#ifndef CLEAVE_CODEC_INTERNAL_H
#define CLEAVE_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cleave/codec.h"

typedef struct codec_buf {
    uint8_t *p;
    size_t len, cap;
} codec_buf;

/* Makes room for `extra` more bytes after len. 0 or CLV_ENOMEM. */
int clv_codec__reserve(codec_buf *b, size_t extra);

struct clv_codec_ctx {
    codec_buf out;        /* the encoded bytes handed out */
    codec_buf tmp;        /* zstd's symbol bytes, image pixels */
    uint16_t *sym;        /* quantized values, one per element */
    size_t sym_cap;
    uint32_t *freq;       /* 2^16 symbol counts */
    uint8_t *len;         /* 2^16 code lengths */
    uint32_t *code;       /* 2^16 codes, bit-reversed for the LSB-first stream */
    uint16_t *sorted;     /* symbols in canonical order (decoder) */
    uint32_t *table;      /* the decoder's lookup table */
    uint64_t *pair;       /* and its two-symbol form */
    void *zc, *zd;        /* ZSTD_CCtx, ZSTD_DCtx, made on first use */
    size_t huff_table;    /* bytes of the last decoded Huffman table */
};

/* Grows ctx->sym to n entries. */
int clv_codec__sym_reserve(clv_codec_ctx *ctx, size_t n);

/* A reader over untrusted bytes: every read checks what is left. */
typedef struct codec_rd {
    const uint8_t *p;
    size_t n, pos;
    const char *what; /* the codec's name, for messages */
} codec_rd;

int clv_codec__rd_bytes(codec_rd *r, size_t k, const uint8_t **out,
                        const char *field, clv_error *err);
int clv_codec__rd_u8(codec_rd *r, uint8_t *v, const char *field, clv_error *err);
int clv_codec__rd_u32(codec_rd *r, uint32_t *v, const char *field, clv_error *err);
int clv_codec__rd_u64(codec_rd *r, uint64_t *v, const char *field, clv_error *err);
int clv_codec__rd_f32(codec_rd *r, float *v, const char *field, clv_error *err);

void clv_codec__put_u32(uint8_t *p, uint32_t v);
void clv_codec__put_u64(uint8_t *p, uint64_t v);

/* Huffman (huffman.c): appends the table and the bitstream of the symbols
 * q[0..n-1] (each < 2^bits) to ctx->out. */
int clv_codec__huffman_encode(clv_codec_ctx *ctx, const uint16_t *q, size_t n,
                              int bits, clv_error *err);
/* Reads a table and bitstream from r into q[0..n-1]. */
int clv_codec__huffman_decode(clv_codec_ctx *ctx, codec_rd *r, uint16_t *q,
                              size_t n, int bits, clv_error *err);

/* Frames as pictures (image.c): 8-bit pixels, PNG, JPEG. */
int clv_codec__image_encode(clv_codec_ctx *ctx, const clv_codec *spec,
                            const float *x, int ndim, const int64_t *dims,
                            size_t numel, clv_error *err);
int clv_codec__image_decode(clv_codec_ctx *ctx, codec_rd *r,
                            const clv_codec *spec, int ndim,
                            const int64_t *dims, size_t numel, float *out,
                            clv_error *err);

#endif
