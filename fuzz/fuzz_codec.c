/*
 * libFuzzer harness of the codec's decoder: any bytes, decoded as a tensor
 * of any small shape, give the tensor or an error with a message, never a
 * crash, a leak, a read past the bytes or a write past the tensor. What
 * decodes must encode again with the codec it says it is and decode, to
 * the same values where that codec is lossless on them (raw, u8, PNG:
 * decoded pixels are pixels again; quantized values are not, as the new
 * range is the old levels' span, not the old range).
 *
 * Input: byte 0 is the rank (taken mod 5), the next `rank` bytes the
 * dimensions (each mod 48), the rest the encoded tensor.
 * Seeds: fuzz/corpus/codec (every codec on a few shapes, made by
 * fuzz/make_codec_corpus.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static clv_codec_ctx *ctx, *ctx2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx) {
        ctx = clv_codec_ctx_new();
        ctx2 = clv_codec_ctx_new();
    }
    if (size < 1)
        return 0;
    int ndim = data[0] % 5;
    if (size < 1 + (size_t)ndim)
        return 0;
    int64_t dims[4];
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = data[1 + i] % 48;
        numel *= (size_t)dims[i];
    }
    const uint8_t *enc = data + 1 + ndim;
    size_t n = size - 1 - (size_t)ndim;
    /* an exact copy, so that ASan sees a read past the bytes given */
    uint8_t *in = malloc(n ? n : 1);
    float *out = malloc((numel ? numel : 1) * sizeof *out);
    if (!in || !out)
        __builtin_trap();
    memcpy(in, enc, n);
    clv_error err = {0};
    clv_codec_info info;
    int rc = clv_codec_decode(ctx, in, n, ndim, dims, out, &info, &err);
    if (rc) {
        if ((rc != CLV_EFORMAT && rc != CLV_ELIMIT) || err.code != rc || !err.msg[0])
            __builtin_trap();
    } else if (info.spec.kind != CLV_CODEC_JPEG) {
        /* the decoded values survive their own codec again */
        const uint8_t *re;
        size_t rn;
        if (clv_codec_encode(ctx2, &info.spec, out, ndim, dims, &re, &rn, &err))
            __builtin_trap();
        float *back = malloc((numel ? numel : 1) * sizeof *back);
        if (!back || clv_codec_decode(ctx2, re, rn, ndim, dims, back, NULL, &err) ||
            (info.spec.kind != CLV_CODEC_QUANT &&
             memcmp(back, out, numel * sizeof *out)))
            __builtin_trap();
        free(back);
    }
    free(in);
    free(out);
    return 0;
}
