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

#endif
