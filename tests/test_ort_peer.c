/*
 * The engine against ONNX Runtime on every zoo model (issue 3, item 3c).
 *
 * For each model of the zoo (clv_zoo_count()): build it with seeded
 * weights at its default input size, write it with clv_save_onnx, write a
 * seeded input (uniform in [0, 1)) as raw float32, run ONNX Runtime on both
 * through node (scripts/ort_run.js, npm package onnxruntime-node, one
 * thread), run cleave's engine on the same input, and compare every output:
 *
 *     max_j |cleave_j - ort_j| / max_j |ort_j|  <=  1e-3
 *
 * (docs/peers.md). The output must also not be constant, or agreement would
 * prove little.
 *
 * The peer is optional on a developer's machine: when node or
 * onnxruntime-node is missing the test prints "SKIPPED" with the reason and
 * how to install it (scripts/install-peers.sh) and exits 0 — unless
 * CLEAVE_REQUIRE_PEERS=1, when a missing peer is a failure (CI sets it).
 * CLEAVE_NODE names the node binary (default: node on PATH).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cleave/engine.h"
#include "cleave/graph.h"
#include "cleave/load.h"
#include "util/util.h"

#ifndef CLEAVE_SOURCE_DIR
#define CLEAVE_SOURCE_DIR "."
#endif
#define ORT_RUN CLEAVE_SOURCE_DIR "/scripts/ort_run.js"
#define RTOL 1e-3

static char tmpdir[64];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *node_bin(void)
{
    const char *n = getenv("CLEAVE_NODE");
    return n && n[0] ? n : "node";
}

/* Runs argv (argv[0] looked up on PATH) with stdout and stderr to `log`.
 * Returns the exit status, 127 when it could not be started, -1 when it
 * died of a signal. */
static int run(char *const argv[], const char *log)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
}

/* The first line of a log file, for messages. */
static void first_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (f) {
        if (!fgets(buf, (int)len, f))
            buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
}

/* Whether node and onnxruntime-node are usable; `why` says why not. */
static bool have_ort(char *why, size_t len, char *version, size_t vlen)
{
    char log[128], line[256];
    snprintf(log, sizeof log, "%s/probe.log", tmpdir);
    char *argv[] = {(char *)node_bin(), (char *)ORT_RUN, "--version", NULL};
    int st = run(argv, log);
    first_line(log, line, sizeof line);
    remove(log);
    if (st == 0) {
        snprintf(version, vlen, "%.100s", line);
        return true;
    }
    if (st == 127)
        snprintf(why, len, "node ('%s') not found", node_bin());
    else if (st == 3)
        snprintf(why, len, "scripts/ort_run.js finds no onnxruntime-node");
    else
        snprintf(why, len, "%s %s --version exited with %d: %s", node_bin(),
                 ORT_RUN, st, line);
    return false;
}

static bool write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Reads exactly n bytes of `path`; false if the file has another size. */
static bool read_exact(const char *path, void *p, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool ok = fread(p, 1, n, f) == n && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

static void test_model(const char *name, int *compared)
{
    char onnx[160], in_path[160], out_path[160], log[160];
    snprintf(onnx, sizeof onnx, "%s/%s.onnx", tmpdir, name);
    snprintf(in_path, sizeof in_path, "%s/%s.in", tmpdir, name);
    snprintf(out_path, sizeof out_path, "%s/%s.out", tmpdir, name);
    snprintf(log, sizeof log, "%s/%s.log", tmpdir, name);
    double t0 = now();

    clv_graph *g = NULL;
    clv_engine *e = NULL;
    float *input = NULL, *ort = NULL;
    void **outs = NULL;
    int n_out = 0;
    clv_error err;
    clv_error_clear(&err);

    int rc = clv_zoo_build(name, 7, 0, &g, &err);
    CHECKF(rc == 0, "%s: %s", name, clv_error_text(&err, rc));
    if (rc)
        goto done;
    rc = clv_save_onnx(g, onnx, &err);
    CHECKF(rc == 0, "%s: %s", name, clv_error_text(&err, rc));
    if (rc)
        goto done;
    CHECKF(clv_graph_n_inputs(g) == 1, "%s: %d inputs", name,
           clv_graph_n_inputs(g));
    const clv_tensor *tin = clv_graph_tensor(g, clv_graph_input(g, 0));
    size_t n_in = (size_t)clv_tensor_numel(tin);
    input = malloc(n_in * sizeof *input);
    if (!input)
        goto done;
    clv_rng s;
    clv_rng_seed(&s, 0x0e7a0000u + (uint64_t)strlen(name));
    clv_rng_fill_uniform(&s, input, n_in, 0.0f, 1.0f);
    CHECK(write_file(in_path, input, n_in * sizeof *input));

    /* ONNX Runtime. */
    char *argv[] = {(char *)node_bin(), (char *)ORT_RUN, onnx, "--input",
                    in_path, "--output", out_path, "--threads", "1",
                    "--repeat", "1", "--warmup", "0", NULL};
    int st = run(argv, log);
    double t1 = now();
    if (st != 0) {
        char line[256];
        first_line(log, line, sizeof line);
        CHECKF(false, "%s: ONNX Runtime failed (exit %d): %s", name, st,
               line);
        goto done;
    }
    remove(onnx); /* vgg16 is 0.5 GB */

    /* cleave. */
    rc = clv_engine_create(g, NULL, 0, NULL, &e, &err);
    CHECKF(rc == 0, "%s: %s", name, clv_error_text(&err, rc));
    if (rc)
        goto done;
    n_out = clv_engine_n_outputs(e);
    outs = calloc((size_t)n_out + 1, sizeof *outs);
    size_t total = 0;
    for (int k = 0; outs && k < n_out; k++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_output(e, k));
        CHECKF(t->dtype == CLV_DT_FLOAT, "%s: output %s is %s", name,
               t->name, clv_dtype_name(t->dtype));
        total += (size_t)clv_tensor_numel(t);
        outs[k] = malloc((size_t)clv_tensor_bytes(t));
        if (!outs[k])
            goto done;
    }
    if (!outs)
        goto done;
    const void *ins[1] = {input};
    rc = clv_engine_run(e, ins, outs, &err);
    CHECKF(rc == 0, "%s: %s", name, clv_error_text(&err, rc));
    if (rc)
        goto done;
    double t2 = now();

    ort = malloc(total * sizeof *ort);
    CHECKF(ort && read_exact(out_path, ort, total * sizeof *ort),
           "%s: ONNX Runtime's outputs are not %zu floats", name, total);
    if (!ort)
        goto done;
    size_t off = 0;
    for (int k = 0; k < n_out; k++) {
        const clv_tensor *t = clv_graph_tensor(g, clv_engine_output(e, k));
        size_t n = (size_t)clv_tensor_numel(t);
        const float *c = outs[k], *o = ort + off;
        off += n;
        double num = 0, den = 0, lo = INFINITY, hi = -INFINITY;
        size_t worst = 0;
        bool finite = true;
        for (size_t j = 0; j < n; j++) {
            if (!isfinite(c[j]) || !isfinite(o[j]))
                finite = false;
            double d = fabs((double)c[j] - (double)o[j]);
            if (d > num) {
                num = d;
                worst = j;
            }
            if (fabs((double)o[j]) > den)
                den = fabs((double)o[j]);
            if (o[j] < lo)
                lo = o[j];
            if (o[j] > hi)
                hi = o[j];
        }
        double rel = den > 0 ? num / den : num;
        char shape[64];
        clv_tensor_shape_str(t, shape, sizeof shape);
        CHECKF(finite, "%s: output %s has non-finite values", name, t->name);
        CHECKF(rel <= RTOL,
               "%s: output %s %s: max |cleave - ort| / max |ort| = %.3g "
               "(at %zu: cleave %.7g, ort %.7g)",
               name, t->name, shape, rel, worst, (double)c[worst],
               (double)o[worst]);
        CHECKF(hi - lo > 1e-6 * (den > 0 ? den : 1),
               "%s: ONNX Runtime's output %s is constant (%g)", name,
               t->name, lo);
        printf("%-13s %-14s error %.2g (max |ort| %.3g); ort %.1fs, cleave "
               "%.1fs\n",
               name, shape, rel, den, t1 - t0, t2 - t1);
    }
    (*compared)++;

done:
    for (int k = 0; outs && k < n_out; k++)
        free(outs[k]);
    free(outs);
    free(ort);
    free(input);
    clv_engine_free(e);
    clv_graph_free(g);
    remove(onnx);
    remove(in_path);
    remove(out_path);
    remove(log);
}

int main(void)
{
    double t0 = now();
    char why[512] = "", version[128] = "";
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cleave_ortpeer_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (!have_ort(why, sizeof why, version, sizeof version)) {
        const char *req = getenv("CLEAVE_REQUIRE_PEERS");
        bool required = req && req[0] == '1';
        printf("test_ort_peer: SKIPPED: %s; install the peer with "
               "scripts/install-peers.sh\n",
               why);
        rmdir(tmpdir);
        if (required) {
            CHECKF(false, "CLEAVE_REQUIRE_PEERS=1 and ONNX Runtime is "
                   "missing: %s", why);
        }
        return check_report("test_ort_peer");
    }
    printf("test_ort_peer: peer %s through %s\n", version, node_bin());
    int compared = 0;
    for (int i = 0; i < clv_zoo_count(); i++)
        test_model(clv_zoo_name(i), &compared);
    CHECKF(compared == clv_zoo_count(), "%d of %d zoo models compared",
           compared, clv_zoo_count());
    rmdir(tmpdir);
    printf("test_ort_peer: %d models in %.1f s\n", compared, now() - t0);
    return check_report("test_ort_peer");
}
