/*
 * Maximum flow / minimum s-t cut, Boykov-Kolmogorov style (two search trees
 * grown from the terminals, augmentation, adoption of orphans), on integer
 * capacities. Internal to libcleave; tests include it to check it against
 * igraph.
 *
 * Life cycle of a context:
 *   clv_mf_reset(m, n, max_pairs)   topology of n inner vertices (the
 *                                   terminals are implicit);
 *   clv_mf_add_pair(...)            up to max_pairs arc pairs;
 *   clv_mf_add_terminal(...)        source/sink capacities of a vertex;
 *   clv_mf_solve(m, &flow)          max flow from source to sink;
 *   clv_mf_on_source_side(m, v)     the minimum cut found;
 * and, to solve again on the same topology with other capacities,
 * clv_mf_set_pair() / clv_mf_set_terminal() then clv_mf_solve() again (or
 * clv_mf_solve_warm() / clv_mf_solve_dynamic() to start from the previous
 * solve's flow, or its flow and search trees). A
 * context only allocates when reset to a larger size than it ever had.
 */
#ifndef CLEAVE_PLAN_MAXFLOW_H
#define CLEAVE_PLAN_MAXFLOW_H

#include <stdbool.h>
#include <stdint.h>

/* Capacities at or above this are infinite in effect; the finite
 * capacities of one network must sum to less than it. */
#define CLV_MF_INF ((int64_t)1 << 62)

typedef struct clv_mf clv_mf;

/* A new context, or NULL when out of memory. clv_mf_free accepts NULL. */
clv_mf *clv_mf_create(void);
void clv_mf_free(clv_mf *m);

/* Starts a new network of `n` inner vertices (0..n-1), no arcs, no
 * terminal capacities, with room for `max_pairs` arc pairs. Returns 0 or
 * -1 when out of memory (the context is then empty but valid). */
int clv_mf_reset(clv_mf *m, int n, int max_pairs);

/* Adds arc u->v of capacity `cap` and arc v->u of capacity `rcap` (both
 * >= 0, u != v). Returns the pair's index (0, 1, ...), or -1 when there is
 * no room left. */
int clv_mf_add_pair(clv_mf *m, int u, int v, int64_t cap, int64_t rcap);
/* Changes the capacities of pair `pair` for the next solve. */
void clv_mf_set_pair(clv_mf *m, int pair, int64_t cap, int64_t rcap);

/* Adds `s_cap` to the capacity of source->v and `t_cap` to v->sink. */
void clv_mf_add_terminal(clv_mf *m, int v, int64_t s_cap, int64_t t_cap);
/* Sets them (for the next solve). */
void clv_mf_set_terminal(clv_mf *m, int v, int64_t s_cap, int64_t t_cap);

/* Computes a maximum flow from the source to the sink and writes its value
 * to *flow. Returns 0, or -1 on an internal error (never expected). */
int clv_mf_solve(clv_mf *m, int64_t *flow);

/* Solves again after clv_mf_set_pair / clv_mf_set_terminal changes,
 * starting from the previous solve's flow (clipped to the new capacities)
 * instead of from zero: same minimum cut as clv_mf_solve, usually fewer
 * augmentations when the capacities changed little. The flow value is not
 * reported (the clipping shifts it by a constant). Falls back to
 * clv_mf_solve when there is no previous flow on this topology. Returns 0,
 * or -1 on an internal error (never expected). */
int clv_mf_solve_warm(clv_mf *m);

/* Like clv_mf_solve_warm, but keeps the two search trees of the previous
 * solve as well as its flow (Kohli and Torr's dynamic graph cuts): only the
 * vertices and arcs whose residual capacities the new capacities changed
 * in a way that matters are repaired (re-rooted, orphaned, made active),
 * so a solve after small changes does not rescan the whole network. Same
 * minimum cut as clv_mf_solve (the vertices reachable from the source in
 * the residual network); the flow value is not reported. Falls back to
 * clv_mf_solve when there is no previous solve on this topology. Returns
 * 0, or -1 on an internal error (never expected). */
int clv_mf_solve_dynamic(clv_mf *m);

/* Replaces the flow that the next clv_mf_solve_warm() or
 * clv_mf_solve_dynamic() starts from by `flow`: flow[k] is the flow along
 * pair k's first arc (negative: along its second), for the n_pairs pairs
 * added; NULL means no flow. Any values will do (they are clipped to the
 * capacities then, and a vertex's imbalance goes into its terminal arcs);
 * a good guess of a maximum flow of the capacities set saves work. The
 * search trees are not kept (clv_mf_solve_dynamic() then acts as
 * clv_mf_solve_warm()). */
void clv_mf_set_flow(clv_mf *m, const int64_t *flow);

/* After a solve: whether v is on the source side of the minimum cut found
 * (the vertices reachable from the source in the residual network). */
bool clv_mf_on_source_side(const clv_mf *m, int v);

/* Number of augmenting paths used by the last solve (for benchmarks). */
long clv_mf_augmentations(const clv_mf *m);

#endif
