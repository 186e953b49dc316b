/*
 * Internals of the graph module, shared by its files (graph.c: storage,
 * building, finalize, structure queries; shape.c: per-op canonical form,
 * shape inference and FLOPs; fold.c: evaluation of constant nodes).
 * Not installed; other modules use include/cleave/graph.h only.
 */
#ifndef CLEAVE_GRAPH_INTERNAL_H
#define CLEAVE_GRAPH_INTERNAL_H

#include <stdbool.h>

#include "cleave/graph.h"

struct clv_graph {
    char *name;
    int opset;
    bool finalized;

    clv_node *nodes;
    int n_nodes, cap_nodes;
    clv_tensor *tensors;
    int n_tensors, cap_tensors;

    int *inputs; /* tensor ids marked CLV_TENSOR_INPUT, in marking order */
    int n_inputs, cap_inputs;
    int *outputs; /* tensor ids marked CLV_TENSOR_OUTPUT */
    int n_outputs, cap_outputs;

    /* Open-addressing hash of tensor names -> id (+1; 0 = empty slot), and
     * of node names -> index (+1). Capacities are powers of two. */
    int *tensor_hash;
    size_t tensor_hash_cap;
    int *node_hash;
    size_t node_hash_cap;
    int auto_names; /* counter for generated node names */
};

/*
 * Called by clv_graph_finalize() for node `node`, in topological order, once
 * the dtype and shape of every one of its inputs is known (and, for
 * constant inputs, their data). It
 *   - checks the node's input count and attribute values, with errors like
 *     "node 'conv3': Conv with group=3 does not divide 64 input channels";
 *   - puts the node in the canonical form of graph.h (explicit attributes,
 *     constant inputs of later opsets moved into attributes and removed from
 *     node->inputs, auto_pad resolved, Upsample semantics, ...), using
 *     clv_graph_set_* and editing node->inputs / node->n_inputs;
 *   - sets every output tensor's dtype, ndim and dims;
 *   - sets node->flops (a multiply-add counts 2).
 * Returns 0 or a CLV_E* code with a message in err. */
int clv_graph__infer_node(clv_graph *g, int node, clv_error *err);

/*
 * Called right after clv_graph__infer_node() succeeded for a node whose
 * present inputs are all constant (CLV_TENSOR_CONST). If the op can be
 * evaluated at load time (Shape, Gather, Unsqueeze, Squeeze, Slice, Split,
 * Cast, Concat, Reshape, Flatten, Identity, Add, Sub, Mul, Div on int64 /
 * int32 / float data of modest size), computes its outputs into constant
 * tensors (clv_graph_alloc_data) and sets *folded = true; finalize then
 * drops the node. Otherwise leaves *folded = false and returns 0.
 * Shape nodes are folded whenever their input's shape is known, constant or
 * not (finalize calls this for them too). */
int clv_graph__fold_node(clv_graph *g, int node, bool *folded,
                         clv_error *err);

/* Error helper: formats "node '<name>': " + message. */
int clv_graph__node_error(const clv_graph *g, int node, clv_error *err,
                          int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

#endif
