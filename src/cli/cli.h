/*
 * The command-line tool's shared pieces. Only cli/ prints or exits.
 */
#ifndef CLEAVE_CLI_H
#define CLEAVE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cleave/graph.h"

/* Exit statuses of every subcommand. */
#define CLI_OK 0
#define CLI_FAIL 1  /* the work failed (bad model, I/O error) */
#define CLI_USAGE 2 /* the command line was wrong */

/* Loads MODEL for a subcommand: a .onnx or .cfg path, or "zoo:NAME" for a
 * zoo model built in memory (seeded with `seed`). Prints the error and
 * returns NULL on failure. */
clv_graph *cli_load(const char *model, uint64_t seed);

/* Parses a non-negative integer option value; prints a usage error naming
 * `opt` and returns false when `s` is not one. */
bool cli_parse_u64(const char *opt, const char *s, uint64_t *out);

struct cJSON;
/* Prints `root` (a cJSON tree, freed here) as indented JSON on stdout.
 * Returns CLI_OK, or prints "out of memory" and returns CLI_FAIL. */
int cli_print_json(struct cJSON *root);

/* true when `s` ends with `suffix` (ASCII, case-insensitive). */
bool cli_ends_with(const char *s, const char *suffix);

/* true for a .jpg, .jpeg or .png name. */
bool cli_is_image_name(const char *path);

/*
 * Fills `buf` (clv_tensor_bytes(t) bytes) for input tensor `t` from the
 * file at `path`: a JPEG/PNG image (by its name) for a float32 1xCxHxW
 * input, C = 1 or 3, resized bilinearly and divided by 255, then, when
 * `imagenet`, normalised with ImageNet's mean and std (docs/engine.md);
 * any other file holds exactly the tensor's bytes, raw little-endian.
 * Returns 0 or a CLV_E* code with the reason in `err`.
 */
int cli_input_load(const char *path, const clv_tensor *t, bool imagenet,
                   void *buf, clv_error *err);

int cli_info(int argc, char **argv);
int cli_zoo(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_plan(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_profile(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_edge(int argc, char **argv);

/* Prints the node table and totals of `g` as `cleave info` does. */
void cli_print_summary(const char *label, const clv_graph *g);

#endif
