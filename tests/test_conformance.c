/*
 * ONNX operator conformance: every case of Debian's libonnx-testdata
 * (/usr/share/libonnx-testdata/data/{node,pytorch-converted,
 * pytorch-operator,simple}/<case>/model.onnx with test_data_set_N/
 * input_K.pb and output_K.pb, serialized TensorProto) whose model loads
 * and whose ops and types the engine supports is run through
 * clv_load_onnx() and the engine and compared with the stored outputs:
 * |got - want| <= 1e-5 + 1e-4 * |want| for floating point, equality for
 * integers and bool, NaN where NaN is stored.
 *
 * Cases are skipped, not failed, when the model does not load because an
 * op, attribute form or element type is unsupported (reported by class:
 * unsupported op, unsupported dtype, load error). Every supported case
 * must pass. Each case also runs with 2 threads and must give the same
 * bits as with 1.
 *
 * Set CLEAVE_CONFORMANCE_VERBOSE=1 to list every skipped case and why;
 * CLEAVE_CONFORMANCE_DIR overrides the data directory.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleave/engine.h"
#include "cleave/load.h"
#include "check.h"
#include "onnx.pb-c.h"
#include "util/util.h"

#define DATA_DIR "/usr/share/libonnx-testdata/data"
#define MAX_IO 32

enum skip_class { SKIP_OP, SKIP_DTYPE, SKIP_LOAD, SKIP_COUNT };
static const char *const skip_names[SKIP_COUNT] = {
    "unsupported op", "unsupported dtype", "load error"};

typedef struct tally {
    int passed, failed, skipped[SKIP_COUNT];
} tally;

static bool verbose;

/* Cases that clv_load_onnx() accepts but computes differently from ONNX
 * for reasons outside the engine, each with the reason. They run and are
 * reported, but count as neither passed nor failed. Empty this list when
 * the cause is fixed (the case then passes or is skipped). */
static const struct {
    const char *label, *why;
} known_issues[] = {
    {NULL, NULL}, /* none known; keep one entry so the array is not empty */
};

static const char *known_issue(const char *label)
{
    for (size_t i = 0; i < sizeof known_issues / sizeof known_issues[0]; i++)
        if (known_issues[i].label && !strcmp(known_issues[i].label, label))
            return known_issues[i].why;
    return NULL;
}

/* A tensor read from a .pb file, converted to cleave's dtype. */
typedef struct tdata {
    char *name;
    clv_dtype dt;
    int ndim;
    int64_t dims[CLV_MAX_DIMS];
    int64_t numel;
    void *data;
} tdata;

static void tdata_free(tdata *t)
{
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

/* Reads a TensorProto file. Returns 0, CLV_EUNSUPPORTED (an element type
 * cleave has no dtype for) or another error. */
static int read_pb(const char *path, tdata *t, char *why, size_t whylen)
{
    char *buf = NULL;
    size_t len = 0;
    clv_error err = {0};
    Onnx__TensorProto *tp;
    int rc = clv_util_read_file(path, (uint64_t)1 << 31, &buf, &len, &err);
    size_t es;

    memset(t, 0, sizeof *t);
    if (rc) {
        snprintf(why, whylen, "%s", clv_error_text(&err, rc));
        return rc;
    }
    tp = onnx__tensor_proto__unpack(NULL, len, (const uint8_t *)buf);
    free(buf);
    if (!tp) {
        snprintf(why, whylen, "%s: not a TensorProto", path);
        return CLV_EFORMAT;
    }
    rc = 0;
    switch (tp->data_type) {
    case CLV_DT_FLOAT:
    case CLV_DT_UINT8:
    case CLV_DT_INT8:
    case CLV_DT_INT32:
    case CLV_DT_INT64:
    case CLV_DT_BOOL:
    case CLV_DT_DOUBLE:
        break;
    default:
        snprintf(why, whylen, "%s: element type %d", path,
                 (int)tp->data_type);
        rc = CLV_EUNSUPPORTED;
        goto done;
    }
    if (tp->n_dims > CLV_MAX_DIMS) {
        snprintf(why, whylen, "%s: rank %zu", path, tp->n_dims);
        rc = CLV_EUNSUPPORTED;
        goto done;
    }
    t->dt = (clv_dtype)tp->data_type;
    t->ndim = (int)tp->n_dims;
    t->numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        t->dims[i] = tp->dims[i];
        t->numel *= tp->dims[i];
    }
    t->name = clv_util_strdup(tp->name ? tp->name : "");
    es = clv_dtype_size(t->dt);
    t->data = calloc((size_t)t->numel + 1, es);
    if (!t->name || !t->data) {
        rc = CLV_ENOMEM;
        goto done;
    }
    if (tp->has_raw_data && tp->raw_data.len > 0) {
        if (tp->raw_data.len != (size_t)t->numel * es) {
            snprintf(why, whylen, "%s: %zu raw bytes for %lld values", path,
                     tp->raw_data.len, (long long)t->numel);
            rc = CLV_EFORMAT;
            goto done;
        }
        memcpy(t->data, tp->raw_data.data, tp->raw_data.len);
    } else {
        for (int64_t i = 0; i < t->numel; i++) {
            switch (t->dt) {
            case CLV_DT_FLOAT:
                if ((size_t)i < tp->n_float_data)
                    ((float *)t->data)[i] = tp->float_data[i];
                break;
            case CLV_DT_DOUBLE:
                if ((size_t)i < tp->n_double_data)
                    ((double *)t->data)[i] = tp->double_data[i];
                break;
            case CLV_DT_INT64:
                if ((size_t)i < tp->n_int64_data)
                    ((int64_t *)t->data)[i] = tp->int64_data[i];
                break;
            case CLV_DT_INT32:
                if ((size_t)i < tp->n_int32_data)
                    ((int32_t *)t->data)[i] = tp->int32_data[i];
                break;
            default: /* 1-byte types live in int32_data */
                if ((size_t)i < tp->n_int32_data)
                    ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i];
                break;
            }
        }
    }
done:
    onnx__tensor_proto__free_unpacked(tp, NULL);
    if (rc)
        tdata_free(t);
    return rc;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of the entries of `dir` starting with `prefix`. */
static char **list_dir(const char *dir, const char *prefix, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    int cap = 0;
    *n = 0;
    if (!d)
        return NULL;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
            continue;
        if (*n == cap) {
            char **nn;
            cap = cap ? 2 * cap : 64;
            nn = realloc(names, (size_t)cap * sizeof *names);
            if (!nn)
                break;
            names = nn;
        }
        names[(*n)++] = clv_util_strdup(de->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return names;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Sorts an unsupported-feature message into op or dtype. */
static enum skip_class classify(const char *msg)
{
    if (strstr(msg, "(op '"))
        return SKIP_OP; /* an op cleave lacks, whatever its name says */
    static const char *const dtype_words[] = {
        "float16", "bfloat16", "string", "complex", "uint16", "int16",
        "uint32", "uint64", "element type", "data type", "dtype",
        "only float32", "of bool", "of int", "of uint", "of double",
        "is bool", "is int", "is uint", "is double", "float64", NULL};
    for (int i = 0; dtype_words[i]; i++)
        if (strstr(msg, dtype_words[i]))
            return SKIP_DTYPE;
    return SKIP_OP;
}

static void skip(tally *t, enum skip_class c, const char *label,
                 const char *msg)
{
    t->skipped[c]++;
    if (verbose)
        printf("skip %-60s %-17s %s\n", label, skip_names[c], msg);
}

/* Compares an engine output with the stored one; returns mismatches. */
static int64_t compare(const clv_tensor *yt, const void *y, const tdata *w,
                       const char *label)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < w->numel; i++) {
        bool ok;
        double g, v;
        switch (w->dt) {
        case CLV_DT_FLOAT:
        case CLV_DT_DOUBLE:
            g = w->dt == CLV_DT_FLOAT ? ((const float *)y)[i]
                                      : ((const double *)y)[i];
            v = w->dt == CLV_DT_FLOAT ? ((const float *)w->data)[i]
                                      : ((const double *)w->data)[i];
            ok = (isnan(g) && isnan(v)) ||
                 (isinf(v) && g == v) ||
                 fabs(g - v) <= 1e-5 + 1e-4 * fabs(v);
            break;
        default:
            ok = !memcmp((const char *)y + i * (int64_t)clv_dtype_size(w->dt),
                         (const char *)w->data +
                             i * (int64_t)clv_dtype_size(w->dt),
                         clv_dtype_size(w->dt));
            g = v = 0;
        }
        if (!ok) {
            if (bad < 3)
                fprintf(stderr, "%s: output '%s'[%lld] = %.9g, want %.9g\n",
                        label, yt->name, (long long)i, g, v);
            bad++;
        }
    }
    return bad;
}

/* Runs one case. Returns 1 passed, 0 failed, -1 skipped. */
static int run_case(const char *dir, const char *label, tally *t)
{
    char path[8400], why[CLV_ERROR_MSG_MAX + 64];
    clv_graph *g = NULL;
    clv_engine *e1 = NULL, *e2 = NULL;
    clv_error err = {0};
    clv_engine_options two = {0};
    char **sets = NULL;
    int nsets = 0, rc, result = 1;

    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (!is_file(path))
        return -2; /* not a case */
    rc = clv_load_onnx(path, &g, &err);
    if (rc) {
        const char *msg = clv_error_text(&err, rc);
        skip(t, rc == CLV_EUNSUPPORTED ? classify(msg) : SKIP_LOAD, label,
             msg);
        return -1;
    }
    two.threads = 2;
    rc = clv_engine_create(g, NULL, 0, NULL, &e1, &err);
    if (!rc)
        rc = clv_engine_create(g, NULL, 0, &two, &e2, &err);
    if (rc) {
        const char *msg = clv_error_text(&err, rc);
        skip(t, rc == CLV_EUNSUPPORTED ? classify(msg) : SKIP_LOAD, label,
             msg);
        result = -1;
        goto done;
    }
    sets = list_dir(dir, "test_data_set_", &nsets);
    for (int s = 0; s < nsets && result == 1; s++) {
        tdata in[MAX_IO], want[MAX_IO];
        int nin = 0, nout = 0, ni = clv_engine_n_inputs(e1);
        int no = clv_engine_n_outputs(e1);
        const void *ins[MAX_IO];
        void *outs[MAX_IO] = {NULL}, *outs2[MAX_IO] = {NULL};
        memset(in, 0, sizeof in);
        memset(want, 0, sizeof want);
        if (ni > MAX_IO || no > MAX_IO) {
            skip(t, SKIP_OP, label, "too many inputs or outputs");
            result = -1;
            break;
        }
        /* inputs: by name when the file has one, else in order */
        for (int k = 0; k < MAX_IO; k++) {
            snprintf(path, sizeof path, "%s/%s/input_%d.pb", dir, sets[s], k);
            if (!is_file(path))
                break;
            rc = read_pb(path, &in[nin], why, sizeof why);
            if (rc) {
                skip(t, rc == CLV_EUNSUPPORTED ? SKIP_DTYPE : SKIP_LOAD,
                     label, why);
                result = -1;
                break;
            }
            nin++;
        }
        for (int k = 0; result == 1 && k < MAX_IO; k++) {
            snprintf(path, sizeof path, "%s/%s/output_%d.pb", dir, sets[s],
                     k);
            if (!is_file(path))
                break;
            rc = read_pb(path, &want[nout], why, sizeof why);
            if (rc) {
                skip(t, rc == CLV_EUNSUPPORTED ? SKIP_DTYPE : SKIP_LOAD,
                     label, why);
                result = -1;
                break;
            }
            nout++;
        }
        for (int i = 0; result == 1 && i < ni; i++) {
            int tid = clv_engine_input(e1, i), k = -1;
            const clv_tensor *x = clv_graph_tensor(g, tid);
            for (int j = 0; j < nin && k < 0; j++)
                if (in[j].name && !strcmp(in[j].name, x->name))
                    k = j;
            if (k < 0 && i < nin && i < clv_graph_n_inputs(g) &&
                clv_graph_input(g, i) == tid)
                k = i;
            if (k < 0 || in[k].dt != x->dtype ||
                in[k].numel != clv_tensor_numel(x)) {
                snprintf(why, sizeof why,
                         "no input data matching '%s' (%s, %lld values)",
                         x->name, clv_dtype_name(x->dtype),
                         (long long)clv_tensor_numel(x));
                CHECKF(0, "%s: %s", label, why);
                result = 0;
                break;
            }
            ins[i] = in[k].data;
        }
        for (int i = 0; result == 1 && i < no; i++) {
            const clv_tensor *y = clv_graph_tensor(g, clv_engine_output(e1, i));
            outs[i] = calloc(1, clv_tensor_bytes(y) + 1);
            outs2[i] = calloc(1, clv_tensor_bytes(y) + 1);
        }
        if (result == 1 && (rc = clv_engine_run(e1, ins, outs, &err))) {
            CHECKF(0, "%s: run: %s", label, clv_error_text(&err, rc));
            result = 0;
        }
        if (result == 1 && (rc = clv_engine_run(e2, ins, outs2, &err))) {
            CHECKF(0, "%s: run (2 threads): %s", label,
                   clv_error_text(&err, rc));
            result = 0;
        }
        for (int i = 0; result == 1 && i < no; i++) {
            const clv_tensor *y = clv_graph_tensor(g, clv_engine_output(e1, i));
            int k = -1;
            for (int j = 0; j < nout && k < 0; j++)
                if (want[j].name && !strcmp(want[j].name, y->name))
                    k = j;
            if (k < 0 && i < nout)
                k = i;
            if (k < 0 || want[k].dt != y->dtype ||
                want[k].numel != clv_tensor_numel(y)) {
                char ys[96];
                clv_tensor_shape_str(y, ys, sizeof ys);
                CHECKF(0, "%s: output '%s' is %s %s; the stored one %s", label,
                       y->name, clv_dtype_name(y->dtype), ys,
                       k < 0 ? "is missing" : "differs in type or size");
                result = 0;
                break;
            }
            if (compare(y, outs[i], &want[k], label)) {
                CHECKF(0, "%s: output '%s' differs from the stored one", label,
                       y->name);
                result = 0;
            }
            if (memcmp(outs[i], outs2[i], clv_tensor_bytes(y))) {
                CHECKF(0, "%s: output '%s' differs with 2 threads", label,
                       y->name);
                result = 0;
            }
        }
        for (int i = 0; i < MAX_IO; i++) {
            free(outs[i]);
            free(outs2[i]);
        }
        for (int i = 0; i < nin; i++)
            tdata_free(&in[i]);
        for (int i = 0; i < nout; i++)
            tdata_free(&want[i]);
    }
    if (result == 1 && nsets == 0) {
        skip(t, SKIP_LOAD, label, "no test_data_set");
        result = -1;
    }
done:
    free_list(sets, nsets);
    clv_engine_free(e1);
    clv_engine_free(e2);
    clv_graph_free(g);
    return result;
}

int main(void)
{
    static const char *const suites[] = {"node", "pytorch-converted",
                                         "pytorch-operator", "simple"};
    const char *root = getenv("CLEAVE_CONFORMANCE_DIR");
    const char *v = getenv("CLEAVE_CONFORMANCE_VERBOSE");
    tally total;
    int ncases = 0, known = 0;

    verbose = v && *v && strcmp(v, "0") != 0;
    if (!root)
        root = DATA_DIR;
    memset(&total, 0, sizeof total);
    if (!is_dir(root)) {
        printf("conformance: %s not found (install libonnx-testdata); "
               "nothing to check\n",
               root);
        CHECKF(0, "no conformance data at %s", root);
        return check_report("test_conformance");
    }
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        char dir[4096];
        char **cases;
        int n;
        tally t;
        memset(&t, 0, sizeof t);
        snprintf(dir, sizeof dir, "%s/%s", root, suites[s]);
        cases = list_dir(dir, "test_", &n);
        for (int i = 0; i < n; i++) {
            char cdir[4200], label[512];
            int r;
            snprintf(cdir, sizeof cdir, "%s/%s", dir, cases[i]);
            snprintf(label, sizeof label, "%s/%s", suites[s], cases[i]);
            if (known_issue(label)) {
                printf("known issue %s: %s\n", label, known_issue(label));
                known++;
                continue;
            }
            r = run_case(cdir, label, &t);
            if (r == 1 && verbose)
                printf("pass %s\n", label);
            if (r == 1)
                t.passed++;
            else if (r == 0)
                t.failed++;
            if (r != -2)
                ncases++;
        }
        free_list(cases, n);
        printf("conformance %-18s %4d passed, %d failed, %4d skipped "
               "(%d unsupported op, %d unsupported dtype, %d load error)\n",
               suites[s], t.passed, t.failed,
               t.skipped[0] + t.skipped[1] + t.skipped[2], t.skipped[0],
               t.skipped[1], t.skipped[2]);
        total.passed += t.passed;
        total.failed += t.failed;
        for (int k = 0; k < SKIP_COUNT; k++)
            total.skipped[k] += t.skipped[k];
    }
    printf("conformance: %d cases: %d passed, %d failed, %d skipped (%d "
           "unsupported op, %d unsupported dtype, %d load error), %d known "
           "issues outside the engine\n",
           ncases + known, total.passed, total.failed,
           total.skipped[0] + total.skipped[1] + total.skipped[2],
           total.skipped[0], total.skipped[1], total.skipped[2], known);
    CHECKF(total.failed == 0, "%d supported cases failed", total.failed);
    CHECKF(total.passed > 0, "no case passed");
    return check_report("test_conformance");
}
