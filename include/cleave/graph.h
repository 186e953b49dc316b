/*
 * cleave — the DNN graph.
 *
 * A graph is a DAG of nodes (layers) joined by tensors. Each tensor has one
 * producer (a node, or nobody for graph inputs and constants) and any number
 * of consumers. Constant tensors (weights, folded shapes) carry their data.
 *
 * Life cycle:
 *   1. clv_graph_create(), then add tensors, nodes and attributes in any
 *      order (loaders and the model zoo do this);
 *   2. clv_graph_finalize(): checks references, sorts the nodes
 *      topologically (node index == topological position afterwards), folds
 *      constant sub-graphs (Shape/Gather/Unsqueeze/... chains), puts every
 *      node's attributes in the canonical form documented at CLV_OP_MAP,
 *      infers every tensor's shape and computes each node's FLOPs and output
 *      bytes. Errors name the node and what is wrong.
 *   3. read it with the const accessors below. A finalized graph is not
 *      changed by any function of libcleave, so several threads may read it.
 *
 * The graph does no I/O and executes nothing (folding constants aside).
 */
#ifndef CLEAVE_GRAPH_H
#define CLEAVE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLV_MAX_DIMS 8

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum clv_dtype {
    CLV_DT_UNDEFINED = 0,
    CLV_DT_FLOAT = 1,
    CLV_DT_UINT8 = 2,
    CLV_DT_INT8 = 3,
    CLV_DT_INT32 = 6,
    CLV_DT_INT64 = 7,
    CLV_DT_BOOL = 9,
    CLV_DT_DOUBLE = 11
} clv_dtype;

/* Bytes per element of `dt`; 0 for CLV_DT_UNDEFINED or an unknown value. */
size_t clv_dtype_size(clv_dtype dt);
/* "float32", "int64", ...; "undefined" for unknown values. */
const char *clv_dtype_name(clv_dtype dt);

/*
 * The operators: X(enum suffix, ONNX name). Attribute names are ONNX's.
 * After clv_graph_finalize() every attribute a node's op reads is present
 * with an explicit value (defaults filled in, negative axes made
 * non-negative), and inputs that later opsets pass as constant tensors are
 * moved into attributes, so that an op has one form whatever its opset:
 *
 *  CONV        in X, W[, B]. kernel_shape, strides, pads (begins then ends),
 *              dilations, group. auto_pad is resolved into pads and removed.
 *  GEMM        in A, B[, C]. alpha, beta, transA, transB.
 *  MATMUL      in A, B (numpy matmul broadcasting).
 *  MAXPOOL     in X. kernel_shape, strides, pads, dilations, ceil_mode.
 *              Padding reads as -inf. Only output 0 (Indices unsupported).
 *  AVERAGEPOOL in X. kernel_shape, strides, pads, ceil_mode,
 *              count_include_pad.
 *  GLOBALAVERAGEPOOL, GLOBALMAXPOOL  in X (N,C,...) -> (N,C,1,...).
 *  BATCHNORM   in X, scale, B, mean, var. epsilon. Inference form only.
 *  RELU, SIGMOID, TANH, HARDSWISH, IDENTITY   in X.
 *  LEAKYRELU   alpha.                 HARDSIGMOID alpha, beta.
 *  PRELU       in X, slope (slope broadcasts to X).
 *  CLIP        min, max (floats; -inf/+inf when absent; opset >= 11 inputs
 *              become these attributes).
 *  SOFTMAX     axis; legacy (1 when opset < 13: the input is seen as a 2-D
 *              matrix [prod(dims[0:axis]), prod(dims[axis:])]).
 *  LRN         alpha, beta, bias, size.
 *  ADD, SUB, MUL, DIV   in A, B, numpy broadcasting.
 *  CONCAT      axis.                 FLATTEN  axis.
 *  RESHAPE     shape (ints, from the constant input 1; may hold 0 and -1 as
 *              ONNX defines), allowzero. The output tensor holds the result.
 *  TRANSPOSE   perm.
 *  DROPOUT     in X (ratio and training_mode dropped; inference no-op).
 *  PAD         mode ("constant", "reflect", "edge"), pads (2*rank ints),
 *              value (float).
 *  RESIZE      in X. mode ("nearest"), coordinate_transformation_mode,
 *              nearest_mode, scales (floats, one per dim). Upsample loads as
 *              Resize with "asymmetric" and nearest_mode "floor".
 *  SHAPE       start, end.           GATHER   in data, indices. axis.
 *  UNSQUEEZE, SQUEEZE  axes (sorted, non-negative).
 *  SLICE       starts, ends, axes, steps (one entry per sliced axis),
 *              clamped as ONNX defines: with a negative step an end of -1
 *              means "before index 0"; a step larger than the extent is
 *              stored as the extent (same result).
 *  SPLIT       axis, split (the size of every output).
 *  LAYERNORM   axis (non-negative: the first normalized dim), epsilon;
 *              outputs Y and optionally Mean and InvStdDev.
 *  REDUCEMEAN, REDUCESUM, REDUCEMAX
 *              axes (sorted, non-negative; every axis when the model gave
 *              none, none with noop_with_empty_axes; ReduceSum's axes
 *              input, a constant, becomes this attribute), keepdims (0 or
 *              1).
 *  CAST        to (a clv_dtype value).
 *  REORG       stride (darknet's reorg layer, as darknet computes it).
 *  REGION      classes, coords, num, anchors, softmax, background (darknet
 *              [region]; output).
 *  YOLO        classes, num, mask, anchors (darknet [yolo]; output).
 */
#define CLV_OP_MAP(X)                        \
    X(CONV, "Conv")                          \
    X(GEMM, "Gemm")                          \
    X(MATMUL, "MatMul")                      \
    X(MAXPOOL, "MaxPool")                    \
    X(AVERAGEPOOL, "AveragePool")            \
    X(GLOBALAVERAGEPOOL, "GlobalAveragePool") \
    X(GLOBALMAXPOOL, "GlobalMaxPool")        \
    X(BATCHNORM, "BatchNormalization")       \
    X(RELU, "Relu")                          \
    X(LEAKYRELU, "LeakyRelu")                \
    X(PRELU, "PRelu")                        \
    X(SIGMOID, "Sigmoid")                    \
    X(TANH, "Tanh")                          \
    X(CLIP, "Clip")                          \
    X(HARDSIGMOID, "HardSigmoid")            \
    X(HARDSWISH, "HardSwish")                \
    X(SQRT, "Sqrt")                          \
    X(EXP, "Exp")                            \
    X(NEG, "Neg")                            \
    X(RECIPROCAL, "Reciprocal")              \
    X(ERF, "Erf")                            \
    X(REDUCEMEAN, "ReduceMean")              \
    X(REDUCESUM, "ReduceSum")                \
    X(REDUCEMAX, "ReduceMax")                \
    X(LAYERNORM, "LayerNormalization")       \
    X(SOFTMAX, "Softmax")                    \
    X(LRN, "LRN")                            \
    X(ADD, "Add")                            \
    X(SUB, "Sub")                            \
    X(MUL, "Mul")                            \
    X(DIV, "Div")                            \
    X(POW, "Pow")                            \
    X(CONCAT, "Concat")                      \
    X(FLATTEN, "Flatten")                    \
    X(RESHAPE, "Reshape")                    \
    X(TRANSPOSE, "Transpose")                \
    X(DROPOUT, "Dropout")                    \
    X(IDENTITY, "Identity")                  \
    X(PAD, "Pad")                            \
    X(RESIZE, "Resize")                      \
    X(SHAPE, "Shape")                        \
    X(GATHER, "Gather")                      \
    X(UNSQUEEZE, "Unsqueeze")                \
    X(SQUEEZE, "Squeeze")                    \
    X(SLICE, "Slice")                        \
    X(SPLIT, "Split")                        \
    X(CAST, "Cast")                          \
    X(REORG, "Reorg")                        \
    X(REGION, "Region")                      \
    X(YOLO, "Yolo")

typedef enum clv_op {
#define CLV__OP_ENUM(id, name) CLV_OP_##id,
    CLV_OP_MAP(CLV__OP_ENUM)
#undef CLV__OP_ENUM
    CLV_OP_COUNT
} clv_op;

/* The ONNX name of `op` ("Conv"); "?" when out of range. */
const char *clv_op_name(clv_op op);
/* Looks up an ONNX op name (case-sensitive). Returns 0 and sets *op, or
 * CLV_ENOTFOUND. "Upsample" maps to CLV_OP_RESIZE, "Constant" is not an op
 * (loaders turn Constant nodes into constant tensors). */
int clv_op_from_name(const char *name, clv_op *op);

typedef enum clv_attr_type {
    CLV_ATTR_INT,
    CLV_ATTR_FLOAT,
    CLV_ATTR_INTS,
    CLV_ATTR_FLOATS,
    CLV_ATTR_STRING
} clv_attr_type;

/* One attribute; owned by its node. `n` counts the elements of ints/floats. */
typedef struct clv_attr {
    char *name;
    clv_attr_type type;
    int64_t i;
    float f;
    size_t n;
    int64_t *ints;
    float *floats;
    char *s;
} clv_attr;

/* A node. Read-only for users of a finalized graph; owned by the graph. */
typedef struct clv_node {
    char *name;       /* unique within the graph */
    clv_op op;
    int n_inputs;
    int *inputs;      /* tensor ids; -1 marks an absent optional input */
    int n_outputs;
    int *outputs;     /* tensor ids */
    int n_attrs;
    clv_attr *attrs;
    /* Filled by clv_graph_finalize(): */
    uint64_t flops;       /* floating-point operations, a multiply-add = 2 */
    uint64_t out_bytes;   /* bytes of all outputs */
    uint64_t param_bytes; /* bytes of the constant inputs (weights) */
} clv_node;

/* Tensor flags. */
#define CLV_TENSOR_INPUT 1u  /* a graph input fed at run time */
#define CLV_TENSOR_OUTPUT 2u /* a graph output */
#define CLV_TENSOR_CONST 4u  /* has data: an initializer or a folded value */

/* A tensor. Read-only for users of a finalized graph; owned by the graph. */
typedef struct clv_tensor {
    char *name;     /* unique within the graph */
    clv_dtype dtype;
    int ndim;       /* -1 while unknown (before finalize) */
    int64_t dims[CLV_MAX_DIMS]; /* -1 for an unknown extent before finalize */
    void *data;     /* the contents of a constant, NULL otherwise */
    unsigned flags; /* CLV_TENSOR_* */
    int producer;   /* node index, or -1 for inputs and constants */
    int n_consumers;
    int *consumers; /* node indices, ascending, each once */
} clv_tensor;

typedef struct clv_graph clv_graph;

/* ---- building ---------------------------------------------------------- */

/* A new, empty graph, or NULL when out of memory. Free with clv_graph_free. */
clv_graph *clv_graph_create(void);
/* Frees the graph and everything it owns. Accepts NULL. */
void clv_graph_free(clv_graph *g);

/* Sets the graph's name (copied). Returns 0 or CLV_ENOMEM. */
int clv_graph_set_name(clv_graph *g, const char *name);
/* Sets the default-domain opset the nodes were written for (loaders set it
 * from the model; finalize reads it for version-dependent semantics).
 * Defaults to 13. */
void clv_graph_set_opset(clv_graph *g, int opset);

/* Adds a tensor named `name` (copied; must be unique and non-empty) of type
 * `dt`. `ndim` = -1 means the shape is unknown (finalize infers it);
 * otherwise `dims` holds `ndim` extents (-1 for unknown ones). On success
 * writes the new tensor's id to *id (may be NULL) and returns 0; fails with
 * CLV_EINVAL (duplicate or empty name, ndim > CLV_MAX_DIMS) or CLV_ENOMEM,
 * with a message in `err`. */
int clv_graph_add_tensor(clv_graph *g, const char *name, clv_dtype dt,
                         int ndim, const int64_t *dims, int *id,
                         clv_error *err);

/* The id of the tensor named `name`, or -1. */
int clv_graph_find_tensor(const clv_graph *g, const char *name);

/* Makes tensor `t` a constant and gives it zero-filled storage for its
 * elements (its dtype and all dims must be known), returned in *data, which
 * stays owned by the graph and valid until clv_graph_free. Returns 0,
 * CLV_EINVAL (unknown shape, bad id), CLV_ELIMIT (over 4 GiB) or
 * CLV_ENOMEM. */
int clv_graph_alloc_data(clv_graph *g, int t, void **data, clv_error *err);

/* Marks tensor `t` as a graph input fed at run time, or as a graph output.
 * Returns 0 or CLV_EINVAL for a bad id. */
int clv_graph_mark_input(clv_graph *g, int t);
int clv_graph_mark_output(clv_graph *g, int t);

/* Adds a node. `name` (copied) may be NULL or empty, in which case a unique
 * name "<Op>_<n>" is made; a duplicate name gets a "_<n>" suffix. Inputs
 * and outputs are tensor ids (input -1 = absent optional input); a tensor
 * may be the output of one node only. Writes the node's index to *id (may be
 * NULL). Fails with CLV_EINVAL (bad id, second producer) or CLV_ENOMEM. */
int clv_graph_add_node(clv_graph *g, const char *name, clv_op op, int n_in,
                       const int *inputs, int n_out, const int *outputs,
                       int *id, clv_error *err);

/* Sets (adds or replaces) an attribute of node `node`. Arrays and strings
 * are copied. Return 0, CLV_EINVAL for a bad node index, or CLV_ENOMEM. */
int clv_graph_set_int(clv_graph *g, int node, const char *name, int64_t v);
int clv_graph_set_float(clv_graph *g, int node, const char *name, float v);
int clv_graph_set_ints(clv_graph *g, int node, const char *name,
                       size_t n, const int64_t *v);
int clv_graph_set_floats(clv_graph *g, int node, const char *name,
                         size_t n, const float *v);
int clv_graph_set_string(clv_graph *g, int node, const char *name,
                         const char *v);
/* Removes an attribute if present. */
void clv_graph_unset(clv_graph *g, int node, const char *name);

/* Checks and completes the graph as described at the top of this file.
 * Returns 0; or CLV_EINVAL (no inputs, no outputs, a dangling tensor),
 * CLV_ECYCLE, CLV_ESHAPE, CLV_ERANGE (an attribute out of range),
 * CLV_EUNSUPPORTED (an op form cleave cannot run) or CLV_ENOMEM, with a
 * message naming the node. On failure the graph may be half-changed: free
 * it. Calling it on a finalized graph returns CLV_EINVAL. */
int clv_graph_finalize(clv_graph *g, clv_error *err);

/* ---- reading ----------------------------------------------------------- */

const char *clv_graph_name(const clv_graph *g); /* never NULL */
int clv_graph_opset(const clv_graph *g);
bool clv_graph_is_finalized(const clv_graph *g);

int clv_graph_n_nodes(const clv_graph *g);
/* Node `i` (0 <= i < n_nodes), borrowed from the graph; NULL if out of
 * range. After finalize, nodes are in topological order. */
const clv_node *clv_graph_node(const clv_graph *g, int i);
int clv_graph_n_tensors(const clv_graph *g);
const clv_tensor *clv_graph_tensor(const clv_graph *g, int i);

/* Graph inputs fed at run time (constants excluded) and graph outputs, as
 * tensor ids in the order the model declares them. */
int clv_graph_n_inputs(const clv_graph *g);
int clv_graph_input(const clv_graph *g, int i);
int clv_graph_n_outputs(const clv_graph *g);
int clv_graph_output(const clv_graph *g, int i);

/* Number of elements of `t` (1 for a scalar), -1 if a dim is unknown. */
int64_t clv_tensor_numel(const clv_tensor *t);
/* numel * dtype size, 0 if unknown. */
uint64_t clv_tensor_bytes(const clv_tensor *t);
/* Writes the shape as "1x3x224x224" ("scalar" for rank 0) into buf. */
void clv_tensor_shape_str(const clv_tensor *t, char *buf, size_t len);

/* Attribute lookup on a node; NULL/def when absent or of another type. */
const clv_attr *clv_node_attr(const clv_node *n, const char *name);
int64_t clv_node_int(const clv_node *n, const char *name, int64_t def);
float clv_node_float(const clv_node *n, const char *name, float def);
/* The array and its length in *count (may be NULL); NULL when absent. */
const int64_t *clv_node_ints(const clv_node *n, const char *name,
                             size_t *count);
const float *clv_node_floats(const clv_node *n, const char *name,
                             size_t *count);
const char *clv_node_string(const clv_node *n, const char *name,
                            const char *def);

/* ---- structure --------------------------------------------------------- */

/* For each position i of a finalized graph, the number of run-time tensors
 * that would cross a single cut placed after node i (nodes 0..i on one
 * side, i+1..n-1 on the other): non-constant tensors made by nodes 0..i or
 * fed as graph inputs and read by a node after i. A single cut is valid
 * where exactly one tensor crosses (the AdaptiveDNN paper's blocks: a cut
 * never splits parallel branches). `crossing` has clv_graph_n_nodes()
 * entries; the last is always 0. Returns 0 or CLV_EINVAL (not finalized). */
int clv_graph_crossing(const clv_graph *g, int *crossing);

/* True when the finalized graph is a chain: every node reads at most one
 * run-time tensor and every run-time tensor has at most one consumer. */
bool clv_graph_is_chain(const clv_graph *g);

/* Sum of all nodes' flops. */
uint64_t clv_graph_total_flops(const clv_graph *g);
/* Sum of the bytes of the constant tensors that nodes read (the weights). */
uint64_t clv_graph_param_bytes(const clv_graph *g);

/* ---- partitions -------------------------------------------------------- */

/*
 * A PARTITION of a finalized graph puts each node on the edge or on the
 * cloud so that no cloud node feeds an edge node (the edge part is closed
 * under predecessors). It is cleave's one description of a split: a plan
 * carries one, the runtime keys its engines by one, a PLAN message is one
 * on the wire. Node numbers are the graph's. What crosses the link:
 *   send  the run-time tensors that cloud nodes read and that edge nodes
 *         make or that are graph inputs: the cut tensors (plus the raw
 *         input when a cloud node reads it), each once, in the order the
 *         cloud nodes (topologically) first read them; a FRAME carries
 *         them in this order;
 *   ret   the graph outputs that cloud nodes make, in graph output order:
 *         what a RESULT returns.
 * An all-edge partition sends and returns nothing; an all-cloud one sends
 * the graph inputs.
 *
 * Initialise with clv_partition_init(); clv_partition_make() and friends
 * (re)fill it; clv_partition_release() frees its arrays and initialises
 * it again. All arrays are owned by the partition.
 */
typedef struct clv_partition {
    int n_nodes;            /* the graph's nodes (0: empty) */
    unsigned char *on_edge; /* n_nodes flags: 1 = edge, 0 = cloud */
    int n_edge, n_cloud;
    int *edge_nodes;        /* graph node indices, ascending */
    int *cloud_nodes;       /* graph node indices, ascending */
    int n_send;
    int *send;              /* tensor ids the edge sends per frame */
    int n_ret;
    int *ret;               /* tensor ids the cloud returns */
    uint64_t send_bytes;    /* sum of clv_tensor_bytes() over send */
} clv_partition;

void clv_partition_init(clv_partition *p);
/* Frees the arrays and initialises *p again. Accepts NULL. */
void clv_partition_release(clv_partition *p);

/*
 * Fills `out` with the partition of the finalized graph `g` whose edge
 * nodes are those with on_edge[i] != 0 (clv_graph_n_nodes(g) flags,
 * borrowed). Fails with CLV_EINVAL when g is not finalized or when a
 * cloud node feeds an edge node (the message names both: "node 'fc' runs
 * on the cloud but feeds 'relu' on the edge"), or CLV_ENOMEM; `out` is
 * then empty.
 */
int clv_partition_make(const clv_graph *g, const unsigned char *on_edge,
                       clv_partition *out, clv_error *err);

/* As clv_partition_make, from the list of cloud nodes (`n` graph node
 * indices, any order; as a PLAN message names them). An index out of
 * range or given twice is CLV_EINVAL naming it. */
int clv_partition_from_cloud(const clv_graph *g, const int *cloud, int n,
                             clv_partition *out, clv_error *err);

/* A copy of `src` into `dst` (released first). 0 or CLV_ENOMEM (dst is
 * then empty). */
int clv_partition_copy(clv_partition *dst, const clv_partition *src,
                       clv_error *err);

/* True when both put the same nodes on the edge. */
bool clv_partition_equal(const clv_partition *a, const clv_partition *b);

/* A short text naming the partition's cut for people: up to three edge
 * nodes whose outputs cross, joined by '+', and "+N" for the others
 * ("conv3+relu5+2"); "(input)" when only graph inputs cross, "(all
 * edge)" when nothing crosses. Always NUL-terminated within `len`. */
void clv_partition_cut_text(const clv_graph *g, const clv_partition *p,
                            char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
