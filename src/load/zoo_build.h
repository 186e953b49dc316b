/*
 * The model zoo's graph builder (private to src/load/zoo*.c).
 *
 * A builder wraps a clv_graph under construction, the seeded generator the
 * weights are drawn from, and a sticky status: the first failing call
 * records its code and message, and every later call does nothing and
 * returns an invalid value, so that a network reads as a plain sequence of
 * layer calls and is checked once at the end (clv_zoo__finish).
 *
 * Every layer call takes the node's name as a printf format. The node's
 * output tensor gets the same name (node and tensor names are separate name
 * spaces), except the last layer's, which is named "output"; weights are
 * named "<node>.weight", "<node>.bias", "<node>.running_mean",
 * "<node>.running_var" as in a torchvision state_dict.
 *
 * The builder tracks every run-time tensor's shape itself (batch 1; NCHW or
 * N x features) to size the weights and to reject, with CLV_ERANGE and the
 * node's name, inputs too small for the network, before finalize runs its
 * own shape inference.
 */
#ifndef CLEAVE_LOAD_ZOO_BUILD_H
#define CLEAVE_LOAD_ZOO_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "cleave/graph.h"
#include "util/util.h"

/* Lets the compiler check a layer call's name format against its
 * arguments: the format is argument `f`, its values start at `a`. */
#if defined(__GNUC__)
#define CLV_ZOO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLV_ZOO_PRINTF(f, a)
#endif

/* A run-time tensor: its id (-1 after a failure) and tracked shape. For a
 * 2-D tensor (after Flatten), `c` holds the features and h = w = 1. */
typedef struct clv_zoo_val {
    int id;
    int ndim; /* 4 (1xCxHxW) or 2 (1xC) */
    int64_t c, h, w;
} clv_zoo_val;

typedef struct clv_zoo_builder {
    clv_graph *g;       /* owned until clv_zoo__finish hands it over */
    clv_rng rng;        /* the weights' generator */
    const char *model;  /* "resnet18", for messages (borrowed) */
    int64_t hw;         /* input size, for messages */
    int rc;             /* first failure (sticky), 0 while all went well */
    clv_error *err;     /* where the first failure's message goes (may be NULL) */
    bool last;          /* the next layer makes the graph output */
} clv_zoo_builder;

/* Starts a graph named `model` with opset 13, seeds the generator with
 * `seed` and adds the input "input" of shape 1 x c x hw x hw. Returns the
 * input value (id -1 and b->rc set on failure). */
clv_zoo_val clv_zoo__begin(clv_zoo_builder *b, const char *model,
                           uint64_t seed, int64_t c, int64_t hw,
                           clv_error *err);

/* Records a failure (when none is recorded yet) with a message prefixed by
 * "zoo: <model> at <hw>x<hw>: ". Returns b->rc. */
int clv_zoo__fail(clv_zoo_builder *b, int code, const char *fmt, ...)
    CLV_ZOO_PRINTF(3, 4);

/* Marks the next layer's output as the graph output "output". */
void clv_zoo__last(clv_zoo_builder *b);

/* Marks `y` as the graph output, finalizes the graph and checks that the
 * inferred output shape is the tracked one. On success hands the graph to
 * *out and returns 0; otherwise frees it, sets *out = NULL and returns the
 * first failure's code. */
int clv_zoo__finish(clv_zoo_builder *b, clv_zoo_val y, clv_graph **out);

/* The output extent of a window of size k, stride s, padding pb + pe over
 * n elements, floor or ceil rounding as ONNX defines it; 0 when the window
 * does not fit. */
int64_t clv_zoo__win_out(int64_t n, int64_t k, int64_t s, int64_t pb,
                         int64_t pe, bool ceil_mode);

/* Conv with a k x k kernel, stride s, symmetric padding p, `group` groups;
 * He-normal weights (std sqrt(2 / fan_in)); a bias (uniform +-0.01) when
 * `bias`. */
clv_zoo_val clv_zoo__conv(clv_zoo_builder *b, clv_zoo_val x, int64_t cout,
                          int64_t k, int64_t s, int64_t p, int64_t group,
                          bool bias, const char *fmt, ...)
    CLV_ZOO_PRINTF(9, 10);

/* BatchNormalization with scale U(0.8,1.2), bias U(-0.1,0.1), mean
 * U(-0.1,0.1), var U(0.5,1.5). */
clv_zoo_val clv_zoo__bn(clv_zoo_builder *b, clv_zoo_val x, float eps,
                        const char *fmt, ...)
    CLV_ZOO_PRINTF(4, 5);

/* Relu, Dropout, Flatten (axis 1), GlobalAveragePool. */
clv_zoo_val clv_zoo__unary(clv_zoo_builder *b, clv_op op, clv_zoo_val x,
                           const char *fmt, ...)
    CLV_ZOO_PRINTF(4, 5);

/* LeakyRelu with slope `alpha`. */
clv_zoo_val clv_zoo__leaky(clv_zoo_builder *b, clv_zoo_val x, float alpha,
                           const char *fmt, ...)
    CLV_ZOO_PRINTF(4, 5);

/* Clip to [lo, hi] (ReLU6 is Clip 0..6). */
clv_zoo_val clv_zoo__clip(clv_zoo_builder *b, clv_zoo_val x, float lo,
                          float hi, const char *fmt, ...)
    CLV_ZOO_PRINTF(5, 6);

/* MaxPool (op CLV_OP_MAXPOOL) or AveragePool (CLV_OP_AVERAGEPOOL) with a
 * k x k window, stride s, padding `pb` before and `pe` after in both
 * spatial dims, floor or ceil rounding. */
clv_zoo_val clv_zoo__pool(clv_zoo_builder *b, clv_op op, clv_zoo_val x,
                          int64_t k, int64_t s, int64_t pb, int64_t pe,
                          bool ceil_mode, const char *fmt, ...)
    CLV_ZOO_PRINTF(9, 10);

/* Add of two tensors of the same shape. */
clv_zoo_val clv_zoo__add(clv_zoo_builder *b, clv_zoo_val x, clv_zoo_val y,
                         const char *fmt, ...)
    CLV_ZOO_PRINTF(4, 5);

/* Concat of `n` 4-D tensors along the channels. */
clv_zoo_val clv_zoo__concat(clv_zoo_builder *b, int n, const clv_zoo_val *xs,
                            const char *fmt, ...)
    CLV_ZOO_PRINTF(4, 5);

/* Gemm of a 1 x in tensor with a weight of shape out x in (transB = 1, as
 * torch.nn.Linear) and a bias; He-normal weights, bias uniform +-0.01. */
clv_zoo_val clv_zoo__gemm(clv_zoo_builder *b, clv_zoo_val x, int64_t out,
                          const char *fmt, ...)
    CLV_ZOO_PRINTF(4, 5);

#endif
