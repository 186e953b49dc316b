/*
 * cleave — profiles: what each layer of a model costs on one device.
 *
 * A PROFILE (clv_profile) lists, for every node of one model, its median
 * latency on one device under one condition (thread count, CPU limit), the
 * bytes of its output and its FLOPs. The planner reads two of them, one
 * measured on the edge and one on the cloud (plan.h,
 * clv_problem_from_profiles). The file format is docs/profile.md; this
 * module writes it and reads it back strictly.
 *
 * Three ways to get one:
 *
 *   measure   clv_profile_measure() runs the whole graph with the engine
 *             (engine.h), fusion off so that each node has its own time,
 *             `warmup` times untimed and `runs` times timed, and keeps each
 *             node's median and the median whole-model time;
 *   load      clv_profile_load() reads a profile file;
 *   predict   clv_predictor_predict() computes one for a model that was
 *             never run on the device, from a regression predictor fitted
 *             (clv_predictor_fit) to profiles of other models measured on
 *             it: per op class, latency as a linear function of FLOPs and
 *             bytes, as Neurosurgeon does.
 *
 * Emulating a slower device. Two ways, documented in docs/profiling.md:
 *
 *   cgroup    clv_cpu_limit_enter() moves the whole calling process into a
 *             new CPU cgroup limited to a fraction of one core (cgroup v2
 *             cpu.max, or v1 cpu.cfs_quota_us); clv_cpu_limit_leave()
 *             moves it back and removes the group. Needs root (or a
 *             delegated, writable cgroup tree).
 *   slowdown  a duty cycle without privileges: after each stretch of work
 *             that took b seconds, sleep b*(1-F)/F, so that the work
 *             proceeds at fraction F of the CPU on average (clv_throttle).
 *             clv_profile_measure() applies it when options.slowdown is
 *             set, and the runtime must apply the same throttle to its edge
 *             part so that the plan is made for the device it runs on.
 *
 * Typical use:
 *
 *     clv_profile pr;
 *     clv_profile_options o;
 *     clv_error err = {0};
 *     clv_profile_init(&pr);
 *     clv_profile_options_init(&o);
 *     o.device = "edge-20pct";
 *     o.runs = 10;
 *     if (clv_profile_measure(g, &o, &pr, &err) == 0 &&
 *         clv_profile_save(&pr, "edge.json", &err) == 0)
 *         ... pr.nodes[i].ms, pr.total_ms ...
 *     clv_profile_release(&pr);
 *
 * No function here prints or exits, and none keeps global state; several
 * profiles and predictors may be used from different threads at once (a
 * cgroup limit applies to the whole process, see clv_cpu_limit_enter).
 */
#ifndef CLEAVE_PROFILE_H
#define CLEAVE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/error.h"
#include "cleave/graph.h"
#include "cleave/load.h"
#include "cleave/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- profiles ---------------------------------------------------------- */

/* One node of a profile; owned by its profile. */
typedef struct clv_profile_node {
    char *name;           /* the graph node's name (unique, non-empty) */
    char *op;             /* its ONNX op name ("Conv"), as written */
    double ms;            /* latency in milliseconds, >= 0: the median over
                             the runs (the mean when node_mean) */
    uint64_t out_bytes;   /* bytes of all its outputs */
    uint64_t flops;       /* FLOPs, a multiply-add counts 2 */
    /* Extension fields (docs/profiling.md, "Profile format extensions"):
     * written by this module, optional when reading; 0 / NULL when a file
     * lacks them.
     * clv_profile_annotate() fills them from the graph. */
    uint64_t in_bytes;    /* bytes of its run-time (non-constant) inputs */
    uint64_t param_bytes; /* bytes of its constant inputs (weights) */
    char *op_class;       /* the predictor's class, clv_profile_op_class() */
} clv_profile_node;

/* A profile. Initialise with clv_profile_init(); functions that fill one
 * release what it held first; clv_profile_release() frees everything and
 * leaves it initialised again (empty). */
typedef struct clv_profile {
    char *model;          /* the model measured (informational), never NULL
                             in a filled profile */
    char *device;         /* a free name for the device or condition */
    int threads;          /* engine threads, >= 1 */
    int runs;             /* timed runs per node (0: a predicted profile) */
    int warmup;           /* untimed runs first (extension; 0 if absent) */
    double cpu_quota;     /* the cgroup CPU share, 0 = unlimited (JSON null) */
    double slowdown;      /* the duty-cycle fraction, 0 = none (JSON null;
                             extension) */
    uint64_t input_bytes; /* bytes of the model's input frame(s) */
    double total_ms;      /* median whole-model latency */
    double min_total_ms;  /* the fastest whole run (extension; 0 if absent):
                             total_ms well above it means a busy machine */
    bool node_mean;       /* node times are means over the runs, not
                             medians (under a cgroup limit; extension
                             "node_stat": "mean" / "median") */
    char *predicted_by;   /* the predictor file of a predicted profile, or
                             NULL for a measured one (extension) */
    int n_nodes;
    clv_profile_node *nodes;
} clv_profile;

void clv_profile_init(clv_profile *p);
void clv_profile_release(clv_profile *p);

/* The position of the node named `name` in p->nodes, or -1. Linear time. */
int clv_profile_find(const clv_profile *p, const char *name);

/* Options of clv_profile_measure(). Initialise with
 * clv_profile_options_init() (the defaults are given per field), then set
 * what you need. Strings are borrowed for the call and copied. */
typedef struct clv_profile_options {
    const char *model;   /* recorded as "model"; default: the graph's name */
    const char *device;  /* recorded as "device"; default "local" */
    int runs;            /* timed runs, 1 .. CLV_PROFILE_MAX_RUNS; default 10 */
    int warmup;          /* untimed runs first, 0 .. CLV_PROFILE_MAX_RUNS;
                            default 2 */
    int threads;         /* engine threads; default 1 */
    /* The CPU share the caller has put the process under with
     * clv_cpu_limit_enter() (0 = none). Recorded, and when it is set each
     * node's time is its MEAN over the runs instead of its median: the
     * kernel stops the process at quota boundaries, which fall into a node
     * at random, in proportion to its busy time; a node shorter than the
     * quota slice is mostly not hit, so its median is its unthrottled time
     * and its share of the waits shows only in the mean. The mean is the
     * node's expected cost on the limited CPU (the sum of the node means is
     * the mean whole run). */
    double cpu_quota;
    /* Duty-cycle slowdown F in (0, 1]; 0 (or 1) = none. After each timed
     * or warm-up run of b seconds the measurement sleeps b*(1-F)/F with a
     * clv_throttle; each node's time is its median busy time divided by F
     * (exactly what it costs when the sleep is spread over the nodes), and
     * total_ms is the median of the measured busy-plus-sleep wall time. */
    double slowdown;
    uint64_t seed;       /* seed of the random input values; default 1 */
    /* false (default): every node is its own kernel (engine option
     * no_fuse), so each has its own time. true: the engine fuses as the
     * runtime's engines do; a node fused into the one before it gets 0 ms
     * and its work is timed with that node (joined sibling 1x1
     * convolutions: all on the first) -- the node times then add up to
     * what a fused run costs (for planning). */
    bool fuse;
} clv_profile_options;

#define CLV_PROFILE_MAX_RUNS 100000

void clv_profile_options_init(clv_profile_options *o);

/*
 * Measures every node of the finalized graph `g` with the engine (fusion
 * off, options.threads threads) and fills `out`: one entry per graph node,
 * in topological order, with the median of its `runs` timed runs (the
 * mean under options.cpu_quota, divided by F under options.slowdown), its
 * out_bytes and FLOPs (from the graph), in_bytes, param_bytes and op class;
 * total_ms is the median wall-clock time of a whole run and min_total_ms
 * the fastest. On a quiet machine the node times add up to total_ms within
 * a few percent; on a busy one to less (node medians filter the
 * preemptions that lengthen whole runs). Graph inputs get
 * seeded random values in [0, 1) (integer inputs are zero). `g` is
 * borrowed for the call. Takes about (warmup + runs) model runs.
 *
 * Returns 0; CLV_EINVAL (g not finalized, an option out of range, named
 * in the message), CLV_EUNSUPPORTED (the engine cannot run an op; the
 * message names the node), CLV_ERANGE (a run failed on its data), or
 * CLV_ENOMEM. On failure `out` is left empty (initialised).
 */
int clv_profile_measure(const clv_graph *g, const clv_profile_options *o,
                        clv_profile *out, clv_error *err);

/*
 * Reads a profile file (docs/profile.md) into `out`, strictly: the format
 * must be "cleave-profile" version 1; model, device, threads, runs,
 * cpu_quota (a number or null), input_bytes, nodes (each with name, op,
 * ms, out_bytes, flops) and total_ms must be present and of the right type;
 * times must be finite and >= 0, counts and byte sizes whole numbers >= 0,
 * node names unique. Extension fields are read when present. Errors name
 * the file, the node and the field.
 *
 * Returns 0; CLV_EIO (unreadable, with the system's reason), CLV_ELIMIT
 * (file over 256 MiB), CLV_EFORMAT (not JSON, with the line; wrong format
 * or version; a missing or mistyped field), CLV_EINVAL (a negative or
 * non-finite value, a duplicate name) or CLV_ENOMEM. On failure `out` is
 * left empty.
 */
int clv_profile_load(const char *path, clv_profile *out, clv_error *err);

/* As clv_profile_load, from `len` bytes of JSON text at `text` (borrowed);
 * `label` names the text in messages (may be NULL). */
int clv_profile_parse(const char *text, size_t len, const char *label,
                      clv_profile *out, clv_error *err);

/* The profile as profile-file JSON (malloc'd text, the caller frees), or
 * NULL when out of memory. clv_profile_save() writes that text to `path`:
 * 0, CLV_EIO (with the path and the system's reason) or CLV_ENOMEM. */
char *clv_profile_to_json(const clv_profile *p);
int clv_profile_save(const clv_profile *p, const char *path,
                     clv_error *err);

/* Checks that every node of the finalized graph `g` is in `p` (by name)
 * and fills in_bytes, param_bytes and op_class of those entries from the
 * graph (out_bytes and flops are left as the profile has them). Fails with
 * CLV_ENOTFOUND naming the first graph node the profile lacks, CLV_EINVAL
 * (g not finalized) or CLV_ENOMEM. */
int clv_profile_annotate(clv_profile *p, const clv_graph *g,
                         clv_error *err);

/* Fills ms[i] with the profile's time for graph node i (by name), for the
 * clv_graph_n_nodes(g) nodes of the finalized graph `g` (`ms` has that many
 * entries; pass it to clv_problem_from_graph). Fails with CLV_ENOTFOUND
 * naming the first node the profile lacks. */
int clv_profile_node_times(const clv_profile *p, const clv_graph *g,
                           double *ms, clv_error *err);

/*
 * The class the predictor files node `i` of the finalized graph `g` under:
 * "Conv" (a dense convolution), "Conv1x1" (1x1 kernel, stride 1, no pad,
 * group 1), "ConvDepthwise" (group == input channels > 1), "ConvGrouped"
 * (another group > 1), and the ONNX op name for every other op ("Relu",
 * "Gemm", ...). A static string; "?" when `i` is out of range.
 */
const char *clv_profile_op_class(const clv_graph *g, int i);

/* ---- emulating a slower CPU: the duty-cycle throttle -------------------- */

/* A duty-cycle throttle: work at fraction `fraction` of the CPU. Plain
 * data: initialise with clv_throttle_init() and keep it per thread of work
 * (it is not shared between threads). Engine-independent: the runtime uses
 * it around its edge part as the profiler does around each run.
 *
 * Two clocks. By default "busy" is wall-clock time: each piece of work is
 * followed by (1-F)/F times its duration. With cpu_time (set it after
 * init; the work must run on the calling thread alone) busy is the
 * thread's CPU time and the work is made to last busy / F in wall-clock
 * time from begin(): time lost to other processes on a shared machine is
 * then absorbed by the sleep instead of being multiplied by 1/F, so the
 * emulated device computes at fraction F of a CPU whatever else runs on
 * this one. A piece of work that ran late (preempted for longer than its
 * sleep) is not made up for by the next one; only an oversleep of up to
 * CLV_THROTTLE_MAX_CREDIT_S is carried. */
typedef struct clv_throttle {
    double fraction; /* F in (0, 1]; 1 = no slowdown */
    bool cpu_time;   /* busy = the thread's CPU time (see above) */
    double debt_s;   /* sleep owed but not yet taken (sleeps shorter than
                        CLV_THROTTLE_MIN_SLEEP_S are batched) */
    double busy_s;   /* total busy time paid for */
    double slept_s;  /* total time actually slept */
    double start_s;  /* clv_throttle_begin()'s clock, or -1 */
    double start_cpu_s; /* begin()'s thread CPU clock (cpu_time) */
} clv_throttle;

#define CLV_THROTTLE_MAX_CREDIT_S 0.002

#define CLV_THROTTLE_MIN_SLEEP_S 0.00005

/* Sets up `t` for fraction `fraction`. Returns 0, or CLV_EINVAL when
 * fraction is not in (0, 1] (`t` is then set to fraction 1). */
int clv_throttle_init(clv_throttle *t, double fraction);

/* Pays for `busy_s` seconds of work just done: sleeps (1-F)/F * busy_s
 * seconds (plus any debt), measuring the real sleep and carrying the
 * over- or undershoot to the next call so that the long-run ratio is
 * exact. Returns the seconds actually slept now. Call it after the work
 * and before its results are used (an edge part's output is sent after
 * the sleep), so that a downstream observer sees the slowed device. */
double clv_throttle_pay(clv_throttle *t, double busy_s);

/* Convenience pair: clv_throttle_begin() notes the clock;
 * clv_throttle_end() pays for the busy time since then (wall-clock, or CPU
 * time with cpu_time) and returns it (seconds). end without begin pays
 * nothing. */
void clv_throttle_begin(clv_throttle *t);
double clv_throttle_end(clv_throttle *t);

/* A monotonic clock in seconds (CLOCK_MONOTONIC). */
double clv_profile_now(void);

/* ---- emulating a slower CPU: the cgroup limit --------------------------- */

/* Where clv_cpu_limit_enter() finds the cgroup file system. A
 * zero-initialised struct (or NULL) means: look it up in
 * /proc/self/mountinfo, cgroup v2 first (when its cgroup.controllers lists
 * "cpu"), then the v1 "cpu" hierarchy. */
typedef struct clv_cpu_limit_options {
    /* 0: auto; 1: cgroup v1 only; 2: cgroup v2 only. */
    int version;
    /* A mount point to use instead of the one found (tests, odd mounts);
     * with it the new group is made directly under this directory. */
    const char *root;
    /* The CFS period in microseconds, 1000 .. 1000000; 0 = the default
     * CLV_CPU_LIMIT_PERIOD_US. A short period spreads the throttling
     * evenly over the nodes: with the kernel's usual 100 ms a node shorter
     * than the quota (20 ms at 0.2) mostly runs unthrottled and the whole
     * wait falls on a few nodes, so per-node medians miss most of the
     * slowdown (docs/profiling.md). */
    int period_us;
} clv_cpu_limit_options;

#define CLV_CPU_LIMIT_PERIOD_US 10000

typedef struct clv_cpu_limit clv_cpu_limit;

/*
 * Limits the calling process to `quota` of one core: creates a child
 * cgroup "cleave-<pid>-<n>" (v2: next to the mount's root, with the cpu
 * controller enabled in the root's cgroup.subtree_control; v1: under the
 * process's current cpu group), writes the quota (v2 cpu.max "Q P", v1
 * cpu.cfs_quota_us Q and cpu.cfs_period_us P, Q = quota * P), and moves
 * the whole process, all its threads, into it. The limit is on the CPU
 * time of the process summed over its threads: 0.2 is 20% of one core
 * whatever the thread count. `quota` is in [0.01, 64] (Q at least 1 ms
 * per period; P is raised for small quotas if needed).
 *
 * Groups left behind by cleave processes that died inside one are removed
 * first (only empty ones whose pid no longer exists).
 *
 * On success *out is a handle for clv_cpu_limit_leave(). On failure
 * nothing is left behind, *out is NULL and the function returns CLV_EIO
 * with a message that says exactly why, naming the file and the system's
 * reason: no cgroup file system mounted, no cpu controller (and which
 * controllers there are), a read-only cgroup file system, permission
 * denied (root needed), or a group that could not be created or joined;
 * CLV_EINVAL for a quota or option out of range; CLV_ENOMEM.
 */
int clv_cpu_limit_enter(double quota, const clv_cpu_limit_options *o,
                        clv_cpu_limit **out, clv_error *err);

/* The directory of the group (borrowed from the handle) and its version
 * (1 or 2). */
const char *clv_cpu_limit_path(const clv_cpu_limit *l);
int clv_cpu_limit_version(const clv_cpu_limit *l);

/* Moves the process back to the group it was in, removes the group and
 * frees the handle (also when something fails). Accepts NULL. Returns 0 or
 * CLV_EIO naming what could not be undone. */
int clv_cpu_limit_leave(clv_cpu_limit *l, clv_error *err);

/* ---- JALAD's tables: accuracy and size of every cut and width ---------- */

typedef struct clv_jalad_measure_options {
    /* The calibration images (borrowed): images first..first+images-1 of
     * a data set, fed as pixel / 255 (a labelled one makes the loss top-1
     * accuracy); NULL: seeded random pixels, where only the sizes and the
     * agreement with the uncompressed top-1 mean something. */
    const clv_dataset *dataset;
    int first;          /* default 0 */
    int images;         /* default 500 (clamped to the data set) */
    int max_bits;       /* widths 1..max_bits, each with the packed, Huffman
                           and zstd stages; default 16 */
    bool per_channel;   /* also qCc (one range per channel) */
    /* JPEG qualities measured for cloud-only (with u8 and PNG); NULL:
     * 10, 25, 50, 75, 90 */
    const int *jpeg_qualities;
    int n_jpeg;
    uint64_t seed;      /* of the random pixels; default 1 */
    int threads;        /* engine threads; default 1 */
    /* Called after each image with (done, total), may be NULL. */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} clv_jalad_measure_options;

void clv_jalad_measure_options_init(clv_jalad_measure_options *o);

/* Builds the JALAD table of model `g` (one run-time float32 input, one
 * output of class scores): for every valid single cut (clv_graph_crossing
 * == 1) and for cloud-only, every encoding's accuracy loss against the
 * uncompressed model, its agreement with the uncompressed top-1 and its
 * encoded bytes (mean and 95th percentile), measured image by image by
 * encoding the tensor that crosses, decoding it and running the rest of
 * the model on it. `model` names the model in the table. Fails with
 * CLV_EINVAL (bad options, a model of another shape than the images),
 * CLV_EUNSUPPORTED (not one float32 input), or an engine or codec error. */
int clv_jalad_measure(const clv_graph *g, const char *model,
                      const clv_jalad_measure_options *o,
                      clv_jalad_table **out, clv_error *err);

/* ---- the regression predictor ------------------------------------------ */

/* The features, in this order, of one node: a constant 1, FLOPs, input
 * bytes, output bytes, weight bytes. Coefficients are in ms per unit. */
#define CLV_PREDICT_FEATURES 5

typedef struct clv_predictor clv_predictor;

#define CLV_PREDICT_AUTO 0
#define CLV_PREDICT_RELATIVE 1
#define CLV_PREDICT_ABSOLUTE 2

/* Options of clv_predictor_fit(); NULL or zero-initialised: defaults. */
typedef struct clv_predictor_options {
    /* Least samples for a class of its own; fewer fall back to the family
     * (all convolutions, activations, elementwise, pooling, data movement,
     * other), then to one model over everything. Default 6. */
    int min_samples;
    /* How samples are weighted: CLV_PREDICT_RELATIVE weights each node by
     * 1/max(ms, floor_ms), least relative squared error, so that small
     * nodes count as much as large ones; CLV_PREDICT_ABSOLUTE is plain
     * least squares in ms (large nodes dominate). CLV_PREDICT_AUTO (0, the
     * default) is relative for profiles of medians and absolute for
     * profiles of means (measured under a cgroup limit): a small node's
     * mean there is its unthrottled time in most measurements and several
     * times that in a few, and relative weighting would trust the low
     * values and fit too low (docs/profiling.md). */
    int weighting;
    /* The floor of the relative weighting, ms; 0 = 0.01. */
    double floor_ms;
    /* true: fit the constant term (coefficient 0) too. Default false: it
     * stays 0, because a constant fitted to large layers (where it soaks
     * up what the linear terms miss) overestimates small layers badly:
     * lenet's Gemms came out 0.07 ms each instead of 0.001-0.008 ms in the
     * leave-one-out evaluation (docs/profiling.md). */
    bool intercept;
} clv_predictor_options;

/*
 * Fits a predictor to `n` profiles measured on one device. Each profile
 * must carry in_bytes, param_bytes and op_class for every node (profiles
 * that clv_profile_measure() made do; for others call
 * clv_profile_annotate() with the profile's graph first). For each op
 * class with enough samples, each family and all nodes together, finds
 * the non-negative coefficients c (CLV_PREDICT_FEATURES of them) that
 * minimise the (weighted) squared error of ms = c . features, by exact
 * enumeration of the active sets (non-negative least squares). Exact
 * linear data with non-negative coefficients is fitted exactly.
 * The device, threads, cpu_quota and slowdown of the first profile are
 * recorded; profiles that differ from it in those (or in medians vs
 * means) are an error (CLV_EINVAL, naming the profile), since a predictor
 * describes one condition.
 *
 * Returns 0 and a new predictor in *out (free with clv_predictor_free), or
 * CLV_EINVAL (no profiles, no nodes, a node without features), or
 * CLV_ENOMEM.
 */
int clv_predictor_fit(const clv_profile *const *profiles, int n,
                      const clv_predictor_options *o, clv_predictor **out,
                      clv_error *err);

void clv_predictor_free(clv_predictor *pr);

/* Predicts a profile for the finalized graph `g` on the predictor's
 * device: each node's ms from its class model (or its family's, or the
 * global one), total_ms the sum; runs 0, device/threads/quota from the
 * predictor, predicted_by `label` (may be NULL), model `model` (NULL: the
 * graph's name). 0, CLV_EINVAL (g not finalized) or CLV_ENOMEM. */
int clv_predictor_predict(const clv_predictor *pr, const clv_graph *g,
                          const char *model, const char *label,
                          clv_profile *out, clv_error *err);

/* The predicted ms of one node of `g` and the name of the model used (the
 * class, family or "all"; borrowed from the predictor; may be NULL). */
double clv_predictor_node_ms(const clv_predictor *pr, const clv_graph *g,
                             int node, const char **model_used);

/* Looks up a fitted model by name (a class, family or "all"): copies its
 * coefficients into coef (CLV_PREDICT_FEATURES entries) and returns its
 * sample count, or -1 when there is no such model. */
int clv_predictor_coef(const clv_predictor *pr, const char *name,
                       double *coef);

/* The predictor as JSON ("format": "cleave-predictor", version 1; schema
 * docs/profiling.md), malloc'd (the caller frees) or NULL when out of
 * memory; save writes it to `path` (0, CLV_EIO, CLV_ENOMEM). */
char *clv_predictor_to_json(const clv_predictor *pr);
int clv_predictor_save(const clv_predictor *pr, const char *path,
                       clv_error *err);

/* Reads a predictor file strictly (format, version, device, threads,
 * features, every model with a
 * name and CLV_PREDICT_FEATURES finite non-negative coefficients, an "all"
 * model). 0 and *out, or CLV_EIO, CLV_ELIMIT, CLV_EFORMAT, CLV_EINVAL,
 * CLV_ENOMEM with *out NULL and the file named in the message. */
int clv_predictor_load(const char *path, clv_predictor **out,
                       clv_error *err);
int clv_predictor_parse(const char *text, size_t len, const char *label,
                        clv_predictor **out, clv_error *err);

/* The device, threads, cpu_quota (0 = none) and slowdown (0 = none) the
 * predictor was fitted for. */
const char *clv_predictor_device(const clv_predictor *pr);
int clv_predictor_threads(const clv_predictor *pr);
double clv_predictor_cpu_quota(const clv_predictor *pr);
double clv_predictor_slowdown(const clv_predictor *pr);

#ifdef __cplusplus
}
#endif
#endif
