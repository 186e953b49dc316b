/*
 * cleave — the CPU engine: runs any set of nodes of a finalized graph.
 *
 * An engine (clv_engine) is made once for a graph and a set of its nodes
 * and then run once per frame:
 *
 *     clv_engine *e;
 *     clv_error err = {0};
 *     if (clv_engine_create(g, NULL, 0, NULL, &e, &err))   // all nodes
 *         ...report clv_error_text(&err, rc)...
 *     const void *in[] = {image};          // one buffer per engine input
 *     void *out[] = {scores};              // one buffer per engine output
 *     rc = clv_engine_run(e, in, out, &err);
 *     clv_engine_free(e);
 *
 * The interface. The nodes given to clv_engine_create() are a subset S of
 * the graph's nodes. Its inputs are the run-time tensors that nodes of S
 * read but that no node of S makes (graph inputs, or tensors made by nodes
 * outside S); its outputs are the tensors that nodes of S make and that a
 * node outside S reads or that are graph outputs. Constant tensors
 * (weights) are read from the graph and are never part of the interface.
 * For a partition of the graph into an edge part E (closed under
 * predecessors: every producer of a tensor a node of E reads is in E) and a
 * cloud part C (the rest), the outputs of E are the cut tensors plus any
 * graph outputs made on the edge, and the inputs of C are the cut tensors
 * plus any graph inputs C reads. Running E and then C gives outputs
 * bit-identical to running the whole graph at once, for any such
 * partition and any thread count: every kernel computes each value the
 * same way whatever set of nodes or number of threads it runs with, and
 * fusion (below) only joins computations whose results are exactly equal
 * to running them apart.
 *
 * Execution. At create time the engine parses each node's attributes once
 * into an op-specific plan and chooses its kernel; fuses a convolution
 * with a following BatchNormalization and/or activation, and a Gemm, Add,
 * Sub, Mul or Div with a following activation, when the tensor between
 * them has that single consumer inside S and is not a graph output (the
 * fused kernel computes each value with the same operations, in the same
 * order, as the nodes run apart); lets Identity, Dropout, Reshape, Flatten,
 * Squeeze and Unsqueeze
 * share their input's memory where that is safe; and plans one arena for
 * every intermediate tensor and scratch buffer (im2col columns) from the
 * tensors' lifetimes in topological order. The arena is allocated once:
 * clv_engine_run() allocates nothing.
 *
 * Threads. options.threads = N runs each kernel's work, cut into pieces
 * that depend only on the tensor shapes, on N threads of the engine's own
 * (N - 1 workers plus the caller). Matrix products go to OpenBLAS's sgemm
 * one piece at a time with OpenBLAS itself single-threaded, so the results
 * do not depend on N. Limitation: OpenBLAS's thread count is process-wide
 * state of OpenBLAS; clv_engine_create() sets it to 1 (it restores
 * nothing), and other code in the same process that wants OpenBLAS's own
 * threads must set it back.
 *
 * Data. Tensors are dense, row-major (NCHW for images), of the graph
 * tensor's dtype: float32 for every tensor of an image network; int64 or
 * int32 for index tensors (Gather indices), and any dtype for the
 * data-movement ops. A buffer for tensor t holds exactly
 * clv_tensor_bytes(t) bytes.
 *
 * Threading of callers: one engine runs one frame at a time (it owns one
 * arena). Several engines, on the same graph or not, may run at the same
 * time on different threads; the graph is only read.
 */
#ifndef CLEAVE_ENGINE_H
#define CLEAVE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"
#include "cleave/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest thread count an engine accepts. */
#define CLV_ENGINE_MAX_THREADS 64

/* Options of clv_engine_create(). A zero-initialised struct (or a NULL
 * pointer) gives the defaults. */
typedef struct clv_engine_options {
    /* Threads that run the kernels, the caller's included: 1 to
     * CLV_ENGINE_MAX_THREADS; 0 means 1. Results do not depend on it. */
    int threads;
    /* true: run every node as its own kernel, without fusing convolutions
     * with the normalisation and activation after them (per-node timing
     * needs this; the results are the same bits). */
    bool no_fuse;
    /* A store the engine shares packed weights through (borrowed; it must
     * outlive the engine): engines made with one store hold one copy of
     * each distinct packed weight array, however many of them run the
     * same nodes. NULL: the engine keeps its own. */
    struct clv_engine_weights *shared;
} clv_engine_options;

typedef struct clv_engine clv_engine;

/* A thread-safe store of packed weights shared by engines (see
 * clv_engine_options.shared): arrays are matched by content, counted by
 * the engines using them and freed with the last one. */
typedef struct clv_engine_weights clv_engine_weights;

/* A new empty store, or NULL when out of memory. */
clv_engine_weights *clv_engine_weights_create(void);
/* Frees the store; every engine that used it must be freed first.
 * Accepts NULL. */
void clv_engine_weights_free(clv_engine_weights *w);
/* Bytes of packed weights the store holds now. */
uint64_t clv_engine_weights_bytes(clv_engine_weights *w);

/*
 * Makes an engine that runs nodes `nodes[0..n_nodes-1]` (node indices of
 * the finalized graph `g`, in any order, each at most once), or every node
 * of `g` when `nodes` is NULL. `opt` may be NULL for the defaults.
 *
 * With nodes == NULL the engine's inputs are exactly the graph's inputs and
 * its outputs exactly the graph's outputs, in the graph's order (a graph
 * output that is a graph input or a constant is copied). With a node list,
 * the inputs are listed in the order nodes of the subset first read them
 * (in topological order) and the outputs in the order the subset makes
 * them; use clv_engine_input()/clv_engine_output() or
 * clv_engine_find_input()/clv_engine_find_output() to match buffers to
 * tensors. An empty subset (n_nodes == 0) is valid and does nothing.
 *
 * `g` is borrowed: it must stay alive and unchanged until
 * clv_engine_free(); the engine reads its constant tensors in place. On
 * success *out holds a new engine that the caller frees with
 * clv_engine_free(). On failure *out is NULL and the function returns
 * CLV_EINVAL (g not finalized, a node index out of range or repeated, bad
 * options), CLV_EUNSUPPORTED (an op, dtype or attribute form the engine
 * cannot run; the message names the node), CLV_ELIMIT (the arena would be
 * larger than the address space allows) or CLV_ENOMEM, with a message in
 * `err`.
 */
int clv_engine_create(const clv_graph *g, const int *nodes, int n_nodes,
                      const clv_engine_options *opt, clv_engine **out,
                      clv_error *err);

/* Frees the engine, its arena, plans and worker threads. Accepts NULL. */
void clv_engine_free(clv_engine *e);

/* The graph the engine runs (borrowed from the caller of create). */
const clv_graph *clv_engine_graph(const clv_engine *e);

/* The engine's inputs and outputs: counts, and the tensor id of entry i
 * (-1 when i is out of range). */
int clv_engine_n_inputs(const clv_engine *e);
int clv_engine_input(const clv_engine *e, int i);
int clv_engine_n_outputs(const clv_engine *e);
int clv_engine_output(const clv_engine *e, int i);

/* The position of tensor `tensor` among the engine's inputs (outputs), or
 * -1 when it is not one. */
int clv_engine_find_input(const clv_engine *e, int tensor);
int clv_engine_find_output(const clv_engine *e, int tensor);

/* The nodes the engine runs, in execution (topological) order: their
 * count, and the graph node index of position i (-1 when out of range). */
int clv_engine_n_nodes(const clv_engine *e);
int clv_engine_node(const clv_engine *e, int i);

/* The position whose kernel computes position i: i itself, or, for a node
 * fused into the convolution (Gemm, Add, ...) before it, that node's
 * position; a 1x1 convolution joined with an earlier sibling that reads
 * the same tensor (one product, AVX2 only, see docs/engine.md) gives the
 * first sibling's position.
 * -1 when i is out of range. */
int clv_engine_fused_into(const clv_engine *e, int i);

/* Bytes of the engine's arena (intermediate tensors and scratch). */
size_t clv_engine_arena_bytes(const clv_engine *e);

/* Bytes the engine holds for itself: its arena and its plans, with the
 * packed weights it does not share through a store. */
size_t clv_engine_own_bytes(const clv_engine *e);

/* The number of threads the engine runs kernels on. */
int clv_engine_threads(const clv_engine *e);

/*
 * Runs the engine once. `inputs[i]` is the caller's buffer for
 * clv_engine_input(e, i) and `outputs[i]` for clv_engine_output(e, i), each
 * of clv_tensor_bytes() bytes of that tensor; both arrays are borrowed for
 * the call. Output buffers must not overlap each other or any input. The
 * input buffers are only read. Arrays may be NULL when the engine has no
 * inputs (outputs).
 *
 * Returns 0; CLV_EINVAL (a NULL buffer for an input or output), or
 * CLV_ERANGE when the data is invalid for an op (a Gather index out of
 * range, an integer division by zero), with a message naming the node.
 * After a failure the contents of the output buffers are unspecified.
 */
int clv_engine_run(clv_engine *e, const void *const *inputs,
                   void *const *outputs, clv_error *err);

/*
 * As clv_engine_run(), and also measures each node: `seconds` (may be
 * NULL) receives clv_engine_n_nodes(e) entries, entry i the wall-clock
 * time of the kernel of position i. A node fused into an earlier one gets
 * 0 (its work is timed with the node it was fused into; so do joined 1x1
 * siblings, whose product is timed with the first); create the engine
 * with options.no_fuse for one time per node.
 */
int clv_engine_run_timed(clv_engine *e, const void *const *inputs,
                         void *const *outputs, double *seconds,
                         clv_error *err);

#ifdef __cplusplus
}
#endif
#endif
