/*
 * The engine's central promise: running a graph whole, or its edge part
 * and then its cloud part for any valid partition (a node set closed
 * under predecessors, any number of cut tensors), gives bit-identical
 * outputs; and so do any thread count and fusion on or off.
 *
 * Checked on every zoo model (random partitions, threads 1 to 3, fused and
 * unfused) and on random DAGs of convolutions, normalisations,
 * activations, element-wise joins, concatenations, pools and view ops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleave/engine.h"
#include "cleave/load.h"
#include "check.h"
#include "util/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Tensor values by id; inputs are borrowed from `base` when given. */
typedef struct values {
    int n;
    void **v;
    bool owns_inputs; /* fill_inputs() made them */
} values;

static void values_init(values *vs, const clv_graph *g)
{
    vs->n = clv_graph_n_tensors(g);
    vs->v = calloc((size_t)vs->n, sizeof *vs->v);
    vs->owns_inputs = false;
}

static void values_free(values *vs, const clv_graph *g)
{
    for (int t = 0; t < vs->n; t++) {
        bool input = false;
        for (int i = 0; i < clv_graph_n_inputs(g); i++)
            input |= clv_graph_input(g, i) == t;
        if (!input || vs->owns_inputs)
            free(vs->v[t]);
    }
    free(vs->v);
}

/* Runs `nodes` (NULL: all), reading and filling vs. */
static int run_nodes(const clv_graph *g, const int *nodes, int n,
                     const clv_engine_options *opt, values *vs)
{
    clv_error err = {0};
    clv_engine *e = NULL;
    const void **ins;
    void **outs;
    int rc = clv_engine_create(g, nodes, n, opt, &e, &err);
    if (rc) {
        fprintf(stderr, "create: %s\n", clv_error_text(&err, rc));
        return rc;
    }
    ins = calloc((size_t)clv_engine_n_inputs(e) + 1, sizeof *ins);
    outs = calloc((size_t)clv_engine_n_outputs(e) + 1, sizeof *outs);
    for (int i = 0; i < clv_engine_n_inputs(e); i++) {
        ins[i] = vs->v[clv_engine_input(e, i)];
        if (!ins[i])
            fprintf(stderr, "input %d has no value\n", i);
    }
    for (int i = 0; i < clv_engine_n_outputs(e); i++) {
        int t = clv_engine_output(e, i);
        free(vs->v[t]);
        vs->v[t] = malloc(clv_tensor_bytes(clv_graph_tensor(g, t)) + 1);
        outs[i] = vs->v[t];
    }
    rc = clv_engine_run(e, ins, outs, &err);
    if (rc)
        fprintf(stderr, "run: %s\n", clv_error_text(&err, rc));
    free(ins);
    free(outs);
    clv_engine_free(e);
    return rc;
}

/* Seeded random graph inputs. */
static void fill_inputs(const clv_graph *g, values *vs, uint64_t seed)
{
    clv_rng r;
    clv_rng_seed(&r, seed);
    vs->owns_inputs = true;
    for (int i = 0; i < clv_graph_n_inputs(g); i++) {
        int t = clv_graph_input(g, i);
        const clv_tensor *x = clv_graph_tensor(g, t);
        vs->v[t] = malloc(clv_tensor_bytes(x) + 1);
        clv_rng_fill_uniform(&r, vs->v[t], (size_t)clv_tensor_numel(x),
                             -1.0f, 1.0f);
    }
}

static void share_inputs(const clv_graph *g, const values *from, values *to)
{
    for (int i = 0; i < clv_graph_n_inputs(g); i++) {
        int t = clv_graph_input(g, i);
        to->v[t] = from->v[t];
    }
}

/* True when every graph output holds the same bytes in a and b. */
static bool same_outputs(const clv_graph *g, const values *a,
                         const values *b, const char *what)
{
    for (int i = 0; i < clv_graph_n_outputs(g); i++) {
        int t = clv_graph_output(g, i);
        size_t bytes = (size_t)clv_tensor_bytes(clv_graph_tensor(g, t));
        if (!a->v[t] || !b->v[t] || memcmp(a->v[t], b->v[t], bytes)) {
            fprintf(stderr, "%s: output '%s' differs\n", what,
                    clv_graph_tensor(g, t)->name);
            return false;
        }
    }
    return true;
}

/* A random partition: the ancestors of 1 to 3 random nodes (the edge,
 * closed under predecessors) and the rest (the cloud). Returns the edge
 * size; in_edge[i] says where node i runs. */
static int random_partition(const clv_graph *g, clv_rng *r, bool *in_edge)
{
    int nn = clv_graph_n_nodes(g), seeds = 1 + (int)(clv_rng_next(r) % 3);
    int *stack = malloc(sizeof(int) * (size_t)(nn + 1)), sp = 0, ne = 0;
    memset(in_edge, 0, (size_t)nn * sizeof *in_edge);
    for (int s = 0; s < seeds && nn > 0; s++) {
        int k = (int)(clv_rng_next(r) % (uint64_t)nn);
        if (!in_edge[k]) {
            in_edge[k] = true;
            stack[sp++] = k;
        }
    }
    while (sp > 0) {
        const clv_node *n = clv_graph_node(g, stack[--sp]);
        for (int i = 0; i < n->n_inputs; i++) {
            int p;
            if (n->inputs[i] < 0)
                continue;
            p = clv_graph_tensor(g, n->inputs[i])->producer;
            if (p >= 0 && !in_edge[p]) {
                in_edge[p] = true;
                stack[sp++] = p;
            }
        }
    }
    for (int i = 0; i < nn; i++)
        ne += in_edge[i];
    free(stack);
    return ne;
}

/* Checks `parts` random partitions of g against the whole run `whole`. */
static void check_partitions(const clv_graph *g, const values *whole,
                             int parts, clv_rng *r, const char *label)
{
    int nn = clv_graph_n_nodes(g);
    bool *in_edge = malloc((size_t)nn + 1);
    int *edge = malloc(sizeof(int) * (size_t)(nn + 1));
    int *cloud = malloc(sizeof(int) * (size_t)(nn + 1));
    for (int p = 0; p < parts; p++) {
        values vs;
        clv_engine_options opt = {0};
        int ne = 0, nc = 0, cuts = 0;
        bool ok;
        random_partition(g, r, in_edge);
        for (int i = 0; i < nn; i++) {
            if (in_edge[i])
                edge[ne++] = i;
            else
                cloud[nc++] = i;
        }
        values_init(&vs, g);
        share_inputs(g, whole, &vs);
        opt.threads = 1 + (int)(clv_rng_next(r) % 3);
        CHECK(run_nodes(g, edge, ne, &opt, &vs) == 0);
        /* count the cut tensors: edge outputs read on the cloud */
        for (int t = 0; t < clv_graph_n_tensors(g); t++) {
            const clv_tensor *x = clv_graph_tensor(g, t);
            bool cut = false;
            if (x->producer < 0 || !in_edge[x->producer])
                continue;
            for (int c = 0; c < x->n_consumers; c++)
                cut |= !in_edge[x->consumers[c]];
            cuts += cut;
        }
        opt.threads = 1 + (int)(clv_rng_next(r) % 3);
        CHECK(run_nodes(g, cloud, nc, &opt, &vs) == 0);
        ok = same_outputs(g, whole, &vs, label);
        CHECKF(ok, "%s: partition %d (%d edge nodes, %d cut tensors) "
               "differs from the whole run",
               label, p, ne, cuts);
        values_free(&vs, g);
    }
    free(in_edge);
    free(edge);
    free(cloud);
}

/* ---- zoo models ------------------------------------------------------------ */

static void test_zoo(void)
{
    static const struct {
        const char *name;
        int64_t hw;
        int parts;
    } models[] = {
        {"lenet", 0, 8},         {"nin", 64, 6},        {"tiny-yolov2", 96, 6},
        {"resnet18", 64, 6},     {"mobilenet-v2", 64, 6}, {"googlenet", 64, 6},
        {"resnet50", 64, 4},     {"alexnet", 0, 3},     {"vgg16", 0, 2},
    };
    clv_rng r;
    clv_rng_seed(&r, 2024);
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        clv_graph *g = NULL;
        clv_error err = {0};
        values whole, other;
        clv_engine_options opt = {0};
        int rc;
        if ((SANITIZED || check_emulated()) &&
            (!strcmp(models[m].name, "vgg16") ||
             !strcmp(models[m].name, "alexnet")))
            continue; /* bounded sizes under sanitizers and emulators */
        rc = clv_zoo_build(models[m].name, 7, models[m].hw, &g, &err);
        CHECKF(rc == 0, "zoo %s: %s", models[m].name,
               clv_error_text(&err, rc));
        if (rc)
            continue;
        values_init(&whole, g);
        fill_inputs(g, &whole, 99);
        CHECK(run_nodes(g, NULL, 0, NULL, &whole) == 0);

        /* threads and fusion do not change a bit */
        for (int variant = 0; variant < 3; variant++) {
            values_init(&other, g);
            share_inputs(g, &whole, &other);
            opt.threads = variant == 0 ? 2 : variant == 1 ? 3 : 1;
            opt.no_fuse = variant == 2;
            CHECK(run_nodes(g, NULL, 0, &opt, &other) == 0);
            CHECKF(same_outputs(g, &whole, &other, models[m].name),
                   "%s: threads=%d no_fuse=%d differs from threads=1",
                   models[m].name, opt.threads, opt.no_fuse);
            values_free(&other, g);
            if (SANITIZED && variant == 0)
                break;
        }
        check_partitions(g, &whole, SANITIZED ? 3 : models[m].parts, &r,
                         models[m].name);
        values_free(&whole, g);
        clv_graph_free(g);
    }
}

/* ---- random DAGs -------------------------------------------------------- */

typedef struct dag {
    clv_graph *g;
    clv_rng *r;
    int names;
    int64_t n, c, h, w;
    int pool[256]; /* tensors of shape [n, c, h, w] */
    int np;
} dag;

static int dag_tensor(dag *d)
{
    char name[32];
    int id = -1;
    snprintf(name, sizeof name, "t%d", d->names++);
    clv_graph_add_tensor(d->g, name, CLV_DT_UNDEFINED, -1, NULL, &id, NULL);
    return id;
}

static int dag_const(dag *d, int nd, const int64_t *dims, float lo, float hi)
{
    char name[32];
    int id = -1;
    void *data = NULL;
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= dims[i];
    snprintf(name, sizeof name, "w%d", d->names++);
    clv_graph_add_tensor(d->g, name, CLV_DT_FLOAT, nd, dims, &id, NULL);
    clv_graph_alloc_data(d->g, id, &data, NULL);
    clv_rng_fill_uniform(d->r, data, (size_t)n, lo, hi);
    return id;
}

static int dag_const_i64(dag *d, int n, const int64_t *v)
{
    char name[32];
    int id = -1;
    int64_t dim = n;
    void *data = NULL;
    snprintf(name, sizeof name, "s%d", d->names++);
    clv_graph_add_tensor(d->g, name, CLV_DT_INT64, 1, &dim, &id, NULL);
    clv_graph_alloc_data(d->g, id, &data, NULL);
    memcpy(data, v, sizeof(int64_t) * (size_t)n);
    return id;
}

static int pick(dag *d)
{
    /* prefer recent tensors: deeper graphs */
    int k = d->np - 1 - (int)(clv_rng_next(d->r) % (uint64_t)(d->np < 4 ? d->np : 4));
    if (clv_rng_next(d->r) % 3 == 0)
        k = (int)(clv_rng_next(d->r) % (uint64_t)d->np);
    return d->pool[k];
}

static int node1(dag *d, clv_op op, int n_in, const int *in)
{
    int out = dag_tensor(d), id = -1;
    clv_graph_add_node(d->g, NULL, op, n_in, in, 1, &out, &id, NULL);
    d->pool[d->np++] = out;
    return id;
}

static int conv(dag *d, int x, int64_t cin, int64_t k, int64_t group,
                bool bias)
{
    int64_t wd[4] = {d->c, cin / group, k, k}, pads[4] = {k / 2, k / 2, k / 2,
                                                          k / 2};
    int in[3] = {x, dag_const(d, 4, wd, -0.4f, 0.4f), -1}, id;
    if (bias)
        in[2] = dag_const(d, 1, &d->c, -0.2f, 0.2f);
    id = node1(d, CLV_OP_CONV, bias ? 3 : 2, in);
    clv_graph_set_ints(d->g, id, "pads", 4, pads);
    clv_graph_set_int(d->g, id, "group", group);
    return id;
}

static void act(dag *d, int x)
{
    static const clv_op acts[] = {CLV_OP_RELU, CLV_OP_LEAKYRELU,
                                  CLV_OP_SIGMOID, CLV_OP_CLIP, CLV_OP_TANH};
    clv_op op = acts[clv_rng_next(d->r) % 5];
    int id = node1(d, op, 1, &x);
    if (op == CLV_OP_CLIP) {
        clv_graph_set_float(d->g, id, "min", 0.0f);
        clv_graph_set_float(d->g, id, "max", 6.0f);
    }
}

static void bn(dag *d, int x)
{
    int in[5] = {x, dag_const(d, 1, &d->c, 0.5f, 1.5f),
                 dag_const(d, 1, &d->c, -0.5f, 0.5f),
                 dag_const(d, 1, &d->c, -0.5f, 0.5f),
                 dag_const(d, 1, &d->c, 0.5f, 1.5f)};
    node1(d, CLV_OP_BATCHNORM, 5, in);
}

static clv_graph *random_dag(clv_rng *r, int nodes)
{
    dag d;
    int64_t xd[4];
    int x;
    memset(&d, 0, sizeof d);
    d.g = clv_graph_create();
    d.r = r;
    d.n = 1 + (int64_t)(clv_rng_next(r) % 2);
    d.c = 2 + (int64_t)(clv_rng_next(r) % 4);
    d.h = 3 + (int64_t)(clv_rng_next(r) % 6);
    d.w = 3 + (int64_t)(clv_rng_next(r) % 6);
    xd[0] = d.n;
    xd[1] = d.c;
    xd[2] = d.h;
    xd[3] = d.w;
    clv_graph_add_tensor(d.g, "x", CLV_DT_FLOAT, 4, xd, &x, NULL);
    clv_graph_mark_input(d.g, x);
    d.pool[d.np++] = x;
    while (d.np < nodes && d.np < 240) {
        int kind = (int)(clv_rng_next(r) % 11), a = pick(&d);
        switch (kind) {
        case 0:
        case 1: /* a conv, often with BN and an activation after it */
            conv(&d, a, d.c, kind ? 3 : 1, 1, clv_rng_next(r) % 2);
            if (clv_rng_next(r) % 2)
                bn(&d, d.pool[d.np - 1]);
            if (clv_rng_next(r) % 2)
                act(&d, d.pool[d.np - 1]);
            break;
        case 2: /* depthwise */
            conv(&d, a, d.c, 3, d.c, true);
            break;
        case 3:
            bn(&d, a);
            break;
        case 4:
            act(&d, a);
            break;
        case 5:
        case 6: { /* a join */
            int in[2] = {a, pick(&d)};
            node1(&d, kind == 5 ? CLV_OP_ADD : CLV_OP_MUL, 2, in);
            break;
        }
        case 7: { /* concat along channels, then a 1x1 conv back */
            int in[2] = {a, pick(&d)}, id = node1(&d, CLV_OP_CONCAT, 2, in);
            clv_graph_set_int(d.g, id, "axis", 1);
            d.np--; /* not of the pool's shape */
            conv(&d, d.pool[d.np], 2 * d.c, 1, 1, true);
            break;
        }
        case 8: { /* max pool 3x3, stride 1, pad 1 */
            int64_t k[2] = {3, 3}, pads[4] = {1, 1, 1, 1};
            int id = node1(&d, CLV_OP_MAXPOOL, 1, &a);
            clv_graph_set_ints(d.g, id, "kernel_shape", 2, k);
            clv_graph_set_ints(d.g, id, "pads", 4, pads);
            break;
        }
        case 9: { /* a view there and back: Reshape to [n, c*h*w] and back */
            int64_t flat[2] = {d.n, d.c * d.h * d.w};
            int64_t back[4] = {d.n, d.c, d.h, d.w};
            int in[2] = {a, dag_const_i64(&d, 2, flat)};
            node1(&d, CLV_OP_RESHAPE, 2, in);
            d.np--;
            in[0] = d.pool[d.np];
            in[1] = dag_const_i64(&d, 4, back);
            node1(&d, CLV_OP_RESHAPE, 2, in);
            break;
        }
        default: { /* softmax over channels */
            int id = node1(&d, CLV_OP_SOFTMAX, 1, &a);
            clv_graph_set_int(d.g, id, "axis", 1);
        }
        }
    }
    /* outputs: the last tensor, and a random other (maybe mid-chain) */
    clv_graph_mark_output(d.g, d.pool[d.np - 1]);
    if (d.np > 2)
        clv_graph_mark_output(d.g,
                              d.pool[1 + clv_rng_next(r) % (uint64_t)(d.np - 2)]);
    return d.g;
}

static void test_random_dags(void)
{
    clv_rng r;
    int count = SANITIZED ? 30 : 60;
    clv_rng_seed(&r, 77);
    for (int it = 0; it < count; it++) {
        clv_graph *g = random_dag(&r, 6 + (int)(clv_rng_next(&r) % 30));
        clv_error err = {0};
        values whole, nf;
        clv_engine_options opt = {0};
        char label[32];
        int rc = clv_graph_finalize(g, &err);
        snprintf(label, sizeof label, "dag %d", it);
        CHECKF(rc == 0, "%s: %s", label, clv_error_text(&err, rc));
        if (rc) {
            clv_graph_free(g);
            continue;
        }
        values_init(&whole, g);
        fill_inputs(g, &whole, (uint64_t)it);
        CHECK(run_nodes(g, NULL, 0, NULL, &whole) == 0);
        values_init(&nf, g);
        share_inputs(g, &whole, &nf);
        opt.no_fuse = true;
        opt.threads = 2;
        CHECK(run_nodes(g, NULL, 0, &opt, &nf) == 0);
        CHECKF(same_outputs(g, &whole, &nf, label),
               "%s: unfused differs from fused", label);
        values_free(&nf, g);
        check_partitions(g, &whole, 5, &r, label);
        values_free(&whole, g);
        clv_graph_free(g);
    }
}

int main(void)
{
    test_random_dags();
    test_zoo();
    return check_report("test_engine_split");
}
