/*
 * Internals of the runtime module (not installed).
 */
#ifndef CLEAVE_RUNTIME_INTERNAL_H
#define CLEAVE_RUNTIME_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>

#include "cleave/codec.h"
#include "cleave/engine.h"
#include "cleave/runtime.h"

/* Formats a line and hands it to `fn` (nothing when fn is NULL). */
void clv_rt__log(clv_log_fn fn, void *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Plans graph g with per-node times te, tc and options o (whose link must
 * have a positive bandwidth), the frame priced by `frame_codec` when its
 * size is fixed (may be NULL: float32). Shared by clv_runtime_plan and the
 * edge's re-planning (split.c). */
int clv_rt__plan(const clv_graph *g, const double *te, const double *tc,
                 const clv_plan_options *o, const clv_codec *frame_codec,
                 clv_plan *plan, clv_error *err);

/* The edge's checks of a RESULT for a frame of partition `part` before it
 * takes a byte of it: a good status, exactly the partition's returned
 * tensors (each once), raw, of the model's dtype, shape and size. 0, or
 * an error naming the fault (edge_rx.c; the rogue-server fuzzer calls it
 * too). */
int clv_rt__check_result(const clv_graph *g, const clv_partition *part,
                         const clv_net_result *res, clv_error *err);

#endif
