/*
 * Internals of the engine module, shared by its files:
 *   engine.c     create/run/free: the subset's interface, fusion, aliasing,
 *                the arena plan, the run loop;
 *   pool.c       the engine's worker threads;
 *   ops.c        the table of op planners, keyed by clv_op;
 *   op_*.c       one file per op family: a planner that parses the node's
 *                canonical attributes once and picks the kernel, and the
 *                kernels themselves.
 * Not installed; other modules use include/cleave/engine.h only.
 */
#ifndef CLEAVE_ENGINE_INTERNAL_H
#define CLEAVE_ENGINE_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/engine.h"

/* Kernels of one architecture live in a folder of their own, which the
 * build adds for that target (CMakeLists.txt): x86/ on x86-64 (AVX2 + FMA,
 * compiled through target attributes, so the rest of the library stays
 * baseline x86-64, and called only when clv_engine__simd_ok() says the CPU
 * has them), generic/ everywhere else (simd_ok is false; the portable
 * paths run). The portable paths are always compiled, and tested on x86
 * too (CLEAVE_ENGINE_GENERIC=1). */

/* Alignment of every arena block, in bytes. */
#define CLV_ENGINE_ALIGN 64
/* Element-wise loops work in blocks of this many values (a fixed trip
 * count the compiler vectorizes at -O2) and finish with a scalar tail;
 * both compute each value with the same IEEE operations. */
#define CLV_ENGINE_BLOCK 8

/* ---- threads ----------------------------------------------------------- */

typedef struct clv_engine__pool clv_engine__pool;

/* Task `task` of a parallel loop, run by thread `tid` (0 = the caller). */
typedef void (*clv_engine__task_fn)(void *ctx, int64_t task, int tid);

/* A pool of `threads` - 1 workers (threads >= 2). Returns 0 or CLV_ENOMEM
 * (or the pthread error mapped to CLV_ENOMEM). */
int clv_engine__pool_create(int threads, clv_engine__pool **out);
/* Stops and joins the workers. Accepts NULL. */
void clv_engine__pool_free(clv_engine__pool *p);
/* Runs fn(ctx, t, tid) for t in [0, n_tasks) on the pool's threads and the
 * caller, and returns when all are done. Which thread runs which task is
 * not fixed, so a task must compute the same values on any thread. A NULL
 * pool runs the tasks in order on the caller. */
void clv_engine__pool_run(clv_engine__pool *p, int64_t n_tasks,
                          clv_engine__task_fn fn, void *ctx);

/* ---- activations and fused epilogues ----------------------------------- */

typedef enum clv_engine__act_kind {
    CLV_ACT_NONE,
    CLV_ACT_RELU,
    CLV_ACT_LEAKY,       /* a = alpha */
    CLV_ACT_CLIP,        /* a = min, b = max */
    CLV_ACT_SIGMOID,
    CLV_ACT_TANH,
    CLV_ACT_HARDSIGMOID, /* a = alpha, b = beta */
    CLV_ACT_HARDSWISH,
    CLV_ACT_SQRT,        /* the unary maths ops, plain libm */
    CLV_ACT_EXP,
    CLV_ACT_NEG,
    CLV_ACT_RECIPROCAL,
    CLV_ACT_ERF
} clv_engine__act_kind;

typedef struct clv_engine__act {
    clv_engine__act_kind kind;
    float a, b;
} clv_engine__act;

/* One activation value. The standalone activation kernels and the fused
 * epilogues both call this, so that fusing changes no bit. */
static inline float clv_engine__act1(clv_engine__act_kind k, float a,
                                     float b, float v)
{
    switch (k) {
    case CLV_ACT_NONE:
        return v;
    case CLV_ACT_RELU:
        return v < 0.0f ? 0.0f : v;
    case CLV_ACT_LEAKY:
        return v >= 0.0f ? v : v * a;
    case CLV_ACT_CLIP:
        return v < a ? a : (v > b ? b : v);
    case CLV_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-v));
    case CLV_ACT_TANH:
        return tanhf(v);
    case CLV_ACT_HARDSIGMOID: {
        float t = a * v + b;
        return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    }
    case CLV_ACT_HARDSWISH: {
        float t = v * (1.0f / 6.0f) + 0.5f;
        t = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
        return v * t;
    }
    case CLV_ACT_SQRT:
        return sqrtf(v);
    case CLV_ACT_EXP:
        return expf(v);
    case CLV_ACT_NEG:
        return -v;
    case CLV_ACT_RECIPROCAL:
        return 1.0f / v;
    case CLV_ACT_ERF:
        return erff(v);
    }
    return v;
}

/* y[i] = act(x[i]) for i < n; y may equal x. */
void clv_engine__act_map(const clv_engine__act *a, const float *x, float *y,
                         size_t n);

/* What a convolution or Gemm does to each value after the products, in
 * this order: add the bias of its channel, apply a BatchNormalization as
 * v * scale[c] + shift[c], apply the activation. The standalone Conv (with
 * bias), BatchNormalization and activation kernels compute exactly these
 * steps, so a fused chain gives the same bits as the nodes run apart. */
typedef struct clv_engine__epi {
    int bias_t;         /* bias tensor id (Conv input 2), or -1 */
    const float *scale; /* per channel, or NULL: no BatchNormalization */
    const float *shift;
    clv_engine__act act;
} clv_engine__epi;

/* True when the epilogue does nothing (no bias, BN or activation). */
static inline bool clv_engine__epi_empty(const clv_engine__epi *e)
{
    return e->bias_t < 0 && !e->scale && e->act.kind == CLV_ACT_NONE;
}

/* Applies the epilogue to `n` values of channel `c` in place; `bias` is
 * the bias tensor's data (NULL when e->bias_t < 0). */
void clv_engine__epi_apply(const clv_engine__epi *e, const float *bias,
                           int64_t c, float *y, size_t n);

/* BatchNormalization as an affine map: scale'[c] = scale[c] /
 * sqrtf(var[c] + eps), shift'[c] = B[c] - mean[c] * scale'[c]. */
void clv_engine__bn_affine(const float *scale, const float *bias,
                           const float *mean, const float *var, float eps,
                           int64_t c, float *s, float *t);

/* ---- the engine's own sgemm (gemm_avx2.c) ------------------------------ */

/* Tile of the micro-kernel: MR rows of A (output channels) by NR columns
 * of B (output positions). */
#define CLV_GEMM_MR 6
#define CLV_GEMM_NR 16

/* True when the CPU runs the AVX2 + FMA kernels (x86-64 with both), and
 * the environment variable CLEAVE_ENGINE_GENERIC is unset or "0" (set,
 * the engine takes its portable paths: OpenBLAS and plain C). */
bool clv_engine__simd_ok(void);

/* Floats of A (M x K) packed by clv_engine__pack_a. */
size_t clv_engine__pack_a_floats(int64_t M, int64_t K);

/* Packs A (M x K, row m at A + m * lda) for clv_engine__gemm_run, in
 * blocks of kc columns of A (the last may be shorter): block k0 at dst +
 * k0 * Mp (Mp = M rounded up to MR), made of Mp / MR panels of MR rows
 * (panel i at + i * kb * MR, value (r, k) at [k * MR + r]); rows past M
 * are zero. */
void clv_engine__pack_a(const float *A, int64_t lda, int64_t M, int64_t K,
                        int64_t kc, float *dst);

/* One K block of a product: rows [m0, m1) and columns [0, ncols) of
 * C = A B (C += A B when acc), row m of C at c + m * ldc. Each value of C
 * is one chain of fused multiply-adds over the block's k in order, from
 * zero or from the value C holds. */
typedef struct clv_engine__gemm_job {
    int64_t kc;         /* depth of the block */
    const float *a;     /* the packed block of A (its row 0) */
    int64_t m0, m1;     /* rows; m0 a multiple of MR */
    const float *b;     /* off == NULL: packed panels of NR columns, panel
                           p at b + p * kc * NR, row k of it at + k * NR
                           (zero past ncols); else row k of B at b + off[k]
                           with NR readable values from every column
                           multiple of NR */
    const int32_t *off;
    int64_t ncols;
    float *c;
    int64_t ldc;
    bool acc;           /* add to C (a later K block) */
    const clv_engine__epi *epi; /* the last K block: apply to each row m
                                   as channel ch0 + m; else NULL */
    const float *bias;
    int64_t ch0;
} clv_engine__gemm_job;

/* Runs one job (clv_engine__simd_ok() must be true). */
void clv_engine__gemm_run(const clv_engine__gemm_job *j);

/* The transposed product, pixels by channels (a convolution's output
 * transposed): C^T[p, ch] = sum over k of x[off[k] + pix[p]] * W[ch, k],
 * for pixels [p0, p1) in tiles of MR and channel panels [q0, q1) of NR;
 * each value one chain of fused multiply-adds over k in order, as in
 * clv_engine__gemm_run. */
typedef struct clv_engine__gemmt_job {
    int64_t kc;          /* depth of the block */
    const float *x;      /* the input rows: row k at x + off[k] */
    const int32_t *off;  /* kc entries */
    const int32_t *pix;  /* per pixel p: its offset in every row */
    int64_t p0, p1;
    const float *w;      /* weights packed by clv_engine__pack_wt, the
                            block's panel 0 (panel q at w + q * kc * NR) */
    int64_t q0, q1;      /* channel panels */
    int64_t nch;         /* channels (panel q holds nch - q * NR of them
                            when fewer than NR: zero weights past them) */
    float *c;            /* pixel p, channel q0 * NR + i at
                            c + (p - p0) * ldc + i; whole panels stored */
    int64_t ldc;
    bool acc;
    bool grp8;           /* kc a multiple of 8 and off[k + i] = off[k] + i
                            for k a multiple of 8, i < 8 */
} clv_engine__gemmt_job;

void clv_engine__gemmt_run(const clv_engine__gemmt_job *j);

/* W (M x K, row m at W + m * ldw) transposed and packed in panels of NR
 * channels, K blocks of kc: block k0 at dst + k0 * Mq (Mq = M rounded up
 * to NR), panel q at + q * kb * NR, value (k, i) at [k * NR + i] = W[m,
 * kperm[k]] (kperm NULL: k itself); zero past M. */
size_t clv_engine__pack_wt_floats(int64_t M, int64_t K);
void clv_engine__pack_wt(const float *W, int64_t ldw, int64_t M, int64_t K,
                         int64_t kc, const int32_t *kperm, float *dst);

/* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols; then, when
 * e is not NULL, the epilogue on each row c of dst as channel ch0 + c
 * (the values of clv_engine__epi_apply). */
void clv_engine__transpose(const float *src, int64_t lds, int64_t rows,
                           int64_t cols, float *dst, int64_t ldd,
                           const clv_engine__epi *e, const float *bias,
                           int64_t ch0);

/* clv_engine__epi_apply() with AVX2 (the same bits); needs
 * clv_engine__simd_ok(). */
void clv_engine__epi_apply_simd(const clv_engine__epi *e, const float *bias,
                                int64_t c, float *y, size_t n);

/* ---- plans and steps --------------------------------------------------- */

typedef struct clv_engine__step clv_engine__step;
typedef struct clv_engine__exec clv_engine__exec;
typedef struct clv_engine__planner clv_engine__planner;

/* Runs one step. Returns 0, or a CLV_E* code with a message (without the
 * node name; the caller prefixes it) in x->err. */
typedef int (*clv_engine__run_fn)(const clv_engine__step *s,
                                  clv_engine__exec *x);

/* Fills in s->run, s->plan and the scratch sizes from the node's canonical
 * attributes and its tensors' shapes. Returns 0, or CLV_EUNSUPPORTED /
 * CLV_ENOMEM with a message naming the node in p->err. */
typedef int (*clv_engine__plan_fn)(clv_engine__planner *p,
                                   clv_engine__step *s);

struct clv_engine__step {
    int node;             /* graph node index */
    const clv_node *n;    /* the node (borrowed from the graph) */
    clv_engine__run_fn run; /* NULL: nothing to run (alias, fused) */
    void *plan;           /* op-specific; memory kept by the engine */
    size_t scratch_shared; /* scratch bytes the threads share */
    size_t scratch_thread; /* scratch bytes per thread */
    size_t scratch_off;   /* arena offset of the scratch */
    int out;              /* tensor the kernel writes as its output 0: the
                             node's own, or the last fused node's */
    clv_engine__epi epi;  /* fused post-ops: Conv all of it; Gemm and the
                             float binary ops the activation only */
    int fused_into;       /* position whose kernel computes this node */
    bool alias;           /* output 0 shares input 0's memory */
    bool only_out0;       /* extra outputs are declared but not computed */
    /* Conv siblings (clv_engine__conv_joinable): this step's kernel also
     * computes the n_sib convolutions at sib[], each with its own fused
     * epilogue and output (their fused_into is this step) */
    clv_engine__step **sib;
    int n_sib;
};

struct clv_engine__exec {
    const clv_graph *g;
    void **ptr;            /* per tensor id: its memory in this run */
    char *scratch;         /* the running step's scratch */
    size_t scratch_shared; /* its layout (copied from the step) */
    size_t scratch_thread;
    clv_engine__pool *pool; /* NULL with one thread */
    int threads;
    clv_error *err;
};

struct clv_engine__planner {
    const clv_graph *g;
    clv_engine *e;
    int threads;
    bool simd; /* clv_engine__simd_ok(), asked once per engine */
    clv_error *err;
};

/* The planner for `op`, or NULL when the engine has no kernel for it. */
clv_engine__plan_fn clv_engine__planner_for(clv_op op);

/* Zeroed memory that lives as long as the engine (plans, packed weights).
 * NULL when out of memory, with a message in p->err. */
void *clv_engine__keep(clv_engine__planner *p, size_t bytes);

/* Packed weights `m` (`bytes`, from clv_engine__keep, filled): with a
 * shared store, the store's copy of the same bytes (m is then freed) or m
 * itself, now the store's; without one, m. Use the pointer returned. */
void *clv_engine__share(clv_engine__planner *p, void *m, size_t bytes);

/* "node 'name': " + message; returns code. */
int clv_engine__node_error(clv_engine__planner *p, const clv_engine__step *s,
                           int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Helpers for planners and kernels. */
static inline const clv_tensor *clv_engine__tensor(const clv_graph *g,
                                                   int id)
{
    return clv_graph_tensor(g, id);
}
/* Input i of the step's node, NULL when absent. */
static inline const clv_tensor *clv_engine__in_t(const clv_graph *g,
                                                 const clv_engine__step *s,
                                                 int i)
{
    if (i >= s->n->n_inputs || s->n->inputs[i] < 0)
        return NULL;
    return clv_graph_tensor(g, s->n->inputs[i]);
}
/* The tensor the step writes (s->out). */
static inline const clv_tensor *clv_engine__out_t(const clv_graph *g,
                                                  const clv_engine__step *s)
{
    return clv_graph_tensor(g, s->out);
}
/* Memory of input i in this run (NULL when absent). */
static inline const void *clv_engine__in(const clv_engine__exec *x,
                                         const clv_engine__step *s, int i)
{
    if (i >= s->n->n_inputs || s->n->inputs[i] < 0)
        return NULL;
    return x->ptr[s->n->inputs[i]];
}
/* Memory of the step's output (s->out) in this run. */
static inline void *clv_engine__out(const clv_engine__exec *x,
                                    const clv_engine__step *s)
{
    return x->ptr[s->out];
}
/* Memory of output i of the node itself (multi-output ops). */
static inline void *clv_engine__out_i(const clv_engine__exec *x,
                                      const clv_engine__step *s, int i)
{
    return x->ptr[s->n->outputs[i]];
}
/* The shared scratch, and thread tid's scratch, of the running step. */
static inline void *clv_engine__scratch(const clv_engine__exec *x)
{
    return x->scratch;
}
static inline void *clv_engine__scratch_t(const clv_engine__exec *x,
                                          int tid)
{
    return x->scratch + x->scratch_shared +
           (size_t)tid * x->scratch_thread;
}
/* Rounds up to CLV_ENGINE_ALIGN. */
static inline size_t clv_engine__align(size_t n)
{
    return (n + CLV_ENGINE_ALIGN - 1) / CLV_ENGINE_ALIGN * CLV_ENGINE_ALIGN;
}
/* Runs a parallel loop of the running step. */
static inline void clv_engine__parallel(const clv_engine__exec *x,
                                        int64_t n_tasks,
                                        clv_engine__task_fn fn, void *ctx)
{
    clv_engine__pool_run(x->pool, n_tasks, fn, ctx);
}

/* Splits [0, n) into pieces of at least `min_piece` and at most `max_n`
 * pieces (always >= 1), as a function of its arguments only. Writes the
 * piece length; returns the piece count. */
int64_t clv_engine__pieces(int64_t n, int64_t min_piece, int64_t max_n,
                           int64_t *piece);

/* ---- planners, one per op family (op_*.c) ------------------------------ */

int clv_engine__plan_conv(clv_engine__planner *p, clv_engine__step *s);
/* True when Conv nodes a and b can run as one product with their weights
 * stacked: 2-D, 1x1, unit strides, no padding, one group, the same input,
 * constant float32 weights (and bias): a 1x1 convolution sums over its
 * input channels in their order whichever AVX2 kernel runs it, so each
 * output value keeps the bits it has when the node runs alone. */
bool clv_engine__conv_joinable(const clv_graph *g, const clv_node *a,
                               const clv_node *b);
int clv_engine__plan_gemm(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_matmul(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_pool(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_globalpool(clv_engine__planner *p,
                                clv_engine__step *s);
int clv_engine__plan_batchnorm(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_lrn(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_act(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_prelu(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_softmax(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_binary(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_concat(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_copy(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_transpose(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_pad(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_resize(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_shape(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_gather(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_slice(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_split(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_cast(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_reduce(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_layernorm(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_reorg(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_region(clv_engine__planner *p, clv_engine__step *s);
int clv_engine__plan_yolo(clv_engine__planner *p, clv_engine__step *s);

/* The activation a node of an activation op computes (RELU, LEAKYRELU,
 * CLIP, SIGMOID, TANH, HARDSIGMOID, HARDSWISH); false for other ops. */
bool clv_engine__act_of(const clv_node *n, clv_engine__act *a);

#endif
