/*
 * Internals of the runtime module (not installed).
 */
#ifndef CLEAVE_RUNTIME_INTERNAL_H
#define CLEAVE_RUNTIME_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "cleave/engine.h"
#include "cleave/runtime.h"

/* Formats a line and hands it to `fn` (nothing when fn is NULL). */
void clv_rt__log(clv_log_fn fn, void *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The node lists of a partition: edge nodes and cloud nodes (graph node
 * indices, ascending), malloc'd; counts through the pointers. 0 or
 * CLV_ENOMEM. */
int clv_rt__split_nodes(const clv_graph *g, const unsigned char *on_edge,
                        int **edge, int *n_edge, int **cloud, int *n_cloud,
                        clv_error *err);

/* "conv3+relu5" style text naming up to a few cut nodes of a partition
 * (edge nodes read by a cloud node), or "(none)"/"(input)". */
void clv_rt__cut_text(const clv_graph *g, const unsigned char *on_edge,
                      char *buf, size_t len);

#endif
