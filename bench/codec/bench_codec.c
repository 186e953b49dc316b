/*
 * The codec's speed and compression on real cut tensors: for models of the
 * zoo (seeded weights, random-pixel frames) and the trained Fashion-MNIST
 * model (a test image), at four valid single cuts each, every path as the
 * edge runs it (quantize + stage; decode + dequantize), in MB/s of float32
 * input (median of RUNS), with peers in the same run on the same quantized
 * values: zstd at levels 1 and 3 (cleave's zstd stage) and lz4 (liblz4's
 * default, here only). Prints, per tensor and width:
 *   ratio  float32 bytes / encoded bytes
 *   enc, dec  MB/s of float32
 *   edge%  the Huffman path's encode time against the edge part's compute
 *          time up to that cut (the target: at most 5%)
 * and at the end the medians of huffman/zstd-1 speed ratios (target >= 1).
 *
 *   bench_codec RUNS [MODEL ...]   (MODEL: zoo:NAME or an .onnx path)
 */
#define _POSIX_C_SOURCE 200809L
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/codec.h"
#include "cleave/engine.h"
#include "cleave/load.h"
#include "util/util.h"

/* lz4 as a stage: quantize (cleave's), bytes (c <= 8), LZ4_compress_default;
 * decode the reverse. Returns the compressed size. */
static int lz4_path(const float *x, size_t n, int bits, uint16_t *q, uint8_t *b,
                    char *z, int zcap, float *y, int decode)
{
    float lo = x[0], hi = x[0];
    for (size_t i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (!decode) {
        clv_codec_quantize(x, n, lo, hi, bits, q);
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)q[i];
        return LZ4_compress_default((const char *)b, z, (int)n, zcap);
    }
    int got = LZ4_decompress_safe(z, (char *)b, zcap, (int)n);
    for (size_t i = 0; i < n; i++)
        q[i] = b[i];
    clv_codec_dequantize(q, n, lo, hi, bits, y);
    return got;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 21;
    const char *def[] = {"zoo:resnet18", "zoo:mobilenet-v2", "zoo:vgg16",
                         CLEAVE_SOURCE_DIR "/models/fashion-mnist/fmnist-resnet.onnx"};
    int nm = argc > 2 ? argc - 2 : 4;
    const char *const *models = argc > 2 ? (const char *const *)argv + 2 : def;
    if (runs < 3)
        return 2;
    double *t = malloc(sizeof *t * (size_t)runs);
    clv_codec_ctx *ctx = clv_codec_ctx_new();
    const char *names[] = {"q%d+packed", "q%d+huffman", "q%d+zstd", "q%d+zstd3"};
    double hz_enc[64], hz_dec[64], edge_pct[64];
    int nh = 0;
    printf("%-14s %-26s %9s %2s | %-13s %-13s %-13s %-13s %-13s | %6s\n", "model",
           "cut", "KiB", "c", "packed", "huffman", "zstd-1", "zstd-3", "lz4",
           "edge%");
    printf("%-14s %-26s %9s %2s | %-13s %-13s %-13s %-13s %-13s |\n", "", "", "", "",
           "ratio enc/dec", "ratio enc/dec", "ratio enc/dec", "ratio enc/dec",
           "ratio enc/dec");
    for (int m = 0; m < nm; m++) {
        clv_graph *g = NULL;
        clv_error err = {0};
        const char *label = strrchr(models[m], '/') ? strrchr(models[m], '/') + 1 : models[m];
        int rc = strncmp(models[m], "zoo:", 4) ? clv_load_model(models[m], &g, &err)
                                                 : clv_zoo_build(models[m] + 4, 1, 0, &g, &err);
        if (rc) {
            fprintf(stderr, "%s: %s\n", models[m], err.msg);
            continue;
        }
        int n = clv_graph_n_nodes(g);
        int *crossing = malloc(sizeof *crossing * (size_t)n), nv = 0;
        clv_graph_crossing(g, crossing);
        int *valid = malloc(sizeof *valid * (size_t)n);
        for (int i = 0; i < n - 1; i++)
            if (crossing[i] == 1 && clv_graph_node(g, i)->n_outputs > 0 &&
                clv_tensor_numel(clv_graph_tensor(g, clv_graph_node(g, i)->outputs[0])) >= 64)
                valid[nv++] = i;
        const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
        float *x = malloc(clv_tensor_bytes(ti));
        clv_dataset *d = NULL;
        if (clv_tensor_numel(ti) == 784 && !clv_dataset_load("fashion-mnist", NULL, &d, NULL)) {
            clv_dataset_image(d, 0, x);
        } else {
            clv_rng r;
            clv_rng_seed(&r, 1);
            for (int64_t i = 0; i < clv_tensor_numel(ti); i++)
                x[i] = (float)(clv_rng_next(&r) >> 56) / 255.0f;
        }
        clv_dataset_free(d);
        for (int k = 1; k <= 4 && nv; k++) {
            int pos = valid[(nv - 1) * k / 5];
            int *nodes = malloc(sizeof *nodes * (size_t)(pos + 1));
            for (int i = 0; i <= pos; i++)
                nodes[i] = i;
            clv_engine *e = NULL;
            if (clv_engine_create(g, nodes, pos + 1, NULL, &e, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            int tid = clv_engine_output(e, 0);
            const clv_tensor *tt = clv_graph_tensor(g, tid);
            size_t tn = (size_t)clv_tensor_numel(tt);
            float *cut = malloc(tn * sizeof *cut), *y = malloc(tn * sizeof *y);
            const void *ins[1] = {x};
            void *outs[1] = {cut};
            for (int r = 0; r < runs; r++) {
                double t0 = clv_util_now_s();
                clv_engine_run(e, ins, outs, NULL);
                t[r] = clv_util_now_s() - t0;
            }
            double edge_s = clv_util_median(t, runs);
            for (int bits = 4; bits <= 8; bits += 4) {
                printf("%-14s %-26.26s %9.1f %2d |", label, clv_graph_node(g, pos)->name,
                       (double)tn * 4 / 1024, bits);
                double enc_s[5] = {0}, dec_s[5] = {0};
                for (int c = 0; c < 5; c++) {
                    double ratio = 0;
                    if (c < 4) {
                        char nm2[32];
                        clv_codec spec;
                        snprintf(nm2, sizeof nm2, names[c], bits);
                        clv_codec_parse(nm2, &spec, NULL);
                        const uint8_t *bytes = NULL;
                        size_t nb = 0;
                        for (int r = 0; r < runs; r++) {
                            double t0 = clv_util_now_s();
                            clv_codec_encode(ctx, &spec, cut, tt->ndim, tt->dims, &bytes, &nb,
                                             NULL);
                            t[r] = clv_util_now_s() - t0;
                        }
                        enc_s[c] = clv_util_median(t, runs);
                        uint8_t *copy = malloc(nb);
                        memcpy(copy, bytes, nb);
                        for (int r = 0; r < runs; r++) {
                            double t0 = clv_util_now_s();
                            clv_codec_decode(ctx, copy, nb, tt->ndim, tt->dims, y, NULL, NULL);
                            t[r] = clv_util_now_s() - t0;
                        }
                        dec_s[c] = clv_util_median(t, runs);
                        free(copy);
                        ratio = (double)tn * 4 / (double)nb;
                    } else {
                        uint16_t *q = malloc(tn * sizeof *q);
                        uint8_t *b = malloc(tn);
                        int zcap = LZ4_compressBound((int)tn);
                        char *z = malloc((size_t)zcap);
                        int zn = 0;
                        for (int r = 0; r < runs; r++) {
                            double t0 = clv_util_now_s();
                            zn = lz4_path(cut, tn, bits, q, b, z, zcap, y, 0);
                            t[r] = clv_util_now_s() - t0;
                        }
                        enc_s[c] = clv_util_median(t, runs);
                        for (int r = 0; r < runs; r++) {
                            double t0 = clv_util_now_s();
                            lz4_path(cut, tn, bits, q, b, z, zn, y, 1);
                            t[r] = clv_util_now_s() - t0;
                        }
                        dec_s[c] = clv_util_median(t, runs);
                        ratio = (double)tn * 4 / (double)(zn + 16);
                        free(q);
                        free(b);
                        free(z);
                    }
                    double mb = (double)tn * 4 / 1e6;
                    printf(" %5.1f %4.0f/%4.0f", ratio, mb / enc_s[c], mb / dec_s[c]);
                }
                double pct = 100 * enc_s[1] / edge_s;
                printf(" | %5.2f\n", pct);
                if (nh < 64) {
                    hz_enc[nh] = enc_s[2] / enc_s[1];
                    hz_dec[nh] = dec_s[2] / dec_s[1];
                    edge_pct[nh++] = pct;
                }
            }
            free(cut);
            free(y);
            free(nodes);
            clv_engine_free(e);
        }
        free(x);
        free(valid);
        free(crossing);
        clv_graph_free(g);
    }
    if (nh) {
        double worst = 0;
        for (int i = 0; i < nh; i++)
            worst = edge_pct[i] > worst ? edge_pct[i] : worst;
        printf("\nhuffman / zstd-1 speed, median over the %d rows: encode %.2fx, "
               "decode %.2fx (target >= 1)\n",
               nh, clv_util_median(hz_enc, nh), clv_util_median(hz_dec, nh));
        printf("huffman encode against the edge part's compute: median %.2f%%, "
               "worst %.2f%% (target <= 5%%)\n",
               clv_util_median(edge_pct, nh), worst);
    }
    clv_codec_ctx_free(ctx);
    free(t);
    return 0;
}
