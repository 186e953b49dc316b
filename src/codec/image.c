/* A frame the way a camera sends it: 8-bit pixels, or those pixels as a PNG
 * or JPEG file (stb's writer and reader, Debian's libstb). The tensor holds
 * pixel / 255 (the trained model's convention, docs/codec.md); a value is
 * rounded to the nearest pixel, clamped to 0..255, and decodes to
 * pixel / 255 again, so a frame that came from pixels passes u8 and PNG
 * bit for bit. PNG and JPEG take 1x1xHxW (grey) or 1x3xHxW (RGB). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_write.h>
#include <zlib.h>

#include "codec/internal.h"

#define HEADER_BYTES 8

static uint8_t to_pixel(float x)
{
    double v = (double)x * 255.0 + 0.5;
    /* NaN fails both tests and becomes 0 */
    return v >= 255.0 ? 255 : v >= 1.0 ? (uint8_t)v : 0;
}

typedef struct sink {
    codec_buf *b;
    int failed;
} sink;

static void sink_write(void *ctx, void *data, int size)
{
    sink *s = ctx;
    if (s->failed || size <= 0)
        return;
    if (clv_codec__reserve(s->b, (size_t)size)) {
        s->failed = 1;
        return;
    }
    memcpy(s->b->p + s->b->len, data, (size_t)size);
    s->b->len += (size_t)size;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* stb decodes what it can of a damaged file (it checks no CRC and stops
 * at the image data's end), so the container is checked first: a PNG is
 * its signature and whole chunks with good CRCs up to an IEND that ends
 * the bytes; a JPEG starts with SOI and ends with EOI. A truncated or
 * corrupted file is then an error, not a partly decoded picture. */
static int check_container(const uint8_t *p, size_t n, clv_codec_kind kind,
                           const char *what, clv_error *err)
{
    if (kind == CLV_CODEC_JPEG) {
        if (n < 4 || p[0] != 0xff || p[1] != 0xd8 || p[n - 2] != 0xff ||
            p[n - 1] != 0xd9)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: not a whole JPEG file (start or "
                                 "end marker missing: truncated?)",
                                 what);
        return 0;
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 || memcmp(p, sig, 8))
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: no PNG signature", what);
    size_t at = 8;
    for (;;) {
        if (n - at < 12)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: the PNG ends inside a chunk header "
                                 "(truncated?)",
                                 what);
        uint32_t len = be32(p + at);
        if (len > n - at - 12)
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: a PNG chunk of %u bytes runs past "
                                 "the end (truncated?)",
                                 what, len);
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p + at + 4, len + 4);
        if (crc != be32(p + at + 8 + len))
            return clv_error_set(err, CLV_EFORMAT,
                                 "%s tensor: PNG chunk '%.4s' fails its CRC",
                                 what, (const char *)(p + at + 4));
        int iend = !memcmp(p + at + 4, "IEND", 4);
        at += 12 + (size_t)len;
        if (iend) {
            if (at != n)
                return clv_error_set(err, CLV_EFORMAT,
                                     "%s tensor: bytes after the PNG's IEND", what);
            return 0;
        }
    }
}

/* The picture layout of a frame tensor: channels, height, width. */
static int picture_shape(int ndim, const int64_t *dims, int *c, int *h, int *w)
{
    if (ndim != 4 || dims[0] != 1 || (dims[1] != 1 && dims[1] != 3) ||
        dims[2] < 1 || dims[3] < 1 || dims[2] > 65535 || dims[3] > 65535)
        return -1;
    *c = (int)dims[1];
    *h = (int)dims[2];
    *w = (int)dims[3];
    return 0;
}

int clv_codec__image_encode(clv_codec_ctx *ctx, const clv_codec *spec,
                            const float *x, int ndim, const int64_t *dims,
                            size_t numel, clv_error *err)
{
    int quality = spec->kind == CLV_CODEC_JPEG ? (spec->bits ? spec->bits : 90) : 8;
    if (clv_codec__reserve(&ctx->out, HEADER_BYTES))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    memset(ctx->out.p, 0, HEADER_BYTES);
    ctx->out.p[0] = (uint8_t)spec->kind;
    ctx->out.p[1] = (uint8_t)quality;
    ctx->out.len = HEADER_BYTES;
    if (spec->kind == CLV_CODEC_U8) {
        if (clv_codec__reserve(&ctx->out, numel))
            return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
        uint8_t *o = ctx->out.p + HEADER_BYTES;
        for (size_t i = 0; i < numel; i++)
            o[i] = to_pixel(x[i]);
        ctx->out.len += numel;
        return 0;
    }
    int c, h, w;
    if (picture_shape(ndim, dims, &c, &h, &w))
        return clv_error_set(err, CLV_EINVAL,
                             "codec: %s needs a 1x1xHxW or 1x3xHxW frame "
                             "(H, W up to 65535)",
                             spec->kind == CLV_CODEC_PNG ? "PNG" : "JPEG");
    size_t plane = (size_t)h * (size_t)w;
    ctx->tmp.len = 0;
    if (clv_codec__reserve(&ctx->tmp, plane * (size_t)c))
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    uint8_t *px = ctx->tmp.p;
    for (int k = 0; k < c; k++)
        for (size_t i = 0; i < plane; i++)
            px[i * (size_t)c + (size_t)k] = to_pixel(x[(size_t)k * plane + i]);
    sink s = {&ctx->out, 0};
    int ok = spec->kind == CLV_CODEC_PNG
                 ? stbi_write_png_to_func(sink_write, &s, w, h, c, px, w * c)
                 : stbi_write_jpg_to_func(sink_write, &s, w, h, c, px, quality);
    if (s.failed)
        return clv_error_set(err, CLV_ENOMEM, "codec: out of memory");
    if (!ok)
        return clv_error_set(err, CLV_EIO, "codec: stb could not write the %s",
                             spec->kind == CLV_CODEC_PNG ? "PNG" : "JPEG");
    return 0;
}

int clv_codec__image_decode(clv_codec_ctx *ctx, codec_rd *r,
                            const clv_codec *spec, int ndim,
                            const int64_t *dims, size_t numel, float *out,
                            clv_error *err)
{
    (void)ctx;
    const uint8_t *p;
    int rc;
    if (spec->kind == CLV_CODEC_U8) {
        if ((rc = clv_codec__rd_bytes(r, numel, &p, "the pixels", err)))
            return rc;
        for (size_t i = 0; i < numel; i++)
            out[i] = (float)p[i] / 255.0f;
        return 0;
    }
    int c, h, w;
    if (picture_shape(ndim, dims, &c, &h, &w))
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: a picture, but the shape is not "
                             "1x1xHxW or 1x3xHxW",
                             r->what);
    size_t n = r->n - r->pos;
    if ((rc = clv_codec__rd_bytes(r, n, &p, "the picture", err)))
        return rc;
    if (n > INT_MAX)
        return clv_error_set(err, CLV_ELIMIT, "%s tensor: a picture past 2 GiB",
                             r->what);
    if ((rc = check_container(p, n, spec->kind, r->what, err)))
        return rc;
    /* the header first: the size must be the shape's before stb decodes */
    int iw, ih, ic;
    if (!stbi_info_from_memory(p, (int)n, &iw, &ih, &ic))
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: not a picture stb can read",
                             r->what);
    if (iw != w || ih != h)
        return clv_error_set(err, CLV_EFORMAT,
                             "%s tensor: the picture is %dx%d, the shape says "
                             "%dx%d",
                             r->what, iw, ih, w, h);
    int gw, gh, gc;
    uint8_t *px = stbi_load_from_memory(p, (int)n, &gw, &gh, &gc, c);
    if (!px)
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: the picture does not decode",
                             r->what);
    if (gw != w || gh != h) {
        stbi_image_free(px);
        return clv_error_set(err, CLV_EFORMAT, "%s tensor: the picture changed size",
                             r->what);
    }
    size_t plane = (size_t)h * (size_t)w;
    for (int k = 0; k < c; k++)
        for (size_t i = 0; i < plane; i++)
            out[(size_t)k * plane + i] = (float)px[i * (size_t)c + (size_t)k] / 255.0f;
    stbi_image_free(px);
    return 0;
}
