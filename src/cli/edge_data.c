/* cleave edge --dataset: labelled frames, and the run's accuracy against
 * the uncompressed model's on the same frames (what JALAD's bound is
 * about), with the encoded bytes against the plan's S_i(c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cleave/codec.h"
#include "cleave/engine.h"
#include "cli/cli.h"
#include "util/util.h"

int cli_edge_dataset_input(void *ctx, uint64_t frame, void *const *bufs,
                           clv_error *err)
{
    const cli_edge_data *in = ctx;
    (void)err;
    int64_t span = in->d->count - in->first;
    clv_dataset_image(in->d, in->first + (int64_t)(frame % (uint64_t)span), bufs[0]);
    return 0;
}

int cli_edge_accuracy(const clv_graph *g, const cli_edge_data *in,
                      const clv_edge_report *rep, double bound, cJSON *json)
{
    const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
    const clv_tensor *to = clv_graph_tensor(g, clv_graph_output(g, 0));
    int64_t classes = clv_tensor_numel(to);
    clv_engine *e = NULL;
    clv_error err = {0};
    float *x = malloc(clv_tensor_bytes(ti)), *y = malloc(clv_tensor_bytes(to));
    int rc = !x || !y ? CLV_ENOMEM : clv_engine_create(g, NULL, 0, NULL, &e, &err);
    if (rc || to->dtype != CLV_DT_FLOAT || !in->d->labels) {
        free(x);
        free(y);
        clv_engine_free(e);
        if (rc)
            fprintf(stderr, "cleave edge: %s\n", clv_error_text(&err, rc));
        return rc ? CLI_FAIL : CLI_OK;
    }
    int n = 0, correct = 0, base = 0, agree = 0, sent = 0;
    double data = 0;
    for (int k = 0; k < rep->n_frames; k++) {
        const void *out = rep->outputs ? rep->outputs[(size_t)k * (size_t)rep->n_outputs] : NULL;
        if (rep->frames[k].status || !out)
            continue;
        void *bufs[1] = {x};
        cli_edge_dataset_input((void *)in, (uint64_t)k, bufs, NULL);
        int64_t idx = in->first + (int64_t)((uint64_t)k % (uint64_t)(in->d->count - in->first));
        const void *ins[1] = {x};
        void *outs[1] = {y};
        if (clv_engine_run(e, ins, outs, NULL))
            break;
        int64_t p = clv_util_argmax(out, classes), q = clv_util_argmax(y, classes);
        int label = in->d->labels[idx];
        n++;
        correct += p == label;
        base += q == label;
        agree += p == q;
        if (rep->frames[k].where == CLV_EDGE_SPLIT) {
            sent++;
            data += (double)rep->frames[k].data_bytes;
        }
    }
    double acc = n ? (double)correct / n : 0, bacc = n ? (double)base / n : 0;
    double mean = sent ? data / sent : 0, want = (double)rep->plan.cut_bytes;
    char cn[32];
    clv_codec_name(&rep->plan.codec, cn, sizeof cn);
    if (json) {
        cJSON *a = cJSON_AddObjectToObject(json, "accuracy");
        if (a) {
            cJSON_AddNumberToObject(a, "frames", n);
            cJSON_AddNumberToObject(a, "top1", acc);
            cJSON_AddNumberToObject(a, "uncompressed_top1", bacc);
            cJSON_AddNumberToObject(a, "loss", bacc - acc);
            cJSON_AddNumberToObject(a, "bound", bound);
            cJSON_AddNumberToObject(a, "agreement", n ? (double)agree / n : 0);
            cJSON_AddNumberToObject(a, "sent_frames", sent);
            cJSON_AddNumberToObject(a, "data_bytes_mean", mean);
            cJSON_AddNumberToObject(a, "plan_bytes", want);
            cJSON_AddStringToObject(a, "plan_codec", cn);
        }
    } else {
        printf("accuracy    top-1 %.2f%% over %d labelled frames; the "
               "uncompressed model %.2f%% on them: loss %.2f points",
               100 * acc, n, 100 * bacc, 100 * (bacc - acc));
        if (bound >= 0)
            printf(" (bound %.2f)", 100 * bound);
        printf("; agreement %.2f%%\n", n ? 100.0 * agree / n : 0);
        if (sent)
            printf("encoded     %.0f B of tensor data per sent frame (%s; the plan "
                   "said %.0f B, %+.1f%%)\n",
                   mean, cn, want, want > 0 ? 100 * (mean / want - 1) : 0);
    }
    free(x);
    free(y);
    clv_engine_free(e);
    return CLI_OK;
}
