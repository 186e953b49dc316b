/*
 * cJSON helpers shared by the modules that read and write JSON files
 * (plan/, profile/). Internal to libcleave, not installed.
 */
#ifndef CLEAVE_UTIL_JSON_H
#define CLEAVE_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cleave/error.h"

/* Parses the JSON text `text` of `len` bytes into *out (the caller frees it
 * with cJSON_Delete). Fails with CLV_ENOMEM ("<label>: out of memory") or
 * CLV_EFORMAT ("<label>:<line>: not valid JSON (parsing stopped at byte
 * N)"), *out NULL. */
int clv_util_json_parse(const char *text, size_t len, const char *label,
                        cJSON **out, clv_error *err);

/* Appends `item` (may be NULL: a failed cJSON_Create*) to the array
 * `array`, which then owns it. Returns false, and deletes `item`, when
 * `item` is NULL or cannot be added. */
bool clv_util_json_append(cJSON *array, cJSON *item);

#endif
