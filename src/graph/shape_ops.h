/*
 * Private to shape inference (src/graph/shape*.c): the per-op infer
 * functions behind the dispatch table of shape.c, and the helpers they
 * share. Each infer function has the contract of clv_graph__infer_node()
 * (internal.h) for one op: check, canonicalise, set output shapes, set
 * node->flops. Not used by the rest of the graph module.
 */
#ifndef CLEAVE_GRAPH_SHAPE_OPS_H
#define CLEAVE_GRAPH_SHAPE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph/internal.h"

/* No inferred tensor may hold more elements than this (keeps every size and
 * FLOP product of the shape code far from int64/uint64 overflow). */
#define CLV_SHAPE_MAX_NUMEL ((int64_t)1 << 40)
/* Attribute values that size things (kernels, strides, pads, ...) must stay
 * below this, for the same reason. */
#define CLV_SHAPE_MAX_ATTR ((int64_t)1 << 31)

typedef int (*clv_graph__infer_fn)(clv_graph *g, int node, clv_error *err);

/* ---- helpers (shape.c) ------------------------------------------------- */

/* Input `i` of the node, or NULL when absent (beyond n_inputs or -1). */
clv_tensor *clv_graph__in(clv_graph *g, int node, int i);
/* Output `i` of the node, or NULL when absent. */
clv_tensor *clv_graph__out(clv_graph *g, int node, int i);

/* Checks that the node has between `min` and `max` inputs (max < 0: no
 * limit) and that the first `min` of them are present; CLV_EINVAL
 * otherwise. */
int clv_graph__need_inputs(clv_graph *g, int node, int min, int max,
                           clv_error *err);
/* The same for outputs (all outputs must be present). */
int clv_graph__need_outputs(clv_graph *g, int node, int min, int max,
                            clv_error *err);
/* Input `i` must be float32 (CLV_EUNSUPPORTED otherwise). */
int clv_graph__need_float(clv_graph *g, int node, int i, clv_error *err);
/* Input `i` must have a rank in [lo, hi] (CLV_ESHAPE otherwise). */
int clv_graph__need_rank(clv_graph *g, int node, int i, int lo, int hi,
                         clv_error *err);
/* Input `i` must be int32 or int64 (CLV_EINVAL otherwise). */
int clv_graph__need_index(clv_graph *g, int node, int i, clv_error *err);

/* Sets output `i` (skipped when absent) to dtype `dt` and the given shape.
 * Fails with CLV_ESHAPE (negative extent, rank over CLV_MAX_DIMS) or
 * CLV_ELIMIT (more than CLV_SHAPE_MAX_NUMEL elements). */
int clv_graph__set_out(clv_graph *g, int node, int i, clv_dtype dt,
                       int ndim, const int64_t *dims, clv_error *err);
/* Output `i` gets the dtype and shape of tensor `t`. */
int clv_graph__set_out_like(clv_graph *g, int node, int i,
                            const clv_tensor *t, clv_error *err);

/* Attribute readers. A missing attribute gives `def` (present = false); an
 * attribute of the wrong type is CLV_EFORMAT. `ints`/`floats` copy at most
 * `cap` values into `buf` (more is CLV_ERANGE) and set *n. A string pointer
 * stays valid until the node's attributes change. */
int clv_graph__attr_int(clv_graph *g, int node, const char *name,
                        int64_t def, int64_t *v, clv_error *err);
int clv_graph__attr_float(clv_graph *g, int node, const char *name,
                          float def, float *v, clv_error *err);
int clv_graph__attr_ints(clv_graph *g, int node, const char *name,
                         int64_t *buf, size_t cap, size_t *n, bool *present,
                         clv_error *err);
int clv_graph__attr_floats(clv_graph *g, int node, const char *name,
                           float *buf, size_t cap, size_t *n, bool *present,
                           clv_error *err);
int clv_graph__attr_string(clv_graph *g, int node, const char *name,
                           const char *def, const char **v, clv_error *err);

/* Attribute writers: clv_graph_set_* with CLV_ENOMEM reported in err. */
int clv_graph__put_int(clv_graph *g, int node, const char *name, int64_t v,
                       clv_error *err);
int clv_graph__put_float(clv_graph *g, int node, const char *name, float v,
                         clv_error *err);
int clv_graph__put_ints(clv_graph *g, int node, const char *name, size_t n,
                        const int64_t *v, clv_error *err);
int clv_graph__put_floats(clv_graph *g, int node, const char *name,
                          size_t n, const float *v, clv_error *err);
int clv_graph__put_string(clv_graph *g, int node, const char *name,
                          const char *v, clv_error *err);

/* Reads constant input `i` (int32 or int64, at most `cap` elements) into
 * `buf` as int64, setting *n. `what` names the input in messages
 * ("shape"). A non-constant input is CLV_EUNSUPPORTED ("node 'r': Reshape
 * needs a constant shape input"). */
int clv_graph__const_ints(clv_graph *g, int node, int i, const char *what,
                          int64_t *buf, size_t cap, size_t *n,
                          clv_error *err);
/* The same for a float32 (or float64) constant input, read as float. */
int clv_graph__const_floats(clv_graph *g, int node, int i, const char *what,
                            float *buf, size_t cap, size_t *n,
                            clv_error *err);

/* Makes `*axis` (attribute `what`) non-negative for a tensor of rank
 * `rank`: valid values are [-rank, rank-1] (or [-rank, rank] with
 * `inclusive`); CLV_ERANGE otherwise. */
int clv_graph__norm_axis(clv_graph *g, int node, const char *what,
                         int64_t *axis, int rank, bool inclusive,
                         clv_error *err);

/* Keeps only the first `keep` inputs of the node. */
void clv_graph__keep_inputs(clv_graph *g, int node, int keep);

/* Outputs `first`.. of the node are optional extras (BatchNormalization's
 * running statistics, MaxPool's Indices, Dropout's mask) that cleave does
 * not compute: CLV_EUNSUPPORTED when one is read by a node or is a graph
 * output. */
int clv_graph__extras_unused(clv_graph *g, int node, int first,
                             const char *what, clv_error *err);

/* Elements of a known shape. */
int64_t clv_graph__numel(int ndim, const int64_t *dims);
/* a*b saturating at UINT64_MAX. */
uint64_t clv_graph__mul_sat(uint64_t a, uint64_t b);
/* Writes "1x3x224x224" ("scalar" for rank 0) for a shape. */
void clv_graph__dims_str(int ndim, const int64_t *dims, char *buf,
                         size_t len);
/* The name of input i for messages ("?" when absent). */
const char *clv_graph__in_name(clv_graph *g, int node, int i);
/* Multidirectional (numpy) broadcast of two shapes into out/out_ndim;
 * false when they do not broadcast. */
bool clv_graph__broadcast(int na, const int64_t *a, int nb,
                          const int64_t *b, int *out_ndim, int64_t *out);

/* ---- the per-op functions --------------------------------------------- */

/* shape_nn.c: convolution, pooling, dense, normalisation, activations,
 * darknet heads. */
int clv_graph__infer_conv(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_gemm(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_matmul(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_maxpool(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_averagepool(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_globalpool(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_batchnorm(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_unary(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_leakyrelu(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_prelu(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_clip(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_hardsigmoid(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_softmax(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_lrn(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_reorg(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_region(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_yolo(clv_graph *g, int node, clv_error *err);

/* shape_tensor.c: element-wise arithmetic and data movement. */
int clv_graph__infer_binary(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_concat(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_flatten(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_reshape(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_transpose(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_dropout(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_identity(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_pad(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_resize(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_shape(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_gather(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_unsqueeze(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_squeeze(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_reduce(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_layernorm(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_slice(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_split(clv_graph *g, int node, clv_error *err);
int clv_graph__infer_cast(clv_graph *g, int node, clv_error *err);

#endif
