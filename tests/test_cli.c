/* Tests of the cleave command-line tool, run as a user would. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "cleave/load.h"
#include "run_cli.h"

static void test_usage(void)
{
    char *out;
    CHECK(cleave("", &out) == 2);
    CHECK(strstr(out, "usage: cleave") != NULL);
    free(out);
    CHECK(cleave("--help", &out) == 0);
    CHECK(strstr(out, "info MODEL") != NULL);
    free(out);
    CHECK(cleave("info --help", &out) == 0);
    CHECK(strstr(out, "--json") != NULL);
    free(out);
    CHECK(cleave("frobnicate", &out) == 2);
    CHECK(strstr(out, "unknown command 'frobnicate'") != NULL);
    free(out);
    CHECK(cleave("info", &out) == 2);
    free(out);
    CHECK(cleave("info zoo:resnet18 --bogus", &out) == 2);
    CHECK(strstr(out, "--bogus") != NULL);
    free(out);
    CHECK(cleave("info --seed x zoo:lenet", &out) == 2);
    free(out);
}

static void test_errors(void)
{
    char *out;
    CHECK(cleave("info /nonexistent/model.onnx", &out) == 1);
    CHECKF(strstr(out, "/nonexistent/model.onnx") != NULL, "%s", out);
    free(out);
    CHECK(cleave("info zoo:nosuchnet", &out) == 1);
    CHECKF(strstr(out, "resnet18") != NULL, "names the known models: %s",
           out);
    free(out);
    CHECK(cleave("info model.txt", &out) == 1);
    free(out);
    CHECK(cleave("zoo resnet18", &out) == 2); /* no -o */
    CHECK(strstr(out, "-o") != NULL);
    free(out);
}

/* The serve and edge options of the server's own times, the CPU quota and
 * the round trip: bad values are usage errors that say what is allowed;
 * an unreadable profile stops the server with its name. */
/* Options through one parser (getopt_long): every command answers
 * --version and --help; --name=value works as --name value; a bad option
 * gets one line naming that option, not a list of every rule. */
static void test_option_parser(void)
{
    static const char *const cmds[] = {"info", "zoo", "run", "profile",
                                       "plan", "serve", "edge", "demo"};
    char *out, line[160];
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        snprintf(line, sizeof line, "%s --version", cmds[i]);
        CHECKF(cleave(line, &out) == 0 && strstr(out, "cleave 0.1.0"),
               "%s: %s", line, out);
        free(out);
        snprintf(line, sizeof line, "%s --no-such-option", cmds[i]);
        CHECKF(cleave(line, &out) == 2 &&
                   strstr(out, "unknown option '--no-such-option'"),
               "%s: %s", line, out);
        free(out);
    }
    static const char *const bad[][2] = {
        {"edge --model zoo:lenet --server 127.0.0.1:1 --frames many",
         "cleave edge: --frames: 'many' is not a non-negative integer\n"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --threads 0",
         "cleave edge: --threads: 1 to 64\n"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --slowdown 2",
         "cleave edge: --slowdown: a duty cycle in (0, 1]\n"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --fps=-1",
         "cleave edge: --fps: a rate >= 0\n"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --max-plans 0",
         "cleave edge: --max-plans: 1 to 1024\n"},
        {"edge --model zoo:lenet --server", "cleave edge: --server needs a "
                                            "value"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --planner jps",
         "cleave edge: --planner jps plans for one rate: give --link or "
         "--bandwidth\n"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --jobs 4",
         "cleave edge: --jobs, --bursts and --compare go with --planner "
         "jps\n"},
        {"run zoo:lenet --repeat 1e3", "cleave run: --repeat: '1e3' is not a "
                                       "non-negative integer\n"},
        {"zoo lenet -o", "cleave zoo: -o needs a value"},
        {"plan --problem x.json --bandwidth fast",
         "cleave plan: --bandwidth: "},
        {"info zoo:lenet zoo:nin", "cleave info: one MODEL only ('zoo:lenet' "
                                   "and 'zoo:nin')\n"},
        {"serve --model zoo:lenet extra", "cleave serve: takes no argument "
                                          "like 'extra'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = cleave(bad[i][0], &out);
        /* exactly one line, the expected one */
        const char *nl = strchr(out, '\n');
        CHECKF(rc == 2 && strstr(out, bad[i][1]) == out && nl &&
                   nl[1] == '\0',
               "cleave %s: exit %d: %s", bad[i][0], rc, out);
        free(out);
    }
    /* --name=value and the short form */
    CHECK(cleave("zoo lenet --seed=3 --size=28 -o " CLEAVE_BINARY_DIR "/cli-opt.onnx", &out) ==
          0);
    CHECKF(strstr(out, "seed 3"), "%s", out);
    free(out);
    CHECK(cleave("info " CLEAVE_BINARY_DIR "/cli-opt.onnx --json --seed=3", &out) == 0);
    free(out);
}

static void test_runtime_options(void)
{
    static const char *const usage[][2] = {
        {"serve --model zoo:lenet --profile-runs 5000",
         "--profile-runs must be 0 to 1000"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --cloud-times cloud",
         "--cloud-times: server or local"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --rtt -3",
         "--rtt: milliseconds >= 0"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --cpu-quota 0.001",
         "--cpu-quota: a fraction of a core in [0.01, 64]"},
        {"edge --model zoo:lenet --server 127.0.0.1:1 --cpu-quota 0.5 "
         "--slowdown 0.5",
         "--cpu-quota and --slowdown: one way"},
    };
    char *out;
    for (size_t i = 0; i < sizeof usage / sizeof *usage; i++) {
        int rc = cleave(usage[i][0], &out);
        CHECKF(rc == 2 && strstr(out, usage[i][1]), "cleave %s: exit %d: %s",
               usage[i][0], rc, out);
        free(out);
    }
    int rc = cleave("serve --model zoo:lenet --listen 127.0.0.1:0 --profile "
                    "/nonexistent/cloud.json",
                    &out);
    CHECKF(rc == 1 && strstr(out, "/nonexistent/cloud.json"), "exit %d: %s",
           rc, out);
    free(out);
    CHECK(cleave("serve --help", &out) == 0 && strstr(out, "--profile-runs"));
    free(out);
    CHECK(cleave("edge --help", &out) == 0 && strstr(out, "--cpu-quota") &&
          strstr(out, "--cloud-times") && strstr(out, "--rtt"));
    free(out);
}

/* info --json agrees with the library on the same model. */
static void test_info_json(const char *model, const char *zoo_name)
{
    char args[512], *out;
    snprintf(args, sizeof args, "info %s --json", model);
    int st = cleave(args, &out);
    CHECKF(st == 0, "cleave %s: %s", args, out);
    cJSON *j = cJSON_Parse(out);
    CHECKF(j != NULL, "valid JSON from cleave %s", args);
    clv_graph *g = NULL;
    if (zoo_name)
        clv_zoo_build(zoo_name, 1, 0, &g, NULL);
    else
        clv_load_model(model, &g, NULL);
    CHECK(g != NULL);
    if (j && g) {
        cJSON *nodes = cJSON_GetObjectItem(j, "nodes");
        int n = clv_graph_n_nodes(g);
        CHECK(cJSON_GetArraySize(nodes) == n);
        CHECK(strcmp(cJSON_GetObjectItem(j, "format")->valuestring,
                     "cleave-info") == 0);
        int *cr = malloc(sizeof *cr * (size_t)n);
        clv_graph_crossing(g, cr);
        int valid = 0, mismatch = 0;
        for (int i = 0; i < n; i++) {
            cJSON *nd = cJSON_GetArrayItem(nodes, i);
            const clv_node *cn = clv_graph_node(g, i);
            mismatch += strcmp(cJSON_GetObjectItem(nd, "name")->valuestring,
                               cn->name) != 0;
            mismatch += cJSON_GetObjectItem(nd, "flops")->valuedouble !=
                        (double)cn->flops;
            bool v = cJSON_IsTrue(cJSON_GetObjectItem(nd, "cut_valid"));
            mismatch += v != (i + 1 < n && cr[i] == 1);
            valid += v;
        }
        CHECK(mismatch == 0);
        cJSON *tot = cJSON_GetObjectItem(j, "totals");
        CHECK(cJSON_GetObjectItem(tot, "valid_cuts")->valueint == valid);
        CHECK(cJSON_GetObjectItem(tot, "flops")->valuedouble ==
              (double)clv_graph_total_flops(g));
        CHECK(strcmp(cJSON_GetObjectItem(j, "structure")->valuestring,
                     clv_graph_is_chain(g) ? "chain" : "dag") == 0);
        free(cr);
    }
    cJSON_Delete(j);
    clv_graph_free(g);
    free(out);
}

static void test_info_table(void)
{
    char *out;
    CHECK(cleave("info zoo:resnet18", &out) == 0);
    CHECK(strstr(out, "DAG") != NULL);
    CHECK(strstr(out, "1x512x7x7") != NULL);
    CHECK(strstr(out, "valid single-cut points") != NULL);
    free(out);
    CHECK(cleave("info zoo:vgg16", &out) == 0);
    CHECK(strstr(out, "structure: chain") != NULL);
    free(out);
    CHECK(cleave("info /usr/share/darknet/cfg/yolov3-tiny.cfg", &out) == 0);
    CHECK(strstr(out, "1x255x13x13") != NULL);
    free(out);
}

static void test_zoo_roundtrip(void)
{
    char args[1024], *out;
    CHECK(cleave("zoo", &out) == 0);
    CHECK(strstr(out, "tiny-yolov2") && strstr(out, "mobilenet-v2"));
    free(out);
    snprintf(args, sizeof args, "zoo lenet -o '%s/cli-lenet.onnx' --seed 3",
             CLEAVE_BINARY_DIR);
    CHECK(cleave(args, &out) == 0);
    free(out);
    snprintf(args, sizeof args, "%s/cli-lenet.onnx", CLEAVE_BINARY_DIR);
    test_info_json(args, NULL);
    snprintf(args, sizeof args, "zoo lenet -o /nonexistent-dir/x.onnx");
    CHECK(cleave(args, &out) == 1);
    CHECK(strstr(out, "/nonexistent-dir/x.onnx") != NULL);
    free(out);
}

static void test_demo(void)
{
    char *out;
    /* the full demo (tiny-yolov2) takes minutes in a Debug build; the
     * same job on lenet shows the four planners side by side */
    CHECK(cleave("demo --model zoo:lenet --frames 4", &out) == 0);
    CHECKF(strstr(out, "dads") && strstr(out, "neurosurgeon") &&
               strstr(out, "edge") && strstr(out, "cloud"),
           "%s", out);
    free(out);
    CHECK(cleave("demo --bogus", &out) == 2);
    free(out);
}

int main(void)
{
    test_usage();
    test_errors();
    test_option_parser();
    test_runtime_options();
    test_info_json("zoo:resnet18", "resnet18");
    test_info_json("zoo:googlenet", "googlenet");
    test_info_table();
    test_zoo_roundtrip();
    test_demo();
    return check_report("test_cli");
}
