/* JALAD's lookup tables (§III-C): for every decoupling point i and every
 * width c, the accuracy loss A_i(c) and the encoded size S_i(c), measured
 * on calibration images by encoding the tensor that crosses, decoding it
 * and running the rest of the model on what arrives.
 *
 * One pass per image: the model runs as a chain of segments between
 * consecutive cut points (each segment reads the one tensor crossing the
 * cut before it), so the edge parts cost one forward pass in all; each
 * encoding then costs a decode and the cloud part's run (images go in
 * chunks, so that one cloud part is built at a time), which is skipped
 * when the decoded tensor is the original bit for bit (raw, u8 and PNG of
 * pixels, widths wide enough to be exact): the prediction is then the
 * uncompressed one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/codec.h"
#include "cleave/engine.h"
#include "cleave/profile.h"
#include "util/util.h"

static const int default_jpeg[] = {10, 25, 50, 75, 90};

void clv_jalad_measure_options_init(clv_jalad_measure_options *o)
{
    memset(o, 0, sizeof *o);
    o->images = 500;
    o->max_bits = 16;
    o->seed = 1;
    o->threads = 1;
}

typedef struct m_entry {
    clv_codec codec;
    int correct, agree;
    double *bytes;    /* per image */
    double *enc_ms, *dec_ms; /* per image */
    int decode;       /* this entry decodes and runs (else it shares the
                         prediction of the entry before it: another entropy
                         stage of the same quantization, which decodes to
                         the same values) */
} m_entry;

typedef struct m_cut {
    int pos;          /* last edge node; -1: cloud-only */
    int tensor;       /* the tensor crossing */
    clv_engine *seg;  /* nodes (previous pos, pos]; NULL for cloud-only */

    int n;
    m_entry *e;
} m_cut;

static int add_entry(m_cut *c, const char *name, int decode, int images)
{
    m_entry *x = &c->e[c->n];
    if (clv_codec_parse(name, &x->codec, NULL))
        return CLV_EINVAL;
    x->bytes = calloc((size_t)images + 1, sizeof *x->bytes);
    x->enc_ms = calloc((size_t)images + 1, sizeof *x->enc_ms);
    x->dec_ms = calloc((size_t)images + 1, sizeof *x->dec_ms);
    if (!x->bytes || !x->enc_ms || !x->dec_ms)
        return CLV_ENOMEM;
    x->decode = decode;
    c->n++;
    return 0;
}

static int engine_of(const clv_graph *g, int from, int to, int threads,
                     clv_engine **out, clv_error *err)
{
    int n = to - from + 1;
    int *nodes = malloc((size_t)(n > 0 ? n : 1) * sizeof *nodes);
    if (!nodes)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        nodes[i] = from + i;
    clv_engine_options eo = {0};
    eo.threads = threads;
    int rc = clv_engine_create(g, nodes, n, &eo, out, err);
    free(nodes);
    return rc;
}

int clv_jalad_measure(const clv_graph *g, const char *model,
                      const clv_jalad_measure_options *opt,
                      clv_jalad_table **out, clv_error *err)
{
    clv_jalad_measure_options o;
    if (opt)
        o = *opt;
    else
        clv_jalad_measure_options_init(&o);
    *out = NULL;
    if (clv_graph_n_inputs(g) != 1 || clv_graph_n_outputs(g) != 1)
        return clv_error_set(err, CLV_EUNSUPPORTED,
                             "jalad tables need a model with one input and one "
                             "output");
    const clv_tensor *ti = clv_graph_tensor(g, clv_graph_input(g, 0));
    const clv_tensor *to = clv_graph_tensor(g, clv_graph_output(g, 0));
    int64_t in_n = clv_tensor_numel(ti), classes = clv_tensor_numel(to);
    if (ti->dtype != CLV_DT_FLOAT || to->dtype != CLV_DT_FLOAT || classes < 2)
        return clv_error_set(err, CLV_EUNSUPPORTED,
                             "jalad tables need a float32 input and an output "
                             "of class scores");
    if (o.max_bits < 1 || o.max_bits > CLV_CODEC_MAX_BITS || o.images < 1 ||
        o.first < 0 || o.n_jpeg < 0)
        return clv_error_set(err, CLV_EINVAL,
                             "jalad: widths 1..16, at least one image");
    const clv_dataset *d = o.dataset;
    if (d) {
        if (d->channels * d->rows * d->cols != in_n)
            return clv_error_set(err, CLV_EINVAL,
                                 "jalad: %s's images have %lld values, the "
                                 "model's input '%s' %lld",
                                 d->name, (long long)(d->channels * d->rows * d->cols),
                                 ti->name, (long long)in_n);
        if (o.first >= d->count)
            return clv_error_set(err, CLV_EINVAL,
                                 "jalad: image %d is past the %lld of %s", o.first,
                                 (long long)d->count, d->name);
        if (o.images > d->count - o.first)
            o.images = (int)(d->count - o.first);
    }
    const int *jq = o.jpeg_qualities ? o.jpeg_qualities : default_jpeg;
    int nj = o.jpeg_qualities ? o.n_jpeg : (int)(sizeof default_jpeg / sizeof *default_jpeg);
    int images = o.images, n = clv_graph_n_nodes(g), rc = 0;
    bool labelled = d && d->labels;

    int *crossing = malloc((size_t)n * sizeof *crossing);
    m_cut *cuts = calloc((size_t)n + 1, sizeof *cuts);
    float *dec = NULL, *res = malloc((size_t)classes * sizeof *res);
    int64_t *base = malloc((size_t)images * sizeof *base);
    clv_codec_ctx *cx = clv_codec_ctx_new();
    clv_jalad_table *t = calloc(1, sizeof *t);
    int nc = 0;
    size_t most = (size_t)in_n;
    if (!crossing || !cuts || !res || !base || !cx || !t) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = clv_graph_crossing(g, crossing)))
        goto done;
    /* the cut points: cloud-only, then every valid single cut */
    int per_cut = 1 + 3 * o.max_bits * (o.per_channel ? 2 : 1);
    if (per_cut < 3 + nj)
        per_cut = 3 + nj;
    for (int pos = -1; pos < n - 1; pos++) {
        if (pos >= 0 && crossing[pos] != 1)
            continue;
        m_cut *c = &cuts[nc++];
        c->pos = pos;
        c->e = calloc((size_t)per_cut, sizeof *c->e);
        if (!c->e) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto done;
        }
        if (pos < 0) {
            c->tensor = clv_graph_input(g, 0);
        } else {
            rc = engine_of(g, cuts[nc - 2].pos + 1, pos, o.threads, &c->seg, err);
            if (!rc && clv_engine_n_outputs(c->seg) != 1)
                rc = clv_error_set(err, CLV_EUNSUPPORTED,
                                   "jalad: the part ending at node '%s' makes %d "
                                   "tensors that later nodes read",
                                   clv_graph_node(g, pos)->name,
                                   clv_engine_n_outputs(c->seg));
            if (!rc)
                c->tensor = clv_engine_output(c->seg, 0);
        }
        if (rc)
            goto done;
        size_t tn = (size_t)clv_tensor_numel(clv_graph_tensor(g, c->tensor));
        most = tn > most ? tn : most;
        if ((rc = add_entry(c, "raw", 0, images)))
            goto fail_entry;
        if (pos < 0) {
            if ((rc = add_entry(c, "u8", 1, images)) || (rc = add_entry(c, "png", 1, images)))
                goto fail_entry;
            for (int j = 0; j < nj; j++) {
                char name[32];
                snprintf(name, sizeof name, "jpeg:%d", jq[j]);
                if ((rc = add_entry(c, name, 1, images)))
                    goto fail_entry;
            }
            continue;
        }
        for (int pc = 0; pc <= (o.per_channel ? 1 : 0); pc++)
            for (int b = 1; b <= o.max_bits; b++) {
                const char *st[3] = {"packed", "huffman", "zstd"};
                for (int s = 0; s < 3; s++) {
                    char name[32];
                    snprintf(name, sizeof name, "q%d%s+%s", b, pc ? "c" : "", st[s]);
                    if ((rc = add_entry(c, name, s == 0, images)))
                        goto fail_entry;
                }
            }
    }
    /* Images go in chunks of B, at most 64 MiB of one cut's values: for
     * each chunk, cut by cut, the segment engines carry the chunk's values
     * to the next cut and one cloud engine (the rest of the model after
     * that cut) is alive at a time, so that a large network's cuts do not
     * each hold a copy of its weights. */
    size_t chunk = ((size_t)64 << 20) / (most * sizeof(float));
    chunk = chunk < 1 ? 1 : chunk > (size_t)images ? (size_t)images : chunk;
    float *prev = malloc(chunk * most * sizeof *prev);
    float *cur = malloc(chunk * most * sizeof *cur);
    dec = malloc(most * sizeof *dec);
    if (!prev || !cur || !dec) {
        free(prev);
        free(cur);
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    int base_correct = 0;
    clv_engine *cloud = NULL;
    for (int c0 = 0; c0 < images && !rc; c0 += (int)chunk) {
        int nb_im = images - c0 < (int)chunk ? images - c0 : (int)chunk;
        for (int i = 0; i < nb_im; i++) {
            float *xi = prev + (size_t)i * most;
            if (d) {
                clv_dataset_image(d, o.first + c0 + i, xi);
            } else {
                clv_rng r;
                clv_rng_seed(&r, o.seed * 7777 + (uint64_t)(c0 + i));
                for (int64_t q = 0; q < in_n; q++)
                    xi[q] = (float)(clv_rng_next(&r) >> 56) / 255.0f;
            }
        }
        for (int k = 0; k < nc && !rc; k++) {
            m_cut *c = &cuts[k];
            const clv_tensor *tt = clv_graph_tensor(g, c->tensor);
            size_t tn = (size_t)clv_tensor_numel(tt);
            if (c->pos >= 0) {
                /* the chunk's values at this cut, from the last one's */
                for (int i = 0; i < nb_im && !rc; i++) {
                    const void *ins[1] = {prev + (size_t)i * most};
                    void *outs[1] = {cur + (size_t)i * most};
                    rc = clv_engine_run(c->seg, ins, outs, err);
                }
                float *sw = prev;
                prev = cur;
                cur = sw;
            }
            clv_engine_options eo = {0};
            eo.threads = o.threads;
            if (!rc)
                rc = c->pos < 0 ? clv_engine_create(g, NULL, 0, &eo, &cloud, err)
                                : engine_of(g, c->pos + 1, n - 1, o.threads, &cloud, err);
            for (int i = 0; i < nb_im && !rc; i++) {
                int im = c0 + i;
                const float *val = prev + (size_t)i * most;
                int label = labelled ? d->labels[o.first + im] : -1;
                if (c->pos < 0) {
                    const void *ins[1] = {val};
                    void *outs[1] = {res};
                    if ((rc = clv_engine_run(cloud, ins, outs, err)))
                        break;
                    base[im] = clv_util_argmax(res, classes);
                    base_correct += base[im] == label;
                }
                int64_t pred = base[im];
                for (int j = 0; j < c->n && !rc; j++) {
                    m_entry *e = &c->e[j];
                    if (e->codec.kind == CLV_CODEC_RAW) {
                        e->bytes[im] = (double)(tn * 4);
                        pred = base[im];
                    } else {
                        const uint8_t *bytes;
                        size_t nb;
                        double t0 = clv_util_now_s();
                        rc = clv_codec_encode(cx, &e->codec, val, tt->ndim, tt->dims,
                                              &bytes, &nb, err);
                        double t1 = clv_util_now_s();
                        if (rc)
                            break;
                        e->bytes[im] = (double)nb;
                        e->enc_ms[im] = (t1 - t0) * 1e3;
                        /* every encoding is decoded once for its time; the
                         * entropy stages after the first share its values */
                        rc = clv_codec_decode(cx, bytes, nb, tt->ndim, tt->dims, dec,
                                              NULL, err);
                        e->dec_ms[im] = (clv_util_now_s() - t1) * 1e3;
                        if (rc)
                            break;
                        if (e->decode) {
                            if (!memcmp(dec, val, tn * sizeof *dec)) {
                                pred = base[im];
                            } else {
                                const void *ins[1] = {dec};
                                void *outs[1] = {res};
                                if ((rc = clv_engine_run(cloud, ins, outs, err)))
                                    break;
                                pred = clv_util_argmax(res, classes);
                            }
                        }
                    }
                    e->correct += pred == label;
                    e->agree += pred == base[im];
                }
            }
            clv_engine_free(cloud);
            cloud = NULL;
        }
        if (!rc && o.progress)
            o.progress(o.progress_ctx, c0 + nb_im, images);
    }
    free(prev);
    free(cur);
    if (rc)
        goto done;

    /* the table */
    t->model = clv_util_strdup(model ? model : "");
    t->dataset = clv_util_strdup(d ? d->name : "random pixels");
    t->images = images;
    t->first_image = d ? o.first : 0;
    t->labelled = labelled;
    t->base_accuracy = labelled ? (double)base_correct / images : 0;
    if (!(t->cuts = calloc((size_t)nc + 1, sizeof *t->cuts))) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < nc; k++) {
        m_cut *c = &cuts[k];
        clv_jalad_cut *tc = &t->cuts[t->n_cuts++];
        tc->position = c->pos;
        tc->after = c->pos >= 0 ? clv_util_strdup(clv_graph_node(g, c->pos)->name) : NULL;
        const clv_tensor *tt = clv_graph_tensor(g, c->tensor);
        tc->tensor = clv_util_strdup(tt->name);
        tc->raw_bytes = clv_tensor_bytes(tt);
        if (!(tc->entries = calloc((size_t)c->n, sizeof *tc->entries)) ||
            (c->pos >= 0 && !tc->after) || !tc->tensor) {
            rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
            goto done;
        }
        for (int j = 0; j < c->n; j++) {
            m_entry *e = &c->e[j];
            clv_jalad_entry *x2 = &tc->entries[tc->n_entries++];
            x2->codec = e->codec;
            x2->agreement = (double)e->agree / images;
            x2->accuracy_loss = labelled ? t->base_accuracy - (double)e->correct / images
                                         : 1 - x2->agreement;
            double sum = 0;
            for (int im = 0; im < images; im++)
                sum += e->bytes[im];
            x2->bytes_mean = sum / images;
            qsort(e->bytes, (size_t)images, sizeof *e->bytes, clv_util_cmp_double);
            x2->bytes_p95 = clv_util_quantile_sorted(e->bytes, images, 0.95);
            x2->encode_ms = clv_util_median(e->enc_ms, images);
            x2->decode_ms = clv_util_median(e->dec_ms, images);
        }
    }
    *out = t;
    t = NULL;
    goto done;
fail_entry:
    rc = clv_error_set(err, rc, "out of memory");
done:
    for (int k = 0; k < nc; k++) {
        clv_engine_free(cuts[k].seg);
        for (int j = 0; j < cuts[k].n; j++) {
            free(cuts[k].e[j].bytes);
            free(cuts[k].e[j].enc_ms);
            free(cuts[k].e[j].dec_ms);
        }
        free(cuts[k].e);
    }
    free(cuts);
    free(crossing);
    free(dec);
    free(res);
    free(base);
    clv_codec_ctx_free(cx);
    clv_jalad_table_free(t);
    return rc;
}
