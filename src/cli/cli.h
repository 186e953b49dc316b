/*
 * The command-line tool's shared pieces. Only cli/ prints or exits.
 */
#ifndef CLEAVE_CLI_H
#define CLEAVE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cleave/engine.h"
#include "cleave/load.h"
#include "cleave/runtime.h"
#include "cleave/graph.h"

/* Exit statuses of every subcommand. */
#define CLI_OK 0
#define CLI_FAIL 1  /* the work failed (bad model, I/O error) */
#define CLI_USAGE 2 /* the command line was wrong */

/* Loads MODEL for a subcommand: a .onnx or .cfg path, or "zoo:NAME" for a
 * zoo model built in memory (seeded with `seed`). Prints the error and
 * returns NULL on failure. */
clv_graph *cli_load(const char *model, uint64_t seed);

/* The version every command prints for --version. */
#define CLI_VERSION "0.1.0"

/* ---- options: one table per command, read with getopt_long ---------- */

typedef enum cli_opt_kind {
    CLI_FLAG,   /* bool *: set to true */
    CLI_UNFLAG, /* bool *: set to false (--no-adapt) */
    CLI_STR,    /* const char **: the argument (borrowed from argv) */
    CLI_U64,    /* uint64_t *: a non-negative decimal integer */
    CLI_DBL,    /* double *: a finite number */
    CLI_LIST    /* cli_list *: each use appends its argument */
} cli_opt_kind;

#define CLI_LIST_MAX 64
typedef struct cli_list {
    int n;
    const char *v[CLI_LIST_MAX];
} cli_list;

/* One option: --name (and -short_name when not 0), what it takes and
 * where it goes; `seen` (may be NULL) is set when it is given. A table
 * ends with an entry whose name is NULL. */
typedef struct cli_opt {
    const char *name;
    char short_name;
    cli_opt_kind kind;
    void *var;
    bool *seen;
} cli_opt;

/*
 * Parses the arguments of command `cmd` (argv[0] is the command's name)
 * with getopt_long: the options of `opts` (--name VALUE or --name=VALUE),
 * and for every command --help / -h (prints the parts of `usage`, a
 * NULL-terminated list: CLI_TEXT(text) for one, ISO C's limit on string
 * literals being 4095 bytes) and
 * --version. Other arguments, wherever they stand, go to pos[0..max_pos)
 * with their count in *n_pos (may be NULL); `pos_name` names them in
 * messages ("MODEL"). Each mistake gets one line on stderr that
 * names the option and what is wrong with it ("cleave edge: --frames: 'x'
 * is not a non-negative integer"). Returns -1 when the command should go
 * on, CLI_OK after --help or --version, or CLI_USAGE.
 */
#define CLI_TEXT(...) ((const char *const[]){__VA_ARGS__, NULL})
int cli_parse(const char *cmd, const char *const *usage, const cli_opt *opts,
              int argc, char **argv, const char *pos_name, const char **pos,
              int max_pos, int *n_pos);

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
/* cleave run --dataset: top-1 accuracy over a labelled data set (IDX). */
int cli_run_dataset(const char *model, const clv_graph *g, clv_engine *e,
                    const char *path, const char *labels, uint64_t limit,
                    bool json);
int cli_profile(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_edge(int argc, char **argv);
int cli_jalad_table(int argc, char **argv);

/* cleave edge --dataset (edge_data.c): frames from a labelled data set,
 * image first + k % (count - first) for frame k, and the run's top-1
 * accuracy beside the uncompressed model's on the same frames. */
typedef struct cli_edge_data {
    const clv_dataset *d;
    int64_t first;
} cli_edge_data;
int cli_edge_dataset_input(void *ctx, uint64_t frame, void *const *bufs,
                           clv_error *err);
/* Prints (or adds to `json` when not NULL) the accuracy of the report's
 * frames (kept outputs) and the mean encoded bytes per sent frame against
 * the first plan's. `bound`: the accuracy drop asked for, or < 0. */
int cli_edge_accuracy(const clv_graph *g, const cli_edge_data *in,
                      const clv_edge_report *rep, double bound,
                      struct cJSON *json);

/* Prints the node table and totals of `g` as `cleave info` does. */
void cli_print_summary(const char *label, const clv_graph *g);

#endif
