/* cleave run: run a model on the CPU, print its output and median time. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cleave/engine.h"
#include "cli/cli.h"
#include "util/util.h"

#define RUN_MAX_INPUTS 16
#define RUN_MAX_REPEAT 100000

static const char run_usage[] =
    "usage: cleave run MODEL [--input FILE]... [--output FILE] [--threads N]\n"
    "                  [--repeat K] [--seed N] [--json]\n"
    "       cleave run MODEL --dataset PATH [--labels FILE] [--limit N]\n"
    "                  [--threads N] [--json]\n"
    "\n"
    "Runs MODEL on the CPU with cleave's engine and prints each output's\n"
    "shape and range (top-5 classes for a classifier: an output with one\n"
    "non-batch dim), and the median wall-clock time of K runs after one\n"
    "warm-up run.\n"
    "\n"
    "  MODEL         model.onnx, network.cfg (darknet) or zoo:NAME\n"
    "  --input FILE  the value of the next graph input: raw float32 (native\n"
    "                little-endian, NCHW, exactly the input's size), or a\n"
    "                JPEG or PNG image, resized and normalised as written in\n"
    "                docs/engine.md. Give it once per input; inputs without\n"
    "                one get seeded random values in [0, 1).\n"
    "  --output FILE write the outputs as raw little-endian float32, one\n"
    "                after the other in the model's order\n"
    "  --threads N   threads for the kernels (default 1); results do not\n"
    "                depend on N\n"
    "  --repeat K    timed runs (default 10)\n"
    "  --seed N      seed of random inputs and of zoo:/.cfg weights\n"
    "                (default 1)\n"
    "  --json        the summary as JSON\n"
    "\n"
    "With --dataset, runs a classifier on every image of a labelled data set\n"
    "and prints its top-1 accuracy instead:\n"
    "  --dataset PATH  an IDX images file (MNIST's format, .gz or not), a\n"
    "                directory with t10k-images-idx3-ubyte[.gz] (the test\n"
    "                split), or fashion-mnist (Debian's dataset-fashion-mnist).\n"
    "                Images go in as pixel / 255.\n"
    "  --labels FILE the labels (IDX); default: beside the images\n"
    "  --limit N     only the first N images\n"
    "  e.g. cleave run models/fashion-mnist/fmnist-resnet.onnx --dataset fashion-mnist\n"
    "\n"
    "Exit status: 0 success, 1 the model or an input could not be used,\n"
    "2 bad command line.\n";

/* Seeded uniform [0, 1) values (small integers for index inputs). */
static void random_input(const clv_tensor *t, clv_rng *r, void *buf)
{
    int64_t n = clv_tensor_numel(t);
    if (t->dtype == CLV_DT_FLOAT) {
        clv_rng_fill_uniform(r, buf, (size_t)n, 0.0f, 1.0f);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = clv_rng_uniform(r);
        switch (t->dtype) {
        case CLV_DT_DOUBLE:
            ((double *)buf)[i] = v;
            break;
        case CLV_DT_INT64:
            ((int64_t *)buf)[i] = 0;
            break;
        case CLV_DT_INT32:
            ((int32_t *)buf)[i] = 0;
            break;
        default:
            ((unsigned char *)buf)[i] = 0;
        }
    }
}

/* An output is a classifier's when all its dims but one are 1 (the batch
 * of one included) and that dim has at least 5 entries. */
static bool is_classifier(const clv_tensor *t)
{
    int big = 0;
    if (t->dtype != CLV_DT_FLOAT || t->ndim < 1)
        return false;
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] != 1)
            big++;
    return big == 1 && clv_tensor_numel(t) >= 5;
}

/* The indices of the 5 largest values (ties: lower index first). */
static void top5(const float *v, int64_t n, int64_t *idx)
{
    for (int k = 0; k < 5; k++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++) {
            bool taken = false;
            for (int j = 0; j < k; j++)
                taken |= idx[j] == i;
            if (!taken && (best < 0 || v[i] > v[best]))
                best = i;
        }
        idx[k] = best;
    }
}

typedef struct stats {
    double min, max, mean;
} stats;

static stats stats_of(const clv_tensor *t, const void *buf)
{
    stats s = {0, 0, 0};
    int64_t n = clv_tensor_numel(t);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double v;
        switch (t->dtype) {
        case CLV_DT_FLOAT:
            v = ((const float *)buf)[i];
            break;
        case CLV_DT_DOUBLE:
            v = ((const double *)buf)[i];
            break;
        case CLV_DT_INT64:
            v = (double)((const int64_t *)buf)[i];
            break;
        case CLV_DT_INT32:
            v = ((const int32_t *)buf)[i];
            break;
        case CLV_DT_INT8:
            v = ((const int8_t *)buf)[i];
            break;
        default:
            v = ((const unsigned char *)buf)[i];
        }
        if (i == 0 || v < s.min)
            s.min = v;
        if (i == 0 || v > s.max)
            s.max = v;
        sum += v;
    }
    s.mean = n > 0 ? sum / (double)n : 0.0;
    return s;
}

static bool write_outputs(const char *path, const clv_engine *e,
                          const clv_graph *g, void *const *outs)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cleave run: cannot write %s: %s\n", path,
                strerror(errno));
        return false;
    }
    for (int i = 0; i < clv_engine_n_outputs(e); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_output(e, i));
        int64_t n = clv_tensor_numel(t);
        bool ok = true;
        for (int64_t k = 0; k < n && ok; k++) {
            float v;
            unsigned char b[4];
            uint32_t u;
            switch (t->dtype) {
            case CLV_DT_FLOAT:
                v = ((const float *)outs[i])[k];
                break;
            case CLV_DT_DOUBLE:
                v = (float)((const double *)outs[i])[k];
                break;
            case CLV_DT_INT64:
                v = (float)((const int64_t *)outs[i])[k];
                break;
            case CLV_DT_INT32:
                v = (float)((const int32_t *)outs[i])[k];
                break;
            case CLV_DT_INT8:
                v = ((const int8_t *)outs[i])[k];
                break;
            default:
                v = ((const unsigned char *)outs[i])[k];
            }
            memcpy(&u, &v, 4);
            b[0] = (unsigned char)u;
            b[1] = (unsigned char)(u >> 8);
            b[2] = (unsigned char)(u >> 16);
            b[3] = (unsigned char)(u >> 24);
            ok = fwrite(b, 1, 4, f) == 4;
        }
        if (!ok) {
            fprintf(stderr, "cleave run: writing %s: %s\n", path,
                    strerror(errno));
            fclose(f);
            return false;
        }
    }
    if (fclose(f)) {
        fprintf(stderr, "cleave run: writing %s: %s\n", path,
                strerror(errno));
        return false;
    }
    return true;
}

static void print_human(const char *model, const clv_graph *g,
                        const clv_engine *e, void *const *outs,
                        const char *const *sources, const double *times,
                        int repeat)
{
    char s[96];
    printf("model %s: %d nodes, %.3f GFLOPs, %d thread%s, arena %.1f MiB\n",
           model, clv_graph_n_nodes(g),
           (double)clv_graph_total_flops(g) / 1e9, clv_engine_threads(e),
           clv_engine_threads(e) == 1 ? "" : "s",
           (double)clv_engine_arena_bytes(e) / (1024.0 * 1024.0));
    for (int i = 0; i < clv_engine_n_inputs(e); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_input(e, i));
        clv_tensor_shape_str(t, s, sizeof s);
        printf("input  %-24s %-8s %-18s %s\n", t->name,
               clv_dtype_name(t->dtype), s, sources[i]);
    }
    for (int i = 0; i < clv_engine_n_outputs(e); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_output(e, i));
        stats st = stats_of(t, outs[i]);
        clv_tensor_shape_str(t, s, sizeof s);
        printf("output %-24s %-8s %-18s min %.6g max %.6g mean %.6g\n",
               t->name, clv_dtype_name(t->dtype), s, st.min, st.max,
               st.mean);
        if (is_classifier(t)) {
            int64_t idx[5];
            top5(outs[i], clv_tensor_numel(t), idx);
            printf("  top-5:");
            for (int k = 0; k < 5; k++)
                printf(" %lld (%.4g)", (long long)idx[k],
                       (double)((const float *)outs[i])[idx[k]]);
            printf("\n");
        }
    }
    printf("time: median %.3f ms over %d run%s (min %.3f, max %.3f)\n",
           clv_util_median_sorted(times, repeat), repeat, repeat == 1 ? "" : "s", times[0],
           times[repeat - 1]);
}

static int print_json(const char *model, const clv_graph *g,
                      const clv_engine *e, void *const *outs,
                      const char *const *sources, const double *times,
                      int repeat)
{
    cJSON *root = cJSON_CreateObject(), *a;
    if (!root) {
        fprintf(stderr, "cleave: out of memory\n");
        return CLI_FAIL;
    }
    cJSON_AddStringToObject(root, "format", "cleave-run");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "model", model);
    cJSON_AddNumberToObject(root, "nodes", clv_graph_n_nodes(g));
    cJSON_AddNumberToObject(root, "flops", (double)clv_graph_total_flops(g));
    cJSON_AddNumberToObject(root, "threads", clv_engine_threads(e));
    cJSON_AddNumberToObject(root, "arena_bytes",
                            (double)clv_engine_arena_bytes(e));
    cJSON_AddNumberToObject(root, "runs", repeat);
    cJSON_AddNumberToObject(root, "median_ms", clv_util_median_sorted(times, repeat));
    cJSON_AddNumberToObject(root, "min_ms", times[0]);
    cJSON_AddNumberToObject(root, "max_ms", times[repeat - 1]);
    a = cJSON_AddArrayToObject(root, "inputs");
    for (int i = 0; i < clv_engine_n_inputs(e); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_input(e, i));
        cJSON *o = cJSON_CreateObject(), *sh = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "dtype", clv_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->dims[d]));
        cJSON_AddItemToObject(o, "shape", sh);
        cJSON_AddStringToObject(o, "source", sources[i]);
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(root, "outputs");
    for (int i = 0; i < clv_engine_n_outputs(e); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_output(e, i));
        cJSON *o = cJSON_CreateObject(), *sh = cJSON_CreateArray();
        stats st = stats_of(t, outs[i]);
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "dtype", clv_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->dims[d]));
        cJSON_AddItemToObject(o, "shape", sh);
        cJSON_AddNumberToObject(o, "min", st.min);
        cJSON_AddNumberToObject(o, "max", st.max);
        cJSON_AddNumberToObject(o, "mean", st.mean);
        if (is_classifier(t)) {
            int64_t idx[5];
            cJSON *tp = cJSON_AddArrayToObject(o, "top5");
            top5(outs[i], clv_tensor_numel(t), idx);
            for (int k = 0; k < 5; k++) {
                cJSON *c = cJSON_CreateObject();
                cJSON_AddNumberToObject(c, "index", (double)idx[k]);
                cJSON_AddNumberToObject(
                    c, "score", (double)((const float *)outs[i])[idx[k]]);
                cJSON_AddItemToArray(tp, c);
            }
        }
        cJSON_AddItemToArray(a, o);
    }
    return cli_print_json(root);
}

int cli_run(int argc, char **argv)
{
    const char *model = NULL, *output = NULL, *dataset = NULL, *labels = NULL;
    uint64_t limit = 0;
    const char *inputs[RUN_MAX_INPUTS];
    const char *sources[RUN_MAX_INPUTS];
    int n_inputs = 0, rc = CLI_FAIL;
    uint64_t threads = 1, repeat = 10, seed = 1;
    bool json = false;
    clv_graph *g = NULL;
    clv_engine *e = NULL;
    clv_engine_options opt = {0};
    clv_error err;
    void *ins[RUN_MAX_INPUTS] = {NULL};
    void **outs = NULL;
    double *times = NULL;
    clv_rng rng;

    cli_list in_list = {0};
    const cli_opt opts[] = {
        {"json", 0, CLI_FLAG, &json, NULL},
        {"input", 0, CLI_LIST, &in_list, NULL},
        {"output", 0, CLI_STR, &output, NULL},
        {"threads", 0, CLI_U64, &threads, NULL},
        {"repeat", 0, CLI_U64, &repeat, NULL},
        {"seed", 0, CLI_U64, &seed, NULL},
        {"dataset", 0, CLI_STR, &dataset, NULL},
        {"labels", 0, CLI_STR, &labels, NULL},
        {"limit", 0, CLI_U64, &limit, NULL},
        {NULL, 0, CLI_FLAG, NULL, NULL}};
    int prc = cli_parse("run", CLI_TEXT(run_usage), opts, argc, argv, "MODEL", &model, 1,
                        NULL);
    if (prc >= 0)
        return prc;
    if (in_list.n > RUN_MAX_INPUTS) {
        fprintf(stderr, "cleave run: at most %d --input files\n",
                RUN_MAX_INPUTS);
        return CLI_USAGE;
    }
    for (int i = 0; i < in_list.n; i++)
        inputs[n_inputs++] = in_list.v[i];
    if (threads < 1 || threads > CLV_ENGINE_MAX_THREADS) {
        fprintf(stderr, "cleave run: --threads must be 1 to %d\n",
                CLV_ENGINE_MAX_THREADS);
        return CLI_USAGE;
    }
    if (repeat < 1 || repeat > RUN_MAX_REPEAT) {
        fprintf(stderr, "cleave run: --repeat must be 1 to %d\n",
                RUN_MAX_REPEAT);
        return CLI_USAGE;
    }
    if (!model) {
        fputs(run_usage, stderr);
        return CLI_USAGE;
    }

    g = cli_load(model, seed);
    if (!g)
        return CLI_FAIL;
    clv_error_clear(&err);
    opt.threads = (int)threads;
    {
        int erc = clv_engine_create(g, NULL, 0, &opt, &e, &err);
        if (erc) {
            fprintf(stderr, "cleave run: %s: %s\n", model,
                    clv_error_text(&err, erc));
            goto done;
        }
    }
    if (dataset) {
        if (n_inputs || output) {
            fprintf(stderr, "cleave run: --dataset takes its inputs from the "
                            "data set (no --input or --output)\n");
            rc = CLI_USAGE;
        } else {
            rc = cli_run_dataset(model, g, e, dataset, labels, limit, json);
        }
        goto done;
    }
    if (labels || limit) {
        fprintf(stderr, "cleave run: --labels and --limit go with --dataset\n");
        rc = CLI_USAGE;
        goto done;
    }
    if (n_inputs > clv_engine_n_inputs(e)) {
        fprintf(stderr, "cleave run: %d --input files for a model with %d "
                        "input%s\n",
                n_inputs, clv_engine_n_inputs(e),
                clv_engine_n_inputs(e) == 1 ? "" : "s");
        rc = CLI_USAGE;
        goto done;
    }
    if (clv_engine_n_inputs(e) > RUN_MAX_INPUTS) {
        fprintf(stderr, "cleave run: the model has %d inputs; at most %d "
                        "are supported\n",
                clv_engine_n_inputs(e), RUN_MAX_INPUTS);
        goto done;
    }
    clv_rng_seed(&rng, seed);
    for (int i = 0; i < clv_engine_n_inputs(e); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_input(e, i));
        /* darknet networks take RGB in [0, 1], the rest ImageNet-style */
        bool imagenet = !cli_ends_with(model, ".cfg");
        ins[i] = malloc((size_t)clv_tensor_bytes(t) + 1);
        if (!ins[i]) {
            fprintf(stderr, "cleave run: out of memory\n");
            goto done;
        }
        if (i < n_inputs) {
            clv_error ierr;
            clv_error_clear(&ierr);
            int irc = cli_input_load(inputs[i], t, imagenet, ins[i], &ierr);
            if (irc) {
                fprintf(stderr, "cleave run: %s\n",
                        clv_error_text(&ierr, irc));
                goto done;
            }
            sources[i] = inputs[i];
        } else {
            random_input(t, &rng, ins[i]);
            sources[i] = "(seeded random)";
        }
    }
    outs = calloc((size_t)clv_engine_n_outputs(e) + 1, sizeof *outs);
    times = malloc((size_t)repeat * sizeof *times);
    if (!outs || !times) {
        fprintf(stderr, "cleave run: out of memory\n");
        goto done;
    }
    for (int i = 0; i < clv_engine_n_outputs(e); i++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_output(e, i));
        outs[i] = malloc((size_t)clv_tensor_bytes(t) + 1);
        if (!outs[i]) {
            fprintf(stderr, "cleave run: out of memory\n");
            goto done;
        }
    }
    for (uint64_t r = 0; r <= repeat; r++) {
        double t0 = (clv_util_now_s() * 1e3);
        int erc = clv_engine_run(e, (const void *const *)ins, outs, &err);
        if (erc) {
            fprintf(stderr, "cleave run: %s: %s\n", model,
                    clv_error_text(&err, erc));
            goto done;
        }
        if (r > 0) /* the first run warms caches and is not timed */
            times[r - 1] = (clv_util_now_s() * 1e3) - t0;
    }
    qsort(times, (size_t)repeat, sizeof *times, clv_util_cmp_double);
    if (output && !write_outputs(output, e, g, outs))
        goto done;
    if (json) {
        rc = print_json(model, g, e, outs, sources, times, (int)repeat);
    } else {
        print_human(model, g, e, outs, sources, times, (int)repeat);
        rc = CLI_OK;
    }
done:
    for (int i = 0; i < RUN_MAX_INPUTS; i++)
        free(ins[i]);
    if (outs && e)
        for (int i = 0; i < clv_engine_n_outputs(e); i++)
            free(outs[i]);
    free(outs);
    free(times);
    clv_engine_free(e);
    clv_graph_free(g);
    return rc;
}
