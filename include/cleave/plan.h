/*
 * cleave — planning: which layers run on the edge and which on the cloud.
 *
 * The planning PROBLEM is a DAG of nodes. Node i carries
 *   t_edge_ms   its run time on the edge device,
 *   t_cloud_ms  its run time on the cloud server,
 *   out_bytes   the size of its output (what crosses the link if it is cut),
 *   inputs      the nodes whose outputs it reads.
 * Exactly one node, the SOURCE, reads nothing: its output is the raw frame,
 * produced on the edge. Nodes whose output nobody reads are the outputs;
 * their results return to the edge, which costs link time only when the
 * link says count_result.
 *
 * A PARTITION puts every node on the edge or on the cloud, the source on the
 * edge, and never a cloud node feeding an edge node (the edge set is closed
 * under predecessors). The CUT is the set of edge nodes read by at least
 * one cloud node; each cut output crosses the link once, whatever the number
 * of its cloud readers. For one frame:
 *   T_e = sum of t_edge_ms over edge nodes,
 *   T_t = sum over cut nodes of out_bytes*8 / bandwidth
 *         (+ out_bytes*8 / bandwidth of every cloud output with
 *            count_result) (+ rtt_ms once if anything crosses),
 *   T_c = sum of t_cloud_ms over cloud nodes,
 *   latency = T_e + T_t + T_c,  max stage = max(T_e, T_t, T_c),
 *   fps = 1000 / max stage (a three-stage pipeline: edge, link, cloud).
 *
 * The PLANNERS (clv_plan_method) choose a partition:
 *   edge          everything on the edge;
 *   cloud         only the source on the edge (the raw frame is uploaded);
 *   neurosurgeon  the nodes in topological order taken as a chain: the best
 *                 split of that order into an edge prefix and a cloud suffix
 *                 (least latency);
 *   brute         every valid partition, for problems of up to
 *                 CLV_PLAN_BRUTE_MAX nodes; the exact optimum of the chosen
 *                 objective (latency, max stage, or least T_e under a cloud
 *                 budget);
 *   dsl           least latency, exactly, as a minimum s-t cut (the DNN
 *                 Surgery paper's ECDI-L, Section III-B);
 *   dsh           small max stage: the paper's Algorithm 2 (min-cuts with
 *                 edge times scaled by alpha and cloud times by gamma, a
 *                 coarse-to-fine search over alpha and gamma); never worse
 *                 than dsl on max stage, at most 3 times the optimum;
 *   dads          the paper's Algorithm 3 for a frame rate: dsl if its max
 *                 stage keeps up with the rate ("light"), else dsh
 *                 ("heavy"), and if even dsh cannot keep up, dsh's plan
 *                 with the highest rate it sustains ("congested");
 *   dsccs         least T_e subject to T_t + T_c <= a cloud budget (the
 *                 paper's Section IV), as an integer linear program solved
 *                 by GLPK.
 *
 * Typical use:
 *
 *     clv_problem *p = NULL;
 *     clv_planner *pl = NULL;
 *     clv_plan plan;
 *     clv_plan_options o;
 *     clv_plan_init(&plan);
 *     clv_plan_options_init(&o);
 *     o.method = CLV_PLAN_DSL;
 *     clv_link_preset("4g", &o.link);
 *     if (clv_problem_load("net.json", &p, &err) == 0 &&
 *         clv_planner_create(p, &pl, &err) == 0 &&
 *         clv_planner_run(pl, &o, &plan, &err) == 0)
 *         ... plan.on_edge[i], plan.latency_ms ...
 *     clv_plan_release(&plan);
 *     clv_planner_free(pl);
 *     clv_problem_free(p);
 *
 * All functions are pure computations on their arguments: no globals, no
 * printing. Different problems and planners may be used from different
 * threads at once; one planner must not be run by two threads at once.
 */
#ifndef CLEAVE_PLAN_H
#define CLEAVE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleave/codec.h"
#include "cleave/error.h"
#include "cleave/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the link ---------------------------------------------------------- */

/* The uplink between edge and cloud. */
typedef struct clv_link {
    double bandwidth_mbps; /* Mbit/s (10^6 bits per second), > 0 */
    double rtt_ms;         /* paid once per frame if any tensor crosses, >= 0 */
    bool count_result;     /* charge the cloud outputs' return transfer */
} clv_link;

/* The DNN Surgery paper's Table I uplink presets: "cat1" 0.13, "3g" 1.1,
 * "4g" 5.85 and "wifi" 18.88 Mbit/s, rtt 0. clv_link_preset() fills *out
 * (rtt 0, count_result false) and returns 0, or CLV_ENOTFOUND for another
 * name. clv_link_preset_name(i) is the name of preset i (0 <= i <
 * clv_link_n_presets()), NULL when out of range, slowest first. */
int clv_link_n_presets(void);
const char *clv_link_preset_name(int i);
int clv_link_preset(const char *name, clv_link *out);

/* Milliseconds to send `bytes` over `link`: bytes*8 / bandwidth (no rtt). */
double clv_link_transfer_ms(const clv_link *link, uint64_t bytes);

/* ---- the problem ------------------------------------------------------- */

typedef struct clv_problem clv_problem;

/* One node, owned by its problem; read-only for callers. */
typedef struct clv_problem_node {
    char *name;      /* unique, non-empty */
    double t_edge_ms;
    double t_cloud_ms;
    uint64_t out_bytes;
    int n_inputs;
    int *inputs;     /* indices of earlier nodes, ascending, each once */
    int n_consumers; /* filled by clv_problem_finalize() */
    int *consumers;  /* indices of the nodes that read this one, ascending */
} clv_problem_node;

/* A new, empty problem, or NULL when out of memory. Free it with
 * clv_problem_free(), which accepts NULL. */
clv_problem *clv_problem_create(void);
void clv_problem_free(clv_problem *p);

/* Sets the problem's name (copied; informational). 0 or CLV_ENOMEM. */
int clv_problem_set_name(clv_problem *p, const char *name);

/* Prices the frame by its encoding: the source's out_bytes become what
 * sending the graph's input in codec `c` costs (raw: the float32 tensor, as
 * clv_problem_from_graph sets it; u8: a byte per value, what a camera
 * sends). For a problem made from a graph, before a planner is made for
 * it. Fails with CLV_EINVAL for a problem without a graph (a problem file
 * carries its own bytes), a non-float input, or a codec whose size depends
 * on the frame's values (PNG, JPEG, Huffman, zstd: jalad's tables measure
 * those); the problem is then unchanged. */
int clv_problem_set_frame_codec(clv_problem *p, const clv_codec *c,
                                clv_error *err);
const char *clv_problem_name(const clv_problem *p); /* never NULL */

/* Adds a node. `name` is copied and must be non-empty and unique; times
 * must be finite and >= 0; `inputs` holds `n_inputs` indices of nodes added
 * before (so a problem is acyclic by construction, and node indices are a
 * topological order); an index given twice counts once. Writes the new
 * node's index to *id (may be NULL). Fails with CLV_EINVAL (bad value, the
 * message names the node), CLV_ENOMEM, or CLV_EINVAL after finalize. */
int clv_problem_add_node(clv_problem *p, const char *name, double t_edge_ms,
                         double t_cloud_ms, uint64_t out_bytes, int n_inputs,
                         const int *inputs, int *id, clv_error *err);

/* The largest believable sum of a problem's edge (or cloud) times: about
 * 30 years. Larger sums come from a lying or broken source of times. */
#define CLV_PROBLEM_MAX_TOTAL_MS 1e12

/* Checks that exactly one node (node 0) has no inputs and that the edge
 * and the cloud times each sum to at most CLV_PROBLEM_MAX_TOTAL_MS, and
 * fills each node's consumers. Planners take finalized problems only.
 * Fails with CLV_EINVAL ("no nodes", "two sources 'a' and 'b'", "the node
 * times sum to ...", already finalized) or CLV_ENOMEM. */
int clv_problem_finalize(clv_problem *p, clv_error *err);

int clv_problem_n_nodes(const clv_problem *p);
/* Node i, borrowed from the problem; NULL when out of range. */
const clv_problem_node *clv_problem_node_at(const clv_problem *p, int i);
/* The index of the node named `name`, or -1. */
int clv_problem_find(const clv_problem *p, const char *name);

/* A problem may carry a default link (problem files may hold one). The
 * setter copies *link (NULL removes it); the getter copies it into *out and
 * returns true, or returns false when the problem has none. */
void clv_problem_set_link(clv_problem *p, const clv_link *link);
bool clv_problem_link(const clv_problem *p, clv_link *out);

/* Reads a problem file (schema: docs/problem.md; "format":
 * "cleave-problem", "version": 1; nodes may be listed in any order). On
 * success *out is a finalized problem the caller frees; on failure *out is
 * NULL and `err` names the file, the node and the fault: not JSON (with the
 * line), wrong format or version, a missing or mistyped field, negative or
 * non-finite times or bytes, a duplicate name, an input that names no node,
 * a cycle (its nodes listed), no source or two sources. Returns 0,
 * CLV_EIO, CLV_ELIMIT (file over 256 MiB), CLV_EFORMAT, CLV_ECYCLE,
 * CLV_EINVAL or CLV_ENOMEM. */
int clv_problem_load(const char *path, clv_problem **out, clv_error *err);

/* As clv_problem_load, from `len` bytes of JSON text at `text` (borrowed);
 * `label` names the text in messages (may be NULL). */
int clv_problem_parse(const char *text, size_t len, const char *label,
                      clv_problem **out, clv_error *err);

/* The problem as problem-file JSON text (malloc'd, the caller frees), or
 * NULL when out of memory. Its link is included when it has one.
 * clv_problem_save() writes that text to `path`: 0, CLV_EIO (with the path
 * and the system's reason) or CLV_ENOMEM. */
char *clv_problem_to_json(const clv_problem *p);
int clv_problem_save(const clv_problem *p, const char *path, clv_error *err);

/* A problem from a finalized graph and per-node times: t_edge_ms[i] and
 * t_cloud_ms[i] are the times of graph node i (both arrays borrowed, with
 * clv_graph_n_nodes(g) entries, finite and >= 0). The graph must have
 * exactly one run-time input; it becomes node 0, the source, named after
 * the input tensor (with ":input" appended if a graph node has that name),
 * with times 0 and out_bytes the input's bytes. Graph node i becomes
 * problem node i+1 with the node's out_bytes; its inputs are the producers
 * of its run-time (non-constant) input tensors, or the source for graph
 * inputs. A node that reads no run-time tensor at all is taken as reading
 * the source. The problem remembers `g` (borrowed: it must outlive the
 * problem), and plans made for it carry their partition in graph
 * numbering too (clv_plan.part), so that no caller has to shift indices.
 * Fails with CLV_EINVAL (not finalized, a bad time naming the
 * node), CLV_EUNSUPPORTED (not exactly one run-time input) or CLV_ENOMEM. */
int clv_problem_from_graph(const clv_graph *g, const double *t_edge_ms,
                           const double *t_cloud_ms, clv_problem **out,
                           clv_error *err);

/* As clv_problem_from_graph, with the times read from two profile files
 * (schema: docs/profile.md), one measured on the edge device and one on the
 * cloud: each graph node's time is the "ms" of the profile entry with the
 * same name. Fails as clv_problem_load does for an unreadable or malformed
 * profile, and with CLV_ENOTFOUND naming the profile and the first graph
 * node it lacks. */
int clv_problem_from_profiles(const clv_graph *g, const char *edge_profile,
                              const char *cloud_profile, clv_problem **out,
                              clv_error *err);

/* ---- plans ------------------------------------------------------------- */

#define CLV_PLAN_METHOD_MAP(X)            \
    X(EDGE, "edge")                       \
    X(CLOUD, "cloud")                     \
    X(NEUROSURGEON, "neurosurgeon")       \
    X(BRUTE, "brute")                     \
    X(DSL, "dsl")                         \
    X(DSH, "dsh")                         \
    X(DADS, "dads")                       \
    X(DSCCS, "dsccs")                     \
    X(JALAD, "jalad")

typedef enum clv_plan_method {
#define CLV__PLAN_ENUM(id, name) CLV_PLAN_##id,
    CLV_PLAN_METHOD_MAP(CLV__PLAN_ENUM)
#undef CLV__PLAN_ENUM
    CLV_PLAN_METHOD_COUNT
} clv_plan_method;

/* "dsl", ...; "?" when out of range. */
const char *clv_plan_method_name(clv_plan_method m);
/* Looks up a planner name (as above). 0 and *m set, or CLV_ENOTFOUND. */
int clv_plan_method_from_name(const char *name, clv_plan_method *m);

/* What `brute` minimises. */
typedef enum clv_plan_objective {
    CLV_OBJ_LATENCY = 0, /* T_e + T_t + T_c */
    CLV_OBJ_MAX_STAGE,   /* max(T_e, T_t, T_c); ties: least latency */
    CLV_OBJ_BUDGET       /* T_e subject to T_t + T_c <= cloud_budget_ms */
} clv_plan_objective;

/* The dads mode that was taken (CLV_MODE_NONE for the other planners). */
typedef enum clv_plan_mode {
    CLV_MODE_NONE = 0,
    CLV_MODE_LIGHT,    /* dsl's plan keeps up with the frame rate */
    CLV_MODE_HEAVY,    /* dsl's does not, dsh's does */
    CLV_MODE_CONGESTED /* neither does: lower the frame rate */
} clv_plan_mode;

/* "none", "light", "heavy", "congested". */
const char *clv_plan_mode_name(clv_plan_mode m);

/* What to plan for. Initialise with clv_plan_options_init(), then set the
 * fields the method needs. */
typedef struct clv_plan_options {
    clv_plan_method method;       /* default CLV_PLAN_DSL */
    clv_link link;                /* default: the "wifi" preset */
    clv_plan_objective objective; /* brute only; default latency */
    double fps;                   /* dads: the frame rate to keep up with */
    double cloud_budget_ms;       /* dsccs (and brute's budget objective) */
    /* dsh's search (Algorithm 2). alpha and gamma range over
     * 2^-span .. 2^span (span = log2 of the ratio of the largest to the
     * smallest positive cost, capped at 30), first on a grid of
     * dsh_grid x dsh_grid points, then around the best point on finer grids
     * (the step divided by dsh_k each round) while a round improves the max
     * stage by more than dsh_eps_ms, at most dsh_rounds rounds. */
    int dsh_grid;       /* default 11 */
    int dsh_k;          /* default 4 */
    int dsh_rounds;     /* default 8 */
    double dsh_eps_ms;  /* default 1e-6 */
    /* jalad: the measured table (borrowed; required) and the largest
     * accuracy loss allowed, a fraction (0.01 = one point of top-1). */
    const struct clv_jalad_table *jalad_table;
    double accuracy_drop; /* default 0.01 */
    bool jalad_paper_loss; /* bound the paper's A_i(c), not the
                              disagreement (clv_jalad_loss) */
} clv_plan_options;

void clv_plan_options_init(clv_plan_options *o);

/* A plan: the partition and its predicted costs. Initialise with
 * clv_plan_init(); the library (re)allocates the arrays as needed; free
 * them with clv_plan_release(), after which the plan is initialised again.
 * A plan may be reused for many calls. */
typedef struct clv_plan {
    clv_plan_method method; /* the planner that made it */
    clv_plan_mode mode;     /* dads: the mode taken */
    int n_nodes;
    unsigned char *on_edge; /* n_nodes flags: 1 = edge, 0 = cloud */
    int n_cut;
    int *cut;               /* the cut nodes, ascending (room for n_nodes) */
    uint64_t cut_bytes;     /* bytes crossing the link per frame */
    double edge_ms;         /* T_e */
    double transfer_ms;     /* T_t */
    double cloud_ms;        /* T_c */
    double latency_ms;      /* T_e + T_t + T_c */
    double max_stage_ms;    /* max(T_e, T_t, T_c) */
    double fps;             /* 1000 / max_stage_ms (infinite when 0) */
    double target_fps;      /* dads: the rate asked for; else 0 */
    double budget_ms;       /* dsccs: the budget; else 0 */
    bool budget_infeasible; /* dsccs: no partition offloads anything within
                               the budget, the plan is all-edge */
    long evaluations;       /* partitions (brute) or min-cuts (dsl, dsh,
                               dads) evaluated */
    char note[256];         /* a sentence for the user, or empty */
    /* The partition in the graph's own numbering (graph node i, what the
     * engine, the wire and the runtime use), when the problem was made
     * from a graph (clv_problem_from_graph, clv_problem_from_profiles);
     * empty (n_nodes 0) for a problem read from a file. */
    clv_partition part;
    /* How the tensors that cross are encoded: raw unless the planner
     * chose (jalad: the cut tensor's c-bit codec, or for cloud-only the
     * frame's u8, PNG or JPEG encoding). */
    clv_codec codec;
    double accuracy_loss;   /* jalad: the loss bounded (clv_jalad_loss) of
                               the choice, as the table measured it */
} clv_plan;

void clv_plan_init(clv_plan *plan);
void clv_plan_release(clv_plan *plan);
/* A deep copy of `src` into `dst` (dst's old arrays are freed). 0 or
 * CLV_ENOMEM (dst unchanged). */
int clv_plan_copy(clv_plan *dst, const clv_plan *src, clv_error *err);

/* Fills `out` with the costs of the partition `on_edge` (n_nodes flags of
 * the finalized problem `p`, problem numbering) over `link`, and out->part
 * when p was made from a graph; out->method is left unchanged.
 * Fails with CLV_EINVAL naming the fault ("node 'x' runs on the cloud but
 * feeds 'y' on the edge", the source on the cloud, a bad link) or
 * CLV_ENOMEM. */
int clv_plan_evaluate(const clv_problem *p, const clv_link *link,
                      const unsigned char *on_edge, clv_plan *out,
                      clv_error *err);

/* ---- planners ---------------------------------------------------------- */

/* The largest problem `brute` accepts. */
#define CLV_PLAN_BRUTE_MAX 24

/* A planner holds, for one finalized problem, the min-cut network and all
 * scratch memory, so that running it again (other link, other options)
 * allocates nothing. `p` is borrowed and must outlive the planner and stay
 * unchanged. clv_planner_create() returns 0 and *out, or CLV_EINVAL (p not
 * finalized) or CLV_ENOMEM with *out NULL. clv_planner_free accepts NULL. */
typedef struct clv_planner clv_planner;

int clv_planner_create(const clv_problem *p, clv_planner **out,
                       clv_error *err);
void clv_planner_free(clv_planner *pl);

/* Runs the planner `o->method` and writes the plan, with its predicted
 * costs, into `out`. Fails with CLV_EINVAL (bad link, dads without a
 * positive fps, dsccs with a negative or non-finite budget), CLV_ELIMIT
 * (brute on more than CLV_PLAN_BRUTE_MAX nodes, or an ILP GLPK could not
 * solve), or CLV_ENOMEM; the message says which. */
int clv_planner_run(clv_planner *pl, const clv_plan_options *o,
                    clv_plan *out, clv_error *err);

/* Convenience: clv_planner_create + clv_planner_run + clv_planner_free. */
int clv_plan_solve(const clv_problem *p, const clv_plan_options *o,
                   clv_plan *out, clv_error *err);

/* ---- many jobs at once: JPS ------------------------------------------- */

/*
 * n identical inference jobs (frames of one camera rig, say) arrive at
 * once; each job j gets its own partition, with edge time f_j, transfer
 * time g_j and cloud time c_j, and the edge runs them one after another
 * while the link sends one after another: a flow shop, whose MAKESPAN
 * (the last job's completion) the JPS paper (Duan & Wu, ICPP '21)
 * minimises, taking the cloud's time as negligible (two stages).
 */

/* Johnson's rule (JPS Algorithm 1), optimal for two stages: the jobs with
 * f < g first, by f ascending, then the others by g descending (ties by
 * job number). Writes the order (job indices) to order[0..n). Returns 0
 * or CLV_ENOMEM. */
int clv_sched_johnson(int n, const double *f, const double *g, int *order);

/* The exact makespan of n jobs run in `order` (NULL: 0, 1, ...) through
 * the edge (f), the link (g) and, when c is not NULL, the cloud (c): each
 * stage serves one job at a time, in that order; a job enters a stage when
 * it has left the one before and the stage is free. */
double clv_sched_makespan(int n, const double *f, const double *g,
                          const double *c, const int *order);

/* Three stages (the cloud's time is not negligible): Johnson's rule is no
 * longer optimal. clv_sched_neh() is the NEH heuristic (jobs by total
 * time, longest first, each inserted where the partial makespan is
 * least); 0 or CLV_ENOMEM. clv_sched_exact3() is branch and bound from
 * the better of Johnson's and NEH's orders, with a lower bound per stage;
 * it writes the best order and its makespan; after `max_nodes` search
 * nodes (<= 0: 10^7) it stops with CLV_ELIMIT, leaving the best order
 * found so far. */
int clv_sched_neh(int n, const double *f, const double *g, const double *c,
                  int *order);
int clv_sched_exact3(int n, const double *f, const double *g, const double *c,
                     long max_nodes, int *order, double *makespan);

/* How clv_jps_plan chooses. */
typedef enum clv_jps_method {
    CLV_JPS_CHAIN = 0, /* Algorithm 2 on the cuts after each node in the
                          problem's order (exact for chain DNNs; valid
                          partitions for any DAG) */
    CLV_JPS_FRONTIER,  /* Algorithm 2 on the distinct min-cuts of f +
                          lambda g over all lambda (the lower convex hull
                          of the partitions' (f, g)): for DAGs */
    CLV_JPS_BRUTE,     /* every multiset of the chain and frontier cuts
                          for the n jobs, each Johnson-ordered: the least
                          two-stage makespan over those cuts */
    CLV_JPS_PATHS      /* Algorithm 3: every source-to-output path gets
                          its own cut (Algorithm 2 on the path, the
                          balanced one of l*-1 and l*); a job runs the
                          union of those prefixes, closed under
                          predecessors; at most 4096 paths */
} clv_jps_method;

typedef struct clv_jps_options {
    clv_jps_method method; /* default CLV_JPS_CHAIN */
    clv_link link;         /* default: the "wifi" preset */
    int jobs;              /* n, 1 to 1000000; default 10 */
    long brute_max;        /* the most multisets brute force tries;
                              default 1000000 */
} clv_jps_options;

void clv_jps_options_init(clv_jps_options *o);

/* A schedule: the partitions it uses, which one each job runs, the order
 * the edge runs the jobs in, and the makespans. Initialise with
 * clv_schedule_init(), free with clv_schedule_release(). */
typedef struct clv_schedule {
    int n_cands;         /* candidate cuts after the virtual blocks (JPS
                            §3.2: a cut with no less f and no less g than
                            another is dropped) */
    int n_parts;
    clv_plan *parts;     /* each with its partition (on_edge, part) and
                            f = edge_ms, g = transfer_ms, c = cloud_ms */
    int n_jobs;
    int *job_part;       /* job j runs parts[job_part[j]] */
    int *order;          /* the jobs in the order they run (Johnson's) */
    double makespan_ms;  /* two stages (edge, link): what JPS minimises */
    double makespan3_ms; /* the same order through three stages */
    /* The three-stage order: branch and bound for up to 12 jobs (within
     * 10^6 nodes: then exact3 is true), else NEH; never worse than
     * Johnson's order, whose three-stage makespan is makespan3_ms. */
    int *order3;
    double makespan3_best_ms;
    bool exact3;
    /* Algorithm 2: l* (the leftmost candidate with f >= g; -1 for brute
     * force), the paper's ratio floor((f(l*) - g(l*)) / (g(l*-1) -
     * f(l*-1))) of jobs at l*-1 to jobs at l*, the count at l*-1 it gives
     * (n r / (r + 1), rounded down) and its makespan, and the count at
     * l*-1 that every split of n finds best, which the schedule uses. */
    int lstar;
    int ratio;
    int count_ratio;
    double makespan_ratio_ms;
    int count_best;
    /* Algorithm 3: the paths, and the makespan of the paper's schedule of
     * path pieces (Johnson's rule over every job's paths; a node shared
     * by paths computed once, a tensor sent once per job); makespan_ms is
     * the same partition run job by job, as the runtime does. */
    int n_paths;
    double makespan_paths_ms;
    long evaluations;    /* min-cuts (frontier), cuts (chain) or multisets
                            (brute) evaluated */
} clv_schedule;

void clv_schedule_init(clv_schedule *s);
void clv_schedule_release(clv_schedule *s);

/*
 * Plans `o->jobs` identical jobs of the finalized problem `p` over
 * `o->link` (JPS Algorithms 1 and 2; see clv_jps_method). Fills `out`;
 * returns 0, CLV_EINVAL (bad link or job count), CLV_ELIMIT (brute force
 * over more than o->brute_max multisets: the message says how many jobs
 * and cuts) or CLV_ENOMEM.
 */
int clv_jps_plan(const clv_problem *p, const clv_jps_options *o,
                 clv_schedule *out, clv_error *err);

/* ---- JALAD: cut and bit width under an accuracy bound ------------------ */

/*
 * The JALAD paper (§III-C to §III-E) compresses the tensor that crosses
 * (c-bit quantization, then Huffman) and chooses the decoupling layer i and
 * the width c together:
 *     minimise T_E(i) + S_i(c) / BW + T_C(i)   subject to  A_i(c) <= drop,
 * with A_i(c) (accuracy loss) and S_i(c) (encoded bytes) measured once on
 * calibration data and kept in a table (docs/jalad.md; cleave profile
 * --jalad builds one). Cut points are the graph's valid single cuts
 * (clv_graph_crossing() == 1: a residual unit is one decoupling layer, as
 * in the paper), plus cloud-only, whose "cut" is the frame in one of the
 * encodings a camera sends (u8, PNG, JPEG at some quality); edge-only is
 * always a candidate (nothing crosses, no loss).
 */

/* One measured encoding at one cut. */
typedef struct clv_jalad_entry {
    clv_codec codec;
    double accuracy_loss; /* A_i(c): the uncompressed model's top-1 accuracy
                             minus this one's, a fraction (may be < 0); for
                             a table without labels 1 - agreement */
    double agreement;     /* images whose top-1 equals the uncompressed
                             model's, a fraction */
    double bytes_mean;    /* S_i(c): encoded bytes per frame, mean */
    double bytes_p95;     /* and 95th percentile */
    double encode_ms;     /* median time to encode it (on the edge: added
                             to T_E) and to decode it (on the cloud: added */
    double decode_ms;     /* to T_C), as measured where the table was made;
                             0 when unknown */
} clv_jalad_entry;

/* One cut point: the graph nodes up to `after` (in the graph's
 * topological order) on the edge. */
typedef struct clv_jalad_cut {
    char *after;        /* the last edge node; NULL: cloud-only */
    char *tensor;       /* the tensor that crosses (the input for cloud-only) */
    int position;       /* graph node index of `after`; -1 for cloud-only */
    uint64_t raw_bytes; /* its float32 bytes */
    int n_entries;
    clv_jalad_entry *entries;
} clv_jalad_cut;

typedef struct clv_jalad_table {
    char *model;          /* as given when measured */
    char *dataset;        /* the images' source; "random pixels" without */
    int images;           /* calibration images measured */
    int first_image;      /* the first one's index in the data set */
    bool labelled;        /* accuracy_loss is top-1 against labels */
    double base_accuracy; /* the uncompressed model's top-1 (labelled) */
    int n_cuts;
    clv_jalad_cut *cuts;
} clv_jalad_table;

/* Frees the table and everything it owns. NULL is allowed. */
void clv_jalad_table_free(clv_jalad_table *t);

/* Reads a table (schema docs/jalad.md: "format": "cleave-jalad-table",
 * "version": 1). Fails with CLV_EIO, CLV_ELIMIT (over 256 MiB),
 * CLV_EFORMAT naming the field (bad JSON, a codec name that does not parse,
 * a negative size or a loss outside [-1, 1]) or CLV_ENOMEM. */
int clv_jalad_table_load(const char *path, clv_jalad_table **out,
                         clv_error *err);
int clv_jalad_table_parse(const char *text, size_t len, const char *label,
                          clv_jalad_table **out, clv_error *err);
/* The table as JSON text (malloc'd; NULL when out of memory), and written
 * to a file (0, CLV_EIO or CLV_ENOMEM). */
char *clv_jalad_table_to_json(const clv_jalad_table *t);
int clv_jalad_table_save(const clv_jalad_table *t, const char *path,
                         clv_error *err);

typedef enum clv_jalad_method {
    CLV_JALAD_EXHAUSTIVE = 0, /* every (cut, encoding) pair */
    CLV_JALAD_ILP = 1         /* the paper's 0-1 program, solved by GLPK */
} clv_jalad_method;

/* What the bound bounds. */
typedef enum clv_jalad_loss {
    /* 1 - agreement: the share of frames whose top-1 the encoding changes,
     * an upper bound of the accuracy lost on any data (only a changed
     * answer can turn right into wrong) and steady on a small calibration
     * set (the default) */
    CLV_JALAD_DISAGREEMENT = 0,
    /* the paper's A_i(c): base accuracy minus the encoding's, on the
     * calibration set; changes that cancel out there (as many wrong
     * answers made right as right made wrong) read as no loss, which
     * held-out data need not repeat */
    CLV_JALAD_ACCURACY = 1
} clv_jalad_loss;

typedef struct clv_jalad_options {
    double max_loss;         /* the bound, a fraction; default 0.01 */
    clv_jalad_method method; /* default CLV_JALAD_EXHAUSTIVE */
    clv_jalad_loss loss;     /* default CLV_JALAD_DISAGREEMENT */
} clv_jalad_options;

void clv_jalad_options_init(clv_jalad_options *o);

/* The choice: table cut `cut` and its entry `entry`, or cut = -1 for
 * edge-only (entry -1). */
typedef struct clv_jalad_choice {
    int cut, entry;
    double cost_ms; /* the objective: T_E + S/BW (+ rtt) + T_C */
    int candidates; /* pairs within the accuracy bound, edge-only included */
} clv_jalad_choice;

/* Chooses the cut and the encoding for problem `p` (made from the graph
 * the table was measured on: cuts are found by node name, so a problem
 * file with the same names works too) over `link` with the loss `o->loss`
 * at most `o->max_loss` (o may be NULL: the defaults): fills `out` (method CLV_PLAN_JALAD, the prefix
 * partition, out->codec, out->cut_bytes = S_i(c) rounded, the transfer
 * charged for S_i(c) bytes instead of the float32 tensor, plus the rtt;
 * the entry's encode time added to T_E and its decode time to T_C, which
 * the paper leaves out: a big tensor early in the network can cost more
 * to encode than its part costs to compute)
 * and *choice (may be NULL). Edge-only is chosen when nothing else fits
 * the bound or nothing else is faster. Fails with CLV_EINVAL (a bad link
 * or bound, p not finalized), CLV_ENOTFOUND (a cut names a node the
 * problem lacks), CLV_ELIMIT (GLPK failed) or CLV_ENOMEM. */
int clv_jalad_plan(const clv_problem *p, const clv_jalad_table *t,
                   const clv_link *link, const clv_jalad_options *o,
                   clv_plan *out, clv_jalad_choice *choice, clv_error *err);

/* ---- output ------------------------------------------------------------ */

/* The plan as JSON text (malloc'd, the caller frees; NULL when out of
 * memory), schema docs/plan.md: {"format":"cleave-plan","version":1,
 * "planner", "edge_nodes", "cloud_nodes", "cut":[{"node","bytes"}],
 * "edge_ms", "transfer_ms", "cloud_ms", "latency_ms", "max_stage_ms", "fps",
 * "link", ...}. `link` is the link the plan was made for. */
char *clv_plan_to_json(const clv_problem *p, const clv_link *link,
                       const clv_plan *plan);

/* The plan as a Graphviz digraph (malloc'd text, NULL when out of memory):
 * edge nodes blue, cloud nodes orange, cut outputs as red arrows labelled
 * with their size. */
char *clv_plan_to_dot(const clv_problem *p, const clv_plan *plan);

/* A schedule's cuts as one Graphviz digraph (malloc'd; NULL when out of
 * memory or the schedule is empty): with two cuts A and B, nodes on the
 * edge in both blue, in A only green, in B only violet, in neither
 * orange; A's cut tensors red, B's dashed violet. */
char *clv_schedule_to_dot(const clv_problem *p, const clv_schedule *s);

#ifdef __cplusplus
}
#endif
#endif
