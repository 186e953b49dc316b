/*
 * cleave's engine against ONNX Runtime in one process, run after run.
 *
 *   inproc ORT_LIB [--runs N] [--rounds R] [--threads T] MODEL...
 *
 * MODEL is a zoo name (built with seed 1 at its default input size and
 * written to a temporary .onnx file for ONNX Runtime) or an .onnx file.
 * Both runtimes get the same input (a fixed pseudo-random pattern in
 * [0, 1)), T threads each (default 1; ONNX Runtime: intra-op threads T,
 * inter-op threads 1, graph optimisation level all; cleave:
 * options.threads T). Per round, one untimed warm-up run of each, then N
 * timed runs alternately (ONNX Runtime, then cleave); with one thread the
 * time of a run is the CPU time of the calling thread
 * (CLOCK_THREAD_CPUTIME_ID), which other jobs on a shared machine disturb
 * less than wall-clock time; with several it is wall-clock time
 * (CLOCK_MONOTONIC: the other threads' work is not the caller's CPU
 * time), and the runtimes alternate by blocks of runs (pause_if). Per
 * round it prints each runtime's median and the ratio of the medians
 * (cleave / ONNX Runtime), and checks that the two first outputs agree
 * (rtol 1e-3 against the largest magnitude).
 *
 * ONNX Runtime is reached through its C API without its header: dlopen the
 * library, OrtGetApiBase()->GetApi(ORT_API_VERSION_USED) returns the
 * OrtApi table, a struct of function pointers whose order is fixed across
 * releases (new functions are only appended). The indices below are the
 * positions in `struct OrtApi` of onnxruntime_c_api.h as of release 1.30
 * (the version onnxruntime-node pins in tools/package.json); API version
 * 13 is requested, which 1.30 still serves, and only entries present in
 * it are used.
 *
 * Exit status: 0, 1 when a model cannot be run or the outputs disagree,
 * 2 for a bad command line.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleave/engine.h"
#include "cleave/graph.h"
#include "cleave/load.h"

#define ORT_API_VERSION_USED 13

/* Positions in struct OrtApi (onnxruntime_c_api.h, 1.30). */
enum {
    ORT_GET_ERROR_MESSAGE = 2,
    ORT_CREATE_ENV = 3,
    ORT_CREATE_SESSION = 7,
    ORT_RUN = 9,
    ORT_CREATE_SESSION_OPTIONS = 10,
    ORT_SET_GRAPH_OPTIMIZATION_LEVEL = 23,
    ORT_SET_INTRA_OP_NUM_THREADS = 24,
    ORT_SET_INTER_OP_NUM_THREADS = 25,
    ORT_CREATE_TENSOR_WITH_DATA = 49, /* CreateTensorWithDataAsOrtValue */
    ORT_GET_TENSOR_MUTABLE_DATA = 51,
    ORT_CREATE_CPU_MEMORY_INFO = 69,
    ORT_RELEASE_ENV = 92,
    ORT_RELEASE_STATUS = 93,
    ORT_RELEASE_MEMORY_INFO = 94,
    ORT_RELEASE_SESSION = 95,
    ORT_RELEASE_VALUE = 96,
    ORT_RELEASE_SESSION_OPTIONS = 100
};

/* Values of the C API's enums used here. */
#define ORT_LOGGING_LEVEL_ERROR 3
#define ORT_ENABLE_ALL 99
#define ORT_ARENA_ALLOCATOR 1
#define ORT_MEM_TYPE_DEFAULT 0
#define ORT_TENSOR_FLOAT 1

typedef struct ort_api_base {
    void *(*get_api)(uint32_t version);
    const char *(*get_version_string)(void);
} ort_api_base;

typedef void *ort_status; /* OrtStatus *, NULL on success */
typedef ort_status (*ort_create_env_fn)(int, const char *, void **);
typedef ort_status (*ort_create_session_fn)(void *, const char *, void *,
                                            void **);
typedef ort_status (*ort_run_fn)(void *, void *, const char *const *,
                                 void *const *, size_t, const char *const *,
                                 size_t, void **);
typedef ort_status (*ort_new_fn)(void **);
typedef ort_status (*ort_set_int_fn)(void *, int);
typedef ort_status (*ort_memory_info_fn)(int, int, void **);
typedef ort_status (*ort_tensor_fn)(void *, void *, size_t, const int64_t *,
                                    size_t, int, void **);
typedef ort_status (*ort_data_fn)(void *, void **);
typedef const char *(*ort_message_fn)(ort_status);
typedef void (*ort_release_fn)(void *);

/* One entry of the table; cast to its real type before the call. */
typedef void (*ort_fn)(void);

typedef struct ort {
    void *lib;
    ort_fn *api;
    void *env;
} ort;

static int ort_ok(const ort *o, ort_status st, const char *what)
{
    if (!st)
        return 1;
    fprintf(stderr, "inproc: ONNX Runtime %s: %s\n", what,
            ((ort_message_fn)o->api[ORT_GET_ERROR_MESSAGE])(st));
    ((ort_release_fn)o->api[ORT_RELEASE_STATUS])(st);
    return 0;
}

static int ort_open(const char *path, ort *o)
{
    ort_api_base *(*get_base)(void);
    const char *version;
    o->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!o->lib) {
        fprintf(stderr, "inproc: %s\n", dlerror());
        return 0;
    }
    *(void **)&get_base = dlsym(o->lib, "OrtGetApiBase");
    if (!get_base) {
        fprintf(stderr, "inproc: %s: no OrtGetApiBase\n", path);
        return 0;
    }
    version = get_base()->get_version_string();
    if (strncmp(version, "1.30", 4) != 0)
        fprintf(stderr,
                "inproc: warning: ONNX Runtime %s; the table indices are "
                "those of 1.30\n",
                version);
    o->api = (ort_fn *)get_base()->get_api(ORT_API_VERSION_USED);
    if (!o->api) {
        fprintf(stderr, "inproc: ONNX Runtime %s refuses API version %d\n",
                version, ORT_API_VERSION_USED);
        return 0;
    }
    fprintf(stderr, "inproc: ONNX Runtime %s from %s\n", version, path);
    return ort_ok(o,
                  ((ort_create_env_fn)o->api[ORT_CREATE_ENV])(
                      ORT_LOGGING_LEVEL_ERROR, "inproc", &o->env),
                  "CreateEnv");
}

/* CPU time of the calling thread, or wall-clock time when `wall`. */
static double thread_ms(int wall)
{
    struct timespec t;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* With several threads the runtimes take turns by blocks of 5 runs, each
 * block after 100 ms of sleep and an untimed run: the other runtime's idle
 * workers spin for a while after its run (ONNX Runtime's for tens of
 * milliseconds by default, cleave's briefly), and on two cores a spinning
 * thread takes a core from the runtime being timed; after the sleep the
 * workers sleep too, and the first run pays for waking them (up to
 * milliseconds on a shared VM). Within a block runs follow one another,
 * as frames of a stream do. */
static void pause_if(int wall)
{
    struct timespec t = {0, 100000000L};
    if (wall)
        nanosleep(&t, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One model: both runtimes, `rounds` rounds of `runs` alternating runs. */
static int bench_model(const ort *o, const char *model, int runs,
                       int rounds, int threads)
{
    clv_graph *g = NULL;
    clv_engine *e = NULL;
    clv_error err = {0};
    clv_engine_options opt = {0};
    void *opts = NULL, *sess = NULL, *mem = NULL, *in_val = NULL;
    float *x = NULL, *y = NULL;
    double *t_ort = NULL, *t_clv = NULL;
    char onnx_path[64] = "";
    const char *path = model;
    const clv_tensor *it, *ot;
    int64_t shape[CLV_MAX_DIMS];
    size_t nx, ny, len = strlen(model);
    int rc = 1, wall = threads > 1, block = wall ? 5 : 1;

    if (len > 5 && strcmp(model + len - 5, ".onnx") == 0) {
        if (clv_load_onnx(model, &g, &err) != 0)
            goto cleave_fail;
    } else {
        int fd;
        if (clv_zoo_build(model, 1, 0, &g, &err) != 0)
            goto cleave_fail;
        snprintf(onnx_path, sizeof onnx_path, "/tmp/cleave_inproc_XXXXXX");
        fd = mkstemp(onnx_path);
        if (fd < 0) {
            perror("inproc: mkstemp");
            onnx_path[0] = '\0';
            goto done;
        }
        close(fd);
        if (clv_save_onnx(g, onnx_path, &err) != 0)
            goto cleave_fail;
        path = onnx_path;
    }
    if (clv_graph_n_inputs(g) != 1 || clv_graph_n_outputs(g) < 1) {
        fprintf(stderr, "inproc: %s: one float input expected\n", model);
        goto done;
    }
    it = clv_graph_tensor(g, clv_graph_input(g, 0));
    ot = clv_graph_tensor(g, clv_graph_output(g, 0));
    if (it->dtype != CLV_DT_FLOAT || ot->dtype != CLV_DT_FLOAT) {
        fprintf(stderr, "inproc: %s: float32 input and output expected\n",
                model);
        goto done;
    }
    nx = clv_tensor_bytes(it) / sizeof(float);
    ny = clv_tensor_bytes(ot) / sizeof(float);
    for (int d = 0; d < it->ndim; d++)
        shape[d] = it->dims[d];
    x = malloc(nx * sizeof *x);
    y = malloc(ny * sizeof *y);
    t_ort = malloc((size_t)runs * sizeof *t_ort);
    t_clv = malloc((size_t)runs * sizeof *t_clv);
    if (!x || !y || !t_ort || !t_clv) {
        fprintf(stderr, "inproc: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f;

    opt.threads = threads;
    if (clv_engine_create(g, NULL, 0, &opt, &e, &err) != 0)
        goto cleave_fail;

    if (!ort_ok(o, ((ort_new_fn)o->api[ORT_CREATE_SESSION_OPTIONS])(&opts),
                "CreateSessionOptions") ||
        !ort_ok(o,
                ((ort_set_int_fn)o->api[ORT_SET_INTRA_OP_NUM_THREADS])(
                    opts, threads),
                "SetIntraOpNumThreads") ||
        !ort_ok(o,
                ((ort_set_int_fn)o->api[ORT_SET_INTER_OP_NUM_THREADS])(opts,
                                                                        1),
                "SetInterOpNumThreads") ||
        !ort_ok(o,
                ((ort_set_int_fn)o->api[ORT_SET_GRAPH_OPTIMIZATION_LEVEL])(
                    opts, ORT_ENABLE_ALL),
                "SetSessionGraphOptimizationLevel") ||
        !ort_ok(o,
                ((ort_create_session_fn)o->api[ORT_CREATE_SESSION])(
                    o->env, path, opts, &sess),
                "CreateSession") ||
        !ort_ok(o,
                ((ort_memory_info_fn)o->api[ORT_CREATE_CPU_MEMORY_INFO])(
                    ORT_ARENA_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, &mem),
                "CreateCpuMemoryInfo") ||
        !ort_ok(o,
                ((ort_tensor_fn)o->api[ORT_CREATE_TENSOR_WITH_DATA])(
                    mem, x, nx * sizeof *x, shape, (size_t)it->ndim,
                    ORT_TENSOR_FLOAT, &in_val),
                "CreateTensorWithDataAsOrtValue"))
        goto done;

    for (int round = 1; round <= rounds; round++) {
        /* r == -1: the warm-up; with several threads blocks of runs */
        for (int r = -1; r < runs; r += r < 0 ? 1 : block) {
            const char *in_names[1] = {it->name}, *out_names[1] = {ot->name};
            const void *cin[1] = {x};
            void *cout[1] = {y};
            int nb = r < 0 ? 1 : runs - r < block ? runs - r : block;
            if (wall) { /* the block's own warm-up, after a pause */
                void *out_val = NULL;
                pause_if(wall);
                if (!ort_ok(o,
                            ((ort_run_fn)o->api[ORT_RUN])(
                                sess, NULL, in_names, &in_val, 1, out_names,
                                1, &out_val),
                            "Run"))
                    goto done;
                ((ort_release_fn)o->api[ORT_RELEASE_VALUE])(out_val);
            }
            for (int i = 0; i < nb; i++) {
                void *out_val = NULL;
                double t0 = thread_ms(wall), t1;
                if (!ort_ok(o,
                            ((ort_run_fn)o->api[ORT_RUN])(
                                sess, NULL, in_names, &in_val, 1, out_names,
                                1, &out_val),
                            "Run"))
                    goto done;
                t1 = thread_ms(wall);
                if (r == -1 && round == 1) { /* compare the outputs once */
                    float *oy = NULL;
                    double big = 0.0, diff = 0.0;
                    if (!ort_ok(o,
                                ((ort_data_fn)
                                     o->api[ORT_GET_TENSOR_MUTABLE_DATA])(
                                    out_val, (void **)&oy),
                                "GetTensorMutableData"))
                        goto done;
                    if (clv_engine_run(e, cin, cout, &err) != 0)
                        goto cleave_fail;
                    for (size_t k = 0; k < ny; k++) {
                        double a = fabs((double)oy[k]);
                        double d = fabs((double)oy[k] - (double)y[k]);
                        big = a > big ? a : big;
                        diff = d > diff || isnan(d) ? d : diff;
                    }
                    if (!(diff <= 1e-3 * big)) {
                        fprintf(stderr,
                                "inproc: %s: outputs differ: max |diff| %g, "
                                "max |ORT| %g\n",
                                model, diff, big);
                        ((ort_release_fn)o->api[ORT_RELEASE_VALUE])(out_val);
                        goto done;
                    }
                }
                ((ort_release_fn)o->api[ORT_RELEASE_VALUE])(out_val);
                if (r >= 0)
                    t_ort[r + i] = t1 - t0;
                if (!wall) { /* one thread: the runtimes run by turns */
                    double t2 = thread_ms(wall);
                    if (clv_engine_run(e, cin, cout, &err) != 0)
                        goto cleave_fail;
                    if (r >= 0)
                        t_clv[r + i] = thread_ms(wall) - t2;
                }
            }
            if (!wall)
                continue;
            pause_if(wall);
            if (clv_engine_run(e, cin, cout, &err) != 0)
                goto cleave_fail;
            for (int i = 0; i < nb; i++) {
                double t2 = thread_ms(wall);
                if (clv_engine_run(e, cin, cout, &err) != 0)
                    goto cleave_fail;
                if (r >= 0)
                    t_clv[r + i] = thread_ms(wall) - t2;
            }
        }
        {
            double mo = median(t_ort, runs), mc = median(t_clv, runs);
            printf("%-14s threads %d round %d  ORT %8.2f ms  "
                   "cleave %8.2f ms  ratio %.3f\n",
                   model, threads, round, mo, mc, mc / mo);
            fflush(stdout);
        }
    }
    rc = 0;
    goto done;

cleave_fail:
    fprintf(stderr, "inproc: %s: %s\n", model, err.msg);
done:
    if (in_val)
        ((ort_release_fn)o->api[ORT_RELEASE_VALUE])(in_val);
    if (mem)
        ((ort_release_fn)o->api[ORT_RELEASE_MEMORY_INFO])(mem);
    if (sess)
        ((ort_release_fn)o->api[ORT_RELEASE_SESSION])(sess);
    if (opts)
        ((ort_release_fn)o->api[ORT_RELEASE_SESSION_OPTIONS])(opts);
    clv_engine_free(e);
    clv_graph_free(g);
    if (onnx_path[0])
        remove(onnx_path);
    free(x);
    free(y);
    free(t_ort);
    free(t_clv);
    return rc;
}

int main(int argc, char **argv)
{
    ort o = {0};
    int runs = 15, rounds = 2, threads = 1, first = 2, rc = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: inproc ORT_LIB [--runs N] [--rounds R] "
                        "[--threads T] MODEL...\n");
        return 2;
    }
    while (first + 1 < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "--runs") == 0)
            runs = atoi(argv[first + 1]);
        else if (strcmp(argv[first], "--rounds") == 0)
            rounds = atoi(argv[first + 1]);
        else if (strcmp(argv[first], "--threads") == 0)
            threads = atoi(argv[first + 1]);
        else
            break;
        first += 2;
    }
    if (runs < 1 || rounds < 1 || threads < 1 ||
        threads > CLV_ENGINE_MAX_THREADS || first >= argc) {
        fprintf(stderr, "inproc: need --runs >= 1, --rounds >= 1, "
                        "--threads 1 to %d and a model\n",
                CLV_ENGINE_MAX_THREADS);
        return 2;
    }
    if (!ort_open(argv[1], &o))
        return 1;
    for (int i = first; i < argc; i++)
        if (bench_model(&o, argv[i], runs, rounds, threads) != 0)
            rc = 1;
    ((ort_release_fn)o.api[ORT_RELEASE_ENV])(o.env);
    return rc;
}
