/*
 * `cleave run` end to end: a raw float32 input gives, in the --output
 * file, exactly the bytes the engine computes in-process for the same
 * input; --threads does not change them; --json is valid JSON with the
 * documented fields; wrong sizes and options fail with the documented
 * exit statuses and messages.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "cleave/engine.h"
#include "cleave/load.h"
#include "check.h"
#include "util/util.h"

#define TMP_IN CLEAVE_BINARY_DIR "/test_engine_cli.in.raw"
#define TMP_OUT CLEAVE_BINARY_DIR "/test_engine_cli.out.raw"
#define TMP_OUT2 CLEAVE_BINARY_DIR "/test_engine_cli.out2.raw"

/* Runs a shell command; returns its exit status and its stdout+stderr. */
static int run(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    int st;
    if (!p)
        return -1;
    while (n + 1 < len) {
        size_t k = fread(out + n, 1, len - 1 - n, p);
        if (k == 0)
            break;
        n += k;
    }
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    if (clv_util_read_file(path, (uint64_t)1 << 30, &buf, len, NULL))
        return NULL;
    return buf;
}

int main(void)
{
    static char out[1 << 16];
    char cmd[2048];
    clv_graph *g = NULL;
    clv_engine *e = NULL;
    clv_error err = {0};
    float in[28 * 28], want[10];
    size_t len = 0;
    char *got;
    int st;
    FILE *f;

    /* the in-process result for a known input */
    CHECK(clv_zoo_build("lenet", 1, 0, &g, &err) == 0);
    if (!g)
        return check_report("test_engine_cli");
    for (int i = 0; i < 28 * 28; i++)
        in[i] = (float)((i * 37) % 101) / 101.0f;
    CHECK(clv_engine_create(g, NULL, 0, NULL, &e, &err) == 0);
    {
        const void *ins[1] = {in};
        void *outs[1] = {want};
        CHECK(e && clv_engine_run(e, ins, outs, &err) == 0);
    }
    f = fopen(TMP_IN, "wb");
    CHECK(f && fwrite(in, sizeof in, 1, f) == 1);
    if (f)
        fclose(f);

    /* cleave run writes the same bytes, with 1 and with 3 threads */
    snprintf(cmd, sizeof cmd,
             "%s run zoo:lenet --input %s --output %s --repeat 2 2>&1",
             CLEAVE_CLI, TMP_IN, TMP_OUT);
    st = run(cmd, out, sizeof out);
    CHECKF(st == 0, "cleave run: status %d: %s", st, out);
    CHECKF(strstr(out, "top-5:") && strstr(out, "time: median"),
           "summary lacks top-5 or time: %s", out);
    got = slurp(TMP_OUT, &len);
    CHECKF(got && len == sizeof want && !memcmp(got, want, sizeof want),
           "--output differs from the engine's result (%zu bytes)", len);
    free(got);
    snprintf(cmd, sizeof cmd,
             "%s run zoo:lenet --input %s --output %s --threads 3 "
             "--repeat 1 2>&1",
             CLEAVE_CLI, TMP_IN, TMP_OUT2);
    CHECK(run(cmd, out, sizeof out) == 0);
    got = slurp(TMP_OUT2, &len);
    CHECK(got && len == sizeof want && !memcmp(got, want, sizeof want));
    free(got);

    /* --json */
    snprintf(cmd, sizeof cmd, "%s run zoo:lenet --json --repeat 3 2>/dev/null",
             CLEAVE_CLI);
    st = run(cmd, out, sizeof out);
    CHECK(st == 0);
    {
        cJSON *j = cJSON_Parse(out);
        cJSON *outs = cJSON_GetObjectItem(j, "outputs");
        cJSON *o0 = cJSON_GetArrayItem(outs, 0);
        CHECKF(j != NULL, "--json output does not parse: %s", out);
        CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "format")) &&
              !strcmp(cJSON_GetObjectItem(j, "format")->valuestring,
                      "cleave-run"));
        CHECK(cJSON_GetObjectItem(j, "runs") &&
              cJSON_GetObjectItem(j, "runs")->valuedouble == 3);
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "median_ms")));
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(o0, "top5")) == 5);
        cJSON_Delete(j);
    }

    /* errors: a raw file of the wrong size, bad options */
    f = fopen(TMP_IN, "wb");
    CHECK(f && fwrite(in, 100, 1, f) == 1);
    if (f)
        fclose(f);
    snprintf(cmd, sizeof cmd, "%s run zoo:lenet --input %s 2>&1", CLEAVE_CLI,
             TMP_IN);
    st = run(cmd, out, sizeof out);
    CHECKF(st == 1 && strstr(out, "100 bytes") && strstr(out, "3136 bytes"),
           "wrong-size input: status %d: %s", st, out);
    snprintf(cmd, sizeof cmd, "%s run zoo:lenet --threads 0 2>&1",
             CLEAVE_CLI);
    CHECK(run(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "%s run zoo:lenet --bogus 2>&1", CLEAVE_CLI);
    CHECK(run(cmd, out, sizeof out) == 2);
    snprintf(cmd, sizeof cmd, "%s run zoo:no-such-model 2>&1", CLEAVE_CLI);
    CHECK(run(cmd, out, sizeof out) == 1);
    snprintf(cmd, sizeof cmd, "%s run --help", CLEAVE_CLI);
    CHECK(run(cmd, out, sizeof out) == 0 && strstr(out, "--repeat"));

    remove(TMP_IN);
    remove(TMP_OUT);
    remove(TMP_OUT2);
    clv_engine_free(e);
    clv_graph_free(g);
    return check_report("test_engine_cli");
}
