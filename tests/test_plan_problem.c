/* Problem files (docs/problem.md): reading, writing, every malformed form
 * ending in a clear error; problems built from a graph and two profiles. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cleave/graph.h"
#include "cleave/plan.h"
#include "text_file.h"

#define DIR CLEAVE_BINARY_DIR "/plan-cases"

static const char good[] =
    "{\"format\":\"cleave-problem\",\"version\":1,\"name\":\"tiny\","
    " \"link\":{\"bandwidth_mbps\":2.5,\"rtt_ms\":3},"
    " \"nodes\":["
    "  {\"name\":\"join\",\"t_edge_ms\":3,\"t_cloud_ms\":0.1,"
    "   \"out_bytes\":10,\"inputs\":[\"a\",\"b\"]},"
    "  {\"name\":\"a\",\"t_edge_ms\":5,\"t_cloud_ms\":0.2,"
    "   \"out_bytes\":2000,\"inputs\":[\"input\"]},"
    "  {\"name\":\"input\",\"t_edge_ms\":0,\"t_cloud_ms\":0,"
    "   \"out_bytes\":602112,\"inputs\":[]},"
    "  {\"name\":\"b\",\"t_edge_ms\":7.5,\"t_cloud_ms\":0.3,"
    "   \"out_bytes\":3000,\"inputs\":[\"input\", \"input\"]}]}";

static void test_good(void)
{
    clv_problem *p = NULL, *q = NULL;
    clv_error err;
    clv_error_clear(&err);
    CHECKF(clv_problem_parse(good, strlen(good), "tiny.json", &p, &err) == 0,
           "%s", err.msg);
    if (!p)
        return;
    CHECK(clv_problem_n_nodes(p) == 4);
    /* topological order, file order among ready nodes: input, a, b, join */
    const clv_problem_node *n0 = clv_problem_node_at(p, 0);
    const clv_problem_node *n3 = clv_problem_node_at(p, 3);
    CHECK(strcmp(n0->name, "input") == 0 && n0->out_bytes == 602112);
    CHECK(n0->n_consumers == 2);
    CHECK(strcmp(n3->name, "join") == 0 && n3->n_inputs == 2);
    CHECK(clv_problem_find(p, "b") == 2);
    CHECK(clv_problem_node_at(p, 2)->n_inputs == 1); /* "input" twice: once */
    CHECK(clv_problem_node_at(p, 2)->t_edge_ms == 7.5);
    CHECK(clv_problem_find(p, "zz") == -1 && clv_problem_node_at(p, 4) == NULL);
    CHECK(strcmp(clv_problem_name(p), "tiny") == 0);
    clv_link l;
    CHECK(clv_problem_link(p, &l) && l.bandwidth_mbps == 2.5 &&
          l.rtt_ms == 3 && !l.count_result);

    /* round trip through the writer */
    char *text = clv_problem_to_json(p);
    CHECK(text != NULL);
    CHECKF(clv_problem_parse(text, strlen(text), "again", &q, &err) == 0,
           "%s", err.msg);
    if (q) {
        CHECK(clv_problem_n_nodes(q) == 4);
        for (int i = 0; i < 4; i++) {
            const clv_problem_node *x = clv_problem_node_at(p, i),
                                   *y = clv_problem_node_at(q, i);
            CHECK(strcmp(x->name, y->name) == 0);
            CHECK(x->t_edge_ms == y->t_edge_ms &&
                  x->t_cloud_ms == y->t_cloud_ms &&
                  x->out_bytes == y->out_bytes);
            CHECK(x->n_inputs == y->n_inputs);
        }
        CHECK(clv_problem_link(q, &l) && l.bandwidth_mbps == 2.5);
    }
    free(text);
    clv_problem_free(q);
    q = NULL;
    CHECK(clv_problem_save(p, DIR "/tiny.json", &err) == 0);
    CHECKF(clv_problem_load(DIR "/tiny.json", &q, &err) == 0, "%s", err.msg);
    CHECK(q && clv_problem_n_nodes(q) == 4);
    clv_problem_free(q);
    q = NULL;
    CHECK(clv_problem_save(p, DIR "/no/such/dir/x.json", &err) == CLV_EIO);
    CHECK(strstr(err.msg, "no/such/dir") != NULL);
    CHECK(clv_problem_load(DIR "/missing.json", &q, &err) == CLV_EIO &&
          q == NULL);
    clv_problem_free(q);
    clv_problem_free(p);
    clv_problem_free(NULL);
}

typedef struct bad_case {
    const char *text;
    int code;
    const char *words[3]; /* all must appear in the message */
} bad_case;

#define NODE(name, ins) \
    "{\"name\":\"" name "\",\"t_edge_ms\":1,\"t_cloud_ms\":1," \
    "\"out_bytes\":4,\"inputs\":[" ins "]}"
#define FILE_OF(nodes) \
    "{\"format\":\"cleave-problem\",\"version\":1,\"nodes\":[" nodes "]}"

static const bad_case bad[] = {
    {"{\"format\":\"cleave-problem\",\n\"version\":1,\n\"nodes\":[}",
     CLV_EFORMAT, {"bad.json:3", "not valid JSON", NULL}},
    {"[1,2]", CLV_EFORMAT, {"object", NULL, NULL}},
    {"{\"format\":\"cleave-profile\",\"version\":1,\"nodes\":[]}",
     CLV_EFORMAT, {"cleave-profile", "cleave-problem", NULL}},
    {"{\"format\":\"cleave-problem\",\"version\":2,\"nodes\":[]}",
     CLV_EFORMAT, {"version", NULL, NULL}},
    {"{\"format\":\"cleave-problem\",\"version\":1}", CLV_EFORMAT,
     {"\"nodes\"", NULL, NULL}},
    {FILE_OF(NODE("in", "") "," NODE("a", "\"in\"") "," NODE("a", "\"in\"")),
     CLV_EINVAL, {"'a'", "duplicate", NULL}},
    {FILE_OF(NODE("in", "") "," NODE("a", "\"nope\"")), CLV_EINVAL,
     {"'a'", "'nope'", "not a node"}},
    {FILE_OF(NODE("in", "") "," NODE("a", "\"c\"") "," NODE("b", "\"a\"")
                 "," NODE("c", "\"b\"") "," NODE("d", "\"in\",\"c\"")),
     CLV_ECYCLE, {"cycle", "'a' -> 'b'", "'c' -> 'a'"}},
    {FILE_OF(NODE("a", "\"b\"") "," NODE("b", "\"a\"")), CLV_ECYCLE,
     {"no source", "cycle", NULL}},
    {FILE_OF(NODE("in", "") "," NODE("a", "\"a\"")), CLV_ECYCLE,
     {"'a'", "own output", NULL}},
    {FILE_OF(NODE("in", "") "," NODE("in2", "") "," NODE("a", "\"in\"")),
     CLV_EINVAL, {"two sources", "'in'", "'in2'"}},
    {FILE_OF("{\"name\":\"in\",\"t_edge_ms\":-1,\"t_cloud_ms\":0,"
             "\"out_bytes\":4,\"inputs\":[]}"),
     CLV_EINVAL, {"'in'", "t_edge_ms", ">= 0"}},
    {FILE_OF("{\"name\":\"in\",\"t_edge_ms\":1,\"t_cloud_ms\":0,"
             "\"out_bytes\":-4,\"inputs\":[]}"),
     CLV_EINVAL, {"'in'", "out_bytes", NULL}},
    {FILE_OF("{\"name\":\"in\",\"t_edge_ms\":1,\"t_cloud_ms\":0,"
             "\"out_bytes\":4.5,\"inputs\":[]}"),
     CLV_EINVAL, {"'in'", "whole number", NULL}},
    {FILE_OF("{\"name\":\"in\",\"t_edge_ms\":1,"
             "\"out_bytes\":4,\"inputs\":[]}"),
     CLV_EFORMAT, {"'in'", "t_cloud_ms", "missing"}},
    {FILE_OF("{\"name\":\"in\",\"t_edge_ms\":\"fast\",\"t_cloud_ms\":0,"
             "\"out_bytes\":4,\"inputs\":[]}"),
     CLV_EFORMAT, {"'in'", "t_edge_ms", "number"}},
    {FILE_OF("{\"t_edge_ms\":1,\"t_cloud_ms\":0,\"out_bytes\":4}"),
     CLV_EFORMAT, {"node 0", "name", NULL}},
    {FILE_OF(NODE("in", "") "," NODE("a", "3")), CLV_EFORMAT,
     {"'a'", "inputs", NULL}},
    /* each time finite, their sum not: refused before any planner */
    {FILE_OF("{\"name\":\"in\",\"t_edge_ms\":0,\"t_cloud_ms\":1e308,"
             "\"out_bytes\":4,\"inputs\":[]},"
             "{\"name\":\"a\",\"t_edge_ms\":1,\"t_cloud_ms\":1e308,"
             "\"out_bytes\":4,\"inputs\":[\"in\"]}"),
     CLV_EINVAL, {"sum to", "inf ms on the cloud", "believable"}},
    {"{\"format\":\"cleave-problem\",\"version\":1,\"link\":{\"rtt_ms\":1},"
     "\"nodes\":[" NODE("in", "") "]}",
     CLV_EFORMAT, {"bandwidth_mbps", NULL, NULL}},
};

static void test_bad(void)
{
    int n = (int)(sizeof bad / sizeof bad[0]);
    for (int i = 0; i < n; i++) {
        clv_problem *p = (clv_problem *)1;
        clv_error err;
        clv_error_clear(&err);
        int rc = clv_problem_parse(bad[i].text, strlen(bad[i].text),
                                   "bad.json", &p, &err);
        CHECKF(rc == bad[i].code, "case %d: rc %d (%s), want %d", i, rc,
               err.msg, bad[i].code);
        CHECK(p == NULL);
        CHECKF(strncmp(err.msg, "bad.json", 8) == 0, "case %d: %s", i,
               err.msg);
        for (int k = 0; k < 3 && bad[i].words[k]; k++)
            CHECKF(strstr(err.msg, bad[i].words[k]) != NULL,
                   "case %d: '%s' not in: %s", i, bad[i].words[k], err.msg);
    }
}

static void test_builder(void)
{
    clv_problem *p = clv_problem_create();
    clv_error err;
    int id = -1, in = 0;
    clv_error_clear(&err);
    CHECK(clv_problem_finalize(p, &err) == CLV_EINVAL); /* no nodes */
    CHECK(clv_problem_add_node(p, "x", 0, 0, 8, 0, NULL, &id, &err) == 0);
    CHECK(id == 0);
    CHECK(clv_problem_add_node(p, "x", 0, 0, 8, 1, &in, &id, &err) ==
          CLV_EINVAL);
    CHECK(strstr(err.msg, "'x'") && strstr(err.msg, "duplicate"));
    CHECK(clv_problem_add_node(p, "", 0, 0, 8, 1, &in, &id, &err) ==
          CLV_EINVAL);
    int later = 1;
    CHECK(clv_problem_add_node(p, "y", 0, 0, 8, 1, &later, &id, &err) ==
          CLV_EINVAL); /* only earlier nodes */
    CHECK(clv_problem_add_node(p, "y", -1, 0, 8, 1, &in, &id, &err) ==
          CLV_EINVAL);
    CHECK(clv_problem_add_node(p, "y", 1.0 / 0.0, 0, 8, 1, &in, &id, &err) ==
          CLV_EINVAL);
    /* grow past the first allocations */
    char name[16];
    for (int i = 1; i < 300; i++) {
        int prev = i - 1;
        snprintf(name, sizeof name, "n%d", i);
        CHECK(clv_problem_add_node(p, name, 1, 1, 8, 1, &prev, NULL, &err) ==
              0);
    }
    CHECK(clv_problem_find(p, "n299") == 299 && clv_problem_find(p, "x") == 0);
    CHECK(clv_problem_finalize(p, &err) == 0);
    CHECK(clv_problem_finalize(p, &err) == CLV_EINVAL);
    CHECK(clv_problem_add_node(p, "z", 0, 0, 8, 1, &in, &id, &err) ==
          CLV_EINVAL);
    clv_problem_free(p);
}

/* ---- from a graph and two profiles --------------------------------------- */

static int add_t(clv_graph *g, const char *name, int input)
{
    static const int64_t shp[4] = {1, 4, 3, 3};
    int id = -1;
    CHECK(clv_graph_add_tensor(g, name, CLV_DT_FLOAT, input ? 4 : -1,
                               input ? shp : NULL, &id, NULL) == 0);
    if (input)
        CHECK(clv_graph_mark_input(g, id) == 0);
    return id;
}

#define PROFILE(dev, ra, rb, add) \
    "{\"format\":\"cleave-profile\",\"version\":1,\"model\":\"m\"," \
    "\"device\":\"" dev "\",\"threads\":1,\"runs\":3,\"cpu_quota\":null," \
    "\"input_bytes\":144,\"nodes\":[" \
    "{\"name\":\"ra\",\"op\":\"Relu\",\"ms\":" ra ",\"out_bytes\":144}," \
    "{\"name\":\"rb\",\"op\":\"Relu\",\"ms\":" rb ",\"out_bytes\":144}" add \
    "],\"total_ms\":9}"

static void test_from_graph(void)
{
    /* x -> ra -> sum, x -> rb -> sum */
    clv_graph *g = clv_graph_create();
    clv_error err;
    clv_error_clear(&err);
    int x = add_t(g, "x", 1), a = add_t(g, "a", 0), b = add_t(g, "b", 0),
        s = add_t(g, "s", 0);
    int ins[2] = {a, b};
    CHECK(clv_graph_add_node(g, "ra", CLV_OP_RELU, 1, &x, 1, &a, NULL, &err) ==
          0);
    CHECK(clv_graph_add_node(g, "rb", CLV_OP_RELU, 1, &x, 1, &b, NULL, &err) ==
          0);
    CHECK(clv_graph_add_node(g, "sum", CLV_OP_ADD, 2, ins, 1, &s, NULL,
                             &err) == 0);
    CHECK(clv_graph_mark_output(g, s) == 0);
    if (clv_graph_finalize(g, &err) != 0) {
        fprintf(stderr, "graph finalize not available yet: %s\n", err.msg);
        clv_graph_free(g);
        return;
    }
    CHECK(write_text(DIR "/edge.json",
                     PROFILE("pi", "2.5", "3.5",
                             ",{\"name\":\"sum\",\"op\":\"Add\",\"ms\":1}")) ==
          0);
    CHECK(write_text(DIR "/cloud.json",
                     PROFILE("gpu", "0.25", "0.5",
                             ",{\"name\":\"sum\",\"op\":\"Add\",\"ms\":0.125}"))
          == 0);
    CHECK(write_text(DIR "/short.json", PROFILE("gpu", "0.25", "0.5", "")) ==
          0);
    CHECK(write_text(DIR "/broken.json", "{\"format\":\"cleave-profile\",")
          == 0);

    clv_problem *p = NULL;
    CHECKF(clv_problem_from_profiles(g, DIR "/edge.json", DIR "/cloud.json",
                                     &p, &err) == 0,
           "%s", err.msg);
    if (p) {
        CHECK(clv_problem_n_nodes(p) == 4);
        const clv_problem_node *src = clv_problem_node_at(p, 0);
        CHECK(strcmp(src->name, "x") == 0 && src->out_bytes == 144);
        CHECK(src->n_consumers == 2 && src->t_edge_ms == 0);
        int ra = clv_problem_find(p, "ra"), sum = clv_problem_find(p, "sum");
        CHECK(ra > 0 && clv_problem_node_at(p, ra)->t_edge_ms == 2.5 &&
              clv_problem_node_at(p, ra)->t_cloud_ms == 0.25);
        CHECK(sum == 3 && clv_problem_node_at(p, sum)->n_inputs == 2 &&
              clv_problem_node_at(p, sum)->t_cloud_ms == 0.125);
        CHECK(clv_problem_node_at(p, ra)->out_bytes == 144);
        /* at 1 Mbit/s 144 B take 1.152 ms: sending x once (not twice)
         * and running all three on the cloud (0.875 ms) is best */
        clv_plan plan;
        clv_plan_options o;
        clv_plan_init(&plan);
        clv_plan_options_init(&o);
        o.link.bandwidth_mbps = 1;
        CHECK(clv_plan_solve(p, &o, &plan, &err) == 0);
        CHECK(plan.n_cut == 1 && plan.cut[0] == 0);
        CHECK(plan.latency_ms > 2.0269 && plan.latency_ms < 2.0271);
        clv_plan_release(&plan);
    }
    clv_problem_free(p);
    p = NULL;
    CHECK(clv_problem_from_profiles(g, DIR "/edge.json", DIR "/short.json",
                                    &p, &err) == CLV_ENOTFOUND);
    CHECK(strstr(err.msg, "short.json") && strstr(err.msg, "'sum'"));
    CHECK(clv_problem_from_profiles(g, DIR "/broken.json", DIR "/cloud.json",
                                    &p, &err) == CLV_EFORMAT);
    CHECK(strstr(err.msg, "broken.json") != NULL);
    CHECK(clv_problem_from_profiles(g, DIR "/edge.json", DIR "/none.json", &p,
                                    &err) == CLV_EIO);
    CHECK(clv_problem_from_profiles(g, DIR "/tiny.json", DIR "/cloud.json", &p,
                                    &err) == CLV_EFORMAT);
    CHECK(strstr(err.msg, "cleave-profile") != NULL);
    double bad_t[3] = {1, -1, 1}, ok_t[3] = {1, 1, 1};
    CHECK(clv_problem_from_graph(g, bad_t, ok_t, &p, &err) == CLV_EINVAL);
    CHECK(strstr(err.msg, "'rb'") != NULL && p == NULL);
    clv_graph_free(g);
}

int main(void)
{
    CHECK(system("mkdir -p " DIR) == 0);
    test_builder();
    test_good();
    test_bad();
    test_from_graph();
    return check_report("test_plan_problem");
}
