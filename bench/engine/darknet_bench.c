/*
 * Times Debian's libdarknet (network_predict) on a darknet cfg: the darknet
 * column of bench/engine/run.sh.
 *
 *   darknet_bench CFG [--size HW] [--repeat K] [--warmup W]
 *
 * The cfg is copied with batch=1, subdivisions=1 and, with --size, width
 * and height set to HW in [net]. Darknet initialises its own random weights
 * (the time does not depend on their values); the input is uniform in
 * [0, 1) from a fixed seed. Prints one JSON line: {"format":
 * "darknet-bench", "version": 1, "cfg", "size": [c, h, w], "runs",
 * "median_ms", "min_ms", "max_ms", "times_ms", "outputs"}.
 *
 * Debian's libdarknet (0.0.0+git20180914) is built without OpenMP,
 * CUDA and BLAS: one thread, darknet's own gemm.
 *
 * Build (run.sh does it):
 *   cc -O2 -std=c11 -I/usr/lib/darknet/include darknet_bench.c \
 *      -L/usr/lib/darknet -Wl,-rpath,/usr/lib/darknet -ldarknet -lm
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "darknet.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Copies `src` to `dst` with batch, subdivisions and (size > 0) width and
 * height replaced in [net]. */
static int write_cfg(const char *src, const char *dst, int size)
{
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    char line[4096];
    int section = 0;
    if (!in || !out) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return -1;
    }
    while (fgets(line, sizeof line, in)) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[') {
            section++;
            if (section == 1) {
                fputs(line, out);
                fputs("batch=1\nsubdivisions=1\n", out);
                if (size > 0)
                    fprintf(out, "width=%d\nheight=%d\n", size, size);
                continue;
            }
        }
        /* Darknet keeps the first of duplicate keys: drop the originals. */
        if (section == 1 &&
            (!strncmp(p, "batch", 5) || !strncmp(p, "subdivisions", 12) ||
             (size > 0 && (!strncmp(p, "width", 5) ||
                           !strncmp(p, "height", 6)))))
            continue;
        fputs(line, out);
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *cfg = NULL;
    int size = 0, repeat = 5, warmup = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !cfg)
            cfg = argv[i];
        else {
            fprintf(stderr, "usage: darknet_bench CFG [--size HW] "
                            "[--repeat K] [--warmup W]\n");
            return 2;
        }
    }
    if (!cfg || repeat < 1 || repeat > 100000 || warmup < 0 || size < 0) {
        fprintf(stderr, "usage: darknet_bench CFG [--size HW] [--repeat K] "
                        "[--warmup W]\n");
        return 2;
    }
    char tmp[] = "/tmp/darknet_bench_XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    close(fd);
    if (write_cfg(cfg, tmp, size)) {
        fprintf(stderr, "darknet_bench: cannot read %s\n", cfg);
        unlink(tmp);
        return 1;
    }
    /* darknet prints a table of layers to stderr while parsing: hide it. */
    fflush(stderr);
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    if (saved >= 0 && devnull >= 0)
        dup2(devnull, 2);
    network *net = parse_network_cfg(tmp);
    if (saved >= 0) {
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
    }
    if (devnull >= 0)
        close(devnull);
    unlink(tmp);
    if (!net) {
        fprintf(stderr, "darknet_bench: darknet cannot parse %s\n", cfg);
        return 1;
    }
    set_batch_network(net, 1);

    size_t n_in = (size_t)net->inputs;
    float *x = malloc(n_in * sizeof *x);
    double *t = malloc((size_t)repeat * sizeof *t);
    if (!x || !t) {
        fprintf(stderr, "darknet_bench: out of memory\n");
        return 1;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < n_in; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 40) / 16777216.0);
    }
    for (int r = 0; r < warmup; r++)
        network_predict(net, x);
    for (int r = 0; r < repeat; r++) {
        double t0 = now_ms();
        network_predict(net, x);
        t[r] = now_ms() - t0;
    }
    printf("{\"format\": \"darknet-bench\", \"version\": 1, \"cfg\": \"%s\", "
           "\"size\": [%d, %d, %d], \"runs\": %d, \"times_ms\": [",
           cfg, net->c, net->h, net->w, repeat);
    for (int r = 0; r < repeat; r++)
        printf("%s%.4f", r ? ", " : "", t[r]);
    qsort(t, (size_t)repeat, sizeof *t, cmp_double);
    double med = repeat % 2 ? t[repeat / 2]
                            : 0.5 * (t[repeat / 2 - 1] + t[repeat / 2]);
    printf("], \"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, "
           "\"outputs\": %d}\n",
           med, t[0], t[repeat - 1], net->outputs);
    free(x);
    free(t);
    free_network(net);
    return 0;
}
