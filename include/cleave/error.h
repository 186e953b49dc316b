/*
 * cleave — status codes and error messages.
 *
 * Every function of libcleave that can fail returns an int: 0 (CLV_OK) on
 * success, a negative CLV_E* code on failure. Functions that can fail for a
 * reason a user must act on (a bad file, a bad packet) also take a
 * `clv_error *err` as their last argument and, on failure, write a full
 * sentence into it ("model.onnx: node 'conv3': Conv with group=3 does not
 * divide 64 input channels"). `err` may always be NULL.
 *
 * The library never prints and never exits; only the command-line tool does.
 */
#ifndef CLEAVE_ERROR_H
#define CLEAVE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The one table of status codes: X(name, value, description). */
#define CLV_ERROR_MAP(X)                                             \
    X(CLV_OK, 0, "success")                                          \
    X(CLV_ENOMEM, -1, "out of memory")                               \
    X(CLV_EINVAL, -2, "invalid argument")                            \
    X(CLV_EIO, -3, "input/output error")                             \
    X(CLV_EFORMAT, -4, "malformed input")                            \
    X(CLV_EUNSUPPORTED, -5, "unsupported feature")                   \
    X(CLV_ESHAPE, -6, "shape mismatch")                              \
    X(CLV_ECYCLE, -7, "graph has a cycle")                           \
    X(CLV_ERANGE, -8, "value out of range")                          \
    X(CLV_ENOTFOUND, -9, "not found")                                \
    X(CLV_ELIMIT, -10, "size limit exceeded")                        \
    X(CLV_ETIMEOUT, -11, "timed out")                                \
    X(CLV_ECLOSED, -12, "connection closed by peer")

enum clv_status {
#define CLV__ERROR_ENUM(name, value, text) name = value,
    CLV_ERROR_MAP(CLV__ERROR_ENUM)
#undef CLV__ERROR_ENUM
};

/* The short description of a status code ("malformed input"); never NULL.
 * Unknown codes give "unknown error". */
const char *clv_strerror(int code);

/* Room for one error message. `code` is the status, `msg` a sentence for the
 * user (empty when the failing code wrote none). Zero-initialise or call
 * clv_error_clear() before use. */
#define CLV_ERROR_MSG_MAX 512
typedef struct clv_error {
    int code;
    char msg[CLV_ERROR_MSG_MAX];
} clv_error;

/* Resets `err` to CLV_OK with an empty message. `err` may be NULL. */
void clv_error_clear(clv_error *err);

/* Records `code` and a printf-style message in `err` (which may be NULL) and
 * returns `code`, so that failing code can `return clv_error_set(err, ...)`.
 * Messages longer than CLV_ERROR_MSG_MAX-1 bytes are truncated. */
int clv_error_set(clv_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Puts printf-style context in front of the message already in `err`
 * ("model.onnx: " + "node 'x': ..."), keeping its code. Returns err->code
 * (or CLV_EINVAL when err is NULL). */
int clv_error_prefix(clv_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The message of `err` if it has one, otherwise clv_strerror(code). */
const char *clv_error_text(const clv_error *err, int code);

#ifdef __cplusplus
}
#endif
#endif
