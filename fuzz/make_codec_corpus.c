/* Writes fuzz/corpus/codec: every codec on a few shapes, each file the
 * harness's input (rank, dims, encoded tensor). Run from the source tree
 * after a build:
 *   cc -Iinclude fuzz/make_codec_corpus.c build/libcleave.a $(pkg-config
 *      --static --libs ...) -o /tmp/mk && /tmp/mk fuzz/corpus/codec */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/codec.h"

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "fuzz/corpus/codec";
    const char *names[] = {"raw", "q1+packed", "q4+huffman", "q8c+huffman",
                           "q13+huffman", "q16+huffman", "q6+zstd", "u8", "png",
                           "jpeg:70"};
    const int64_t shapes[3][4] = {{1, 1, 7, 5}, {1, 3, 4, 6}, {2, 2, 3, 3}};
    clv_codec_ctx *ctx = clv_codec_ctx_new();
    float x[1024];
    for (int i = 0; i < 1024; i++)
        x[i] = (i * 37 % 11) < 5 ? 0.0f : (float)((i * 53) % 255) / 255.0f;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        for (int s = 0; s < 3; s++) {
            clv_codec spec;
            clv_codec_parse(names[k], &spec, NULL);
            const uint8_t *enc;
            size_t n;
            if (clv_codec_encode(ctx, &spec, x, 4, shapes[s], &enc, &n, NULL))
                continue;
            char path[512], file[64];
            snprintf(file, sizeof file, "%s-%d", names[k], s);
            for (char *c = file; *c; c++)
                if (*c == '+' || *c == ':')
                    *c = '_';
            snprintf(path, sizeof path, "%s/%s", dir, file);
            FILE *f = fopen(path, "wb");
            if (!f)
                return 1;
            uint8_t pre[5] = {4};
            for (int i = 0; i < 4; i++)
                pre[1 + i] = (uint8_t)shapes[s][i];
            fwrite(pre, 1, 5, f);
            fwrite(enc, 1, n, f);
            fclose(f);
        }
    clv_codec_ctx_free(ctx);
    return 0;
}
