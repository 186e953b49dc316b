/* `cleave plan` run as a user would: problem files, models with FLOP-based
 * times, JSON, Graphviz, sweeps, and the exit codes of bad command lines. */
#define _POSIX_C_SOURCE 200809L /* popen */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "run_cli.h"
#include "text_file.h"

#define DIR CLEAVE_BINARY_DIR "/plan-cli"

/* The DNN Surgery paper's Fig. 9 shape (see test_plan.c): at 1 Mbit/s the
 * best plan keeps v1 on the edge and sends its 1000 bytes once: 11.5 ms. */
static const char fig9[] =
    "{\"format\":\"cleave-problem\",\"version\":1,\"name\":\"fig9\",\n"
    " \"nodes\":[\n"
    "  {\"name\":\"v1\",\"t_edge_ms\":1,\"t_cloud_ms\":0.5,\"out_bytes\":1000,"
    "\"inputs\":[]},\n"
    "  {\"name\":\"v2\",\"t_edge_ms\":5,\"t_cloud_ms\":1,\"out_bytes\":4000,"
    "\"inputs\":[\"v1\"]},\n"
    "  {\"name\":\"v3\",\"t_edge_ms\":4,\"t_cloud_ms\":1,\"out_bytes\":3000,"
    "\"inputs\":[\"v1\"]},\n"
    "  {\"name\":\"v4\",\"t_edge_ms\":3,\"t_cloud_ms\":0.5,\"out_bytes\":100,"
    "\"inputs\":[\"v2\",\"v3\"]}]}\n";

static double num(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(it) ? it->valuedouble : -1;
}

static void test_problem_file(void)
{
    char *out;
    CHECK(write_text(DIR "/fig9.json", fig9) == 0);
    CHECK(cleave("plan --problem " DIR "/fig9.json --bandwidth 1mbit --json "
                 "--dot " DIR "/fig9.dot",
                 &out) == 0);
    cJSON *j = cJSON_Parse(out);
    CHECKF(j != NULL, "not JSON: %s", out);
    if (j) {
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(j, "planner");
        CHECK(cJSON_IsString(pl) && strcmp(pl->valuestring, "dsl") == 0);
        CHECK(num(j, "latency_ms") == 11.5 && num(j, "edge_ms") == 1 &&
              num(j, "transfer_ms") == 8 && num(j, "cloud_ms") == 2.5 &&
              num(j, "max_stage_ms") == 8 && num(j, "fps") == 125);
        const cJSON *cut = cJSON_GetObjectItemCaseSensitive(j, "cut");
        CHECK(cJSON_GetArraySize(cut) == 1);
        const cJSON *c0 = cJSON_GetArrayItem(cut, 0);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c0, "node");
        CHECK(cJSON_IsString(nm) && strcmp(nm->valuestring, "v1") == 0 &&
              num(c0, "bytes") == 1000);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                  j, "edge_nodes")) == 1);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                  j, "cloud_nodes")) == 3);
    }
    cJSON_Delete(j);
    free(out);
    char *dot = read_text(DIR "/fig9.dot");
    CHECK(dot && strstr(dot, "digraph") &&
          strstr(dot, "\"v1\" -> \"v3\" [color=red"));
    free(dot);

    /* the human table */
    CHECK(cleave("plan --problem " DIR "/fig9.json --bandwidth 1", &out) == 0);
    CHECK(strstr(out, "latency") && strstr(out, "11.500") &&
          strstr(out, "v1 (1000 B)"));
    free(out);
    /* dads modes and dsccs's all-edge fallback */
    CHECK(cleave("plan --problem " DIR "/fig9.json --bandwidth 1 --planner "
                 "dads --fps 200 --json",
                 &out) == 0);
    CHECK(strstr(out, "\"mode\":\t\"congested\"") != NULL);
    free(out);
    CHECK(cleave("plan --problem " DIR "/fig9.json --bandwidth 1 --planner "
                 "dads --fps 50 --json",
                 &out) == 0);
    CHECK(strstr(out, "\"mode\":\t\"light\"") != NULL);
    free(out);
    CHECK(cleave("plan --problem " DIR "/fig9.json --bandwidth 1 --planner "
                 "dsccs --cloud-budget 3",
                 &out) == 0);
    CHECK(strstr(out, "everything runs on the edge") != NULL);
    free(out);
    /* sweep: four presets, every planner; brute fits 4 nodes */
    CHECK(cleave("plan --problem " DIR "/fig9.json --sweep", &out) == 0);
    CHECK(strstr(out, "cat1") && strstr(out, "3g") && strstr(out, "4g") &&
          strstr(out, "wifi") && strstr(out, "neurosurgeon") &&
          strstr(out, "brute") && strstr(out, "dsh"));
    free(out);
    CHECK(cleave("plan --problem " DIR "/fig9.json --sweep --json --fps 30 "
                 "--cloud-budget 20",
                 &out) == 0);
    j = cJSON_Parse(out);
    CHECK(j != NULL);
    /* 4 presets x 8 planners */
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "plans")) ==
          32);
    cJSON_Delete(j);
    free(out);
}

static void test_model(void)
{
    char *out, *again;
    /* times from FLOPs; the dumped problem plans the same */
    CHECK(cleave("plan zoo:lenet --edge-gflops 0.5 --cloud-gflops 50 --link "
                 "3g --json --dump-problem " DIR "/lenet.json",
                 &out) == 0);
    CHECK(cleave("plan --problem " DIR "/lenet.json --json", &again) == 0);
    cJSON *a = cJSON_Parse(out), *b = cJSON_Parse(again);
    CHECK(a && b);
    if (a && b) {
        CHECK(num(a, "latency_ms") > 0 &&
              num(a, "latency_ms") == num(b, "latency_ms"));
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(b, "link");
        CHECK(num(l, "bandwidth_mbps") == 1.1); /* the dumped link */
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(out);
    free(again);
}

static void test_errors(void)
{
    char *out;
    CHECK(cleave("plan --help", &out) == 0 && strstr(out, "--planner"));
    free(out);
    CHECK(cleave("help plan", &out) == 0 && strstr(out, "--sweep"));
    free(out);
    CHECK(cleave("plan", &out) == 2);
    free(out);
    CHECK(cleave("plan --problem x.json --planner magic", &out) == 2);
    CHECK(strstr(out, "unknown planner 'magic'") != NULL);
    free(out);
    CHECK(cleave("plan --problem x.json --link 6g", &out) == 2);
    CHECK(strstr(out, "unknown link '6g'") != NULL);
    free(out);
    CHECK(cleave("plan --problem x.json --bandwidth -3", &out) == 2);
    free(out);
    CHECK(cleave("plan --problem x.json --planner dads", &out) == 2);
    CHECK(strstr(out, "--fps") != NULL);
    free(out);
    CHECK(cleave("plan --problem x.json --planner dsccs", &out) == 2);
    CHECK(strstr(out, "--cloud-budget") != NULL);
    free(out);
    CHECK(cleave("plan zoo:lenet", &out) == 2);
    CHECK(strstr(out, "--edge-profile") != NULL);
    free(out);
    CHECK(cleave("plan zoo:lenet --edge-profile a.json", &out) == 2);
    free(out);
    CHECK(cleave("plan --problem " DIR "/missing.json", &out) == 1);
    CHECK(strstr(out, "missing.json") != NULL);
    free(out);
    CHECK(write_text(DIR "/cycle.json",
                     "{\"format\":\"cleave-problem\",\"version\":1,\"nodes\":"
                     "[{\"name\":\"a\",\"t_edge_ms\":1,\"t_cloud_ms\":1,"
                     "\"out_bytes\":1,\"inputs\":[\"b\"]},{\"name\":\"b\","
                     "\"t_edge_ms\":1,\"t_cloud_ms\":1,\"out_bytes\":1,"
                     "\"inputs\":[\"a\"]}]}") == 0);
    CHECK(cleave("plan --problem " DIR "/cycle.json", &out) == 1);
    CHECK(strstr(out, "cycle") != NULL);
    free(out);
    CHECK(cleave("plan zoo:resnet18 --edge-gflops 1 --cloud-gflops 10 "
                 "--planner brute",
                 &out) == 1);
    CHECK(strstr(out, "at most 24 nodes") != NULL);
    free(out);
    CHECK(cleave("plan zoo:lenet --edge-profile " DIR "/missing.json "
                 "--cloud-profile " DIR "/missing.json",
                 &out) == 1);
    free(out);
}

/* --planner jps: the schedule beside the baselines; its JSON; brute
 * force refuses what it cannot finish; --jobs alone is a usage error. */
static void test_jps(void)
{
    char *out;
    const char *base = "plan zoo:googlenet --edge-gflops 2 --cloud-gflops "
                       "100 --link 4g --planner jps --jobs 100";
    char cmd[256];
    CHECK(cleave(base, &out) == 0);
    CHECKF(strstr(out, "LO all on the edge") && strstr(out, "CO all in the "
           "cloud") && strstr(out, "PO every job at dsl's cut") &&
           strstr(out, "JPS frontier") && strstr(out, "Johnson's rule"),
           "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s --json", base);
    CHECK(cleave(cmd, &out) == 0);
    cJSON *j = cJSON_Parse(out);
    CHECKF(j != NULL, "not JSON: %s", out);
    if (j) {
        const cJSON *bl = cJSON_GetObjectItemCaseSensitive(j, "baselines_ms");
        const cJSON *cuts = cJSON_GetObjectItemCaseSensitive(j, "cuts");
        double m = num(j, "makespan_ms");
        CHECK(num(j, "jobs") == 100 && cJSON_GetArraySize(cuts) >= 1);
        /* JPS never loses to its own baselines: every job at one cut is
         * one of the schedules it weighs */
        CHECKF(m > 0 && m <= num(bl, "PO") + 1e-6 && m <= num(bl, "LO") &&
                   m <= num(bl, "CO") + 1e-6,
               "makespan %g, PO %g, LO %g, CO %g", m, num(bl, "PO"),
               num(bl, "LO"), num(bl, "CO"));
        int jobs = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, cuts) jobs += (int)num(c, "jobs");
        CHECK(jobs == 100);
        CHECK(cJSON_GetArraySize(
                  cJSON_GetObjectItemCaseSensitive(j, "order")) == 100);
        cJSON_Delete(j);
    }
    free(out);
    /* two cuts drawn in one picture: the nodes on the edge in the first
     * cut only, and the second cut's tensors dashed */
    CHECK(cleave("plan zoo:alexnet --edge-gflops 2 --cloud-gflops 100 --link "
                 "3g --planner jps --jobs 100 --jps chain --dot " DIR
                 "/jps.dot", &out) == 0);
    free(out);
    char *dot = read_text(DIR "/jps.dot");
    CHECKF(dot && strstr(dot, "edge in cut A only") &&
               strstr(dot, "fillcolor=\"#a1d99b\"];") &&
               strstr(dot, "style=dashed"),
           "%s", dot ? dot : "(no file)");
    free(dot);
    /* the frame as 8-bit pixels by default: cloud-only sends a quarter of
     * the float32 tensor */
    double t_ms[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "plan zoo:resnet18 --edge-gflops 2 --cloud-gflops 100 "
                 "--link 4g --planner cloud --json%s", k ? " --frame-codec raw" : "");
        CHECK(cleave(cmd, &out) == 0);
        cJSON *pj = cJSON_Parse(out);
        t_ms[k] = num(pj, "transfer_ms");
        cJSON_Delete(pj);
        free(out);
    }
    CHECKF(fabs(t_ms[1] / t_ms[0] - 4) < 0.01, "cloud-only: u8 %g ms, float32 %g ms",
           t_ms[0], t_ms[1]);
    CHECK(cleave("plan zoo:lenet --edge-gflops 1 --cloud-gflops 10 --frame-codec png",
                 &out) == 2);
    free(out);
    /* the float32 frame: more candidate cuts than brute force takes */
    snprintf(cmd, sizeof cmd, "%s --jps brute --frame-codec raw", base);
    CHECK(cleave(cmd, &out) == 1);
    CHECKF(strstr(out, "100 jobs") && strstr(out, "combinations"), "%s", out);
    free(out);
    CHECK(cleave("plan zoo:lenet --edge-gflops 1 --cloud-gflops 10 --jobs 3",
                 &out) == 2);
    CHECKF(strstr(out, "--jobs and --jps go with --planner jps"), "%s", out);
    free(out);
    CHECK(cleave("plan zoo:lenet --edge-gflops 1 --cloud-gflops 10 --planner "
                 "jps --jps fast", &out) == 2);
    free(out);
}

/* JALAD from the command line: a table of lenet (random pixels), the
 * planner by enumeration and by GLPK (the same plan), in the sweep with
 * its codec, and the mistakes a user makes. */
static void test_jalad(void)
{
    char *out;
    CHECK(cleave("jalad-table zoo:lenet --images 3 --max-bits 4 --quiet -o " DIR
                 "/lenet.jalad.json", &out) == 0);
    CHECKF(strstr(out, "cut points"), "%s", out);
    free(out);
    const char *base = "plan zoo:lenet --edge-gflops 0.05 --cloud-gflops 50 --link 3g "
                       "--planner jalad --accuracy-drop 0.2 --table " DIR "/lenet.jalad.json";
    char cmd[512];
    double lat[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s --json%s", base, k ? " --ilp" : "");
        CHECK(cleave(cmd, &out) == 0);
        cJSON *j = cJSON_Parse(out);
        CHECKF(j && !strcmp(cJSON_GetObjectItemCaseSensitive(j, "planner")->valuestring,
                            "jalad"),
               "%s", out);
        lat[k] = num(j, "latency_ms");
        cJSON_Delete(j);
        free(out);
    }
    CHECKF(lat[0] > 0 && fabs(lat[0] - lat[1]) < 1e-9, "enumeration %g ms, GLPK %g ms",
           lat[0], lat[1]);
    CHECK(cleave("plan zoo:lenet --edge-gflops 0.05 --cloud-gflops 50 --sweep --table " DIR
                 "/lenet.jalad.json", &out) == 0);
    int rows = 0;
    for (const char *q = out; (q = strstr(q, " jalad ")); q++)
        rows++;
    CHECKF(rows == 4, "%d jalad rows in the sweep: %s", rows, out);
    free(out);
    CHECK(cleave("plan zoo:lenet --edge-gflops 1 --cloud-gflops 50 --planner jalad", &out) == 2);
    CHECKF(strstr(out, "--table"), "%s", out);
    free(out);
    CHECK(cleave("plan zoo:lenet --edge-gflops 1 --cloud-gflops 50 --planner dsl --table "
                 DIR "/lenet.jalad.json", &out) == 2);
    free(out);
    /* a table of another model names the cut it cannot find */
    CHECK(cleave("plan zoo:alexnet --edge-gflops 1 --cloud-gflops 50 --planner jalad "
                 "--table " DIR "/lenet.jalad.json", &out) == 1);
    CHECKF(strstr(out, "another model"), "%s", out);
    free(out);
}

int main(void)
{
    CHECK(system("mkdir -p " DIR) == 0);
    test_jalad();
    test_problem_file();
    test_model();
    test_errors();
    test_jps();
    return check_report("test_plan_cli");
}
