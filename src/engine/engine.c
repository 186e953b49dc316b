/*
 * The executor: a loop over a topologically ordered array of steps (one
 * per node of the subset), each reading and writing tensors whose memory
 * is bound once per run from a table: the caller's buffers for the
 * interface, the graph's data for constants, the arena for everything
 * else.
 *
 * Create does, in order:
 *   1. the subset: sorted, checked, a node -> position map;
 *   2. fusion: Conv -> [BatchNormalization] -> [activation] and Gemm ->
 *      [activation] chains whose middle tensors have one consumer, inside
 *      the subset, and are not graph outputs;
 *   3. the interface: inputs and outputs as engine.h defines them;
 *   4. storage: each tensor the steps touch is a constant, an input, an
 *      output, an alias of another tensor (view ops), or an arena block;
 *   4b. sibling convolutions (1x1, the same input, all in the subset)
 *      join the first one's step: one product, each its own epilogue and
 *      output (with AVX2 only, and with fusion);
 *   5. kernels: each step's planner parses the node once;
 *   6. the arena: lifetimes [first write, last read] in step positions,
 *      scratch blocks live during their own step, and a greedy first-fit
 *      placement of the blocks, largest first.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#define _DEFAULT_SOURCE         /* madvise's MADV_HUGEPAGE */

#include <assert.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <cblas.h>

#include "engine/internal.h"
#include "util/util.h"

/* Where a tensor's memory comes from during a run. */
enum storage {
    ST_NONE = 0, /* not touched by the engine (or fused away) */
    ST_CONST,    /* the graph's data */
    ST_IN,       /* the caller's input buffer `where` */
    ST_OUT,      /* the caller's output buffer `where` */
    ST_ARENA,    /* arena offset `where` */
    ST_ALIAS     /* the memory of tensor `where` (never itself an alias) */
};

/* An output buffer filled by copying after the steps ran (whole-graph
 * engines only: graph outputs that are inputs, constants or repeats). */
typedef struct out_copy {
    int out;    /* output index */
    int tensor; /* tensor whose memory holds the data */
} out_copy;

struct clv_engine {
    const clv_graph *g;
    int threads;
    clv_engine__pool *pool;

    int n_steps;
    clv_engine__step *steps;

    int n_in, *in;   /* tensor ids of the inputs */
    int n_out, *out; /* tensor ids of the outputs */
    out_copy *copies;
    int n_copies;

    int n_tensors;
    unsigned char *kind; /* per tensor: enum storage */
    int64_t *where;      /* per tensor: see enum storage */
    int *bind;           /* the tensors to bind each run, roots first */
    int n_bind;
    void **ptr;          /* per tensor: memory in the current run */

    char *arena;
    size_t arena_bytes;

    void **kept; /* memory of plans, freed with the engine */
    int n_kept, cap_kept;
    size_t kept_bytes;

    clv_engine_weights *shared; /* the store of shared weights, or NULL */
    void **held;                /* the arrays of it this engine uses */
    int n_held, cap_held;
};

/* ---- the shared store of packed weights ---------------------------------- */

typedef struct wentry {
    uint64_t hash;
    size_t bytes;
    void *data;
    int refs;
} wentry;

struct clv_engine_weights {
    pthread_mutex_t mu;
    wentry *v;
    int n, cap;
    uint64_t bytes;
};

clv_engine_weights *clv_engine_weights_create(void)
{
    clv_engine_weights *w = calloc(1, sizeof *w);
    if (w)
        pthread_mutex_init(&w->mu, NULL);
    return w;
}

void clv_engine_weights_free(clv_engine_weights *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        free(w->v[i].data);
    free(w->v);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

uint64_t clv_engine_weights_bytes(clv_engine_weights *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t b = w->bytes;
    pthread_mutex_unlock(&w->mu);
    return b;
}

/* A 64-bit hash of the bytes (8 at a time, multiplied and rotated). */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0x9e3779b97f4a7c15u ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, b + i, 8);
        h ^= v * 0xff51afd7ed558ccdu;
        h = (h << 27 | h >> 37) * 0xc4ceb9fe1a85ec53u;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    return h ^ (h >> 31);
}

/* Drops one engine's use of `data`; the last use frees it. */
static void weights_release(clv_engine_weights *w, void *data)
{
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n; i++)
        if (w->v[i].data == data) {
            if (--w->v[i].refs == 0) {
                free(data);
                w->bytes -= w->v[i].bytes;
                w->v[i] = w->v[--w->n];
            }
            break;
        }
    pthread_mutex_unlock(&w->mu);
}

/* ---- small helpers ------------------------------------------------------ */

/* Large buffers (packed weights, the arena) are aligned to 2 MiB and,
 * on Linux, offered to transparent huge pages: the kernels stream through
 * megabytes of them per run, and 4 KiB pages would cost a TLB miss every
 * few kilobytes. Zeroed. NULL when out of memory. */
#define BIG_ALIGN ((size_t)2 << 20)
static void *alloc_big(size_t bytes)
{
    size_t sz = (bytes + BIG_ALIGN - 1) / BIG_ALIGN * BIG_ALIGN;
    void *m = aligned_alloc(BIG_ALIGN, sz);
    if (!m)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(m, sz, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
    memset(m, 0, sz);
    return m;
}

void *clv_engine__share(clv_engine__planner *p, void *m, size_t bytes)
{
    clv_engine *e = p->e;
    clv_engine_weights *w = e->shared;
    if (!w || !m)
        return m;
    if (e->n_held == e->cap_held) {
        int cap = e->cap_held ? 2 * e->cap_held : 16;
        void **h = realloc(e->held, (size_t)cap * sizeof *h);
        if (!h)
            return m; /* kept as the engine's own: still correct */
        e->held = h;
        e->cap_held = cap;
    }
    uint64_t hash = hash_bytes(m, bytes);
    void *use = NULL;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->n && !use; i++)
        if (w->v[i].hash == hash && w->v[i].bytes == bytes &&
            memcmp(w->v[i].data, m, bytes) == 0) {
            w->v[i].refs++;
            use = w->v[i].data;
        }
    if (!use && w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        wentry *v = realloc(w->v, (size_t)cap * sizeof *v);
        if (v) {
            w->v = v;
            w->cap = cap;
        }
    }
    if (!use && w->n < w->cap) {
        w->v[w->n++] = (wentry){hash, bytes, m, 1};
        w->bytes += bytes;
        use = m;
    }
    pthread_mutex_unlock(&w->mu);
    if (!use)
        return m; /* the store is full of memory errors: keep our own */
    /* m leaves the engine's own memory: the store holds it, or it goes */
    for (int i = e->n_kept - 1; i >= 0; i--)
        if (e->kept[i] == m) {
            e->kept[i] = e->kept[--e->n_kept];
            break;
        }
    e->kept_bytes -= bytes;
    if (use != m)
        free(m);
    e->held[e->n_held++] = use;
    return use;
}

void *clv_engine__keep(clv_engine__planner *p, size_t bytes)
{
    clv_engine *e = p->e;
    void *m;
    if (e->n_kept == e->cap_kept) {
        int cap = e->cap_kept ? 2 * e->cap_kept : 16;
        void **k = realloc(e->kept, (size_t)cap * sizeof *k);
        if (!k) {
            clv_error_set(p->err, CLV_ENOMEM, "out of memory");
            return NULL;
        }
        e->kept = k;
        e->cap_kept = cap;
    }
    m = bytes >= BIG_ALIGN ? alloc_big(bytes) : calloc(1, bytes ? bytes : 1);
    if (!m) {
        clv_error_set(p->err, CLV_ENOMEM,
                      "out of memory (%zu bytes for a kernel plan)", bytes);
        return NULL;
    }
    e->kept[e->n_kept++] = m;
    e->kept_bytes += bytes;
    return m;
}

int clv_engine__node_error(clv_engine__planner *p, const clv_engine__step *s,
                           int code, const char *fmt, ...)
{
    char msg[CLV_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clv_error_set(p->err, code, "node '%s': %s", s->n->name, msg);
}

int64_t clv_engine__pieces(int64_t n, int64_t min_piece, int64_t max_n,
                           int64_t *piece)
{
    int64_t count, len;
    if (n <= 0) {
        *piece = 0;
        return 1;
    }
    if (min_piece < 1)
        min_piece = 1;
    count = n / min_piece;
    if (count > max_n)
        count = max_n;
    if (count < 1)
        count = 1;
    len = (n + count - 1) / count;
    *piece = len;
    return (n + len - 1) / len;
}

static bool is_view_op(clv_op op)
{
    return op == CLV_OP_IDENTITY || op == CLV_OP_DROPOUT ||
           op == CLV_OP_RESHAPE || op == CLV_OP_FLATTEN ||
           op == CLV_OP_SQUEEZE || op == CLV_OP_UNSQUEEZE;
}

/* Ops that declare extra outputs that inference never computes. */
static bool only_first_output(clv_op op)
{
    return op == CLV_OP_BATCHNORM || op == CLV_OP_MAXPOOL ||
           op == CLV_OP_DROPOUT;
}

static bool is_const(const clv_tensor *t)
{
    return (t->flags & CLV_TENSOR_CONST) != 0;
}

/* ---- accessors ---------------------------------------------------------- */

void clv_engine_free(clv_engine *e)
{
    if (!e)
        return;
    clv_engine__pool_free(e->pool);
    for (int i = 0; i < e->n_kept; i++)
        free(e->kept[i]);
    free(e->kept);
    for (int i = 0; i < e->n_held; i++)
        weights_release(e->shared, e->held[i]);
    free(e->held);
    free(e->steps);
    free(e->in);
    free(e->out);
    free(e->copies);
    free(e->kind);
    free(e->where);
    free(e->bind);
    free(e->ptr);
    free(e->arena);
    free(e);
}

const clv_graph *clv_engine_graph(const clv_engine *e)
{
    return e->g;
}

int clv_engine_n_inputs(const clv_engine *e)
{
    return e->n_in;
}

int clv_engine_input(const clv_engine *e, int i)
{
    return i >= 0 && i < e->n_in ? e->in[i] : -1;
}

int clv_engine_n_outputs(const clv_engine *e)
{
    return e->n_out;
}

int clv_engine_output(const clv_engine *e, int i)
{
    return i >= 0 && i < e->n_out ? e->out[i] : -1;
}

int clv_engine_find_input(const clv_engine *e, int tensor)
{
    for (int i = 0; i < e->n_in; i++)
        if (e->in[i] == tensor)
            return i;
    return -1;
}

int clv_engine_find_output(const clv_engine *e, int tensor)
{
    for (int i = 0; i < e->n_out; i++)
        if (e->out[i] == tensor)
            return i;
    return -1;
}

int clv_engine_n_nodes(const clv_engine *e)
{
    return e->n_steps;
}

int clv_engine_node(const clv_engine *e, int i)
{
    return i >= 0 && i < e->n_steps ? e->steps[i].node : -1;
}

int clv_engine_fused_into(const clv_engine *e, int i)
{
    return i >= 0 && i < e->n_steps ? e->steps[i].fused_into : -1;
}

size_t clv_engine_arena_bytes(const clv_engine *e)
{
    return e->arena_bytes;
}

size_t clv_engine_own_bytes(const clv_engine *e)
{
    return e->arena_bytes + e->kept_bytes;
}

int clv_engine_threads(const clv_engine *e)
{
    return e->threads;
}

/* ---- create: fusion ----------------------------------------------------- */

/* Fuses the chains that start at step i: a Conv followed by a
 * BatchNormalization and/or an activation; a Gemm or a float Add, Sub,
 * Mul, Div followed by an activation. */
static int fuse_from(clv_engine__planner *p, clv_engine *e, const int *pos,
                     int i)
{
    const clv_graph *g = e->g;
    clv_engine__step *s = &e->steps[i];
    int stage = s->n->op == CLV_OP_CONV ? 0 : 1; /* 0: BN or act next */
    int cur = s->n->outputs[0];

    while (stage < 2) {
        const clv_tensor *t = clv_graph_tensor(g, cur);
        const clv_node *c;
        clv_engine__step *cs;
        clv_engine__act act;
        int ci;

        if ((t->flags & CLV_TENSOR_OUTPUT) || t->n_consumers != 1 ||
            t->dtype != CLV_DT_FLOAT)
            break;
        if (stage == 1 && s->n->op != CLV_OP_CONV &&
            s->n->op != CLV_OP_GEMM &&
            clv_graph_tensor(g, s->n->inputs[0])->dtype != CLV_DT_FLOAT)
            break;
        ci = t->consumers[0];
        if (pos[ci] < 0)
            break;
        c = clv_graph_node(g, ci);
        if (c->n_inputs < 1 || c->inputs[0] != cur)
            break;
        cs = &e->steps[pos[ci]];
        if (c->op == CLV_OP_BATCHNORM && stage == 0) {
            const clv_tensor *prm[4];
            float *sc, *sh;
            int64_t ch = t->ndim >= 2 ? t->dims[1] : 0;
            bool ok = c->n_inputs == 5 && t->ndim >= 2;
            for (int k = 0; ok && k < 4; k++) {
                prm[k] = clv_graph_tensor(g, c->inputs[1 + k]);
                ok = is_const(prm[k]) && prm[k]->data &&
                     prm[k]->dtype == CLV_DT_FLOAT &&
                     clv_tensor_numel(prm[k]) == ch;
            }
            if (!ok)
                break;
            sc = clv_engine__keep(p, (size_t)ch * sizeof *sc);
            sh = clv_engine__keep(p, (size_t)ch * sizeof *sh);
            if (!sc || !sh)
                return CLV_ENOMEM;
            clv_engine__bn_affine(prm[0]->data, prm[1]->data, prm[2]->data,
                                  prm[3]->data,
                                  clv_node_float(c, "epsilon", 1e-5f), ch,
                                  sc, sh);
            s->epi.scale = sc;
            s->epi.shift = sh;
            stage = 1;
        } else if (clv_engine__act_of(c, &act)) {
            s->epi.act = act;
            stage = 2;
        } else {
            break;
        }
        cs->fused_into = i;
        cur = c->outputs[0];
    }
    s->out = cur;
    return 0;
}

/* Joins into step i the later steps j that run a Conv joinable with i's
 * (after binding: each keeps its own output tensor; their reads and
 * writes then happen at step i, where the lifetimes start). At most
 * JOIN_MAX convolutions per product. */
#define JOIN_MAX 8
static int join_siblings(clv_engine__planner *p, clv_engine *e)
{
    for (int i = 0; i < e->n_steps; i++) {
        clv_engine__step *s = &e->steps[i];
        int found[JOIN_MAX - 1], n = 0;
        if (s->fused_into != i || s->n->op != CLV_OP_CONV)
            continue;
        for (int j = i + 1; j < e->n_steps && n < JOIN_MAX - 1; j++) {
            const clv_engine__step *t = &e->steps[j];
            if (t->fused_into == j && t->n->op == CLV_OP_CONV &&
                clv_engine__conv_joinable(e->g, s->n, t->n))
                found[n++] = j;
        }
        if (n == 0)
            continue;
        s->sib = clv_engine__keep(p, (size_t)n * sizeof *s->sib);
        if (!s->sib)
            return CLV_ENOMEM;
        for (int k = 0; k < n; k++) {
            int j = found[k];
            s->sib[k] = &e->steps[j];
            /* j's fused chain follows j; nothing else is fused into j */
            for (int m = j; m < e->n_steps; m++)
                if (e->steps[m].fused_into == j)
                    e->steps[m].fused_into = i;
        }
        s->n_sib = n;
    }
    return 0;
}

/* ---- create: arena ------------------------------------------------------ */

typedef struct block {
    size_t size;
    int first, last; /* step positions, inclusive */
    int key;         /* tensor id, or -(step + 1) for a scratch block */
    size_t off;
} block;

/* The arena as a heap replayed in step order: at step i the blocks that
 * start there are allocated (tensors before scratch), then the blocks
 * whose last use is step i are freed. An allocation takes, among the free
 * segments it fits, the one freed most recently (ties: the smallest), at
 * its start, else grows the arena: a kernel's output then mostly lands on
 * memory the steps just before it touched, still in cache, instead of
 * memory last written a run ago, which it would have to fetch back from
 * DRAM before overwriting. Writes the offsets and the arena size. */
typedef struct seg {
    size_t off, size;
    int freed_at; /* step whose end freed it; -1: never used */
} seg;

static int start_cmp(const void *a, const void *b)
{
    const block *const *x = a, *const *y = b;
    if ((*x)->first != (*y)->first)
        return (*x)->first < (*y)->first ? -1 : 1;
    if (((*x)->key >= 0) != ((*y)->key >= 0)) /* tensors first */
        return (*x)->key >= 0 ? -1 : 1;
    if ((*x)->size != (*y)->size)
        return (*x)->size > (*y)->size ? -1 : 1;
    return (*x)->key < (*y)->key ? -1 : ((*x)->key > (*y)->key);
}

static int end_cmp(const void *a, const void *b)
{
    const block *const *x = a, *const *y = b;
    if ((*x)->last != (*y)->last)
        return (*x)->last < (*y)->last ? -1 : 1;
    return (*x)->key < (*y)->key ? -1 : ((*x)->key > (*y)->key);
}

static int place_recent(block *b, int n, size_t *total, clv_error *err)
{
    block **by_start = NULL, **by_end = NULL;
    seg *fs = NULL; /* free segments, sorted by offset */
    int nf = 0, is = 0, ie = 0, rc = 0;
    size_t end = 0;

    *total = 0;
    if (n == 0)
        return 0;
    by_start = malloc((size_t)n * sizeof *by_start);
    by_end = malloc((size_t)n * sizeof *by_end);
    fs = malloc(((size_t)n + 1) * sizeof *fs);
    if (!by_start || !by_end || !fs) {
        rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        by_start[i] = by_end[i] = &b[i];
    qsort(by_start, (size_t)n, sizeof *by_start, start_cmp);
    qsort(by_end, (size_t)n, sizeof *by_end, end_cmp);
    while (is < n || ie < n) {
        int step = is < n ? by_start[is]->first : INT_MAX;
        if (ie < n && by_end[ie]->last < step)
            step = by_end[ie]->last;
        /* allocations of this step */
        for (; is < n && by_start[is]->first == step; is++) {
            block *k = by_start[is];
            int best = -1;
            for (int f = 0; f < nf; f++)
                if (fs[f].size >= k->size &&
                    (best < 0 || fs[f].freed_at > fs[best].freed_at ||
                     (fs[f].freed_at == fs[best].freed_at &&
                      fs[f].size < fs[best].size)))
                    best = f;
            if (best < 0 && nf > 0 && fs[nf - 1].off + fs[nf - 1].size == end)
                best = nf - 1; /* the free tail grows */
            if (best < 0) {
                k->off = end;
            } else {
                k->off = fs[best].off;
                if (fs[best].size > k->size) {
                    fs[best].off += k->size;
                    fs[best].size -= k->size;
                } else {
                    memmove(&fs[best], &fs[best + 1],
                            (size_t)(nf - best - 1) * sizeof *fs);
                    nf--;
                }
            }
            if (k->off + k->size < k->off) {
                rc = clv_error_set(err, CLV_ELIMIT,
                                   "the engine's arena would overflow size_t");
                goto done;
            }
            if (k->off + k->size > end)
                end = k->off + k->size;
        }
        /* frees at the end of this step */
        for (; ie < n && by_end[ie]->last == step; ie++) {
            block *k = by_end[ie];
            int at = 0;
            while (at < nf && fs[at].off < k->off)
                at++;
            memmove(&fs[at + 1], &fs[at], (size_t)(nf - at) * sizeof *fs);
            fs[at].off = k->off;
            fs[at].size = k->size;
            fs[at].freed_at = step;
            nf++;
            /* merge with free neighbours */
            if (at + 1 < nf && fs[at].off + fs[at].size == fs[at + 1].off) {
                fs[at].size += fs[at + 1].size;
                if (fs[at + 1].freed_at > fs[at].freed_at)
                    fs[at].freed_at = fs[at + 1].freed_at;
                memmove(&fs[at + 1], &fs[at + 2],
                        (size_t)(nf - at - 2) * sizeof *fs);
                nf--;
            }
            if (at > 0 && fs[at - 1].off + fs[at - 1].size == fs[at].off) {
                fs[at - 1].size += fs[at].size;
                if (fs[at].freed_at > fs[at - 1].freed_at)
                    fs[at - 1].freed_at = fs[at].freed_at;
                memmove(&fs[at], &fs[at + 1],
                        (size_t)(nf - at - 1) * sizeof *fs);
                nf--;
            }
        }
    }
    *total = end;
done:
    free(by_start);
    free(by_end);
    free(fs);
    return rc;
}

/* ---- create ------------------------------------------------------------- */

static int add_bind(clv_engine *e, int t, unsigned char kind, int64_t where)
{
    if (e->kind[t] != ST_NONE)
        return 0;
    e->kind[t] = kind;
    e->where[t] = where;
    e->bind[e->n_bind++] = t;
    return 0;
}

int clv_engine_create(const clv_graph *g, const int *nodes, int n_nodes,
                      const clv_engine_options *opt, clv_engine **out,
                      clv_error *err)
{
    clv_engine *e = NULL;
    clv_engine__planner pl;
    int *pos = NULL, *last = NULL, *first = NULL, *root = NULL;
    block *blocks = NULL;
    int n_blocks = 0, rc = 0, nt, nn, threads;
    bool whole = nodes == NULL, fuse;

    if (out)
        *out = NULL;
    if (!g || !out)
        return clv_error_set(err, CLV_EINVAL,
                             "clv_engine_create: no graph or no result");
    if (!clv_graph_is_finalized(g))
        return clv_error_set(err, CLV_EINVAL,
                             "the engine needs a finalized graph");
    threads = opt ? opt->threads : 0;
    if (threads == 0)
        threads = 1;
    if (threads < 1 || threads > CLV_ENGINE_MAX_THREADS)
        return clv_error_set(err, CLV_EINVAL,
                             "threads=%d must be between 1 and %d", threads,
                             CLV_ENGINE_MAX_THREADS);
    fuse = !(opt && opt->no_fuse);
    nt = clv_graph_n_tensors(g);
    nn = clv_graph_n_nodes(g);
    if (!whole && (n_nodes < 0 || n_nodes > nn))
        return clv_error_set(err, CLV_EINVAL,
                             "%d nodes given for a graph of %d", n_nodes,
                             nn);

    e = calloc(1, sizeof *e);
    if (!e)
        return clv_error_set(err, CLV_ENOMEM, "out of memory");
    e->g = g;
    e->threads = threads;
    e->n_tensors = nt;
    e->shared = opt ? opt->shared : NULL;
    pl.g = g;
    pl.e = e;
    pl.threads = threads;
    pl.simd = clv_engine__simd_ok();
    pl.err = err;

    /* 1. the subset, in topological order */
    pos = malloc(((size_t)nn + 1) * sizeof *pos);
    if (!pos)
        goto nomem;
    for (int i = 0; i < nn; i++)
        pos[i] = -1;
    if (whole) {
        for (int i = 0; i < nn; i++)
            pos[i] = 0;
    } else {
        for (int i = 0; i < n_nodes; i++) {
            int k = nodes[i];
            if (k < 0 || k >= nn) {
                rc = clv_error_set(err, CLV_EINVAL,
                                   "node index %d is out of range (the "
                                   "graph has %d nodes)",
                                   k, nn);
                goto fail;
            }
            if (pos[k] >= 0) {
                rc = clv_error_set(err, CLV_EINVAL,
                                   "node %d ('%s') is listed twice", k,
                                   clv_graph_node(g, k)->name);
                goto fail;
            }
            pos[k] = 0;
        }
    }
    for (int i = 0; i < nn; i++)
        if (pos[i] >= 0)
            pos[i] = e->n_steps++;
    e->steps = calloc((size_t)e->n_steps + 1, sizeof *e->steps);
    if (!e->steps)
        goto nomem;
    for (int i = 0; i < nn; i++) {
        clv_engine__step *s;
        if (pos[i] < 0)
            continue;
        s = &e->steps[pos[i]];
        s->node = i;
        s->n = clv_graph_node(g, i);
        s->out = s->n->n_outputs > 0 ? s->n->outputs[0] : -1;
        s->epi.bias_t = -1;
        s->fused_into = pos[i];
        s->only_out0 = only_first_output(s->n->op);
        if (!clv_engine__planner_for(s->n->op)) {
            rc = clv_error_set(err, CLV_EUNSUPPORTED,
                               "node '%s': the engine has no kernel for %s",
                               s->n->name, clv_op_name(s->n->op));
            goto fail;
        }
    }

    /* 2. fusion */
    if (fuse)
        for (int i = 0; i < e->n_steps; i++) {
            clv_op op = e->steps[i].n->op;
            if (e->steps[i].fused_into == i &&
                (op == CLV_OP_CONV || op == CLV_OP_GEMM ||
                 op == CLV_OP_ADD || op == CLV_OP_SUB || op == CLV_OP_MUL ||
                 op == CLV_OP_DIV) &&
                (rc = fuse_from(&pl, e, pos, i)))
                goto fail;
        }

    /* 3. the interface, and 4. storage */
    e->kind = calloc((size_t)nt + 1, 1);
    e->where = calloc((size_t)nt + 1, sizeof *e->where);
    e->bind = malloc(((size_t)nt + 1) * sizeof *e->bind);
    e->ptr = calloc((size_t)nt + 1, sizeof *e->ptr);
    e->in = malloc(((size_t)nt + 1) * sizeof *e->in);
    e->out = malloc(((size_t)nt + clv_graph_n_outputs(g) + 1) *
                    sizeof *e->out);
    e->copies = malloc(((size_t)clv_graph_n_outputs(g) + 1) *
                       sizeof *e->copies);
    if (!e->kind || !e->where || !e->bind || !e->ptr || !e->in || !e->out ||
        !e->copies)
        goto nomem;

    if (whole) {
        for (int i = 0; i < clv_graph_n_inputs(g); i++) {
            int t = clv_graph_input(g, i);
            e->in[e->n_in] = t;
            add_bind(e, t, ST_IN, e->n_in);
            e->n_in++;
        }
    }
    /* inputs of the subset, in order of first read; constants */
    for (int i = 0; i < e->n_steps; i++) {
        const clv_node *n = e->steps[i].n;
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            const clv_tensor *x;
            if (t < 0)
                continue;
            x = clv_graph_tensor(g, t);
            if (is_const(x)) {
                add_bind(e, t, ST_CONST, 0);
            } else if ((x->producer < 0 || pos[x->producer] < 0) &&
                       e->kind[t] == ST_NONE) {
                e->in[e->n_in] = t;
                add_bind(e, t, ST_IN, e->n_in);
                e->n_in++;
            }
        }
    }
    /* outputs */
    if (whole) {
        for (int i = 0; i < clv_graph_n_outputs(g); i++) {
            int t = clv_graph_output(g, i);
            const clv_tensor *x = clv_graph_tensor(g, t);
            e->out[e->n_out] = t;
            if (e->kind[t] == ST_NONE && !is_const(x) && x->producer >= 0) {
                add_bind(e, t, ST_OUT, e->n_out);
            } else {
                if (is_const(x))
                    add_bind(e, t, ST_CONST, 0);
                e->copies[e->n_copies].out = e->n_out;
                e->copies[e->n_copies].tensor = t;
                e->n_copies++;
            }
            e->n_out++;
        }
    } else {
        for (int i = 0; i < e->n_steps; i++) {
            const clv_node *n = e->steps[i].n;
            for (int k = 0; k < n->n_outputs; k++) {
                int t = n->outputs[k];
                const clv_tensor *x = clv_graph_tensor(g, t);
                bool leaves = (x->flags & CLV_TENSOR_OUTPUT) != 0;
                for (int c = 0; !leaves && c < x->n_consumers; c++)
                    leaves = pos[x->consumers[c]] < 0;
                if (!leaves)
                    continue;
                if (k > 0 && e->steps[i].only_out0) {
                    rc = clv_error_set(
                        err, CLV_EUNSUPPORTED,
                        "node '%s': output '%s' is not computed at "
                        "inference",
                        n->name, x->name);
                    goto fail;
                }
                e->out[e->n_out] = t;
                add_bind(e, t, ST_OUT, e->n_out);
                e->n_out++;
            }
        }
    }
    /* the rest: aliases and arena blocks, in step order */
    for (int i = 0; i < e->n_steps; i++) {
        clv_engine__step *s = &e->steps[i];
        const clv_node *n = s->n;
        if (s->fused_into != i)
            continue;
        if (is_view_op(n->op) && e->kind[s->out] == ST_NONE &&
            n->inputs[0] >= 0) {
            int src = n->inputs[0];
            if (e->kind[src] == ST_ALIAS)
                src = (int)e->where[src];
            s->alias = true;
            add_bind(e, s->out, ST_ALIAS, src);
            continue;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int t = k == 0 ? s->out : n->outputs[k];
            if (k > 0 && s->only_out0)
                continue;
            add_bind(e, t, ST_ARENA, 0);
        }
    }
    /* roots before aliases in the bind list */
    {
        int w = 0;
        int *tmp = malloc(((size_t)e->n_bind + 1) * sizeof *tmp);
        if (!tmp)
            goto nomem;
        for (int i = 0; i < e->n_bind; i++)
            if (e->kind[e->bind[i]] != ST_ALIAS)
                tmp[w++] = e->bind[i];
        for (int i = 0; i < e->n_bind; i++)
            if (e->kind[e->bind[i]] == ST_ALIAS)
                tmp[w++] = e->bind[i];
        memcpy(e->bind, tmp, (size_t)w * sizeof *tmp);
        free(tmp);
    }

    /* 4b. sibling convolutions */
    if (fuse && pl.simd && (rc = join_siblings(&pl, e)))
        goto fail;

    /* 5. kernels */
    for (int i = 0; i < e->n_steps; i++) {
        clv_engine__step *s = &e->steps[i];
        if (s->fused_into != i)
            continue;
        if ((rc = clv_engine__planner_for(s->n->op)(&pl, s)))
            goto fail;
        s->scratch_shared = clv_engine__align(s->scratch_shared);
        s->scratch_thread = clv_engine__align(s->scratch_thread);
    }

    /* 6. the arena: lifetimes of roots, then placement */
    first = malloc(((size_t)nt + 1) * sizeof *first);
    last = malloc(((size_t)nt + 1) * sizeof *last);
    root = malloc(((size_t)nt + 1) * sizeof *root);
    blocks = malloc(((size_t)nt + (size_t)e->n_steps + 1) * sizeof *blocks);
    if (!first || !last || !root || !blocks)
        goto nomem;
    for (int t = 0; t < nt; t++) {
        first[t] = -1;
        last[t] = -1;
        root[t] = e->kind[t] == ST_ALIAS ? (int)e->where[t] : t;
    }
    for (int i = 0; i < e->n_steps; i++) {
        const clv_engine__step *s = &e->steps[i];
        const clv_node *n = s->n;
        int at = s->fused_into;
        for (int k = 0; k < n->n_outputs; k++) {
            int t = k == 0 && s->fused_into == i ? s->out : n->outputs[k];
            int r = root[t];
            if (e->kind[t] == ST_NONE)
                continue;
            if (first[r] < 0 || at < first[r])
                first[r] = at;
            if (at > last[r])
                last[r] = at;
        }
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k], r;
            if (t < 0 || e->kind[t] == ST_NONE)
                continue;
            r = root[t];
            if (at > last[r])
                last[r] = at;
        }
    }
    for (int t = 0; t < nt; t++) {
        uint64_t bytes;
        if (e->kind[t] != ST_ARENA)
            continue;
        bytes = clv_tensor_bytes(clv_graph_tensor(g, t));
        if (bytes > (uint64_t)SIZE_MAX / 2) {
            rc = clv_error_set(err, CLV_ELIMIT,
                               "tensor '%s' is too large for the arena",
                               clv_graph_tensor(g, t)->name);
            goto fail;
        }
        blocks[n_blocks].size = clv_engine__align((size_t)bytes);
        blocks[n_blocks].first = first[t] < 0 ? 0 : first[t];
        blocks[n_blocks].last = last[t] < 0 ? blocks[n_blocks].first
                                            : last[t];
        blocks[n_blocks].key = t;
        n_blocks++;
    }
    for (int i = 0; i < e->n_steps; i++) {
        const clv_engine__step *s = &e->steps[i];
        size_t sz = s->scratch_shared + (size_t)threads * s->scratch_thread;
        if (s->fused_into != i || sz == 0)
            continue;
        blocks[n_blocks].size = sz;
        blocks[n_blocks].first = i;
        blocks[n_blocks].last = i;
        blocks[n_blocks].key = -(i + 1);
        n_blocks++;
    }
    if ((rc = place_recent(blocks, n_blocks, &e->arena_bytes, err)))
        goto fail;
    for (int b = 0; b < n_blocks; b++) {
        if (blocks[b].key >= 0)
            e->where[blocks[b].key] = (int64_t)blocks[b].off;
        else
            e->steps[-blocks[b].key - 1].scratch_off = blocks[b].off;
    }
    if (e->arena_bytes > 0) {
        e->arena = e->arena_bytes >= BIG_ALIGN
                       ? alloc_big(e->arena_bytes)
                       : aligned_alloc(CLV_ENGINE_ALIGN, e->arena_bytes);
        if (!e->arena) {
            rc = clv_error_set(err, CLV_ENOMEM,
                               "out of memory (%zu bytes of arena)",
                               e->arena_bytes);
            goto fail;
        }
    }

    /* threads: the engine's own; OpenBLAS single-threaded */
    openblas_set_num_threads(1);
    if (threads > 1 && clv_engine__pool_create(threads, &e->pool)) {
        rc = clv_error_set(err, CLV_ENOMEM,
                           "cannot start %d worker threads", threads - 1);
        goto fail;
    }

    free(pos);
    free(first);
    free(last);
    free(root);
    free(blocks);
    *out = e;
    return 0;
nomem:
    rc = clv_error_set(err, CLV_ENOMEM, "out of memory");
fail:
    free(pos);
    free(first);
    free(last);
    free(root);
    free(blocks);
    clv_engine_free(e);
    return rc;
}

/* ---- run ---------------------------------------------------------------- */

int clv_engine_run_timed(clv_engine *e, const void *const *inputs,
                         void *const *outputs, double *seconds,
                         clv_error *err)
{
    const clv_graph *g;
    clv_engine__exec x;
    clv_error local;
    int rc = 0;

    if (!e)
        return clv_error_set(err, CLV_EINVAL, "clv_engine_run: no engine");
    g = e->g;
    for (int i = 0; i < e->n_in; i++)
        if (!inputs || (!inputs[i] &&
                        clv_tensor_bytes(clv_graph_tensor(g, e->in[i])))) {
            return clv_error_set(err, CLV_EINVAL, "no buffer for input '%s'",
                                 clv_graph_tensor(g, e->in[i])->name);
        }
    for (int i = 0; i < e->n_out; i++)
        if (!outputs ||
            (!outputs[i] &&
             clv_tensor_bytes(clv_graph_tensor(g, e->out[i])))) {
            return clv_error_set(err, CLV_EINVAL,
                                 "no buffer for output '%s'",
                                 clv_graph_tensor(g, e->out[i])->name);
        }

    for (int i = 0; i < e->n_bind; i++) {
        int t = e->bind[i];
        switch (e->kind[t]) {
        case ST_CONST:
            e->ptr[t] = clv_graph_tensor(g, t)->data;
            break;
        case ST_IN:
            /* the kernels only read inputs */
            e->ptr[t] = (void *)(uintptr_t)inputs[e->where[t]];
            break;
        case ST_OUT:
            e->ptr[t] = outputs[e->where[t]];
            break;
        case ST_ARENA:
            e->ptr[t] = e->arena ? e->arena + e->where[t] : NULL;
            break;
        case ST_ALIAS:
            e->ptr[t] = e->ptr[e->where[t]];
            break;
        default:
            e->ptr[t] = NULL;
        }
    }

    clv_error_clear(&local);
    x.g = g;
    x.ptr = e->ptr;
    x.pool = e->pool;
    x.threads = e->threads;
    x.err = &local;
    for (int i = 0; i < e->n_steps; i++) {
        const clv_engine__step *s = &e->steps[i];
        double t0 = 0.0;
        if (seconds)
            seconds[i] = 0.0;
        if (!s->run)
            continue;
        x.scratch = e->arena ? e->arena + s->scratch_off : NULL;
        x.scratch_shared = s->scratch_shared;
        x.scratch_thread = s->scratch_thread;
        if (seconds)
            t0 = clv_util_now_s();
        rc = s->run(s, &x);
        if (seconds)
            seconds[i] = clv_util_now_s() - t0;
        if (rc) {
            if (!local.msg[0])
                clv_error_set(&local, rc, "%s", clv_strerror(rc));
            clv_error_prefix(&local, "node '%s': ", s->n->name);
            local.code = rc;
            if (err)
                *err = local;
            return rc;
        }
    }
    for (int i = 0; i < e->n_copies; i++) {
        int t = e->copies[i].tensor;
        size_t bytes = (size_t)clv_tensor_bytes(clv_graph_tensor(g, t));
        const void *src = e->ptr[t];
        if (bytes && src != outputs[e->copies[i].out])
            memcpy(outputs[e->copies[i].out], src, bytes);
    }
    return 0;
}

int clv_engine_run(clv_engine *e, const void *const *inputs,
                   void *const *outputs, clv_error *err)
{
    return clv_engine_run_timed(e, inputs, outputs, NULL, err);
}
