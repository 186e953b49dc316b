/*
 * Internals shared by the ONNX reader (onnx.c) and writer (onnx_write.c).
 * Not installed.
 */
#ifndef CLEAVE_LOAD_ONNX_INTERNAL_H
#define CLEAVE_LOAD_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"
#include "cleave/graph.h"

/* The default-domain opsets the reader accepts, and the IR versions. */
#define CLV_ONNX_MIN_OPSET 7
#define CLV_ONNX_MAX_OPSET 17
#define CLV_ONNX_MIN_IR 3
#define CLV_ONNX_MAX_IR 10
/* Deepest nesting of protobuf messages the reader accepts. ONNX models of
 * the ops cleave runs nest about 6 deep (model, graph, node, attribute,
 * tensor, ...); the limit keeps hostile files from exhausting the stack of
 * protobuf-c's recursive parser. */
#define CLV_ONNX_MAX_DEPTH 64
/* The writer's domain for darknet's ops. */
#define CLV_ONNX_CLEAVE_DOMAIN "ai.cleave"

/* A set of strings (open addressing). The set borrows the strings: they
 * must stay valid while the set is used. */
typedef struct clv_onnx__strset {
    const char **slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
} clv_onnx__strset;

/* Adds `s` (borrowed); returns 0 or CLV_ENOMEM. Adding a present string is
 * a no-op. */
int clv_onnx__strset_add(clv_onnx__strset *set, const char *s);
bool clv_onnx__strset_has(const clv_onnx__strset *set, const char *s);
/* Frees the slot table (not the strings); the set is empty afterwards. */
void clv_onnx__strset_free(clv_onnx__strset *set);

/* True on a little-endian host. */
bool clv_onnx__host_le(void);
/* Reverses the byte order of each of `n` elements of `size` bytes. */
void clv_onnx__swap_bytes(void *data, size_t n, size_t size);

/* The ONNX name of TensorProto.DataType `dt` ("float16", "string", ...);
 * "type <n>" style names are not made: unknown values give "unknown". */
const char *clv_onnx__dtype_name(int dt);
/* True when cleave holds elements of ONNX type `dt`. */
bool clv_onnx__dtype_supported(int dt);

/* Checks that `len` bytes at `buf` are a well-formed protobuf encoding of
 * the message `desc` as far as nesting goes: every length-delimited field
 * that the schema declares as a message is walked, to a depth of at most
 * CLV_ONNX_MAX_DEPTH. Returns 0, CLV_ELIMIT (too deep) or CLV_EFORMAT
 * (broken wire format). `desc` is a const ProtobufCMessageDescriptor *. */
int clv_onnx__check_depth(const void *desc, const uint8_t *buf, size_t len);

#endif
