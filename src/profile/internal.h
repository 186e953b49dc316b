/*
 * Internals of the profile module, shared by its files (profile.c: the
 * profile struct and its files; measure.c: measuring and the throttle;
 * cgroup.c: the cgroup CPU limit; predict.c: the regression predictor).
 * Not installed.
 */
#ifndef CLEAVE_PROFILE_INTERNAL_H
#define CLEAVE_PROFILE_INTERNAL_H

#include <cjson/cJSON.h>

#include "cleave/profile.h"

/* Largest profile or predictor file read. */
#define CLV_PROFILE__MAX_FILE ((uint64_t)256 << 20)
/* 2^53: the largest integer a JSON number holds exactly. */
#define CLV_PROFILE__MAX_INT 9007199254740992.0

/* Parses JSON text; on failure an error naming `label` and the line. */
int clv_profile__parse_json(const char *text, size_t len, const char *label,
                            cJSON **out, clv_error *err);

/* Checks "format" and "version" (1) of a top-level object. */
int clv_profile__check_header(const cJSON *root, const char *label,
                              const char *format, clv_error *err);

/* Reads the number field `key` of `obj`: required or not (absent: *out =
 * def and *present = false when present is given), finite, >= 0, and a
 * whole number <= 2^53 when `integer`. `where` says whose field it is
 * ("node 'conv1'", "the profile") in messages. Null counts as absent for
 * optional fields only when `null_ok`. */
int clv_profile__number(const cJSON *obj, const char *key, bool required,
                        bool integer, bool null_ok, double def, double *out,
                        const char *label, const char *where,
                        clv_error *err);

/* Entry `index` (counting from 0) of a list of `what`s ("node",
 * "model"): it must be an object with a non-empty string "name". Sets
 * *name (borrowed from `it`) and writes "WHAT 'NAME'" to `where` (`len`
 * bytes) for later messages. 0 or CLV_EFORMAT naming `label`. */
int clv_profile__named_object(const cJSON *it, const char *what, int index,
                              const char *label, const char **name,
                              char *where, size_t len, clv_error *err);

/* Writes `text` to `path` (creating or truncating it). 0 or CLV_EIO. */
int clv_profile__write_text(const char *path, const char *text,
                            clv_error *err);

/* The family of a class ("conv", "act", "eltwise", "pool", "move",
 * "other"), for the predictor's fallback. */
const char *clv_profile__family(const char *op_class);

/* Bytes of the distinct run-time (non-constant) input tensors of node i. */
uint64_t clv_profile__in_bytes(const clv_graph *g, int i);

/* Fills the graph-derived fields of one entry per graph node of `out`
 * (name, op, class, out/in/param bytes, FLOPs; ms stays 0) and
 * input_bytes. 0 or CLV_ENOMEM (out then holds what was filled, for
 * clv_profile_release). */
int clv_profile__fill_nodes(const clv_graph *g, clv_profile *out,
                            clv_error *err);

#endif
