/* cleave run MODEL --dataset PATH: top-1 accuracy of a classifier over a
 * labelled data set (IDX files), image by image through the engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cleave/engine.h"
#include "cleave/load.h"
#include "cli/cli.h"
#include "util/util.h"

int cli_run_dataset(const char *model, const clv_graph *g, clv_engine *e,
                    const char *path, const char *labels, uint64_t limit,
                    bool json)
{
    clv_dataset *d = NULL;
    clv_error err = {0};
    int rc = clv_dataset_load(path, labels, &d, &err);
    if (rc) {
        fprintf(stderr, "cleave run: %s\n", clv_error_text(&err, rc));
        return CLI_FAIL;
    }
    int ret = CLI_FAIL;
    float *in = NULL, *out = NULL;
    double *times = NULL;
    if (!d->labels) {
        fprintf(stderr, "cleave run: %s has no labels file beside it; give one "
                        "with --labels\n", d->name);
        goto done;
    }
    if (clv_engine_n_inputs(e) != 1 || clv_engine_n_outputs(e) != 1) {
        fprintf(stderr, "cleave run: --dataset needs a model with one input "
                        "and one output (%s has %d and %d)\n",
                model, clv_engine_n_inputs(e), clv_engine_n_outputs(e));
        goto done;
    }
    const clv_tensor *ti = clv_graph_tensor(g, clv_engine_input(e, 0));
    const clv_tensor *to = clv_graph_tensor(g, clv_engine_output(e, 0));
    int64_t per = d->channels * d->rows * d->cols;
    if (ti->dtype != CLV_DT_FLOAT || clv_tensor_numel(ti) != per) {
        char s[96];
        clv_tensor_shape_str(ti, s, sizeof s);
        fprintf(stderr, "cleave run: %s's images are %lldx%lldx%lld; the "
                        "model's input '%s' is %s %s\n",
                d->name, (long long)d->channels, (long long)d->rows,
                (long long)d->cols, ti->name, clv_dtype_name(ti->dtype), s);
        goto done;
    }
    int64_t classes = clv_tensor_numel(to);
    if (to->dtype != CLV_DT_FLOAT || classes < 2) {
        fprintf(stderr, "cleave run: the output '%s' is not a vector of class "
                        "scores\n", to->name);
        goto done;
    }
    int64_t n = d->count;
    if (limit && (int64_t)limit < n)
        n = (int64_t)limit;
    in = malloc((size_t)per * sizeof *in);
    out = malloc((size_t)classes * sizeof *out);
    times = malloc((size_t)(n ? n : 1) * sizeof *times);
    if (!in || !out || !times) {
        fprintf(stderr, "cleave run: out of memory\n");
        goto done;
    }
    int64_t correct = 0, beyond = 0;
    for (int64_t i = 0; i < n; i++) {
        clv_dataset_image(d, i, in);
        const void *ins[1] = {in};
        void *outs[1] = {out};
        double t0 = clv_util_now_s();
        rc = clv_engine_run(e, ins, outs, &err);
        times[i] = (clv_util_now_s() - t0) * 1e3;
        if (rc) {
            fprintf(stderr, "cleave run: %s: image %lld: %s\n", model,
                    (long long)i, clv_error_text(&err, rc));
            goto done;
        }
        int64_t k = clv_util_argmax(out, classes);
        correct += k == d->labels[i];
        beyond += d->labels[i] >= classes;
    }
    double acc = n ? (double)correct / (double)n : 0;
    double med = clv_util_median(times, (int)n);
    if (beyond)
        fprintf(stderr, "cleave run: warning: %lld labels are past the model's "
                        "%lld classes\n", (long long)beyond, (long long)classes);
    if (json) {
        cJSON *root = cJSON_CreateObject();
        if (!root) {
            fprintf(stderr, "cleave: out of memory\n");
            goto done;
        }
        cJSON_AddStringToObject(root, "format", "cleave-accuracy");
        cJSON_AddNumberToObject(root, "version", 1);
        cJSON_AddStringToObject(root, "model", model);
        cJSON_AddStringToObject(root, "dataset", d->name);
        cJSON_AddNumberToObject(root, "images", (double)n);
        cJSON_AddNumberToObject(root, "correct", (double)correct);
        cJSON_AddNumberToObject(root, "accuracy", acc);
        cJSON_AddNumberToObject(root, "median_ms", med);
        ret = cli_print_json(root);
    } else {
        printf("%s on %s: top-1 accuracy %.2f%% (%lld of %lld images); "
               "median %.3f ms per image\n",
               model, d->name, 100 * acc, (long long)correct, (long long)n, med);
        ret = CLI_OK;
    }
done:
    free(in);
    free(out);
    free(times);
    clv_dataset_free(d);
    return ret;
}
