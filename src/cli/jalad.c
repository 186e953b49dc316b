/* cleave jalad-table: JALAD's lookup tables A_i(c) and S_i(c) for a model,
 * measured on calibration images (docs/jalad.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/load.h"
#include "cleave/profile.h"
#include "cli/cli.h"

static const char jalad_usage[] =
    "usage: cleave jalad-table MODEL -o TABLE.json [--dataset PATH]\n"
    "                          [--images N] [--first K] [--max-bits C]\n"
    "                          [--per-channel] [--jpeg Q1,Q2,...]\n"
    "                          [--threads N] [--seed N] [--quiet]\n"
    "\n"
    "Measures, for every valid single cut of MODEL (and cloud-only), how\n"
    "each encoding of the tensor that crosses changes the model's answer\n"
    "and how many bytes it takes: c-bit quantization (c = 1..C) with the\n"
    "packed, Huffman and zstd stages at the cuts; u8 pixels, PNG and JPEG\n"
    "for the frame. Each calibration image is encoded, decoded and run\n"
    "through the rest of the model at every cut and width. The table\n"
    "(docs/jalad.md) is what `cleave plan --planner jalad --table` and\n"
    "`cleave edge --planner jalad --table` choose from.\n"
    "\n"
    "  MODEL           a classifier: model.onnx, network.cfg or zoo:NAME\n"
    "  -o FILE         where to write the table\n"
    "  --dataset PATH  labelled calibration images (IDX; a directory, a file\n"
    "                  or fashion-mnist: see `cleave run --help`); the\n"
    "                  accuracy loss is then top-1 against the labels.\n"
    "                  Without it: seeded random pixels, where only the\n"
    "                  sizes and the agreement with the uncompressed\n"
    "                  model's top-1 mean anything (the zoo's weights are\n"
    "                  random too)\n"
    "  --images N      calibration images (default 500)\n"
    "  --first K       the first one's index (default 0; keep the images\n"
    "                  you validate on out of the table)\n"
    "  --max-bits C    widths 1..C (default 16)\n"
    "  --per-channel   also one range per channel (qCc)\n"
    "  --jpeg LIST     JPEG qualities for cloud-only (default 10,25,50,75,90)\n"
    "  --threads N     engine threads (default 1)\n"
    "  --seed N        seed of zoo:/.cfg weights and random pixels (default 1)\n"
    "  --quiet         no progress on stderr\n"
    "\n"
    "e.g. cleave jalad-table models/fashion-mnist/fmnist-resnet.onnx \\\n"
    "       --dataset fashion-mnist --images 5000 -o fmnist.jalad.json\n";

static void progress(void *ctx, int done, int total)
{
    (void)ctx;
    fprintf(stderr, "\rcleave jalad-table: %d of %d images", done, total);
    if (done == total)
        fputc('\n', stderr);
}

int cli_jalad_table(int argc, char **argv)
{
    const char *model = NULL, *output = NULL, *dataset = NULL, *jpeg = NULL;
    uint64_t images = 500, first = 0, max_bits = 16, threads = 1, seed = 1;
    bool per_channel = false, quiet = false;
    const cli_opt opts[] = {
        {"output", 'o', CLI_STR, &output, NULL},
        {"dataset", 0, CLI_STR, &dataset, NULL},
        {"jpeg", 0, CLI_STR, &jpeg, NULL},
        {"images", 0, CLI_U64, &images, NULL},
        {"first", 0, CLI_U64, &first, NULL},
        {"max-bits", 0, CLI_U64, &max_bits, NULL},
        {"threads", 0, CLI_U64, &threads, NULL},
        {"seed", 0, CLI_U64, &seed, NULL},
        {"per-channel", 0, CLI_FLAG, &per_channel, NULL},
        {"quiet", 0, CLI_FLAG, &quiet, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int prc = cli_parse("jalad-table", CLI_TEXT(jalad_usage), opts, argc, argv,
                        "MODEL", &model, 1, NULL);
    if (prc >= 0)
        return prc;
    if (!model || !output) {
        fprintf(stderr, "cleave jalad-table: MODEL and -o FILE are required (see "
                        "cleave jalad-table --help)\n");
        return CLI_USAGE;
    }
    if (images < 1 || images > 1000000 || max_bits < 1 || max_bits > 16 ||
        threads < 1 || threads > 64 || first > 100000000) {
        fprintf(stderr, "cleave jalad-table: --images 1..1000000, --max-bits "
                        "1..16, --threads 1..64\n");
        return CLI_USAGE;
    }
    int q[32], nq = 0;
    if (jpeg) {
        const char *s = jpeg;
        while (*s && nq < 32) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 1 || v > 100 || (*end && *end != ',')) {
                fprintf(stderr, "cleave jalad-table: --jpeg: qualities 1..100 "
                                "separated by commas\n");
                return CLI_USAGE;
            }
            q[nq++] = (int)v;
            s = *end ? end + 1 : end;
        }
    }
    clv_graph *g = cli_load(model, seed);
    if (!g)
        return CLI_FAIL;
    clv_dataset *d = NULL;
    clv_jalad_table *t = NULL;
    clv_error err = {0};
    int rc = 0;
    if (dataset && (rc = clv_dataset_load(dataset, NULL, &d, &err)))
        goto out;
    clv_jalad_measure_options o;
    clv_jalad_measure_options_init(&o);
    o.dataset = d;
    o.first = (int)first;
    o.images = (int)images;
    o.max_bits = (int)max_bits;
    o.per_channel = per_channel;
    o.threads = (int)threads;
    o.seed = seed;
    if (nq) {
        o.jpeg_qualities = q;
        o.n_jpeg = nq;
    }
    if (!quiet) {
        o.progress = progress;
        fprintf(stderr, "cleave jalad-table: %s on %s\n", model,
                d ? d->name : "seeded random pixels");
    }
    if ((rc = clv_jalad_measure(g, model, &o, &t, &err)) ||
        (rc = clv_jalad_table_save(t, output, &err)))
        goto out;
    int entries = 0;
    for (int i = 0; i < t->n_cuts; i++)
        entries += t->cuts[i].n_entries;
    printf("wrote %s: %d cut points, %d encodings, %d images", output, t->n_cuts,
           entries, t->images);
    if (t->labelled)
        printf(", uncompressed top-1 accuracy %.2f%%", 100 * t->base_accuracy);
    printf("\n");
out:
    if (rc)
        fprintf(stderr, "cleave jalad-table: %s\n", clv_error_text(&err, rc));
    clv_jalad_table_free(t);
    clv_dataset_free(d);
    clv_graph_free(g);
    return rc ? CLI_FAIL : CLI_OK;
}
