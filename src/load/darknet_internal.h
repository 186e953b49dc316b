/*
 * Internals of the darknet reader (darknet.c: layers and weights;
 * darknet_cfg.c: the .cfg tokenizer and typed option lookups).
 * Not installed; the public entry points are in include/cleave/load.h.
 */
#ifndef CLEAVE_LOAD_DARKNET_INTERNAL_H
#define CLEAVE_LOAD_DARKNET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"
#include "cleave/graph.h"

/* Limits that keep hostile .cfg files from exhausting memory or time. */
#define CLV_DK_MAX_ELEMS ((uint64_t)1 << 31)   /* elements of one tensor */
#define CLV_DK_MAX_PARAMS ((uint64_t)1 << 30)  /* weights of a whole net */
#define CLV_DK_MAX_MACS ((uint64_t)1 << 44)    /* multiply-adds of a layer */
#define CLV_DK_MAX_LAYERS 10000                /* sections after [net] */

/* One `key=value` line. `key` and `val` point into the tokenizer's copy of
 * the text (whitespace removed, as darknet's own reader does). */
typedef struct clv_dk_opt {
    const char *key;
    const char *val;
    int line;
} clv_dk_opt;

/* One `[name]` section with its options in file order. */
typedef struct clv_dk_section {
    const char *name; /* without the brackets */
    int line;
    clv_dk_opt *opts;
    int n_opts, cap_opts;
} clv_dk_section;

/* A tokenized .cfg file; `label` (borrowed) names it in messages. */
typedef struct clv_dk_cfg {
    char *text; /* owned copy of the file that the sections point into */
    clv_dk_section *secs;
    int n_secs, cap_secs;
    const char *label;
} clv_dk_cfg;

/* Splits `len` bytes of .cfg text into sections. Lines are stripped of all
 * blanks; empty lines and lines starting with '#' or ';' are comments.
 * Fails with CLV_EFORMAT (an option before the first section, a line that
 * is neither a section nor key=value, a NUL byte), CLV_ELIMIT (more than
 * CLV_DK_MAX_LAYERS + 1 sections) or CLV_ENOMEM; messages start with
 * "<label>:<line>: ". Free with clv_dk__cfg_free() in every case. */
int clv_dk__cfg_parse(clv_dk_cfg *cfg, const char *text, size_t len,
                      const char *label, clv_error *err);
void clv_dk__cfg_free(clv_dk_cfg *cfg);

/* The first option named `key` of section `s` (darknet uses the first of
 * duplicates), or NULL. */
const clv_dk_opt *clv_dk__find(const clv_dk_section *s, const char *key);

/* Typed lookups. An absent key gives `def`, unless `required`, which is a
 * CLV_EFORMAT error "<label>:<line>: [sec] needs key=". A value that is not
 * a number is CLV_EFORMAT, an integer outside int32 is CLV_ERANGE. */
int clv_dk__get_int(const clv_dk_cfg *cfg, const clv_dk_section *s,
                    const char *key, int def, bool required, int *out,
                    clv_error *err);
int clv_dk__get_float(const clv_dk_cfg *cfg, const clv_dk_section *s,
                      const char *key, float def, float *out,
                      clv_error *err);
/* The value of `key`, or `def` when absent. */
const char *clv_dk__get_str(const clv_dk_section *s, const char *key,
                            const char *def);
/* A comma-separated list. *vals (malloc'd, caller frees) is NULL and *n 0
 * when the key is absent (an error when `required`). */
int clv_dk__get_ints(const clv_dk_cfg *cfg, const clv_dk_section *s,
                     const char *key, bool required, int **vals, int *n,
                     clv_error *err);
int clv_dk__get_floats(const clv_dk_cfg *cfg, const clv_dk_section *s,
                       const char *key, float **vals, int *n,
                       clv_error *err);

/* Records "<label>:<line>: [<section>] " + the printf-style message. */
int clv_dk__error(const clv_dk_cfg *cfg, const clv_dk_section *s, int line,
                  clv_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* The reader behind clv_load_darknet and clv_load_darknet_mem. `cfg_label`
 * and `weights_label` name the two inputs in messages; `weights` NULL means
 * seeded random weights. `max_params` caps the weights of the whole network
 * (CLV_DK_MAX_PARAMS for the public API; the fuzz harness passes less). */
int clv_load__darknet(const char *cfg, size_t cfg_len, const char *cfg_label,
                      const void *weights, size_t weights_len,
                      const char *weights_label, uint64_t seed,
                      uint64_t max_params, clv_graph **out, clv_error *err);

#endif
