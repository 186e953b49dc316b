#include "cleave/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *clv_strerror(int code)
{
    switch (code) {
#define CLV__ERROR_CASE(name, value, text) \
    case value:                            \
        return text;
        CLV_ERROR_MAP(CLV__ERROR_CASE)
#undef CLV__ERROR_CASE
    }
    return "unknown error";
}

void clv_error_clear(clv_error *err)
{
    if (!err)
        return;
    err->code = CLV_OK;
    err->msg[0] = '\0';
}

int clv_error_set(clv_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    if (!err)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int clv_error_prefix(clv_error *err, const char *fmt, ...)
{
    char head[CLV_ERROR_MSG_MAX], old[CLV_ERROR_MSG_MAX];
    va_list ap;
    if (!err)
        return CLV_EINVAL;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    const char *tail = old[0] ? old : clv_strerror(err->code);
    size_t hl = strlen(head), tl = strlen(tail);
    if (hl > sizeof err->msg - 1)
        hl = sizeof err->msg - 1;
    if (tl > sizeof err->msg - 1 - hl)
        tl = sizeof err->msg - 1 - hl;
    memcpy(err->msg, head, hl);
    memcpy(err->msg + hl, tail, tl);
    err->msg[hl + tl] = '\0';
    return err->code;
}

const char *clv_error_text(const clv_error *err, int code)
{
    if (err && err->msg[0])
        return err->msg;
    return clv_strerror(code);
}
