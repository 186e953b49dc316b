/*
 * Helpers of the ONNX reader and writer: a string set, byte order, element
 * type names and a nesting-depth check of protobuf wire data.
 */
#include "load/onnx_internal.h"
#include "util/util.h"

#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>
#include <string.h>

static size_t strset_find(const clv_onnx__strset *set, const char *s)
{
    size_t mask = set->cap - 1;
    size_t i = (size_t)clv_util_hash_str(s) & mask;
    while (set->slots[i] && strcmp(set->slots[i], s) != 0)
        i = (i + 1) & mask;
    return i;
}

int clv_onnx__strset_add(clv_onnx__strset *set, const char *s)
{
    if ((set->count + 1) * 2 > set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 64;
        clv_onnx__strset bigger = {NULL, ncap, 0};
        bigger.slots = calloc(ncap, sizeof *bigger.slots);
        if (!bigger.slots)
            return CLV_ENOMEM;
        for (size_t i = 0; i < set->cap; i++) {
            if (set->slots[i]) {
                bigger.slots[strset_find(&bigger, set->slots[i])] =
                    set->slots[i];
                bigger.count++;
            }
        }
        free(set->slots);
        *set = bigger;
    }
    size_t i = strset_find(set, s);
    if (!set->slots[i]) {
        set->slots[i] = s;
        set->count++;
    }
    return 0;
}

bool clv_onnx__strset_has(const clv_onnx__strset *set, const char *s)
{
    if (set->cap == 0)
        return false;
    return set->slots[strset_find(set, s)] != NULL;
}

void clv_onnx__strset_free(clv_onnx__strset *set)
{
    free(set->slots);
    set->slots = NULL;
    set->cap = 0;
    set->count = 0;
}

bool clv_onnx__host_le(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

void clv_onnx__swap_bytes(void *data, size_t n, size_t size)
{
    unsigned char *p = data;
    if (size < 2)
        return;
    for (size_t i = 0; i < n; i++, p += size) {
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}

const char *clv_onnx__dtype_name(int dt)
{
    static const char *const names[] = {
        "undefined", "float32", "uint8",     "int8",       "uint16",
        "int16",     "int32",   "int64",     "string",     "bool",
        "float16",   "float64", "uint32",    "uint64",     "complex64",
        "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz",
        "float8e5m2", "float8e5m2fnuz", "uint4", "int4"};
    if (dt < 0 || (size_t)dt >= sizeof names / sizeof names[0])
        return "unknown";
    return names[dt];
}

bool clv_onnx__dtype_supported(int dt)
{
    switch (dt) {
    case CLV_DT_FLOAT:
    case CLV_DT_UINT8:
    case CLV_DT_INT8:
    case CLV_DT_INT32:
    case CLV_DT_INT64:
    case CLV_DT_BOOL:
    case CLV_DT_DOUBLE:
        return true;
    default:
        return false;
    }
}

/* Reads a varint at *p (< end); returns false when it is cut off or longer
 * than 10 bytes. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        if (shift < 64)
            x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static int check_depth(const ProtobufCMessageDescriptor *desc,
                       const uint8_t *p, const uint8_t *end, int depth)
{
    if (depth > CLV_ONNX_MAX_DEPTH)
        return CLV_ELIMIT;
    while (p < end) {
        uint64_t key, len;
        if (!read_varint(&p, end, &key))
            return CLV_EFORMAT;
        uint64_t field = key >> 3;
        if (field == 0 || field > 0x1fffffffu)
            return CLV_EFORMAT;
        switch (key & 7) {
        case 0: /* varint */
            if (!read_varint(&p, end, &len))
                return CLV_EFORMAT;
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return CLV_EFORMAT;
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return CLV_EFORMAT;
            p += 4;
            break;
        case 2: { /* length-delimited */
            if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return CLV_EFORMAT;
            const ProtobufCFieldDescriptor *f =
                desc ? protobuf_c_message_descriptor_get_field(
                           desc, (unsigned)field)
                     : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int rc = check_depth(f->descriptor, p, p + len, depth + 1);
                if (rc)
                    return rc;
            }
            p += len;
            break;
        }
        default: /* groups (3, 4) and unknown wire types */
            return CLV_EFORMAT;
        }
    }
    return 0;
}

int clv_onnx__check_depth(const void *desc, const uint8_t *buf, size_t len)
{
    if (len == 0)
        return 0;
    return check_depth(desc, buf, buf + len, 0);
}
